"""Plans per second on Spark with 1 and 2 local cores, beside the single-process path, on one generated cohort.

    python bench/spark.py                                # 20,000 plans in one N-Triples file + 2,000 FHIR patients
    python bench/spark.py --plans 100000 --layout ten-ttl  # the plans in ten Turtle files
    python bench/spark.py --plans 0 --patients 10000

The plans come from bench/validate.py's generator (fixed seed; --layout: any of its layouts); the Bulk Data export
from bench/fhir.py's (the example patients copied under new ids). Each mode checks the same inputs: "single process"
is iimkg.validation.validate_plans with one worker, in this process; "local[N]" is iimkg.spark on a Spark session
started here with N cores (the session's start-up is timed apart: a cluster pays it once). Every mode's findings are
compared with the single process's (blank-node labels aside): the last column says whether they are identical. Times
drift on shared machines; compare numbers from one run.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fhir import write_export
from validate import LAYOUTS, generate


def _comparable(findings: list[Any]) -> list[str]:
    return sorted(re.sub(r"_:[0-9A-Za-z]+", "_:b", repr(f)) for f in findings)


def _cohort(folder: Path, plans: int, patients: int, layout: str) -> list[Path]:
    files = generate(plans, folder, layout) if plans else []
    if patients:
        export = folder / "export"
        export.mkdir()
        files += write_export(export, patients)
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plans", type=int, default=20_000, help="generated Turtle plans (default 20,000)")
    parser.add_argument("--patients", type=int, default=2_000, help="FHIR Bulk Data patients (default 2,000)")
    parser.add_argument("--layout", choices=LAYOUTS, default="one-nt",
                        help="how the generated plans are written (bench/validate.py; default one-nt: one file)")
    parser.add_argument("--cores", type=int, nargs="+", default=[1, 2], help="local[N] masters to run (default 1 2)")
    args = parser.parse_args()

    from iimkg.spark.job import validate_result
    from iimkg.spark.session import session
    from iimkg.validation import validate_plans

    with tempfile.TemporaryDirectory(prefix="iimkg-bench-spark-") as tmp:
        files = _cohort(Path(tmp), args.plans, args.patients, args.layout)
        size = sum(p.stat().st_size for p in files) / 1_048_576
        machine = platform.processor() or platform.machine()
        print(f"# {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, {machine}, {os.cpu_count()} "
              f"CPUs, Python {platform.python_version()}", flush=True)
        print(f"# {args.plans:,} generated plans ({args.layout}) and {args.patients:,} "
              f"FHIR patients: {len(files)} files, {size:.1f} MB", flush=True)
        started = time.perf_counter()
        reference = validate_plans(files, workers=1)
        rows = [("single process", time.perf_counter() - started, None, reference)]
        _print_header()
        _print_row(*rows[0], reference)
        for cores in args.cores:
            began = time.perf_counter()
            with session(f"local[{cores}]", app="iimkg bench") as (spark, _log):
                up = time.perf_counter() - began
                began = time.perf_counter()
                result = validate_result(spark, files)
                row = (f"spark local[{cores}]", time.perf_counter() - began, up, result)
            _print_row(*row, reference)
    return 0


def _print_header() -> None:
    print(f"{'mode':<18} {'plans':>9} {'seconds':>8} {'plans/s':>9} {'start-up':>9} {'findings':>9}  identical",
          flush=True)


def _print_row(mode: str, seconds: float, up: float | None, result: Any, reference: Any) -> None:
    same = "yes" if _comparable(result.findings) == _comparable(reference.findings) else "NO"
    start_up = f"{up:8.1f}s" if up is not None else f"{'-':>9}"
    print(f"{mode:<18} {result.plans:>9,} {seconds:>7.1f}s {result.plans / seconds:>9,.0f} {start_up} "
          f"{len(result.findings):>9,}  {same}", flush=True)


if __name__ == "__main__":
    sys.exit(main())

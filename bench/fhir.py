"""Time FHIR conversion and validation of a Bulk Data export of N patients, and check that time grows linearly.

The export is made from the patients of examples/fhir/ (eight of them, from the dermatomyositis patient with every
co-intervention to the one whose myositis code the graph does not carry), each copied N/8 times under new ids, one
NDJSON file per resource type as FHIR Bulk Data writes them, in a temporary folder.

For each N: reading + converting in-process (plans/second), writing the Turtle, and `iimkg validate` on the NDJSON
files as a new process (convert + validate with the plan shapes, start-up included), with its peak memory.
Linearity: seconds per 1,000 patients at each N, and the ratio of the largest N's to the smallest's.

Run: python bench/fhir.py [--sizes 1000 5000 10000] [--no-validate]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from iimkg.fhir import convert_files, read_fhir
from iimkg.plans.codes import CodeMapper
from iimkg.plans.turtle import plan_turtle

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "fhir"
_SUBJECT_KEYS = ("subject", "patient")


def templates() -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]]]:
    """The example patients, each as the list of its resources (references rewritten to ``Patient/id``), and the
    resources that belong to no patient (Medications)."""
    by_patient: dict[str, list[dict[str, Any]]] = defaultdict(list)
    shared: list[dict[str, Any]] = []
    urls: dict[str, str] = {}
    located = [r for path in sorted(EXAMPLES.rglob("*.json")) + sorted(EXAMPLES.rglob("*.ndjson"))
               for r in read_fhir(path)]
    for item in located:
        if item.full_url:
            urls[item.full_url] = item.ref
    for item in located:
        resource = json.loads(json.dumps(item.resource, default=str))
        if item.type == "Patient":
            by_patient[item.ref].insert(0, resource)
            continue
        reference = next((resource[k]["reference"] for k in _SUBJECT_KEYS if isinstance(resource.get(k), dict)),
                         None)
        if reference is None:
            if item.type == "Medication":
                shared.append(resource)
            continue
        key = urls.get(reference, reference)
        for k in _SUBJECT_KEYS:
            if isinstance(resource.get(k), dict):
                resource[k] = {"reference": key}
        by_patient[key].append(resource)
    return [by_patient[k] for k in sorted(by_patient)], shared


def write_export(folder: Path, patients: int) -> list[Path]:
    """An NDJSON export of ``patients`` patients in ``folder``, one file per resource type."""
    cases, shared = templates()
    handles: dict[str, Any] = {}
    try:
        for number in range(patients):
            case = cases[number % len(cases)]
            suffix = f"-{number:06d}"
            patient_id = case[0]["id"] + suffix
            for original in case:
                resource = copy.copy(original)
                resource["id"] = re.sub(r"[^A-Za-z0-9.-]", "-", str(original["id"]))[:50] + suffix
                for k in _SUBJECT_KEYS:
                    if k in resource:
                        resource[k] = {"reference": f"Patient/{patient_id}"}
                kind = resource["resourceType"]
                if kind not in handles:
                    handles[kind] = (folder / f"{kind}.ndjson").open("w", encoding="utf-8")
                handles[kind].write(json.dumps(resource, separators=(",", ":"), ensure_ascii=False) + "\n")
        with (folder / "Medication.ndjson").open("w", encoding="utf-8") as handle:
            for medication in shared:
                handle.write(json.dumps(medication, separators=(",", ":")) + "\n")
    finally:
        for handle in handles.values():
            handle.close()
    return sorted(folder.glob("*.ndjson"))


def convert_in_process(files: list[Path]) -> tuple[float, float, int, int, int]:
    """(seconds to read and convert, seconds to write Turtle, plans, resources, unmapped notes)."""
    started = time.perf_counter()
    conversion = convert_files(files)
    converted = time.perf_counter()
    plan_turtle(conversion)
    written = time.perf_counter()
    return converted - started, written - converted, len(conversion.plans), conversion.resources, \
        len(conversion.unmapped())


def validate_cli(files: list[Path]) -> tuple[float, float, int, str]:
    """(seconds, peak MiB, exit status, summary) of `iimkg validate FILE…` as a new process.

    The peak is the largest resident set of any child so far (getrusage), so run sizes in increasing order."""
    exe = Path(sys.executable).with_name("iimkg")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "iimkg.cli.main"]
    started = time.perf_counter()
    done = subprocess.run([*command, "validate", *map(str, files), "--format", "json"], capture_output=True,
                          text=True, check=False)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary = ""
    try:
        summary = json.dumps(json.loads(done.stdout)["summary"])
    except (ValueError, KeyError):
        summary = (done.stderr.strip().splitlines() or [""])[-1]
    return seconds, peak, done.returncode, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000], help="patients per export")
    parser.add_argument("--no-validate", action="store_true", help="time the conversion only")
    ns = parser.parse_args()
    CodeMapper.shipped()  # the graph and its term index, once, outside the timings
    print(f"FHIR Bulk Data export -> treatment plans, {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}")
    header = (f"{'patients':>9} {'resources':>10} {'MiB':>6} {'convert s':>10} {'plans/s':>8} {'turtle s':>9}"
              f" {'validate s':>11} {'s/1k pts':>9} {'peak MiB':>9}  validate summary")
    print(header)
    per_thousand: list[tuple[int, float]] = []
    validated = False
    for size in ns.sizes:
        with tempfile.TemporaryDirectory(prefix="iimkg-fhir-bench-") as folder:
            files = write_export(Path(folder), size)
            megabytes = sum(f.stat().st_size for f in files) / 2**20
            convert_s, turtle_s, plans, resources, _ = convert_in_process(files)
            assert plans == size, f"{plans} plans for {size} patients"
            if ns.no_validate:
                validate_s, peak, summary = float("nan"), float("nan"), "(not run)"
                measured = convert_s
            else:
                validate_s, peak, status, summary = validate_cli(files)
                assert status in (0, 1), f"iimkg validate exited {status}: {summary}"
                measured, validated = validate_s, True
            per_thousand.append((size, measured / size * 1000))
            print(f"{size:>9,} {resources:>10,} {megabytes:>6.1f} {convert_s:>10.2f} {plans / convert_s:>8,.0f}"
                  f" {turtle_s:>9.2f} {validate_s:>11.2f} {measured / size * 1000:>9.2f} {peak:>9.0f}  {summary}")
    if len(per_thousand) > 1:
        (small, first), (large, last) = per_thousand[0], per_thousand[-1]
        what = "convert + validate" if validated else "conversion"
        print(f"linearity ({what}): {last / first:.2f}x the seconds per 1,000 patients at {large:,} as at "
              f"{small:,} (1.00 = linear)")


if __name__ == "__main__":
    main()

"""Time FHIR conversion and validation of a Bulk Data export of N patients, and check that time grows linearly.

The export is made from the patients of examples/fhir/ (eight of them, from the dermatomyositis patient with every
co-intervention to the one whose myositis code the graph does not carry), each copied N/8 times under new ids, one
NDJSON file per resource type as FHIR Bulk Data writes them, in a temporary folder.

For each N: `iimkg fhir convert` and `iimkg validate` on the NDJSON files, each as a new process (start-up
included), with the peak memory of its process tree (worker processes included) sampled every 50 ms: resident sets
summed, and proportional sets (PSS) summed, which count the pages forked workers share with the parent once.
Both stream a Bulk Data export, so the peak should stay flat as the export grows (200 MB then 400 MB).
Linearity: CPU seconds per 1,000 patients at each N (wall time on a shared machine measures the other work), and
the ratio of the largest N's to the smallest's.

Run: python bench/fhir.py [--sizes 1000 5000 10000 | --megabytes 200 400] [--no-validate]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from iimkg.fhir import read_fhir
from memory import Memory, PeakSampler

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


def patients_for(megabytes: float) -> int:
    """How many patients make an export of about ``megabytes`` MB (measured on one round of the examples)."""
    cases, _ = templates()
    with tempfile.TemporaryDirectory(prefix="iimkg-fhir-bench-") as folder:
        files = write_export(Path(folder), len(cases) * 10)
        per_patient = sum(f.stat().st_size for f in files) / (len(cases) * 10)
    return max(1, round(megabytes * 2**20 / per_patient))


def _mib(memory: Memory) -> str:
    return f"{memory.rss / 2**20:.0f}/{memory.pss / 2**20:.0f}"


def run_sampled(command: list[str]) -> tuple[float, float, Memory, int, str]:
    """(seconds, CPU seconds of the process and the workers it waited for, peak memory of the process tree sampled
    every 50 ms (:class:`memory.PeakSampler`), exit status, last line of stderr). CPU seconds say more than wall time
    on a shared machine."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, text=True)
        sampler = PeakSampler(process.pid)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            sampler.sample()
            time.sleep(0.05)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        err.seek(0)
        last = (err.read().strip().splitlines() or [""])[-1]
    return seconds, usage.ru_utime + usage.ru_stime, sampler.peak, process.returncode, last


def _iimkg() -> list[str]:
    exe = Path(sys.executable).with_name("iimkg")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "iimkg.cli.main"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000], help="patients per export")
    parser.add_argument("--megabytes", type=float, nargs="+",
                        help="export sizes in MB instead of --sizes (e.g. 200 400: memory must stay flat)")
    parser.add_argument("--no-validate", action="store_true", help="time the conversion only")
    ns = parser.parse_args()
    sizes = [patients_for(mb) for mb in ns.megabytes] if ns.megabytes else ns.sizes
    print(f"FHIR Bulk Data export -> treatment plans, {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}; "
          "peak = memory of the process tree sampled every 50 ms, MiB: resident sets summed / proportional (PSS, "
          "pages the forked workers share counted once; bench/memory.py)")
    print(f"{'patients':>9} {'MiB':>6} {'convert s':>10} {'cpu s':>7} {'peak RSS/PSS':>13} {'validate s':>11} "
          f"{'cpu s':>7} {'peak RSS/PSS':>13} {'s/1k pts':>9}  validate summary")
    per_thousand: list[tuple[int, float]] = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="iimkg-fhir-bench-") as folder:
            files = write_export(Path(folder), size)
            megabytes = sum(f.stat().st_size for f in files) / 2**20
            convert_s, convert_cpu, convert_peak, status, summary = run_sampled(
                [*_iimkg(), "fhir", "convert", *map(str, files), "-o", str(Path(folder) / "plans.ttl")])
            assert status == 0, f"iimkg fhir convert exited {status}: {summary}"
            assert f"{size:,} plan" in summary, summary
            (Path(folder) / "plans.ttl").unlink()
            validate_s, validate_cpu, validate_peak, summary = float("nan"), float("nan"), Memory(0, 0), "(not run)"
            if not ns.no_validate:
                report = Path(folder) / "report.json"
                validate_s, validate_cpu, validate_peak, status, summary = run_sampled(
                    [*_iimkg(), "validate", *map(str, files), "--format", "json", "--output", str(report)])
                assert status in (0, 1), f"iimkg validate exited {status}: {summary}"
                summary = json.dumps(json.loads(report.read_text(encoding="utf-8"))["summary"])
            measured = convert_s + (0 if ns.no_validate else validate_s)
            cpu = convert_cpu + (0 if ns.no_validate else validate_cpu)
            per_thousand.append((size, cpu / size * 1000))
            print(f"{size:>9,} {megabytes:>6.1f} {convert_s:>10.2f} {convert_cpu:>7.1f} {_mib(convert_peak):>13}"
                  f" {validate_s:>11.2f} {validate_cpu:>7.1f} {_mib(validate_peak):>13} {measured / size * 1000:>9.2f}"
                  f"  {summary}", flush=True)
    if len(per_thousand) > 1:
        (small, first), (large, last) = per_thousand[0], per_thousand[-1]
        what = "conversion" if ns.no_validate else "convert + validate"
        print(f"linearity ({what}): {last / first:.2f}x the CPU seconds per 1,000 patients at {large:,} as at "
              f"{small:,} (1.00 = linear)")


if __name__ == "__main__":
    main()

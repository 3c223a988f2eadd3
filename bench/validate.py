"""Time `iimkg validate` on N synthetic treatment plans in several file layouts, and plain pyshacl at one N.

    python bench/validate.py                                  # 1,000, 10,000 and 100,000 plans, every layout
    python bench/validate.py --sizes 100000 --layouts one-nt ten-ttl --pyshacl-size 0
    python bench/validate.py --sizes 1000000 --layouts one-nt --pyshacl-size 0    # 1M plans: some 5.6 GB of N-Triples

Plans are generated with a fixed seed, one at a time and written as they are made (1M plans never sit in memory): a
diagnosis among the IIM subtypes, a patient, one to three prescriptions (glucocorticoids at various doses and
durations, immunosuppressants, biologics, IVIG...) and the co-interventions a careful clinic records, each
missing now and then, so that every rule finds something. The same plans are written in each layout:

- ``one-nt``: one N-Triples file (what an export job writes);
- ``one-ttl``: one Turtle file (prefixes, ``[ ]`` blank nodes for patients, prescriptions and co-interventions);
- ``ten-ttl``: Turtle files of N/10 plans each (as a clinic would export them in batches);
- ``interleaved``: one N-Triples file whose lines are shuffled within blocks of 2,000 plans (plans interleaved,
  prescriptions before their plans);
- ``blank``: one Turtle file whose plans are blank nodes too (``[ a iim:TreatmentPlan ; … ] .``);
- ``one-jsonld``: one JSON-LD file, ``{"@context": …, "@graph": [ … ]}`` as rdflib and most writers lay it out,
  one node object a line (expanded, as pyoxigraph writes them);
- ``sorted``: the ``one-nt`` file's lines sorted byte by byte (``LC_ALL=C sort``, as ``sort -u`` dedupes N-Triples and
  as a triplestore dumps in the order of its subjects): each plan's own lines together, its patient's, prescriptions'
  and co-interventions' (blank nodes) scattered over the rest of the file.

Each run is a fresh `iimkg validate` process (so the time includes start-up, loading and writing the JSON report);
peak memory is the largest total resident set of that process and its workers, sampled every 20 ms, and the largest
total proportional set (PSS: pages the forked workers share with the parent counted once; bench/memory.py). The run sets
IIMKG_PROFILE=1, and the bench prints where the time went: reading and splitting the input (the parent process),
loading, rule evaluation and attribution (summed over the workers), findings and the report. Findings are compared
across layouts of one size (the same plans give the same findings). Plain pyshacl is `iimkg validate --engine
rdflib`: pyshacl on an rdflib graph of the same ontology, shapes and plans, 20-80 s a plan on a 2-core machine;
give a small --pyshacl-size to estimate the ratio (docs/plans.md used 10).
Times drift between runs on shared machines; compare numbers from the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from memory import PeakSampler

LAYOUTS = ("one-nt", "one-ttl", "ten-ttl", "interleaved", "blank", "one-jsonld", "sorted")
PREFIXES = ("@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n"
            "@prefix dcterms: <http://purl.org/dc/terms/> .\n"
            "@prefix iim: <https://w3id.org/iimkg/> .\n"
            "@prefix : <https://example.org/bench/plans/> .\n\n")
BLOCK = 2_000  # plans converted (and, interleaved, shuffled) together
DIAGNOSES = ["IIM_0000005", "IIM_0000005", "IIM_0000002", "IIM_0000006", "IIM_0000009", "IIM_0000011",
             "IIM_0000012", "IIM_0000010", "IIM_0000003", "IIM_0000007"]
GLUCOCORTICOIDS = ["IIM_0000102", "IIM_0000102", "IIM_0000103", "IIM_0000104"]
SECOND_DRUGS = [("IIM_0000112", 150), ("IIM_0000111", 2.5), ("IIM_0000113", 2000), ("IIM_0000115", 4),
                ("IIM_0000121", 1000), ("IIM_0000130", 140000), ("IIM_0000135", 200), ("IIM_0000126", 10)]
INFECTION_MEASURES = ["IIM_0000522", "IIM_0000525", "IIM_0000526", "IIM_0000510", "IIM_0000161", "IIM_0000163",
                      "IIM_0000164"]
BONE_MEASURES = ["IIM_0000142", "IIM_0000146", "IIM_0000148", "IIM_0000520"]
GC_MONITORING = ["IIM_0000528", "IIM_0000529"]


def generate(count: int, folder: Path, layout: str, seed: int = 20261125) -> list[Path]:
    """Write ``count`` plans in ``layout`` (see the module's help), a block at a time; return the files."""
    import pyoxigraph as ox

    rnd = random.Random(seed)
    shuffle = random.Random(seed + 1)
    files = 10 if layout == "ten-ttl" else 1
    per_file = -(-count // files)
    if layout == "sorted":
        unsorted = generate(count, folder, "one-nt", seed)[0]
        path = folder / "plans-sorted.nt"
        subprocess.run(["sort", "-S", "25%", "-T", str(folder), "-o", str(path), str(unsorted)], check=True,
                       env={**os.environ, "LC_ALL": "C"})
        unsorted.unlink()
        return [path]
    ntriples = layout in ("one-nt", "interleaved")
    jsonld = layout == "one-jsonld"
    paths = []
    number = 0
    for index in range(files):
        path = folder / f"plans-{index:03d}.{'nt' if ntriples else 'jsonld' if jsonld else 'ttl'}"
        with path.open("wb") as out:
            if jsonld:
                out.write(b'{"@context": {"iim": "https://w3id.org/iimkg/"},\n "@graph": [\n')
            elif not ntriples:
                out.write(PREFIXES.encode())
            end = min(count, number + per_file)
            while number < end:
                block = [_plan(rnd, n, blank=layout == "blank") for n in range(number, min(end, number + BLOCK))]
                if jsonld:
                    nodes = json.loads(ox.serialize(ox.parse(PREFIXES + "".join(block), format=ox.RdfFormat.TURTLE),
                                                    format=ox.RdfFormat.JSON_LD) or b"[]")
                    out.write((",\n" if number else "").encode()
                              + ",\n".join(json.dumps(node, separators=(",", ":")) for node in nodes).encode())
                    number += len(block)
                    continue
                number += len(block)
                if not ntriples:
                    out.write("".join(block).encode())
                    continue
                lines = (ox.serialize(ox.parse(PREFIXES + "".join(block), format=ox.RdfFormat.TURTLE),
                                      format=ox.RdfFormat.N_TRIPLES) or b"").splitlines(keepends=True)
                if layout == "interleaved":
                    shuffle.shuffle(lines)
                out.write(b"".join(lines))
            if jsonld:
                out.write(b"\n]}\n")
        paths.append(path)
    return paths


def _plan(rnd: random.Random, number: int, blank: bool = False) -> str:
    pid = f"P{number:06d}"
    diagnosis = rnd.choice(DIAGNOSES)
    female = rnd.random() < 0.6
    age = rnd.randint(18, 85) if diagnosis != "IIM_0000003" else rnd.randint(4, 17)
    patient = [f"iim:sex iim:{'Female' if female else 'Male'}", f"iim:ageYears {age}"]
    if female and age > 52:
        patient.append("iim:belongsToPopulation iim:IIM_0000601")
    if rnd.random() < 0.1:
        patient.append("iim:hasCondition iim:IIM_0000314")
    prescriptions = []
    measures = set()
    has_gc = diagnosis != "IIM_0000007" and rnd.random() < 0.85
    if has_gc:
        dose = rnd.choice([5, 7.5, 10, 20, 30, 40, 60])
        days = rnd.choice([14, 30, 60, 90, 180, 365])
        prescriptions.append((rnd.choice(GLUCOCORTICOIDS), dose, days))
        measures.update(BONE_MEASURES + GC_MONITORING + ["IIM_0000151"])
    if rnd.random() < 0.6 or not has_gc:
        drug, dose = rnd.choice(SECOND_DRUGS)
        prescriptions.append((drug, dose, rnd.choice([15, 90, 180, 365])))
    measures.update(INFECTION_MEASURES)
    if "IIM_0000314" in patient[-1]:
        measures.add(rnd.choice(["IIM_0000505", "IIM_0000506"]))
    kept = [m for m in sorted(measures) if rnd.random() < 0.93]  # sorted first: set order varies by process
    if rnd.random() < 0.01:
        kept.append("IIM_0000162")  # a live vaccine
    lines = [f"{'[' if blank else ':' + pid} a iim:TreatmentPlan ;", f'    dcterms:identifier "{pid}" ;',
             '    iim:planDate "2026-03-02"^^xsd:date ;']
    if rnd.random() > 0.002:
        lines.append(f"    iim:diagnosis iim:{diagnosis} ;")
    lines.append(f"    iim:patient [ {' ; '.join(patient)} ] ;")
    for drug, dose, days in prescriptions:
        end = (f'iim:endDate "{_end_date(days)}"^^xsd:date' if rnd.random() < 0.3
               else f"iim:plannedDurationDays {days}")
        if rnd.random() < 0.002:
            dose = -dose
        lines.append(f'    iim:prescription [ iim:prescribedDrug iim:{drug} ; iim:dailyDoseMg {dose} ; '
                     f'iim:startDate "2026-03-02"^^xsd:date ; {end} ] ;')
    for measure in kept:
        status = "Done" if measure in {"IIM_0000522", "IIM_0000525", "IIM_0000526", "IIM_0000510"} else "Planned"
        lines.append(f"    iim:coIntervention [ iim:measure iim:{measure} ; iim:measureStatus iim:{status} ] ;")
    lines[-1] = lines[-1][:-2] + (" ] ." if blank else " .")
    return "\n".join(lines) + "\n\n"


def _end_date(days: int) -> str:
    import datetime

    return (datetime.date(2026, 3, 2) + datetime.timedelta(days=days - 1)).isoformat()


Row = tuple[str, int, int, float, int, dict[str, object]]


def run(files: list[Path], engine: str, report: Path) -> tuple[float, int, dict[str, object]]:
    """Run `iimkg validate` once; wall time, peak memory of the process tree, and the JSON summary (with the
    profile line the run printed, under ``profile``, and a digest of its findings under ``digest``)."""
    command = [sys.executable, "-m", "iimkg.cli.main", "validate", *map(str, files), "--engine", engine,
               "--format", "json", "--output", str(report)]
    if engine == "rdflib" or any(path.suffix == ".ttl" for path in files):
        # read whole (pyshacl), or by parsers whose term buffer the flag does not bound: the file limit applies
        # (docs/security.md); N-Triples and JSON-LD are checked as a user runs them, with no flag
        largest = max(path.stat().st_size for path in files) // 2**20 + 1
        command += ["--max-input-mb", str(max(largest, 512))]
    started = time.perf_counter()
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env={**os.environ, "IIMKG_PROFILE": "1"})
    sampler = PeakSampler(process.pid)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            sampler.sample()
            time.sleep(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    _, err = process.communicate()
    elapsed = time.perf_counter() - started
    stop.set()
    thread.join()
    if process.returncode not in (0, 1) or not report.is_file():
        raise SystemExit(f"iimkg validate failed (exit {process.returncode}, no report): {err.strip()}")
    summary, digest = _read_report(report)
    summary["profile"] = next((line for line in err.splitlines() if line.startswith("iimkg profile:")), "")
    summary["digest"] = digest
    summary["pss_peak"] = sampler.peak.pss
    summary["sampler_cpu"] = sampler.cpu
    report.unlink()
    return elapsed, sampler.peak.rss, summary


def _read_report(report: Path) -> tuple[dict[str, object], str]:
    """The JSON report's summary and a digest of its findings, in order, with blank-node labels (drawn at random)
    and files left out; read a finding at a time (a million plans' report is gigabytes)."""
    digest = hashlib.sha256()
    summary: dict[str, object] = {}
    for key, value in _json_members(report):
        if key == "summary":
            summary = value
        elif key == "finding":
            text = json.dumps([value[k] for k in ("plan", "rule", "severity", "message", "value")],
                              ensure_ascii=False)
            digest.update(re.sub(r"_:[0-9a-f]+", "_:b", text).encode())
    return summary, digest.hexdigest()[:16]


def _json_members(path: Path, block: int = 1 << 20) -> Iterator[tuple[str, Any]]:
    """The top-level members of a JSON object file, each element of its ``findings`` array as ("finding", value)."""
    decoder = json.JSONDecoder()
    with path.open(encoding="utf-8") as handle:
        buffer, at = handle.read(block), 0

        def skip(chars: str) -> None:
            nonlocal buffer, at
            while True:
                while at < len(buffer) and (buffer[at].isspace() or buffer[at] in chars):
                    at += 1
                if at < len(buffer):
                    return
                more = handle.read(block)
                if not more:
                    return
                buffer, at = buffer[at:] + more, 0

        def value() -> Any:
            nonlocal buffer, at
            while True:
                try:
                    item, end = decoder.raw_decode(buffer, at)
                except json.JSONDecodeError:
                    more = handle.read(block)
                    if not more:
                        raise
                    buffer, at = buffer[at:] + more, 0
                    continue
                if end == len(buffer):  # a number may go on in the next block
                    more = handle.read(block)
                    if more:
                        buffer, at = buffer[at:] + more, 0
                        continue
                at = end
                return item

        skip("{")
        while at < len(buffer) and buffer[at] != "}":
            key = value()
            skip(":")
            if key == "findings":
                skip("[")
                while at < len(buffer) and buffer[at] != "]":
                    yield "finding", value()
                    skip(",")
                at += 1
            else:
                yield key, value()
            skip(",")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000],
                        help="numbers of plans for iimkg's engine (default: 1000 10000 100000)")
    parser.add_argument("--layouts", nargs="+", choices=LAYOUTS, default=list(LAYOUTS),
                        help="file layouts (default: all)")
    parser.add_argument("--pyshacl-size", type=int, default=10_000,
                        help="number of plans for plain pyshacl (0: skip; default 10000, some 60 hours here)")
    parser.add_argument("--keep", type=Path, help="write the generated plans here instead of a temporary folder, and "
                        "use the plans generated there by an earlier run (same size and layout) instead of new ones")
    ns = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="iimkg-bench-") as tmp:
        root = ns.keep or Path(tmp)

        def plans(count: int, layout: str) -> list[Path]:
            folder = root / f"n{count}-{layout}"
            done = folder / "generated.txt"  # written last: the files are whole (a 1M-plan cohort takes minutes)
            if ns.keep and done.is_file():
                return [folder / name for name in done.read_text(encoding="utf-8").split()]
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.iterdir():
                old.unlink()
            files = generate(count, folder, layout)
            done.write_text("\n".join(path.name for path in files), encoding="utf-8")
            return files

        for count in ns.sizes:
            digests = set()
            for layout in ns.layouts:
                files = plans(count, layout)
                seconds, peak, summary = run(files, "oxigraph", root / f"report-{count}-{layout}.json")
                rows.append((f"iimkg, {layout}", count, len(files), seconds, peak, summary))
                _print_row(rows[-1])
                digests.add(summary["digest"])
                if not ns.keep:
                    for path in files:
                        path.unlink()
            if len(ns.layouts) > 1:
                print(f"{count:,} plans: {'the same' if len(digests) == 1 else 'DIFFERENT'} findings in every layout",
                      flush=True)
        if ns.pyshacl_size:
            count = ns.pyshacl_size
            files = plans(count, "ten-ttl")
            seconds, peak, summary = run(files, "rdflib", root / f"report-rdflib-{count}.json")
            rows.append(("plain pyshacl (rdflib)", count, len(files), seconds, peak, summary))
            _print_row(rows[-1])
            fast = [r for r in rows if r[0] == "iimkg, ten-ttl" and r[1] == count]
            if not fast:
                seconds_fast, peak_fast, summary_fast = run(files, "oxigraph", root / f"report-fast-{count}.json")
                fast = [("iimkg, ten-ttl", count, len(files), seconds_fast, peak_fast, summary_fast)]
                rows.append(fast[0])
            same = fast[0][5]["digest"] == summary["digest"]
            print(f"\npyshacl / iimkg at {count:,} plans: {seconds / fast[0][3]:.0f}x "
                  f"({'same' if same else 'DIFFERENT'} findings: {summary['findings']:,})")
            largest = max((r for r in rows if r[0].startswith("iimkg")), key=lambda r: r[1])
            # At a small pyshacl size iimkg's fixed cost (start-up, loading the ontology) dominates its time;
            # throughput at iimkg's largest size is the fairer comparison of the per-plan work.
            print(f"plans/second: iimkg {largest[1] / largest[3]:,.0f} at {largest[1]:,} plans, plain pyshacl "
                  f"{count / seconds:,.2f} at {count:,}: {(largest[1] / largest[3]) / (count / seconds):,.0f}x")
    print()
    print(_table(rows))
    return 0


def _print_row(row: Row) -> None:
    name, count, _files, seconds, peak, summary = row
    pss = int(str(summary.get("pss_peak", peak)))
    print(f"{name}: {count:,} plans in {seconds:.1f} s ({count / seconds:,.0f} plans/s), peak {peak / 2**20:,.0f} MB "
          f"resident (summed), {pss / 2**20:,.0f} MB proportional (PSS), {summary['findings']:,} findings "
          f"(memory sampling: {float(str(summary.get('sampler_cpu', 0.0))):.1f} s of CPU)", flush=True)
    if summary.get("profile"):
        checked = float(str(summary.get("seconds", 0.0)))
        print(f"  {summary['profile']}; start-up and the JSON report {seconds - checked:.1f} s", flush=True)


def _table(rows: list[Row]) -> str:
    lines = ["| engine, layout | plans | files | seconds | plans/second | peak RSS (summed) | peak PSS | findings "
             "| plans with findings |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, count, files, seconds, peak, summary in rows:
        rate = count / seconds
        lines.append(f"| {name} | {count:,} | {files} | {seconds:.1f} | {rate:,.{0 if rate >= 10 else 2}f} | "
                     f"{peak / 2**20:,.0f} MB | {int(str(summary.get('pss_peak', peak))) / 2**20:,.0f} MB | "
                     f"{summary['findings']:,} | {summary.get('plans_with_findings', '')} |")
    lines.append(f"\n{os.cpu_count()} CPUs; {sys.version.split()[0]}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

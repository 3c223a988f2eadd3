"""Where rule evaluation goes: each SHACL-AF rule and each check of the plan shapes, timed on chunks of plans.

    python bench/rules.py                   # 4,000 generated plans (bench/validate.py's), chunked as validate does
    python bench/rules.py --plans 8000 --chunk-plans 1500 --top 15
    python bench/rules.py --input plans.nt         # your own plan file (any RDF syntax validate reads)
    python bench/rules.py --fhir-patients 2000     # a Bulk Data export (bench/fhir.py's), converted
    python bench/rules.py --plans 2000 --rows      # and each step's rows on a chunk (its work, not its time)

The chunks are checked one after another in this process, as a worker process checks them (`UnitChecker`, each
chunk in a fresh store), with each step's CPU seconds added up (`CompiledShapes.run(store, timings)`). Then every
step runs again on a store holding the ontology alone, and on an empty store: what a step costs there it costs in
every chunk whatever its plans (the parts of its query that read only the ontology; parsing and planning the query).
So each step's time splits into a fixed cost per chunk and a cost per plan:

    per plan = (time over all chunks - chunks x fixed per chunk) / plans

Each figure is the smallest of --repeat runs (default 3): on a shared machine the smallest is the least disturbed.
The last lines give the whole evaluation as fixed cost per chunk + cost per plan, and what that means at other chunk
sizes if every step is linear. --growth checks that: it times chunks four times larger and names the steps that take
twice as long a plan or longer, fixed cost included (a query that joins rows of different plans: its time grows
with the square of the plans in a store). Such a step may show only on data with many of the rows it joins: plans
with test results (--fhir-patients) have them, the generated plans have none. `iimkg validate` with
IIMKG_PROFILE=1 gives the split between reading, loading, evaluation and reports; this bench opens the evaluation
part of it (docs/scale.md).

On a shared machine timings of the same step vary by a third from one quarter of an hour to the next. --rows adds
a measure that does not: each step's rows on the first chunk, summed over every operator of its query plan as
`oxigraph query --explain --stats` counts them (what pyoxigraph's evaluator produced). A rewrite of a rule that
takes its rows from 69,493 to 27,083 does less work whatever the clock says; `oxigraph query --explain` on the
same query then shows where the rows are.
"""

from __future__ import annotations

import argparse
import itertools
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pyoxigraph as ox

sys.path.insert(0, str(Path(__file__).resolve().parent))

from iimkg.plans.engines import UnitChecker
from iimkg.plans.splitting import PlanUnit
from iimkg.plans.units import CHUNK_LINES, CHUNK_PLANS, chunked, split_plans
from iimkg.plans.validate import ontology_graph_file, prepared_shapes
from validate import generate


def chunk_timings(checker: UnitChecker, chunks: list[list[PlanUnit]], repeat: int) -> dict[str, float]:
    """Each step's CPU seconds over all chunks, the smallest of ``repeat`` runs, after a first chunk unmeasured (the
    first run of a step imports and builds what later runs reuse: over 100 ms for one of them)."""
    checker.check(chunks[0])
    best: dict[str, float] = {}
    for _ in range(repeat):
        checker.step_timings = {}
        for chunk in chunks:
            outcome = checker.check(chunk)
            if outcome.error is not None:
                raise SystemExit(f"bench/rules.py: {outcome.error[1]}: {outcome.error[0]}")
        for name, seconds in checker.step_timings.items():
            best[name] = min(best.get(name, seconds), seconds)
    checker.step_timings = None
    return best


def store_timings(checker: UnitChecker, ontology: bool, repeat: int) -> dict[str, float]:
    """Each step's CPU seconds on a store of the ontology alone (``ontology``) or an empty one, the smallest of
    ``repeat`` runs.

    One untimed run comes first: what a step does once in a process (the range checks import pyshacl's comparison of
    literals at their first call, some 140 ms) is not a cost of every chunk, and timed in the first run it was
    counted as one (``--repeat 1`` gave 256 ms fixed per chunk, 143 of it that import)."""
    checker.compiled.run(ox.Store())
    best: dict[str, float] = {}
    for _ in range(repeat):
        store = ox.Store()
        if ontology:
            store.extend(checker.ontology)
        timings: dict[str, float] = {}
        checker.compiled.run(store, timings)
        for name, seconds in timings.items():
            best[name] = min(best.get(name, seconds), seconds)
    return best


def plan_units(ns: argparse.Namespace, folder: Path) -> list[PlanUnit]:
    """The units to time: a plan file's, a Bulk Data export's as validate converts it, or generated plans'."""
    if ns.input is not None:
        return list(split_plans(ns.input))
    if ns.fhir_patients:
        from fhir import write_export
        from iimkg.fhir.intake import BulkPlans

        return list(BulkPlans(write_export(folder, ns.fhir_patients), strict=False).units())
    return list(itertools.islice(split_plans(generate(ns.plans, folder, "one-nt")[0]), ns.plans))


def operator_rows(checker: UnitChecker, chunk: list[PlanUnit]) -> dict[str, int] | str:
    """Each step's rows, summed over every operator of its query plan, on ``chunk`` (``--rows``): what pyoxigraph's
    evaluator produced, a measure of its work that does not move with the machine's speed as timings do.

    The chunk is checked as a worker checks it (the rules then the checks, in one store), the store is written to a
    database on disk, and each step's query (``CompiledShapes.step_queries``: a rule as its CONSTRUCT) is run there by
    ``oxigraph query --explain --stats`` (the ``oxigraph`` package, a test dependency), which prints every operator's
    rows. A rule is read after all the rules have run, so one that reads what it derives itself sees that too.
    Returns why not, instead, when the ``oxigraph`` command is not installed."""
    command = shutil.which("oxigraph") or shutil.which("oxigraph", path=str(Path(sys.executable).parent))
    if command is None:
        return "the oxigraph command is not installed (pip install oxigraph)"
    store = ox.Store()
    store.extend(checker.ontology)
    for unit in chunk:
        store.load(unit.data, format=ox.RdfFormat.from_media_type(unit.format),
                   base_iri=Path(unit.source).resolve().as_uri())
    checker.compiled.run(store)
    rows: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="iimkg-bench-rows-") as tmp:
        dump, database = Path(tmp) / "chunk.nq", Path(tmp) / "database"
        store.dump(str(dump), format=ox.RdfFormat.N_QUADS)
        subprocess.run([command, "load", "--location", str(database), "--file", str(dump)], check=True,
                       capture_output=True)
        for index, (name, query) in enumerate(checker.compiled.step_queries()):
            kind = "nt" if index < len(checker.compiled.rules) else "tsv"  # the rules come first, as CONSTRUCTs
            (Path(tmp) / "query.rq").write_text(query, encoding="utf-8")
            run = subprocess.run([command, "query", "--location", str(database), "--query-file",
                                  str(Path(tmp) / "query.rq"), "--results-format", kind, "--explain", "--stats",
                                  "--results-file", str(Path(tmp) / f"results.{kind}")],
                                 capture_output=True, text=True, check=False)
            if run.returncode != 0:
                return f"oxigraph query failed on {name}: {run.stderr.strip()[-300:]}"
            rows[name] = sum(int(n) for n in re.findall(r"number of results: (\d+)", run.stderr))
    return rows


def split_steps(checker: UnitChecker, chunks: list[list[PlanUnit]], fixed: dict[str, float],
                repeat: int) -> tuple[dict[str, float], dict[str, float], int]:
    """Each step's seconds over the chunks and its cost per plan once the fixed cost of each chunk is taken off;
    and the plans."""
    plans = sum(max(unit.plans, 1) for chunk in chunks for unit in chunk)
    over_chunks = chunk_timings(checker, chunks, repeat)
    per_plan = {name: max(seconds - len(chunks) * fixed.get(name, 0.0), 0.0) / plans
                for name, seconds in over_chunks.items()}
    return over_chunks, per_plan, plans


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--plans", type=int, default=4_000, help="generated plans (default 4,000)")
    source.add_argument("--input", type=Path, help="a plan file to read instead of generated plans")
    source.add_argument("--fhir-patients", type=int, default=0,
                        help="a Bulk Data export of this many patients (bench/fhir.py's), converted as validate does")
    parser.add_argument("--chunk-plans", type=int, default=CHUNK_PLANS,
                        help=f"plans in a chunk, at most (default {CHUNK_PLANS:,}, as validate)")
    parser.add_argument("--chunk-lines", type=int, default=CHUNK_LINES,
                        help=f"lines of RDF in a chunk, at most (default {CHUNK_LINES:,}, as validate)")
    parser.add_argument("--growth", type=int, default=4,
                        help="also time chunks this many times larger, and name the steps whose cost per plan grows "
                             "with the plans of a store (default 4; 0: don't)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measure; the smallest is kept")
    parser.add_argument("--top", type=int, default=0, help="show only the N costliest steps (default: all)")
    parser.add_argument("--rows", action="store_true",
                        help="also count each step's rows on the first chunk, summed over the operators of its query "
                             "plan (oxigraph query --explain --stats): its work, which does not vary as timings do")
    ns = parser.parse_args()
    graph_file = ontology_graph_file(None)
    shapes_text, _rules, _ids = prepared_shapes((), graph_file)
    checker = UnitChecker(shapes_text, graph_file)
    with tempfile.TemporaryDirectory(prefix="iimkg-bench-rules-") as tmp:
        units = plan_units(ns, Path(tmp))
    chunks = [c for c in chunked(units, ns.chunk_plans, ns.chunk_lines) if isinstance(c, list)]
    plans = sum(max(unit.plans, 1) for chunk in chunks for unit in chunk)
    print(f"# {plans:,} plans in {len(chunks):,} chunk{'' if len(chunks) == 1 else 's'} "
          f"(at most {ns.chunk_plans:,} plans or {ns.chunk_lines:,} lines, a unit of plans never split), "
          f"smallest of {ns.repeat} runs, CPU time of this process", flush=True)
    fixed = store_timings(checker, True, ns.repeat)
    parsing = store_timings(checker, False, ns.repeat)
    over_chunks, per_plan, _ = split_steps(checker, chunks, fixed, ns.repeat)
    names = checker.compiled.step_names()
    rows = [(name, over_chunks.get(name, 0.0), fixed.get(name, 0.0), parsing.get(name, 0.0), per_plan.get(name, 0.0))
            for name in names]
    total = sum(r[1] for r in rows) or 1.0
    shown = sorted(rows, key=lambda r: -r[1])[: ns.top or None]
    work = operator_rows(checker, chunks[0]) if ns.rows else {}
    if isinstance(work, str):
        print(f"# --rows: {work}", flush=True)
        work = {}
    header = f"{'step':<48} {'share':>6} {'ms/plan':>8} {'fixed ms':>9} {'of it, parse':>13} {'per plan ms':>12}"
    print(header + (f" {'rows, chunk 1':>14}" if work else ""))
    for name, seconds, fixed_s, parse_s, step_per_plan in shown:
        print(f"{name:<48} {seconds / total:>6.1%} {seconds * 1000 / plans:>8.3f} {fixed_s * 1000:>9.2f} "
              f"{parse_s * 1000:>13.2f} {step_per_plan * 1000:>12.3f}"
              + (f" {work.get(name, 0):>14,}" if work else ""))
    if work:
        first = sum(max(unit.plans, 1) for unit in chunks[0])
        print(f"\nrows: {sum(work.values()):,} for the {first:,} plans of the first chunk, all steps "
              f"({sum(work.values()) / first:,.0f} a plan)")
    fixed_ms = sum(r[2] for r in rows) * 1000
    parse_ms = sum(r[3] for r in rows) * 1000
    marginal_ms = sum(r[4] for r in rows) * 1000
    print(f"\nevaluation: {total * 1000 / plans:.3f} ms a plan in chunks of {plans / len(chunks):,.0f} plans = "
          f"{fixed_ms:.1f} ms fixed per chunk ({parse_ms:.1f} ms of it parsing and planning the queries) "
          f"+ {marginal_ms:.3f} ms per plan")
    for size in (100, 360, 1_000, 2_000, 5_000):
        print(f"  at {size:>5,} plans a chunk: {fixed_ms / size + marginal_ms:.3f} ms a plan (if every step is linear)")
    if ns.growth > 1:
        report_growth(checker, units, chunks, over_chunks, ns)
    return 0


def report_growth(checker: UnitChecker, units: list[PlanUnit], chunks: list[list[PlanUnit]],
                  over_chunks: dict[str, float], ns: argparse.Namespace) -> None:
    """Time chunks ``ns.growth`` times larger and name each step that takes twice as long a plan there or longer,
    fixed cost included: its query joins rows of different plans (a constant pattern it starts from, a correlated
    FILTER NOT EXISTS), so its time grows with the square of the plans in a store, and data with more of those rows
    shows it first. With the fixed cost included a linear step can only get cheaper a plan in larger chunks, so a
    step named here is not an error in the measured fixed cost (which the machine's drift moves); twice, not a little
    more, since caches and index depths make some steps a little dearer a plan in a larger store (InfectionRisk:
    1.3x from 250 to 3,000 plans a chunk)."""
    plans = sum(max(u.plans, 1) for c in chunks for u in c)
    size = max(1, round(plans / len(chunks)))
    larger = [c for c in chunked(units, size * ns.growth, lines=1 << 62, size=1 << 62) if isinstance(c, list)]
    if len(larger) == len(chunks):
        print(f"\ngrowth: the input fills no chunk larger than {size:,} plans; give more plans")
        return
    over_larger = chunk_timings(checker, larger, ns.repeat)
    grown = sorted(((over_larger[name] / over_chunks[name], name) for name in over_larger
                    if over_chunks.get(name) and over_larger[name] * 1000 / plans >= 0.01
                    and over_larger[name] >= 2 * over_chunks[name]), reverse=True)
    print(f"\ngrowth: chunks of {plans / len(larger):,.0f} plans against {size:,}: "
          + (f"{len(grown)} step(s) take twice as long a plan or longer" if grown
             else "no step takes twice as long a plan"))
    for ratio, name in grown:
        print(f"  {name:<48} {over_chunks[name] * 1000 / plans:.3f} -> {over_larger[name] * 1000 / plans:.3f} ms a "
              f"plan ({ratio:.1f}x)")


if __name__ == "__main__":
    raise SystemExit(main())

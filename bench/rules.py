"""Where rule evaluation goes: each SHACL-AF rule and each check of the plan shapes, timed on chunks of plans.

    python bench/rules.py                   # 4,000 generated plans (bench/validate.py's), chunked as validate does
    python bench/rules.py --plans 8000 --chunk-plans 1500 --top 15
    python bench/rules.py --input plans.nt         # your own plan file (any RDF syntax validate reads)

The chunks are checked one after another in this process, as a worker process checks them (`UnitChecker`, each
chunk in a fresh store), with each step's CPU seconds added up (`CompiledShapes.run(store, timings)`). Then every
step runs again on a store holding the ontology alone, and on an empty store: what a step costs there it costs in
every chunk whatever its plans (the parts of its query that read only the ontology; parsing and planning the query).
So each step's time splits into a fixed cost per chunk and a cost per plan:

    per plan = (time over all chunks - chunks x fixed per chunk) / plans

Each figure is the smallest of --repeat runs (default 3): on a shared machine the smallest is the least disturbed.
The last lines give the whole evaluation as fixed cost per chunk + cost per plan, and what that means at other chunk
sizes. `iimkg validate` with IIMKG_PROFILE=1 gives the split between reading, loading, evaluation and reports;
this bench opens the evaluation part of it (docs/scale.md).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

import pyoxigraph as ox

sys.path.insert(0, str(Path(__file__).resolve().parent))

from iimkg.plans.engines import UnitChecker
from iimkg.plans.splitting import PlanUnit
from iimkg.plans.units import CHUNK_BYTES, CHUNK_PLANS, chunked, split_plans
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
    ``repeat`` runs."""
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plans", type=int, default=4_000, help="generated plans (default 4,000)")
    parser.add_argument("--input", type=Path, help="a plan file to read instead of generated plans")
    parser.add_argument("--chunk-plans", type=int, default=CHUNK_PLANS,
                        help=f"plans in a chunk, at most (default {CHUNK_PLANS:,}, as validate)")
    parser.add_argument("--chunk-mb", type=float, default=CHUNK_BYTES / 1e6,
                        help=f"MB of RDF in a chunk, at most (default {CHUNK_BYTES / 1e6:g}, as validate)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measure; the smallest is kept")
    parser.add_argument("--top", type=int, default=0, help="show only the N costliest steps (default: all)")
    ns = parser.parse_args()
    graph_file = ontology_graph_file(None)
    shapes_text, _rules, _ids = prepared_shapes((), graph_file)
    checker = UnitChecker(shapes_text, graph_file)
    with tempfile.TemporaryDirectory(prefix="iimkg-bench-rules-") as tmp:
        path = ns.input or generate(ns.plans, Path(tmp), "one-nt")[0]
        units = split_plans(path)
        if ns.input is None:
            units = itertools.islice(units, ns.plans)
        chunks = [c for c in chunked(units, ns.chunk_plans, int(ns.chunk_mb * 1e6)) if isinstance(c, list)]
    plans = sum(max(unit.plans, 1) for chunk in chunks for unit in chunk)
    print(f"# {plans:,} plans in {len(chunks):,} chunks (at most {ns.chunk_plans:,} plans or {ns.chunk_mb:g} MB), "
          f"smallest of {ns.repeat} runs, CPU time of this process", flush=True)
    over_chunks = chunk_timings(checker, chunks, ns.repeat)
    fixed = store_timings(checker, True, ns.repeat)
    parsing = store_timings(checker, False, ns.repeat)
    names = checker.compiled.step_names()
    rows = []
    for name in names:
        per_plan = max(over_chunks.get(name, 0.0) - len(chunks) * fixed.get(name, 0.0), 0.0) / plans
        rows.append((name, over_chunks.get(name, 0.0), fixed.get(name, 0.0), parsing.get(name, 0.0), per_plan))
    total = sum(r[1] for r in rows) or 1.0
    shown = sorted(rows, key=lambda r: -r[1])[: ns.top or None]
    print(f"{'step':<48} {'share':>6} {'ms/plan':>8} {'fixed ms':>9} {'of it, parse':>13} {'per plan ms':>12}")
    for name, seconds, fixed_s, parse_s, per_plan in shown:
        print(f"{name:<48} {seconds / total:>6.1%} {seconds * 1000 / plans:>8.3f} {fixed_s * 1000:>9.2f} "
              f"{parse_s * 1000:>13.2f} {per_plan * 1000:>12.3f}")
    fixed_ms = sum(r[2] for r in rows) * 1000
    parse_ms = sum(r[3] for r in rows) * 1000
    marginal_ms = sum(r[4] for r in rows) * 1000
    print(f"\nevaluation: {total * 1000 / plans:.3f} ms a plan in chunks of {plans / len(chunks):,.0f} plans = "
          f"{fixed_ms:.1f} ms fixed per chunk ({parse_ms:.1f} ms of it parsing and planning the queries) "
          f"+ {marginal_ms:.3f} ms per plan")
    for size in (100, 360, 1_000, 2_000, 5_000):
        print(f"  at {size:>5,} plans a chunk: {fixed_ms / size + marginal_ms:.3f} ms a plan")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

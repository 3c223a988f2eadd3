"""Spreading plan files (and parts of converted files) over worker processes, and merging what they find."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

from iimkg.plans.engines import oxigraph_batch
from iimkg.plans.reading import PlanNode
from iimkg.plans.results import Outcome

__all__ = ["PARALLEL_MIN_BYTES", "check_with_oxigraph"]

# Below this much plan data, worker processes cost more (start-up, ontology load) than they save.
PARALLEL_MIN_BYTES = 4_000_000

Unit = tuple[Path, bytes | None]  # a plan file, or one part of the plans converted from another format's file


def check_with_oxigraph(files: list[Path], shapes_text: str, input_format: str | None,
                        workers: int | None, ontology: Path, converted: Mapping[str, list[bytes]]) -> Outcome:
    """Check ``files`` with the compiled engine, in this process or spread over ``workers`` processes."""
    units: list[Unit] = []
    for path in files:
        parts = converted.get(str(path))
        units.extend([(path, None)] if parts is None else [(path, part) for part in parts])
    batches = [_batch_inputs(batch) for batch in _batches(units, workers)]
    if len(batches) == 1:
        (only_files, only_converted), = batches
        return oxigraph_batch(only_files, shapes_text, input_format, ontology, only_converted)
    context = get_context("fork") if "fork" in get_all_start_methods() else get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(batches), mp_context=context) as pool:
        outcomes = list(pool.map(oxigraph_batch, [b[0] for b in batches], [shapes_text] * len(batches),
                                 [input_format] * len(batches), [ontology] * len(batches), [b[1] for b in batches]))
    return _merge(outcomes, files)


def _batch_inputs(units: Sequence[Unit]) -> tuple[list[Path], dict[str, bytes]]:
    """A worker's files, and the converted plans it checks for each converted file (its parts, joined)."""
    files = list(dict.fromkeys(path for path, _ in units))
    converted: dict[str, list[bytes]] = {}
    for path, part in units:
        if part is not None:
            converted.setdefault(str(path), []).append(part)
    return files, {path: b"".join(parts) for path, parts in converted.items()}


def _batches(units: list[Unit], workers: int | None) -> list[list[Unit]]:
    """Plan files and parts of converted files in up to ``workers`` groups of about equal size (largest first,
    each to the lightest group), each group in the order given."""
    sizes = [path.stat().st_size if part is None else len(part) for path, part in units]
    count = workers if workers is not None else (os.cpu_count() or 1)
    if workers is None and sum(sizes) < PARALLEL_MIN_BYTES:
        count = 1
    count = max(1, min(count, len(units)))
    groups: list[list[int]] = [[] for _ in range(count)]
    loads = [0] * count
    for index in sorted(range(len(units)), key=lambda i: -sizes[i]):
        lightest = loads.index(min(loads))
        groups[lightest].append(index)
        loads[lightest] += sizes[index]
    return [[units[i] for i in sorted(group)] for group in groups if group]


def _merge(outcomes: Sequence[Outcome], files: Sequence[Path]) -> Outcome:
    merged = Outcome()
    errors = [o.error for o in outcomes if o.error is not None]
    if errors:
        order = {str(p): i for i, p in enumerate(files)}
        merged.error = min(errors, key=lambda e: order.get(e[1] or "", len(order)))
        return merged
    owner: dict[PlanNode, str] = {}
    for outcome in outcomes:
        merged.results.extend(outcome.results)
        merged.names.update(outcome.names)
        for file, plans in outcome.plans.items():
            # a converted file's plans may have been checked in several workers
            merged.plans.setdefault(file, []).extend(plans)
            for plan in plans:
                if plan in owner:
                    merged.error = (f"plan {plan} is also described in {owner[plan]}; give each plan one file",
                                    file, None, None)
                    return merged
                owner[plan] = file
    return merged

"""Plan units: the public interface for checking plans at any scale, one machine or many.

A :class:`PlanUnit` is one plan (or a few that share a resource) with everything it links to, as RDF bytes, and the
file they came from; it pickles, so it crosses process and machine boundaries (Spark tasks, a Bulk Data stream).

- :func:`split_plans` reads a plan file as a stream and yields its units, by plan and not by bytes: a plan's triples
  are found wherever they are in the file (interleaved plans, blank-node plans, a prescription before its plan), in
  bounded memory (:mod:`iimkg.plans.grouping`).
- :func:`check_units` checks any iterable of units with the compiled engine, in chunks of about
  :data:`CHUNK_PLANS` plans over worker processes, and returns the findings in the model every report reads
  (:class:`iimkg.shacl.findings.ValidationResult`); the same findings whatever the chunk size or the number of
  workers.
- :class:`UnitChecker` is the engine itself, for a caller that spreads chunks its own way (one per Spark partition):
  ``UnitChecker(shapes_text, ontology).check(units)`` gives the raw :class:`~iimkg.plans.results.Outcome`.

These signatures are kept stable: other parts of iimkg (Spark, FHIR Bulk Data) are built on them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from iimkg.core.errors import InputError
from iimkg.core.resources import ontology_file
from iimkg.plans.engines import UnitChecker
from iimkg.plans.pool import check_chunks
from iimkg.plans.reading import PlanNode
from iimkg.plans.results import Outcome, PlanResult
from iimkg.plans.splitting import PlanUnit, Restart, locate_syntax_error, plan_vocabulary, split_file
from iimkg.shacl.findings import Severity, ValidationResult

__all__ = ["CHUNK_BYTES", "CHUNK_PLANS", "PlanUnit", "UnitChecker", "check_units", "chunked", "run_units",
           "split_plans"]

# A chunk of units checked in one store: about this many plans, or this many bytes of RDF, whichever comes first.
# Evaluation time per plan is flat from a few hundred plans a store (0.8 s per 1,000 plans, 8.4 s per 10,000 here);
# a small store keeps a worker's memory low.
CHUNK_PLANS = 1_000
CHUNK_BYTES = 8_000_000


def split_plans(path: Path | str, input_format: str | None = None, *,
                ontology: Path | None = None) -> Iterator[PlanUnit]:
    """The plan units of a plan file, read as a stream (JSON-LD is read whole: one unit).

    :param input_format: the RDF syntax when the extension does not tell (``turtle``, ``nt``…).
    :param ontology: the graph whose plan vocabulary links a plan to its resources (default: the shipped one).
    :raises InputError: if the file is missing, too large, does not parse (with line and column), holds no triples
        or no treatment plan. Raised when the generator reaches the problem: a syntax error near the end of a file
        comes after the units before it.
    """
    path = Path(path)
    vocabulary = plan_vocabulary(Path(ontology) if ontology is not None else ontology_file())
    for unit in split_file(path, input_format, vocabulary):
        assert isinstance(unit, PlanUnit)  # an exact split never restarts
        yield unit


def chunked(units: Iterable[PlanUnit | Restart], plans: int = CHUNK_PLANS,
            size: int = CHUNK_BYTES) -> Iterator[list[PlanUnit] | Restart]:
    """Units in lists of about ``plans`` plans or ``size`` bytes (a unit with no plan counted as one); a
    :class:`Restart` passed on between them, never inside a chunk."""
    chunk: list[PlanUnit] = []
    count = length = 0
    for unit in units:
        if isinstance(unit, Restart):
            if chunk:
                yield chunk
                chunk, count, length = [], 0, 0
            yield unit
            continue
        if chunk and (count >= plans or length + len(unit.data) > size):
            yield chunk
            chunk, count, length = [], 0, 0
        chunk.append(unit)
        count += max(unit.plans, 1)
        length += len(unit.data)
    if chunk:
        yield chunk


def run_units(units: Iterable[PlanUnit | Restart], shapes_text: str, ontology: Path, *, workers: int | None = None,
              chunk_plans: int = CHUNK_PLANS) -> Outcome:
    """Check ``units`` in chunks (over ``workers`` processes) and merge what they find, in the order given; a
    :class:`~iimkg.plans.splitting.Restart` among them drops what was found in its file so far.

    :raises InputError: at the first unit that does not load (with the file's line and column), or at a plan
        described in two files.
    """
    merged = Outcome()
    owner: dict[PlanNode, str] = {}
    spans: list[tuple[int, frozenset[str]]] = []  # where each chunk's results start, and the chunk's files
    timer = _Timer(units)
    started = time.perf_counter()
    for index, outcome in enumerate(check_chunks(chunked(timer, chunk_plans), shapes_text, ontology, workers)):
        if outcome.error is not None:
            raise _located(*outcome.error)
        if outcome.restart is not None:
            _drop_file(merged, owner, spans, outcome.restart)
            continue
        _own_blank_nodes(outcome, index)
        spans.append((len(merged.results), frozenset(outcome.plans)))
        merged.results.extend(outcome.results)
        merged.names.update(outcome.names)
        for file, plans in outcome.plans.items():
            merged.plans.setdefault(file, []).extend(plans)
            for plan in plans:
                if isinstance(plan, ox.NamedNode):
                    known = owner.setdefault(plan, file)
                    if known != file:
                        raise InputError(f"plan {plan} is also described in {known}; give each plan one file",
                                         path=file)
        for name, seconds in outcome.timings.items():
            merged.timings[name] = merged.timings.get(name, 0.0) + seconds
    merged.timings["split"] = timer.seconds
    merged.timings["wall"] = time.perf_counter() - started
    return merged


def check_units(units: Iterable[PlanUnit], *, shapes: Sequence[Path] = (), ontology: Path | None = None,
                fail_on: Severity | str = Severity.VIOLATION, workers: int | None = None,
                chunk_plans: int = CHUNK_PLANS) -> ValidationResult:
    """Check plan units against the plan shapes (and ``shapes``) with the compiled engine; the findings of
    :func:`iimkg.plans.validate.validate_plans` for the same plans (files: the units' sources, in order).

    :raises InputError: if a unit does not load, or a plan is described in two files.
    :raises ShapesError: if a shapes file is not valid SHACL or a shape cannot be run.
    """
    from iimkg.plans.validate import check_prepared

    return check_prepared(units, shapes=shapes, ontology=ontology, fail_on=fail_on, workers=workers,
                          chunk_plans=chunk_plans)


def _drop_file(merged: Outcome, owner: dict[PlanNode, str], spans: list[tuple[int, frozenset[str]]],
               file: str) -> None:
    """Forget what was found in ``file``: it is being checked again. A chunk of that file alone goes whole (with
    results no file could be named for); from a chunk of several files, the results named for it."""
    kept: list[PlanResult] = []
    kept_spans: list[tuple[int, frozenset[str]]] = []
    for number, (start, files) in enumerate(spans):
        end = spans[number + 1][0] if number + 1 < len(spans) else len(merged.results)
        if files == {file}:
            continue
        kept_spans.append((len(kept), files - {file}))
        kept.extend(r for r in merged.results[start:end] if r.file != file)
    merged.results, spans[:] = kept, kept_spans
    for plan in merged.plans.pop(file, []):
        merged.names.pop(plan, None)
        if owner.get(plan) == file:
            del owner[plan]


def _own_blank_nodes(outcome: Outcome, chunk: int) -> None:
    """Give the chunk's blank nodes labels no other chunk has: each chunk is read into a store of its own, where the
    parser draws labels at random, and worker processes forked from one parent draw the same ones."""
    def own(term: Any) -> Any:
        return ox.BlankNode(f"{chunk:x}{term.value}") if isinstance(term, ox.BlankNode) else term

    outcome.results = [replace(r, focus=own(r.focus), value=own(r.value), plan=own(r.plan))
                       if isinstance(r.focus, ox.BlankNode) or isinstance(r.value, ox.BlankNode)
                       or isinstance(r.plan, ox.BlankNode) else r for r in outcome.results]
    outcome.names = {own(plan): name for plan, name in outcome.names.items()}
    outcome.plans = {file: [own(plan) for plan in plans] for file, plans in outcome.plans.items()}


def _located(detail: str, where: str | None, line: int | None, column: int | None) -> InputError:
    """An input error of a unit, placed in its file: lines copied from an N-Triples or N-Quads file are parsed
    again from the file, for the line and column there."""
    if where is not None and Path(where).is_file():
        from iimkg.graph.loading import rdf_format_for

        try:
            fmt = rdf_format_for(Path(where))
        except InputError:
            fmt = None
        if fmt in (ox.RdfFormat.N_TRIPLES, ox.RdfFormat.N_QUADS):
            error = locate_syntax_error(Path(where), fmt)
            if error is not None:
                return error
    return InputError(detail, path=where, line=line, column=column)


class _Timer:
    """Passes units through, adding up the time spent producing them (reading and splitting the input)."""

    def __init__(self, units: Iterable[PlanUnit | Restart]) -> None:
        self._units = iter(units)
        self.seconds = 0.0

    def __iter__(self) -> Iterator[PlanUnit | Restart]:
        return self

    def __next__(self) -> PlanUnit | Restart:
        started = time.perf_counter()
        try:
            return next(self._units)
        finally:
            self.seconds += time.perf_counter() - started


def profile_line(timings: dict[str, float], plans: int) -> str:
    """One line for stderr: where the time went (``IIMKG_PROFILE=1``)."""
    parts = [f"{name} {timings[name]:.2f} s" for name in ("split", "load", "evaluate", "attribute", "findings")
             if name in timings]
    return (f"iimkg profile: {plans:,} plans in {timings.get('wall', 0.0):.2f} s; reading and splitting (this "
            f"process) and, summed over the workers, " + ", ".join(parts))


def print_profile(timings: dict[str, float], plans: int) -> None:
    print(profile_line(timings, plans), file=sys.stderr)

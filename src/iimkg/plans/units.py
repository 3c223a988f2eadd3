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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from iimkg.core.errors import InputError
from iimkg.core.resources import ontology_file
from iimkg.core.scratch import SpillFolder
from iimkg.plans.engines import UnitChecker
from iimkg.plans.intake import Intake
from iimkg.plans.pool import check_chunks
from iimkg.plans.reading import PlanNode
from iimkg.plans.results import Outcome, PlanResult, plan_name
from iimkg.plans.spill import ChunkResults, PlanRegistry
from iimkg.plans.splitting import PlanUnit, Restart, locate_syntax_error, plan_vocabulary, split_file
from iimkg.shacl.findings import Severity, ValidationResult

__all__ = ["CHUNK_BYTES", "CHUNK_LINES", "CHUNK_PLANS", "Checked", "PlanUnit", "UnitChecker", "check_units", "chunked",
           "run_units", "split_plans"]

# A chunk of units checked in one store: about this many plans, or this many lines of RDF, whichever comes first.
# Evaluation time per plan is flat from a few hundred plans a store (0.8 s per 1,000 plans, 8.4 s per 10,000 here);
# a small store keeps a worker's memory low. The line bound is what holds for large plans: a plan converted from
# FHIR is some 19 kB of Turtle in 230 lines, a plan of bench/validate.py's cohort 5.6 kB of N-Triples in 56. With
# chunks of 2 MB instead of 8 (and conversion batches of 1 MB instead of 4, iimkg.fhir.bulk) validating the 200 MB
# Bulk Data export of bench/fhir.py went from 720 to 428 MB (summed RSS of the process tree) in the same time;
# 20,000 plans in one N-Triples file went from 826 to 702 MB, their evaluation from 26.5 to 28.8 CPU seconds.
# Chunks are bounded by lines, not bytes (2 MB is some 24,000 lines of either), since a unit parsed from Turtle or
# JSON-LD carries blank-node labels drawn at random, of 30-32 characters: a byte bound put a plan near a chunk's end
# in one chunk or the next from run to run, and the chunk's number is part of the few labels reports give blank nodes
# whose place in the file is not known (iimkg.plans.labels). CHUNK_BYTES guards memory against lines of unusual
# length (long literals).
CHUNK_PLANS = 1_000
CHUNK_LINES = 24_000
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


def chunked(units: Iterable[PlanUnit | Restart], plans: int = CHUNK_PLANS, lines: int = CHUNK_LINES,
            size: int = CHUNK_BYTES) -> Iterator[list[PlanUnit] | Restart]:
    """Units in lists of about ``plans`` plans or ``lines`` lines (a unit with no plan counted as one), or fewer
    than ``size`` bytes; a :class:`Restart` passed on between them, never inside a chunk."""
    chunk: list[PlanUnit] = []
    count = height = length = 0
    for unit in units:
        if isinstance(unit, Restart):
            if chunk:
                yield chunk
                chunk, count, height, length = [], 0, 0, 0
            yield unit
            continue
        rows = unit.data.count(b"\n")
        if chunk and (count >= plans or height + rows > lines or length + len(unit.data) > size):
            yield chunk
            chunk, count, height, length = [], 0, 0, 0
        chunk.append(unit)
        count += max(unit.plans, 1)
        height += rows
        length += len(unit.data)
    if chunk:
        yield chunk


@dataclass
class Checked:
    """What :func:`run_units` found, kept in bounded memory (:mod:`iimkg.plans.spill`) until findings are made.

    ``files``: the files that gave plans, in the order they came; ``plans``: how many plans; ``shared``: the
    identifiers more than one plan carries. :meth:`named_chunks` reads each chunk's results with the names findings
    give their plans. :meth:`close` removes the temporary files (also done when garbage-collected, or at exit).
    """

    results: ChunkResults
    files: list[str]
    plans: int
    shared: frozenset[str]
    timings: dict[str, float]
    folder: SpillFolder
    restarted: bool = False  # a file was read again (what was found in it before was dropped)

    def named_chunks(self) -> Iterator[tuple[list[PlanResult], Mapping[PlanNode, str]]]:
        for results, names in self.results.chunks():
            yield results, _Names(names, self.shared)

    def close(self) -> None:
        self.results.close()
        self.folder.close()


class _Names(Mapping[PlanNode, str]):
    """How findings name a chunk's plans (:func:`iimkg.plans.results.plan_name`), with the identifiers several plans
    of the whole run carry; a plan without an identifier, by its IRI."""

    def __init__(self, names: dict[PlanNode, str], shared: frozenset[str]) -> None:
        self._names, self._shared = names, shared

    def __getitem__(self, plan: PlanNode) -> str:
        return plan_name(plan, self._names.get(plan), self._shared)

    def __iter__(self) -> Iterator[PlanNode]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def run_units(units: Iterable[PlanUnit | Restart], shapes_text: str, ontology: Path, *, workers: int | None = None,
              chunk_plans: int = CHUNK_PLANS, each: Callable[[Outcome], None] | None = None) -> Checked:
    """Check ``units`` in chunks (over ``workers`` processes) and keep what they find, in the order given; a
    :class:`~iimkg.plans.splitting.Restart` among them drops what was found in its file so far. Results, plans and
    plan identifiers are kept in bounded memory (on disk beyond :data:`iimkg.plans.spill.SPILL_RESULTS` results).

    ``each`` is called with every chunk's outcome as it comes, while the workers check the next ones:
    :mod:`iimkg.plans.validate` makes the findings there, so that they are not a serial step after the last chunk.

    :raises InputError: at the first unit that does not load (with the file's line and column), or at a plan
        described in two files.
    """
    folder = SpillFolder("iimkg-validate-")
    results = ChunkResults(folder)
    registry = PlanRegistry(folder)
    timings: dict[str, float] = {}
    timer = _Timer(units)
    restarted = False
    started = time.perf_counter()
    try:
        for index, outcome in enumerate(check_chunks(chunked(timer, chunk_plans), shapes_text, ontology, workers)):
            if outcome.error is not None:
                raise _located(*outcome.error)
            if outcome.restart is not None:
                results.drop(outcome.restart)
                registry.drop(outcome.restart)
                restarted = True
                continue
            outcome.prefix_chunk_local(f"c{index:x}x")  # most blank-node labels need none (plans.labels)
            registry.add(outcome)
            results.add(outcome)
            if each is not None:
                each(outcome)
            for name, seconds in outcome.timings.items():
                timings[name] = timings.get(name, 0.0) + seconds
        checked = Checked(results, list(registry.plans), registry.plan_count(), registry.shared_identifiers(),
                          timings, folder, restarted)
    except BaseException:
        results.close()
        folder.close()
        raise
    finally:
        registry.close()
    folder.close_if_empty()
    timings["split"] = timer.seconds
    timings["wall"] = time.perf_counter() - started
    return checked


def check_units(units: Iterable[PlanUnit], *, shapes: Sequence[Path] = (), ontology: Path | None = None,
                fail_on: Severity | str = Severity.VIOLATION, workers: int | None = None,
                chunk_plans: int = CHUNK_PLANS, files: Sequence[Path] | None = None,
                intake: Callable[[], Intake] | None = None) -> ValidationResult:
    """Check plan units against the plan shapes (and ``shapes``) with the compiled engine; the findings of
    :func:`iimkg.plans.validate.validate_plans` for the same plans (files: the units' sources, in order, unless
    ``files`` names them; ``intake``: a converter's notes, asked for once the units are checked).

    :raises InputError: if a unit does not load, or a plan is described in two files.
    :raises ShapesError: if a shapes file is not valid SHACL or a shape cannot be run.
    """
    from iimkg.plans.validate import check_prepared

    return check_prepared(units, shapes=shapes, ontology=ontology, fail_on=fail_on, workers=workers,
                          chunk_plans=chunk_plans, files=files, intake=intake)


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
    """One line for stderr: where the time went (``IIMKG_PROFILE=1``), in the order it was spent.

    Checking (``wall``) is what this process does beside the workers (the split; the findings of each chunk as it
    comes back, :func:`run_units`'s ``each``) and what the workers do (load, evaluate, attribute: CPU seconds summed
    over them, more than the wall time when they run side by side). Then, after the last chunk, this process puts the
    findings in report order (``order``), making them again first when they could not be made as the chunks came
    (two plans share an identifier, or a file was read again): that adds to the wall time whole. The line once listed
    the findings among the workers' sums, which hid that serial step."""
    def seconds(names: tuple[str, ...]) -> str:
        return ", ".join(f"{name} {timings[name]:.2f} s" for name in names if name in timings) or "nothing"

    line = f"iimkg profile: {plans:,} plan{'' if plans == 1 else 's'}"
    if "wall" in timings:  # chunks over workers (the rdflib engine checks all plans at once, in this process)
        line += (f" checked in {timings['wall']:.2f} s (in this process, beside the workers: "
                 f"{seconds(('split', 'findings'))}; summed over the workers: "
                 f"{seconds(('load', 'evaluate', 'attribute'))})")
    if "order" in timings:
        line += f"; then findings in report order {timings['order']:.2f} s in this process"
    return line


def print_profile(timings: dict[str, float], plans: int) -> None:
    print(profile_line(timings, plans), file=sys.stderr)

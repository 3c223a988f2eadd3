"""What runs on a Spark executor: one partition of work units checked by the same compiled pyoxigraph engine as a
local run, its findings returned as plain tuples (records) that Spark can ship, count and join.

A plan file is split by plan in one task (:func:`split_file_unit`); a partition then holds plan units, groups of
NDJSON lines (one patient's resources each, with the Medications they reference) or, when FHIR cannot be split by
patient, a marker for all FHIR files at once. The ontology is parsed and the shapes compiled once per Python worker
process (Spark reuses its workers), not once per partition. Nothing here raises on bad input: an input error is
returned as a record, so that the driver can report the first one in the local run's order.
"""

from __future__ import annotations

import codecs
import functools
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from iimkg.core.errors import InputError
from iimkg.core.limits import Limits, configure, line_too_long
from iimkg.fhir.bulk import decode_line, is_bulk_export
from iimkg.fhir.convert import READ_TYPES, convert
from iimkg.fhir.intake import BulkPlans, NoteFindings, note_finding, read_fhir_inputs
from iimkg.fhir.reading import read_ndjson_line
from iimkg.graph.loading import rdf_format_for
from iimkg.plans.model import Conversion, Located, Plan
from iimkg.plans.notes import Note
from iimkg.plans.reading import PlanNode
from iimkg.plans.results import Outcome, findings_of, plan_names, shown
from iimkg.plans.splitting import locate_syntax_error
from iimkg.plans.turtle import plan_turtle
from iimkg.plans.units import PlanUnit, UnitChecker, chunked, split_plans
from iimkg.shacl.findings import Finding, Rule, display_path

__all__ = ["FINDING_FIELDS", "NOTE_FIELDS", "FhirUnit", "FileUnit", "Job", "PatientUnit", "Record", "batch_key",
           "check_partition", "split_file_unit"]

Record = tuple[Any, ...]
_TURTLE = ox.RdfFormat.TURTLE.media_type
SPREAD = "~"  # units of lines a patient is not needed for (types not read, Medications): their keys start so
# The record tags: a finding, a plan seen (for plan names and the one-file-per-plan check), an input error, a
# conversion note (the driver keeps the first few of each kind in the local run's order, and counts the rest), and a
# count of resources of a type no plan is made from (the converter's "not read" note is made once, on the driver).
FINDING, PLAN, ERROR, NOTE, SKIPPED = "finding", "plan", "error", "note", "skipped"
# A note record is the tag, then these fields (``batch_key`` names the batch of the local run's Bulk Data reading the
# note's resource falls in: its patient, or for a resource that names no patient its file and line).
NOTE_FIELDS = ("kind", "finding_severity", "severity", "resource", "message", "file", "line", "column", "plan",
               "batch_key")
# A finding record is the tag, then these fields of shacl.findings.Finding, in this order.
FINDING_FIELDS = ("plan", "rule", "severity", "focus", "message", "statement", "file", "source", "value", "path",
                  "statements", "plan_iri")


@dataclass(frozen=True)
class Job:
    """What every task needs, sent once with the closure: the inputs (absolute paths, as given, and how reports
    name them, in the order given), the shapes as N-Triples text, the rules and the graph's statement IDs."""

    files: tuple[str, ...]
    given: tuple[str, ...]
    shown: tuple[str, ...]
    fhir: tuple[int, ...]
    shapes_text: str
    input_format: str | None
    ontology: str
    rules: tuple[Rule, ...]
    statements: tuple[str, ...]
    strict: bool
    limits: Limits

    @functools.cached_property
    def indices(self) -> dict[str, int]:
        """Each input's index, by its resolved path."""
        return {_key(path): number for number, path in enumerate(self.files)}

    @functools.cached_property
    def names(self) -> dict[str, str]:
        """How the driver names each input, by how this process would (:func:`display_path` reads the working
        directory, which may differ on an executor); computed where it is first used."""
        return {display_path(Path(path)): name for path, name in zip(self.files, self.shown, strict=True)}


@dataclass(frozen=True)
class FileUnit:
    """An RDF plan file (Turtle, N-Triples, JSON-LD…) to split into plan units, by its index in :attr:`Job.files`."""

    index: int


@dataclass(frozen=True)
class PatientUnit:
    """One patient's NDJSON lines (file index, line number, text), with the Medications they reference; the key
    is the patient reference they share (``Patient/p1``), or empty for resources that name no patient."""

    key: str
    lines: tuple[tuple[int, int, str], ...]


@dataclass(frozen=True)
class FhirUnit:
    """Every FHIR file at once, converted as a local run converts them: for input that cannot be split by patient
    (Bundles, single-resource files)."""


def split_file_unit(job: Job, unit: FileUnit) -> Iterator[PlanUnit | Record]:
    """A plan file's plan units (:func:`iimkg.plans.units.split_plans`, one streaming pass), to be spread over the
    partitions; an input error as a record where the splitter meets it."""
    configure(max_input_bytes=job.limits.max_input_bytes, max_depth=job.limits.max_depth)
    try:
        yield from split_plans(Path(job.files[unit.index]), job.input_format, ontology=Path(job.ontology))
    except InputError as error:
        yield _error(job, error)


def check_partition(job: Job, items: Iterable[Any]) -> Iterator[Record]:
    """Check one partition: its plan units and its patients' plans, in chunks of about
    :data:`iimkg.plans.units.CHUNK_PLANS` plans, each chunk in one store with the ontology; yield finding, plan,
    note, skipped and error records (records already made, such as a splitter's error, pass through)."""
    configure(max_input_bytes=job.limits.max_input_bytes, max_depth=job.limits.max_depth)
    units: list[PlanUnit] = []
    patients: list[PatientUnit] = []
    whole = False
    for item in items:
        if isinstance(item, PlanUnit):
            units.append(item)
        elif isinstance(item, PatientUnit):
            patients.append(item)
        elif isinstance(item, FhirUnit):
            whole = True
        elif isinstance(item, tuple):
            yield item
    try:
        if whole:
            yield from _whole_fhir(job, units)
        if patients:
            yield from _patients(job, patients, units)
        units.sort(key=lambda u: job.indices[_key(u.source)])
        checker = _checker(job.shapes_text, job.ontology)
        prefix = f"p{_partition():x}c"
        for number, chunk in enumerate(chunked(units)):
            if isinstance(chunk, list):  # (only units go in: no restart marker comes out)
                outcome = checker.check(chunk)
                outcome.prefix_chunk_local(f"{prefix}{number:x}x")  # most blank-node labels need none
                yield from _records(job, outcome)
    except InputError as error:
        yield _error(job, error)


def _patients(job: Job, units: Sequence[PatientUnit], plans: list[PlanUnit]) -> Iterator[Record]:
    """Convert the units' patients (one conversion, as a local batch); their plans join ``plans``."""
    resources, skipped, batches = _read_lines(job, units)
    for (index, kind), count in sorted(skipped.items()):
        yield (SKIPPED, index, kind, count)
    conversion = convert(resources, files=[Path(job.files[i]) for i in job.fhir])
    for note in conversion.notes:
        yield _note(job, note, batches)
    plans.extend(_plan_units(conversion))


def _read_lines(job: Job, units: Sequence[PatientUnit]
                ) -> tuple[list[Located], Counter[tuple[int, str]], dict[tuple[int, int], str]]:
    """The resources of the units' lines in the order a local run reads them (file by file, line by line), a
    Medication sent with several patients read once; resources of types no plan is made from, counted; and the
    batch key of each line (:func:`batch_key`)."""
    lines = sorted({line for unit in units for line in unit.lines})
    batches = {(index, number): batch_key(unit.key, index, number)
               for unit in units if not unit.key.startswith(SPREAD) for index, number, _ in unit.lines}
    resources: list[Located] = []
    skipped: Counter[tuple[int, str]] = Counter()
    for index, number, text in lines:
        if number == 1:
            text = text.removeprefix("\ufeff")
        if "\ufffd" in text:  # Spark's reader replaces bytes that are not UTF-8: the local reader refuses them
            _check_utf8(Path(job.files[index]), number)
        if len(text) > job.limits.max_input_bytes // 4 and len(text.encode("utf-8")) > job.limits.max_input_bytes:
            raise line_too_long(job.files[index], number, job.limits.max_input_bytes)
        for located in read_ndjson_line(text, Path(job.files[index]), number):
            if located.type in READ_TYPES:
                resources.append(located)
            else:
                skipped[(index, located.type)] += 1
    return resources, skipped, batches


def _check_utf8(path: Path, number: int) -> None:
    """Read line ``number`` of ``path`` as bytes and decode it as the local Bulk Data reader does.

    :raises InputError: as the local reader (file, line, column), if the line is not UTF-8.
    """
    with path.open("rb") as handle:
        for current, raw in enumerate(handle, start=1):
            if current == number:
                decode_line(raw.removeprefix(codecs.BOM_UTF8) if number == 1 else raw, path, number)
                return


def batch_key(key: str, index: int, number: int) -> str:
    """What decides the local run's batch of a line: its patient, or for a line that names none, its place."""
    return key if key else f"\0{index}:{number}"


def _note(job: Job, note: Note, batches: dict[tuple[int, int], str]) -> Record:
    index = job.indices[_key(str(note.path))]
    batch = batches.get((index, note.line or 0), "")
    return (NOTE, note.kind.value, note_finding(note, strict=job.strict).severity.value, note.severity,
            note.resource, note.message, index, note.line, note.column, note.plan, batch)


def _whole_fhir(job: Job, plans: list[PlanUnit]) -> Iterator[Record]:
    """FHIR that cannot be split by patient, read exactly as a local run reads it, in this one task: an NDJSON
    export with Bundle lines by the Bulk Data reader, anything else (Bundles, single resources) all at once."""
    fhir = [Path(job.files[i]) for i in job.fhir]
    if is_bulk_export(fhir):
        export = BulkPlans(fhir, strict=job.strict)
        plans.extend(export.units(resolve=True))
        yield from (_finding(job, finding) for finding in export.findings())
        return
    conversion = read_fhir_inputs(fhir).conversion
    notes = NoteFindings(strict=job.strict)
    for note in conversion.notes:
        notes.add(note)
    yield from (_finding(job, finding) for finding in notes.findings(fhir[0]))
    plans.extend(_plan_units(conversion))


def _plan_units(conversion: Conversion) -> list[PlanUnit]:
    """The conversion's plans as Turtle units, each in the graph of its patient's file."""
    by_file: dict[Path, list[Plan]] = {}
    for plan in conversion.plans:
        by_file.setdefault(conversion.file_of(plan), []).append(plan)
    return [PlanUnit(str(Path(path).resolve()), plan_turtle(Conversion(plans, [], [path], 0)).encode("utf-8"),
                     _TURTLE, len(plans)) for path, plans in by_file.items()]


def _records(job: Job, outcome: Outcome) -> Iterator[Record]:
    """A checked chunk's plans and findings as records (its input error, placed in its file, if it has one)."""
    if outcome.error is not None:
        detail, where, line, column = outcome.error
        yield _error(job, _placed(InputError(detail, path=where, line=line, column=column)))
        return
    index = job.indices
    for file, nodes in outcome.plans.items():
        for node in nodes:
            yield (PLAN, shown(node), outcome.names.get(node), index[_key(file)], _is_blank(node))
    for finding in findings_of(outcome.results, list(job.rules), plan_names(outcome), job.statements):
        yield _finding(job, finding)


def _partition() -> int:
    """This task's partition (0 outside Spark)."""
    from pyspark import TaskContext

    context = TaskContext.get()
    return context.partitionId() if context is not None else 0


def _placed(error: InputError) -> InputError:
    """A unit's error at its place in the file: lines copied from an N-Triples or N-Quads file are parsed again
    from the file, as a local run does."""
    path = error.path
    if path is not None and path.is_file():
        try:
            fmt = rdf_format_for(path)
        except InputError:
            return error
        if fmt in (ox.RdfFormat.N_TRIPLES, ox.RdfFormat.N_QUADS):
            return locate_syntax_error(path, fmt) or error
    return error


def _finding(job: Job, finding: Finding) -> Record:
    """A finding as a record, its file named as the driver names it (the executor's working directory may differ)."""
    named = job.names.get(finding.file, finding.file)
    values = {**finding.__dict__, "severity": finding.severity.value, "file": named}
    return (FINDING, *(values[name] for name in FINDING_FIELDS))


def _error(job: Job, error: InputError) -> Record:
    """An input error as a record: its file's index, and its message naming files as they were given."""
    index = job.indices.get(_key(str(error.path)) if error.path else "", len(job.files))
    detail = error.detail
    for path, given in zip(job.files, job.given, strict=True):
        detail = detail.replace(path, given)
    return (ERROR, index, error.line, error.column, detail)


@functools.lru_cache(maxsize=2)
def _checker(shapes_text: str, ontology: str) -> UnitChecker:
    """The engine, its shapes compiled and the ontology parsed once per worker process (Spark reuses workers)."""
    return UnitChecker(shapes_text, Path(ontology))


def _key(path: str) -> str:
    return str(Path(path).resolve())


def _is_blank(node: PlanNode) -> bool:
    return shown(node).startswith("_:")

"""FHIR as an intake adapter of plan validation: convert the files, report what could not be read as findings."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from iimkg.core.vocab import IIMFHIR
from iimkg.fhir.bulk import BulkExport, is_bulk_export
from iimkg.fhir.convert import convert_files
from iimkg.fhir.reading import is_fhir_file
from iimkg.plans.intake import Intake
from iimkg.plans.model import Conversion, Plan
from iimkg.plans.notes import Note, NoteKind, NoteTally
from iimkg.plans.splitting import PlanUnit
from iimkg.plans.turtle import plan_turtle
from iimkg.shacl.findings import CheckKind, Finding, Rule, Severity, display_path

__all__ = ["SOURCE", "BulkPlans", "FhirAdapter", "FhirInput", "NoteFindings", "fhir_rules", "note_finding",
           "read_bulk_intake", "read_fhir_inputs", "split_fhir"]

SOURCE = "iimkg FHIR converter (docs/fhir.md)"
_RULES = {
    NoteKind.UNMAPPED: ("fhir_unmapped", "FHIR resource not read",
                        "A resource, or a part of one that the checks need, could not be mapped to the graph "
                        "(unknown code, no dose, a unit that can't be converted); it is not checked."),
    NoteKind.APPROXIMATED: ("fhir_approximated", "FHIR resource read approximately",
                            "Read less exactly than given: an ICD-10-CM code as its carried ancestor, a dose not "
                            "converted to prednisone-equivalent, a partial birth date."),
    NoteKind.EXCLUDED: ("fhir_excluded", "FHIR resource left out by its status",
                        "Cancelled, not done, entered in error, refuted or resolved: not part of the plan."),
    NoteKind.SKIPPED: ("fhir_skipped", "FHIR resource type not read",
                       "A resource type no part of a treatment plan comes from (Encounter, Practitioner…)."),
    NoteKind.REPORTED: ("fhir_reported", "FHIR source reported a problem",
                        "An OperationOutcome in the input, such as a Bulk Data export's error file: the server "
                        "could not give some resources, so the plans may lack them, and a gap found may be a gap "
                        "in the data only. A warning for an error, information for anything less."),
}


@dataclass
class FhirInput:
    """FHIR files converted for validation: the conversion, and per FHIR file the plans from it as Turtle, in parts
    of whole plans, so that the plans of one large export can be checked in several processes. The Turtle's
    relative IRIs (``<#plan-Patient-p1>``) resolve against the file."""

    conversion: Conversion
    turtle: dict[Path, list[str]]

    @property
    def quads(self) -> dict[Path, list[ox.Quad]]:
        """Each file's plans as quads, their IRIs resolved against the file."""
        return {path: [quad for text in parts
                       for quad in ox.parse(text, format=ox.RdfFormat.TURTLE, base_iri=path.resolve().as_uri())]
                for path, parts in self.turtle.items()}


def split_fhir(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """(FHIR JSON files, other files), each in the order given."""
    fhir = [p for p in paths if is_fhir_file(Path(p))]
    return fhir, [p for p in paths if p not in fhir]


def read_fhir_inputs(paths: Sequence[Path], *, plans_per_part: int = 1000) -> FhirInput:
    """Convert FHIR files together (a Bulk Data export is one file per resource type) and give each plan's quads to
    the file its patient was read from, its IRIs resolved against that file.

    :param plans_per_part: how many plans go in each part of a file's Turtle.
    :raises InputError: if a file is not FHIR JSON (with file, line and column).
    """
    conversion = convert_files(paths)
    by_file: dict[Path, list[Plan]] = {Path(p): [] for p in paths}
    for plan in conversion.plans:
        by_file.setdefault(conversion.file_of(plan), []).append(plan)
    turtle = {path: [plan_turtle(Conversion(plans[i:i + plans_per_part], [], [path], 0))
                     for i in range(0, len(plans), plans_per_part)]
              for path, plans in by_file.items()}
    return FhirInput(conversion, turtle)


def read_bulk_intake(paths: Sequence[Path], *, plans_per_part: int, strict: bool) -> Intake:
    """A Bulk Data export (NDJSON) as an :class:`Intake`: converted batch by batch (:class:`BulkPlans`), each
    plan's Turtle given to its patient's file; ``plans_per_part`` is not used (a part is a batch's plans).

    :raises InputError: at the first line that is not FHIR JSON (with file, line and column).
    """
    del plans_per_part
    stream = BulkPlans(paths, strict=strict)
    turtle: dict[Path, list[bytes]] = {path: [] for path in stream.files}
    for path, part, _ in stream:
        turtle.setdefault(path, []).append(part)
    return Intake(turtle={path: parts or [b""] for path, parts in turtle.items()}, findings=stream.findings(),
                  rules=fhir_rules(strict=strict))


class BulkPlans:
    """The plans of a Bulk Data export (NDJSON) as Turtle, a batch of patients at a time, for plan validation to
    check as they come: iterating gives ``(file, Turtle, plans)`` per batch and file (a plan goes to its patient's
    file), and :meth:`findings` then gives what could not be read, bounded (:class:`NoteFindings`).

    Every line is read (and checked to be FHIR JSON) on construction, before anything is converted.

    :raises InputError: at the first line that is not FHIR JSON (with file, line and column).
    """

    def __init__(self, paths: Sequence[Path], *, strict: bool) -> None:
        self.export = BulkExport(paths).index()
        self.files = self.export.files
        self.strict = strict
        self.notes = NoteFindings(strict=strict)

    def __iter__(self) -> Iterator[tuple[Path, bytes, int]]:
        for conversion in self.export.conversions():
            for note in conversion.notes:
                self.notes.add(note)
            by_file: dict[Path, list[Plan]] = {}
            for plan in conversion.plans:
                by_file.setdefault(conversion.file_of(plan), []).append(plan)
            for path, plans in by_file.items():
                yield path, plan_turtle(Conversion(plans, [], [path], 0)).encode("utf-8"), len(plans)
        for note in self.export.skipped_notes():
            self.notes.add(note)

    def units(self, *, resolve: bool = False) -> Iterator[PlanUnit]:
        """The same batches as plan units, for :func:`iimkg.plans.units.check_units` (local runs, Spark tasks).

        :param resolve: name each file by its absolute path (a Spark task's working folder is not the driver's).
        """
        turtle = ox.RdfFormat.TURTLE.media_type
        for path, data, plans in self:
            yield PlanUnit(str(path.resolve() if resolve else path), data, turtle, plans)

    def findings(self) -> list[Finding]:
        """What could not be read (once the plans have been iterated)."""
        return self.notes.findings(self.files[0])


class NoteFindings:
    """Conversion notes as findings, bounded: every note is counted, the first
    :data:`~iimkg.plans.notes.SAMPLE_PER_KIND` of each kind become findings, and one more finding per kind says how
    many were left out (with the worst severity among them, so that ``--fail-on`` decides as it would on all)."""

    def __init__(self, *, strict: bool) -> None:
        self.strict = strict
        self.tally = NoteTally()
        self.kept: list[Finding] = []
        self.worst: dict[NoteKind, Severity] = {}

    def add(self, note: Note) -> None:
        finding = note_finding(note, strict=self.strict)
        if self.tally.add(note):
            self.kept.append(finding)
            return
        worst = self.worst.get(note.kind)
        if worst is None or finding.severity.rank > worst.rank:
            self.worst[note.kind] = finding.severity

    def findings(self, first_file: Path) -> list[Finding]:
        """The findings kept, and one per kind for the notes left out."""
        found = list(self.kept)
        for kind, severity in self.worst.items():
            left, count = self.tally.left_out(kind), self.tally.counts[kind]
            frequent = "; ".join(f"{times:,} x {note.message}" for times, note in self.tally.most_frequent(kind, 3))
            found.append(Finding(
                severity=severity, rule=_RULES[kind][0], focus="(more)", file=display_path(first_file),
                source=SOURCE, message=f"{left:,} more {kind.value} notes not listed one by one ({count:,} in all; "
                                       f"`iimkg fhir convert --all-notes` lists every one); the most frequent: "
                                       f"{frequent}"))
        return found


def note_finding(note: Note, *, strict: bool = False) -> Finding:
    """A conversion note as a validation finding: a warning or info, a violation for an unmapped one if strict."""
    severity = Severity(note.severity)
    if strict and note.kind is NoteKind.UNMAPPED:
        severity = Severity.VIOLATION
    return Finding(severity=severity, rule=_RULES[note.kind][0], message=note.text, focus=note.resource,
                   file=display_path(note.path), source=SOURCE, plan=note.plan)


def fhir_rules(*, strict: bool = False) -> list[Rule]:
    """The conversion's "rules", for reports that list every rule checked (JUnit test cases)."""
    rules = []
    for kind, (name, label, comment) in _RULES.items():
        severity = Severity.INFO if kind not in (NoteKind.UNMAPPED, NoteKind.REPORTED) else (
            Severity.VIOLATION if strict and kind is NoteKind.UNMAPPED else Severity.WARNING)
        rules.append(Rule(name=name, iri=IIMFHIR + name, label=label, severity=severity,
                          source=SOURCE, comment=comment, kind=CheckKind.INTAKE))
    return sorted(rules)


class FhirAdapter:
    """FHIR R4 JSON (Bundles, single resources, Bulk Data NDJSON) into plan validation.

    An :class:`~iimkg.plans.intake.Adapter`."""

    def claims(self, path: Path) -> bool:
        return is_fhir_file(path)

    def read(self, paths: Sequence[Path], *, plans_per_part: int, strict: bool) -> Intake:
        if is_bulk_export(paths):
            return read_bulk_intake(paths, plans_per_part=plans_per_part, strict=strict)
        converted = read_fhir_inputs(paths, plans_per_part=plans_per_part)
        notes = NoteFindings(strict=strict)
        for note in converted.conversion.notes:
            notes.add(note)
        return Intake(
            turtle={path: [text.encode("utf-8") for text in parts] or [b""]
                    for path, parts in converted.turtle.items()},
            findings=notes.findings(Path(paths[0])), rules=fhir_rules(strict=strict))

"""The format-neutral treatment plan: what every intake adapter (FHIR today; OMOP, openEHR or CSV tomorrow) builds
and :mod:`iimkg.plans.turtle` writes in the plan vocabulary (docs/plans.md).

Each part keeps the record it was read from (:class:`Located`: file, line, column), so that findings and notes can
point at the place in the user's file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from iimkg.plans.notes import Note, NoteKind, place_in_file

__all__ = ["CoIntervention", "Conversion", "Located", "PatientRecord", "Plan", "Prescription"]


@dataclass(frozen=True)
class Located:
    """One source record (a FHIR resource) and where it was read: file, line and column of its start (1-based).

    ``ref`` names it as references in its format do (FHIR: ``Type/id``)."""

    resource: dict[str, Any]
    path: Path
    line: int | None = None
    column: int | None = None
    full_url: str | None = None

    @property
    def type(self) -> str:
        return str(self.resource["resourceType"])

    @property
    def id(self) -> str | None:
        value = self.resource.get("id")
        return value if isinstance(value, str) and value else None

    @property
    def ref(self) -> str:
        """``Type/id`` as FHIR references name it (``Type/urn:uuid:…`` or ``Type`` alone if it has no id)."""
        if self.id:
            return f"{self.type}/{self.id}"
        return f"{self.type}/{self.full_url}" if self.full_url else self.type

    @property
    def place(self) -> str:
        """``path:line:column`` (as much of it as is known)."""
        return place_in_file(self.path, self.line, self.column)


@dataclass
class Prescription:
    """One ``iim:Prescription``: a drug the graph names as a treatment, with its daily dose and its dates."""

    node: str
    source: Located
    drug: str
    dose: Decimal | None = None
    schedule: str = ""
    start: date | None = None
    end: date | None = None
    duration: int | None = None
    open_ended: bool = False  # active, with no end date and no planned duration: taken until stopped
    # taken before the plan date and stopped, with no end date saying when: past exposure (iim:stopped)
    stopped: bool = False


@dataclass
class CoIntervention:
    """One ``iim:CoIntervention``: a test, vaccination, prophylactic or supportive measure, done or planned.

    A drug taken as one (a statin, calcium) may have ended: ``end`` is its last day, and ``stopped`` says it was
    stopped before the plan date on a day not known. Either makes it past exposure, which the plan rules do not read
    as given now; a one-off measure (a test, a vaccination) has neither, and done stays done."""

    node: str
    source: Located
    measure: str
    status: str
    when: date | None = None
    end: date | None = None
    stopped: bool = False


@dataclass
class TestResult:
    """One ``iim:TestResult`` of the patient: which test, how it reads (``PositiveResult``, ``NegativeResult``,
    ``NormalResult``, ``AbnormalResult``: the local names of iim's result interpretations) and on which day."""

    node: str
    source: Located
    test: str
    interpretation: str | None = None
    when: date | None = None


@dataclass
class PatientRecord:
    """The ``iim:Patient`` of a plan."""

    node: str
    identifier: str
    source: Located | None = None
    sex: str | None = None
    birth_date: date | None = None
    birth_year_month: tuple[int, int | None] | None = None  # a partial birth date: (year, month or None)
    conditions: dict[str, Located] = field(default_factory=dict)
    populations: dict[str, Located] = field(default_factory=dict)
    test_results: list[TestResult] = field(default_factory=list)


@dataclass
class Plan:
    """One ``iim:TreatmentPlan``: a patient's diagnosis, prescriptions and co-interventions."""

    node: str
    identifier: str
    patient: PatientRecord
    plan_date: date | None = None
    # the earliest symptom onset of a diagnosis (FHIR Condition.onset), which IMACS cancer screening is timed from
    onset_date: date | None = None
    onset_source: Located | None = None
    age: int | None = None
    age_is_lower_bound: bool = False
    diagnoses: dict[str, Located] = field(default_factory=dict)
    prescriptions: list[Prescription] = field(default_factory=list)
    co_interventions: list[CoIntervention] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    first_source: Located | None = None
    decision_dates: list[date] = field(default_factory=list)
    other_dates: list[date] = field(default_factory=list)


@dataclass
class Conversion:
    """Plans made from FHIR files, and the notes on what could not be read exactly."""

    plans: list[Plan]
    notes: list[Note]
    files: list[Path]
    resources: int

    def unmapped(self) -> list[Note]:
        return [n for n in self.notes if n.kind is NoteKind.UNMAPPED]

    def file_of(self, plan: Plan) -> Path:
        """The file a plan is attributed to: its patient's file, else the first file that gave it anything."""
        if plan.patient.source is not None:
            return plan.patient.source.path
        return plan.files[0] if plan.files else self.files[0]

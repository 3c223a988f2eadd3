"""Turn FHIR R4 resources into treatment plans of the plan vocabulary (ontology/iim.ttl, "Treatment plans").

One plan per patient, across every file given (Bulk Data writes one file per resource type):

- ``Patient``: sex (``gender``), birth date, and the age in completed years on the plan date;
- ``Condition``: a disease of the graph is the plan's diagnosis, any other condition of the graph the patient's
  (``iim:hasCondition``); the post-menopausal state also puts the patient among post-menopausal women;
- ``MedicationRequest`` and ``MedicationStatement``: a drug the graph names as a treatment becomes a prescription
  with its daily dose in mg, start date and planned duration or end date; any other drug (a vaccine, calcium,
  vitamin D, TMP-SMX, a statin…) a co-intervention, with its end date where it has one. A course that has ended
  (status ``stopped``, or ``completed`` with no end date, or an end date before the plan date) is past exposure:
  the plan rules do not read it as given now, but a statin taken before still makes the patient statin-exposed;
- ``Immunization``, ``Procedure``, ``Observation`` and ``ServiceRequest``: co-interventions, done or planned.

The plan date is the day of the latest prescribing decision (``authoredOn``, ``dateAsserted`` or a start date) in
the patient's medications, else the latest date of any of the patient's resources. Whatever cannot be read is
reported as a :class:`~iimkg.plans.notes.Note`, never dropped.
"""

from __future__ import annotations

import gc
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from iimkg.core.errors import InputError
from iimkg.core.vocab import IIM
from iimkg.fhir.doses import (
    Strength,
    daily_dose,
    duration_days,
    strength_from_medication,
    strength_from_name,
)
from iimkg.fhir.reading import is_blank, is_ndjson, no_resource_message, read_fhir
from iimkg.plans.codes import (
    CONDITION_KINDS,
    DISEASE,
    DRUG_KINDS,
    MEASURE_KINDS,
    NON_DRUG,
    TEST_KINDS,
    CodeMapper,
    Resolution,
    phrase,
)
from iimkg.plans.model import CoIntervention, Conversion, Located, PatientRecord, Plan, Prescription, TestResult
from iimkg.plans.notes import Note, NoteKind

__all__ = ["CoIntervention", "Conversion", "PatientRecord", "Plan", "Prescription", "convert", "convert_files"]

# Terms the converter itself has to name: the thresholds of the statements are prednisone-equivalent, so a dose of
# another glucocorticoid is flagged.
GLUCOCORTICOID, PREDNISONE = IIM + "IIM_0000101", IIM + "IIM_0000102"

READ_TYPES = frozenset({"Patient", "Condition", "MedicationRequest", "MedicationStatement", "Medication",
                        "Immunization", "Procedure", "Observation", "ServiceRequest", "OperationOutcome"})
_GRAVE = {"fatal", "error"}  # the OperationOutcome issue severities for which the plans may lack data
_ISSUE = {"fatal": "a fatal error", "error": "an error", "warning": "a warning", "information": "information"}
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_FRAGMENT_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

# Statuses: what a resource in that status is for the plan (None: left out).
_MEDICATION_REQUEST_STATUS = {"active": True, "on-hold": True, "completed": True, "draft": True, "stopped": True}
_MEDICATION_STATEMENT_STATUS = {"active": True, "completed": True, "intended": True, "on-hold": True,
                                "stopped": True}
_DONE, _PLANNED = "Done", "Planned"
_BY_DATE = "by date"  # a medication taken as a measure: done if it started by the plan date, else planned
_IMMUNIZATION_STATUS = {"completed": _DONE}
_PROCEDURE_STATUS = {"completed": _DONE, "in-progress": _DONE, "preparation": _PLANNED}
_OBSERVATION_STATUS = {"final": _DONE, "amended": _DONE, "corrected": _DONE, "preliminary": _DONE,
                       "registered": _PLANNED}
_SERVICE_REQUEST_STATUS = {"active": _PLANNED, "draft": _PLANNED, "on-hold": _PLANNED, "completed": _DONE}
_CONDITION_LEFT_OUT = {"inactive", "resolved"}
# How an Observation's interpretation (HL7 v3 ObservationInterpretation) reads as one of iim's result
# interpretations, for the plan's test results.
_INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_INTERPRETATION = {"POS": "PositiveResult", "DET": "PositiveResult", "NEG": "NegativeResult",
                   "ND": "NegativeResult", "N": "NormalResult", "A": "AbnormalResult", "AA": "AbnormalResult",
                   "H": "AbnormalResult", "HH": "AbnormalResult", "L": "AbnormalResult", "LL": "AbnormalResult"}
# A qualitative result written as a value (an antibody line blot's "Positive"), as one of iim's interpretations.
_QUALITATIVE = {"positive": "PositiveResult", "detected": "PositiveResult", "present": "PositiveResult",
                "negative": "NegativeResult", "not detected": "NegativeResult", "absent": "NegativeResult"}
# Medication statuses of a course that has ended: a prescription in any other kept status is still taken. "stopped"
# is past exposure whatever its dates say (iim:stopped); "completed" is read from its end date or duration, and as
# stopped when it has neither.
_FINISHED_STATUSES = frozenset({"completed", "stopped"})
_STOPPED = "stopped"
_VERIFICATION_LEFT_OUT = {"refuted", "entered-in-error"}


def convert_files(paths: Sequence[Path], *, mapper: CodeMapper | None = None) -> Conversion:
    """Read FHIR files (Bundles, single resources, NDJSON) and convert every patient in them into a plan.

    Every file is read before anything is converted, so an input error stops the run before it reports anything.

    :raises InputError: if a file is missing, not JSON or not FHIR (with file, line and column).
    """
    files = list(dict.fromkeys(Path(p) for p in paths))
    with _without_gc():
        resources: list[Located] = []
        empty: Path | None = None
        for path in files:
            if is_ndjson(path) and is_blank(path):
                empty = empty or path  # an empty part of an export (iimkg.fhir.reading.no_resource_message)
                continue
            resources.extend(read_fhir(path))
        if empty is not None and not resources:
            raise InputError(no_resource_message(empty), path=empty)
        return convert(resources, files=files, mapper=mapper)


@contextmanager
def _without_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large export is read: the parsed JSON is a tree with no cycles,
    and the collector's repeated passes over a growing heap make reading grow faster than the input (2.3x faster
    on 10,000 patients)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def convert(resources: Sequence[Located], *, files: Sequence[Path] = (), mapper: CodeMapper | None = None
            ) -> Conversion:
    """Convert resources already read (see :func:`convert_files`)."""
    builder = _Builder(mapper or CodeMapper.shipped(), resources)
    builder.run()
    all_files = list(dict.fromkeys([*files, *(r.path for r in resources)]))
    return Conversion(builder.finished_plans(), sorted(builder.notes, key=Note.sort_key), all_files, len(resources))


class _Builder:
    def __init__(self, mapper: CodeMapper, resources: Sequence[Located]) -> None:
        self.mapper = mapper
        self.resources = resources
        self.by_ref: dict[str, Located] = {}
        for located in resources:
            for key in (located.ref, located.full_url):
                if key and key not in self.by_ref:
                    self.by_ref[key] = located
        self.plans: dict[str, Plan] = {}
        self.notes: list[Note] = []
        self.nodes: set[str] = set()
        self.skipped: Counter[tuple[Path, str]] = Counter()

    # ── driving ──

    def run(self) -> None:
        handlers = {
            "Patient": self._patient, "Condition": self._condition, "MedicationRequest": self._medication,
            "MedicationStatement": self._medication, "Immunization": self._immunization,
            "Procedure": self._procedure, "Observation": self._observation, "ServiceRequest": self._service_request,
            "OperationOutcome": self._operation_outcome,
        }
        for located in self.resources:
            handler = handlers.get(located.type)
            if handler is not None:
                handler(located)
            elif located.type != "Medication":
                self.skipped[(located.path, located.type)] += 1
        for (path, kind), count in sorted(self.skipped.items()):
            noun = "resource" if count == 1 else "resources"
            self.notes.append(Note(NoteKind.SKIPPED, "info", kind,
                                   f"{count} {noun} not read: no part of a treatment plan comes from {kind}", path))

    def finished_plans(self) -> list[Plan]:
        for plan in self.plans.values():
            self._date_plan(plan)
            if plan.patient.source is None and plan.first_source is not None:
                self._note(plan.first_source, NoteKind.UNMAPPED, "info",
                           f"its patient {plan.identifier} is not in the input, so the plan has no sex or age", plan)
        return sorted(self.plans.values(), key=lambda p: p.identifier)

    # ── patients and plans ──

    def _plan_for(self, located: Located, reference: Any) -> Plan | None:
        """The plan of the patient ``reference`` points at, made on first use; None (with a note) if there is none."""
        ref = reference.get("reference") if isinstance(reference, dict) else None
        if not isinstance(ref, str) or not ref.strip():
            self._note(located, NoteKind.UNMAPPED, "warning", "names no patient (subject); not checked")
            return None
        key = self._patient_key(ref.strip())
        if key is None:
            self._note(located, NoteKind.UNMAPPED, "warning", f"its subject {ref} is not a Patient; not checked")
            return None
        plan = self.plans.get(key)
        if plan is None:
            patient = PatientRecord(self._node(key), key)
            plan = self.plans[key] = Plan(self._node(f"plan-{key}"), key, patient)
        if located.path not in plan.files:
            plan.files.append(located.path)
        if plan.first_source is None:
            plan.first_source = located
        return plan

    def _patient_key(self, ref: str) -> str | None:
        target = self.by_ref.get(ref)
        if target is not None:
            return target.ref if target.type == "Patient" else None
        parts = ref.split("/_history/")[0].rstrip("/").split("/")
        if len(parts) >= 2 and parts[-2] == "Patient":
            return f"Patient/{parts[-1]}"
        if ref.startswith("urn:"):
            return ref  # a Bundle-internal reference to a patient that is not in the input
        return None

    def _patient(self, located: Located) -> None:
        plan = self._plan_for(located, {"reference": located.ref})
        if plan is None:
            return
        patient = plan.patient
        if patient.source is not None:
            return  # the same patient again (another Bundle): the first one read stands
        patient.source = located
        resource = located.resource
        gender = resource.get("gender")
        if gender in ("female", "male"):
            patient.sex = "Female" if gender == "female" else "Male"
        elif gender is not None:
            self._note(located, NoteKind.UNMAPPED, "info",
                       f"gender {gender!r} has no value in the plan vocabulary (female, male); sex not stated", plan)
        birth = resource.get("birthDate")
        if birth is not None and not isinstance(birth, str):
            self._note(located, NoteKind.UNMAPPED, "info", f"birthDate {birth!r} is not a date; not used", plan)
        elif isinstance(birth, str):
            full, partial = _parse_date(birth)
            if full is not None:
                patient.birth_date = full
            elif partial is not None:
                patient.birth_year_month = partial
                self._note(located, NoteKind.APPROXIMATED, "info",
                           f"birthDate {birth!r} is not a full date; the age is counted from the latest day it "
                           "allows, so it is at least the age stated", plan)
            else:
                self._note(located, NoteKind.UNMAPPED, "info", f"birthDate {birth!r} is not a date; not used", plan)

    def _date_plan(self, plan: Plan) -> None:
        dates = plan.decision_dates or plan.other_dates
        plan.plan_date = max(dates) if dates else None
        patient = plan.patient
        for co in plan.co_interventions:
            if co.status == _BY_DATE:
                on_time = plan.plan_date is None or co.when is None or co.when <= plan.plan_date
                co.status = _DONE if on_time else _PLANNED
        if plan.plan_date is None:
            return
        if patient.birth_date is not None:
            plan.age = _age(patient.birth_date, plan.plan_date)
        elif patient.birth_year_month is not None:
            year, month = patient.birth_year_month
            latest = date(year, 12, 31) if month is None else _last_day(year, month)
            plan.age, plan.age_is_lower_bound = _age(latest, plan.plan_date), True
        if plan.age is not None and plan.age < 0:
            plan.age = None

    # ── conditions ──

    def _condition(self, located: Located) -> None:
        resource = located.resource
        plan = self._plan_for(located, resource.get("subject"))
        if plan is None:
            return
        self._other_date(plan, resource, ("recordedDate", "onsetDateTime", "onsetPeriod.start"))
        verification = _status_code(resource.get("verificationStatus"))
        clinical = _status_code(resource.get("clinicalStatus"))
        resolution = self.mapper.resolve(resource.get("code"), CONDITION_KINDS)
        if verification in _VERIFICATION_LEFT_OUT:
            self._excluded(located, plan, resolution, f"verification status {verification!r}")
            return
        if not resolution:
            self._unrecognised(located, plan, resolution, "condition", "info")
            return
        self._approximation(located, plan, resolution)
        for term in resolution.terms:
            if self.mapper.of_kind(term, frozenset({DISEASE})):
                plan.diagnoses.setdefault(term, located)
                self._onset(plan, located)
            elif clinical in _CONDITION_LEFT_OUT:
                self._excluded(located, plan, resolution, f"clinical status {clinical!r}")
            else:
                plan.patient.conditions.setdefault(term, located)
                if plan.patient.sex != "Male":  # the one population so defined is of women (post-menopausal)
                    for population in sorted(self.mapper.populations_defined_by(term)):
                        plan.patient.populations.setdefault(population, located)

    def _onset(self, plan: Plan, located: Located) -> None:
        """The diagnosis's symptom onset (onsetDateTime or onsetPeriod.start) as the plan's onset date, the earliest
        of its diagnoses: the statements timed from onset (IMACS cancer screening, 3 years) count from the first
        symptoms. A partial date (``2019``, ``2019-05``) counts as its last day, so that the time since onset is
        never overstated and a screening still due is not taken for one past its window."""
        resource = located.resource
        period = resource.get("onsetPeriod")
        written = resource.get("onsetDateTime") or (period.get("start") if isinstance(period, dict) else None)
        if not isinstance(written, str):
            return
        onset, partial = _parse_date(written)
        if onset is None and partial is not None:
            year, month = partial
            onset = date(year, 12, 31) if month is None else _last_day(year, month)
        if onset is not None and (plan.onset_date is None or onset < plan.onset_date):
            plan.onset_date, plan.onset_source = onset, located

    # ── medications ──

    def _medication(self, located: Located) -> None:
        resource = located.resource
        statement = located.type == "MedicationStatement"
        plan = self._plan_for(located, resource.get("subject"))
        if plan is None:
            return
        status = resource.get("status")
        kept = (_MEDICATION_STATEMENT_STATUS if statement else _MEDICATION_REQUEST_STATUS).get(str(status))
        concept, strength = self._medication_concept(located)
        if concept is None:
            return
        resolution = self.mapper.resolve(concept, DRUG_KINDS)
        if not kept:
            self._excluded(located, plan, resolution, f"status {status!r}")
            return
        if not resolution:
            self._unrecognised(located, plan, resolution, "drug", "warning")
            return
        local = _local_use(resource, concept, resolution)
        if local is not None:
            self._excluded(located, plan, resolution, f"{local}, not systemic treatment, which is what the rules "
                                                      "about these drugs are for")
            return
        self._approximation(located, plan, resolution)
        start, end, duration = self._medication_dates(located)
        decided = _date_at(resource, "dateAsserted" if statement else "authoredOn")
        for when in (decided, start):
            if when is not None:
                plan.decision_dates.append(when)
        therapies = [t for t in resolution.terms if self.mapper.is_therapy(t)]
        measures = [t for t in resolution.terms if not self.mapper.is_therapy(t)]
        if len(therapies) > 1:
            names = " and ".join(self.mapper.label(t) for t in therapies)
            self._note(located, NoteKind.UNMAPPED, "warning",
                       f"names several treatments at once ({names}); one daily dose can't be given to each, "
                       "so it is not checked", plan)
            return
        finished = status in _FINISHED_STATUSES
        last_day = end if end is not None else (
            start + timedelta(days=duration - 1) if start is not None and duration else None)
        for term in measures:
            status_now = _PLANNED if status == "draft" or (statement and status == "intended") else _BY_DATE
            stopped = status == _STOPPED or (finished and last_day is None)
            plan.co_interventions.append(CoIntervention(
                self._node(located.ref, term if len(measures) > 1 else None), located, term, status_now, start,
                end=last_day, stopped=stopped))
            if stopped and last_day is None:
                self._past_note(located, plan, self.mapper.label(term), str(status))
        if therapies:
            self._prescriptions(located, plan, therapies[0], strength, start, end, duration, status=str(status))

    def _medication_concept(self, located: Located) -> tuple[dict[str, Any] | None, Strength | None]:
        """The medication's CodeableConcept (inline or from a referenced Medication) and its strength if known."""
        resource = located.resource
        concept = resource.get("medicationCodeableConcept")
        medication: dict[str, Any] | None = None
        reference = resource.get("medicationReference")
        if not isinstance(concept, dict) and isinstance(reference, dict):
            ref = reference.get("reference")
            if isinstance(ref, str) and ref.startswith("#"):
                medication = next((c for c in _dicts(resource.get("contained"))
                                   if c.get("resourceType") == "Medication" and c.get("id") == ref[1:]), None)
            elif isinstance(ref, str):
                target = self.by_ref.get(ref) or self.by_ref.get("/".join(ref.rstrip("/").split("/")[-2:]))
                medication = target.resource if target is not None and target.type == "Medication" else None
            if medication is not None:
                concept = medication.get("code")
            elif isinstance(reference.get("display"), str):
                concept = {"text": reference["display"]}
            else:
                self._note(located, NoteKind.UNMAPPED, "warning",
                           f"its medication {ref or '(no reference)'} is not in the input; not checked",
                           self._quiet_plan(located))
                return None, None
        if not isinstance(concept, dict):
            self._note(located, NoteKind.UNMAPPED, "warning", "names no medication; not checked",
                       self._quiet_plan(located))
            return None, None
        strength = strength_from_medication(medication) if medication is not None else None
        if strength is None:
            names = [c.get("display") for c in _dicts(concept.get("coding"))] + [concept.get("text")]
            strength = next((s for s in (strength_from_name(n) for n in names if isinstance(n, str)) if s), None)
        return concept, strength

    def _medication_dates(self, located: Located) -> tuple[date | None, date | None, int | None]:
        resource = located.resource
        first_timing = next((d.get("timing") for d in _dosages(resource) if isinstance(d.get("timing"), dict)), None)
        bounds = _repeat(first_timing)
        start = (_date_at(bounds, "boundsPeriod.start") or _date_at(resource, "effectivePeriod.start")
                 or _date_at(resource, "effectiveDateTime") or _date_at(resource, "authoredOn")
                 or _date_at(resource, "dispenseRequest.validityPeriod.start")
                 or _date_at(resource, "dateAsserted"))
        duration = duration_days(bounds.get("boundsDuration"))
        end = None if duration else (_date_at(bounds, "boundsPeriod.end") or _date_at(resource, "effectivePeriod.end"))
        if duration is None and end is None:
            given = resource.get("dispenseRequest")
            dispense: dict[str, Any] = given if isinstance(given, dict) else {}
            supply = duration_days(dispense.get("expectedSupplyDuration"))
            repeats = dispense.get("numberOfRepeatsAllowed")
            if supply is not None:
                duration = supply * (1 + (repeats if isinstance(repeats, int) and repeats > 0 else 0))
            else:
                end = _date_at(resource, "dispenseRequest.validityPeriod.end")
        return start, end, duration

    def _prescriptions(self, located: Located, plan: Plan, drug: str, strength: Strength | None,
                       start: date | None, end: date | None, duration: int | None, *, status: str) -> None:
        """One prescription per step of the dosage (FHIR ``sequence``): a taper is several steps in a row.

        :param status: the resource's status. One that says the drug is still taken (active, on hold, intended…)
            makes a last step with no end date and no duration open-ended (``iim:openEnded``), as chronic
            prescriptions are in EHR exports, and the long-term rules read it as continuing. ``stopped`` makes every
            step past exposure (``iim:stopped``); ``completed`` a last step with neither, since nothing says when
            it ended.
        """
        ongoing = status not in _FINISHED_STATUSES
        steps: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for dosage in _dosages(located.resource):
            sequence = dosage.get("sequence")
            steps[sequence if isinstance(sequence, int) else 0].append(dosage)
        ordered = [steps[k] for k in sorted(steps)] or [[]]
        label = self.mapper.label(drug)
        step_start = start
        for number, dosages in enumerate(ordered, start=1):
            last = number == len(ordered)
            node = self._node(located.ref, f"step{number}" if len(ordered) > 1 else None)
            rx = Prescription(node, located, drug, start=step_start)
            dose = daily_dose(dosages, strength) if dosages else None
            if dose is None or dose.mg_per_day is None:
                problem = dose.problem if dose is not None else "no dosage instruction; daily dose not stated"
                self._note(located, NoteKind.UNMAPPED, "warning", f"{label}: {problem}", plan)
            else:
                rx.dose, rx.schedule = dose.mg_per_day, dose.schedule
                if dose.note:
                    self._note(located, NoteKind.APPROXIMATED, "info", f"{label}: {dose.note}", plan)
                if self.mapper.is_a(drug, GLUCOCORTICOID) and drug != PREDNISONE:
                    self._note(located, NoteKind.APPROXIMATED, "info",
                               f"the daily dose ({_show(dose.mg_per_day)} mg) is in mg of {label}, not converted to "
                               "prednisone-equivalent mg as the plan vocabulary asks: the graph gives no "
                               "equivalence factor", plan)
            timing = next((d.get("timing") for d in dosages if isinstance(d.get("timing"), dict)), None)
            step_days = duration_days(_repeat(timing).get("boundsDuration"))
            if len(ordered) == 1:
                rx.end, rx.duration = end, duration
            elif step_days is not None:
                rx.duration = step_days
            elif last:
                rx.end = end if end is not None else None
                rx.duration = None if end is not None else _remaining(duration, start, step_start)
            else:
                self._note(located, NoteKind.UNMAPPED, "warning",
                           f"{label}: dosage step {number} of {len(ordered)} gives no duration, so the steps after "
                           "it can't be placed in time and are not checked", plan)
                plan.prescriptions.append(rx)
                return
            if last and ongoing and rx.end is None and rx.duration is None:
                rx.open_ended = True
                self._note(located, NoteKind.APPROXIMATED, "info",
                           f"{label}: no end date or planned duration; read as open-ended (taken until stopped) "
                           f"from {rx.start.isoformat() if rx.start else 'an unknown start'}", plan)
            undated = rx.end is None and rx.duration is None
            if status == _STOPPED or (last and not ongoing and undated):
                rx.stopped = True
                if last and undated:
                    self._past_note(located, plan, label, status)
            plan.prescriptions.append(rx)
            if step_start is not None and rx.duration is not None:
                step_start = step_start + timedelta(days=rx.duration)

    # ── co-interventions ──

    def _immunization(self, located: Located) -> None:
        resource = located.resource
        self._measure(located, resource.get("patient"), resource.get("vaccineCode"), DRUG_KINDS,
                      _IMMUNIZATION_STATUS, ("occurrenceDateTime", "recorded"), "vaccine", "warning")

    def _procedure(self, located: Located) -> None:
        resource = located.resource
        self._measure(located, resource.get("subject"), resource.get("code"), MEASURE_KINDS, _PROCEDURE_STATUS,
                      ("performedDateTime", "performedPeriod.start"), "procedure", "info")

    def _observation(self, located: Located) -> None:
        """A test done (a co-intervention) and, where the Observation reads its result, a test result of the patient;
        or, where its value names a condition the graph knows (pregnancy status, LOINC 82810-3, valued
        "pregnant"), that condition of the patient."""
        resource = located.resource
        if self._observed_condition(located):
            return
        when = next((d for d in (_date_at(resource, p) for p in ("effectiveDateTime", "effectivePeriod.start",
                                                                   "effectiveInstant", "issued")) if d), None)
        terms = self._measure(located, resource.get("subject"), resource.get("code"), TEST_KINDS | {NON_DRUG},
                              _OBSERVATION_STATUS, ("effectiveDateTime", "effectivePeriod.start",
                                                    "effectiveInstant", "issued"), "test", "info")
        interpretation = _interpretation(resource)
        plan = self._quiet_plan(located)
        if not terms or interpretation is None or plan is None:
            return
        for term in terms:
            node = self._node(f"{located.ref}-result", term if len(terms) > 1 else None)
            plan.patient.test_results.append(TestResult(node, located, term, interpretation, when))

    def _observed_condition(self, located: Located) -> bool:
        """Whether the Observation's value is a condition of the patient the graph knows (read as such)."""
        resource = located.resource
        value = resource.get("valueCodeableConcept")
        if not isinstance(value, dict) or _OBSERVATION_STATUS.get(str(resource.get("status"))) is None:
            return False
        resolution = self.mapper.resolve(value, CONDITION_KINDS)
        terms = [t for t in resolution.terms if not self.mapper.of_kind(t, frozenset({DISEASE}))]
        plan = self._plan_for(located, resource.get("subject")) if terms else None
        if plan is None:
            return False
        for term in terms:
            plan.patient.conditions.setdefault(term, located)
            if plan.patient.sex != "Male":  # the populations so defined are of women (post-menopausal, pregnant)
                for population in sorted(self.mapper.populations_defined_by(term)):
                    plan.patient.populations.setdefault(population, located)
        return True

    def _service_request(self, located: Located) -> None:
        resource = located.resource
        self._measure(located, resource.get("subject"), resource.get("code"), MEASURE_KINDS,
                      _SERVICE_REQUEST_STATUS, ("occurrenceDateTime", "occurrencePeriod.start", "authoredOn"),
                      "request", "info")

    def _measure(self, located: Located, subject: Any, concept: Any, kinds: frozenset[str],
                 statuses: dict[str, str], date_paths: Iterable[str], what: str, severity: str) -> tuple[str, ...]:
        """The co-interventions of a measure resource; returns the terms it was read as (none if left out)."""
        plan = self._plan_for(located, subject)
        if plan is None:
            return ()
        when = next((d for d in (_date_at(located.resource, p) for p in date_paths) if d is not None), None)
        if when is not None:
            plan.other_dates.append(when)
        status = located.resource.get("status")
        resolution = self.mapper.resolve(concept, kinds)
        measure_status = statuses.get(str(status))
        if measure_status is None:
            self._excluded(located, plan, resolution, f"status {status!r}")
            return ()
        if not resolution:
            self._unrecognised(located, plan, resolution, what, severity)
            return ()
        self._approximation(located, plan, resolution)
        several = len(resolution.terms) > 1
        for term in resolution.terms:
            plan.co_interventions.append(CoIntervention(
                self._node(located.ref, term if several else None), located, term, measure_status, when))
        return tuple(resolution.terms)

    # ── notes ──

    def _past_note(self, located: Located, plan: Plan, label: str, status: str) -> None:
        self._note(located, NoteKind.APPROXIMATED, "info",
                   f"{label}: status {status!r} with no end date; read as taken before the plan date and stopped "
                   "(iim:stopped): past exposure, not checked as given now, still counted as taken before "
                   "(a statin makes the patient statin-exposed)", plan)

    def _operation_outcome(self, located: Located) -> None:
        """Each issue of an OperationOutcome (a Bulk Data export's error file; a search's outcome) as a note of its
        own: a warning for an error, since what the server could not give is not in the plans and a gap found may
        be one in the data only; information for anything less."""
        issues = located.resource.get("issue")
        for issue in issues if isinstance(issues, list) else []:
            if not isinstance(issue, dict):
                continue
            details = issue.get("details")
            said = next((t for t in (issue.get("diagnostics"), details.get("text") if isinstance(details, dict)
                                     else None, issue.get("code")) if isinstance(t, str) and t.strip()), "no detail")
            severity = issue.get("severity")
            grave = severity in _GRAVE
            text = " ".join(said.split())
            self._note(located, NoteKind.REPORTED, "warning" if grave else "info",
                       f"the source reports {_ISSUE.get(str(severity), 'an issue')}: {text[:300]}"
                       f"{'…' if len(text) > 300 else ''}"
                       + ("; what it could not give is not in the plans, so a gap found may be one in the data only"
                          if grave else ""))

    def _note(self, located: Located, kind: NoteKind, severity: str, message: str, plan: Plan | None = None) -> None:
        self.notes.append(Note(kind, severity, located.ref, message, located.path, located.line, located.column,
                               plan.identifier if plan is not None else None))

    def _quiet_plan(self, located: Located) -> Plan | None:
        subject = located.resource.get("subject")
        ref = subject.get("reference") if isinstance(subject, dict) else None
        key = self._patient_key(ref) if isinstance(ref, str) else None
        return self.plans.get(key) if key else None

    def _unrecognised(self, located: Located, plan: Plan, resolution: Resolution, what: str, severity: str) -> None:
        if resolution.conflict:
            names = ", ".join(self.mapper.index.display(t) for t in resolution.conflict)
            message = f"{resolution.described(what)} name different terms ({names}); not checked"
        else:
            message = f"{resolution.described(what)} not recognised; not checked"
        self._note(located, NoteKind.UNMAPPED, severity, message, plan)

    def _approximation(self, located: Located, plan: Plan, resolution: Resolution) -> None:
        if resolution.approximation:
            self._note(located, NoteKind.APPROXIMATED, "info", resolution.approximation, plan)

    def _excluded(self, located: Located, plan: Plan, resolution: Resolution, why: str) -> None:
        named = ", ".join(self.mapper.label(t) for t in resolution.terms) or resolution.described("").strip()
        self._note(located, NoteKind.EXCLUDED, "info", f"{named}: {why}, so it is not part of the plan", plan)

    def _other_date(self, plan: Plan, resource: dict[str, Any], paths: Iterable[str]) -> None:
        when = next((d for d in (_date_at(resource, p) for p in paths) if d is not None), None)
        if when is not None:
            plan.other_dates.append(when)

    def _node(self, key: str, suffix: str | None = None) -> str:
        """A fragment (``MedicationRequest-mr1``) for a node, unique in this conversion."""
        base = _FRAGMENT_UNSAFE.sub("-", key).strip("-") or "node"
        if suffix:
            base += "-" + _FRAGMENT_UNSAFE.sub("-", suffix.removeprefix(IIM)).strip("-")
        node, counter = base, 1
        while node in self.nodes:
            counter += 1
            node = f"{base}-{counter}"
        self.nodes.add(node)
        return node


# ── helpers ──

def _interpretation(resource: dict[str, Any]) -> str | None:
    """How an Observation's result reads as one of iim's result interpretations: its first HL7 v3 interpretation
    that does, else its value when that is a qualitative result (an antibody line blot reports "Positive" or
    "Negative" as ``valueString`` or ``valueCodeableConcept``, HL7 v3-coded or as text). A value that reads as
    neither (borderline, a titre) gives none: the test counts as done, with no result."""
    for concept in _dicts(resource.get("interpretation")):
        found = _coded_interpretation(concept)
        if found:
            return found
    value = resource.get("valueCodeableConcept")
    if isinstance(value, dict):
        found = _coded_interpretation(value)
        if found:
            return found
        words = [value.get("text"), *(c.get("display") for c in _dicts(value.get("coding")))]
        return next((_QUALITATIVE[w.strip().lower()] for w in words
                     if isinstance(w, str) and w.strip().lower() in _QUALITATIVE), None)
    text = resource.get("valueString")
    return _QUALITATIVE.get(text.strip().lower()) if isinstance(text, str) else None


def _coded_interpretation(concept: dict[str, Any]) -> str | None:
    for coding in _dicts(concept.get("coding")):
        if str(coding.get("system", "")).rstrip("/") == _INTERPRETATION_SYSTEM:
            found = _INTERPRETATION.get(str(coding.get("code", "")).upper())
            if found:
                return found
    return None


# Routes and dose forms of local use, as FHIR route and form texts and RxNorm names write them ("tacrolimus 0.1 %
# Topical Ointment", route "Ophthalmic route"): the drug acts where it is put, not through the body, so it is not the
# systemic treatment the statements are about (reference row 75: topical, inhaled and intra-articular glucocorticoids
# are no contraindication to live vaccines). Transdermal and rectal are not here: they can act systemically.
_LOCAL_WORDS = (("topical",), ("cutaneous",), ("ointment",), ("cream",), ("lotion",), ("shampoo",),
                ("ophthalmic",), ("eye", "drops"), ("eye", "drop"), ("otic",), ("ear", "drops"), ("nasal",),
                ("inhalation",), ("inhaled",), ("inhaler",), ("intra", "articular"), ("intraarticular",))
# WHO ATC anatomical main groups of local use: D dermatologicals, S sensory organs (eye and ear preparations).
_LOCAL_ATC_GROUPS = ("D", "S")


def _local_use(resource: dict[str, Any], concept: dict[str, Any], resolution: Resolution) -> str | None:
    """How the medication says it is for local use (its dosage's route, its name or form, or a dermatological or
    eye and ear ATC code), as a phrase for the note; None for systemic or unsaid use."""
    texts: list[tuple[str, str]] = []
    for dosage in _dosages(resource):
        route = dosage.get("route")
        if isinstance(route, dict):
            texts += [("route", t) for t in _concept_texts(route)]
    texts += [("named", t) for t in _concept_texts(concept)]
    for where, text in texts:
        words = phrase(text)
        for local in _LOCAL_WORDS:
            if any(words[i:i + len(local)] == local for i in range(len(words))):
                return f"{'its route is' if where == 'route' else 'it is named'} {text.strip()!r}: local use"
    for code in resolution.codes or (resolution.via,):
        if code.upper().startswith("ATC:") and code[4:5].upper() in _LOCAL_ATC_GROUPS:
            return f"its code {code} is a dermatological or eye and ear preparation: local use"
    return None


def _concept_texts(concept: dict[str, Any]) -> list[str]:
    """A CodeableConcept's text and its codings' displays."""
    return [t for t in [concept.get("text"), *(c.get("display") for c in _dicts(concept.get("coding")))]
            if isinstance(t, str)]


def _dosages(resource: dict[str, Any]) -> list[dict[str, Any]]:
    return _dicts(resource.get("dosageInstruction") if "dosageInstruction" in resource else resource.get("dosage"))


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _repeat(timing: Any) -> dict[str, Any]:
    repeat = timing.get("repeat") if isinstance(timing, dict) else None
    return repeat if isinstance(repeat, dict) else {}


def _status_code(concept: Any) -> str | None:
    for coding in _dicts(concept.get("coding") if isinstance(concept, dict) else None):
        code = coding.get("code")
        if isinstance(code, str):
            return code
    return None


def _date_at(resource: Any, path: str) -> date | None:
    value: Any = resource
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if not isinstance(value, str):
        return None
    return _parse_date(value)[0]


def _parse_date(text: str) -> tuple[date | None, tuple[int, int | None] | None]:
    """A FHIR date or dateTime as a calendar day (the date as written, before any time zone), or the year and month
    of a partial date."""
    match = _DATE.match(text.strip())
    if match is None:
        return None, None
    year, month, day = match.group(1), match.group(2), match.group(3)
    try:
        if day is not None:
            return date(int(year), int(month), int(day)), None
        if month is not None:
            date(int(year), int(month), 1)
            return None, (int(year), int(month))
        return None, (int(year), None)
    except ValueError:
        return None, None


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _last_day(year: int, month: int) -> date:
    return (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1))


def _remaining(duration: int | None, start: date | None, step_start: date | None) -> int | None:
    if duration is None or start is None or step_start is None:
        return None
    left = duration - (step_start - start).days
    return left if left > 0 else None


def _show(value: Decimal) -> str:
    return format(value, "f")

"""Write converted plans as Turtle a person can read (labels and FHIR sources in comments), and as RDF quads."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from pathlib import Path

import pyoxigraph as ox

from iimkg.core.vocab import IIM, STANDARD_PREFIXES
from iimkg.plans.codes import CodeMapper
from iimkg.plans.model import CoIntervention, Conversion, Located, Plan, Prescription, TestResult

__all__ = ["plan_base", "plan_quads", "plan_turtle"]

_PREFIXES = {name: STANDARD_PREFIXES[name] for name in ("dcterms", "iim", "xsd")}
_COMMENT_COLUMN = 52
# Absolute IRIs a FHIR server or Bundle gives its resources: a plan's nodes are fragments of its patient's.
_ABSOLUTE = re.compile(r"^(?:urn:uuid:|urn:oid:|https?://)\S+$", re.IGNORECASE)
# The name-based UUID namespace of plans whose patient has no absolute IRI (NDJSON has no fullUrl).
_PLAN_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://w3id.org/iimkg/fhir/plans")


def plan_base(plan: Plan) -> str:
    """The absolute IRI a converted plan's nodes are fragments of (``<base>#plan-Patient-p1``,
    ``<base>#MedicationRequest-mr1``).

    The patient's own IRI where the input gives one (a Bundle entry's ``fullUrl``: ``urn:uuid:…`` or the server's
    ``https://…/Patient/p1``), else a name-based UUID of its ``Patient/id`` (``urn:uuid:`` + UUID v5): stable from
    one conversion to the next, so a plan keeps its IRI and findings can be compared over time. Without a server
    address two systems' ``Patient/p1`` share that UUID, as they share the reference."""
    source = plan.patient.source
    for candidate in (source.full_url if source is not None else None, plan.identifier):
        if candidate and _ABSOLUTE.match(candidate):
            return candidate.split("#", 1)[0]
    return f"urn:uuid:{uuid.uuid5(_PLAN_NAMESPACE, plan.identifier)}"


def plan_turtle(conversion: Conversion, *, mapper: CodeMapper | None = None) -> str:
    """The plans of ``conversion`` in Turtle, with absolute IRIs (:func:`plan_base`), so the output means the same
    wherever it is read, stored or merged, with or without a base IRI.

    Each node carries ``dcterms:identifier``, the FHIR resource it comes from (``MedicationRequest/mr1``); comments
    give the terms' labels and the file and line of each resource, as the files were named to the converter.
    """
    mapper = mapper or CodeMapper.shipped()
    writer = _Writer(mapper)
    files = ", ".join(writer.path(p) for p in conversion.files)
    count = len(conversion.plans)
    lines = [
        f"# Treatment plans converted from HL7 FHIR R4 by `iimkg fhir convert`: {count} plan"
        f"{'' if count == 1 else 's'} from {files}.",
        "# Each node names the FHIR resource it comes from (dcterms:identifier); comments give labels and places.",
        "# Check them with `iimkg validate` (shapes/treatment-plan.ttl). Not medical advice.",
    ]
    unmapped = len(conversion.unmapped())
    if unmapped:
        lines.append(f"# {unmapped} resource(s) or part(s) of resources could not be read; `iimkg fhir convert` "
                     "and `iimkg validate` list them.")
    lines.append("")
    lines += [f"@prefix {name}: <{iri}> ." for name, iri in _PREFIXES.items()]
    for plan in conversion.plans:
        lines.append("")
        lines += writer.plan(plan)
    return "\n".join(lines) + "\n"


def plan_quads(conversion: Conversion, *, base_iri: str, mapper: CodeMapper | None = None) -> list[ox.Quad]:
    """The plans as quads in the default graph (their IRIs are absolute; ``base_iri`` is only the parser's)."""
    text = plan_turtle(conversion, mapper=mapper)
    return list(ox.parse(text, format=ox.RdfFormat.TURTLE, base_iri=base_iri))


class _Writer:
    def __init__(self, mapper: CodeMapper) -> None:
        self.mapper = mapper
        self.base = ""

    def path(self, path: Path) -> str:
        return str(path)

    def place(self, located: Located) -> str:
        place = self.path(located.path)
        if located.line is not None:
            place += f":{located.line}"
        return place

    def term(self, iri: str) -> str:
        return "iim:" + iri[len(IIM):] if iri.startswith(IIM) else f"<{iri}>"

    def node(self, fragment: str) -> str:
        return f"<{self.base}#{fragment}>"

    def plan(self, plan: Plan) -> list[str]:
        self.base = plan_base(plan)
        block = _Block(f"{self.node(plan.node)} a iim:TreatmentPlan", f"plan for {plan.identifier}")
        block.add("dcterms:identifier", _string(plan.identifier))
        if plan.plan_date is not None:
            block.add("iim:planDate", _date(plan.plan_date.isoformat()), "latest prescribing date")
        if plan.onset_date is not None:
            where = f" ({plan.onset_source.ref})" if plan.onset_source is not None else ""
            block.add("iim:onsetDate", _date(plan.onset_date.isoformat()), f"symptom onset{where}")
        block.add("iim:patient", self.node(plan.patient.node))
        for term, source in sorted(plan.diagnoses.items()):
            block.add("iim:diagnosis", self.term(term), f"{self.mapper.label(term)} ({source.ref})")
        for rx in plan.prescriptions:
            block.add("iim:prescription", self.node(rx.node))
        for co in plan.co_interventions:
            block.add("iim:coIntervention", self.node(co.node))
        lines = block.lines()
        lines.append("")
        lines += self.patient(plan)
        for rx in plan.prescriptions:
            lines.append("")
            lines += self.prescription(rx)
        for co in plan.co_interventions:
            lines.append("")
            lines += self.co_intervention(co)
        return lines

    def patient(self, plan: Plan) -> list[str]:
        patient = plan.patient
        where = f" ({self.place(patient.source)})" if patient.source else " (no Patient resource in the input)"
        block = _Block(f"{self.node(patient.node)} a iim:Patient", f"{patient.identifier}{where}")
        block.add("dcterms:identifier", _string(patient.identifier))
        if patient.sex:
            block.add("iim:sex", f"iim:{patient.sex}")
        if patient.birth_date is not None:
            block.add("iim:birthDate", _date(patient.birth_date.isoformat()))
        if plan.age is not None:
            block.add("iim:ageYears", str(plan.age), "at least: partial birth date" if plan.age_is_lower_bound
                      else "on the plan date")
        for term, source in sorted(patient.conditions.items()):
            block.add("iim:hasCondition", self.term(term), f"{self.mapper.label(term)} ({source.ref})")
        for term, source in sorted(patient.populations.items()):
            block.add("iim:belongsToPopulation", self.term(term), f"{self.mapper.label(term)} ({source.ref})")
        for result in patient.test_results:
            block.add("iim:testResult", self.node(result.node))
        lines = block.lines()
        for result in patient.test_results:
            lines.append("")
            lines += self.test_result(result)
        return lines

    def test_result(self, result: TestResult) -> list[str]:
        where = f"{result.source.ref} ({self.place(result.source)})"
        block = _Block(f"{self.node(result.node)} a iim:TestResult", where)
        block.add("iim:resultOf", self.term(result.test), self.mapper.label(result.test))
        if result.interpretation is not None:
            block.add("iim:interpretation", f"iim:{result.interpretation}")
        if result.when is not None:
            block.add("iim:resultDate", _date(result.when.isoformat()))
        return block.lines()

    def prescription(self, rx: Prescription) -> list[str]:
        block = _Block(f"{self.node(rx.node)} a iim:Prescription", f"{rx.source.ref} ({self.place(rx.source)})")
        block.add("dcterms:identifier", _string(rx.source.ref))
        block.add("iim:prescribedDrug", self.term(rx.drug), self.mapper.label(rx.drug))
        if rx.dose is not None:
            block.add("iim:dailyDoseMg", _decimal(rx.dose), rx.schedule)
        if rx.start is not None:
            block.add("iim:startDate", _date(rx.start.isoformat()))
        if rx.end is not None:
            block.add("iim:endDate", _date(rx.end.isoformat()))
        if rx.duration is not None:
            block.add("iim:plannedDurationDays", str(rx.duration))
        if rx.open_ended:
            block.add("iim:openEnded", "true", "no end date or planned duration: ongoing")
        if rx.stopped:
            block.add("iim:stopped", "true", "stopped before the plan date, day unknown: past exposure")
        return block.lines()

    def co_intervention(self, co: CoIntervention) -> list[str]:
        block = _Block(f"{self.node(co.node)} a iim:CoIntervention", f"{co.source.ref} ({self.place(co.source)})")
        block.add("dcterms:identifier", _string(co.source.ref))
        block.add("iim:measure", self.term(co.measure), self.mapper.label(co.measure))
        block.add("iim:measureStatus", f"iim:{co.status}")
        if co.when is not None:
            block.add("iim:measureDate", _date(co.when.isoformat()))
        if co.end is not None:
            block.add("iim:endDate", _date(co.end.isoformat()))
        if co.stopped:
            block.add("iim:stopped", "true", "stopped before the plan date, day unknown: past exposure")
        return block.lines()


class _Block:
    """One subject with its predicate-object lines, each with an optional comment."""

    def __init__(self, head: str, comment: str) -> None:
        self.head = head
        self.comment = comment
        self.rows: list[tuple[str, str, str | None]] = []

    def add(self, predicate: str, value: str, comment: str | None = None) -> None:
        self.rows.append((predicate, value, comment))

    def lines(self) -> list[str]:
        lines = [f"{self.head} ;" + _pad(f"{self.head} ;", self.comment)]
        for number, (predicate, value, comment) in enumerate(self.rows):
            end = " ." if number == len(self.rows) - 1 else " ;"
            text = f"    {predicate} {value}{end}"
            lines.append(text + _pad(text, _one_line(comment)))
        return lines


def _pad(text: str, comment: str | None) -> str:
    if not comment:
        return ""
    return " " * max(1, _COMMENT_COLUMN - len(text)) + f"# {comment}"


def _one_line(text: str | None) -> str | None:
    return " ".join(text.split()) if text else text


def _string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def _date(text: str) -> str:
    return f'"{text}"^^xsd:date'


def _decimal(value: Decimal) -> str:
    """``40`` or ``2.5``: Turtle reads the first as xsd:integer, the second as xsd:decimal (both are decimals)."""
    return format(value, "f")

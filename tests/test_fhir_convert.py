"""FHIR R4 in: the example files are valid R4 (checked with fhir.resources), each converts into the plan a
clinician would read from it, codes resolve through the graph's cross-references, doses come out in mg a day, and
whatever cannot be read is reported, never dropped."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyoxigraph as ox
import pytest
from fhir.resources.R4B import get_fhir_model_class

from iimkg.core.errors import InputError
from iimkg.fhir import convert, convert_files, is_fhir_file, read_fhir
from iimkg.fhir.doses import daily_dose, strength_from_name
from iimkg.fhir.reading import read_fhir_text
from iimkg.graph.loading import shipped_quads
from iimkg.graph.terms import TermIndex
from iimkg.plans.codes import CONDITION_KINDS, DRUG_KINDS, MEASURE_KINDS, TEST_KINDS, CodeMapper
from iimkg.plans.model import Conversion
from iimkg.plans.notes import NoteKind
from iimkg.plans.turtle import plan_quads, plan_turtle

from conftest import IIM, ROOT

EXAMPLES = ROOT / "examples" / "fhir"
FULL, GAPS, IBM = EXAMPLES / "dermatomyositis-full.json", EXAMPLES / "dermatomyositis-gaps.json", \
    EXAMPLES / "ibm-azathioprine.json"
BULK = sorted((EXAMPLES / "bulk-export").glob("*.ndjson"))
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
CVX = "http://hl7.org/fhir/sid/cvx"

DM, JDM, PM, SIBM, ASYN = (IIM + f"IIM_000000{n}" for n in (2, 3, 6, 7, 9))
HMGCR = IIM + "IIM_0000011"
PREDNISONE, PREDNISOLONE, METHYLPRED = IIM + "IIM_0000102", IIM + "IIM_0000103", IIM + "IIM_0000104"
MTX, AZA, MMF, IVIG = IIM + "IIM_0000111", IIM + "IIM_0000112", IIM + "IIM_0000113", IIM + "IIM_0000130"
ALENDRONATE, CALCIUM_CARBONATE, COLECALCIFEROL = IIM + "IIM_0000142", IIM + "IIM_0000146", IIM + "IIM_0000148"
TMP_SMX, FOLIC_ACID = IIM + "IIM_0000151", IIM + "IIM_0000171"
RZV, LIVE_VACCINE, PNEUMOCOCCAL, INFLUENZA = (IIM + f"IIM_00001{n}" for n in (61, 62, 63, 64))
HYPERTENSION, DYSPHAGIA, ILD, POST_MENOPAUSAL = (IIM + f"IIM_0000{n}" for n in (301, 314, 317, 338))
POST_MENOPAUSAL_WOMEN = IIM + "IIM_0000601"
CATCH_UP, SPEECH_THERAPY = IIM + "IIM_0000510", IIM + "IIM_0000507"
DXA, IGRA, TST, HBSAG, ANTI_HBC, VZV_TEST = (IIM + f"IIM_0000{n}" for n in (520, 522, 523, 525, 526, 527))
GLUCOSE, BLOOD_PRESSURE, LIPIDS, TPMT = (IIM + f"IIM_0000{n}" for n in (528, 529, 530, 534))


def example_files() -> list[Path]:
    return [FULL, GAPS, IBM, *BULK]


def plan_of(conversion: Conversion, identifier: str):  # type: ignore[no-untyped-def]
    found = [p for p in conversion.plans if p.identifier == identifier]
    assert len(found) == 1, [p.identifier for p in conversion.plans]
    return found[0]


def notes_of(conversion: Conversion, kind: NoteKind) -> set[tuple[str, str]]:
    return {(n.resource, n.severity) for n in conversion.notes if n.kind is kind}


# ── the fixtures are real FHIR R4 ──

@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name)
def test_example_is_valid_fhir_r4(path: Path) -> None:
    """Every resource validates against the fhir.resources models (R4B, which is R4 for these resources): required
    elements present, no unknown elements, right types."""
    documents = ([json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
                 if path.suffix == ".ndjson" else [json.loads(path.read_text(encoding="utf-8"))])
    for document in documents:
        get_fhir_model_class(document["resourceType"]).model_validate(document)


def test_fhir_model_check_catches_a_look_alike() -> None:
    """The check has teeth: a MedicationRequest without its required intent is refused."""
    with pytest.raises(ValueError, match="intent"):
        get_fhir_model_class("MedicationRequest").model_validate(
            {"resourceType": "MedicationRequest", "status": "active", "subject": {"reference": "Patient/p"},
             "medicationCodeableConcept": {"text": "prednisone"}})


# ── each example gives the plan a clinician reads from it ──

def test_dermatomyositis_with_full_co_interventions() -> None:
    conversion = convert_files([FULL])
    plan = plan_of(conversion, "Patient/3f2c6a1e-8b4d-4c1a-9e57-1d2f0b6a7c01")
    assert plan.plan_date.isoformat() == "2024-03-04" and plan.age == 61
    assert (plan.patient.sex, plan.patient.birth_date.isoformat()) == ("Female", "1962-05-14")
    assert set(plan.diagnoses) == {DM}
    assert set(plan.patient.conditions) == {POST_MENOPAUSAL}
    assert set(plan.patient.populations) == {POST_MENOPAUSAL_WOMEN}
    assert {(rx.drug, rx.dose, rx.start.isoformat(), rx.duration, rx.end) for rx in plan.prescriptions} == {
        (PREDNISONE, Decimal(40), "2024-03-04", 84, None),      # 2 tablets of 20 mg a day for 12 weeks
        (MTX, Decimal(15), "2024-03-04", 336, None),            # 6 x 2.5 mg once a week; 28 days x 12 fills
    }
    assert {(co.measure, co.status) for co in plan.co_interventions} == {
        (FOLIC_ACID, "Done"), (TMP_SMX, "Done"), (ALENDRONATE, "Done"), (CALCIUM_CARBONATE, "Done"),
        (COLECALCIFEROL, "Done"), (RZV, "Done"), (INFLUENZA, "Done"), (PNEUMOCOCCAL, "Done"), (DXA, "Done"),
        (CATCH_UP, "Done"), (IGRA, "Done"), (HBSAG, "Done"), (ANTI_HBC, "Done"), (VZV_TEST, "Done"),
        (GLUCOSE, "Done"), (BLOOD_PRESSURE, "Done"), (LIPIDS, "Done"),
        # tests before methotrexate and prednisone, and cancer screening, named by their text only
        *((IIM + f"IIM_0000{n}", "Done") for n in (532, 533, 538, 540, 541, 542)),
    }
    assert conversion.unmapped() == []
    assert notes_of(conversion, NoteKind.APPROXIMATED) == {("Condition/3f2c6a1e-8b4d-4c1a-9e57-1d2f0b6a7c03", "info")}
    assert notes_of(conversion, NoteKind.SKIPPED) == {("Encounter", "info")}


def test_dermatomyositis_with_gaps() -> None:
    conversion = convert_files([GAPS])
    plan = plan_of(conversion, "Patient/dm-gaps-7731")
    assert plan.plan_date.isoformat() == "2024-04-15" and plan.age == 65
    assert set(plan.diagnoses) == {DM}
    assert set(plan.patient.conditions) == {HYPERTENSION, DYSPHAGIA, POST_MENOPAUSAL}
    # the taper is two prescriptions in a row; methotrexate's dose is only in its text
    assert [(rx.node, rx.drug, rx.dose, rx.start.isoformat(), rx.duration) for rx in plan.prescriptions] == [
        ("MedicationRequest-dm-gaps-pred-step1", PREDNISONE, Decimal(60), "2024-04-15", 28),
        ("MedicationRequest-dm-gaps-pred-step2", PREDNISONE, Decimal(40), "2024-05-13", 56),
        ("MedicationRequest-dm-gaps-mtx", MTX, None, "2024-04-15", None),
    ]
    assert plan.prescriptions[2].end.isoformat() == "2024-10-14"
    assert {(co.measure, co.status) for co in plan.co_interventions} == {(LIVE_VACCINE, "Done")}
    assert notes_of(conversion, NoteKind.UNMAPPED) == {
        ("MedicationRequest/dm-gaps-mtx", "warning"), ("MedicationRequest/dm-gaps-acei", "warning"),
        ("Condition/dm-gaps-thyroid", "info"), ("Observation/dm-gaps-hr", "info"),
    }
    texts = {n.text for n in conversion.unmapped()}
    assert ('MedicationRequest/dm-gaps-acei: drug code RXNORM:29046 "lisinopril" (text "Lisinopril 10 mg tablet") '
            "not recognised; not checked") in texts
    assert ('MedicationRequest/dm-gaps-mtx: methotrexate: no dose quantity (given only as text: "15 mg (6 tablets) '
            'by mouth once a week"); daily dose not stated') in texts


def test_inclusion_body_myositis_on_azathioprine() -> None:
    conversion = convert_files([IBM])
    plan = plan_of(conversion, "Patient/ibm-5120")
    assert (plan.patient.sex, plan.age, plan.plan_date.isoformat()) == ("Male", 68, "2024-01-15")
    assert set(plan.diagnoses) == {SIBM}
    assert set(plan.patient.conditions) == {DYSPHAGIA}
    # a referenced Medication gives the strength (50 mg a tablet); BID gives twice a day
    assert [(rx.drug, rx.dose, rx.end.isoformat()) for rx in plan.prescriptions] == [
        (AZA, Decimal(100), "2024-07-14")]
    assert {(co.measure, co.status) for co in plan.co_interventions} == {
        (SPEECH_THERAPY, "Planned"), (TPMT, "Done"), (HBSAG, "Done")}
    assert conversion.notes == []


def test_bulk_export_joins_files_by_patient() -> None:
    conversion = convert_files(BULK)
    assert [p.identifier for p in conversion.plans] == [
        "Patient/asyn-4471", "Patient/imnm-3318", "Patient/jdm-2207", "Patient/myo-5590", "Patient/pm-1042"]
    diagnoses = {p.identifier: set(p.diagnoses) for p in conversion.plans}
    assert diagnoses == {"Patient/asyn-4471": {ASYN}, "Patient/imnm-3318": {HMGCR}, "Patient/jdm-2207": {JDM},
                         "Patient/myo-5590": set(), "Patient/pm-1042": {PM}}
    doses = {(p.identifier, rx.drug): rx.dose for p in conversion.plans for rx in p.prescriptions}
    assert doses == {
        ("Patient/asyn-4471", MMF): Decimal(2000), ("Patient/asyn-4471", PREDNISONE): Decimal(30),
        ("Patient/imnm-3318", IVIG): Decimal(70000), ("Patient/imnm-3318", PREDNISONE): Decimal(60),
        ("Patient/jdm-2207", METHYLPRED): None, ("Patient/jdm-2207", MTX): Decimal("12.5"),
        ("Patient/myo-5590", PREDNISONE): Decimal(20),
        ("Patient/pm-1042", MTX): Decimal(20), ("Patient/pm-1042", PREDNISOLONE): Decimal("7.5"),
    }
    assert plan_of(conversion, "Patient/myo-5590").prescriptions[0].duration == 90  # 30 days, 2 repeats
    assert set(plan_of(conversion, "Patient/asyn-4471").patient.conditions) == {ILD}
    assert {(co.measure, co.status) for co in plan_of(conversion, "Patient/asyn-4471").co_interventions} == {
        (RZV, "Done"), (TMP_SMX, "Done"), (TST, "Done"), (HBSAG, "Done")}  # the refused flu shot is left out
    assert notes_of(conversion, NoteKind.UNMAPPED) == {
        ("MedicationRequest/jdm-2207-mp", "warning"), ("Condition/myo-5590-dx", "info")}
    assert notes_of(conversion, NoteKind.EXCLUDED) == {("Immunization/asyn-4471-flu-refused", "info")}
    assert notes_of(conversion, NoteKind.APPROXIMATED) == {
        ("Condition/jdm-2207-dx", "info"), ("MedicationStatement/pm-1042-pdl", "info"),
        ("MedicationStatement/pm-1042-mtx", "info")}  # active since 2022, no end: read as open-ended
    (mtx,) = [rx for rx in plan_of(conversion, "Patient/pm-1042").prescriptions if rx.drug == MTX]
    assert mtx.open_ended and mtx.end is None and mtx.duration is None
    (myositis,) = [n for n in conversion.notes if n.resource == "Condition/myo-5590-dx"]
    assert myositis.text == ('Condition/myo-5590-dx: condition code ICD10CM:M60.9 "Myositis, unspecified" not '
                             "recognised; not checked")
    assert (myositis.path.name, myositis.line, myositis.column) == ("Condition.ndjson", 6, 1)


# ── the Turtle written is the plan vocabulary, and reads back ──

def test_turtle_reads_back_with_the_plan_vocabulary() -> None:
    conversion = convert_files([FULL, GAPS, IBM, *BULK])
    text = plan_turtle(conversion)
    quads = list(ox.parse(text, format=ox.RdfFormat.TURTLE, base_iri="file:///tmp/plans.ttl"))
    assert quads == plan_quads(conversion, base_iri="file:///tmp/plans.ttl")
    store = ox.Store()
    store.extend(quads)
    plans = {s["plan"].value for s in store.query(
        "SELECT ?plan WHERE { ?plan a <https://w3id.org/iimkg/TreatmentPlan> }")}
    assert len(plans) == 8
    doses = {(s["drug"].value, s["dose"].value) for s in store.query(
        "PREFIX iim: <https://w3id.org/iimkg/> SELECT ?drug ?dose WHERE { ?rx iim:prescribedDrug ?drug ; "
        "iim:dailyDoseMg ?dose ; <http://purl.org/dc/terms/identifier> 'MedicationRequest/ibm-5120-aza' }")}
    assert doses == {(AZA, "100")}
    dated = list(store.query(
        "PREFIX iim: <https://w3id.org/iimkg/> SELECT ?d WHERE { ?rx iim:startDate ?d } LIMIT 1"))
    assert dated[0]["d"].datatype == ox.NamedNode("http://www.w3.org/2001/XMLSchema#date")


def test_every_iri_the_plans_use_is_a_term_of_the_graph() -> None:
    conversion = convert_files([FULL, GAPS, IBM, *BULK])
    known = {q.subject.value for q in shipped_quads()} | {IIM + "Done", IIM + "Planned"}
    used = {q.object.value for q in plan_quads(conversion, base_iri="file:///tmp/p.ttl")
            if isinstance(q.object, ox.NamedNode) and q.object.value.startswith(IIM)}
    assert used - known == set()


# ── codes resolve through the graph ──

@pytest.fixture(scope="module")
def mapper() -> CodeMapper:
    return CodeMapper.shipped()


def concept(*codings: tuple[str, str, str | None], text: str | None = None) -> dict[str, object]:
    found: dict[str, object] = {"coding": [{"system": s, "code": c, **({"display": d} if d else {})}
                                           for s, c, d in codings]}
    if text:
        found["text"] = text
    return found


@pytest.mark.parametrize(("given", "kinds", "expected"), [
    (concept((RXNORM, "8640", "prednisone")), DRUG_KINDS, {PREDNISONE}),                        # ingredient code
    (concept((RXNORM, "312615", "predniSONE 20 MG Oral Tablet")), DRUG_KINDS, {PREDNISONE}),    # product: display
    (concept((RXNORM, "105611", "azathioprine 50 MG Oral Tablet [Imuran]")), DRUG_KINDS, {AZA}),
    (concept(text="Bactrim DS"), DRUG_KINDS, {TMP_SMX}),                                        # brand synonym
    (concept(("http://www.whocc.no/atc", "L04AX03", None)), DRUG_KINDS, {MTX}),
    (concept((CVX, "187", None)), DRUG_KINDS, {RZV}),
    (concept((CVX, "121", "zoster vaccine, live")), DRUG_KINDS, {LIVE_VACCINE}),
    (concept((CVX, "149", "influenza, live, intranasal, quadrivalent")), DRUG_KINDS, {INFLUENZA, LIVE_VACCINE}),
    (concept((ICD10CM, "G72.41", None)), CONDITION_KINDS, {SIBM}),
    (concept((ICD10CM, "M33.20", None)), CONDITION_KINDS, {PM}),                                # ancestor M33.2
    (concept((ICD10CM, "M3302", None)), CONDITION_KINDS, {JDM}),                                # no dot
    (concept(("http://snomed.info/sct", "396230008", "Dermatomyositis (disorder)")), CONDITION_KINDS, {DM}),
    (concept(("http://purl.obolibrary.org/obo/mondo.owl", "MONDO:0016367", None)), CONDITION_KINDS, {DM}),
    (concept(text="Hyperlipidemia"), CONDITION_KINDS, {IIM + "IIM_0000313"}),                   # US spelling
    (concept(("http://loinc.org", "2345-7", "Glucose [Mass/volume] in Serum or Plasma"), text="Blood glucose"),
     TEST_KINDS, {GLUCOSE}),
    (concept(text="Bone densitometry"), MEASURE_KINDS, {DXA}),
])
def test_concept_resolves_through_the_graph(mapper: CodeMapper, given: dict[str, object], kinds: frozenset[str],
                                            expected: set[str]) -> None:
    assert set(mapper.resolve(given, kinds).terms) == expected


def test_icd_code_below_a_carried_one_says_so(mapper: CodeMapper) -> None:
    resolution = mapper.resolve(concept((ICD10CM, "M33.13", None)), CONDITION_KINDS)
    assert resolution.terms == (DM,)
    assert resolution.approximation == ("ICD10CM:M33.13 is more specific than any code the graph carries; read as "
                                        "ICD10CM:M33 (dermatomyositis)")


@pytest.mark.parametrize(("given", "kinds"), [
    (concept((RXNORM, "999999", None)), DRUG_KINDS),
    (concept((ICD10CM, "M60.9", "Myositis, unspecified")), CONDITION_KINDS),           # ICD displays are not read
    (concept(("http://hl7.org/fhir/sid/icd-10", "G72.4", "Inflammatory myopathy, not elsewhere classified")),
     CONDITION_KINDS),                                                                # a parent of IBM is not IBM
    (concept(("http://loinc.org", "22322-2", "Hepatitis B virus surface Ab [Presence] in Serum")), TEST_KINDS),
    (concept((RXNORM, "8640", "prednisone")), CONDITION_KINDS),                         # right term, wrong kind
])
def test_concept_not_in_the_graph_resolves_to_nothing(mapper: CodeMapper, given: dict[str, object],
                                                      kinds: frozenset[str]) -> None:
    assert mapper.resolve(given, kinds).terms == ()


def test_unknown_drug_code_is_reported_as_the_issue_says(tmp_path: Path) -> None:
    path = tmp_path / "mr.json"
    path.write_text(json.dumps({
        "resourceType": "MedicationRequest", "id": "123", "status": "active", "intent": "order",
        "subject": {"reference": "Patient/p1"}, "authoredOn": "2024-01-01",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "999999"}]}}))
    notes = convert_files([path]).notes
    (note,) = [n for n in notes if "drug" in n.message]
    assert [n.message for n in notes if n is not note] == [
        "its patient Patient/p1 is not in the input, so the plan has no sex or age"]
    assert (note.kind, note.severity, note.text, note.line, note.column) == (
        NoteKind.UNMAPPED, "warning", "MedicationRequest/123: drug code RXNORM:999999 not recognised; not checked",
        1, 2)


def test_a_new_drug_in_the_graph_is_read_with_no_change_to_the_converter(tmp_path: Path) -> None:
    """The mapping table is the graph: a drug added to a copy of the ontology, under conventional
    immunosuppressants, with an RxNorm cross-reference, resolves and becomes a prescription."""
    extra = """
    @prefix iim: <https://w3id.org/iimkg/> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
    @prefix oboInOwl: <http://www.geneontology.org/formats/oboInOwl#> .
    iim:IIM_0000199 a <http://www.w3.org/2002/07/owl#Class> ; rdfs:label "leflunomide"@en ;
        rdfs:subClassOf iim:IIM_0000110 ; oboInOwl:hasDbXref "RXNORM:27169" ;
        rdfs:isDefinedBy <https://w3id.org/iimkg/> .
    """
    store = ox.Store()
    store.extend(shipped_quads())
    store.extend(ox.parse(extra, format=ox.RdfFormat.TURTLE))
    mapper = CodeMapper(TermIndex.from_store(store), store)
    path = tmp_path / "lef.json"
    path.write_text(json.dumps({
        "resourceType": "MedicationRequest", "id": "lef", "status": "active", "intent": "order",
        "subject": {"reference": "Patient/p1"}, "authoredOn": "2024-01-01",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "27169", "display": "leflunomide"}]},
        "dosageInstruction": [{"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                               "doseAndRate": [{"doseQuantity": {"value": 20, "unit": "mg"}}]}]}))
    (plan,) = convert_files([path], mapper=mapper).plans
    assert [(rx.drug, rx.dose) for rx in plan.prescriptions] == [(IIM + "IIM_0000199", Decimal(20))]
    assert [(rx.drug) for rx in convert_files([path]).plans[0].prescriptions] == []  # unknown to the shipped graph


# ── doses ──

def dosage(value: object, unit: str, *, timing: dict[str, object] | None = None,
           code: str | None = None) -> dict[str, object]:
    quantity: dict[str, object] = {"value": value, "unit": unit}
    if code:
        quantity["code"] = code
    found: dict[str, object] = {"doseAndRate": [{"doseQuantity": quantity}]}
    if timing is not None:
        found["timing"] = timing
    return found


def repeat(frequency: int | None, period: float, unit: str) -> dict[str, object]:
    found: dict[str, object] = {"period": period, "periodUnit": unit}
    if frequency is not None:
        found["frequency"] = frequency
    return {"repeat": found}


@pytest.mark.parametrize(("dosages", "strength_name", "expected"), [
    ([dosage(10, "mg", timing=repeat(2, 1, "d"))], None, "20"),                       # 10 mg twice a day
    ([dosage(5, "mg", timing=repeat(1, 8, "h"))], None, "15"),                        # every 8 hours
    ([dosage(Decimal("0.5"), "g", timing=repeat(2, 1, "d"))], None, "1000"),          # grams
    ([dosage(500, "ug", timing=repeat(1, 1, "d"))], None, "0.5"),                     # micrograms (UCUM)
    ([dosage(250, "mcg", timing=repeat(1, 1, "d"))], None, "0.25"),
    ([dosage(100, "µg", timing=repeat(1, 1, "d"))], None, "0.1"),
    ([dosage(15, "mg", timing=repeat(1, 1, "wk"))], None, "15"),                      # weekly: dose on the day
    ([dosage(3, "TAB", code="{tbl}", timing=repeat(1, 1, "d"))], "prednisone 5 MG Oral Tablet", "15"),
    ([dosage(2, "mL", timing=repeat(1, 1, "wk"))], "methotrexate 25 MG/ML Injectable Solution", "50"),
    ([dosage(10, "mg", timing={"code": {"coding": [{"code": "TID"}]}})], None, "30"),
    ([dosage(5, "mg", timing={"repeat": {"when": ["MORN", "EVE"]}})], None, "10"),
    ([dosage(10, "mg", timing=repeat(1, 1, "d")), dosage(5, "mg", timing=repeat(1, 1, "d"))], None, "15"),
    ([{"doseAndRate": [{"doseRange": {"low": {"value": 10, "unit": "mg"}, "high": {"value": 20, "unit": "mg"}}}],
       "timing": repeat(1, 1, "d")}], None, "20"),
])
def test_daily_dose_in_mg(dosages: list[dict[str, object]], strength_name: str | None, expected: str) -> None:
    strength = strength_from_name(strength_name) if strength_name else None
    dose = daily_dose(dosages, strength)  # type: ignore[arg-type]
    assert (dose.problem, dose.mg_per_day) == (None, Decimal(expected))


@pytest.mark.parametrize(("dosages", "problem"), [
    ([dosage(30, "mg/kg", timing=repeat(1, 1, "d"))], "the dose unit 'mg/kg' can't be converted to mg"),
    ([dosage(800, "IU", code="[iU]", timing=repeat(1, 1, "d"))], "the dose unit 'IU' can't be converted to mg"),
    ([dosage(2, "TAB", timing=repeat(1, 1, "d"))], "the medication's strength per tablet is not given"),
    ([dosage(10, "mg")], "no timing"),
    ([{"text": "15 mg weekly"}], 'no dose quantity (given only as text: "15 mg weekly")'),
])
def test_dose_that_cannot_be_read_says_why(dosages: list[dict[str, object]], problem: str) -> None:
    dose = daily_dose(dosages, None)  # type: ignore[arg-type]
    assert dose.mg_per_day is None and dose.problem is not None and problem in dose.problem


# ── reading: Bundles, resources, NDJSON, and what is not FHIR ──

def test_resources_keep_their_place_in_a_bundle() -> None:
    located = {r.ref: (r.line, r.column) for r in read_fhir(IBM)}
    lines = IBM.read_text(encoding="utf-8").splitlines()
    for ref, (line, column) in located.items():
        assert lines[line - 1][column - 1:].startswith('"resourceType"'), ref
    assert len(located) == 8


def test_fhir_files_are_told_from_json_ld_plans(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text('{"@context": "https://w3id.org/iimkg/plan-context.jsonld", "type": "TreatmentPlan"}')
    assert [is_fhir_file(p) for p in (FULL, BULK[0], plan, tmp_path / "missing.json")] == [True, True, False, False]


@pytest.mark.parametrize(("name", "text", "line", "column", "message"), [
    ("broken.json", '{"resourceType": "Patient",\n  "id": "p1"\n  "gender": "female"}', 3, 3,
     "not valid JSON: Expecting ',' delimiter"),
    ("array.json", '[{"resourceType": "Patient"}]', None, None, "the document is an array, not a FHIR resource"),
    ("plain.json", '{"name": "not FHIR"}', None, None,
     "the document is a JSON object that has no resourceType, so it is not a FHIR resource"),
    ("entry.json", '{"resourceType": "Bundle", "type": "collection",\n "entry": [{"resource": {"id": "x"}}]}', 1, 2,
     "entry[0].resource is a JSON object that has no resourceType"),
    ("bad.ndjson", '{"resourceType": "Patient", "id": "a"}\n\n{"resourceType": "Patient", "id": }\n', 3, 35,
     "not valid JSON: Expecting value"),
    ("empty.json", "  \n", None, None, "the file is empty"),
    ("nan.json", '{"resourceType": "Observation", "valueQuantity": {"value": NaN}}', 1, 60, "not valid JSON: NaN"),
])
def test_input_that_is_not_fhir_json_names_file_and_place(tmp_path: Path, name: str, text: str, line: int | None,
                                                          column: int | None, message: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as error:
        read_fhir(path)
    assert (error.value.path, error.value.line, error.value.column) == (path, line, column)
    assert message in error.value.detail


def test_several_json_documents_in_a_json_file_are_read_as_ndjson() -> None:
    text = '{"resourceType": "Patient", "id": "a"}\n{"resourceType": "Patient", "id": "b"}\n'
    assert [r.ref for r in read_fhir_text(text, Path("export.json"))] == ["Patient/a", "Patient/b"]


# ── notes as validation findings ──

def test_notes_become_findings_and_strict_makes_unmapped_ones_violations() -> None:
    from iimkg.fhir.intake import fhir_rules, note_finding, read_fhir_inputs, split_fhir
    from iimkg.shacl.findings import Severity

    fhir, other = split_fhir([GAPS, ROOT / "ontology" / "iim.ttl", *BULK])
    assert (fhir, other) == ([GAPS, *BULK], [ROOT / "ontology" / "iim.ttl"])
    given = read_fhir_inputs([GAPS])
    findings = [note_finding(n) for n in given.conversion.notes]
    acei = next(f for f in findings if f.focus == "MedicationRequest/dm-gaps-acei")
    assert (acei.severity, acei.rule, acei.plan, acei.file.endswith("dermatomyositis-gaps.json")) == (
        Severity.WARNING, "fhir_unmapped", "Patient/dm-gaps-7731", True)
    strict = {(f.focus, f.severity) for f in (note_finding(n, strict=True) for n in given.conversion.notes)}
    assert strict == {
        ("Condition/dm-gaps-dx", Severity.INFO), ("Condition/dm-gaps-thyroid", Severity.VIOLATION),
        ("MedicationRequest/dm-gaps-mtx", Severity.VIOLATION), ("MedicationRequest/dm-gaps-acei", Severity.VIOLATION),
        ("Observation/dm-gaps-hr", Severity.VIOLATION)}
    assert [r.name for r in fhir_rules()] == ["fhir_approximated", "fhir_excluded", "fhir_reported", "fhir_skipped",
                                             "fhir_unmapped"]
    # the plan's quads go with the file its patient was read from; its IRI is the patient's fullUrl's fragment
    (plan,) = {q.subject.value for q in given.quads[GAPS]
               if q.object == ox.NamedNode("https://w3id.org/iimkg/TreatmentPlan")}
    assert plan == "https://ehr.example.org/fhir/Patient/dm-gaps-7731#plan-Patient-dm-gaps-7731"


def test_fields_of_the_wrong_shape_are_reported_never_raised(tmp_path: Path) -> None:
    """JSON that is FHIR in shape but has wrong types inside (as a fuzzer makes it) converts with notes."""
    resources = [
        {"resourceType": "Patient", "id": "p", "gender": ["female"], "birthDate": 1960},
        {"resourceType": "MedicationRequest", "id": "m", "status": "active", "intent": "order",
         "subject": {"reference": "Patient/p"}, "authoredOn": "2024-13-45",
         "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "8640"}]},
         "dosageInstruction": [{"timing": {"repeat": {"frequency": "x", "period": 1, "periodUnit": ["d"]}},
                                "doseAndRate": [{"doseQuantity": {"value": "abc", "unit": "mg"}}]}]},
        {"resourceType": "Condition", "id": "c", "subject": "Patient/p", "code": []},
    ]
    path = tmp_path / "odd.ndjson"
    path.write_text("\n".join(json.dumps(r) for r in resources), encoding="utf-8")
    conversion = convert_files([path])
    assert [(rx.drug, rx.dose) for rx in conversion.plans[0].prescriptions] == [(PREDNISONE, None)]
    assert {n.text for n in conversion.unmapped()} == {
        "Patient/p: gender ['female'] has no value in the plan vocabulary (female, male); sex not stated",
        "Patient/p: birthDate 1960 is not a date; not used",
        "MedicationRequest/m: prednisone: the dose quantity's value abc is not a usable number; daily dose not stated",
        "Condition/c: names no patient (subject); not checked",
    }


def test_a_patient_missing_from_the_input_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "conditions.ndjson"
    path.write_text(json.dumps({"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/gone"},
                                "code": {"coding": [{"system": ICD10CM, "code": "M33.2"}]}}) + "\n")
    conversion = convert_files([path])
    assert set(conversion.plans[0].diagnoses) == {PM}
    assert [n.text for n in conversion.unmapped()] == [
        "Condition/c: its patient Patient/gone is not in the input, so the plan has no sex or age"]


def test_an_active_prescription_with_no_end_is_open_ended_and_a_completed_one_is_not() -> None:
    """The usual shape of a chronic prescription in an EHR export: active, a start date, no end, no duration."""
    def request(status: str) -> dict[str, object]:
        return {"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1970-03-01"}},
            {"resource": {"resourceType": "MedicationRequest", "id": "rx1", "status": status, "intent": "order",
                          "subject": {"reference": "Patient/p1"}, "authoredOn": "2024-01-10",
                          "medicationCodeableConcept": {"coding": [
                              {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "8640"}]},
                          "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {
                              "value": 40, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}}],
                              "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}}]}}]}

    for status, expected in (("active", True), ("on-hold", True), ("completed", False)):
        conversion = convert([located for located in read_fhir_text(json.dumps(request(status)), Path("b.json"))])
        (rx,) = conversion.plans[0].prescriptions
        assert rx.open_ended is expected, status
        assert ("iim:openEnded true" in plan_turtle(conversion)) is expected, status


def _bundle(tmp_path: Path, *resources: dict[str, object]) -> Path:
    """A collection Bundle of the given resources, with a patient p-1, written to a file."""
    patient = {"resourceType": "Patient", "id": "p-1", "gender": "female", "birthDate": "1992-04-10"}
    entries = [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in (patient, *resources)]
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}), encoding="utf-8")
    return path


def test_an_observation_with_an_interpretation_is_a_dated_test_result(tmp_path: Path) -> None:
    """A TPMT genotype read as normal (HL7 v3 interpretation N) is the test done and its result on its day, which
    the plan rules read (pre_treatment_test counts a recorded result)."""
    path = _bundle(tmp_path, {
        "resourceType": "Observation", "id": "o-1", "status": "final", "subject": {"reference": "urn:uuid:p-1"},
        "effectiveDateTime": "2026-02-20", "code": {"text": "Thiopurine methyltransferase genotyping"},
        "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                                        "code": "N"}]}]})
    plan = plan_of(convert_files([path]), "Patient/p-1")
    tpmt = IIM + "IIM_0000534"
    assert [(r.test, r.interpretation, r.when.isoformat() if r.when else None)
            for r in plan.patient.test_results] == [(tpmt, "NormalResult", "2026-02-20")]
    assert [(co.measure, co.status) for co in plan.co_interventions] == [(tpmt, "Done")]
    turtle = plan_turtle(convert_files([path]))
    assert "iim:testResult" in turtle and "iim:interpretation iim:NormalResult" in turtle
    assert 'iim:resultDate "2026-02-20"^^xsd:date' in turtle


def test_a_pregnancy_status_observation_makes_the_patient_pregnant(tmp_path: Path) -> None:
    """Pregnancy status (LOINC 82810-3) valued pregnancy is the condition, and membership of pregnant people,
    whatever the LOINC code itself maps to; a value the graph does not know leaves the Observation a test."""
    status = {"resourceType": "Observation", "id": "o-1", "status": "final", "subject": {"reference": "urn:uuid:p-1"},
              "effectiveDateTime": "2026-02-20",
              "code": {"coding": [{"system": "http://loinc.org", "code": "82810-3", "display": "Pregnancy status"}]},
              "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "77386006",
                                                   "display": "Pregnancy"}]}}
    plan = plan_of(convert_files([_bundle(tmp_path, status)]), "Patient/p-1")
    assert set(plan.patient.conditions) == {IIM + "IIM_0000340"}
    assert set(plan.patient.populations) == {IIM + "IIM_0000614"}
    unknown = {**status, "valueCodeableConcept": {"text": "Not known"}}
    plan = plan_of(convert_files([_bundle(tmp_path, unknown)]), "Patient/p-1")
    assert not plan.patient.conditions and not plan.patient.populations


def _condition(identifier: str, text: str, **onset: object) -> dict[str, object]:
    return {"resourceType": "Condition", "id": identifier, "subject": {"reference": "urn:uuid:p-1"},
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "code": {"text": text}, **onset}


def test_the_diagnosis_onset_is_the_plans_onset_date(tmp_path: Path) -> None:
    """Condition.onsetDateTime (or onsetPeriod.start) of a diagnosis is the plan's iim:onsetDate, the earliest of
    its diagnoses; a condition that is not a diagnosis does not set it; a partial onset counts as its last day."""
    path = _bundle(tmp_path,
                   _condition("c-1", "dermatomyositis", onsetDateTime="2025-11-03T10:00:00+01:00"),
                   _condition("c-2", "idiopathic inflammatory myopathy", onsetPeriod={"start": "2025-09-14"}),
                   _condition("c-3", "dysphagia", onsetDateTime="2020-01-01"))
    plan = plan_of(convert_files([path]), "Patient/p-1")
    assert plan.onset_date is not None and plan.onset_date.isoformat() == "2025-09-14"
    assert 'iim:onsetDate "2025-09-14"^^xsd:date' in plan_turtle(convert_files([path]))
    for written, day in (("2025-11", "2025-11-30"), ("2024", "2024-12-31"), ("2024-02", "2024-02-29")):
        partial = _bundle(tmp_path, _condition("c-1", "dermatomyositis", onsetDateTime=written))
        onset = plan_of(convert_files([partial]), "Patient/p-1").onset_date
        assert onset is not None and onset.isoformat() == day


def test_antibody_results_a_statin_and_a_screening_from_fhir_reach_the_plan_rules(tmp_path: Path) -> None:
    """A positive anti-HMGCR Observation (no LOINC code for the myositis antibodies is among the verified references,
    so the intake matches the LOINC display text, as code-systems.tsv says for LOINC), an atorvastatin
    MedicationStatement and necrotising myopathy make one contraindication finding; a positive anti-TIF1γ result
    on a dermatomyositis plan asks for the enhanced cancer screening panel while the basic one, a Procedure, is
    done."""
    from iimkg.plans.validate import validate_plans

    def positive(identifier: str, term: str) -> dict[str, object]:
        return {"resourceType": "Observation", "id": identifier, "status": "final",
                "subject": {"reference": "urn:uuid:p-1"}, "effectiveDateTime": "2026-02-20",
                "code": {"coding": [{"system": "http://loinc.org", "display": term}]},
                "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                          "v3-ObservationInterpretation", "code": "POS"}]}]}

    statin = {"resourceType": "MedicationStatement", "id": "m-1", "status": "active",
              "subject": {"reference": "urn:uuid:p-1"}, "effectivePeriod": {"start": "2026-01-10"},
              "dateAsserted": "2026-03-01", "medicationCodeableConcept": {"text": "atorvastatin"},
              "dosage": [{"doseAndRate": [{"doseQuantity": {"value": 20, "unit": "mg",
                                                            "system": "http://unitsofmeasure.org", "code": "mg"}}],
                          "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}}]}
    imnm = _bundle(tmp_path, _condition("c-1", "immune-mediated necrotizing myopathy", onsetDateTime="2025-12-01"),
                   positive("o-1", "anti-HMGCR antibody test"), statin)
    output = tmp_path / "imnm.ttl"
    output.write_text(plan_turtle(convert_files([imnm])), encoding="utf-8")
    found = [f for f in validate_plans([output]).findings if f.rule == "contraindicated_drug"]
    assert len(found) == 1 and "atorvastatin" in found[0].message and "R046a" in found[0].message

    basic = {"resourceType": "Procedure", "id": "pr-1", "status": "completed", "subject": {"reference": "urn:uuid:p-1"},
             "performedDateTime": "2026-02-25", "code": {"text": "basic cancer screening panel"}}
    dm = _bundle(tmp_path, _condition("c-1", "adult dermatomyositis", onsetDateTime="2025-12-01"),
                 positive("o-1", "anti-TIF1γ antibody test"), statin, basic)
    output.write_text(plan_turtle(convert_files([dm])), encoding="utf-8")
    found = [f for f in validate_plans([output]).findings if f.rule == "cancer_screening"]
    assert len(found) == 1 and "enhanced cancer screening panel" in found[0].message and "R156" in found[0].message


def _imnm_with_statin(tmp_path: Path, *statins: dict[str, object]) -> Path:
    """Necrotising myopathy with a positive anti-HMGCR result and the given statin MedicationStatements, converted
    to Turtle."""
    antibody = {"resourceType": "Observation", "id": "o-1", "status": "final",
                "subject": {"reference": "urn:uuid:p-1"}, "effectiveDateTime": "2026-02-20",
                "code": {"coding": [{"system": "http://loinc.org", "display": "anti-HMGCR antibody test"}]},
                "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                          "v3-ObservationInterpretation", "code": "POS"}]}]}
    bundle = _bundle(tmp_path, _condition("c-1", "immune-mediated necrotizing myopathy", onsetDateTime="2025-10-01"),
                     antibody, *statins)
    output = tmp_path / "imnm.ttl"
    output.write_text(plan_turtle(convert_files([bundle])), encoding="utf-8")
    return output


def _statin_statement(identifier: str, name: str, status: str, **period: str) -> dict[str, object]:
    return {"resourceType": "MedicationStatement", "id": identifier, "status": status,
            "subject": {"reference": "urn:uuid:p-1"}, "effectivePeriod": period, "dateAsserted": "2026-03-01",
            "medicationCodeableConcept": {"text": name},
            "dosage": [{"doseAndRate": [{"doseQuantity": {"value": 40, "unit": "mg",
                                                          "system": "http://unitsofmeasure.org", "code": "mg"}}],
                        "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}}]}


@pytest.mark.parametrize(("status", "period"), [
    ("completed", {"start": "2024-06-01", "end": "2025-09-01"}),   # ended six months before the plan date
    ("active", {"start": "2024-06-01", "end": "2025-09-01"}),      # the period says it ended, whatever the status
    ("stopped", {"start": "2024-06-01"}),                          # stopped, no end date: assumed, with a note
    ("completed", {"start": "2024-06-01"}),                        # completed, no end date: the same
])
def test_a_statin_that_ended_before_the_plan_date_is_past_exposure_not_a_finding(
        status: str, period: dict[str, str], tmp_path: Path) -> None:
    """The anti-HMGCR patient whose statin was stopped: no contraindication finding, but still statin-exposed, so
    a statin taken now (another of the class) is the finding."""
    from iimkg.plans.validate import validate_plans
    from test_clinical_plans import STATIN_EXPOSED, derived

    past = _statin_statement("m-1", "atorvastatin", status, **period)
    output = _imnm_with_statin(tmp_path, past)
    assert not [f for f in validate_plans([output]).findings if f.rule == "contraindicated_drug"]
    assert STATIN_EXPOSED in {population for _, population in derived(output, "inPopulation")}
    conversion = convert_files([output.parent / "bundle.json"])
    (co,) = [c for c in conversion.plans[0].co_interventions if c.source.ref == "MedicationStatement/m-1"]
    assert co.stopped is ("end" not in period or status == "stopped")
    assert co.end == (None if "end" not in period else date.fromisoformat(period["end"]))
    assert any("past exposure" in note.message for note in conversion.notes) is ("end" not in period)

    now = _statin_statement("m-2", "rosuvastatin", "active", start="2026-02-01")
    found = [f for f in validate_plans([_imnm_with_statin(tmp_path, past, now)]).findings
             if f.rule == "contraindicated_drug"]
    assert len(found) == 1 and "rosuvastatin" in found[0].message and "atorvastatin" not in found[0].message


def test_a_stopped_treatment_is_a_prescription_marked_stopped(tmp_path: Path) -> None:
    """A drug the graph names as a treatment, stopped with no end date: kept (it was dropped before), as a
    prescription the rules read as past exposure, so no duration finding either."""
    from iimkg.plans.validate import validate_plans

    methotrexate = _statin_statement("m-1", "methotrexate", "stopped", start="2024-06-01")
    output = _imnm_with_statin(tmp_path, methotrexate)
    (rx,) = convert_files([output.parent / "bundle.json"]).plans[0].prescriptions
    assert rx.stopped and not rx.open_ended
    assert "iim:stopped true" in output.read_text(encoding="utf-8")
    rules = {f.rule for f in validate_plans([output]).findings}
    assert not rules & {"duration_given", "pre_treatment_test", "tuberculosis_screening", "contraindicated_drug"}


def test_converted_plans_use_absolute_iris_only() -> None:
    """Issue 17: the Turtle parses with no base IRI (a relative IRI would be an error), every plan, patient and node
    IRI is absolute, and each plan's is stable: the patient's fullUrl where a Bundle gives one, else a UUID named
    after Patient/id (bulk NDJSON), the same on every conversion."""
    conversion = convert_files([FULL, GAPS, IBM, *BULK])
    text = plan_turtle(conversion)
    quads = list(ox.parse(text, format=ox.RdfFormat.TURTLE))
    assert "<#" not in text and quads
    nodes = {t.value for q in quads for t in (q.subject, q.object) if isinstance(t, ox.NamedNode)}
    assert all(n.startswith(("https://", "http://", "urn:uuid:")) for n in nodes), nodes
    plans = {q.subject.value for q in quads if q.object == ox.NamedNode("https://w3id.org/iimkg/TreatmentPlan")}
    assert len(plans) == len(conversion.plans) == 8
    assert "https://ehr.example.org/fhir/Patient/dm-gaps-7731#plan-Patient-dm-gaps-7731" in plans
    def bulk_plans() -> set[str]:
        return {q.subject.value for q in ox.parse(plan_turtle(convert_files(BULK)), format=ox.RdfFormat.TURTLE)
                if q.object == ox.NamedNode("https://w3id.org/iimkg/TreatmentPlan")}

    from_bulk = bulk_plans()
    assert from_bulk and all(p.startswith("urn:uuid:") for p in from_bulk) and from_bulk == bulk_plans()
    assert from_bulk <= plans


V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


@pytest.mark.parametrize(("value", "expected"), [
    ({"valueString": "Positive"}, "PositiveResult"),
    ({"valueString": " not detected "}, "NegativeResult"),
    ({"valueCodeableConcept": {"text": "Negative"}}, "NegativeResult"),
    ({"valueCodeableConcept": {"coding": [{"system": V3_INTERPRETATION, "code": "POS"}]}}, "PositiveResult"),
    ({"valueCodeableConcept": {"coding": [{"display": "Detected"}]}}, "PositiveResult"),
    ({"valueString": "borderline"}, None),
    ({"valueQuantity": {"value": 160, "unit": "titre"}}, None),
])
def test_an_antibody_result_written_as_its_value_is_read(value: dict[str, object], expected: str | None,
                                                         tmp_path: Path) -> None:
    """A line blot reports "Positive" as the value, with no interpretation: the result is read from it; a value
    that is not qualitative leaves the test done with no result."""
    observation = {"resourceType": "Observation", "id": "o-1", "status": "final",
                   "subject": {"reference": "urn:uuid:p-1"}, "effectiveDateTime": "2026-02-20",
                   "code": {"text": "anti-TIF1γ antibody test"}, **value}
    plan = plan_of(convert_files([_bundle(tmp_path, observation)]), "Patient/p-1")
    tif1g = IIM + "IIM_0000549"
    assert [(r.test, r.interpretation) for r in plan.patient.test_results] == ([(tif1g, expected)] if expected else [])
    assert [co.measure for co in plan.co_interventions] == [tif1g]


def test_an_operation_outcome_is_a_note_per_issue_a_warning_for_an_error(tmp_path: Path) -> None:
    """A Bulk Data export's error file (or a search's outcome): what the server could not give is not in the plans,
    so a gap found may be one in the data only; the clinician is told, with the server's words."""
    outcome = {"resourceType": "OperationOutcome", "id": "export-errors", "issue": [
        {"severity": "error", "code": "exception", "diagnostics": "Observation/obs-9: could not be exported"},
        {"severity": "fatal", "code": "timeout", "details": {"text": "the export of\nMedicationRequest timed out"}},
        {"severity": "warning", "code": "incomplete"},
        {"severity": "information", "code": "informational", "diagnostics": "x" * 400},
        "not an issue"]}
    errors = tmp_path / "OperationOutcome.ndjson"
    errors.write_text(json.dumps(outcome) + "\n", encoding="utf-8")
    conversion = convert_files([*BULK, errors])
    reported = {n.message: n.severity for n in conversion.notes if n.kind is NoteKind.REPORTED}
    consequence = "; what it could not give is not in the plans, so a gap found may be one in the data only"
    assert reported == {
        "the source reports an error: Observation/obs-9: could not be exported" + consequence: "warning",
        "the source reports a fatal error: the export of MedicationRequest timed out" + consequence: "warning",
        "the source reports a warning: incomplete": "info",
        "the source reports information: " + "x" * 300 + "…": "info"}
    assert all(n.plan is None and n.resource == "OperationOutcome/export-errors" for n in conversion.notes
               if n.kind is NoteKind.REPORTED)
    assert len(conversion.plans) == len(convert_files(BULK).plans), "the plans are those of the export"


def _tacrolimus_request(concept: dict[str, object], route: str | None = None) -> dict[str, object]:
    dosage: dict[str, object] = {"timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}}
    if route is not None:
        dosage["route"] = {"text": route}
    return {"resourceType": "MedicationRequest", "id": "rx-1", "status": "active", "intent": "order",
            "subject": {"reference": "urn:uuid:p-1"}, "authoredOn": "2026-03-02",
            "medicationCodeableConcept": concept, "dosageInstruction": [dosage]}


@pytest.mark.parametrize(("concept", "route", "local"), [
    ({"text": "tacrolimus 0.1 % Topical Ointment"}, None, True),
    ({"coding": [{"system": "http://www.whocc.no/atc", "code": "D11AH01"}]}, None, True),
    ({"coding": [{"system": RXNORM, "code": "42316"}]}, "Topical route", True),
    ({"text": "prednisolone acetate 1 % eye drops"}, None, True),
    ({"text": "prednisolone 5 MG Oral Tablet"}, "Inhalation", True),
    ({"coding": [{"system": RXNORM, "code": "42316"}]}, "Oral route", False),
    ({"coding": [{"system": "http://www.whocc.no/atc", "code": "L04AD02"}]}, None, False),
    ({"text": "tacrolimus 1 MG Oral Capsule"}, None, False),
], ids=["topical-name", "atc-dermatological", "topical-route", "eye-drops", "inhaled-route", "oral-route",
        "atc-systemic", "oral-name"])
def test_a_drug_for_local_use_is_left_out_with_a_note(concept: dict[str, object], route: str | None, local: bool,
                                                      tmp_path: Path) -> None:
    """Tacrolimus ointment or prednisolone eye drops are not the systemic immunosuppression the rules are about
    (reference row 75: topical and inhaled glucocorticoids are no contraindication to live vaccines): read by
    route, name or a dermatological / eye and ear ATC code, such a drug is left out of the plan with a note that
    says why; the same drug by mouth is a prescription."""
    path = _bundle(tmp_path, _tacrolimus_request(concept, route))
    conversion = convert(list(read_fhir_text(path.read_text(encoding="utf-8"), path)))
    [plan] = conversion.plans
    excluded = {n.message for n in conversion.notes if n.kind is NoteKind.EXCLUDED and "local use" in n.message}
    assert bool(excluded) is local, excluded
    assert (not plan.prescriptions) is local
    if local:
        assert all("not systemic treatment" in text for text in excluded)

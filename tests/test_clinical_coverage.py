"""The clinical topics a specialist expects (issue 14), each asked as a clinical question.

Interactions, pregnancy and lactation, boxed warnings, pre-treatment tests, antibody-defined subtypes and cancer
screening: every question is answered by a named query on both engines (or by the graph where it is about what the
graph says), for drugs of the same class and patients of other ages too. The last tests hold docs/clinical-scope.md
to the graph, so that what it says is covered is there and what is in the graph is listed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

import pyoxigraph as ox
import pytest
import rdflib

from iimkg.core.kinds import Engine
from iimkg.queries.run import Row, query

from conftest import IIM, ROOT

ENGINES = list(Engine)

AZATHIOPRINE, MERCAPTOPURINE, THIOPURINE = IIM + "IIM_0000112", IIM + "IIM_0000119", IIM + "IIM_0000118"
ALLOPURINOL, FEBUXOSTAT = IIM + "IIM_0000175", IIM + "IIM_0000176"
METHOTREXATE, CO_TRIMOXAZOLE, TRIMETHOPRIM = IIM + "IIM_0000111", IIM + "IIM_0000151", IIM + "IIM_0000177"
RIFAMPICIN, RIFAPENTINE = IIM + "IIM_0000154", IIM + "IIM_0000158"
TACROLIMUS, MYCOPHENOLATE, ANTACID = IIM + "IIM_0000115", IIM + "IIM_0000113", IIM + "IIM_0000109"
PREGNANT, BREASTFEEDING, PLANNING = IIM + "IIM_0000614", IIM + "IIM_0000615", IIM + "IIM_0000616"
ADULTS, CHILDREN, HIGH_CANCER_RISK = IIM + "IIM_0000612", IIM + "IIM_0000604", IIM + "IIM_0000617"
TPMT, NUDT15 = IIM + "IIM_0000534", IIM + "IIM_0000539"
BLOOD_COUNT, LIVER_TESTS, RENAL_TESTS, IMMUNOGLOBULINS = (
    IIM + "IIM_0000532", IIM + "IIM_0000533", IIM + "IIM_0000538", IIM + "IIM_0000535")
BASIC_PANEL, ENHANCED_PANEL = IIM + "IIM_0000542", IIM + "IIM_0000543"
INFUSION_REACTION, MUCOCUTANEOUS, HBV_REACTIVATION, PML = (
    IIM + "IIM_0000326", IIM + "IIM_0000343", IIM + "IIM_0000404", IIM + "IIM_0000327")
THROMBOEMBOLISM, RENAL_IMPAIRMENT, MACE, EMBRYO_FETAL = (
    IIM + "IIM_0000318", IIM + "IIM_0000319", IIM + "IIM_0000344", IIM + "IIM_0000328")
ADRENAL_INSUFFICIENCY, CATARACT, GLAUCOMA, DIABETES = (
    IIM + "IIM_0000321", IIM + "IIM_0000322", IIM + "IIM_0000323", IIM + "IIM_0000305")
ILD, RP_ILD = IIM + "IIM_0000317", IIM + "IIM_0000342"
CONTRAINDICATION, COMPATIBILITY = IIM + "ContraindicationStatement", IIM + "CompatibilityStatement"
SCOPE_DOC = ROOT / "docs" / "clinical-scope.md"


def stmt(name: str) -> str:
    return IIM + "statement-" + name


def value(row: Row, column: str) -> str | None:
    term = row[column]
    return None if term is None else term.value


def column(result: Iterable[Row], name: str) -> set[str | None]:
    return {value(r, name) for r in result}


def select(store: ox.Store, text: str) -> list[dict[str, str]]:
    solutions = store.query("PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
                            "PREFIX dcterms: <http://purl.org/dc/terms/>\n"
                            f"PREFIX iim: <{IIM}>\n" + text)
    assert isinstance(solutions, ox.QuerySolutions)
    names = [v.value for v in solutions.variables]
    return [{n: s[n].value for n in names if s[n] is not None} for s in solutions]


def superclasses(store: ox.Store, term: str) -> set[str]:
    return {r["c"] for r in select(store, f"SELECT ?c WHERE {{ <{term}> rdfs:subClassOf* ?c }}")}


# ── 1. drug-drug interactions ──

@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("thiopurine", [AZATHIOPRINE, MERCAPTOPURINE])
@pytest.mark.parametrize("inhibitor", [ALLOPURINOL, FEBUXOSTAT])
def test_a_thiopurine_with_a_xanthine_oxidase_inhibitor_is_an_interaction_with_what_to_do(
        store: ox.Store, thiopurine: str, inhibitor: str, engine: Engine) -> None:
    rows = [r for r in query("interactions", drug=thiopurine, engine=engine) if value(r, "partner") == inhibitor]
    assert rows and all(value(r, "role") == "affected" for r in rows)
    assert {value(r, "management") for r in rows} - {None}
    # … and asked from the other side, the thiopurine (or its class) is the partner
    partners = column(query("interactions", drug=inhibitor, engine=engine), "partner")
    assert partners & superclasses(store, thiopurine)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("thiopurine", [AZATHIOPRINE, MERCAPTOPURINE])
def test_febuxostat_is_not_to_be_given_with_a_thiopurine(thiopurine: str, engine: Engine) -> None:
    rows = [r for r in query("interactions", drug=thiopurine, engine=engine) if value(r, "partner") == FEBUXOSTAT]
    assert IIM + "DoNotCombine" in column(rows, "management")


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("antifolate", [CO_TRIMOXAZOLE, TRIMETHOPRIM])
def test_methotrexate_with_co_trimoxazole_or_trimethoprim_can_be_fatal_and_is_avoided(antifolate: str,
                                                                                      engine: Engine) -> None:
    rows = [r for r in query("interactions", drug="methotrexate", engine=engine) if value(r, "partner") == antifolate]
    assert (IIM + "LifeThreatening", IIM + "AvoidCombination") in {
        (value(r, "severity"), value(r, "management")) for r in rows}


@pytest.mark.parametrize("engine", ENGINES)
def test_prophylactic_co_trimoxazole_evidence_is_shown_beside_the_methotrexate_warning(engine: Engine) -> None:
    rows = query("interactions", drug="methotrexate", engine=engine)
    assert stmt("R125") in {value(r, "qualifiedBy") for r in rows if value(r, "statement") == stmt("R123")}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("drug", ["tacrolimus", "ciclosporin", "prednisolone", "prednisone", "tofacitinib"])
def test_a_rifamycin_lowers_calcineurin_inhibitors_glucocorticoids_and_tofacitinib(drug: str, engine: Engine) -> None:
    assert RIFAMPICIN in column(query("interactions", drug=drug, engine=engine), "partner")


@pytest.mark.parametrize("engine", ENGINES)
def test_asking_about_a_drug_class_lists_the_interactions_of_its_members(engine: Engine) -> None:
    rows = query("interactions", drug="calcineurin inhibitor", engine=engine)
    assert {RIFAMPICIN, RIFAPENTINE} <= column(rows, "partner")


@pytest.mark.parametrize("engine", ENGINES)
def test_rifampicin_is_the_drug_that_changes_the_others(engine: Engine) -> None:
    rows = query("interactions", drug="rifampicin", engine=engine)
    assert rows and column(rows, "role") == {"affects"}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("azole", ["voriconazole", "posaconazole", "fluconazole"])
def test_every_azole_antifungal_raises_tacrolimus_and_the_dose_is_adjusted(azole: str, engine: Engine) -> None:
    """R137 speaks of the class, so each azole inherits it; voriconazole also has its own weak R138."""
    rows = [r for r in query("interactions", drug=azole, engine=engine) if value(r, "partner") == TACROLIMUS]
    assert stmt("R137") in column(rows, "statement") and column(rows, "role") == {"affects"}
    assert IIM + "AdjustDose" in column(rows, "management")
    weak = {value(r, "statement") for r in rows if value(r, "evidence") == IIM + "WeakEvidence"}
    assert weak == ({stmt("R138")} if azole == "voriconazole" else set())


@pytest.mark.parametrize("engine", ENGINES)
def test_mycophenolate_is_lowered_by_proton_pump_inhibitors_and_antacids(engine: Engine) -> None:
    rows = query("interactions", drug="mycophenolate mofetil", engine=engine)
    assert {stmt("R139"), stmt("R140")} <= column(rows, "statement")
    assert {(value(r, "partner"), value(r, "management")) for r in rows if value(r, "statement") == stmt("R139")} == {
        (ANTACID, IIM + "SeparateDoses")}
    # … and asked from a proton pump inhibitor, mycophenolate is the partner
    assert MYCOPHENOLATE in column(query("interactions", drug="pantoprazole", engine=engine), "partner")


# ── 2. pregnancy and lactation ──

def pregnancy_rows(drug: str, population: str, engine: Engine) -> list[Row]:
    return [r for r in query("pregnancy", drug=drug, engine=engine) if value(r, "population") == population]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("drug", ["methotrexate", "mycophenolate mofetil", "cyclophosphamide"])
def test_teratogenic_drugs_are_contraindicated_in_pregnancy_and_before_conception(drug: str, engine: Engine) -> None:
    for population in (PREGNANT, PLANNING):
        assert CONTRAINDICATION in column(pregnancy_rows(drug, population, engine), "kind"), population


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("drug", ["methotrexate", "mycophenolate mofetil"])
def test_the_washout_before_conception_is_given_in_days_by_every_source_that_gives_one(
        store: ox.Store, drug: str, engine: Engine) -> None:
    term = {"methotrexate": METHOTREXATE, "mycophenolate mofetil": IIM + "IIM_0000113"}[drug]
    stated = {(r["s"], r["days"]) for r in select(store, f"""
        SELECT ?s ?days WHERE {{ ?s iim:drug <{term}> ; iim:stopBeforeConceptionDays ?days }}""")}
    answered = {(value(r, "statement"), value(r, "stopBeforeConceptionDays"))
                for r in pregnancy_rows(drug, PLANNING, engine) if value(r, "stopBeforeConceptionDays")}
    assert stated and answered == stated


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("drug", ["azathioprine", "hydroxychloroquine", "intravenous immunoglobulin", "prednisolone",
                                  "tacrolimus", "ciclosporin"])
def test_drugs_compatible_with_pregnancy_are_said_to_be_and_never_contraindicated(drug: str, engine: Engine) -> None:
    kinds = column(pregnancy_rows(drug, PREGNANT, engine), "kind")
    assert COMPATIBILITY in kinds and CONTRAINDICATION not in kinds


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("drug", ["methotrexate", "mycophenolate mofetil", "cyclophosphamide"])
def test_every_statement_for_a_population_the_pregnancy_query_names_is_answered(
        store: ox.Store, drug: str, engine: Engine) -> None:
    """The query's description names people who can become pregnant (contraception, embryo-fetal warnings,
    counselling) with the pregnant, breastfeeding and planning: each statement about the drug for one of them is a
    row, with its contraception days where it gives them."""
    term = {"methotrexate": METHOTREXATE, "mycophenolate mofetil": MYCOPHENOLATE,
            "cyclophosphamide": IIM + "IIM_0000117"}[drug]
    named = {PREGNANT, BREASTFEEDING, PLANNING, IIM + "IIM_0000608"}   # + people who can become pregnant
    stated = {(r["s"], r["p"]) for r in select(store, f"""
        SELECT ?s ?p WHERE {{ ?s iim:drug <{term}> ; iim:population ?p }}""") if r["p"] in named}
    answered = {(value(r, "statement"), value(r, "population")) for r in query("pregnancy", drug=drug, engine=engine)}
    assert {p for _, p in stated} >= {IIM + "IIM_0000608"}, "the drug has statements for people who can conceive"
    assert stated <= answered
    days = {r["s"] for r in select(store, f"""
        SELECT ?s WHERE {{ ?s iim:drug <{term}> ; iim:contraceptionAfterStopDays ?d }}""")}
    assert days and days <= {value(r, "statement") for r in query("pregnancy", drug=drug, engine=engine)
                             if value(r, "contraceptionAfterStopDays")}


@pytest.mark.parametrize("engine", ENGINES)
def test_mycophenolate_is_not_for_breastfeeding_but_rituximab_is_compatible(engine: Engine) -> None:
    assert CONTRAINDICATION in column(pregnancy_rows("mycophenolate mofetil", BREASTFEEDING, engine), "kind")
    assert COMPATIBILITY in column(pregnancy_rows("rituximab", BREASTFEEDING, engine), "kind")


def test_no_drug_is_both_compatible_and_contraindicated_for_the_same_population(store: ox.Store) -> None:
    clashes = select(store, """
        SELECT ?drug ?population WHERE {
          ?ok a iim:CompatibilityStatement ; iim:drug ?drug ; iim:population ?population .
          ?no a iim:ContraindicationStatement ; iim:drug ?drug ; iim:population ?population }""")
    assert clashes == []


# ── 3. boxed warnings and serious adverse effects ──

def boxed(drug: str, engine: Engine) -> set[str | None]:
    return {value(r, "effect") for r in query("adverse-effects", drug=drug, engine=engine)
            if value(r, "boxedWarning") == "true"}


@pytest.mark.parametrize("engine", ENGINES)
def test_rituximab_carries_its_four_boxed_warnings(engine: Engine) -> None:
    assert {INFUSION_REACTION, MUCOCUTANEOUS, HBV_REACTIVATION, PML} <= boxed("rituximab", engine)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("drug", ["tofacitinib", "baricitinib", "upadacitinib"])
def test_every_licensed_jak_inhibitor_carries_the_2021_boxed_warning(drug: str, engine: Engine) -> None:
    assert {THROMBOEMBOLISM, MACE} <= boxed(drug, engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_an_investigational_jak_inhibitor_inherits_no_boxed_warning(engine: Engine) -> None:
    assert boxed("brepocitinib", engine) == set()


@pytest.mark.parametrize("engine", ENGINES)
def test_ivig_and_mycophenolate_boxed_warnings(engine: Engine) -> None:
    assert {THROMBOEMBOLISM, RENAL_IMPAIRMENT} <= boxed("intravenous immunoglobulin", engine)
    assert EMBRYO_FETAL in boxed("mycophenolate mofetil", engine)
    profile = query("drug-profile", drug="mycophenolate mofetil", engine=engine)
    assert any(value(r, "value") == EMBRYO_FETAL and value(r, "boxedWarning") == "true" for r in profile)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("drug", ["prednisone", "methylprednisolone"])
def test_glucocorticoid_harms_beyond_bone_reach_every_glucocorticoid(drug: str, engine: Engine) -> None:
    effects = column(query("adverse-effects", drug=drug, engine=engine), "effect")
    assert {ADRENAL_INSUFFICIENCY, CATARACT, GLAUCOMA, DIABETES} <= effects


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("drug", ["rituximab", "prednisolone", "cyclophosphamide", "atorvastatin", "methotrexate",
                                  "mycophenolate mofetil"])
def test_a_drug_profile_gives_its_doses_contraindications_precautions_and_associations(
        store: ox.Store, drug: str, engine: Engine) -> None:
    """What do we know about this drug: every dose a therapy statement gives for the drug itself (R001, R017), and
    every contraindication, precaution, compatibility and association stated for it or a class of it (statins:
    R046a, R045), each with its population or condition."""
    [term] = {r["t"] for r in select(store, f"""SELECT ?t WHERE {{ ?t rdfs:label "{drug}"@en }}""")}
    expected = {("dose", r["s"], r["v"]) for r in select(store, f"""SELECT ?s ?v WHERE {{
        ?s a iim:TherapyStatement ; iim:therapy <{term}> ; iim:doseText ?v }}""")}
    for kind, aspect in (("ContraindicationStatement", "contraindication"), ("PrecautionStatement", "precaution"),
                         ("CompatibilityStatement", "compatibility")):
        expected |= {(aspect, r["s"], r["v"]) for r in select(store, f"""SELECT ?s ?v WHERE {{
            <{term}> rdfs:subClassOf* ?c . ?s a iim:{kind} ; iim:drug ?c ; iim:population ?v }}""")}
    expected |= {("association", r["s"], r["v"]) for r in select(store, f"""SELECT ?s ?v WHERE {{
        <{term}> rdfs:subClassOf* ?c .
        ?s a iim:AssociationStatement ; iim:subjectTerm ?c ; iim:associatedWith ?v }}""")}
    assert expected, "the drug has such statements"
    aspects = {aspect for aspect, _, _ in expected}
    answered = {(value(r, "aspect"), value(r, "statement"), value(r, "value"))
                for r in query("drug-profile", drug=drug, engine=engine) if value(r, "aspect") in aspects}
    assert expected <= answered
    classes_doses = {r["s"] for r in select(store, f"""SELECT ?s WHERE {{ <{term}> rdfs:subClassOf+ ?c .
        ?s a iim:TherapyStatement ; iim:therapy ?c ; iim:doseText [] }}""")}
    assert not classes_doses & {s for aspect, s, _ in answered if aspect == "dose"}, "a class's dose is its own"


# ── 4. pre-treatment tests and monitoring ──

def timed_tests(drug: str, timing: str, engine: Engine) -> set[str | None]:
    return {value(r, "test") for r in query("pre-treatment-tests", drug=drug, engine=engine)
            if value(r, "when") == IIM + timing}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("drug", ["azathioprine", "mercaptopurine"])
def test_tpmt_and_nudt15_are_tested_before_a_thiopurine_is_started(drug: str, engine: Engine) -> None:
    assert {TPMT, NUDT15} <= timed_tests(drug, "BeforeStart", engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_methotrexate_needs_baseline_and_periodic_blood_tests(engine: Engine) -> None:
    assert {BLOOD_COUNT, LIVER_TESTS, RENAL_TESTS} <= timed_tests("methotrexate", "BeforeStart", engine)
    assert {BLOOD_COUNT, LIVER_TESTS, RENAL_TESTS} <= timed_tests("methotrexate", "DuringTreatment", engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_mycophenolate_needs_periodic_blood_tests(engine: Engine) -> None:
    assert {BLOOD_COUNT, LIVER_TESTS, RENAL_TESTS} <= timed_tests("mycophenolate mofetil", "DuringTreatment", engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_immunoglobulins_are_measured_before_each_rituximab_course(engine: Engine) -> None:
    assert IMMUNOGLOBULINS in timed_tests("rituximab", "BeforeEachCourse", engine)


def test_a_pre_treatment_test_is_timed_before_treatment_and_a_monitoring_test_during_it(store: ox.Store) -> None:
    wrong = select(store, """
        SELECT ?s WHERE {
          { ?s a iim:PreTreatmentTestStatement FILTER NOT EXISTS {
              ?s iim:testTiming ?t FILTER (?t IN (iim:BeforeStart, iim:BeforeEachCourse)) } }
          UNION { ?s a iim:MonitoringStatement ; iim:testTiming ?t FILTER (?t != iim:DuringTreatment) } }""")
    assert wrong == []


# ── 5. antibody-defined subtypes ──

@pytest.mark.parametrize("engine", ENGINES)
def test_anti_mda5_dm_gets_combination_therapy_for_rapidly_progressive_ild_and_other_dm_does_not(
        engine: Engine) -> None:
    rows = query("treatments", disease="anti-MDA5 dermatomyositis", engine=engine)
    first_line = {value(r, "statement") for r in rows if value(r, "situation") == RP_ILD
                  and value(r, "role") == IIM + "FirstLine"}
    assert stmt("R142a") in first_line
    other = query("treatments", disease="adult dermatomyositis", engine=engine)
    assert RP_ILD not in column(other, "situation")


@pytest.mark.parametrize("engine", ENGINES)
def test_statin_myopathy_means_no_statin_again_and_a_pcsk9_inhibitor_for_lipids(engine: Engine) -> None:
    found = {value(r, "statement") for r in query("evidence", term="anti-HMGCR myopathy", engine=engine)}
    assert {stmt("R046a"), stmt("R046b")} <= found


@pytest.mark.parametrize("engine", ENGINES)
def test_antisynthetase_syndrome_is_associated_with_interstitial_lung_disease(engine: Engine) -> None:
    rows = query("evidence", term="antisynthetase syndrome", engine=engine)
    assert stmt("R150") in column(rows, "statement")


# ── 6. cancer screening ──

@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("disease", ["adult dermatomyositis", "polymyositis", "anti-TIF1γ dermatomyositis"])
def test_adults_with_iim_are_screened_for_cancer_with_the_imacs_panels(disease: str, engine: Engine) -> None:
    rows = query("cancer-screening", disease=disease, engine=engine)
    assert {BASIC_PANEL, ENHANCED_PANEL} <= column(rows, "test")
    assert column(rows, "ageGroup") == {ADULTS}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("disease", ["juvenile dermatomyositis", "juvenile idiopathic inflammatory myopathy"])
def test_children_with_juvenile_iim_are_not_routinely_screened_for_cancer(disease: str, engine: Engine) -> None:
    """R161 is about juvenile-onset disease at any age (IMACS: 'juvenile-onset IIM'), so it names no age group."""
    rows = query("cancer-screening", disease=disease, engine=engine)
    assert rows and column(rows, "advice") == {IIM + "ScreeningNotRoutine"}
    assert column(rows, "ageGroup") == {None} and column(rows, "statement") == {stmt("R161")}


@pytest.mark.parametrize("engine", ENGINES)
def test_imacs_screening_applies_within_3_years_of_onset(engine: Engine) -> None:
    rows = query("cancer-screening", disease="polymyositis", engine=engine)
    advised = [r for r in rows if value(r, "advice") == IIM + "ScreeningAdvised"]
    assert advised and {value(r, "yearsAfterOnset") for r in advised} == {"3"}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("disease", ["anti-TIF1γ dermatomyositis", "anti-NXP2 dermatomyositis"])
def test_anti_tif1g_and_anti_nxp2_dm_are_shown_as_high_risk_with_the_statement_that_says_so(
        disease: str, engine: Engine) -> None:
    rows = [r for r in query("cancer-screening", disease=disease, engine=engine)
            if value(r, "population") == HIGH_CANCER_RISK]
    assert rows and column(rows, "riskGroupBy") == {stmt("R156")}


@pytest.mark.parametrize("engine", ENGINES)
def test_a_dm_subtype_not_known_to_be_high_risk_gets_no_risk_group_statement(engine: Engine) -> None:
    rows = query("cancer-screening", disease="adult dermatomyositis", engine=engine)
    assert column(rows, "riskGroupBy") == {None}


@pytest.mark.parametrize("engine", ENGINES)
def test_checkpoint_inhibitor_myositis_is_outside_iim_and_inherits_nothing(store: ox.Store, engine: Engine) -> None:
    ici = IIM + "IIM_0000050"
    assert IIM + "IIM_0000001" not in superclasses(store, ici)
    assert len(query("cancer-screening", disease=ici, engine=engine)) == 0
    assert len(query("treatments", disease=ici, engine=engine)) == 0


# ── 7. the plan vocabulary ──

def test_a_json_plan_states_a_dated_antibody_result_and_a_planned_pregnancy() -> None:
    context = json.loads((ROOT / "ontology" / "plan-context.jsonld").read_text(encoding="utf-8"))
    patient = {"@context": context["@context"], "id": "https://example.org/patient/1", "type": "Patient",
               "populations": ["iim:IIM_0000616"],
               "testResults": [{"type": "TestResult", "test": "iim:IIM_0000549", "interpretation": "positive",
                                "resultDate": "2026-02-20"}]}
    graph = rdflib.Graph().parse(data=json.dumps(patient), format="json-ld")
    result = graph.value(rdflib.URIRef("https://example.org/patient/1"), rdflib.URIRef(IIM + "testResult"))
    assert result is not None
    assert graph.value(result, rdflib.URIRef(IIM + "interpretation")) == rdflib.URIRef(IIM + "PositiveResult")
    assert graph.value(result, rdflib.URIRef(IIM + "resultOf")) == rdflib.URIRef(IIM + "IIM_0000549")
    assert graph.value(result, rdflib.URIRef(IIM + "resultDate")) == rdflib.Literal(
        "2026-02-20", datatype=rdflib.XSD.date)


# ── docs/clinical-scope.md holds to the graph ──

ID_PATTERN = re.compile(r"\b([RS]\d{2,3}[a-z]?)\b")


def scope_text() -> str:
    return SCOPE_DOC.read_text(encoding="utf-8")


def statement_ids(store: ox.Store) -> set[str]:
    return {r["id"] for r in select(store, """
        SELECT ?id WHERE { ?s a ?k ; dcterms:identifier ?id . ?k rdfs:subClassOf iim:ClinicalStatement }""")}


def test_every_statement_the_scope_page_names_is_in_the_graph(store: ox.Store) -> None:
    named = set(ID_PATTERN.findall(scope_text()))
    assert named and named - statement_ids(store) == set()


def test_every_statement_of_the_second_pass_rows_is_on_the_scope_page(store: ox.Store) -> None:
    text = scope_text()
    second_pass = {i for i in statement_ids(store) if i.startswith("R") and 123 <= int(i[1:4]) <= 220}
    unnamed = {i for i in second_pass if not re.search(rf"\b{i}\b", text)
               and not re.search(rf"\b{i[:4]}[a-z]?–{i[:4]}[a-z]\b", text)}
    assert second_pass and unnamed == set()


def test_every_statement_kind_in_the_graph_is_in_the_scope_table(store: ox.Store) -> None:
    kinds = {r["k"].removeprefix(IIM) for r in select(store, """
        SELECT DISTINCT ?k WHERE { ?s a ?k . ?k rdfs:subClassOf iim:ClinicalStatement }""")}
    listed = set(re.findall(r"^\| `iim:(\w+Statement)` \|", scope_text(), re.M))
    assert kinds and kinds == listed


def test_every_query_the_scope_page_names_exists() -> None:
    named = set(re.findall(r"`([a-z]+(?:-[a-z]+)*)`", scope_text()))
    queries = {p.stem for p in (ROOT / "queries").glob("*.rq")}
    assert named and named <= queries, named - queries

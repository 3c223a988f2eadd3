"""Plans that miss the care a clinical topic calls for get one clear finding, and plans that have it get none
(issue 14): cancer screening from the patient's own features (antibody results, age, onset), statins in
anti-HMGCR myopathy, and the interactions of azole antifungals, proton pump inhibitors and antacids, for drugs of
the same class and patients of other ages.

Each plan is the complete plan every rule accepts (tests/resources/plans/base.ttl) with a few triples changed, so a
finding can only come from the change; only the findings of the rule under test are read.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import rdflib

from iimkg.plans.validate import validate_plans
from iimkg.shacl.findings import Finding

from conftest import IIM, RESOURCES

BASE = RESOURCES / "plans" / "base.ttl"
PREFIXES = f"@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n@prefix iim: <{IIM}> .\n"

ADULT_DM, JDM, IBM, IMNM, ANTI_HMGCR_MYOPATHY, POLYMYOSITIS = (
    "IIM_0000005", "IIM_0000003", "IIM_0000007", "IIM_0000008", "IIM_0000011", "IIM_0000006")
BASIC, ENHANCED = "IIM_0000542", "IIM_0000543"
ANTI_TIF1G, ANTI_NXP2, ANTI_MDA5, ANTI_HMGCR = "IIM_0000549", "IIM_0000550", "IIM_0000548", "IIM_0000551"
HIGH_RISK, MODERATE_RISK, STATIN_EXPOSED = "IIM_0000617", "IIM_0000619", "IIM_0000610"
STATINS = {"atorvastatin": "IIM_0000191", "simvastatin": "IIM_0000192", "rosuvastatin": "IIM_0000193",
           "pravastatin": "IIM_0000194"}
EVOLOCUMAB_CLASS = "IIM_0000172"  # PCSK9 inhibitor


def plan(tmp_path: Path, add: str = "", remove: tuple[tuple[str, str], ...] = (), name: str = "plan") -> Path:
    """base.ttl with ``add`` (Turtle about <#plan>, <#patient>, …) added and each (subject, property) of ``remove``
    taken away, written to a file of its own."""
    path = tmp_path / f"{name}.ttl"
    base = path.resolve().as_uri()
    graph = rdflib.Graph().parse(BASE, format="turtle", publicID=base)
    for subject, prop in remove:
        graph.remove((rdflib.URIRef(base + subject), rdflib.URIRef(IIM + prop), None))
    graph.parse(data=PREFIXES + add, format="turtle", publicID=base)
    graph.serialize(path, format="turtle")
    return path


def findings(path: Path, rule: str) -> list[Finding]:
    return [f for f in validate_plans([path]).findings if f.rule == rule]


def antibody(test: str, interpretation: str = "PositiveResult") -> str:
    return (f"<#patient> iim:testResult [ a iim:TestResult ; iim:resultOf iim:{test} ; "
            f"iim:interpretation iim:{interpretation} ; iim:resultDate \"2026-02-20\"^^xsd:date ] .\n")


def without_panel(path_plan: Path) -> Path:
    """The plan without the base plan's basic cancer screening panel."""
    graph = rdflib.Graph().parse(path_plan, format="turtle")
    base = path_plan.resolve().as_uri()
    panel = rdflib.URIRef(base + "#cancer")
    graph.remove((rdflib.URIRef(base + "#plan"), rdflib.URIRef(IIM + "coIntervention"), panel))
    graph.serialize(path_plan, format="turtle")
    return path_plan


def screening_plan(tmp_path: Path, diagnosis: str = ADULT_DM, age: int = 52, add: str = "", panel: bool = True,
                   name: str = "plan") -> Path:
    path = plan(tmp_path, f"<#plan> iim:diagnosis iim:{diagnosis} .\n<#patient> iim:ageYears {age} .\n" + add,
                (("#plan", "diagnosis"), ("#patient", "ageYears")), name)
    return path if panel else without_panel(path)


ENHANCED_PLANNED = f"<#plan> iim:coIntervention [ iim:measure iim:{ENHANCED} ; iim:measureStatus iim:Planned ] .\n"


# ── cancer screening (IMACS 2023) ──

@pytest.mark.parametrize("test", [ANTI_TIF1G, ANTI_NXP2])
@pytest.mark.parametrize("age", [19, 52, 80])
def test_a_positive_tif1g_or_nxp2_result_makes_an_adult_with_dm_high_risk(test: str, age: int,
                                                                        tmp_path: Path) -> None:
    """No declared subtype or risk group: the antibody result alone asks for the enhanced panel (R157a), and the
    finding says the high risk rests on R156 and that R156 is weak."""
    [finding] = findings(screening_plan(tmp_path, age=age, add=antibody(test)), "cancer_screening")
    assert "enhanced cancer screening panel" in finding.message and "basic" not in finding.message
    assert "R157a" in finding.message and "R156" in finding.message and "weak evidence: R156" in finding.message
    assert not findings(screening_plan(tmp_path, age=age, add=antibody(test) + ENHANCED_PLANNED, name="covered"),
                        "cancer_screening")


@pytest.mark.parametrize("interpretation", ["NegativeResult", "NormalResult"])
def test_a_negative_antibody_result_leaves_standard_risk(interpretation: str, tmp_path: Path) -> None:
    assert not findings(screening_plan(tmp_path, add=antibody(ANTI_TIF1G, interpretation)), "cancer_screening")


@pytest.mark.parametrize("test", [ANTI_MDA5, ANTI_HMGCR])
def test_other_myositis_antibodies_do_not_make_the_patient_high_risk(test: str, tmp_path: Path) -> None:
    assert not findings(screening_plan(tmp_path, add=antibody(test)), "cancer_screening")


def test_a_tif1g_result_does_not_turn_another_disease_into_dm(tmp_path: Path) -> None:
    """The subtype specialises dermatomyositis: with polymyositis diagnosed, the result places the patient nowhere."""
    assert not findings(screening_plan(tmp_path, diagnosis=POLYMYOSITIS, add=antibody(ANTI_TIF1G)), "cancer_screening")


def test_a_declared_subtype_is_high_risk_as_before(tmp_path: Path) -> None:
    [finding] = findings(screening_plan(tmp_path, diagnosis="IIM_0000017"), "cancer_screening")
    assert "R157a" in finding.message


@pytest.mark.parametrize("risk", [HIGH_RISK, MODERATE_RISK])
def test_moderate_and_high_risk_declared_get_the_enhanced_panel(risk: str, tmp_path: Path) -> None:
    add = f"<#patient> iim:belongsToPopulation iim:{risk} .\n"
    [finding] = findings(screening_plan(tmp_path, add=add), "cancer_screening")
    assert "enhanced cancer screening panel" in finding.message
    assert not findings(screening_plan(tmp_path, add=add + ENHANCED_PLANNED, name="covered"), "cancer_screening")


@pytest.mark.parametrize(("diagnosis", "age", "fires"), [
    (ADULT_DM, 52, True), (POLYMYOSITIS, 80, True), (IMNM, 18, True), (IBM, 70, True),
    (ADULT_DM, 16, False), (JDM, 10, False), (JDM, 25, False), ("IIM_0000015", 30, False)])
def test_the_basic_panel_is_for_adults_with_adult_onset_iim(diagnosis: str, age: int, fires: bool,
                                                           tmp_path: Path) -> None:
    """Every adult with IIM diagnosed within 3 years of onset gets the basic panel (R154), sporadic IBM included
    (the texts seen do not leave it out); under 18 no adult screening; juvenile-onset IIM at any age none (R161)."""
    result = findings(screening_plan(tmp_path, diagnosis=diagnosis, age=age, panel=False), "cancer_screening")
    assert len(result) == int(fires)
    assert all("basic cancer screening panel" in f.message and "(R154)" in f.message for f in result)


@pytest.mark.parametrize(("onset", "fires"), [("2026-01-15", True), ("2023-03-03", True), ("2023-03-01", False),
                                              ("2018-06-01", False)])
def test_screening_is_due_within_3_years_of_symptom_onset(onset: str, fires: bool, tmp_path: Path) -> None:
    """The plan is dated 2026-03-02: onset on 2023-03-03 is inside the 3 years, 2023-03-01 just outside."""
    add = f"<#plan> iim:onsetDate \"{onset}\"^^xsd:date .\n"
    assert len(findings(screening_plan(tmp_path, diagnosis=IBM, age=70, add=add, panel=False),
                        "cancer_screening")) == int(fires)
    high = add + antibody(ANTI_TIF1G)
    assert len(findings(screening_plan(tmp_path, add=high, name="high"), "cancer_screening")) == int(fires)


def test_pregnancy_does_not_change_the_screening_an_adult_is_due(tmp_path: Path) -> None:
    """A pregnant 31-year-old with dermatomyositis and a positive anti-NXP2 result: the same one finding."""
    add = "<#patient> iim:sex iim:Female ; iim:hasCondition iim:IIM_0000340 .\n" + antibody(ANTI_NXP2)
    path = plan(tmp_path, f"<#plan> iim:diagnosis iim:{ADULT_DM} .\n<#patient> iim:ageYears 31 .\n" + add,
                (("#plan", "diagnosis"), ("#patient", "ageYears"), ("#patient", "sex")))
    [finding] = findings(path, "cancer_screening")
    assert "enhanced cancer screening panel" in finding.message


def test_an_onset_date_that_is_not_a_date_is_a_finding(tmp_path: Path) -> None:
    path = screening_plan(tmp_path, add="<#plan> iim:onsetDate \"last spring\" .\n")
    assert [f.rule for f in validate_plans([path]).findings if f.rule == "date_format"] == ["date_format"]


# ── statins in anti-HMGCR myopathy ──

def statin(drug: str) -> str:
    return (f"<#plan> iim:prescription [ a iim:Prescription ; iim:prescribedDrug iim:{drug} ; iim:dailyDoseMg 20 ; "
            "iim:startDate \"2026-03-02\"^^xsd:date ; iim:plannedDurationDays 365 ] .\n")


def imnm_plan(tmp_path: Path, add: str, diagnosis: str = IMNM, age: int = 52, name: str = "plan") -> Path:
    return plan(tmp_path, f"<#plan> iim:diagnosis iim:{diagnosis} .\n<#patient> iim:ageYears {age} .\n" + add,
                (("#plan", "diagnosis"), ("#patient", "ageYears")), name)


@pytest.mark.parametrize("drug", sorted(STATINS))
@pytest.mark.parametrize("age", [16, 45, 80])
def test_a_current_statin_in_anti_hmgcr_myopathy_is_one_finding_that_names_the_alternative(
        drug: str, age: int, tmp_path: Path) -> None:
    """The antibody result makes necrotising myopathy anti-HMGCR myopathy, the statin makes the patient statin-
    exposed: R046a, with what to do (stop, no re-challenge, a PCSK9 inhibitor)."""
    [finding] = findings(imnm_plan(tmp_path, statin(STATINS[drug]) + antibody(ANTI_HMGCR), age=age),
                         "contraindicated_drug")
    assert drug in finding.message and "R046a" in finding.message
    assert "PCSK9 inhibitor" in finding.message and "re-expose" in finding.message


def test_a_declared_anti_hmgcr_diagnosis_with_a_statin_is_flagged_too(tmp_path: Path) -> None:
    assert len(findings(imnm_plan(tmp_path, statin(STATINS["simvastatin"]), diagnosis=ANTI_HMGCR_MYOPATHY),
                        "contraindicated_drug")) == 1


@pytest.mark.parametrize(("add", "diagnosis"), [
    (statin(STATINS["atorvastatin"]), IMNM),                                    # no antibody result
    (statin(STATINS["atorvastatin"]) + antibody(ANTI_HMGCR, "NegativeResult"), IMNM),
    (statin(STATINS["atorvastatin"]) + antibody("IIM_0000552"), IMNM),         # anti-SRP, not anti-HMGCR
    (statin(STATINS["atorvastatin"]), ADULT_DM),                                # statins are not contraindicated in DM
    (statin(EVOLOCUMAB_CLASS) + antibody(ANTI_HMGCR), IMNM),                    # the alternative
    (f"<#patient> iim:belongsToPopulation iim:{STATIN_EXPOSED} .\n" + antibody(ANTI_HMGCR), IMNM),  # stopped
])
def test_no_statin_finding_without_a_statin_or_without_anti_hmgcr(add: str, diagnosis: str, tmp_path: Path) -> None:
    assert not findings(imnm_plan(tmp_path, add, diagnosis=diagnosis), "contraindicated_drug")


# ── past exposure: a statin stopped before the plan date is not given now, but the patient stays statin-exposed ──

def past_statin(drug: str, how: str) -> str:
    """A statin the patient took and stopped before the plan date (2026-03-02): a prescription or a co-intervention
    that ended six months before it, or one marked stopped with no end date."""
    if how == "prescription-ended":
        return (f"<#plan> iim:prescription [ a iim:Prescription ; iim:prescribedDrug iim:{drug} ; iim:dailyDoseMg 40 ; "
                "iim:startDate \"2024-05-10\"^^xsd:date ; iim:endDate \"2025-09-02\"^^xsd:date ] .\n")
    if how == "prescription-lapsed":
        return (f"<#plan> iim:prescription [ a iim:Prescription ; iim:prescribedDrug iim:{drug} ; iim:dailyDoseMg 40 ; "
                "iim:startDate \"2025-03-01\"^^xsd:date ; iim:plannedDurationDays 180 ] .\n")
    if how == "prescription-stopped":
        return (f"<#plan> iim:prescription [ a iim:Prescription ; iim:prescribedDrug iim:{drug} ; iim:dailyDoseMg 40 ; "
                "iim:startDate \"2024-05-10\"^^xsd:date ; iim:stopped true ] .\n")
    if how == "co-intervention-ended":
        return (f"<#plan> iim:coIntervention [ a iim:CoIntervention ; iim:measure iim:{drug} ; "
                "iim:measureStatus iim:Done ; iim:measureDate \"2024-05-10\"^^xsd:date ; "
                "iim:endDate \"2025-09-02\"^^xsd:date ] .\n")
    assert how == "co-intervention-stopped"
    return (f"<#plan> iim:coIntervention [ a iim:CoIntervention ; iim:measure iim:{drug} ; "
            "iim:measureStatus iim:Done ; iim:stopped true ] .\n")


PAST = ("prescription-ended", "prescription-lapsed", "prescription-stopped", "co-intervention-ended",
        "co-intervention-stopped")


def derived(path: Path, prop: str) -> set[tuple[str, str]]:
    """(subject fragment, object local name) of the iimplan: triples ``prop`` the rules derive for the plan file."""
    import pyoxigraph as ox

    from iimkg.graph.loading import ontology_quads
    from iimkg.plans.engines import shapes_graph
    from iimkg.plans.reading import load_plan_file
    from iimkg.plans.validate import plan_shapes_file
    from iimkg.shacl.fast import compile_shapes

    shapes = shapes_graph(rdflib.Graph().parse(plan_shapes_file(), format="turtle").serialize(format="nt"))
    store, data = ox.Store(), ox.NamedNode("urn:test:plan")
    store.extend(ox.Quad(q.subject, q.predicate, q.object) for q in ontology_quads())
    load_plan_file(store, path, data, None)
    store.update(f"ADD {data} TO DEFAULT")  # as the engine reads it: ontology and plans in the default graph
    compile_shapes(shapes).run(store)
    predicate = ox.NamedNode("https://w3id.org/iimkg/shapes/plan/" + prop)
    return {(q.subject.value.rsplit("#", 1)[-1], q.object.value.rsplit("/", 1)[-1])
            for q in store.quads_for_pattern(None, predicate, None, ox.DefaultGraph())}


@pytest.mark.parametrize("how", PAST)
def test_a_statin_stopped_before_the_plan_in_anti_hmgcr_myopathy_is_no_finding_but_still_exposure(
        how: str, tmp_path: Path) -> None:
    """The usual anti-HMGCR patient: the statin was stopped months ago. Nothing is given now, so R046a has nothing
    to flag; the past statin still puts the patient among statin-exposed patients."""
    path = imnm_plan(tmp_path, past_statin(STATINS["atorvastatin"], how) + antibody(ANTI_HMGCR))
    assert not findings(path, "contraindicated_drug")
    assert ("patient", STATIN_EXPOSED) in derived(path, "inPopulation")
    assert STATINS["atorvastatin"] in {o for _, o in derived(path, "exposedTo")}
    assert STATINS["atorvastatin"] not in {o for _, o in derived(path, "gives")}


@pytest.mark.parametrize("current", ["rosuvastatin", "simvastatin"])
def test_a_statin_taken_now_after_one_stopped_is_the_finding(current: str, tmp_path: Path) -> None:
    """The same patient back on a statin (another of the class): one finding, for the statin taken now."""
    add = past_statin(STATINS["atorvastatin"], "prescription-ended") + statin(STATINS[current]) + antibody(ANTI_HMGCR)
    [finding] = findings(imnm_plan(tmp_path, add), "contraindicated_drug")
    assert current in finding.message and "atorvastatin" not in finding.message and "R046a" in finding.message


@pytest.mark.parametrize(("end", "flagged"), [
    ("2026-03-02", True),    # ends on the plan date: still taken
    ("2026-09-30", True),    # ends after it
    ("2026-03-01", False),   # ended the day before
])
def test_an_end_date_on_or_after_the_plan_date_is_current(end: str, flagged: bool, tmp_path: Path) -> None:
    add = (f"<#plan> iim:prescription [ a iim:Prescription ; iim:prescribedDrug iim:{STATINS['pravastatin']} ; "
           f"iim:dailyDoseMg 40 ; iim:startDate \"2025-11-02\"^^xsd:date ; iim:endDate \"{end}\"^^xsd:date ] .\n")
    assert len(findings(imnm_plan(tmp_path, add + antibody(ANTI_HMGCR)), "contraindicated_drug")) == flagged


def test_an_open_ended_statin_is_current(tmp_path: Path) -> None:
    add = (f"<#plan> iim:prescription [ a iim:Prescription ; iim:prescribedDrug iim:{STATINS['simvastatin']} ; "
           "iim:dailyDoseMg 20 ; iim:startDate \"2023-01-15\"^^xsd:date ; iim:openEnded true ] .\n")
    assert len(findings(imnm_plan(tmp_path, add + antibody(ANTI_HMGCR)), "contraindicated_drug")) == 1


def test_a_screening_done_before_the_plan_date_still_counts(tmp_path: Path) -> None:
    """Only a drug taken for a time ends: the base plan's screenings and tests done before the plan date (IGRA,
    HBsAg, anti-HBc, TPMT, NUDT15, cancer panel) still satisfy their rules when dated a month back."""
    dated = "".join(f"<#{node}> iim:measureDate \"2026-02-01\"^^xsd:date .\n"
                    for node in ("igra", "hbsag", "antihbc", "tpmt", "nudt15", "cancer", "schedule"))
    result = validate_plans([plan(tmp_path, dated)])
    assert [f.rule for f in result.findings] == []


def test_a_json_ld_plan_with_a_past_statin_is_no_finding_and_a_current_one_is(tmp_path: Path) -> None:
    """Another layout: JSON-LD, with the JSON keys for an end date and for a statin stopped on a day not known."""
    import json

    def write(name: str, *co_interventions: dict[str, object]) -> Path:
        document = {
            "@context": "https://w3id.org/iimkg/plan-context.jsonld", "id": f"https://example.org/plans/{name}",
            "type": "TreatmentPlan", "identifier": name, "planDate": "2026-05-04", "diagnosis": f"iim:{IMNM}",
            "patient": {"type": "Patient", "sex": "female", "ageYears": 70,
                        "testResults": [{"type": "TestResult", "test": f"iim:{ANTI_HMGCR}",
                                         "interpretation": "positive", "resultDate": "2026-04-20"}]},
            "coInterventions": [{"measure": f"iim:{BASIC}", "status": "done", "date": "2026-04-25"},
                                *co_interventions]}
        path = tmp_path / f"{name}.jsonld"
        path.write_text(json.dumps(document), encoding="utf-8")
        return path

    ended = {"measure": f"iim:{STATINS['simvastatin']}", "status": "done", "date": "2022-01-10",
             "endDate": "2025-11-04"}
    stopped = {"measure": f"iim:{STATINS['pravastatin']}", "status": "done", "stopped": True}
    now = {"measure": f"iim:{STATINS['rosuvastatin']}", "status": "done", "date": "2026-01-10"}
    assert not findings(write("past", ended, stopped), "contraindicated_drug")
    assert STATIN_EXPOSED not in {o for _, o in derived(write("none"), "inPopulation")}
    assert STATIN_EXPOSED in {o for _, o in derived(write("past", ended, stopped), "inPopulation")}
    [finding] = findings(write("now", ended, now), "contraindicated_drug")
    assert "rosuvastatin" in finding.message and "simvastatin" not in finding.message


# ── interactions: azoles with tacrolimus, mycophenolate with antacids and proton pump inhibitors ──

TACROLIMUS, MYCOPHENOLATE = "IIM_0000115", "IIM_0000113"


def drugs_plan(tmp_path: Path, *drugs: str) -> Path:
    return plan(tmp_path, "".join(statin(d) for d in drugs))


@pytest.mark.parametrize(("drug", "statements"), [
    ("IIM_0000132", {"R137", "R138"}),   # voriconazole: the class statement (R137) and its own (R138, weak)
    ("IIM_0000133", {"R137"}),           # posaconazole
    ("IIM_0000134", {"R137"}),           # fluconazole
    ("IIM_0000138", {"R137"}),           # itraconazole
    ("IIM_0000139", {"R137"}),           # ketoconazole
])
def test_an_azole_with_tacrolimus_is_one_finding(drug: str, statements: set[str], tmp_path: Path) -> None:
    [finding] = findings(drugs_plan(tmp_path, drug, TACROLIMUS), "drug_interaction")
    assert set(finding.statements.split(", ")) == statements
    assert "adjust the dose" in finding.message
    assert ("weak evidence: R138" in finding.message) is ("R138" in statements)
    assert not findings(drugs_plan(tmp_path, drug), "drug_interaction")


def test_an_interaction_finding_tells_the_statement_that_qualifies_it(tmp_path: Path) -> None:
    """Methotrexate with co-trimoxazole (R123: avoid) is tempered by R125 (no more cytopenia at prophylactic
    doses), which qualifies it: the finding says so by R125's label, so a clinician told elsewhere to give
    co-trimoxazole as Pneumocystis prophylaxis is not told only to avoid it. Each interaction statement that
    qualifies another is tried on a plan giving its pair; an unqualified pair's finding says nothing of the kind."""
    import pyoxigraph as ox

    from iimkg.graph.loading import ontology_quads

    store = ox.Store()
    store.extend(ox.Quad(q.subject, q.predicate, q.object) for q in ontology_quads())
    qualifiers = list(store.query(f"""SELECT ?drug ?other ?label ?id WHERE {{
        ?s a <{IIM}InteractionStatement> ; <{IIM}qualifies> ?q ; <{IIM}drug> ?drug ; <{IIM}interactsWith> ?other ;
           <http://www.w3.org/2000/01/rdf-schema#label> ?label ; <http://purl.org/dc/terms/identifier> ?id .
        FILTER (LANG(?label) = "en") }}"""))
    assert qualifiers, "the graph has a qualifying interaction statement (R125)"
    for row in qualifiers:
        drug, other = (row[v].value.removeprefix(IIM) for v in ("drug", "other"))
        [finding] = findings(plan(tmp_path, statin(drug) + statin(other), name=f"{drug}-{other}"),
                             "drug_interaction")
        assert f"qualified by {row['label'].value}" in finding.message, finding.message
        assert row["id"].value in finding.statements.split(", ")
    [unqualified] = findings(drugs_plan(tmp_path, "IIM_0000134", TACROLIMUS), "drug_interaction")
    assert "qualified by" not in unqualified.message


def ended_last_year(drug: str) -> str:
    return (f"<#plan> iim:prescription [ a iim:Prescription ; iim:prescribedDrug iim:{drug} ; iim:dailyDoseMg 20 ; "
            "iim:startDate \"2025-01-06\"^^xsd:date ; iim:endDate \"2025-04-30\"^^xsd:date ] .\n")


@pytest.mark.parametrize(("ended", "current"), [
    ("IIM_0000132", TACROLIMUS),     # voriconazole taken last year, tacrolimus now
    (TACROLIMUS, "IIM_0000134"),     # tacrolimus last year, fluconazole now
    ("IIM_0000106", MYCOPHENOLATE),  # omeprazole last year, mycophenolate now
])
def test_an_interaction_with_a_drug_that_ended_last_year_is_no_finding(ended: str, current: str,
                                                                     tmp_path: Path) -> None:
    """Two drugs interact only when taken together: one whose course ended before the plan date is past."""
    assert not findings(plan(tmp_path, ended_last_year(ended) + statin(current)), "drug_interaction")
    assert len(findings(plan(tmp_path, statin(ended) + statin(current), name="both"), "drug_interaction")) == 1


def test_a_stopped_immunosuppressant_calls_for_no_live_vaccine_or_pre_treatment_finding(tmp_path: Path) -> None:
    """Immunosuppression is what the patient takes now: methotrexate ended last year makes a live vaccine no
    finding, and calls for no baseline tests now; taken now, it does both."""
    methotrexate = "IIM_0000111"
    live = ("<#plan> iim:coIntervention [ a iim:CoIntervention ; iim:measure iim:IIM_0000162 ; "
            "iim:measureStatus iim:Planned ] .\n")
    remove = (("#plan", "prescription"),)
    past = plan(tmp_path, ended_last_year(methotrexate) + live, remove, name="past")
    now = plan(tmp_path, statin(methotrexate) + live, remove, name="now")
    for rule in ("live_vaccine", "pre_treatment_test"):
        assert not findings(past, rule), rule
        assert findings(now, rule), rule


@pytest.mark.parametrize(("drug", "statement"), [
    ("IIM_0000106", "R140"), ("IIM_0000107", "R140"), ("IIM_0000108", "R140"),  # omeprazole, pantoprazole, esomeprazole
    ("IIM_0000124", "R140"), ("IIM_0000149", "R140"),                            # lansoprazole, rabeprazole
    ("IIM_0000109", "R139"),                                                     # magnesium/aluminium antacid
])
def test_mycophenolate_with_a_proton_pump_inhibitor_or_an_antacid_is_one_finding(drug: str, statement: str,
                                                                                tmp_path: Path) -> None:
    [finding] = findings(drugs_plan(tmp_path, drug, MYCOPHENOLATE), "drug_interaction")
    assert finding.statements == statement
    assert not findings(drugs_plan(tmp_path, drug, TACROLIMUS), "drug_interaction")


def test_a_json_ld_plan_with_a_mondo_diagnosis_and_an_antibody_result_is_high_risk(tmp_path: Path) -> None:
    """Another layout and an external code: JSON-LD, dermatomyositis as MONDO:0016367, the anti-TIF1γ result and the
    onset date under their JSON keys; the same one finding as the Turtle plan, and none once the onset is 4 years
    back."""
    import json

    def write(onset: str) -> Path:
        document = {
            "@context": "https://w3id.org/iimkg/plan-context.jsonld",
            "id": "https://example.org/clinic/plans/DM-2026-090", "type": "TreatmentPlan",
            "identifier": "DM-2026-090", "planDate": "2026-03-02", "onsetDate": onset, "diagnosis": "MONDO:0016367",
            "patient": {"type": "Patient", "sex": "female", "ageYears": 67,
                        "testResults": [{"type": "TestResult", "test": f"iim:{ANTI_TIF1G}",
                                         "interpretation": "positive", "resultDate": "2026-02-20"}]},
            "coInterventions": [{"measure": f"iim:{BASIC}", "status": "done", "date": "2026-02-25"}]}
        path = tmp_path / f"plan-{onset}.jsonld"
        path.write_text(json.dumps(document), encoding="utf-8")
        return path

    [finding] = findings(write("2025-12-01"), "cancer_screening")
    assert "enhanced cancer screening panel" in finding.message and "R156" in finding.message
    assert not findings(write("2022-01-15"), "cancer_screening")


def test_a_high_risk_plan_with_no_screening_gets_one_finding_citing_every_statement(tmp_path: Path) -> None:
    """Both panels missing: one finding, which names them both and cites the statement for every adult (R154), the
    high-risk ones (R157a, R157b), the one that made the patient high risk (R156) and which are weak."""
    [finding] = findings(screening_plan(tmp_path, add=antibody(ANTI_TIF1G), panel=False), "cancer_screening")
    assert set(finding.statements.split(", ")) == {"R154", "R156", "R157a", "R157b"}
    assert "basic cancer screening panel or enhanced cancer screening panel" in finding.message
    assert "adults with IIM at high risk of cancer" in finding.message and "weak evidence" in finding.message
    moderate = f"<#patient> iim:belongsToPopulation iim:{MODERATE_RISK} .\n"
    [finding] = findings(screening_plan(tmp_path, add=moderate, name="moderate"), "cancer_screening")
    assert finding.statements == "R155" and "(for adults with IIM at moderate risk of cancer: R155)" in finding.message

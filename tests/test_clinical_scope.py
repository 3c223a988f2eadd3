"""Every answer is scoped to who it is for, in which situation, and how strong its evidence is (issue 13).

Each test is a clinical question, answered by a named query on both engines (or by the graph itself where the
question is about what the graph says), and checks one rule of docs/model.md ("Populations", "Inheritance and
exceptions: the more specific statement wins", evidence strength, qualifying links). Answers are compared as
IRIs; which statements carry which population is read from the graph, never listed here.
"""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from iimkg.core.kinds import Engine
from iimkg.queries.run import QueryResult, Row, query

from conftest import IIM

ENGINES = list(Engine)

JDM, CADM, ADULT_DM, POLYMYOSITIS, ANTI_HMGCR = (
    IIM + "IIM_0000003", IIM + "IIM_0000004", IIM + "IIM_0000005", IIM + "IIM_0000006", IIM + "IIM_0000011")
ADULTS, CHILDREN = IIM + "IIM_0000612", IIM + "IIM_0000604"
ACTIVE_MYOSITIS, ILD = IIM + "IIM_0000339", IIM + "IIM_0000317"
ZOSTER, CHICKENPOX, PJP = IIM + "IIM_0000406", IIM + "IIM_0000407", IIM + "IIM_0000408"
ZOSTER_VACCINE, INFLUENZA_VACCINE, VZV_POST_EXPOSURE, VZIG, TMP_SMX = (
    IIM + "IIM_0000161", IIM + "IIM_0000164", IIM + "IIM_0000181", IIM + "IIM_0000182", IIM + "IIM_0000151")
HBSAG_POSITIVE, ANTI_HBC_POSITIVE = IIM + "IIM_0000605", IIM + "IIM_0000606"
FIRST_LINE, NOT_RECOMMENDED, NEGATIVE = IIM + "FirstLine", IIM + "NotRecommended", IIM + "NegativeRole"
GUIDELINE = IIM + "GuidelineRecommendation"
SHARE = "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC5284351"
ADULT_TREATMENT_TABLE = "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC11646336"


def stmt(name: str) -> str:
    return IIM + "statement-" + name


def value(row: Row, column: str) -> str | None:
    term = row[column]
    return None if term is None else term.value


def statements(result: QueryResult) -> set[str | None]:
    return {value(r, "statement") for r in result}


def select(store: ox.Store, text: str) -> list[dict[str, str]]:
    solutions = store.query("PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
                            "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"
                            "PREFIX dcterms: <http://purl.org/dc/terms/>\n"
                            f"PREFIX iim: <{IIM}>\n" + text)
    assert isinstance(solutions, ox.QuerySolutions)
    names = [v.value for v in solutions.variables]
    return [{n: s[n].value for n in names if s[n] is not None} for s in solutions]


# ── populations ──

def test_adults_and_children_are_told_apart_by_age_alone(store: ox.Store) -> None:
    bounds = {r["p"]: (r.get("from"), r.get("to")) for r in select(store, """
        SELECT ?p ?from ?to WHERE {
          ?p rdfs:subClassOf iim:Population .
          { ?p iim:minAgeYears [] } UNION { ?p iim:maxAgeYears [] }
          OPTIONAL { ?p iim:minAgeYears ?from } OPTIONAL { ?p iim:maxAgeYears ?to } }""")}
    assert bounds == {ADULTS: ("18", None), CHILDREN: (None, "17")}


@pytest.mark.parametrize("engine", ENGINES)
def test_a_child_with_juvenile_dm_is_not_offered_adult_prednisolone_doses(store: ox.Store, engine: Engine) -> None:
    answered = statements(query("treatments", disease="juvenile dermatomyositis", engine=engine))
    adult_roles = {r["s"] for r in select(store, f"""
        SELECT ?s WHERE {{ ?s a iim:TherapyStatement ; iim:population <{ADULTS}> }}""")}
    assert stmt("R001") in adult_roles and stmt("R017a") in adult_roles
    assert answered.isdisjoint(adult_roles)
    # … and gets the paediatric ones: BSR 2022 weight-based doses, SHARE glucocorticoid with methotrexate
    assert {stmt("R002a"), stmt("R002b"), stmt("R007a"), stmt("R164a")} <= answered


@pytest.mark.parametrize("engine", ENGINES)
def test_an_adult_with_dermatomyositis_is_not_offered_paediatric_doses(engine: Engine) -> None:
    rows = query("treatments", disease="adult dermatomyositis", engine=engine)
    assert stmt("R001") in statements(rows)
    assert {value(r, "ageGroup") for r in rows} <= {ADULTS, None}


@pytest.mark.parametrize("engine", ENGINES)
def test_clinically_amyopathic_dm_does_not_inherit_the_prednisolone_dose_for_active_myositis(engine: Engine) -> None:
    amyopathic = query("treatments", disease="clinically amyopathic dermatomyositis", engine=engine)
    assert stmt("R001") not in statements(amyopathic)
    assert all(value(r, "situation") != ACTIVE_MYOSITIS for r in amyopathic)
    # polymyositis, which has active myositis, keeps it
    assert stmt("R001") in statements(query("treatments", disease="polymyositis", engine=engine))


def test_every_share_treatment_statement_is_for_children_and_adolescents(store: ox.Store) -> None:
    unscoped = select(store, f"""
        SELECT ?s WHERE {{
          ?s dcterms:source <{SHARE}> .
          {{ ?s a iim:TherapyStatement }} UNION {{ ?s a iim:DosingStatement }}
          UNION {{ ?s a iim:SupportiveCareStatement }}
          FILTER NOT EXISTS {{ ?s iim:population <{CHILDREN}> }} }}""")
    assert unscoped == []


def test_every_dose_and_role_of_the_adult_treatment_table_is_for_adults(store: ox.Store) -> None:
    unscoped = select(store, f"""
        SELECT ?s WHERE {{
          ?s dcterms:source <{ADULT_TREATMENT_TABLE}> .
          {{ ?s a iim:TherapyStatement }} UNION {{ ?s a iim:DosingStatement }} UNION {{ ?s a iim:PrecautionStatement }}
          FILTER NOT EXISTS {{ ?s iim:population <{ADULTS}> }} }}""")
    assert unscoped == []


# ── vaccines ──

@pytest.mark.parametrize("engine", ENGINES)
def test_the_zoster_vaccine_prevents_shingles_in_adults_not_chickenpox(engine: Engine) -> None:
    rows = [r for r in query("infection-prevention", drug="methotrexate", engine=engine)
            if value(r, "measure") == ZOSTER_VACCINE]
    assert rows
    assert {(value(r, "infection"), value(r, "ageGroup")) for r in rows} == {(ZOSTER, ADULTS)}


@pytest.mark.parametrize("engine", ENGINES)
def test_high_dose_influenza_vaccine_is_recommended_for_adults_only(engine: Engine) -> None:
    rows = [r for r in query("infection-prevention", drug="azathioprine", engine=engine)
            if value(r, "measure") == INFLUENZA_VACCINE]
    assert rows and {value(r, "ageGroup") for r in rows} == {ADULTS}


@pytest.mark.parametrize("engine", ENGINES)
def test_varicella_post_exposure_prophylaxis_is_vzig_or_an_antiviral_not_any_prophylactic(engine: Engine) -> None:
    rows = query("infection-prevention", drug="prednisone", engine=engine)
    assert {value(r, "measure") for r in rows if value(r, "statement") == stmt("R071")} == {VZV_POST_EXPOSURE}
    assert {value(r, "measure") for r in rows if value(r, "statement") == stmt("R182")} == {VZIG}
    members = {value(r, "value") for name in ("VZIG", "aciclovir", "valaciclovir")
               for r in query("drug-profile", drug=name, engine=engine) if value(r, "aspect") == "class"}
    assert VZV_POST_EXPOSURE in members
    assert VZV_POST_EXPOSURE not in {value(r, "value") for r in query("drug-profile", drug="co-trimoxazole",
                                                                       engine=engine)}
    assert all(value(r, "infection") == CHICKENPOX for r in rows
               if value(r, "statement") in {stmt("R071"), stmt("R182")})


def test_use_with_caution_is_a_precaution_not_a_contraindication(store: ox.Store) -> None:
    kinds = {r["kind"] for r in select(store, f"SELECT ?kind WHERE {{ <{stmt('R012b')}> a ?kind }}")}
    assert IIM + "PrecautionStatement" in kinds and IIM + "ContraindicationStatement" not in kinds


# ── inheritance that respects specificity ──

def roles(drug: str, engine: Engine) -> list[Row]:
    return [r for r in query("drug-profile", drug=drug, engine=engine) if value(r, "aspect") == "role"]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("drug", ["cyclophosphamide", "rituximab"])
def test_cyclophosphamide_and_rituximab_are_first_line_only_for_interstitial_lung_disease(drug: str,
                                                                                         engine: Engine) -> None:
    first_line = [r for r in roles(drug, engine) if value(r, "value") == FIRST_LINE]
    assert first_line and {value(r, "situation") for r in first_line} == {ILD}


@pytest.mark.parametrize("engine", ENGINES)
def test_methotrexate_is_not_recommended_only_for_interstitial_lung_disease(engine: Engine) -> None:
    not_recommended = [r for r in roles("methotrexate", engine) if value(r, "value") == NOT_RECOMMENDED]
    assert not_recommended and {value(r, "situation") for r in not_recommended} == {ILD}


@pytest.mark.parametrize("engine", ENGINES)
def test_abatacept_is_not_first_line_where_it_is_not_recommended(engine: Engine) -> None:
    by_situation = {(value(r, "value"), value(r, "situation")) for r in roles("abatacept", engine)}
    assert (NOT_RECOMMENDED, ILD) in by_situation
    assert (FIRST_LINE, ILD) not in by_situation


@pytest.mark.parametrize("engine", ENGINES)
def test_a_class_role_still_reaches_a_member_outside_the_narrower_exception(engine: Engine) -> None:
    # S22 (biological agents are also prescribed) reaches abatacept: R034f speaks of lung disease only
    assert stmt("S22") in {value(r, "statement") for r in roles("abatacept", engine)}


@pytest.mark.parametrize("engine", ENGINES)
def test_bimagrumab_is_not_used_for_iim_because_biological_agents_are(store: ox.Store, engine: Engine) -> None:
    negative = {r["r"] for r in select(store, "SELECT ?r WHERE { ?r skos:broader iim:NegativeRole }")} | {NEGATIVE}
    found = roles("bimagrumab", engine)
    assert stmt("R049") in {value(r, "statement") for r in found}
    assert {value(r, "value") for r in found} <= negative


# ── rifamycin regimens for latent tuberculosis ──

@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("drug", "regimen", "interaction"), [
    ("tacrolimus", "R062a", "R130"), ("tacrolimus", "R062b", "R131"), ("ciclosporin", "R062a", "R132"),
    ("prednisone", "R062a", "R133"), ("tofacitinib", "R062a", "R134")])
def test_a_rifamycin_regimen_for_latent_tb_warns_of_its_interaction_with_the_patients_drug(
        drug: str, regimen: str, interaction: str, engine: Engine) -> None:
    rows = query("infection-prevention", drug=drug, engine=engine)
    assert stmt(interaction) in {value(r, "interaction") for r in rows if value(r, "statement") == stmt(regimen)}


@pytest.mark.parametrize("engine", ENGINES)
def test_isoniazid_alone_for_latent_tb_carries_no_rifamycin_warning(engine: Engine) -> None:
    rows = query("infection-prevention", drug="tacrolimus", engine=engine)
    assert {value(r, "interaction") for r in rows if value(r, "statement") == stmt("R063")} == {None}


# ── evidence strength ──

@pytest.mark.parametrize("engine", ENGINES)
def test_the_grade_is_shown_apart_from_how_the_source_was_checked(engine: Engine) -> None:
    rows = [r for r in query("treatments", disease="polymyositis", engine=engine)
            if value(r, "statement") == stmt("R001")]
    assert {(value(r, "grade"), value(r, "studyType"), value(r, "evidence")) for r in rows} == {
        ("1,B", GUIDELINE, IIM + "VerifiedSecondary")}


@pytest.mark.parametrize("engine", ENGINES)
def test_a_three_patient_letter_does_not_outrank_a_graded_guideline(engine: Engine) -> None:
    rows = [r for r in query("evidence", term="anti-HMGCR myopathy", engine=engine)
            if value(r, "type") == IIM + "TherapyStatement"]
    order = [value(r, "statement") for r in rows]
    letter = order.index(stmt("R042"))
    guidelines = [i for i, r in enumerate(rows) if value(r, "studyType") == GUIDELINE]
    assert guidelines and max(guidelines) < letter


def test_every_study_type_has_a_rank_to_sort_by(store: ox.Store) -> None:
    unranked = select(store, """
        SELECT DISTINCT ?t WHERE { ?s iim:studyType ?t FILTER NOT EXISTS { ?t iim:evidenceRank [] } }""")
    assert unranked == []


# ── qualifying links: the threshold of an unconditional seed statement ──

@pytest.mark.parametrize("engine", ENGINES)
def test_hepatitis_b_prophylaxis_for_everyone_is_qualified_by_the_markers_that_call_for_it(engine: Engine) -> None:
    rows = [r for r in query("infection-prevention", drug="rituximab", engine=engine)
            if value(r, "statement") == stmt("S16")]
    assert {(value(r, "qualifiedBy"), value(r, "thresholdPopulation")) for r in rows} == {
        (stmt("R066"), HBSAG_POSITIVE), (stmt("R067"), ANTI_HBC_POSITIVE)}


@pytest.mark.parametrize("engine", ENGINES)
def test_pneumocystis_prophylaxis_for_everyone_is_qualified_by_the_glucocorticoid_threshold(engine: Engine) -> None:
    rows = [r for r in query("infection-prevention", drug="prednisone", engine=engine)
            if value(r, "statement") == stmt("S18")]
    # "more than 15 mg/day" (strict), for at least 14 days
    assert {(value(r, "qualifiedBy"), value(r, "thresholdAboveDailyDoseMg"), value(r, "thresholdDailyDoseMg"),
             value(r, "thresholdDurationDays")) for r in rows} == {(stmt("R055"), "15", None, "14")}
    assert {value(r, "measure") for r in rows} == {TMP_SMX} and {value(r, "infection") for r in rows} == {PJP}


@pytest.mark.parametrize("engine", ENGINES)
def test_bisphosphonate_with_glucocorticoids_is_qualified_by_the_fracture_risk_recommendation(engine: Engine) -> None:
    rows = [r for r in query("adverse-effect-prevention", drug="prednisone", engine=engine)
            if value(r, "statement") == stmt("S31a")]
    assert {value(r, "qualifiedBy") for r in rows} == {stmt("R086")}
    assert {value(r, "thresholdPopulation") for r in rows} == {ADULTS}


@pytest.mark.parametrize("engine", ENGINES)
def test_a_topical_glucocorticoid_for_jdm_skin_is_not_a_claim_about_prednisolone(engine: Engine) -> None:
    """SHARE's topical steroids for localised skin lesions (R165b) stay with topical use: prednisolone's profile
    does not inherit them, and no systemic glucocorticoid rule (doses, bone, infections) reads them."""
    profile = query("drug-profile", drug="prednisolone", engine=engine)
    assert stmt("R165b") not in {value(r, "statement") for r in profile}
    juvenile = query("treatments", disease="juvenile dermatomyositis", engine=engine)
    assert stmt("R165b") in {value(r, "statement") for r in juvenile}

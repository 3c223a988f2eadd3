"""The named queries answer the questions informaticians ask, exactly, on both engines.

Answers are compared as IRIs (labels may change); each test's name is the user's question.
"""

from __future__ import annotations

import pytest

from iimkg.core.errors import QuerySyntaxError
from iimkg.core.rdfterms import Term
from iimkg.graph.loading import shared_store
from iimkg.queries.named import NamedQuery, parse_examples
from iimkg.queries.remote import bind_values
from iimkg.queries.run import Engine, QueryResult, bind_parameters, list_queries, query, run_sparql, term_index

from conftest import IIM

ENGINES = list(Engine)

# terms (see docs/model.md)
IIM_GROUP, DERMATOMYOSITIS, POLYMYOSITIS, SPORADIC_IBM, ANTISYNTHETASE = (
    IIM + "IIM_0000001", IIM + "IIM_0000002", IIM + "IIM_0000006", IIM + "IIM_0000007", IIM + "IIM_0000009")
DRUG, INFECTION = IIM + "Drug", IIM + "Infection"
IMMUNOSUPPRESSIVE, GLUCOCORTICOID, PREDNISONE, PREDNISOLONE = (
    IIM + "IIM_0000100", IIM + "IIM_0000101", IIM + "IIM_0000102", IIM + "IIM_0000103")
CONVENTIONAL_IS, METHOTREXATE = IIM + "IIM_0000110", IIM + "IIM_0000111"
BIOLOGIC, RITUXIMAB, BIMAGRUMAB, IVIG, ARIMOCLOMOL = (
    IIM + "IIM_0000120", IIM + "IIM_0000121", IIM + "IIM_0000123", IIM + "IIM_0000130", IIM + "IIM_0000136")
BISPHOSPHONATE, CALCIUM, VITAMIN_D = IIM + "IIM_0000141", IIM + "IIM_0000145", IIM + "IIM_0000147"
TMP_SMX, ANTI_TB, ISONIAZID, RIFAMPICIN, HBV_ANTIVIRAL = (
    IIM + "IIM_0000151", IIM + "IIM_0000152", IIM + "IIM_0000153", IIM + "IIM_0000154", IIM + "IIM_0000155")
ZOSTER_VACCINE, PNEUMOCOCCAL, INFLUENZA, FOLIC_ACID = (
    IIM + "IIM_0000161", IIM + "IIM_0000163", IIM + "IIM_0000164", IIM + "IIM_0000171")
HYPERTENSION, WEIGHT_GAIN, HIRSUTISM, STRIAE, DIABETES, FIBRE_ATROPHY, OSTEOPOROSIS, GIOP, INFECTION_RISK = (
    IIM + f"IIM_0000{n}" for n in (301, 302, 303, 304, 305, 306, 307, 308, 309))
HEADACHE, WARMTH, ARTHRALGIA, DYSLIPIDAEMIA, DYSPHAGIA, CRAMP, MUSCLE_LOSS, ILD, THROMBOEMBOLISM, RENAL, MENINGITIS = (
    IIM + f"IIM_0000{n}" for n in (310, 311, 312, 313, 314, 315, 316, 317, 318, 319, 320))
LATENT_TB, HBV, HBV_REACTIVATION, VZV, ZOSTER, CHICKENPOX, PJP = (
    IIM + f"IIM_0000{n}" for n in (401, 403, 404, 405, 406, 407, 408))
BED_REST, AEROBIC, REHAB, PROTEIN, HEAD_OF_BED, THICKENED, SCHEDULE_UPDATE, LIVE_AVOIDANCE, WEIGHT_BEARING = (
    IIM + f"IIM_0000{n}" for n in (501, 502, 503, 504, 505, 506, 510, 511, 512))
BONE_DENSITY, IGRA, HBSAG, ANTI_HBC, GLUCOSE, BLOOD_PRESSURE, LIPIDS, FRACTURE_RISK, LIVER_TESTS, HRCT = (
    IIM + f"IIM_0000{n}" for n in (520, 522, 525, 526, 528, 529, 530, 531, 533, 537))
POST_MENOPAUSAL, HBSAG_POSITIVE, ANTI_HBC_POSITIVE, VZV_NON_IMMUNE = (
    IIM + f"IIM_0000{n}" for n in (601, 605, 606, 607))
ACTIVE_PHASE = IIM + "IIM_0000650"
ADULTS, ACTIVE_MYOSITIS = IIM + "IIM_0000612", IIM + "IIM_0000339"
VZV_PROPHYLAXIS, VARICELLA_PEP, VZIG = IIM + "IIM_0000180", IIM + "IIM_0000181", IIM + "IIM_0000182"
FIRST_LINE, ALSO_USED, NOT_SHOWN_EFFECTIVE, NO_SPECIFIC = (
    IIM + "FirstLine", IIM + "AlsoUsed", IIM + "NotShownEffective", IIM + "NoSpecificTreatment")
SCREENING, PROPHYLAXIS, VACCINATION, MONITORING, AVOIDANCE, SUPPLEMENTATION, TREATMENT = (
    IIM + k for k in ("Screening", "Prophylaxis", "Vaccination", "Monitoring", "Avoidance", "Supplementation",
                      "Treatment"))
PREVENT, CONTROL, SCREEN = IIM + "Prevent", IIM + "Control", IIM + "Screen"


def stmt(name: str) -> str:
    return IIM + "statement-" + name


def cells(result: QueryResult, *columns: str) -> set[tuple[str | None, ...]]:
    return {tuple(row[c].value if row[c] is not None else None for c in columns) for row in result}


@pytest.mark.parametrize("engine", ENGINES)
def test_what_is_first_line_for_dermatomyositis(engine: Engine) -> None:
    rows = query("treatments", disease="dermatomyositis", engine=engine)
    first_line = {(r["therapy"].value, r["statement"].value) for r in rows
                  if r["role"].value == FIRST_LINE and r["situation"] is None}  # type: ignore[union-attr]
    # S19: glucocorticoids for the IIM group, inherited, with no dose
    assert first_line == {(GLUCOCORTICOID, stmt("S19"))}
    # BSR 2022: oral prednisolone 0.5-1 mg/kg/day, for adults with active myositis (so not for CADM or children)
    assert cells(rows, "therapy", "role", "situation", "ageGroup", "statement") >= {
        (PREDNISOLONE, FIRST_LINE, ACTIVE_MYOSITIS, ADULTS, stmt("R001"))}


@pytest.mark.parametrize("engine", ENGINES)
def test_s19_s22_what_is_used_for_polymyositis_inherited_from_the_group(engine: Engine) -> None:
    rows = query("treatments", disease="polymyositis", engine=engine)
    seed = {(r["therapy"].value, r["role"].value) for r in rows  # type: ignore[union-attr]
            if r["source"].value == IIM + "seed-page"}  # type: ignore[union-attr]
    assert seed == {(GLUCOCORTICOID, FIRST_LINE), (CONVENTIONAL_IS, ALSO_USED), (IVIG, ALSO_USED),
                    (BIOLOGIC, ALSO_USED)}
    assert {r["statedFor"].value for r in rows if r["source"].value == IIM + "seed-page"} == {  # type: ignore[union-attr]
        IIM_GROUP}


@pytest.mark.parametrize("engine", ENGINES)
def test_s01_s03_sporadic_ibm_is_the_exception_it_inherits_no_drug(engine: Engine) -> None:
    rows = query("treatments", disease="sporadic inclusion body myositis", engine=engine)
    assert cells(rows, "therapy", "role", "statement") == {
        (DRUG, NO_SPECIFIC, stmt("S02")),
        (DRUG, NO_SPECIFIC, stmt("R047a")),
        (IMMUNOSUPPRESSIVE, NOT_SHOWN_EFFECTIVE, stmt("S03")),
        (IMMUNOSUPPRESSIVE, NOT_SHOWN_EFFECTIVE, stmt("R047b")),
        (METHOTREXATE, NOT_SHOWN_EFFECTIVE, stmt("R048")),
        (BIMAGRUMAB, NOT_SHOWN_EFFECTIVE, stmt("R049")),
        (ARIMOCLOMOL, NOT_SHOWN_EFFECTIVE, stmt("R050")),
        (IVIG, NOT_SHOWN_EFFECTIVE, stmt("R051")),
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_s02_s03_which_drugs_have_not_been_shown_to_work_in_sporadic_ibm(engine: Engine) -> None:
    rows = query("not-effective", disease="sIBM", engine=engine)
    assert cells(rows, "therapy", "situation") == {
        (DRUG, None), (IMMUNOSUPPRESSIVE, None), (METHOTREXATE, None), (BIMAGRUMAB, None), (ARIMOCLOMOL, None),
        (IVIG, None),
        # inherited from the IIM group, for interstitial lung disease only (ACR/CHEST 2023)
        (METHOTREXATE, ILD), (IIM + "IIM_0000122", ILD)}
    assert {r["source"].value for r in rows if r["statement"].value == stmt("S03")} == {  # type: ignore[union-attr]
        IIM + "seed-page"}


@pytest.mark.parametrize("engine", ENGINES)
def test_nothing_is_not_effective_in_antisynthetase_syndrome_except_for_lung_disease(engine: Engine) -> None:
    rows = query("not-effective", disease="antisynthetase syndrome", engine=engine)
    # ACR/CHEST 2023: methotrexate and abatacept are not first-line for ILD in systemic autoimmune disease
    assert cells(rows, "therapy", "statement") == {(METHOTREXATE, stmt("R034e")), (IIM + "IIM_0000122", stmt("R034f"))}


@pytest.mark.parametrize("engine", ENGINES)
def test_s24_s32_what_adverse_effects_does_prednisone_have(engine: Engine) -> None:
    rows = query("adverse-effects", drug="prednisone", engine=engine)
    # the seed's effects, inherited from the classes; further sourced harms (cataract, adrenal insufficiency…) too
    assert cells(rows, "effect", "statedFor", "statement") >= {
        (HYPERTENSION, GLUCOCORTICOID, stmt("S24")), (WEIGHT_GAIN, GLUCOCORTICOID, stmt("S25")),
        (HIRSUTISM, GLUCOCORTICOID, stmt("S26")), (STRIAE, GLUCOCORTICOID, stmt("S27")),
        (DIABETES, GLUCOCORTICOID, stmt("S28")), (FIBRE_ATROPHY, GLUCOCORTICOID, stmt("S29")),
        (OSTEOPOROSIS, GLUCOCORTICOID, stmt("S30")), (INFECTION_RISK, IMMUNOSUPPRESSIVE, stmt("S32")),
    }
    assert cells(rows, "effect", "population") >= {(OSTEOPOROSIS, POST_MENOPAUSAL)}


@pytest.mark.parametrize("engine", ENGINES)
def test_s33_s35_ivig_reactions_are_mild_and_transient_but_labels_warn_of_more(engine: Engine) -> None:
    rows = query("adverse-effects", drug="IVIG", engine=engine)
    assert cells(rows, "effect", "severity", "transient", "statement") == {
        (HEADACHE, IIM + "Mild", "true", stmt("S33")),
        (WARMTH, IIM + "Mild", "true", stmt("S34")),
        (ARTHRALGIA, IIM + "Mild", "true", stmt("S35")),
        (THROMBOEMBOLISM, IIM + "Serious", None, stmt("R110a")),
        (RENAL, IIM + "LifeThreatening", None, stmt("R110b")),
        (THROMBOEMBOLISM, None, None, stmt("R112")),
        (MENINGITIS, None, None, stmt("R113")),
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_s31_what_prevents_the_bone_loss_of_prednisone_and_from_what_dose(engine: Engine) -> None:
    rows = query("adverse-effect-prevention", drug="prednisone", engine=engine)
    assert cells(rows, "measure", "kind", "effect", "statement") >= {
        (BISPHOSPHONATE, PROPHYLAXIS, OSTEOPOROSIS, stmt("S31a")),
        (CALCIUM, SUPPLEMENTATION, OSTEOPOROSIS, stmt("S31b")),
        (VITAMIN_D, SUPPLEMENTATION, OSTEOPOROSIS, stmt("S31c")),
        (BONE_DENSITY, SCREENING, OSTEOPOROSIS, stmt("S31d")),
        (BISPHOSPHONATE, TREATMENT, GIOP, stmt("R086")),
        (BISPHOSPHONATE, TREATMENT, GIOP, stmt("R087")),
        (CALCIUM, SUPPLEMENTATION, GIOP, stmt("R084a")),
        (VITAMIN_D, SUPPLEMENTATION, GIOP, stmt("R084b")),
        (WEIGHT_BEARING, PROPHYLAXIS, GIOP, stmt("R084c")),
        (BONE_DENSITY, SCREENING, GIOP, stmt("R080b")),
        (FRACTURE_RISK, SCREENING, GIOP, stmt("R080a")),
    }
    # ACR 2022 GIOP: from 2.5 mg/day for more than 3 months
    assert cells(rows, "statement", "minDailyDoseMg", "minDurationDays") >= {
        (stmt("R080a"), "2.5", "90"), (stmt("R080b"), "2.5", "90")}


@pytest.mark.parametrize("engine", ENGINES)
def test_s14_s18_what_prophylaxis_does_a_patient_on_rituximab_need(engine: Engine) -> None:
    rows = query("infection-prevention", drug="rituximab", engine=engine)
    assert cells(rows, "infection", "measure", "kind", "population", "statement") >= {
        (INFECTION, SCHEDULE_UPDATE, VACCINATION, None, stmt("S14")),
        (LATENT_TB, ANTI_TB, PROPHYLAXIS, None, stmt("S15")),
        (HBV, HBV_ANTIVIRAL, PROPHYLAXIS, None, stmt("S16")),
        # S17 names no agent: the unnamed VZV prophylaxis, qualified by what fits whom (R071, R073a, R182)
        (VZV, VZV_PROPHYLAXIS, PROPHYLAXIS, None, stmt("S17")),
        (PJP, TMP_SMX, PROPHYLAXIS, None, stmt("S18")),
        (LATENT_TB, IGRA, SCREENING, None, stmt("R061a")),
        (LATENT_TB, RIFAMPICIN, PROPHYLAXIS, None, stmt("R062a")),
        (LATENT_TB, ISONIAZID, PROPHYLAXIS, None, stmt("R062b")),
        (LATENT_TB, ISONIAZID, PROPHYLAXIS, None, stmt("R063")),
        (HBV, HBSAG, SCREENING, None, stmt("R065a")),
        (HBV, ANTI_HBC, SCREENING, None, stmt("R065b")),
        (HBV_REACTIVATION, HBV_ANTIVIRAL, PROPHYLAXIS, HBSAG_POSITIVE, stmt("R066")),
        (HBV_REACTIVATION, HBV_ANTIVIRAL, PROPHYLAXIS, ANTI_HBC_POSITIVE, stmt("R067")),
        (HBV_REACTIVATION, LIVER_TESTS, MONITORING, ANTI_HBC_POSITIVE, stmt("R069")),
        # chickenpox, not shingles: post-exposure prophylaxis for patients without immunity
        (CHICKENPOX, VARICELLA_PEP, PROPHYLAXIS, VZV_NON_IMMUNE, stmt("R071")),
        (CHICKENPOX, VZIG, PROPHYLAXIS, VZV_NON_IMMUNE, stmt("R182")),
        (ZOSTER, ZOSTER_VACCINE, VACCINATION, None, stmt("R073a")),
        (INFECTION, PNEUMOCOCCAL, VACCINATION, None, stmt("R073b")),
        (INFECTION, INFLUENZA, VACCINATION, None, stmt("R073c")),
        (INFECTION, LIVE_AVOIDANCE, AVOIDANCE, None, stmt("R074")),
    }
    # ACR 2022's vaccines are for adults (clinical facts #73), RZV from 18 (#72)
    assert {r["statement"].value: r["ageGroup"].value for r in rows  # type: ignore[union-attr]
            if r["kind"].value == VACCINATION and r["ageGroup"] is not None} == {  # type: ignore[union-attr]
        stmt("R073a"): ADULTS, stmt("R073b"): ADULTS, stmt("R073c"): ADULTS}


@pytest.mark.parametrize("engine", ENGINES)
def test_ivig_needs_no_infection_prophylaxis_because_it_is_not_immunosuppressive(engine: Engine) -> None:
    assert len(query("infection-prevention", drug="intravenous immunoglobulin", engine=engine)) == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_pneumocystis_prophylaxis_threshold_for_glucocorticoids(engine: Engine) -> None:
    rows = query("infection-prevention", drug="prednisone", engine=engine)
    # EULAR 2022: prednisolone >15-30 mg/day for >2-4 weeks: more than 15 mg (not "at least"), from 14 days
    assert cells(rows, "infection", "statement", "aboveDailyDoseMg", "minDailyDoseMg", "minDurationDays") >= {
        (PJP, stmt("R055"), "15", None, "14")}


@pytest.mark.parametrize("engine", ENGINES)
def test_s04_s09_which_non_drug_measures_help_in_polymyositis(engine: Engine) -> None:
    rows = query("supportive-care", disease="polymyositis", engine=engine)
    assert cells(rows, "intervention", "situation", "purpose", "statement") == {
        (BED_REST, ACTIVE_PHASE, None, stmt("S04")),
        (AEROBIC, None, CRAMP, stmt("S05")),
        (REHAB, None, None, stmt("S06")),
        (PROTEIN, MUSCLE_LOSS, None, stmt("S07")),
        (HEAD_OF_BED, DYSPHAGIA, None, stmt("S08")),
        (THICKENED, DYSPHAGIA, None, stmt("S09")),
        (REHAB, None, None, stmt("R006")),
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_s10_s13_which_comorbidities_to_address_in_dermatomyositis(engine: Engine) -> None:
    rows = query("comorbidities", disease="dermatomyositis", engine=engine)
    assert cells(rows, "comorbidity", "action", "measure", "statement") == {
        (OSTEOPOROSIS, PREVENT, None, stmt("S10")),
        (DIABETES, CONTROL, GLUCOSE, stmt("S11")),
        (HYPERTENSION, CONTROL, BLOOD_PRESSURE, stmt("S12")),
        (DYSLIPIDAEMIA, CONTROL, LIPIDS, stmt("S13")),
        (ILD, SCREEN, HRCT, stmt("R037")),
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_what_do_we_know_about_methotrexate(engine: Engine) -> None:
    rows = query("drug-profile", drug="metotrexato", engine=engine)
    assert {r["value"].value for r in rows if r["aspect"].value == "class"} == {  # type: ignore[union-attr]
        CONVENTIONAL_IS, IMMUNOSUPPRESSIVE}
    assert {r["value"].value for r in rows if r["aspect"].value == "identifier"} == {  # type: ignore[union-attr]
        "ATC:L01BA01", "ATC:L04AX03", "CHEBI:44185", "DRUGBANK:DB00563", "MESH:D008727", "RXNORM:6851"}
    assert cells(rows, "aspect", "value", "context") >= {
        ("role", ALSO_USED, IIM_GROUP), ("role", NOT_SHOWN_EFFECTIVE, SPORADIC_IBM),
        ("adverse effect", INFECTION_RISK, None), ("prevention", FOLIC_ACID, IIM + "IIM_0000330"),
        ("infection prevention", TMP_SMX, PJP)}


@pytest.mark.parametrize("engine", ENGINES)
def test_which_statements_involve_sporadic_ibm(engine: Engine) -> None:
    rows = query("evidence", term="MONDO:0007827", engine=engine)
    assert {r["statement"].value for r in rows} == {  # type: ignore[union-attr]
        stmt(s) for s in ("S01", "S02", "S03", "R047a", "R047b", "R048", "R049", "R050", "R051",
                          "R052a", "R052b", "R052c")} | {
        r["statement"].value for r in query("evidence", term="idiopathic inflammatory myopathy",  # type: ignore[union-attr]
                                            engine=engine)}


@pytest.mark.parametrize("engine", ENGINES)
def test_what_is_dermatomyositis_called_in_other_vocabularies(engine: Engine) -> None:
    rows = query("mappings", term="dermatomiositis", engine=engine)
    assert cells(rows, "predicate", "object") == {
        ("http://www.w3.org/2004/02/skos/core#exactMatch", "http://purl.obolibrary.org/obo/MONDO_0016367"),
        ("http://www.w3.org/2004/02/skos/core#exactMatch", "http://purl.obolibrary.org/obo/DOID_10223"),
        ("http://www.w3.org/2004/02/skos/core#exactMatch", "http://id.nlm.nih.gov/mesh/D003882"),
        ("http://www.w3.org/2004/02/skos/core#exactMatch", "http://purl.obolibrary.org/obo/NCIT_C26744"),
        ("http://www.w3.org/2004/02/skos/core#exactMatch", "http://www.orpha.net/ORDO/Orphanet_221"),
        # ICD-10-CM M33 is "dermatopolymyositis": broader than dermatomyositis
        ("http://www.w3.org/2004/02/skos/core#broadMatch", "http://purl.bioontology.org/ontology/ICD10CM/M33"),
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_s01_what_are_the_subtypes_of_iim(engine: Engine) -> None:
    rows = query("subtypes", engine=engine)
    listed = {r["subtype"].value for r in rows}  # type: ignore[union-attr]
    # every disease class the graph puts under the IIM group, so a new subtype is listed with no change here
    under = shared_store().query(
        "SELECT DISTINCT ?d WHERE { ?d <http://www.w3.org/2000/01/rdf-schema#subClassOf>+ <" + IIM_GROUP + "> }")
    assert listed == {s["d"].value for s in under}  # type: ignore[union-attr]
    assert listed >= {DERMATOMYOSITIS, POLYMYOSITIS, SPORADIC_IBM, ANTISYNTHETASE}


# Every example value every query's header gives (and no value for a query without parameters): a new query's
# examples are checked here without naming it.
EXAMPLES = [(q.name, {p.name: value}) for q in list_queries() for p in q.parameters for value in p.examples] + [
    (q.name, {}) for q in list_queries() if all(p.optional for p in q.parameters)]


@pytest.mark.parametrize(("name", "params"), EXAMPLES,
                         ids=[f"{n}-{'-'.join(p.values()) or 'no-parameters'}" for n, p in EXAMPLES])
def test_every_example_of_a_header_answers_with_the_same_rows_on_both_engines(name: str,
                                                                               params: dict[str, str]) -> None:
    oxigraph = query(name, engine=Engine.OXIGRAPH, **params)
    rdflib = query(name, engine=Engine.RDFLIB, **params)
    assert len(oxigraph) > 0, f"{name} {params}: the example answers nothing"
    assert oxigraph.columns == rdflib.columns
    assert [tuple(r.values()) for r in oxigraph] == [tuple(r.values()) for r in rdflib]


def test_every_required_parameter_has_an_example() -> None:
    missing = [f"{q.name} --{p.name}" for q in list_queries() for p in q.parameters
               if not p.optional and not p.examples]
    assert not missing, "give these parameters examples in their query's header (# param NAME: …, e.g. …)"


@pytest.mark.parametrize(("description", "examples"), [
    ("the drug, e.g. prednisone, CHEBI:8382", ("prednisone", "CHEBI:8382")),
    ('the drug, e.g. prednisone, "prednisona"', ("prednisone", "prednisona")),
    ('a group, e.g. "myositis, idiopathic", MONDO:0018943', ("myositis, idiopathic", "MONDO:0018943")),
    ("any term of ours, by label, CURIE or IRI", ()),
])
def test_a_header_lists_its_examples_after_eg(description: str, examples: tuple[str, ...]) -> None:
    assert parse_examples(description) == examples


@pytest.mark.parametrize("engine", ENGINES)
def test_a_bound_variable_the_query_does_not_select_stays_out_of_the_columns(engine: Engine) -> None:
    text = "SELECT ?label WHERE { ?term <http://www.w3.org/2000/01/rdf-schema#label> ?label }"
    result = run_sparql(text, bindings={"term": Term("uri", DERMATOMYOSITIS)}, engine=engine)
    assert result.columns == ["label"]
    assert "dermatomyositis" in result.values("label")


@pytest.mark.parametrize("engine", ENGINES)
def test_an_aggregate_grouped_by_a_bound_variable_counts_for_its_term_alone(engine: Engine) -> None:
    text = ("SELECT ?group (COUNT(DISTINCT ?subtype) AS ?subtypes) WHERE { "
            "?subtype <http://www.w3.org/2000/01/rdf-schema#subClassOf> ?group } GROUP BY ?group")
    result = run_sparql(text, bindings={"group": Term("uri", IIM + "IIM_0000008")}, engine=engine)
    # immune-mediated necrotizing myopathy: anti-HMGCR, anti-SRP and antibody-negative
    assert [(r["group"].value, r["subtypes"].value) for r in result] == [  # type: ignore[union-attr]
        (IIM + "IIM_0000008", "3")]


def test_an_aggregate_that_does_not_group_by_its_parameter_says_so() -> None:
    text = "SELECT (COUNT(?s) AS ?n) WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#subClassOf> ?group }"
    with pytest.raises(QuerySyntaxError, match="GROUP BY its parameters"):
        run_sparql(text, bindings={"group": Term("uri", IIM + "IIM_0000008")}, engine=Engine.OXIGRAPH)


def test_every_query_has_a_header_with_question_description_and_parameters() -> None:
    for named in list_queries():
        assert named.question.endswith("?"), named.name
        assert named.description and named.returns, named.name
        assert all(p.description for p in named.parameters), named.name


# --- binding for remote endpoints: VALUES in every group that uses the variable ------------------------------------

DRUG_TERM = Term("uri", PREDNISONE)
VALUES_DRUG = f"VALUES ?drug {{ <{PREDNISONE}> }}"


def test_values_go_into_every_group_that_uses_the_variable_and_the_where_group() -> None:
    text = ("SELECT ?x WHERE { ?a ?b ?x { ?drug ?p ?x } UNION { ?x ?p ?y } "
            "FILTER NOT EXISTS { FILTER (?x = ?drug) } OPTIONAL { ?x ?q ?z } }")
    bound = bind_values(text, {"drug": DRUG_TERM})
    assert bound.count(VALUES_DRUG) == 3  # the WHERE group, the first UNION branch, the NOT EXISTS group
    assert bound.startswith(f"SELECT ?x WHERE {{ {VALUES_DRUG} ?a ?b ?x {{ {VALUES_DRUG} ?drug")
    assert "{ ?x ?p ?y }" in bound and "{ ?x ?q ?z }" in bound


def test_values_skip_strings_iris_comments_data_blocks_and_prefixed_names() -> None:
    text = ('PREFIX ex: <http://example.org/q?drug=1#>\n'
            'SELECT ?x WHERE {\n'
            '  # { ?drug } in a comment\n'
            '  ?x ex:values ?v .\n'
            '  { ?x ex:label "{ ?drug }" } \n'
            "  { ?x ex:note '''{\n?drug}''' }\n"
            '  VALUES ?v { 1 2 }\n'
            '  { ?x ex:drug ?drug }\n'
            '}')
    bound = bind_values(text, {"drug": DRUG_TERM})
    assert bound.count(VALUES_DRUG) == 2  # the WHERE group and the last group, nothing else
    assert "VALUES ?v { 1 2 }" in bound and f"{{ {VALUES_DRUG} ?x ex:drug ?drug }}" in bound
    assert '{ ?x ex:label "{ ?drug }" }' in bound


def test_values_skip_a_subselect_wrapper_and_a_construct_template() -> None:
    text = "SELECT ?x WHERE { { SELECT ?x WHERE { ?x ?p ?drug } } }"
    bound = bind_values(text, {"drug": DRUG_TERM})
    assert f"{{ SELECT ?x WHERE {{ {VALUES_DRUG} ?x ?p ?drug }} }}" in bound  # nothing before the SELECT
    construct = bind_values("CONSTRUCT { ?drug ?p ?o } WHERE { ?drug ?p ?o }", {"drug": DRUG_TERM})
    assert construct == f"CONSTRUCT {{ ?drug ?p ?o }} WHERE {{ {VALUES_DRUG} ?drug ?p ?o }}"


def test_a_bound_literal_is_written_by_pyoxigraph_not_pasted() -> None:
    hostile = Term("literal", 'x" } } DROP ALL ; SELECT * { "', "http://www.w3.org/2001/XMLSchema#string")
    bound = bind_values("SELECT ?s WHERE { ?s ?p ?v }", {"v": hostile})
    assert bound == 'SELECT ?s WHERE { VALUES ?v { "x\\" } } DROP ALL ; SELECT * { \\"" } ?s ?p ?v }'
    assert run_sparql(bound).rows == []


@pytest.mark.parametrize("named", list_queries(), ids=lambda q: q.name)
def test_values_binding_gives_the_rows_of_substitution_for_every_named_query(named: NamedQuery) -> None:
    """What a remote store is sent, run here: the same rows as pyoxigraph's substitutions, for every example."""
    index = term_index()
    combos = [{p.name: v} for p in named.parameters for v in p.examples] or [{}]
    for values in combos:
        bindings = bind_parameters(named, values, index)
        expected = run_sparql(named.text, bindings=bindings)
        sent = bind_values(named.text, bindings) if bindings else named.text
        assert run_sparql(sent).rows == expected.rows, (named.name, values)


@pytest.mark.parametrize("text", [
    "SELECT ?l WHERE { <https://w3id.org/iimkg/IIM_0000102> rdfs:label ?l }",
    "SELECT ?x WHERE { ?x a ?y } GROUP BY",
    "PREFIX : <http://example.org/> SELECT ?x WHERE { ?x a :a% }",
    "SELECT ?x WHERE { ?x a \"open }",
])
def test_a_syntax_error_is_one_readable_line(text: str) -> None:
    """pyoxigraph lists the character classes it would accept over several lines; the error is one line."""
    with pytest.raises(QuerySyntaxError) as caught:
        run_sparql(text)
    message = str(caught.value)
    assert "\n" not in message and "..=" not in message and len(message) < 300
    assert caught.value.line == 1 and caught.value.column


def test_an_undeclared_prefix_is_named_as_such() -> None:
    with pytest.raises(QuerySyntaxError, match="prefix the query does not declare"):
        run_sparql("SELECT ?l WHERE { ?s rdfs:label ?l }")

"""Treatment plans against the graph: every rule fires on a plan built to trigger it and stays quiet on its near
miss (the W3C SHACL test-suite layout, compared on focus node, source shape and severity, for the rule under test
only; each case is a small change to one complete plan, tests/resources/plans/base.ttl); the rules read the graph,
not lists in the shapes; the fast path gives exactly pyshacl's findings; bad input fails cleanly."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pyoxigraph as ox
import pyshacl
import pytest
import rdflib
from rdflib.namespace import RDF, RDFS, SH

from iimkg.cli.main import main
from iimkg.core.errors import InputError
from iimkg.core.prefixes import prefixes
from iimkg.core.resources import ontology_file
from iimkg.core.vocab import IIMPLAN as PLAN_NAMESPACE
from iimkg.plans.validate import PLAN_CONTEXT_IRI, plan_context, plan_context_file, plan_shapes_file, validate_plans
from iimkg.shacl.fast import compile_shapes
from iimkg.shacl.findings import Severity, ValidationResult, display_path, rules_of

from conftest import IIM, RESOURCES, ROOT
from shacl_cases import (
    BASE,
    Case,
    Result,
    assert_each_rule_has_a_failing_and_a_passing_case,
    case_files,
    case_graph,
    expected_results,
    materialise,
    reported_results,
    rule_iri_of,
)

CASES_DIR = RESOURCES / "plans"
CASE_FILES = case_files(CASES_DIR)
EXAMPLES = sorted((ROOT / "examples" / "plans").glob("*"))
IIMPLAN = rdflib.Namespace(PLAN_NAMESPACE)
# What the clinical rules are about: the only iimkg terms their SPARQL may name.
ANCHORS = {"IIM_0000307": "osteoporosis", "IIM_0000401": "latent tuberculosis infection",
           "IIM_0000403": "hepatitis B virus infection", "IIM_0000408": "Pneumocystis jirovecii pneumonia",
           "IIM_0000162": "live attenuated vaccine"}


def finding_results(result: ValidationResult, data: Path, rule_iri: str) -> set[Result]:
    return {(f.focus, PLAN_NAMESPACE + f.rule, f.severity.iri) for f in result.findings
            if f.file == display_path(data) and PLAN_NAMESPACE + f.rule == rule_iri}


def kind_of(shapes: rdflib.Graph, iri: str) -> rdflib.URIRef:
    """A rule's kind (iimplan:ruleKind): iimplan:StructuralRule or iimplan:ClinicalRule."""
    [kind] = shapes.objects(rdflib.URIRef(iri), IIMPLAN.ruleKind)
    assert isinstance(kind, rdflib.URIRef)
    return kind


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> list[Case]:
    """Each case's plan (base.ttl changed as the case says), written to a file for validate_plans."""
    return materialise(CASE_FILES, tmp_path_factory.mktemp("plan-cases"))


@pytest.fixture(scope="module")
def all_cases(cases: list[Case]) -> ValidationResult:
    return validate_plans([case.data for case in cases])


@pytest.fixture(scope="module")
def shapes() -> rdflib.Graph:
    return rdflib.Graph().parse(plan_shapes_file())


def composed(name: str, cases: list[Case]) -> Case:
    return next(case for case in cases if case.name == name)


# ── each rule, on its cases ──

@pytest.mark.parametrize("case_file", CASE_FILES, ids=[c.stem for c in CASE_FILES])
def test_each_case_gives_the_results_its_manifest_expects_of_its_rule(case_file: Path, cases: list[Case],
                                                                      all_cases: ValidationResult) -> None:
    case = composed(case_file.stem, cases)
    rule = rule_iri_of(case, all_cases.rules)
    assert finding_results(all_cases, case.data, rule) == expected_results(case.source, rule)
    assert reported_results(all_cases, case.data, rule) == expected_results(case.source, rule)


def test_the_complete_plan_that_every_case_starts_from_conforms() -> None:
    result = validate_plans([CASES_DIR / BASE], fail_on="info")
    assert [(f.rule, f.message) for f in result.findings] == [] and result.plans == 1


def test_every_rule_has_a_plan_that_triggers_it_and_a_near_miss_that_does_not(shapes: rdflib.Graph) -> None:
    assert_each_rule_has_a_failing_and_a_passing_case(rules_of(shapes), CASE_FILES)


def test_every_rule_is_structural_or_clinical_and_only_clinical_rules_enforce_statements(
        shapes: rdflib.Graph) -> None:
    kinds = set(shapes.objects(None, IIMPLAN.ruleKind))
    assert kinds == set(shapes.subjects(RDF.type, IIMPLAN.RuleKind)) == {IIMPLAN.StructuralRule, IIMPLAN.ClinicalRule}
    assert all(shapes.value(kind, RDFS.label) and shapes.value(kind, RDFS.comment) for kind in kinds)
    for rule in rules_of(shapes):
        enforces = set(shapes.objects(rdflib.URIRef(rule.iri), IIMPLAN.enforces))
        assert bool(enforces) is (kind_of(shapes, rule.iri) == IIMPLAN.ClinicalRule), rule.name


def test_every_rule_says_what_it_checks_why_and_where_it_comes_from(shapes: rdflib.Graph) -> None:
    for rule in rules_of(shapes):
        shape = rdflib.URIRef(rule.iri)
        messages = [*shapes.objects(shape, SH.message),
                    *(m for c in shapes.objects(shape, SH.sparql) for m in shapes.objects(c, SH.message))]
        assert rule.label != rule.name and rule.comment and rule.source, rule.name
        assert len(messages) == 1 and str(messages[0]).endswith("."), rule.name
        assert "{?plan}" not in messages[0], "a finding carries its plan; the message need not name it"


def test_every_clinical_rule_cites_the_statements_it_enforces(shapes: rdflib.Graph, graph: rdflib.Graph) -> None:
    statements = {str(s) for s in graph.subjects(RDF.type, None) if str(s).startswith(IIM + "statement-")}
    clinical = [r for r in rules_of(shapes) if kind_of(shapes, r.iri) == IIMPLAN.ClinicalRule]
    assert clinical
    for rule in clinical:
        enforced = {str(s) for s in shapes.objects(rdflib.URIRef(rule.iri), IIMPLAN.enforces)}
        assert enforced and enforced <= statements, rule.name
        assert rule.statements, rule.name


def test_the_shapes_are_valid_shacl(shapes: rdflib.Graph) -> None:
    shacl_shacl = rdflib.Graph().parse(Path(pyshacl.__file__).parent / "assets" / "shacl-shacl.ttl")
    conforms, _, text = pyshacl.validate(shapes, shacl_graph=shacl_shacl)
    assert conforms, text
    conforms, report, _ = pyshacl.validate(rdflib.Graph(), shacl_graph=shapes, meta_shacl=True, advanced=True)
    assert conforms and isinstance(report, rdflib.Graph)


def test_the_fast_engine_compiles_every_plan_shape(shapes: rdflib.Graph) -> None:
    compiled = compile_shapes(shapes)
    assert compiled.fallback is None
    assert len(compiled.rules) == len(set(shapes.objects(None, SH.rule)))
    assert {check.shape for check in compiled.checks} == {r.iri for r in rules_of(shapes)}


def test_timing_each_step_names_every_rule_and_check_and_changes_no_result(shapes: rdflib.Graph) -> None:
    """bench/rules.py reads where evaluation goes from ``run(store, timings)``: one entry per step, named after
    its shape, and the same results as a run without timings."""
    compiled = compile_shapes(shapes)
    names = compiled.step_names()
    assert len(names) == len(set(names)) == len(compiled.rules) + len(compiled.checks)
    for shape in {check.shape for check in compiled.checks} | {rule.shape for rule in compiled.rules}:
        local = shape.rsplit("/", 1)[-1]
        assert any(name.startswith(f"{local} ") for name in names), local

    quads = [*ox.parse(path=ontology_file(), format=ox.RdfFormat.TURTLE),
             *ox.parse(path=RESOURCES / "plan-samples" / "every-rule.ttl", format=ox.RdfFormat.TURTLE)]

    def run(timings: dict[str, float] | None) -> list[str]:
        store = ox.Store()
        store.extend(quads)  # the same blank nodes in both runs
        return sorted(map(repr, compiled.run(store, timings)))

    timings: dict[str, float] = {}
    untimed = run(None)
    assert untimed and run(timings) == untimed
    assert set(timings) == set(names)
    assert all(seconds >= 0 for seconds in timings.values())


def test_the_rules_queries_derive_what_their_updates_derive(shapes: rdflib.Graph) -> None:
    """``bench/rules.py --rows`` runs each step's query (``step_queries``: a rule as its CONSTRUCT) under ``oxigraph
    query --explain``: the steps in the order ``run`` takes them, the checks' queries as they run, and the rules'
    CONSTRUCTs, each run in turn and its triples added, deriving what ``run``'s updates derive (the blank nodes a
    template makes anew counted, not compared)."""
    compiled = compile_shapes(shapes)
    steps = compiled.step_queries()
    assert [name for name, _ in steps] == compiled.step_names()
    assert [query for _, query in steps[len(compiled.rules):]] == [check.query for check in compiled.checks]
    quads = [*ox.parse(path=ontology_file(), format=ox.RdfFormat.TURTLE),
             *ox.parse(path=RESOURCES / "plan-samples" / "every-rule.ttl", format=ox.RdfFormat.TURTLE)]
    given = {(q.subject, q.predicate, q.object) for q in quads}
    old = {term for q in quads for term in (q.subject, q.object) if isinstance(term, ox.BlankNode)}

    def derived(store: ox.Store) -> tuple[set[tuple[object, ...]], int]:
        """The triples the rules added that name no new blank node, and how many name one."""
        added = {(q.subject, q.predicate, q.object) for q in store} - given
        fresh = {t for t in added if any(isinstance(x, ox.BlankNode) and x not in old for x in t)}
        return added - fresh, len(fresh)

    by_updates = ox.Store()
    by_updates.extend(quads)
    compiled.run(by_updates)
    by_queries = ox.Store()
    by_queries.extend(quads)
    for name, query in steps[:len(compiled.rules)]:
        result = by_queries.query(query)
        assert isinstance(result, ox.QueryTriples), name
        by_queries.extend([ox.Quad(t.subject, t.predicate, t.object) for t in result])
    expected, expected_fresh = derived(by_updates)
    assert expected and expected_fresh  # the sample exercises every derivation, the course's node included
    assert derived(by_queries) == (expected, expected_fresh)


# ── the rules read the graph ──

def test_the_shapes_name_no_drug_and_no_threshold(shapes: rdflib.Graph) -> None:
    """The SPARQL names only what each rule is about; drugs, measures and thresholds come from the statements."""
    texts = [str(o) for p in (SH.select, SH.construct) for o in shapes.objects(None, p)]
    assert len(texts) == len(set(shapes.objects(None, SH.sparql))) + len(set(shapes.objects(None, SH.rule)))
    named = {term for text in texts for term in re.findall(r"IIM_\d{7}", text)}
    assert named <= set(ANCHORS), named - set(ANCHORS)
    numbers = {n for text in texts for n in re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", text)}
    assert not numbers & {"2.5", "15", "14", "90", "20", "30"}, numbers


NEW_DRUG = """
iim:IIM_0000199 a owl:Class ;
    rdfs:label "testimab"@en ;
    obo:IAO_0000115 "A monoclonal antibody that depletes B cells, made up for a test."@en ;
    rdfs:subClassOf iim:IIM_0000120 , iim:IIM_0000100 ;
    rdfs:isDefinedBy <https://w3id.org/iimkg/> .
"""

TESTIMAB_PLAN = """@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix iim: <https://w3id.org/iimkg/> .
<#alone> a iim:TreatmentPlan ;
    iim:diagnosis iim:IIM_0000006 ;
    iim:patient [ iim:sex iim:Male ; iim:ageYears 60 ] ;
    iim:prescription [ iim:prescribedDrug iim:IIM_0000199 ; iim:dailyDoseMg 500 ;
                       iim:startDate "2026-03-02"^^xsd:date ; iim:plannedDurationDays 90 ] .
<#hbsag> a iim:TreatmentPlan ;
    iim:diagnosis iim:IIM_0000006 ;
    iim:patient [ iim:sex iim:Male ; iim:ageYears 60 ; iim:belongsToPopulation iim:IIM_0000605 ] ;
    iim:prescription [ iim:prescribedDrug iim:IIM_0000199 ; iim:dailyDoseMg 500 ;
                       iim:startDate "2026-03-02"^^xsd:date ; iim:plannedDurationDays 90 ] .
<#with-prednisone> a iim:TreatmentPlan ;
    iim:diagnosis iim:IIM_0000006 ;
    iim:patient [ iim:sex iim:Male ; iim:ageYears 60 ] ;
    iim:prescription [ iim:prescribedDrug iim:IIM_0000199 ; iim:dailyDoseMg 500 ;
                       iim:startDate "2026-03-02"^^xsd:date ; iim:plannedDurationDays 90 ] ,
                     [ iim:prescribedDrug iim:IIM_0000102 ; iim:dailyDoseMg 30 ;
                       iim:startDate "2026-03-02"^^xsd:date ; iim:plannedDurationDays 60 ] .
"""


def test_a_new_immunosuppressant_added_to_the_ontology_gets_every_rule(tmp_path: Path) -> None:
    """testimab, a new biological immunosuppressant in a copy of the ontology, is checked like rituximab's class:
    the rules find its prevention needs from its superclasses, with no change to the shapes."""
    ontology = tmp_path / "iim.ttl"
    ontology.write_text(ontology_file().read_text(encoding="utf-8") + NEW_DRUG, encoding="utf-8")
    plan = tmp_path / "plan.ttl"
    plan.write_text(TESTIMAB_PLAN, encoding="utf-8")

    shipped = validate_plans([plan])
    assert {(f.plan or "").split("#")[1] for f in shipped.findings if f.rule == "unknown_term"} == {
        "alone", "hbsag", "with-prednisone"}
    assert all("testimab" not in f.message for f in shipped.findings)

    extended = validate_plans([plan], ontology=ontology)
    assert "unknown_term" not in {f.rule for f in extended.findings}
    fired: dict[str, set[str]] = {}
    for finding in extended.findings:
        if "testimab" in finding.message:
            fired.setdefault((finding.plan or "").split("#")[1], set()).add(finding.rule)
    assert fired["alone"] == {"tuberculosis_screening", "hepatitis_b_screening", "recommended_vaccines",
                              "vaccination_schedule_review"}
    assert fired["hbsag"] == {"tuberculosis_screening", "hepatitis_b_prophylaxis", "recommended_vaccines",
                              "vaccination_schedule_review"}
    assert fired["with-prednisone"] == {"tuberculosis_screening", "hepatitis_b_screening", "recommended_vaccines",
                                        "vaccination_schedule_review"}
    # Pneumocystis prophylaxis is called for by the glucocorticoid's dose (R055), with or without testimab
    [pneumocystis] = [f for f in extended.findings if f.rule == "pneumocystis_prophylaxis"]
    assert "prednisone 30 mg/day for 60 days" in pneumocystis.message and "R055" in pneumocystis.message


def test_a_threshold_changed_in_the_ontology_changes_what_the_rule_finds(tmp_path: Path) -> None:
    """Raising R080a/R080b's 2.5 mg/day to 25 mg/day silences the osteoporosis rule for 20 mg/day."""
    plan = ROOT / "examples" / "plans" / "osteoporosis-prevention.ttl"
    assert "osteoporosis_prevention" in {f.rule for f in validate_plans([plan]).findings}
    ontology = tmp_path / "iim.ttl"
    text = ontology_file().read_text(encoding="utf-8")
    assert text.count('iim:dailyDoseMinMg "2.5"^^xsd:decimal') == 2
    ontology.write_text(text.replace('iim:dailyDoseMinMg "2.5"^^xsd:decimal', 'iim:dailyDoseMinMg "25"^^xsd:decimal'),
                        encoding="utf-8")
    assert "osteoporosis_prevention" not in {f.rule for f in validate_plans([plan], ontology=ontology).findings}


@pytest.mark.parametrize(("end", "fires"), [("2024-03-30", True), ("2024-03-29", False)])
def test_durations_are_counted_from_the_dates_across_a_leap_day(end: str, fires: bool, tmp_path: Path) -> None:
    """2024-01-01 to 2024-03-30 is 90 days counted inclusively (29 February included): R080a's 90 days."""
    graph = case_graph(CASES_DIR / "osteoporosis_prevention-fail.trig")
    term = rdflib.Namespace(IIM)
    [rx] = graph.subjects(term.prescribedDrug, term.IIM_0000102)  # prednisone
    for given in (term.dailyDoseMg, term.startDate, term.plannedDurationDays):
        graph.remove((rx, given, None))
    graph.add((rx, term.dailyDoseMg, rdflib.Literal("2.5", datatype=rdflib.XSD.decimal)))
    graph.add((rx, term.startDate, rdflib.Literal("2024-01-01", datatype=rdflib.XSD.date)))
    graph.add((rx, term.endDate, rdflib.Literal(end, datatype=rdflib.XSD.date)))
    # the plan made when the course starts: a course that ended before the plan date is past, and calls for nothing
    [plan_node] = graph.subjects(term.planDate, None)
    graph.set((plan_node, term.planDate, rdflib.Literal("2024-01-01", datatype=rdflib.XSD.date)))
    plan = tmp_path / "plan.ttl"
    graph.serialize(plan, format="turtle")
    rules = {f.rule for f in validate_plans([plan]).findings}
    assert ("osteoporosis_prevention" in rules) is fires


def _node(graph: rdflib.Graph, fragment: str) -> rdflib.term.Node:
    """The node of a case's plan named ``<#fragment>``."""
    [node] = [s for s in set(graph.subjects()) | set(graph.objects()) if str(s).endswith("#" + fragment)]
    return node


def _plan_file(tmp_path: Path, case: str, change: dict[str, list[tuple[str, object]]]) -> Path:
    """A case's plan with, for each node of it (by its fragment), the given properties replaced by new values."""
    graph = case_graph(CASES_DIR / case)
    term = rdflib.Namespace(IIM)
    for fragment, pairs in change.items():
        node = _node(graph, fragment)
        for name, value in pairs:
            graph.remove((node, term[name], None))
            if value is not None:
                graph.add((node, term[name], value if isinstance(value, rdflib.term.Node) else rdflib.Literal(value)))
    plan = tmp_path / f"{case}-{len(list(tmp_path.iterdir()))}.ttl"
    graph.serialize(plan, format="turtle")
    return plan


@pytest.mark.parametrize(("results", "screened"), [
    ({"IIM_0000525": "NegativeResult"}, True),                                   # surface antigen, negative
    ({"IIM_0000526": "PositiveResult"}, True),                                   # core antibody, positive
    ({"IIM_0000522": "NegativeResult"}, False),                                  # an IGRA: not a hepatitis B test
], ids=["hbsag result", "anti-hbc result", "igra result only"])
def test_a_recorded_result_is_the_test_done(results: dict[str, str], screened: bool, tmp_path: Path) -> None:
    """hepatitis_b_screening-fail.trig (no hepatitis B screening listed) with the patient's results recorded instead
    (iim:testResult, as a plan may state antibody status and serologies): a result of a hepatitis B test is that
    screening done, so the rule is quiet; a result of another test is not."""
    plan = _plan_file(tmp_path, "hepatitis_b_screening-fail.trig", {})
    graph = rdflib.Graph().parse(plan)
    term = rdflib.Namespace(IIM)
    for test, reading in results.items():
        result = rdflib.BNode()
        graph.add((_node(graph, "patient"), term.testResult, result))
        graph.add((result, term.resultOf, term[test]))
        graph.add((result, term.interpretation, term[reading]))
    graph.serialize(plan, format="turtle")
    fired = [f for f in validate_plans([plan]).findings if f.rule == "hepatitis_b_screening"]
    assert bool(fired) is not screened, [f.message for f in fired]


def test_an_open_ended_prescription_is_assumed_ongoing_by_the_long_term_rules(tmp_path: Path) -> None:
    """Prednisone 40 mg/day, active with no end and no duration (iim:openEnded, as the FHIR converter writes it),
    alone: it needs bone protection (R080a: from 90 days) and Pneumocystis prophylaxis (R055), and the findings
    say what was assumed."""
    plan = _plan_file(tmp_path, "pneumocystis_prophylaxis-fail.trig", {
        "prednisone": [("plannedDurationDays", None), ("dailyDoseMg", 40), ("openEnded", True)]})
    graph = rdflib.Graph().parse(plan)
    for measure in ("alendronate", "calcium", "vitamind", "dxa"):
        graph.remove((None, rdflib.URIRef(IIM + "coIntervention"), _node(graph, measure)))
    graph.serialize(plan, format="turtle")
    findings = {f.rule: f.message for f in validate_plans([plan]).findings}
    assert "duration_given" not in findings
    for rule in ("osteoporosis_prevention", "pneumocystis_prophylaxis"):
        assert "On prednisone 40 mg/day open-ended, assumed ongoing (from " in findings[rule], findings[rule]


# ── courses: prescriptions of one drug class that reach a threshold together (iimplan:Course) ──

Step = tuple[object, str | None, int]  # daily dose in mg, start date (or None), planned duration in days


def _course_plan(tmp_path: Path, case: str, drug: str, steps: list[Step]) -> Path:
    """A case's plan whose prescription of ``drug`` (a fragment of base.ttl) is replaced by one prescription of the
    same drug per step; the steps are blank nodes, as an export writes them."""
    graph = case_graph(CASES_DIR / case)
    term = rdflib.Namespace(IIM)
    node = _node(graph, drug)
    code = graph.value(node, term.prescribedDrug)
    [plan] = graph.subjects(term.prescription, node)
    graph.remove((plan, term.prescription, node))
    graph.remove((node, None, None))
    for dose, start, days in steps:
        step = rdflib.BNode()
        graph.add((plan, term.prescription, step))
        graph.add((step, RDF.type, term.Prescription))
        graph.add((step, term.prescribedDrug, code))
        graph.add((step, term.dailyDoseMg, rdflib.Literal(dose)))
        graph.add((step, term.plannedDurationDays, rdflib.Literal(days)))
        if start is not None:
            graph.add((step, term.startDate, rdflib.Literal(start, datatype=rdflib.XSD.date)))
    plan_file = tmp_path / f"{case}-course-{len(list(tmp_path.iterdir()))}.ttl"
    graph.serialize(plan_file, format="turtle")
    return plan_file


def _messages(plan: Path, rule: str) -> list[str]:
    return sorted(f.message for f in validate_plans([plan]).findings if f.rule == rule)


# R080a/R080b: 2.5 mg/day of a glucocorticoid for 90 days; the plan date of base.ttl is 2026-03-02
@pytest.mark.parametrize(("steps", "fires"), [
    ([(60, "2026-03-02", 56), (30, "2026-04-27", 56), (15, "2026-06-22", 56)], True),   # a taper: 168 days
    ([(40, "2026-03-02", 45), (20, "2026-04-16", 45)], True),                           # 90 days exactly
    ([(40, "2026-03-02", 45), (20, "2026-04-16", 44)], False),                          # 89 days
    ([(10, "2026-03-02", 60), (5, "2026-03-02", 60)], False),    # taken together (morning, evening): 60 days
    ([(10, "2026-03-02", 60), (5, "2026-04-01", 60)], True),     # overlapping by 30 days: 90 days from first to last
    ([(60, "2026-03-02", 56), (2, "2026-04-27", 56)], False),    # the second step is below 2.5 mg/day
    ([(60, "2026-03-02", 50), (30, "2026-07-01", 40)], True),    # a gap between them: 90 days taken
    ([(60, "2025-10-01", 56), (30, "2026-03-02", 56)], False),   # the first step ended before the plan date
], ids=["taper", "90-days", "89-days", "together", "overlapping", "below-dose", "gap", "first-step-past"])
def test_a_course_of_prescriptions_reaches_a_duration_threshold_that_no_step_reaches(
        tmp_path: Path, steps: list[Step], fires: bool) -> None:
    """Each step of a course that reaches the threshold gets the finding (the rule reports per prescription)."""
    plan = _course_plan(tmp_path, "osteoporosis_prevention-fail.trig", "prednisone", steps)
    messages = _messages(plan, "osteoporosis_prevention")
    assert len(messages) == (len(steps) if fires else 0), messages
    for message in messages:
        assert re.search(rf" \d+ days in a course of {len(steps)} prescriptions at or above the threshold's dose "
                         r"\(from 2\.5 ", message), message
        assert "if they follow one another" not in message


def test_a_course_says_how_long_it_lasts_and_what_it_assumed_without_dates(tmp_path: Path) -> None:
    """Steps with no start date are assumed to follow one another, and the finding says so."""
    plan = _course_plan(tmp_path, "osteoporosis_prevention-fail.trig", "prednisone", [(60, None, 56), (30, None, 56)])
    messages = _messages(plan, "osteoporosis_prevention")
    assert messages == [
        f"On prednisone {dose} mg/day for 56 days, 112 days in a course of 2 prescriptions at or above the threshold's "
        "dose if they follow one another (from 2.5 mg/day for 90 days, R080a), nothing against glucocorticoid-induced "
        "osteoporosis is done or planned, such as bisphosphonate or weight-bearing exercise (R080a, S31)."
        for dose in (30, 60)]


@pytest.mark.parametrize(("second_dose", "fires"), [(20, True), (15, False)])
def test_a_course_above_the_dose_of_r055_calls_for_pneumocystis_prophylaxis(
        tmp_path: Path, second_dose: int, fires: bool) -> None:
    """R055: more than 15 mg/day for 14 days. 30 mg/day then the second dose, a week each: a course of 14 days only
    if the second dose is above 15 mg/day too; the prednisone course then also counts as immunosuppression."""
    plan = _course_plan(tmp_path, "pneumocystis_prophylaxis-fail.trig", "prednisone",
                        [(30, "2026-03-02", 7), (second_dose, "2026-03-09", 7)])
    messages = _messages(plan, "pneumocystis_prophylaxis")
    assert bool(messages) is fires, messages
    assert all("14 days in a course of 2 prescriptions" in message for message in messages)


def _ontology_with_r055(tmp_path: Path, dose_line: str, extra: str = "") -> Path:
    """A copy of the ontology whose R055 states its dose threshold as ``dose_line`` (and with ``extra`` Turtle)."""
    text = ontology_file().read_text(encoding="utf-8")
    block = re.search(r"iim:statement-R055 a .*?\.\n\n", text, re.DOTALL)
    assert block
    dose = re.compile(r'iim:dailyDose(?:Min|Above)Mg "15"\^\^xsd:decimal')
    assert dose.search(block.group(0)), "R055 states its 15 mg/day threshold"
    changed = dose.sub(dose_line, block.group(0))
    ontology = tmp_path / f"iim-{len(list(tmp_path.iterdir()))}.ttl"
    ontology.write_text(text.replace(block.group(0), changed) + extra, encoding="utf-8")
    return ontology


@pytest.mark.parametrize(("dose_line", "fires"), [('iim:dailyDoseMinMg "15"^^xsd:decimal', True),
                                                  ('iim:dailyDoseAboveMg "15"^^xsd:decimal', False)])
def test_a_more_than_threshold_is_strict(dose_line: str, fires: bool, tmp_path: Path) -> None:
    """Prednisone 15 mg/day for 90 days alone: 'from 15 mg' (iim:dailyDoseMinMg) reaches it, 'more than 15 mg'
    (iim:dailyDoseAboveMg, as EULAR words R055) does not."""
    plan = _plan_file(tmp_path, "pneumocystis_prophylaxis-fail.trig", {"prednisone": [("dailyDoseMg", 15)]})
    rules = {f.rule for f in validate_plans([plan], ontology=_ontology_with_r055(tmp_path, dose_line)).findings}
    assert ("pneumocystis_prophylaxis" in rules) is fires


ALTERNATIVE = """
iim:IIM_0000198 a owl:Class ;
    rdfs:label "testaquone"@en ;
    obo:IAO_0000115 "A drug against Pneumocystis, made up for a test."@en ;
    rdfs:subClassOf iim:{intervention} ;
    rdfs:isDefinedBy <https://w3id.org/iimkg/> .
"""


def test_any_drug_under_the_statements_intervention_is_prophylaxis(tmp_path: Path) -> None:
    """A drug added under the intervention R055 names (an alternative to co-trimoxazole) satisfies the rule, with
    no change to the shapes."""
    text = ontology_file().read_text(encoding="utf-8")
    r055 = re.search(r"iim:statement-R055 a .*?iim:intervention iim:(IIM_\d+)", text, re.DOTALL)
    assert r055
    ontology = _ontology_with_r055(tmp_path, 'iim:dailyDoseAboveMg "15"^^xsd:decimal',
                                   ALTERNATIVE.replace("{intervention}", r055.group(1)))
    plan = _plan_file(tmp_path, "pneumocystis_prophylaxis-fail.trig", {})
    graph = rdflib.Graph().parse(plan)
    measure = rdflib.BNode()
    graph.add((_node(graph, "plan"), rdflib.URIRef(IIM + "coIntervention"), measure))
    graph.add((measure, rdflib.URIRef(IIM + "measure"), rdflib.URIRef(IIM + "IIM_0000198")))
    graph.add((measure, rdflib.URIRef(IIM + "measureStatus"), rdflib.URIRef(IIM + "Planned")))
    graph.serialize(plan, format="turtle")
    assert "pneumocystis_prophylaxis" in {f.rule for f in validate_plans([_plan_file(
        tmp_path, "pneumocystis_prophylaxis-fail.trig", {})], ontology=ontology).findings}
    assert "pneumocystis_prophylaxis" not in {f.rule for f in validate_plans([plan], ontology=ontology).findings}


HBSAG, ANTI_HBC, VZV_IMMUNITY = "IIM_0000525", "IIM_0000526", "IIM_0000527"
HBSAG_POSITIVE, RESOLVED_HBV, VZV_NON_IMMUNE = "IIM_0000605", "IIM_0000606", "IIM_0000607"


def _plan_with_results(tmp_path: Path, drug: str | None, results: dict[str, str],
                       declared: str | None) -> Path:
    """hepatitis_b_prophylaxis-fail.trig without its declared HBsAg-positive membership: instead the patient's test
    results (test term -> PositiveResult or NegativeResult) and, if given, a declared population; with ``drug``
    in place of azathioprine."""
    graph = case_graph(CASES_DIR / "hepatitis_b_prophylaxis-fail.trig")
    term = rdflib.Namespace(IIM)
    patient = _node(graph, "patient")
    graph.remove((patient, term.belongsToPopulation, None))
    if declared:
        graph.add((patient, term.belongsToPopulation, term[declared]))
    if drug:
        azathioprine = _node(graph, "azathioprine")
        graph.set((azathioprine, term.prescribedDrug, term[drug]))
    for test, interpretation in results.items():
        result = rdflib.BNode()
        graph.add((patient, term.testResult, result))
        graph.add((result, RDF.type, term.TestResult))
        graph.add((result, term.resultOf, term[test]))
        graph.add((result, term.interpretation, term[interpretation]))
        graph.add((result, term.resultDate, rdflib.Literal("2026-02-20", datatype=rdflib.XSD.date)))
    plan = tmp_path / f"results-{len(list(tmp_path.iterdir()))}.ttl"
    graph.serialize(plan, format="turtle")
    return plan


@pytest.mark.parametrize(("drug", "results", "population"), [
    (None, {HBSAG: "PositiveResult"}, HBSAG_POSITIVE),
    ("IIM_0000121", {HBSAG: "PositiveResult", ANTI_HBC: "PositiveResult"}, HBSAG_POSITIVE),
    ("IIM_0000121", {HBSAG: "NegativeResult", ANTI_HBC: "PositiveResult"}, RESOLVED_HBV),
    ("IIM_0000121", {ANTI_HBC: "PositiveResult"}, None),       # surface antigen not tested: neither population
    ("IIM_0000121", {HBSAG: "NegativeResult", ANTI_HBC: "NegativeResult"}, None),
    (None, {HBSAG: "NegativeResult"}, None),
], ids=["hbsag+", "hbsag+ anti-hbc+ rituximab", "hbsag- anti-hbc+ rituximab", "anti-hbc+ alone rituximab",
        "both negative rituximab", "hbsag-"])
def test_screening_results_place_the_patient_as_declared_membership_would(
        drug: str | None, results: dict[str, str], population: str | None, tmp_path: Path) -> None:
    """A hepatitis B result recorded as a test result (as the FHIR converter writes an Observation) places the
    patient in the population it defines (iim:definingTest, iim:definingNegativeTest), so hepatitis_b_prophylaxis
    finds what it finds when the same population is declared: R066 for a positive surface antigen, R067 for
    rituximab with a negative surface antigen and a positive core antibody, and nothing without such results."""
    def prophylaxis(plan: Path) -> set[tuple[str, str | None, str]]:
        return {(f.severity.value, f.statement, f.message) for f in validate_plans([plan]).findings
                if f.rule == "hepatitis_b_prophylaxis"}

    from_results = prophylaxis(_plan_with_results(tmp_path, drug, results, None))
    declared = prophylaxis(_plan_with_results(tmp_path, drug, {}, population))
    assert from_results == declared
    assert bool(declared) is (population is not None), "the declared twin is a real case of the rule"


def test_a_population_defined_by_a_negative_result_alone(tmp_path: Path) -> None:
    """Varicella-zoster non-immune patients (IIM_0000607) are defined by a negative immunity test alone
    (iim:definingNegativeTest, no positive test). No plan rule reads that population yet, so R066 is made to name it
    in a copy of the ontology: then a negative result finds what declared membership finds, and a positive result
    what no result finds."""
    text = ontology_file().read_text(encoding="utf-8")
    block = re.search(r"iim:statement-R066 a .*?\.\n\n", text, re.DOTALL)
    assert block and f"iim:population iim:{HBSAG_POSITIVE}" in block.group(0)
    ontology = tmp_path / "iim.ttl"
    ontology.write_text(text.replace(block.group(0), block.group(0).replace(
        f"iim:population iim:{HBSAG_POSITIVE}", f"iim:population iim:{VZV_NON_IMMUNE}")), encoding="utf-8")

    def prophylaxis(results: dict[str, str], declared: str | None) -> set[tuple[str, str | None]]:
        plan = _plan_with_results(tmp_path, None, results, declared)
        return {(f.severity.value, f.statement) for f in validate_plans([plan], ontology=ontology).findings
                if f.rule == "hepatitis_b_prophylaxis"}

    declared = prophylaxis({}, VZV_NON_IMMUNE)
    assert declared, "the changed R066 applies to declared non-immune patients"
    assert prophylaxis({VZV_IMMUNITY: "NegativeResult"}, None) == declared
    assert prophylaxis({VZV_IMMUNITY: "PositiveResult"}, None) == prophylaxis({}, None) == set()


@pytest.mark.parametrize(("age", "adult"), [(4, False), (10, False), (17, False), (18, True), (45, True),
                                            (80, True)])
def test_the_adult_vaccines_follow_from_the_patients_age(age: int, adult: bool, tmp_path: Path) -> None:
    """R073a-c are for adults (iim:minAgeYears 18): a child on an immunosuppressant without them gets no finding,
    an adult does, without a declared population; the finding cites the statement that applies."""
    plan = _plan_file(tmp_path, "recommended_vaccines-fail.trig",
                      {"patient": [("birthDate", None), ("ageYears", age)]})
    zoster = IIM + "IIM_0000161"  # recombinant zoster vaccine, the one the case takes away (R073a)
    findings = [f for f in validate_plans([plan]).findings if f.rule == "recommended_vaccines" and f.value == zoster]
    assert bool(findings) is adult
    assert all(f.statements == "R073a" and "(R073a)" in f.message for f in findings)


# ── the fast path against plain pyshacl ──

def comparable(result: ValidationResult) -> Counter[tuple[str, ...]]:
    """Findings as both engines must give them; blank node IDs differ between the engines, so they are masked."""
    blank = re.compile(r"_:[0-9a-zA-Z]+|\b[0-9a-f]{32}\b")
    return Counter((f.file, blank.sub("_", f.plan or ""), blank.sub("_", f.focus), f.rule, f.severity.value,
                    blank.sub("_", f.value or ""), blank.sub("_", f.message), f.source or "", f.statement or "")
                   for f in result.findings)


def _plain_pyshacl(path: Path) -> tuple[Counter[tuple[str, ...]], int]:
    """Plain pyshacl on one file, as data that crosses a process boundary."""
    result = validate_plans([path], engine="rdflib")
    return comparable(result), result.plans


@pytest.mark.slow
def test_the_fast_path_gives_exactly_the_findings_of_plain_pyshacl() -> None:
    """Plain pyshacl (rdflib) and the whole-graph queries on pyoxigraph agree on a sample of plans that between
    them trigger every rule, in Turtle and JSON-LD, with external codes and blank nodes.

    Plain pyshacl takes some 10-50 s a plan here, so the sample is seven plans, one pyshacl run per file, side by
    side; plans never depend on another file, so this is the same as one run over all three files."""
    sample = [RESOURCES / "plan-samples" / "every-rule.ttl", ROOT / "examples" / "plans" / "several-findings.ttl",
              ROOT / "examples" / "plans" / "hepatitis-b-before-rituximab.jsonld"]
    fast = validate_plans(sample)
    with ProcessPoolExecutor(max_workers=min(len(sample), os.cpu_count() or 1)) as pool:
        plain = list(pool.map(_plain_pyshacl, sample))
    assert comparable(fast) == sum((findings for findings, _ in plain), Counter())
    assert {f.rule for f in fast.findings} == {r.name for r in fast.rules}, "the sample triggers every rule"
    assert fast.plans == sum(plans for _, plans in plain) >= len(sample)


def test_more_workers_give_the_same_findings(tmp_path: Path) -> None:
    one = validate_plans(EXAMPLES, workers=1)
    two = validate_plans(EXAMPLES, workers=2)
    assert comparable(one) == comparable(two) and len(one.findings) == len(two.findings)
    assert one.plans == two.plans >= len(EXAMPLES), "each example holds a plan at least"


# ── examples ──

def test_the_conforming_examples_conform_and_each_other_example_finds_what_it_says(shapes: rdflib.Graph) -> None:
    result = validate_plans(EXAMPLES, fail_on="info")
    by_file: dict[str, list[str]] = {}
    for finding in result.findings:
        by_file.setdefault(Path(finding.file).name, []).append(finding.rule)
    assert "conforming-dermatomyositis.ttl" not in by_file and "conforming-antisynthetase.jsonld" not in by_file
    for name, rules in by_file.items():
        text = (ROOT / "examples" / "plans" / name).read_text(encoding="utf-8")
        for rule in set(rules):
            assert rule in text or rule.replace("_", " ") in text or name == "several-findings.ttl", (name, rule)
    assert sorted(by_file["several-findings.ttl"]) == sorted([
        "live_vaccine", "osteoporosis_prevention_high_risk", "pneumocystis_prophylaxis", "comorbidity_monitoring",
        "comorbidity_monitoring", "hepatitis_b_screening", "recommended_vaccines", "recommended_vaccines",
        "recommended_vaccines", "supportive_care", "vaccination_schedule_review", "pre_treatment_test"])
    fired = {rule for rules in by_file.values() for rule in rules}
    clinical = {r.name for r in result.rules if kind_of(shapes, r.iri) == IIMPLAN.ClinicalRule}
    assert clinical <= fired, clinical - fired


def test_a_finding_names_its_plan_and_its_message_the_drug_the_dose_the_duration_and_what_is_missing() -> None:
    result = validate_plans([ROOT / "examples" / "plans" / "several-findings.ttl"])
    bone = next(f for f in result.findings if f.rule == "osteoporosis_prevention_high_risk")
    assert bone.message == (
        "On prednisone 30 mg/day for 180 days, among post-menopausal women at higher risk of osteoporosis (S30), "
        "no bone protection or bone density test is done or planned, such as bisphosphonate or weight-bearing "
        "exercise (R080a, S31).")
    assert bone.plan == "DM-2026-021", "a plan is named by its dcterms:identifier"
    assert bone.focus == "https://example.org/clinic/plans/DM-2026-021"
    # every statement the message cites, the seed's apart (R080a gives the weight-bearing exercise)
    assert bone.statement == "S30, S31" and bone.statements == "S30, S31, R080a"
    assert "PortalClínic" in (bone.source or "")
    assert bone.severity is Severity.VIOLATION


# ── JSON-LD ──

def test_the_context_names_every_plan_property_and_the_prefixes_of_prefixes_tsv() -> None:
    from iimkg.graph.loading import shared_store

    context = plan_context()
    mapped = {v if isinstance(v, str) else v.get("@id") for v in context.values() if isinstance(v, (str, dict))}
    expanded = {m.replace("iim:", IIM) for m in mapped if isinstance(m, str)}
    plan_classes = {IIM + c for c in ("TreatmentPlan", "Patient", "Prescription", "CoIntervention")}
    rows = shared_store().query(
        "SELECT ?p ?d WHERE { ?p <http://www.w3.org/2000/01/rdf-schema#domain> ?d }")
    properties = {r["p"].value for r in rows if r["d"].value in plan_classes}
    assert properties and properties <= expanded, properties - expanded
    for prefix, definition in context.items():
        if prefix in prefixes() and prefix not in {"iim", "dcterms"}:
            iri = definition if isinstance(definition, str) else definition["@id"]
            assert iri == prefixes()[prefix].uri_prefix, prefix
    assert json.loads(plan_context_file().read_text(encoding="utf-8"))["@context"] == context


def test_a_json_ld_plan_reads_like_its_turtle_twin(tmp_path: Path) -> None:
    plan = {"@context": PLAN_CONTEXT_IRI, "id": "https://example.org/p/1", "type": "TreatmentPlan",
            "diagnosis": "DOID:3429", "patient": {"sex": "male", "ageYears": 71},
            "prescriptions": [{"drug": "ATC:L04AX03", "dailyDoseMg": 2.5, "startDate": "2026-03-02",
                               "plannedDurationDays": 365}]}
    path = tmp_path / "plan.jsonld"
    path.write_text(json.dumps(plan), encoding="utf-8")
    findings = validate_plans([path]).findings
    effective = [f for f in findings if f.rule == "not_shown_effective"]
    assert [(f.plan, f.message) for f in effective] == [(
        "https://example.org/p/1", "For sporadic inclusion body myositis, methotrexate is prescribed, and "
        "immunosuppressive drug is not shown effective in it (R047b and 2 more).")]


# ── bad input ──

def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iimkg.cli.main", *args], capture_output=True, text=True, check=False)


def test_broken_turtle_names_file_line_and_column_and_writes_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ttl"
    broken.write_text('@prefix iim: <https://w3id.org/iimkg/> .\n<#p> a iim:TreatmentPlan ;\n  iim:x "unclosed .\n',
                      encoding="utf-8")
    with pytest.raises(InputError) as error:
        validate_plans([broken])
    assert (error.value.path, error.value.line, error.value.column) == (broken, 3, 9)
    target = tmp_path / "report.json"
    done = run("validate", str(broken), "--output", str(target))
    assert done.returncode == 2 and done.stdout == ""
    assert f"{broken}:3:9: " in done.stderr and "Traceback" not in done.stderr
    assert not target.exists() and [p.name for p in tmp_path.iterdir()] == ["broken.ttl"]


def test_broken_json_names_file_line_and_column(tmp_path: Path) -> None:
    broken = tmp_path / "plan.jsonld"
    broken.write_text(f'{{\n  "@context": "{PLAN_CONTEXT_IRI}",\n  "type": "TreatmentPlan",\n}}\n', encoding="utf-8")
    with pytest.raises(InputError) as error:
        validate_plans([broken])
    assert (error.value.line, error.value.column) == (4, 1) and "not valid JSON" in error.value.detail


@pytest.mark.parametrize(("name", "text", "message"), [
    ("empty.ttl", "", "the file holds no triples"),
    ("noplan.ttl", "<urn:a> <urn:b> <urn:c> .", "holds no treatment plan"),
    ("remote.jsonld", '{"@context": "https://example.org/ctx.jsonld", "@id": "urn:p"}', "is not one iimkg can load"),
    ("plan.txt", "<urn:a> <urn:b> <urn:c> .", "can't tell the RDF syntax"),
    ("missing.ttl", None, "no such file"),
])
def test_bad_input_exits_2_with_a_message(name: str, text: str | None, message: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    if text is not None:
        path.write_text(text, encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err


def test_a_folder_given_as_a_plan_file_exits_2_saying_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"iimkg: error: {tmp_path}: is a folder, not a file; name the files in it "
                                       f"(for example {tmp_path}/*.ttl)\n")
    assert main(["validate", "--qc", str(tmp_path)]) == 2
    assert "is a folder, not a file" in capsys.readouterr().err
    assert main(["fhir", "convert", str(tmp_path), "-o", str(tmp_path / "plans.ttl")]) == 2
    assert "is a folder, not a file" in capsys.readouterr().err and not (tmp_path / "plans.ttl").exists()


def test_a_folder_given_as_a_plan_file_is_answered_with_what_it_holds(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A Bulk Data export saved as a folder: the message names its files by their extension, and its manifest."""
    export = ROOT / "examples" / "fhir" / "bulk-export"
    for part in export.iterdir():
        (tmp_path / part.name).write_bytes(part.read_bytes())
    (tmp_path / ".hidden.ttl").write_text("", encoding="utf-8")
    assert main(["validate", str(tmp_path)]) == 2
    assert capsys.readouterr().err.endswith(f"name the files in it (for example {tmp_path}/*.ndjson)\n")
    (tmp_path / "manifest.json").write_text("{}", encoding="utf-8")
    assert main(["validate", str(tmp_path)]) == 2
    assert capsys.readouterr().err.endswith(f"name its Bulk Data manifest ({tmp_path}/manifest.json) or the files in "
                                            f"it (for example {tmp_path}/*.ndjson)\n")


def test_a_plan_in_two_files_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = (ROOT / "examples" / "plans" / "osteoporosis-prevention.ttl").read_text(encoding="utf-8")
    first, second = tmp_path / "a.ttl", tmp_path / "b.ttl"
    first.write_text(source, encoding="utf-8")
    second.write_text(source, encoding="utf-8")
    assert main(["validate", str(first), str(second)]) == 2
    assert "is also described in" in capsys.readouterr().err


@pytest.mark.parametrize(("name", "words"), [
    ("unknown_term-fail", "CHEBI_99999999, given as a prescribed drug"),
    ("positive_dose-fail", "daily dose of azathioprine, -150 mg,"),
    ("plan_diagnosis-fail", "The plan gives no diagnosis"),
])
def test_unknown_codes_negative_doses_and_missing_diagnoses_are_findings(name: str, words: str, cases: list[Case],
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    case = composed(name, cases)
    assert main(["validate", str(case.data), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    [finding] = [f for f in report["findings"] if f["rule"] == case.rule]
    assert words in finding["message"] and finding["severity"] == "violation"
    assert finding["plan"] == finding["focus"] == case.source.resolve().as_uri() + "#plan"


# ── reports and options ──

def counted(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def test_the_text_report_groups_findings_by_file_plan_and_severity(shapes: rdflib.Graph,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    plan = ROOT / "examples" / "plans" / "several-findings.ttl"
    counts = validate_plans([plan]).counts()
    violations, warnings, infos = (counts[level] for level in (Severity.VIOLATION, Severity.WARNING, Severity.INFO))
    assert main(["validate", str(plan)]) == 1
    out = capsys.readouterr().out
    assert (f"1 plan with findings; {counted(violations, 'violation')}, {counted(warnings, 'warning')}, "
            f"{counted(infos, 'info')}") in out
    assert f"  plan DM-2026-021\n    violation ({violations})\n" in out
    assert re.search(r"\n      live_vaccine +On azathioprine, live attenuated vaccine is planned or given, "
                     r".*\(R074\)\.  \[R074; ACR 2022 vaccination guideline", out)
    assert f"1 file, 1 plan checked against {len(rules_of(shapes))} rules" in out
    assert f"FAIL: {counted(violations, 'finding')} at or above violation." in out


def test_the_json_report_gives_each_finding_its_plan_file_source_and_statement(
        shapes: rdflib.Graph, capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(ROOT / "examples" / "plans" / n) for n in ("tuberculosis-screening.ttl", "live-vaccine.ttl")]
    assert main(["validate", *files, "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["conforms"] is False
    levels = Counter(f["severity"] for f in report["findings"])
    assert report["summary"] | {"seconds": 0} == {
        "files": 2, "rules": len(rules_of(shapes)), "findings": len(report["findings"]),
        "violation": levels["violation"], "warning": levels["warning"], "info": levels["info"],
        "fail_on": "violation", "failing": levels["violation"], "plans": 2, "plans_with_findings": 2, "seconds": 0}
    first = next(f for f in report["findings"] if f["rule"] == "tuberculosis_screening")
    second = next(f for f in report["findings"] if f["rule"] == "live_vaccine")
    assert first["rule"] == "tuberculosis_screening" and first["file"] == display_path(Path(files[0]))
    assert first["plan"] == "DM-2026-030" and first["focus"] == "https://example.org/clinic/plans/DM-2026-030"
    # the statement that applies (tofacitinib: R061b, JAK inhibitors), not every statement the rule enforces
    assert first["statement"] is None and "PMID:36328476" in first["source"], "no seed statement, and the source"
    assert first["statements"] == "R061b"
    assert second["rule"] == "live_vaccine" and second["severity"] == "violation" and second["statement"] is None
    assert second["statements"] == "R074", "live vaccines: no seed statement, one from ACR 2022"


def test_the_junit_report_has_a_suite_per_file_and_a_case_per_rule(shapes: rdflib.Graph,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(ROOT / "examples" / "plans" / n) for n in ("pneumocystis-prophylaxis.ttl", "vaccination-schedule.ttl")]
    assert main(["validate", *files, "--format", "junit"]) == 1
    root = ET.fromstring(capsys.readouterr().out)
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [display_path(Path(f)) for f in files]
    assert all(len(s.findall("testcase")) == len(rules_of(shapes)) for s in suites)
    failures = {(s.get("name"), c.get("name")) for s in suites for c in s.findall("testcase")
                if c.find("failure") is not None}
    assert failures == {(display_path(Path(files[0])), "pneumocystis_prophylaxis")}
    warning = next(c for c in suites[1].findall("testcase") if c.get("name") == "vaccination_schedule_review")
    assert "PM-2026-022" in (warning.findtext("system-out") or "")


def test_the_turtle_report_is_a_shacl_report_per_file_with_plans(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "examples" / "plans" / "hepatitis-b-prophylaxis.ttl"), "--format",
                 "turtle"]) == 1
    graph = rdflib.Graph().parse(data=capsys.readouterr().out, format="turtle")
    [report] = graph.subjects(RDF.type, SH.ValidationReport)
    assert graph.value(report, SH.conforms) == rdflib.Literal(False)
    [result] = (r for r in graph.objects(report, SH.result)
                if graph.value(r, SH.sourceShape) == IIMPLAN.hepatitis_b_prophylaxis)
    assert graph.value(result, IIMPLAN.plan) == rdflib.URIRef("https://example.org/clinic/plans/DM-2026-033")
    assert graph.value(result, SH.value) == rdflib.URIRef(IIM + "IIM_0000155")


@pytest.mark.parametrize(("fail_on", "status"), [("violation", 0), ("warning", 1), ("info", 1)])
def test_fail_on_sets_the_lowest_severity_that_fails(fail_on: str, status: int) -> None:
    plan = str(ROOT / "examples" / "plans" / "vaccination-schedule.ttl")
    assert main(["validate", plan, "--fail-on", fail_on, "--format", "json", "--output", "/dev/null"]) == status


def test_o_is_short_for_output_as_in_fhir_convert(tmp_path: Path) -> None:
    plan = str(ROOT / "examples" / "plans" / "vaccination-schedule.ttl")
    long, short = tmp_path / "long.json", tmp_path / "short.json"
    assert main(["validate", plan, "--format", "json", "--output", str(long)]) == 0
    assert main(["validate", plan, "--format", "json", "-o", str(short)]) == 0
    without_seconds = [{k: v for k, v in json.loads(p.read_text()).items() if k != "summary"} for p in (long, short)]
    assert without_seconds[0] == without_seconds[1] and without_seconds[0]["findings"]


USER_SHAPE = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix iim: <https://w3id.org/iimkg/> .
@prefix ex: <https://example.org/shapes/> .
ex:plan_date a sh:NodeShape ;
    sh:targetClass iim:TreatmentPlan ;
    sh:property ex:plan_date_given .
ex:plan_date_given a sh:PropertyShape ;
    sh:path iim:planDate ;
    sh:minCount 1 ;
    sh:severity sh:Info ;
    sh:message "Our clinic dates every plan."@en .
"""


def test_users_add_their_own_shapes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shapes_file = tmp_path / "clinic.ttl"
    shapes_file.write_text(USER_SHAPE, encoding="utf-8")
    plan = str(ROOT / "examples" / "plans" / "conforming-antisynthetase.jsonld")
    status = main(["validate", plan, "--shapes", str(shapes_file), "--fail-on", "info", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert status == (1 if report["findings"] else 0)
    assert "plan_date_given" not in {f["rule"] for f in report["findings"]}, "the plan has a plan date"
    shapes_file.write_text(USER_SHAPE.replace("iim:planDate", "iim:birthDate"), encoding="utf-8")
    assert main(["validate", plan, "--shapes", str(shapes_file), "--fail-on", "info", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [(f["rule"], f["severity"], f["message"]) for f in report["findings"] if f["rule"] == "plan_date_given"] == [
        ("plan_date_given", "info", "Our clinic dates every plan.")]


def test_the_turtle_report_keeps_messages_and_iris_that_need_escaping(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The Turtle report is written a result at a time, by hand: a shape IRI that is no prefixed name and a
    message with quotes, a backslash, a line break and non-ASCII text come back as they were."""
    message = 'Date "every" plan\\ here;\nsee § 4 — bitte'
    shapes_file = tmp_path / "clinic.ttl"
    shapes_file.write_text(
        USER_SHAPE.replace("iim:planDate", "iim:birthDate")
        .replace("ex:plan_date_given", "<https://example.org/shapes/plan%20date.given>")
        .replace('"Our clinic dates every plan."@en', '"""' + message.replace("\\", "\\\\") + '"""'),
        encoding="utf-8")
    plan = str(ROOT / "examples" / "plans" / "conforming-antisynthetase.jsonld")
    assert main(["validate", plan, "--shapes", str(shapes_file), "--fail-on", "info", "--format", "turtle"]) == 1
    graph = rdflib.Graph().parse(data=capsys.readouterr().out, format="turtle")
    shape = rdflib.URIRef("https://example.org/shapes/plan%20date.given")
    [result] = graph.subjects(SH.sourceShape, shape)
    assert [str(m) for m in graph.objects(result, SH.resultMessage)] == [message]
    [report] = graph.subjects(SH.result, result)
    assert graph.value(report, SH.conforms) == rdflib.Literal(False)


def test_shapes_that_are_not_shacl_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shapes_file = tmp_path / "bad.ttl"
    shapes_file.write_text(USER_SHAPE.replace("sh:minCount 1", 'sh:minCount "one"'), encoding="utf-8")
    assert main(["validate", str(EXAMPLES[0]), "--shapes", str(shapes_file)]) == 2
    assert "not valid SHACL" in capsys.readouterr().err


def test_plans_and_qc_files_are_not_mixed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLES[0]), "--qc", str(ontology_file())]) == 2
    assert "not both" in capsys.readouterr().err



NEW_VACCINE_STATEMENT = """
iim:IIM_0000198 a owl:Class ;
    rdfs:label "testivirus vaccine"@en ;
    obo:IAO_0000115 "A vaccine made up for a test."@en ;
    rdfs:subClassOf iim:IIM_0000160 ;
    rdfs:isDefinedBy <https://w3id.org/iimkg/> .

iim:statement-R998 a iim:InfectionPreventionStatement , owl:NamedIndividual ;
    rdfs:label "testivirus vaccine against infection (R998)"@en ;
    dcterms:identifier "R998" ;
    iim:drug iim:IIM_0000100 ;
    iim:infection iim:Infection ;
    iim:intervention iim:IIM_0000198 ;
    iim:measureKind iim:Vaccination ;
    iim:statementText "A statement made up for a test."@en ;
    iim:evidenceLevel iim:WeakEvidence ;
    dcterms:source <https://example.org/test-source> .
"""


def test_a_statement_added_to_the_graph_is_read_by_its_rule_and_cited_by_the_finding(tmp_path: Path) -> None:
    """Adding one vaccination statement, and nothing else, makes the vaccine rule ask for it on a complete plan, and
    the finding carries the new statement although the rule's iimplan:enforces list does not name it."""
    plan = ROOT / "examples" / "plans" / "conforming-dermatomyositis.ttl"
    before = validate_plans([plan])
    assert before.findings == []
    ontology = tmp_path / "iim.ttl"
    ontology.write_text(ontology_file().read_text(encoding="utf-8") + NEW_VACCINE_STATEMENT, encoding="utf-8")
    after = validate_plans([plan], ontology=ontology)
    assert {f.rule for f in after.findings} == {"recommended_vaccines"}
    (finding,) = after.findings
    assert "testivirus vaccine" in finding.message and "R998" in finding.message
    assert finding.statements == "R998"


_RULE_DATA = """@prefix ex: <https://example.org/> .
ex:a a ex:T ; ex:p ex:x1 .
ex:b a ex:T .
ex:x1 ex:q ex:y1 .
ex:x2 ex:q ex:y2 .
"""


@pytest.mark.parametrize("body", [
    "$this ex:p ?x . OPTIONAL { ?x ex:q ?y }",
    "{ ?x ex:q ?y } { $this ex:p ?x } OPTIONAL { ?y ex:q ?z }",
    "OPTIONAL { $this ex:p ?x }",
    "?x ex:q ?y . OPTIONAL { $this ex:p ?x . BIND (true AS ?given) }",
    "{ ?x ex:q ?y } OPTIONAL { $this ex:p ?x }",
    "{ $this ex:p ?x } UNION { ?x ex:q ?y }",
], ids=["this-first", "graph-first", "optional-only", "optional-binds-this", "group-then-optional", "union"])
def test_the_fast_engine_derives_what_pyshacl_derives_wherever_a_rule_binds_this(body: str) -> None:
    """The compiled engine joins a rule's targets after its leading plain patterns when those bind $this (faster
    on pyoxigraph); a rule that binds $this only in an OPTIONAL or one branch of a UNION must keep them first."""

    shapes_text = f"""@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ex: <https://example.org/> .
ex:Shape a sh:NodeShape ; sh:targetClass ex:T ;
    sh:rule [ a sh:SPARQLRule ; sh:prefixes ex:Prefixes ;
              sh:construct "CONSTRUCT {{ $this ex:r ?x }} WHERE {{ {body} }}" ] .
ex:Prefixes sh:declare [ sh:prefix "ex" ; sh:namespace "https://example.org/" ] .
"""
    shapes = rdflib.Graph().parse(data=shapes_text, format="turtle")
    data = rdflib.Graph().parse(data=_RULE_DATA, format="turtle")
    pyshacl.validate(data, shacl_graph=shapes, advanced=True, inplace=True)
    expected = {(str(s), str(o)) for s, o in data.subject_objects(rdflib.URIRef("https://example.org/r"))}
    store = ox.Store()
    store.load(_RULE_DATA.encode(), ox.RdfFormat.TURTLE)
    compile_shapes(shapes).run(store)
    derived = {(q.subject.value, q.object.value)
               for q in store.quads_for_pattern(None, ox.NamedNode("https://example.org/r"), None)}
    assert derived == expected


def test_the_profile_puts_the_findings_after_the_workers_not_among_them(monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """IIMKG_PROFILE=1: the findings are made in this process as chunks come back, and put in report order after the
    last one (a serial step, which adds to the wall time whole); the line once listed them among the workers' sums."""
    monkeypatch.setenv("IIMKG_PROFILE", "1")
    plan = str(ROOT / "examples" / "plans" / "drug-interaction.ttl")
    assert main(["validate", plan, "--format", "json", "--output", os.devnull]) != 2  # findings or none: not the point
    [line] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("iimkg profile:")]
    found = re.fullmatch(r"iimkg profile: 1 plan checked in [\d.]+ s \(in this process, beside the workers: "
                         r"(?P<parent>[^;]*); summed over the workers: (?P<workers>[^)]*)\); then findings in report "
                         r"order [\d.]+ s in this process", line)
    assert found, line
    assert [part.split()[0] for part in found["parent"].split(", ")] == ["split", "findings"]
    assert [part.split()[0] for part in found["workers"].split(", ")] == ["load", "evaluate", "attribute"]

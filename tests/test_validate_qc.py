"""The ontology quality gate: every rule fires on a case built to trigger it and stays quiet on its near miss
(the W3C SHACL test-suite layout: data plus expected results, compared on focus node, source shape and severity,
for the rule under test only);
the shapes are valid SHACL; `iimkg validate` reports for people and CI and fails cleanly on bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pyshacl
import pytest
import rdflib
from rdflib.namespace import RDF, SH

from iimkg.cli.main import main
from iimkg.core.errors import InputError
from iimkg.core.prefixes import Prefix, prefixes
from iimkg.core.vocab import IIMQC as QC_NAMESPACE
from iimkg.shacl.findings import Severity, ValidationResult, display_path, rules_of
from iimkg.shacl.qc import qc_shapes_file, validate_ontology

from conftest import IIM, RESOURCES
from shacl_cases import (
    Result,
    assert_each_rule_has_a_failing_and_a_passing_case,
    case_files,
    expected_results,
    reported_results,
)

QC = RESOURCES / "qc"
CASES = case_files(QC)
ROBOT_LEVELS = {"ERROR": Severity.VIOLATION, "WARN": Severity.WARNING, "INFO": Severity.INFO}
# The checks of ROBOT's default profile (robot-core report_profile.txt) that the gate mirrors, with their levels.
ROBOT_PROFILE = {
    "deprecated_boolean_datatype": "ERROR", "deprecated_class_reference": "ERROR",
    "deprecated_property_reference": "ERROR", "duplicate_definition": "ERROR", "duplicate_label": "ERROR",
    "label_formatting": "ERROR", "label_whitespace": "ERROR", "missing_label": "ERROR",
    "missing_ontology_description": "ERROR", "missing_ontology_license": "ERROR", "missing_ontology_title": "ERROR",
    "misused_obsolete_label": "ERROR", "misused_replaced_by": "ERROR", "multiple_definitions": "ERROR",
    "multiple_labels": "ERROR",
    "annotation_whitespace": "WARN", "duplicate_exact_synonym": "WARN", "duplicate_label_synonym": "WARN",
    "duplicate_scoped_synonym": "WARN", "invalid_xref": "WARN", "missing_definition": "WARN",
    "missing_obsolete_label": "WARN",
    "lowercase_definition": "INFO", "missing_superclass": "INFO",
}


def finding_results(result: ValidationResult, case: Path, rule_iri: str) -> set[Result]:
    return {(f.focus, QC_NAMESPACE + f.rule, f.severity.iri) for f in result.findings
            if f.file == display_path(case) and QC_NAMESPACE + f.rule == rule_iri}


def rule_of(case: Path) -> str:
    """The IRI of the rule a case tests (its name without -fail or -pass)."""
    return QC_NAMESPACE + case.stem.rsplit("-", 1)[0]


@pytest.fixture(scope="module")
def all_cases() -> ValidationResult:
    return validate_ontology(CASES)


@pytest.fixture(scope="module")
def shipped() -> ValidationResult:
    return validate_ontology()


@pytest.fixture(scope="module")
def shapes() -> rdflib.Graph:
    return rdflib.Graph().parse(qc_shapes_file())


# ── each rule, on its cases ──

@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_each_case_gives_the_results_its_manifest_expects_of_its_rule(case: Path, all_cases: ValidationResult) -> None:
    assert reported_results(all_cases, case, rule_of(case)) == expected_results(case, rule_of(case))
    assert finding_results(all_cases, case, rule_of(case)) == expected_results(case, rule_of(case))


def test_every_rule_has_a_case_that_triggers_it_and_a_near_miss_that_does_not(shapes: rdflib.Graph) -> None:
    assert_each_rule_has_a_failing_and_a_passing_case(rules_of(shapes), CASES)


def test_robot_rules_keep_the_levels_of_robots_default_profile(shapes: rdflib.Graph) -> None:
    mirrored = {}
    for rule in rules_of(shapes):
        found = re.fullmatch(r"ROBOT report: (\w+) \((ERROR|WARN|INFO)\)", rule.source or "")
        if found:
            assert found.group(1) == rule.name and ROBOT_PROFILE[rule.name] == found.group(2)
            mirrored[rule.name] = rule.severity
    assert mirrored == {name: ROBOT_LEVELS[level] for name, level in ROBOT_PROFILE.items()}


def test_every_shape_says_what_it_checks_why_and_where_it_comes_from(shapes: rdflib.Graph) -> None:
    for rule in rules_of(shapes):
        shape = rdflib.URIRef(rule.iri)
        messages = [*shapes.objects(shape, SH.message),
                    *(m for c in shapes.objects(shape, SH.sparql) for m in shapes.objects(c, SH.message))]
        assert rule.label != rule.name and rule.comment and rule.source, rule.name
        assert len(messages) == 1 and str(messages[0]).endswith("."), rule.name


def test_the_shapes_are_valid_shacl(shapes: rdflib.Graph) -> None:
    shacl_shacl = rdflib.Graph().parse(Path(pyshacl.__file__).parent / "assets" / "shacl-shacl.ttl")
    conforms, _, text = pyshacl.validate(shapes, shacl_graph=shacl_shacl)
    assert conforms, text
    conforms, report, _ = pyshacl.validate(rdflib.Graph(), shacl_graph=shapes, meta_shacl=True, advanced=True)
    assert conforms and isinstance(report, rdflib.Graph)


def test_our_terms_are_chosen_once_by_the_own_entity_target(shapes: rdflib.Graph) -> None:
    """The namespace test is written in the iimqc:OwnEntity target type only; every ROBOT rule targets it."""
    own_entity = rdflib.URIRef(QC_NAMESPACE + "OwnEntity")
    queries = [str(o) for o in shapes.objects(None, SH.select)]
    assert [q for q in queries if IIM in q] == [str(shapes.value(own_entity, SH.select))]
    for rule in rules_of(shapes):
        if (rule.source or "").startswith("ROBOT report"):
            targets = list(shapes.objects(rdflib.URIRef(rule.iri), SH.target))
            assert targets and all((t, RDF.type, own_entity) in shapes for t in targets), rule.name
            assert not set(shapes.predicates(rdflib.URIRef(rule.iri))) & {
                SH.targetClass, SH.targetSubjectsOf, SH.targetObjectsOf, SH.targetNode}, rule.name


# ── cross-reference patterns come from prefixes.tsv ──

def test_no_pattern_of_prefixes_tsv_is_copied_into_the_shapes(shapes: rdflib.Graph) -> None:
    texts = [str(o) for o in shapes.objects() if isinstance(o, rdflib.Literal)]
    for entry in prefixes().values():
        assert not any(entry.pattern.pattern in text for text in texts), entry.prefix


def test_changing_a_pattern_in_the_prefix_table_changes_what_the_rule_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    case = QC / "xref_local_id-pass.ttl"
    assert validate_ontology([case]).findings == []
    table = dict(prefixes())
    table["MONDO"] = Prefix("MONDO", table["MONDO"].uri_prefix, re.compile("^[0-9]{6}$"), table["MONDO"].name)
    monkeypatch.setattr("iimkg.shacl.qc.prefixes", lambda: table)
    found = validate_ontology([case]).findings
    assert [(f.rule, f.focus, f.value) for f in found] == [
        ("xref_local_id", "https://w3id.org/iimkg/alpha", "MONDO:0005015")]


def test_a_value_with_a_backslash_still_gets_its_message(tmp_path: Path) -> None:
    """pyshacl 0.40 reads bound values as regex templates when it writes messages; the validator works around it."""
    data = _write(tmp_path / "backslash.ttl", (QC / "duplicate_label-fail.ttl").read_text(encoding="utf-8")
                  .replace('"shared"@en', '"C:\\\\Users "@en'))
    found = {(f.rule, f.focus, f.value, f.message) for f in validate_ontology([data]).findings}
    assert found == {
        ("label_whitespace", IIM + "alpha", "C:\\Users ", "This label starts or ends with whitespace; remove it."),
        ("label_whitespace", IIM + "beta", "C:\\Users ", "This label starts or ends with whitespace; remove it."),
        ("duplicate_label", IIM + "alpha", "C:\\Users ",
         "This label is also the label of another term; give each term its own label."),
        ("duplicate_label", IIM + "beta", "C:\\Users ",
         "This label is also the label of another term; give each term its own label."),
    }


# ── engines and the shipped ontology ──

@pytest.mark.slow
def test_oxigraph_and_rdflib_give_the_same_findings() -> None:
    """The fast path (pyshacl's SPARQL on pyoxigraph) against plain pyshacl on rdflib, on every triggering case."""
    cases = [c for c in CASES if c.stem.endswith("-fail")]

    def key(result: ValidationResult) -> list[tuple[str, ...]]:
        blank = re.compile(r"\b[0-9a-f]{32}\b")  # blank node IDs differ between the engines
        return sorted((f.file, f.focus, f.rule, f.severity.value, blank.sub("_", f.value or ""),
                       blank.sub("_", f.message)) for f in result.findings)

    fast, plain = validate_ontology(cases), validate_ontology(cases, engine="rdflib")
    assert key(fast) == key(plain) and len(fast.findings) >= len(cases)


def test_the_shipped_ontology_is_checked_with_every_rule(shipped: ValidationResult) -> None:
    assert len(shipped.files) == 1 and shipped.files[0].endswith("iim.ttl")
    assert {f.file for f in shipped.findings} <= set(shipped.files)
    assert {f.rule for f in shipped.findings} <= {r.name for r in shipped.rules}
    assert all(f.plan is None and f.statement is None for f in shipped.findings)


def test_the_shipped_ontology_has_no_violation(shipped: ValidationResult) -> None:
    assert [(f.rule, f.focus) for f in shipped.findings if f.severity is Severity.VIOLATION] == []


# ── the command line ──

def case(name: str) -> str:
    return str(QC / f"{name}.ttl")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iimkg.cli.main", *args], capture_output=True, text=True, check=False)


def test_a_clean_file_exits_0(shapes: rdflib.Graph, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--qc", case("missing_label-pass")]) == 0
    out = capsys.readouterr().out
    assert "no findings" in out and "PASS" in out and f"{len(rules_of(shapes))} rules" in out


def test_a_violation_exits_1_and_the_text_report_names_rule_focus_and_message(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--qc", case("missing_label-fail")]) == 1
    out = capsys.readouterr().out
    assert "  violation (1)\n" in out
    assert re.search(r"missing_label +iim:alpha +This entity has no label", out)
    assert "[ROBOT report: missing_label (ERROR)]" in out and "FAIL: 1 finding at or above violation" in out


@pytest.mark.parametrize(("name", "fail_on", "status"), [
    ("missing_definition-fail", "violation", 0),
    ("missing_definition-fail", "warning", 1),
    ("lowercase_definition-fail", "warning", 0),
    ("lowercase_definition-fail", "info", 1),
    ("missing_label-fail", "info", 1),
])
def test_fail_on_sets_the_lowest_severity_that_fails(name: str, fail_on: str, status: int,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--qc", case(name), "--fail-on", fail_on, "--format", "json"]) == status
    assert json.loads(capsys.readouterr().out)["conforms"] is (status == 0)


def test_the_json_report_has_findings_and_a_summary(shapes: rdflib.Graph, capsys: pytest.CaptureFixture[str]) -> None:
    files = [case("duplicate_label-fail"), case("missing_definition-fail")]
    assert main(["validate", "--qc", *files, "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["conforms"] is False
    assert report["summary"] == {"files": 2, "rules": len(rules_of(shapes)), "findings": 3, "violation": 2,
                                 "warning": 1, "info": 0, "fail_on": "violation", "failing": 2}
    first = report["findings"][0]
    assert {"severity", "rule", "message", "focus", "plan", "file", "source", "statement"} <= set(first)
    assert first["severity"] == "violation" and first["rule"] == "duplicate_label"
    assert first["focus"] == "https://w3id.org/iimkg/alpha" and first["file"] == display_path(Path(files[0]))
    assert first["source"] == "ROBOT report: duplicate_label (ERROR)" and first["plan"] is first["statement"] is None
    assert report["findings"][2]["file"] == display_path(Path(files[1]))


def test_the_junit_report_has_a_suite_per_file_and_a_case_per_rule(shapes: rdflib.Graph,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    files = [case("duplicate_label-fail"), case("missing_definition-fail")]
    assert main(["validate", "--qc", *files, "--format", "junit"]) == 1
    root = ET.fromstring(capsys.readouterr().out)
    suites = root.findall("testsuite")
    assert root.tag == "testsuites" and [s.get("name") for s in suites] == [display_path(Path(f)) for f in files]
    assert all(len(s.findall("testcase")) == len(rules_of(shapes)) for s in suites)
    failures = {(s.get("name"), c.get("name")) for s in suites for c in s.findall("testcase")
                if c.find("failure") is not None}
    assert failures == {(display_path(Path(files[0])), "duplicate_label")}
    below = next(c for c in suites[1].findall("testcase") if c.get("name") == "missing_definition")
    assert below.find("failure") is None and "iim:alpha" in (below.findtext("system-out") or "")
    assert suites[0].get("failures") == "1" and suites[1].get("failures") == "0"


def test_the_turtle_report_is_the_shacl_validation_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--qc", case("missing_definition-fail"), "--format", "turtle"]) == 0
    graph = rdflib.Graph().parse(data=capsys.readouterr().out, format="turtle")
    reports = list(graph.subjects(RDF.type, SH.ValidationReport))
    assert len(reports) == 1
    assert graph.value(reports[0], SH.conforms) == rdflib.Literal(True)  # a warning does not fail at violation
    result = graph.value(reports[0], SH.result)
    assert graph.value(result, SH.sourceShape) == rdflib.URIRef(QC_NAMESPACE + "missing_definition")


def test_output_goes_to_the_file_and_leaves_no_temporary_file(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "report.json"
    assert main(["validate", "--qc", case("missing_label-fail"), "--format", "json", "--output", str(target)]) == 1
    assert capsys.readouterr().out == ""
    assert json.loads(target.read_text(encoding="utf-8"))["summary"]["violation"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_broken_turtle_names_file_line_and_column_and_writes_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ttl"
    broken.write_text('@prefix iim: <https://w3id.org/iimkg/> .\niim:a iim:b "unclosed .\n', encoding="utf-8")
    with pytest.raises(InputError) as error:
        validate_ontology([broken])
    assert (error.value.path, error.value.line, error.value.column) == (broken, 2, 13)
    target = tmp_path / "report.json"
    done = run("validate", "--qc", str(broken), "--output", str(target))
    assert done.returncode == 2 and done.stdout == ""
    assert f"{broken}:2:13: " in done.stderr and "Traceback" not in done.stderr
    assert not target.exists() and [p.name for p in tmp_path.iterdir()] == ["broken.ttl"]


def test_a_failed_run_leaves_an_earlier_report_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    target.write_text("earlier report\n", encoding="utf-8")
    assert main(["validate", "--qc", str(tmp_path / "missing.ttl"), "--output", str(target)]) == 2
    assert target.read_text(encoding="utf-8") == "earlier report\n"


@pytest.mark.parametrize(("setup", "message"), [
    (lambda d: d / "missing.ttl", "missing.ttl: no such file"),
    (lambda d: _write(d / "empty.ttl", ""), "empty.ttl: the file holds no triples"),
    (lambda d: _write(d / "ontology.txt", "<urn:a> <urn:b> <urn:c> ."), "can't tell the RDF syntax"),
])
def test_bad_input_exits_2_with_a_message(setup: Callable[[Path], Path], message: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--qc", str(setup(tmp_path))]) == 2
    assert message in capsys.readouterr().err


def test_input_format_names_the_syntax_the_extension_does_not(tmp_path: Path) -> None:
    data = _write(tmp_path / "ontology.txt", (QC / "missing_label-fail.ttl").read_text(encoding="utf-8"))
    assert main(["validate", "--qc", str(data), "--input-format", "turtle"]) == 1


def test_an_output_folder_that_does_not_exist_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "no" / "report.txt"
    assert main(["validate", "--qc", case("missing_label-pass"), "--output", str(target)]) == 2
    assert "does not exist" in capsys.readouterr().err and not target.parent.exists()


def test_a_plan_file_that_is_not_there_exits_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "plan.ttl"]) == 2
    assert capsys.readouterr().err == "iimkg: error: plan.ttl: no such file\n"


def test_validate_without_files_checks_the_shipped_ontology(shapes: rdflib.Graph,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["validate", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert status == (0 if report["conforms"] else 1)
    assert report["summary"]["files"] == 1 and report["summary"]["rules"] == len(rules_of(shapes))
    assert all(f["file"].endswith("iim.ttl") for f in report["findings"])


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


LOCAL_RULE = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix ex: <https://example.org/our-rules/> .
ex:see_also a sh:PropertyShape ;
    rdfs:label "a population points to further reading"@en ;
    sh:targetNode <https://w3id.org/iimkg/IIM_0000601> ;
    sh:path rdfs:seeAlso ;
    sh:minCount 1 ;
    sh:severity sh:Warning .
"""


def test_a_downstream_team_adds_its_own_rule_to_the_quality_gate(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    shapes_file = tmp_path / "our-rules.ttl"
    shapes_file.write_text(LOCAL_RULE, encoding="utf-8")
    assert main(["validate", "--shapes", str(shapes_file), "--fail-on", "warning", "--format", "json"]) == 1
    [finding] = [f for f in json.loads(capsys.readouterr().out)["findings"] if f["rule"] == "see_also"]
    assert (finding["severity"], finding["focus"]) == ("warning", "https://w3id.org/iimkg/IIM_0000601")


def test_own_rules_that_are_not_shacl_exit_2_before_the_ontology_is_checked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shapes_file = tmp_path / "our-rules.ttl"
    shapes_file.write_text(LOCAL_RULE.replace("sh:minCount 1", 'sh:minCount "one"'), encoding="utf-8")
    assert main(["validate", "--shapes", str(shapes_file)]) == 2
    assert f"the shapes in {shapes_file} are not valid SHACL" in capsys.readouterr().err

"""``iimkg validate --format sarif``: SARIF 2.1.0 that code scanning (GitHub's upload-sarif) reads.

No copy of the SARIF 2.1.0 JSON schema is available offline (neither ``sarif-om`` nor ``sarif-tools`` ships it), so
:data:`REQUIRED` transcribes the parts of it a reader depends on: the required properties of ``sarifLog``, ``run``,
``tool``, ``toolComponent``, ``reportingDescriptor``, ``result``, ``message`` and ``artifactLocation``, and the
``level`` enumeration (SARIF 2.1.0 §3.13–3.27, §3.49).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from iimkg.cli.main import main
from iimkg.shacl.findings import Severity, ValidationResult
from iimkg.shacl.reports import ReportFormat, render_report

from conftest import RESOURCES, ROOT

_MESSAGE = {"type": "object", "anyOf": [{"required": ["text"]}, {"required": ["id"]}],
            "properties": {"text": {"type": "string", "minLength": 1}}}
_MULTIFORMAT = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string", "minLength": 1}}}
REQUIRED: dict[str, Any] = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "$schema": {"type": "string", "format": "uri"},
        "runs": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["tool"],
            "properties": {
                "tool": {"type": "object", "required": ["driver"], "properties": {"driver": {
                    "type": "object", "required": ["name"],
                    "properties": {"name": {"type": "string"}, "rules": {"type": "array", "items": {
                        "type": "object", "required": ["id"],
                        "properties": {"id": {"type": "string"}, "shortDescription": _MULTIFORMAT,
                                       "fullDescription": _MULTIFORMAT, "help": _MULTIFORMAT,
                                       "defaultConfiguration": {"type": "object", "properties": {
                                           "level": {"enum": ["none", "note", "warning", "error"]}}}}}}}}}},
                "results": {"type": "array", "items": {
                    "type": "object", "required": ["message"],
                    "properties": {
                        "ruleId": {"type": "string"},
                        "ruleIndex": {"type": "integer", "minimum": -1},
                        "level": {"enum": ["none", "note", "warning", "error"]},
                        "message": _MESSAGE,
                        "locations": {"type": "array", "items": {"type": "object", "properties": {
                            "physicalLocation": {"type": "object", "required": ["artifactLocation"], "properties": {
                                "artifactLocation": {"type": "object", "required": ["uri"], "properties": {
                                    "uri": {"type": "string", "minLength": 1}, "uriBaseId": {"type": "string"}}}}},
                        }}},
                    }}},
            }}},
    },
}
LEVELS = {Severity.VIOLATION: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


@pytest.fixture(scope="module")
def in_root() -> Iterator[None]:
    """Run from the repository root, as CI does, so that files are named relative to it."""
    before = Path.cwd()
    os.chdir(ROOT)
    try:
        yield
    finally:
        os.chdir(before)


@pytest.fixture(scope="module")
def qc_result(in_root: None) -> ValidationResult:
    """The quality gate over every failing case: findings of all three severities, from many files."""
    from iimkg.shacl.qc import validate_ontology

    return validate_ontology(sorted((RESOURCES / "qc").glob("*-fail.ttl")))


@pytest.fixture(scope="module")
def fhir_result(in_root: None) -> ValidationResult:
    """A FHIR example with care gaps: plan findings and the converter's notes."""
    from iimkg.validation import validate_plans

    return validate_plans([Path("examples/fhir/dermatomyositis-gaps.json")])


def _sarif(result: ValidationResult) -> dict[str, Any]:
    log: dict[str, Any] = json.loads(render_report(result, ReportFormat.SARIF))
    jsonschema.validate(log, REQUIRED)
    return log


@pytest.mark.parametrize("which", ["qc_result", "fhir_result"])
def test_one_result_per_finding_with_its_rule_and_level(which: str, request: pytest.FixtureRequest) -> None:
    result: ValidationResult = request.getfixturevalue(which)
    run = _sarif(result)["runs"][0]
    assert result.findings
    got = [(r["ruleId"], r["level"], r["message"]["text"]) for r in run["results"]]
    assert got == [(f.rule, LEVELS[f.severity], f.message) for f in result.findings]


def test_every_severity_has_its_sarif_level(qc_result: ValidationResult) -> None:
    assert {f.severity for f in qc_result.findings} == set(Severity)
    levels = {r["level"] for r in _sarif(qc_result)["runs"][0]["results"]}
    assert levels == set(LEVELS.values())


@pytest.mark.parametrize("which", ["qc_result", "fhir_result"])
def test_each_result_points_at_its_file_relative_to_the_root(which: str, request: pytest.FixtureRequest) -> None:
    result: ValidationResult = request.getfixturevalue(which)
    log = _sarif(result)
    run = log["runs"][0]
    base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert base == ROOT.as_uri() + "/"
    for finding, sarif_result in zip(result.findings, run["results"], strict=True):
        (location,) = sarif_result["locations"]
        artifact = location["physicalLocation"]["artifactLocation"]
        assert artifact == {"uri": Path(finding.file).as_posix(), "uriBaseId": "%SRCROOT%"}
        assert (ROOT / artifact["uri"]).is_file()
        assert location["logicalLocations"] == [{"fullyQualifiedName": finding.focus}]


@pytest.mark.parametrize("which", ["qc_result", "fhir_result"])
def test_rules_carry_label_comment_and_source_as_help(which: str, request: pytest.FixtureRequest) -> None:
    result: ValidationResult = request.getfixturevalue(which)
    run = _sarif(result)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules][:len(result.rules)] == [rule.name for rule in result.rules]
    for rule, descriptor in zip(result.rules, rules, strict=False):
        assert descriptor["shortDescription"]["text"] == rule.label
        assert descriptor["defaultConfiguration"]["level"] == LEVELS[rule.severity]
        for part in (rule.label, rule.comment, rule.source):
            assert part is None or part in descriptor["help"]["text"]
    for sarif_result in run["results"]:
        assert rules[sarif_result["ruleIndex"]]["id"] == sarif_result["ruleId"]


def test_cli_writes_sarif_to_the_output_file(tmp_path: Path, in_root: None) -> None:
    case = sorted((RESOURCES / "qc").glob("*-fail.ttl"))[0].relative_to(ROOT)
    out = tmp_path / "qc.sarif"
    status = main(["validate", "--qc", str(case), "--format", "sarif", "--output", str(out)])
    log = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.validate(log, REQUIRED)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]}
    assert uris == {case.as_posix()}
    assert status == (0 if log["runs"][0]["properties"]["conforms"] else 1)


# ── where each finding is: line and column of its focus node ──

def _place_of(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """The 1-based line and column of the ``occurrence``-th ``needle`` in ``text``."""
    at = -1
    for _ in range(occurrence):
        at = text.index(needle, at + 1)
    line = text.count("\n", 0, at) + 1
    return line, at - (text.rfind("\n", 0, at) + 1) + 1


TURTLE = """# <https://example.org/p/A> is in a comment, and "ex:A" in a string below: neither is a use
@prefix ex: <https://example.org/p/> .
PREFIX iim: <https://w3id.org/iimkg/>
<https://example.org/other> iim:note "ex:A <https://example.org/p/A> # not a comment" ;
    iim:see ex:A , ex:B.
ex:A a iim:TreatmentPlan ; iim:dose 1.5 ; iim:days 3.
<#rel> a iim:TreatmentPlan .
@base <https://example.org/base/> .
<x\\u0079> iim:n 1 .
  ex:esc\\-aped a iim:TreatmentPlan .
"""


def test_a_turtle_focus_node_is_found_where_it_is_first_a_subject(tmp_path: Path) -> None:
    from iimkg.shacl.locate import Locator

    path = tmp_path / "plans.ttl"
    path.write_text(TURTLE, encoding="utf-8")
    locate = Locator()
    # used as an object on line 5 first, a subject on line 6: the subject wins
    assert locate.find(path, "https://example.org/p/A") == _place_of(TURTLE, "ex:A a")
    # only ever an object: its first use
    assert locate.find(path, "https://example.org/p/B") == _place_of(TURTLE, "ex:B")
    # a relative IRI, resolved against the file (as the plan reader loads it)
    assert locate.find(path, path.resolve().as_uri() + "#rel") == _place_of(TURTLE, "<#rel>")
    # after a number that ends a statement ("3."), @base, an IRI with \\u escapes, a name with an escape
    assert locate.find(path, "https://example.org/base/xy") == _place_of(TURTLE, "<x\\u0079>")
    assert locate.find(path, "https://example.org/p/esc-aped") == (10, 3)
    assert locate.find(path, "https://example.org/p/nowhere") is None


def test_trig_graph_names_are_not_taken_for_subjects_and_ntriples_lines_are_found(tmp_path: Path) -> None:
    from iimkg.shacl.locate import Locator

    trig = ("@prefix ex: <https://example.org/> .\n"
            "ex:g1 { ex:x ex:p ex:y . }\n"
            "GRAPH ex:g2 {\n  ex:g1 ex:p ex:z .\n}\n")
    (tmp_path / "p.trig").write_text(trig, encoding="utf-8")
    locate = Locator()
    assert locate.find(tmp_path / "p.trig", "https://example.org/x") == (2, 9)
    assert locate.find(tmp_path / "p.trig", "https://example.org/g1") == (4, 3)
    lines = [f"<https://example.org/s{n}> <https://example.org/p> \"{n}\" ." for n in range(5)]
    (tmp_path / "p.nt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert locate.find(tmp_path / "p.nt", "https://example.org/s3") == (4, 1)


def test_json_ld_ids_and_fhir_resources_are_found(tmp_path: Path) -> None:
    from iimkg.shacl.locate import Locator

    plan = '{\n  "@context": "https://w3id.org/iimkg/plan-context.jsonld",\n  "items": [\n    {"id": "#p1"},\n' \
           '    {"@id": "https://example.org/p2", "note": "\\"id\\": \\"no\\""}\n  ]\n}\n'
    (tmp_path / "plan.jsonld").write_text(plan, encoding="utf-8")
    locate = Locator()
    assert locate.find(tmp_path / "plan.jsonld", (tmp_path / "plan.jsonld").resolve().as_uri() + "#p1") == (4, 6)
    assert locate.find(tmp_path / "plan.jsonld", "https://example.org/p2") == (5, 6)
    bundle = {"resourceType": "Bundle", "id": "b", "entry": [
        {"resource": {"resourceType": "Patient", "id": "pat-1", "meta": {"id": "x"}}},
        {"resource": {"id": "rx-9", "resourceType": "MedicationRequest", "subject": {"reference": "Patient/pat-1"}}},
    ]}
    text = json.dumps(bundle, indent=1)
    path = tmp_path / "bundle.json"
    path.write_text(text, encoding="utf-8")
    uri = path.resolve().as_uri()
    for focus, resource_type, resource_id in ((f"{uri}#plan-Patient-pat-1", "Patient", "pat-1"),
                                              (f"{uri}#MedicationRequest-rx-9", "MedicationRequest", "rx-9"),
                                              ("MedicationRequest/rx-9", "MedicationRequest", "rx-9")):
        place = locate.find(path, focus)
        assert place is not None, focus
        line, column = place
        offset = sum(len(t) + 1 for t in text.split("\n")[:line - 1]) + column - 1
        found, _ = json.JSONDecoder().raw_decode(text, offset)
        assert (found["resourceType"], found["id"]) == (resource_type, resource_id)


def test_sarif_regions_follow_the_plan_wherever_it_sits_in_its_file(tmp_path: Path, in_root: None) -> None:
    """An example plan moved down by some lines: each result's region moves with it."""
    original = ROOT / "examples" / "plans" / "several-findings.ttl"
    shifted = "# moved\n" * 7 + original.read_text(encoding="utf-8")
    plan = tmp_path / "shifted.ttl"
    plan.write_text(shifted, encoding="utf-8")
    out = tmp_path / "plans.sarif"
    main(["validate", str(plan), "--format", "sarif", "--output", str(out)])
    results = json.loads(out.read_text(encoding="utf-8"))["runs"][0]["results"]
    assert results
    lines = shifted.splitlines()
    for result in results:
        region = result["locations"][0]["physicalLocation"]["region"]
        focus = result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
        local = focus.rsplit("/", 1)[-1]
        assert lines[region["startLine"] - 1][region["startColumn"] - 1:].startswith(f":{local} "), (region, focus)
        assert region["startLine"] > 7


def test_fhir_findings_point_at_the_resource_they_come_from(fhir_result: ValidationResult) -> None:
    run = _sarif(fhir_result)["runs"][0]
    text = (ROOT / "examples" / "fhir" / "dermatomyositis-gaps.json").read_text(encoding="utf-8")
    located = 0
    for result in run["results"]:
        region = result["locations"][0]["physicalLocation"].get("region")
        if region is None:
            continue
        located += 1
        offset = sum(len(t) + 1 for t in text.split("\n")[:region["startLine"] - 1]) + region["startColumn"] - 1
        resource, _ = json.JSONDecoder().raw_decode(text, offset)
        focus = result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
        assert f"{resource['resourceType']}-{resource['id']}" in focus.replace("/", "-"), (focus, resource["id"])
    assert located >= len(run["results"]) // 2


def test_bulk_data_findings_point_at_the_file_and_line_of_their_resource(in_root: None) -> None:
    """Bulk Data has one NDJSON file per resource type: a plan read from Patient.ndjson cites a MedicationRequest
    of MedicationRequest.ndjson, and its result is shown there, the plan's own file kept in its properties."""
    from iimkg.validation import validate_plans

    files = sorted(Path("examples/fhir/bulk-export").glob("*.ndjson"))
    run = _sarif(validate_plans(files))["runs"][0]
    assert run["results"]
    for result in run["results"]:
        physical = result["locations"][0]["physicalLocation"]
        focus = result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
        line = (ROOT / physical["artifactLocation"]["uri"]).read_text(encoding="utf-8").splitlines()[
            physical["region"]["startLine"] - 1]
        resource = json.loads(line)
        assert f"{resource['resourceType']}-{resource['id']}" in focus.replace("/", "-"), (focus, physical)
        if Path(physical["artifactLocation"]["uri"]).name != "Patient.ndjson" and "#" in focus:
            assert Path(result["properties"]["file"]).name == "Patient.ndjson"


def test_quality_gate_findings_point_at_the_terms_block(qc_result: ValidationResult) -> None:
    from iimkg.core.prefixes import compress

    run = _sarif(qc_result)["runs"][0]
    for finding, result in zip(qc_result.findings, run["results"], strict=True):
        region = result["locations"][0]["physicalLocation"]["region"]
        line = (ROOT / finding.file).read_text(encoding="utf-8").splitlines()[region["startLine"] - 1]
        written = line[region["startColumn"] - 1:]
        assert written.startswith((f"<{finding.focus}>", compress(finding.focus) or finding.focus)), (finding, line)

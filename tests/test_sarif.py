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

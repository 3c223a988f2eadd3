"""The W3C SHACL test-suite pattern shared by the quality gate's and the plan rules' tests: each case file is a
manifest entry (``mf:action`` data and shapes, ``mf:result`` the expected validation report) and its data."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import rdflib
from rdflib.namespace import DCTERMS, SH

from iimkg.shacl.findings import Rule, ValidationResult

MF = rdflib.Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")

Result = tuple[str, str, str]  # (focus node, source shape, severity), as the W3C test suite compares them


def expected_results(case: Path) -> set[Result]:
    """The results the case's manifest entry (``mf:result``) expects, its relative IRIs resolved against the file."""
    graph = rdflib.Graph().parse(case, format="turtle", publicID=case.resolve().as_uri())
    return {
        (str(graph.value(r, SH.focusNode)), str(graph.value(r, SH.sourceShape)), str(graph.value(r, SH.resultSeverity)))
        for report in graph.objects(None, MF.result)
        for r in graph.objects(report, SH.result)
    }


def reported_results(result: ValidationResult, case: Path) -> set[Result]:
    """The results of the SHACL report graph for one file (each report names its file with dcterms:source)."""
    graph = result.graph
    reports = list(graph.subjects(DCTERMS.source, rdflib.URIRef(case.resolve().as_uri())))
    assert len(reports) == 1, f"expected one sh:ValidationReport for {case.name}"
    return {
        (str(graph.value(r, SH.focusNode)), str(graph.value(r, SH.sourceShape)), str(graph.value(r, SH.resultSeverity)))
        for r in graph.objects(reports[0], SH.result)
    }


def assert_each_rule_has_a_failing_and_a_passing_case(rules: Sequence[Rule], folder: Path,
                                                      cases: Sequence[Path]) -> None:
    """``RULE-fail.ttl`` expects a result of the rule and ``RULE-pass.ttl`` (a near miss) none; no case is left
    for a rule that is gone."""
    for rule in rules:
        failing, passing = folder / f"{rule.name}-fail.ttl", folder / f"{rule.name}-pass.ttl"
        assert failing.is_file() and passing.is_file(), f"{rule.name} needs {failing.name} and {passing.name}"
        assert rule.iri in {shape for _, shape, _ in expected_results(failing)}, f"{failing.name} does not trigger it"
        assert rule.iri not in {shape for _, shape, _ in expected_results(passing)}
    assert {c.stem.rsplit("-", 1)[0] for c in cases} == {r.name for r in rules}, "a case for a rule that is gone"

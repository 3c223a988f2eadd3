"""The W3C SHACL test-suite pattern shared by the quality gate's and the plan rules' tests: each case file is a
manifest entry (``mf:action`` data and shapes, ``mf:result`` the expected validation report) and its data.

A case is named ``RULE-fail`` (it expects results of RULE) or ``RULE-pass`` (a near miss: it expects none), and is
compared only on the results of RULE (``sh:sourceShape``): what other rules say about the same data is their own
cases' business, so a new statement or rule changes the cases of the rules that read it, not every case.

Two kinds of case file:

- ``RULE-*.ttl`` (quality gate): a small ontology that is its own data.
- ``RULE-*.trig`` (plan rules): a delta on the folder's ``base.ttl``, one complete, conforming plan. The data is
  ``base.ttl`` plus the file's default graph (the manifest and the triples to add) minus its ``<#remove>`` graph
  (the triples to take away), every relative IRI resolved against the case file, so ``<#plan>`` of the base is the
  case's own plan.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import rdflib
from rdflib.graph import DATASET_DEFAULT_GRAPH_ID
from rdflib.namespace import DCTERMS, SH

from iimkg.shacl.findings import Rule, ValidationResult, rule_name

MF = rdflib.Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
BASE = "base.ttl"
REMOVE = "#remove"

Result = tuple[str, str, str]  # (focus node, source shape, severity), as the W3C test suite compares them


@dataclass(frozen=True)
class Case:
    """One case file; ``data`` is the file validated (the case itself, or its composed plan)."""

    source: Path
    data: Path

    @property
    def name(self) -> str:
        return self.source.stem

    @property
    def rule(self) -> str:
        """The rule under test: the file name without ``-fail`` or ``-pass``."""
        return self.name.rsplit("-", 1)[0]


def case_files(folder: Path) -> list[Path]:
    """The case files of a folder (the base plan is not a case)."""
    return sorted(p for p in folder.iterdir() if p.suffix in {".ttl", ".trig"} and p.name != BASE)


def _uri(path: Path) -> str:
    return path.resolve().as_uri()


def _default_and_removed(case: Path) -> tuple[rdflib.Graph, rdflib.Graph]:
    if case.suffix != ".trig":
        return rdflib.Graph().parse(case, format="turtle", publicID=_uri(case)), rdflib.Graph()
    dataset = rdflib.Dataset()
    with warnings.catch_warnings():  # rdflib 7's TriG parser uses its own deprecated ConjunctiveGraph
        warnings.simplefilter("ignore", DeprecationWarning)
        dataset.parse(case, format="trig", publicID=_uri(case))
    removed = rdflib.URIRef(_uri(case) + REMOVE)
    unknown = {g.identifier for g in dataset.graphs()} - {DATASET_DEFAULT_GRAPH_ID, removed}
    assert not unknown, f"{case.name}: only the default graph and <{REMOVE}> are allowed, not {unknown}"
    return dataset.graph(DATASET_DEFAULT_GRAPH_ID), dataset.graph(removed)


def case_graph(case: Path) -> rdflib.Graph:
    """The data of a case: a Turtle case as it is; a TriG case as ``base.ttl`` + its default graph - ``<#remove>``."""
    added, removed = _default_and_removed(case)
    if case.suffix != ".trig":
        return added
    base = rdflib.Graph().parse(case.parent / BASE, format="turtle", publicID=_uri(case))
    missing = [t for t in removed if t not in base]
    assert not missing, f"{case.name} takes away triples that {BASE} does not have: {missing}"
    graph = rdflib.Graph()
    for triple in base:
        if triple not in removed:
            graph.add(triple)
    for triple in added:
        graph.add(triple)
    return graph


def materialise(cases: Iterable[Path], folder: Path) -> list[Case]:
    """Write each case's data to ``folder`` (a Turtle case is used as it is), for the validators, which read files."""
    made = []
    for case in cases:
        if case.suffix == ".trig":
            data = folder / f"{case.stem}.ttl"
            case_graph(case).serialize(data, format="turtle")
        else:
            data = case
        made.append(Case(case, data))
    return made


def expected_results(case: Path, rule_iri: str | None = None) -> set[Result]:
    """The results the case's manifest entry (``mf:result``) expects, its relative IRIs resolved against the file;
    only those of ``rule_iri`` when it is given."""
    graph, _ = _default_and_removed(case)
    return _only({
        (str(graph.value(r, SH.focusNode)), str(graph.value(r, SH.sourceShape)), str(graph.value(r, SH.resultSeverity)))
        for report in graph.objects(None, MF.result)
        for r in graph.objects(report, SH.result)
    }, rule_iri)


def reported_results(result: ValidationResult, data: Path, rule_iri: str | None = None) -> set[Result]:
    """The results of the SHACL report graph for one file (each report names its file with dcterms:source); only
    those of ``rule_iri`` when it is given."""
    graph = result.graph
    reports = list(graph.subjects(DCTERMS.source, rdflib.URIRef(_uri(data))))
    assert len(reports) == 1, f"expected one sh:ValidationReport for {data.name}"
    return _only({
        (str(graph.value(r, SH.focusNode)), str(graph.value(r, SH.sourceShape)), str(graph.value(r, SH.resultSeverity)))
        for r in graph.objects(reports[0], SH.result)
    }, rule_iri)


def _only(results: set[Result], rule_iri: str | None) -> set[Result]:
    return {r for r in results if rule_iri is None or r[1] == rule_iri}


def rule_iri_of(case: Case, rules: Sequence[Rule]) -> str:
    """The IRI of the rule a case tests."""
    [iri] = [r.iri for r in rules if r.name == case.rule] or [""]
    assert iri, f"{case.source.name}: no rule {case.rule}"
    return iri


def assert_each_rule_has_a_failing_and_a_passing_case(rules: Sequence[Rule], cases: Sequence[Path]) -> None:
    """``RULE-fail`` expects a result of the rule and ``RULE-pass`` (a near miss) none; no case is left for a rule
    that is gone, and a case expects results of its own rule only."""
    by_name = {case.stem: case for case in cases}
    for rule in rules:
        failing, passing = by_name.get(f"{rule.name}-fail"), by_name.get(f"{rule.name}-pass")
        assert failing and passing, f"{rule.name} needs a -fail and a -pass case"
        assert rule.iri in {shape for _, shape, _ in expected_results(failing)}, f"{failing.name} does not trigger it"
        assert not expected_results(passing, rule.iri), f"{passing.name} expects a result of {rule.name}"
    for case in cases:
        assert {rule_name(shape) for _, shape, _ in expected_results(case)} <= {case.stem.rsplit("-", 1)[0]}, case
    assert {c.stem.rsplit("-", 1)[0] for c in cases} == {r.name for r in rules}, "a case for a rule that is gone"
    assert len(cases) == 2 * len(rules), "one -fail and one -pass case per rule, nothing else"

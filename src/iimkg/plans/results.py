"""From raw SHACL results to findings: which plan and file each result is about, and the SHACL report graph.

Results cross process boundaries as pyoxigraph terms (they pickle), so nothing is written out and parsed again.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from iimkg.core.prefixes import by_length, compact
from iimkg.core.vocab import STANDARD_PREFIXES
from iimkg.plans.reading import PlanNode
from iimkg.shacl.findings import Finding, Rule, Severity, display_path, rule_name

if TYPE_CHECKING:
    import rdflib

__all__ = ["Outcome", "PlanResult", "attribute", "findings_of", "plan_name", "plan_names", "report_graph",
           "report_turtle", "shown"]

_WORD = re.compile(r"[A-Za-z0-9]+")  # statement IDs (S17, R073a) are word-like tokens of a message
SEED_ID = re.compile(r"S\d+")  # the seed page's statements, S01-S35 (the others: R001... from other sources)
Term = ox.NamedNode | ox.BlankNode | ox.Literal


@dataclass(frozen=True)
class PlanResult:
    """A SHACL validation result with the plan and the file it is about."""

    focus: Term
    shape: str
    severity: str
    component: str
    path: str | None
    value: Term | None
    messages: tuple[str, ...]
    plan: PlanNode | None
    file: str | None


@dataclass
class Outcome:
    """What checking a group of files gives: results, each file's plans (in file order), each plan's identifier,
    or the first input error as data (it crosses a process boundary: path, line, column)."""

    results: list[PlanResult] = field(default_factory=list)
    plans: dict[str, list[PlanNode]] = field(default_factory=dict)
    names: dict[PlanNode, str] = field(default_factory=dict)
    error: tuple[str, str | None, int | None, int | None] | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds by stage (load, evaluate, attribute…)
    restart: str | None = None  # not an outcome: drop what was found in this file so far (see splitting.Restart)
    # blank-node labels unique in this chunk only (plans.labels: where a node's unit is not known); the caller puts
    # the chunk's number in front of them
    chunk_local: frozenset[str] = frozenset()

    def plan_count(self) -> int:
        return sum(len(p) for p in self.plans.values())

    def prefix_chunk_local(self, prefix: str) -> None:
        """Put ``prefix`` (the chunk's number, on Spark the partition's too) in front of the labels unique in this
        chunk only (:attr:`chunk_local`), so that no other chunk's can be the same."""
        local = self.chunk_local
        if local:
            self.relabel(lambda node: ox.BlankNode(prefix + node.value) if node.value in local else node)

    def relabel(self, label: Callable[[ox.BlankNode], ox.BlankNode]) -> None:
        """Give every blank node of the outcome (its results' focus, value and plan, its plans and names) the
        label ``label`` gives it."""
        def own(term: Any) -> Any:
            return label(term) if isinstance(term, ox.BlankNode) else term

        self.results = [replace(r, focus=own(r.focus), value=own(r.value), plan=own(r.plan))
                        if any(isinstance(t, ox.BlankNode) for t in (r.focus, r.value, r.plan)) else r
                        for r in self.results]
        self.names = {own(plan): name for plan, name in self.names.items()}
        self.plans = {file: [own(plan) for plan in plans] for file, plans in self.plans.items()}


def attribute(store: ox.Store, raw: Iterable[Any], plans: Mapping[str, list[PlanNode]],
              graphs: Mapping[str, ox.NamedNode | ox.DefaultGraph],
              ontology_subjects: Collection[Any] = frozenset()) -> list[PlanResult]:
    """Each result's plan (the focus node, or the plan that points at it) and file (the file of that plan, else the
    file whose graph describes the focus).

    :param graphs: each file's graph in ``store``; the default graph when the store holds one file (beside the
        ontology: then a focus the ontology describes is not traced to the file by its own triples).
    :param ontology_subjects: the ontology's subjects, when it shares the default graph with a file.
    """
    plan_file = {plan: file for file, file_plans in plans.items() for plan in file_plans}
    graph_file = {graph: file for file, graph in graphs.items()}
    owners: dict[Any, tuple[PlanNode | None, str | None]] = {}
    results = []
    for result in raw:
        if result.focus not in owners:
            owners[result.focus] = _owner(store, result.focus, plan_file, graph_file, ontology_subjects)
        plan, file = owners[result.focus]
        results.append(PlanResult(
            focus=result.focus, shape=result.shape, severity=result.severity, component=result.component,
            path=result.path, value=result.value, messages=tuple(m.value for m in result.messages),
            plan=plan, file=file))
    return results


def _owner(store: ox.Store, focus: Any, plan_file: Mapping[PlanNode, str],
           graph_file: Mapping[ox.NamedNode | ox.DefaultGraph, str],
           ontology_subjects: Collection[Any]) -> tuple[PlanNode | None, str | None]:
    if isinstance(focus, ox.Literal):
        return None, None
    if focus in plan_file:
        return focus, plan_file[focus]
    for quad in store.quads_for_pattern(None, None, focus):
        if quad.subject in plan_file:
            subject = quad.subject
            assert isinstance(subject, ox.NamedNode | ox.BlankNode)
            return subject, plan_file[subject]
    if focus in ontology_subjects:
        return None, None
    for quad in store.quads_for_pattern(focus, None, None):
        graph = quad.graph_name
        if isinstance(graph, ox.NamedNode | ox.DefaultGraph) and graph in graph_file:
            return None, graph_file[graph]
    return None, None


def plan_names(outcome: Outcome) -> dict[PlanNode, str]:
    """How findings name each plan of one outcome (:func:`plan_name`)."""
    plans = [plan for file_plans in outcome.plans.values() for plan in file_plans]
    count = Counter(outcome.names[plan] for plan in plans if plan in outcome.names)
    shared = {identifier for identifier, plans_with_it in count.items() if plans_with_it > 1}
    return {plan: plan_name(plan, outcome.names.get(plan), shared) for plan in plans}


def plan_name(plan: PlanNode, identifier: str | None, shared: Collection[str]) -> str:
    """How findings name a plan: its ``dcterms:identifier`` if it has one and no other plan has it (``shared``: the
    identifiers several plans carry), else its IRI."""
    return identifier if identifier is not None and identifier not in shared else shown(plan)


def findings_of(results: Iterable[PlanResult], rules: Sequence[Rule], names: Mapping[PlanNode, str],
                known_statements: Collection[str] = ()) -> list[Finding]:
    """Findings for people and CI: each with its rule's name, source and statements, its plan's name and its file.

    :param known_statements: the IDs of the graph's statements (``R073a``), so that a finding carries a statement its
        message cites even when the rule's ``iimplan:enforces`` list does not name it (a statement added since).
    """
    by_iri = {rule.iri: rule for rule in rules}
    known = frozenset(known_statements)
    findings = []
    severities: dict[str, Severity] = {}  # a few IRIs and files for many results: each worked out once
    files: dict[str, str] = {}
    for result in results:
        rule = by_iri.get(result.shape)
        messages = sorted(result.messages)
        cited = _cited(rule.statements, messages[0], known) if rule and messages else ()
        severity = severities.get(result.severity)
        if severity is None:
            severity = severities[result.severity] = Severity.from_iri(result.severity)
        file = files.get(result.file or "")
        if file is None:
            file = files[result.file or ""] = display_path(Path(result.file)) if result.file else ""
        findings.append(Finding(
            severity=severity,
            rule=rule.name if rule else rule_name(result.shape),
            message=messages[0] if messages else (rule.label if rule else "shape not satisfied"),
            focus=shown(result.focus),
            file=file,
            source=rule.source if rule else None,
            value=shown(result.value) if result.value is not None and result.value != result.focus else None,
            path=result.path,
            plan=names.get(result.plan, shown(result.plan)) if result.plan is not None else None,
            statement=", ".join(s for s in cited if SEED_ID.fullmatch(s)) or None if rule else None,
            statements=", ".join(cited) or None,
            plan_iri=shown(result.plan) if result.plan is not None else None,
        ))
    return findings


def _cited(statements: Sequence[str], message: str, known: frozenset[str]) -> tuple[str, ...]:
    """The statements a finding is about: the statements its message cites (the ones that apply to this patient, such
    as R073a for an adult's zoster vaccine), the rule's first in the rule's order, then any other statement of the
    graph in the order cited; all of the rule's when the message cites none."""
    words = _WORD.findall(message)
    named = [s for s in statements if s in words]
    named += [w for w in dict.fromkeys(words) if w in known and w not in named]
    return tuple(named) or tuple(statements)


def shown(term: Term) -> str:
    """A term as a finding shows it: an IRI bare, a blank node as ``_:id``, a literal's text."""
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    return str(term.value)


def report_graph(results: Iterable[PlanResult], files: Sequence[Path], fail_on: Severity) -> rdflib.Graph:
    """The SHACL validation report as an rdflib graph: :func:`report_turtle` parsed (the whole report in memory;
    the CLI writes the Turtle a result at a time instead)."""
    from rdflib import Graph

    held = results if isinstance(results, list) else list(results)
    graph = Graph()
    graph.parse(data="".join(report_turtle(lambda: held, files, fail_on)), format="turtle")
    for prefix in _REPORT_PREFIXES:
        graph.bind(prefix, STANDARD_PREFIXES[prefix])
    return graph


_REPORT_PREFIXES = ("sh", "iim", "iimplan", "dcterms")
_REPORT_NAMESPACES = by_length({prefix: STANDARD_PREFIXES[prefix] for prefix in _REPORT_PREFIXES})


def report_turtle(results: Callable[[], Iterable[PlanResult]], files: Sequence[Path],
                  fail_on: Severity) -> Iterator[str]:
    """The SHACL validation report as Turtle, a result at a time, in memory bounded whatever the number of results:
    one ``sh:ValidationReport`` per file (``dcterms:source`` names it; ``sh:conforms`` judged against ``fail_on``),
    then each result (focus node, value, path, shape, constraint component, severity, messages and plan,
    ``iimplan:plan``) with the ``sh:result`` that links its file's report to it.

    ``results`` gives the results afresh each time it is called (they may be read from disk): it is read twice, a
    first time for which files conform, since a reader meets a report's ``sh:conforms`` before its results.
    Results of a file not in ``files`` are left out."""
    reports = {str(path): f"_:report{index}" for index, path in enumerate(files)}
    failing = {result.file or "" for result in results()
               if Severity.from_iri(result.severity).at_least(fail_on)}
    yield "".join(f"@prefix {prefix}: <{STANDARD_PREFIXES[prefix]}> .\n" for prefix in _REPORT_PREFIXES)
    for index, path in enumerate(files):
        conforms = "false" if str(path) in failing else "true"
        yield (f"\n_:report{index} a sh:ValidationReport ;\n    sh:conforms {conforms} ;\n"
               f"    dcterms:source <{path.resolve().as_uri()}> .\n")
    number = 0
    for result in results():
        report = reports.get(result.file or "")
        if report is None:
            continue
        node = f"_:result{number}"
        number += 1
        lines = [f"\n{report} sh:result {node} .\n{node} a sh:ValidationResult",
                 f"sh:focusNode {result.focus}",
                 f"sh:resultSeverity {_turtle_iri(result.severity)}",
                 f"sh:sourceShape {_turtle_iri(result.shape)}",
                 f"sh:sourceConstraintComponent {_turtle_iri(result.component)}"]
        if result.path:
            lines.append(f"sh:resultPath {_turtle_iri(result.path)}")
        if result.value is not None:
            lines.append(f"sh:value {result.value}")
        if result.plan is not None:
            lines.append(f"iimplan:plan {result.plan}")
        lines += [f"sh:resultMessage {ox.Literal(message)}" for message in result.messages]
        yield " ;\n    ".join(lines) + " .\n"


def _turtle_iri(text: str) -> str:
    """An IRI given as text (or a blank node, ``_:id``) in Turtle: a prefixed name under the report's declared
    prefixes where its local part is a valid Turtle name, else in angle brackets."""
    if text.startswith("_:"):
        return text
    return compact(text, strict=True, namespaces=_REPORT_NAMESPACES) or str(ox.NamedNode(text))

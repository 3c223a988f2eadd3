"""Run the ontology quality gate (``shapes/ontology-qc.ttl``) with pyshacl and turn its report into findings."""

from __future__ import annotations

import enum
import functools
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from iimkg.core.errors import InputError, ShapesError
from iimkg.core.prefixes import prefixes
from iimkg.core.resources import ontology_file, shapes_dir
from iimkg.graph.loading import ontology_quads, parse_rdf_file
from iimkg.queries.run import Engine

if TYPE_CHECKING:
    import rdflib

__all__ = [
    "PLAN_NAMESPACE",
    "QC_NAMESPACE",
    "Finding",
    "Rule",
    "Severity",
    "ValidationResult",
    "check_shapes_are_shacl",
    "display_path",
    "prefix_table",
    "pyshacl_report",
    "qc_shapes_file",
    "rule_name",
    "rules_of",
    "user_shapes_quads",
    "validate_ontology",
]

QC_NAMESPACE = "https://w3id.org/iimkg/shapes/qc/"
PLAN_NAMESPACE = "https://w3id.org/iimkg/shapes/plan/"
ENFORCES = PLAN_NAMESPACE + "enforces"
SH = "http://www.w3.org/ns/shacl#"
_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
_RDFS_COMMENT = "http://www.w3.org/2000/01/rdf-schema#comment"
_DCTERMS_SOURCE = "http://purl.org/dc/terms/source"


class Severity(str, enum.Enum):
    """SHACL's three severities, named as ``--fail-on`` takes them; ROBOT's ERROR, WARN and INFO map onto them."""

    VIOLATION = "violation"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: violation 3, warning 2, info 1."""
        return {"violation": 3, "warning": 2, "info": 1}[self.value]

    @property
    def iri(self) -> str:
        return SH + self.value.capitalize()

    @classmethod
    def from_iri(cls, iri: str) -> Severity:
        """The severity of ``sh:Violation``, ``sh:Warning`` or ``sh:Info``; any other IRI counts as a violation."""
        local = iri.removeprefix(SH).lower()
        return cls(local) if local in {s.value for s in cls} else cls.VIOLATION

    def at_least(self, level: Severity) -> bool:
        return self.rank >= level.rank


@dataclass(frozen=True, order=True)
class Rule:
    """One shape of a shapes graph, as a report lists it (a JUnit test case, a line in the summary)."""

    name: str
    iri: str
    label: str
    severity: Severity
    source: str | None
    comment: str | None = None
    statements: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One result of the SHACL report, flattened for people and CI.

    ``rule`` is the shape's local name (``missing_label``), ``source`` what the rule rests on (for the quality gate,
    the ROBOT check it mirrors; for a plan rule, its citation), ``file`` the file the focus node was read from.
    ``plan`` (the plan the focus node belongs to: its ``dcterms:identifier``, else its IRI; ``plan_iri`` is the
    IRI), ``statement`` (the seed statements a plan rule enforces, such as ``S30, S31``; ``None`` if it rests on
    other sources only) and ``statements`` (every statement it enforces: ``S30, S31, R080a``) are for
    treatment-plan checks and stay ``None`` for the quality gate.
    """

    severity: Severity
    rule: str
    message: str
    focus: str
    file: str
    source: str | None
    value: str | None = None
    path: str | None = None
    plan: str | None = None
    statement: str | None = None
    statements: str | None = None
    plan_iri: str | None = None

    def sort_key(self) -> tuple[str, int, str, str, str, str]:
        return (self.plan or "", -self.severity.rank, self.rule, self.focus, self.value or "", self.message)

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value,
            "rule": self.rule,
            "message": self.message,
            "focus": self.focus,
            "plan": self.plan,
            "file": self.file,
            "source": self.source,
            "statement": self.statement,
            "value": self.value,
            "path": self.path,
        } | ({"plan_iri": self.plan_iri, "statements": self.statements} if self.plan is not None else {})


@dataclass
class ValidationResult:
    """Findings for every file checked, the rules they were checked against, and the SHACL report graph.

    ``conforms`` is judged against ``fail_on``: a report with only warnings conforms when failing on violations,
    as pyshacl's ``allow_warnings`` has it; the ``sh:conforms`` of :attr:`graph` agrees. ``report`` is the report
    graph, or a function that builds it: plan validation builds it only when asked (a hundred thousand plans make
    a large graph). ``plans`` counts the plans checked (``None`` for the quality gate).
    """

    files: list[str]
    rules: list[Rule]
    findings: list[Finding]
    fail_on: Severity
    report: rdflib.Graph | Callable[[], rdflib.Graph] = field(repr=False)
    seconds: float = 0.0
    plans: int | None = None

    @property
    def graph(self) -> rdflib.Graph:
        """The SHACL validation report graph (one ``sh:ValidationReport`` per file, named by ``dcterms:source``)."""
        if callable(self.report):
            self.report = self.report()
        return self.report

    @property
    def conforms(self) -> bool:
        return not self.failing()

    def failing(self, file: str | None = None) -> list[Finding]:
        """Findings at or above :attr:`fail_on` (in ``file`` if given)."""
        return [f for f in self.findings if f.severity.at_least(self.fail_on) and file in (None, f.file)]

    def counts(self, file: str | None = None) -> dict[Severity, int]:
        """Findings per severity, every severity present (zero if none)."""
        counted = Counter(f.severity for f in self.findings if file in (None, f.file))
        return {s: counted.get(s, 0) for s in Severity}


def qc_shapes_file() -> Path:
    """The shipped quality-gate shapes."""
    return shapes_dir() / "ontology-qc.ttl"


def prefix_table() -> list[ox.Quad]:
    """Triples that give the QC shapes each prefix's local-ID pattern, read from ``ontology/prefixes.tsv``.

    One blank node per prefix: ``[] iimqc:prefix "MONDO" ; iimqc:localIdPattern "^[0-9]{7}$"``. They are added to
    the data graph when it is validated, so the shapes never carry a copy of the table.
    """
    prefix, pattern = ox.NamedNode(QC_NAMESPACE + "prefix"), ox.NamedNode(QC_NAMESPACE + "localIdPattern")
    quads = []
    for entry in prefixes().values():
        node = ox.BlankNode()
        quads.append(ox.Quad(node, prefix, ox.Literal(entry.prefix)))
        quads.append(ox.Quad(node, pattern, ox.Literal(entry.pattern.pattern)))
    return quads


def validate_ontology(
    paths: Sequence[Path] | None = None,
    *,
    shapes: Sequence[Path] = (),
    input_format: str | None = None,
    fail_on: Severity | str = Severity.VIOLATION,
    engine: Engine | str = Engine.OXIGRAPH,
) -> ValidationResult:
    """Check ontology files against the quality gate, each file on its own.

    Every file is parsed before any is validated, so an input error stops the run before it reports anything.

    :param paths: ontology files (Turtle, RDF/XML, N-Triples, JSON-LD… by extension); default: the shipped ontology.
    :param shapes: files of further shapes to check with the quality gate's (users' own rules).
    :param input_format: the RDF syntax of every file, when the extensions do not tell (``turtle``, ``rdfxml``…).
    :param fail_on: the lowest severity that makes the result non-conforming.
    :param engine: ``oxigraph`` (default) hands pyshacl a pyoxigraph store, so its SPARQL runs on Oxigraph (about
        30 times faster on the shipped ontology); ``rdflib`` runs plain pyshacl on an rdflib graph. Both give the
        same findings (tests/test_validate_qc.py compares them).
    :returns: findings sorted by file, severity (worst first), rule and focus node.
    :raises InputError: if a file is missing, has no triples or does not parse (with line and column).
    :raises ShapesError: if pyshacl cannot load or run the shapes.
    """
    import time

    fail_on, engine = Severity(fail_on), Engine(engine)
    started = time.perf_counter()
    files = list(dict.fromkeys(Path(p) for p in paths)) if paths else [ontology_file()]
    parsed = [(path, _read_ontology(path, input_format if paths else None)) for path in files]
    shapes_graph = _shapes_graph()
    for extra in shapes:
        for quad in user_shapes_quads(Path(extra)):
            shapes_graph.add(_to_rdflib_triple(quad))
    if shapes:
        check_shapes_are_shacl(shapes_graph, shapes)
    rules = rules_of(shapes_graph)
    from rdflib import Graph

    combined = Graph()
    _bind_prefixes(combined)
    findings: list[Finding] = []
    for path, quads in parsed:
        shown = display_path(path)
        report = _run_pyshacl(quads, shapes_graph, fail_on=fail_on, engine=engine)
        findings.extend(_findings(report, rules, shown))
        _label_reports(report, path)
        for triple in report:
            combined.add(triple)
    return ValidationResult(
        files=[display_path(p) for p in files], rules=rules, findings=_sorted(findings, files),
        fail_on=fail_on, report=combined, seconds=time.perf_counter() - started)


def rules_of(shapes: rdflib.Graph, statement_ids: Mapping[str, str] | None = None) -> list[Rule]:
    """The named shapes of a shapes graph with their label, severity, source and enforced statements, by name.

    :param statement_ids: the ID to show for each statement a plan rule enforces (``iimplan:enforces``), such as
        ``S31`` for ``iim:statement-S31a``; a statement missing from it shows as its IRI's local part.
    """
    from rdflib import URIRef

    severity = URIRef(SH + "severity")
    enforces = URIRef(ENFORCES)
    rules = []
    for shape in set(shapes.subjects(severity, None)):
        if not isinstance(shape, URIRef):
            continue
        level = shapes.value(shape, severity)
        label = shapes.value(shape, URIRef(_RDFS_LABEL))
        sources = sorted(str(s) for s in shapes.objects(shape, URIRef(_DCTERMS_SOURCE)))
        comment = shapes.value(shape, URIRef(_RDFS_COMMENT))
        statements: list[str] = []
        for statement in sorted(shapes.objects(shape, enforces), key=_statement_order):
            shown = (statement_ids or {}).get(str(statement)) or str(statement).rsplit("statement-", 1)[-1]
            if shown not in statements:
                statements.append(shown)
        name = rule_name(str(shape))
        rules.append(Rule(
            name=name, iri=str(shape), label=str(label) if label is not None else name,
            severity=Severity.from_iri(str(level)), source="; ".join(sources) or None,
            comment=str(comment) if comment is not None else None, statements=tuple(statements)))
    return sorted(rules)


def _statement_order(statement: object) -> tuple[int, str]:
    """Seed statements (S…) before the others (R…), each in the order of their IDs."""
    local = str(statement).rsplit("statement-", 1)[-1]
    return (0 if local.startswith("S") else 1, local)


def rule_name(iri: str) -> str:
    """A shape's short name: its local name in the QC or plan namespace, else the part after the last ``/`` or ``#``."""
    for namespace in (QC_NAMESPACE, PLAN_NAMESPACE):
        if iri.startswith(namespace):
            return iri[len(namespace):]
    return iri.rstrip("/#").rsplit("#", 1)[-1].rsplit("/", 1)[-1] or iri


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies inside it, else as it is."""
    return _display_path(str(path), os.getcwd())


@functools.lru_cache(maxsize=1024)
def _display_path(path: str, cwd: str) -> str:
    """Cached: a report names the same few files once per finding, and resolving a path is a system call."""
    try:
        resolved = Path(path).resolve()
        return os.path.relpath(resolved, cwd) if resolved.is_relative_to(cwd) else path
    except (OSError, ValueError):
        return path


def _read_ontology(path: Path, input_format: str | None) -> Sequence[ox.Quad]:
    quads = ontology_quads(path, input_format=input_format)
    if not quads:
        raise InputError("the file holds no triples; nothing to check", path=path)
    return quads


@functools.cache
def _shapes_quads() -> tuple[ox.Quad, ...]:
    return tuple(parse_rdf_file(qc_shapes_file()))


def _shapes_graph() -> rdflib.Graph:
    """A fresh rdflib graph of the QC shapes (pyshacl reads shapes through rdflib whatever the data engine)."""
    return _to_rdflib_graph(_shapes_quads())


def user_shapes_quads(path: Path) -> list[ox.Quad]:
    """A user's shapes file, parsed.

    :raises InputError: if the file is missing, empty or does not parse (with line and column).
    """
    quads = parse_rdf_file(path)
    if not quads:
        raise InputError("the shapes file holds no triples", path=path)
    return quads


def check_shapes_are_shacl(graph: rdflib.Graph, paths: Sequence[Path]) -> None:
    """Users' shapes must be valid SHACL (pyshacl's SHACL-SHACL), or the run would fail later, less clearly.

    :raises ShapesError: naming the files and quoting the start of pyshacl's report.
    """
    import pyshacl
    from rdflib import Graph

    shacl_shacl = Graph().parse(Path(pyshacl.__file__).parent / "assets" / "shacl-shacl.ttl")
    conforms, _, text = pyshacl.validate(graph, shacl_graph=shacl_shacl)
    if not conforms:
        first = "\n".join(line for line in str(text).splitlines()[:12] if line.strip())
        raise ShapesError(f"the shapes in {', '.join(map(str, paths))} are not valid SHACL:\n{first}")


def _to_rdflib_triple(quad: ox.Quad) -> tuple[Any, Any, Any]:
    from iimkg.core.rdfterms import to_rdflib

    return (to_rdflib(quad.subject), to_rdflib(quad.predicate), to_rdflib(quad.object))


def _to_rdflib_graph(quads: Iterable[ox.Quad]) -> rdflib.Graph:
    from rdflib import Graph

    from iimkg.core.rdfterms import to_rdflib

    graph = Graph()
    graph.addN((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object), graph) for q in quads)
    return graph


def _run_pyshacl(quads: Sequence[ox.Quad], shapes: rdflib.Graph, *, fail_on: Severity, engine: Engine) -> rdflib.Graph:
    """Validate one file's triples (all in the default graph) plus the prefix table; returns the report graph."""
    triples = [ox.Quad(q.subject, q.predicate, q.object) for q in quads] + prefix_table()
    data: Any
    if engine is Engine.OXIGRAPH:
        data = ox.Store()
        data.extend(triples)
    else:
        data = _to_rdflib_graph(triples)
    return pyshacl_report(data, shapes, fail_on=fail_on)


def pyshacl_report(data: Any, shapes: rdflib.Graph, *, fail_on: Severity) -> rdflib.Graph:
    """Plain pyshacl (advanced mode, no inference) over ``data``; the SHACL report graph.

    :raises ShapesError: if pyshacl cannot load or run the shapes.
    """
    try:
        return _pyshacl(data, shapes, fail_on=fail_on)
    except re.error:
        # pyshacl 0.40 fills a SPARQL constraint's message with re.sub, using every value the query binds as a
        # replacement template, so a bound literal with a backslash (a label such as "C:\\Users") raises. Run again
        # without messages and write them here; only {?other} is lost ("another term").
        report = _pyshacl(data, _without_messages(shapes), fail_on=fail_on)
        _add_messages(report, shapes)
        return report


def _pyshacl(data: Any, shapes: rdflib.Graph, *, fail_on: Severity, advanced: bool = True) -> rdflib.Graph:
    import pyshacl
    from pyshacl.errors import ReportableRuntimeError, ShapeLoadError, ValidationFailure
    from rdflib import Graph

    try:
        _, report, _ = pyshacl.validate(
            data, shacl_graph=shapes, advanced=advanced, inference="none", inplace=True,
            allow_warnings=fail_on is Severity.VIOLATION, allow_infos=fail_on is not Severity.INFO)
    except (ReportableRuntimeError, ShapeLoadError, ValidationFailure) as error:
        raise ShapesError(f"pyshacl could not run the shapes: {error}") from None
    if isinstance(report, ValidationFailure):  # pyshacl returns, rather than raises, some shape errors
        raise ShapesError(f"pyshacl could not run the shapes: {report}")
    if not isinstance(report, Graph):  # pragma: no cover - pyshacl returns a graph unless asked for text
        raise ShapesError("pyshacl returned no report graph")
    return report


def _without_messages(shapes: rdflib.Graph) -> rdflib.Graph:
    from rdflib import Graph, URIRef

    bare = Graph()
    message = URIRef(SH + "message")
    for triple in shapes:
        if triple[1] != message:
            bare.add(triple)
    return bare


def _add_messages(report: rdflib.Graph, shapes: rdflib.Graph) -> None:
    """Give each result the message of its constraint (or shape), with $this, ?value and ?path filled in."""
    from rdflib import Literal, URIRef

    def sh(name: str) -> URIRef:
        return URIRef(SH + name)

    for result in list(report.subjects(URIRef(_RDF_TYPE), sh("ValidationResult"))):
        holders = [report.value(result, sh("sourceConstraint")), report.value(result, sh("sourceShape"))]
        templates = next((list(shapes.objects(h, sh("message"))) for h in holders
                          if h is not None and (h, sh("message"), None) in shapes), [])
        filled = {name: report.value(result, sh(key)) for name, key in
                  (("this", "focusNode"), ("value", "value"), ("path", "resultPath"))}
        for template in templates:
            text = re.sub(r"\{[?$](\w+)\}", functools.partial(_fill, filled), str(template))
            lang = template.language if isinstance(template, Literal) else None
            report.add((result, sh("resultMessage"), Literal(text, lang=lang)))


def _fill(values: Mapping[str, object], match: re.Match[str]) -> str:
    value = values.get(match.group(1))
    return _term_text(value) if value is not None else "another term"


def _findings(report: rdflib.Graph, rules: Sequence[Rule], file: str) -> Iterator[Finding]:
    from rdflib import Literal, URIRef

    by_iri = {rule.iri: rule for rule in rules}
    result_type, rdf_type = URIRef(SH + "ValidationResult"), URIRef(_RDF_TYPE)
    for result in report.subjects(rdf_type, result_type):
        shape = report.value(result, URIRef(SH + "sourceShape"))
        focus = report.value(result, URIRef(SH + "focusNode"))
        level = report.value(result, URIRef(SH + "resultSeverity"))
        value = report.value(result, URIRef(SH + "value"))
        path = report.value(result, URIRef(SH + "resultPath"))
        messages = sorted(report.objects(result, URIRef(SH + "resultMessage")),
                          key=lambda m: (not (isinstance(m, Literal) and m.language in (None, "en")), str(m)))
        rule = by_iri.get(str(shape))
        yield Finding(
            severity=Severity.from_iri(str(level)),
            rule=rule.name if rule else rule_name(str(shape)),
            message=str(messages[0]) if messages else (rule.label if rule else "shape not satisfied"),
            focus=_term_text(focus),
            file=file,
            source=rule.source if rule else None,
            value=_term_text(value) if value is not None and value != focus else None,
            path=_term_text(path) if path is not None and isinstance(path, URIRef) else None,
        )


def _term_text(term: object) -> str:
    from rdflib import BNode

    if isinstance(term, BNode):
        return f"_:{term}"
    return str(term)


def _sorted(findings: list[Finding], files: Sequence[Path]) -> list[Finding]:
    order = {display_path(p): i for i, p in enumerate(files)}
    return sorted(findings, key=lambda f: (order.get(f.file, len(order)), *f.sort_key()))


def _label_reports(report: rdflib.Graph, path: Path) -> None:
    """Say which file each ``sh:ValidationReport`` is about (``dcterms:source``), so merged reports stay apart."""
    from rdflib import URIRef

    for node in list(report.subjects(URIRef(_RDF_TYPE), URIRef(SH + "ValidationReport"))):
        report.add((node, URIRef(_DCTERMS_SOURCE), URIRef(path.resolve().as_uri())))


def _bind_prefixes(graph: rdflib.Graph) -> None:
    for prefix, namespace in {
        "sh": SH, "iim": "https://w3id.org/iimkg/", "iimqc": QC_NAMESPACE, "dcterms": "http://purl.org/dc/terms/",
        "rdfs": "http://www.w3.org/2000/01/rdf-schema#", "owl": "http://www.w3.org/2002/07/owl#",
        "obo": "http://purl.obolibrary.org/obo/", "oboInOwl": "http://www.geneontology.org/formats/oboInOwl#",
    }.items():
        graph.bind(prefix, namespace)

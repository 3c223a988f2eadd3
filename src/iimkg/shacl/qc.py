"""The ontology quality gate: ``shapes/ontology-qc.ttl`` (ROBOT's report checks and ours) run with pyshacl."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from iimkg.core.errors import InputError
from iimkg.core.kinds import Engine
from iimkg.core.prefixes import prefixes
from iimkg.core.rdfterms import QuotedTripleError
from iimkg.core.resources import ontology_file, shapes_dir
from iimkg.core.vocab import DCTERMS, IIM, IIMQC, OWL, RDF_TYPE, SH, STANDARD_PREFIXES
from iimkg.graph.loading import ontology_quads, parse_rdf_file
from iimkg.shacl.findings import Finding, Severity, ValidationResult, display_path, rules_of
from iimkg.shacl.pyshacl_run import (
    check_shapes_are_shacl,
    pyshacl_report,
    report_findings,
    to_rdflib_graph,
    user_shapes_quads,
)

if TYPE_CHECKING:
    import rdflib

__all__ = ["prefix_table", "qc_shapes_file", "validate_ontology"]


def qc_shapes_file() -> Path:
    """The shipped quality-gate shapes."""
    return shapes_dir() / "ontology-qc.ttl"


def prefix_table() -> list[ox.Quad]:
    """Triples that give the QC shapes each prefix's local-ID pattern, read from ``ontology/prefixes.tsv``.

    One blank node per prefix: ``[] iimqc:prefix "MONDO" ; iimqc:localIdPattern "^[0-9]{7}$"``. They are added to
    the data graph when it is validated, so the shapes never carry a copy of the table.
    """
    prefix, pattern = ox.NamedNode(IIMQC + "prefix"), ox.NamedNode(IIMQC + "localIdPattern")
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
    :raises InputError: if a file is missing, has no triples or does not parse (with line and column), or holds no
        ontology (no ``owl:Ontology`` header nor class of our namespace, or no term of our namespace to check).
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
        try:
            report = _run_pyshacl(quads, shapes_graph, fail_on=fail_on, engine=engine)
        except QuotedTripleError as error:
            raise error.in_file(path) from None
        findings.extend(report_findings(report, rules, shown))
        _label_reports(report, path)
        for triple in report:
            combined.add(triple)
    return ValidationResult(
        files=[display_path(p) for p in files], rules=rules, findings=_sorted(findings, files),
        fail_on=fail_on, report=combined, seconds=time.perf_counter() - started)


def _read_ontology(path: Path, input_format: str | None) -> Sequence[ox.Quad]:
    quads = ontology_quads(path, input_format=input_format)
    if not quads:
        raise InputError("the file holds no triples; nothing to check", path=path)
    _check_holds_an_ontology(quads, path)
    return quads


_OWL_ONTOLOGY, _OWL_CLASS = ox.NamedNode(OWL + "Ontology"), ox.NamedNode(OWL + "Class")
_TYPE = ox.NamedNode(RDF_TYPE)


def _check_holds_an_ontology(quads: Sequence[ox.Quad], path: Path) -> None:
    """Refuse a file the gate would pass without checking anything: one that is no ontology (neither an
    ``owl:Ontology`` header nor a class of our namespace: a plan, a SKOS scheme, a data file), or one none of whose
    subjects is in our namespace (every rule targets ``iimqc:OwnEntity``, our namespace's IRIs that are subjects).
    A fragment with our classes and no header (a test case, an extension module) is checked.

    :raises InputError: one line saying what is missing.
    """
    header = own_class = own = False
    for quad in quads:
        subject = quad.subject
        ours = isinstance(subject, ox.NamedNode) and subject.value.startswith(IIM)
        own = own or ours
        if quad.predicate == _TYPE:
            header = header or quad.object == _OWL_ONTOLOGY
            own_class = own_class or (ours and quad.object == _OWL_CLASS)
    if not header and not own_class:
        raise InputError(f"the file holds no ontology to check: no owl:Ontology header and no owl:Class of the "
                         f"iimkg namespace <{IIM}>", path=path)
    if not own:
        raise InputError(f"the file holds no ontology to check: no term of the iimkg namespace <{IIM}>, the only "
                         "terms the quality gate checks", path=path)


@functools.cache
def _shapes_quads() -> tuple[ox.Quad, ...]:
    return tuple(parse_rdf_file(qc_shapes_file()))


def _shapes_graph() -> rdflib.Graph:
    """A fresh rdflib graph of the QC shapes (pyshacl reads shapes through rdflib whatever the data engine)."""
    return to_rdflib_graph(_shapes_quads())


def _to_rdflib_triple(quad: ox.Quad) -> tuple[Any, Any, Any]:
    from iimkg.core.rdfterms import to_rdflib

    return (to_rdflib(quad.subject), to_rdflib(quad.predicate), to_rdflib(quad.object))


def _run_pyshacl(quads: Sequence[ox.Quad], shapes: rdflib.Graph, *, fail_on: Severity, engine: Engine) -> rdflib.Graph:
    """Validate one file's triples (all in the default graph) plus the prefix table; returns the report graph."""
    triples = [ox.Quad(q.subject, q.predicate, q.object) for q in quads] + prefix_table()
    data: Any
    if engine is Engine.OXIGRAPH:
        data = ox.Store()
        data.extend(triples)
    else:
        data = to_rdflib_graph(triples)
    return pyshacl_report(data, shapes, fail_on=fail_on)


def _sorted(findings: list[Finding], files: Sequence[Path]) -> list[Finding]:
    order = {display_path(p): i for i, p in enumerate(files)}
    return sorted(findings, key=lambda f: (order.get(f.file, len(order)), *f.sort_key()))


def _label_reports(report: rdflib.Graph, path: Path) -> None:
    """Say which file each ``sh:ValidationReport`` is about (``dcterms:source``), so merged reports stay apart."""
    from rdflib import URIRef

    for node in list(report.subjects(URIRef(RDF_TYPE), URIRef(SH + "ValidationReport"))):
        report.add((node, URIRef(DCTERMS + "source"), URIRef(path.resolve().as_uri())))


def _bind_prefixes(graph: rdflib.Graph) -> None:
    for prefix, namespace in STANDARD_PREFIXES.items():
        graph.bind(prefix, namespace)

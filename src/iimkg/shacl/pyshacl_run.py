"""pyshacl as the reference SHACL engine: run it, work around its message filling, read its report into findings.

The quality gate runs it for every check; plan validation runs it as ``--engine rdflib``, the reference the compiled
engine (:mod:`iimkg.shacl.fast`) is held to.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from iimkg.core.errors import InputError, QuerySyntaxError, ShapesError
from iimkg.core.rdfterms import QuotedTripleError, first_quoted_triple
from iimkg.core.sparql_guard import network_refusal
from iimkg.core.vocab import RDF_TYPE, SH
from iimkg.graph.loading import parse_rdf_file
from iimkg.shacl.findings import Finding, Rule, Severity, rule_name

if TYPE_CHECKING:
    import rdflib

__all__ = ["check_shapes_are_shacl", "pyshacl_report", "report_findings", "to_rdflib_graph", "user_shapes_quads"]


# The SHACL (and SHACL-AF) properties whose value is a SPARQL query that an engine runs.
_QUERY_PROPERTIES = {SH + "select", SH + "ask", SH + "construct"}


def user_shapes_quads(path: Path) -> list[ox.Quad]:
    """A user's shapes file, parsed, and each SPARQL query in it checked, before any engine runs one, to reach
    no other host: both engines run ``SERVICE <http://…>`` by calling that host, and rdflib loads a
    ``FROM <http://…>`` graph; a shape's query reads the plans and the graph only.

    :raises InputError: if the file is missing, empty or does not parse (with line and column), holds an RDF-star
        quoted triple (which the rdflib graph of the shapes can't hold), or a query of it would reach the network,
        nests or chains too deep or (mentioning SERVICE or FROM) does not parse: naming the shape and the property,
        and the place in the file when the query is written there as it reads.
    """
    quads = parse_rdf_file(path)
    if not quads:
        raise InputError("the shapes file holds no triples", path=path)
    quoted = first_quoted_triple(quads)
    if quoted is not None:
        raise QuotedTripleError.of_quad(quoted, reader="the shapes reader").in_file(path)
    owners = {q.object: q.subject for q in quads if isinstance(q.object, ox.BlankNode)}
    for quad in quads:
        if quad.predicate.value in _QUERY_PROPERTIES and isinstance(quad.object, ox.Literal):
            what = f"the sh:{quad.predicate.value.removeprefix(SH)} query of {_named_owner(quad.subject, owners)}"
            try:
                refusal = network_refusal(quad.object.value, remote_from=True)
            except QuerySyntaxError as error:  # too deep or too long a chain, or malformed: the place in the file
                line, column = _place_in_file(path, quad.object.value, error.line, error.column)
                raise InputError(f"{what}: {error.detail}", path=path, line=line, column=column) from None
            if refusal is not None:
                raise InputError(f"{what}: {refusal}", path=path)
    return quads


def _place_in_file(path: Path, query: str, line: int | None, column: int | None) -> tuple[int | None, int | None]:
    """The line and column in the shapes file of a place (line, column) of one of its queries: found where the
    query is written as it reads (a long string without escapes, the usual way), else the place in the query is
    lost rather than misplaced (None, None)."""
    if line is None:
        return None, None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError):
        return None, None
    start = text.find(query)
    if start < 0 or text.find(query, start + 1) >= 0:
        return None, None
    before = text[:start]
    file_line = before.count("\n") + line
    if line == 1:
        return file_line, start - (before.rfind("\n") + 1) + (column or 1)
    return file_line, column


def _named_owner(node: ox.NamedNode | ox.BlankNode | ox.Triple, owners: Mapping[Any, Any]) -> str:
    """The shape a query belongs to, for a message: the node itself if named, else the first named node up the
    chain of blank nodes that hold it (``ex:shape sh:sparql [ sh:select … ]``)."""
    seen: set[Any] = set()
    while isinstance(node, ox.BlankNode) and node in owners and node not in seen:
        seen.add(node)
        node = owners[node]
    return str(node) if isinstance(node, ox.NamedNode) else "a shape"


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


def to_rdflib_graph(quads: Iterable[ox.Quad]) -> rdflib.Graph:
    from rdflib import Graph

    from iimkg.core.rdfterms import to_rdflib

    graph = Graph()
    graph.addN((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object), graph) for q in quads)
    return graph


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

    for result in list(report.subjects(URIRef(RDF_TYPE), sh("ValidationResult"))):
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


def report_findings(report: rdflib.Graph, rules: Sequence[Rule], file: str) -> Iterator[Finding]:
    from rdflib import Literal, URIRef

    by_iri = {rule.iri: rule for rule in rules}
    result_type, rdf_type = URIRef(SH + "ValidationResult"), URIRef(RDF_TYPE)
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

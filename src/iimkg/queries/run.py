"""Run the named queries (and any SPARQL) on either engine, with parameters bound as RDF terms, never pasted.

The queries' files and their headers are read by :mod:`iimkg.queries.named`; this module resolves what a user
types for a parameter to the term it names, binds it (pyoxigraph ``substitutions``, rdflib ``initBindings``) and
returns rows that are the same on both engines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from typing import TYPE_CHECKING

import pyoxigraph as ox

from iimkg.core.errors import MissingParameterError, QuerySyntaxError
from iimkg.core.kinds import Engine
from iimkg.core.rdfterms import Term, from_oxigraph, from_rdflib, to_oxigraph
from iimkg.graph.loading import shared_store
from iimkg.graph.terms import TermIndex
from iimkg.queries.named import NamedQuery, Parameter, list_queries, named_query
from iimkg.queries.result import QueryResult, Row

if TYPE_CHECKING:
    import rdflib

    from iimkg.queries.remote import Endpoint

__all__ = ["Engine", "NamedQuery", "Parameter", "QueryResult", "Row", "bind_parameters", "list_queries", "named_query",
           "query", "run_sparql"]

_POSITION = re.compile(r"(?:error at |line )(\d+)[:, ](?:column )?(\d+)")
# The prologue (comments, PREFIX and BASE declarations) and the SELECT keyword with its modifier, from the start.
_SELECT = re.compile(r"\A(?:\s+|#[^\n]*(?:\n|\Z)|PREFIX\s+[^\s<]*\s*<[^>]*>|BASE\s*<[^>]*>)*"
                     r"SELECT\s+(?:(?:DISTINCT|REDUCED)\s+)?", re.IGNORECASE)
_PROJECTION_END = re.compile(r"\bWHERE\b|\{", re.IGNORECASE)


@cache
def term_index() -> TermIndex:
    """The index of names and codes of the shipped graph, built once per process."""
    return TermIndex.from_store(shared_store())


@cache
def _rdflib_graph() -> rdflib.Graph:
    from iimkg.graph.loading import load

    return load()


def query(name: str, *, engine: Engine | str | None = None, labels: bool = True, endpoint: str | Endpoint | None = None,
          **parameters: str | None) -> QueryResult:
    """Run a named query on the shipped graph; parameter values are resolved to terms and bound, never pasted.

    >>> rows = query("adverse-effects", drug="prednisone")
    >>> "hypertension" in rows.values("effectLabel")
    True

    :param name: the query file's stem, e.g. ``"adverse-effects"``.
    :param engine: ``oxigraph`` (default, also for None) or ``rdflib``; both give the same rows.
    :param labels: add a ``…Label`` column after each IRI column.
    :param endpoint: the URL of a SPARQL 1.1 Protocol endpoint that holds the iimkg release (an Oxigraph server,
        Virtuoso, QLever…) to run the query there instead, or an :class:`~iimkg.queries.remote.Endpoint` (its URL
        and timeout, 30 s by default); values are resolved here, as for a local run, and the rows are the same.
        ``engine`` is then not used.
    :param parameters: values for the parameters the query's header declares: a label or synonym in any
        language we carry, our CURIE or IRI, or an external CURIE such as ``MONDO:0016367``.
    :returns: the rows in the query's order.
    :raises UnknownQueryError: if no query has that name.
    :raises UnknownTermError: if a value names no term (with the closest matches).
    :raises AmbiguousTermError: if a value names several terms (with their IDs).
    :raises MissingParameterError: if a required parameter is missing or an unknown one is given.
    :raises EndpointError: if ``endpoint`` can't be reached or does not answer with SPARQL results.
    """
    named = named_query(name)
    index = term_index()
    bindings = bind_parameters(named, parameters, index)
    if endpoint is not None:
        from iimkg.queries.remote import Endpoint, run_remote

        where = endpoint if isinstance(endpoint, Endpoint) else Endpoint(endpoint)
        result = run_remote(named.text, where.url, bindings=bindings, timeout=where.timeout)
    else:
        result = run_sparql(named.text, bindings=bindings, engine=Engine(engine or Engine.OXIGRAPH))
    return with_labels(result, index) if labels else result


def bind_parameters(named: NamedQuery, values: Mapping[str, str | None], index: TermIndex, *,
                    name_format: str = "--{}", missing_format: str = "--{}") -> dict[str, Term]:
    """Each parameter's value resolved to the term it names, as the query's header declares it (kind, optional).

    The CLI and the endpoint bind the same way and differ only in how their users write a parameter, which the
    messages repeat: ``name_format`` where a value is named (``--drug 'x' matches no term``; the endpoint: ``drug``)
    and ``missing_format`` where one is missing (``needs --drug``; the endpoint: ``needs ?drug=…``).

    :raises MissingParameterError: if a required parameter is missing or an unknown one is given.
    :raises UnknownTermError: if a value names no term (with the closest matches).
    :raises AmbiguousTermError: if a value names several terms (with their IDs).
    """
    declared = {p.name: p for p in named.parameters}
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise MissingParameterError(
            f"query {named.name!r} has no parameter {', '.join(unknown)}; it takes: "
            + (", ".join(declared) or "no parameters"))
    bindings: dict[str, Term] = {}
    for parameter in named.parameters:
        value = values.get(parameter.name)
        if not value:
            if not parameter.optional:
                raise MissingParameterError(
                    f"query {named.name!r} needs {missing_format.format(parameter.name)}: {parameter.description}")
            continue
        iri = index.resolve(value, parameter=name_format.format(parameter.name), kind=parameter.kind)
        bindings[parameter.name] = Term("uri", iri)
    return bindings


def run_sparql(text: str, *, bindings: Mapping[str, Term] | None = None, engine: Engine = Engine.OXIGRAPH,
               store: ox.Store | None = None, graph: rdflib.Graph | None = None) -> QueryResult:
    """Run SPARQL text on the shipped graph (or the given store/graph) with variables bound as RDF terms.

    The engines' own binding is used: pyoxigraph's ``substitutions`` and rdflib's ``initBindings`` set each
    variable to its term before the pattern is evaluated, so a value is an RDF term and can never change the
    query's structure, and both engines give the same rows. A bound variable that the query does not select
    gets no column (see :func:`_projecting`).

    :raises QuerySyntaxError: if the text does not parse (line and column of the query text).
    """
    if engine is Engine.OXIGRAPH:
        return _run_oxigraph(text, dict(bindings or {}), store if store is not None else shared_store())
    return _run_rdflib(text, dict(bindings or {}), graph if graph is not None else _rdflib_graph())


def _run_oxigraph(text: str, bindings: dict[str, Term], store: ox.Store) -> QueryResult:
    substitutions: dict[ox.Variable, ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple] = {
        ox.Variable(name): to_oxigraph(term) for name, term in bindings.items()}
    text, added = _projecting(text, bindings) if bindings else (text, ())
    try:
        solutions = store.query(text, substitutions=substitutions)
    except SyntaxError as error:
        found = _syntax_error(str(error))
        if added:
            raise QuerySyntaxError(
                f"{found.detail} (the query selects {', '.join('?' + n for n in added)} to bind it: a query that "
                "aggregates must GROUP BY its parameters)", path=found.path, line=found.line,
                column=found.column) from None
        raise found from None
    if isinstance(solutions, ox.QueryBoolean):
        return QueryResult([], [], bool(solutions))
    if isinstance(solutions, ox.QueryTriples):
        rows = [Row({"subject": from_oxigraph(t.subject), "predicate": from_oxigraph(t.predicate),
                     "object": from_oxigraph(t.object)}) for t in solutions]
        return QueryResult(["subject", "predicate", "object"], rows, graph=True)
    columns = [v.value for v in solutions.variables if v.value not in added]
    rows = []
    for solution in solutions:
        values: dict[str, Term | None] = {}
        for column in columns:
            value = solution[column]
            values[column] = from_oxigraph(value) if value is not None else None
        rows.append(Row(values))
    return QueryResult(columns, rows)


def _projecting(text: str, names: Iterable[str]) -> tuple[str, tuple[str, ...]]:
    """The query with each of ``names`` added to its ``SELECT`` projection, and the names that were added.

    pyoxigraph substitutes only variables the query selects (SEP-0007 binds them as the correlated input of
    the whole query); a named query selects its answers, not its parameters. Selecting a variable bound to one
    term adds no row (it is the same in every row), and the column is dropped again from the result. Only the
    projection of a plain ``SELECT`` after the prologue is touched; a query that selects ``*``, or already selects
    the variable, is left as it is. A query that aggregates must therefore group by its parameters.
    """
    found = _SELECT.match(text)
    if found is None:
        return text, ()
    projection = _PROJECTION_END.split(text[found.end():], maxsplit=1)[0]
    if projection.lstrip().startswith("*"):
        return text, ()
    added = tuple(n for n in names if not re.search(rf"[?$]{re.escape(n)}(?!\w)", projection))
    if not added:
        return text, ()
    return text[:found.end()] + "".join(f"?{n} " for n in added) + text[found.end():], added


def _run_rdflib(text: str, bindings: dict[str, Term], graph: rdflib.Graph) -> QueryResult:
    from pyparsing import ParseException

    from iimkg.core.rdfterms import to_rdflib_term

    try:
        result = graph.query(text, initBindings={k: to_rdflib_term(v) for k, v in bindings.items()})
    except ParseException as error:
        raise QuerySyntaxError(error.msg, path="<query>", line=error.lineno, column=error.col) from None
    if result.type == "ASK":
        return QueryResult([], [], bool(result.askAnswer))
    if result.type in {"CONSTRUCT", "DESCRIBE"}:
        rows = [Row({"subject": from_rdflib(s), "predicate": from_rdflib(p), "object": from_rdflib(o)})
                for s, p, o in result.graph or []]
        return QueryResult(["subject", "predicate", "object"], rows, graph=True)
    columns = [str(v) for v in result.vars or []]
    rows = []
    for record in result:
        values: dict[str, Term | None] = {}
        for column in columns:
            value = record[column]  # type: ignore[index,call-overload]
            values[column] = from_rdflib(value) if value is not None else None
        rows.append(Row(values))
    return QueryResult(columns, rows)


def _syntax_error(message: str) -> QuerySyntaxError:
    """pyoxigraph says "error at 3:14: expected …"; keep the place apart so the CLI can print ``file:3:14:``.

    The detail is made one line a person can read: pyoxigraph lists every character class it would have accepted
    (several lines of Unicode ranges), and an undeclared prefix is said as such.
    """
    position = _POSITION.search(message)
    detail = (message[position.end():].lstrip(": ") if position else "") or message
    detail = _readable(detail)
    if position:
        return QuerySyntaxError(detail, path="<query>", line=int(position.group(1)), column=int(position.group(2)))
    return QuerySyntaxError(detail, path="<query>")


_CHARACTER_CLASS = re.compile(r",?\s*\['[^\]]*\]")


def _readable(detail: str) -> str:
    """One line: an undeclared prefix named as such, character-class lists of the parser dropped."""
    if "Prefix not found" in detail:
        return "a prefixed name uses a prefix the query does not declare; add PREFIX name: <IRI> before the query"
    detail = " ".join(_CHARACTER_CLASS.sub("", detail).split())
    return detail.rstrip(", ") or "the query does not parse"


def with_labels(result: QueryResult, index: TermIndex) -> QueryResult:
    """Add an English ``…Label`` column right after each column that holds IRIs (unless it is selected already);
    a graph is left as it is (its rows are triples)."""
    if result.graph:
        return result
    iri_columns = [c for c in result.columns
                   if any(r[c] is not None and r[c].kind == "uri" for r in result.rows)  # type: ignore[union-attr]
                   and f"{c}Label" not in result.columns]
    if not iri_columns:
        return result
    columns: list[str] = []
    for column in result.columns:
        columns.append(column)
        if column in iri_columns:
            columns.append(f"{column}Label")
    rows = []
    for row in result.rows:
        values: dict[str, Term | None] = {}
        for column in result.columns:
            values[column] = row[column]
            if column in iri_columns:
                term = row[column]
                label = index.label(term.value) if term is not None and term.kind == "uri" else None
                values[f"{column}Label"] = Term("literal", label, None, "en") if label else None
        rows.append(Row(values))
    return QueryResult(columns, rows, result.boolean, result.graph)

"""Named competency queries: read their headers, bind parameters as RDF terms, run them on either engine."""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from iimkg.core.errors import IimkgError, MissingParameterError, QuerySyntaxError, UnknownQueryError
from iimkg.core.rdfterms import Term, from_oxigraph, from_rdflib
from iimkg.core.resources import queries_dir
from iimkg.graph.loading import shared_store
from iimkg.graph.terms import IIM, TermIndex

if TYPE_CHECKING:
    import rdflib

__all__ = ["Engine", "NamedQuery", "Parameter", "QueryResult", "Row", "bind_parameters", "list_queries", "named_query",
           "query", "run_sparql"]

_HEADER_FIELD = re.compile(r"^#\s*(name|question|description|returns|answers)\s*:\s*(.*)$")
_HEADER_PARAM = re.compile(r"^#\s*param\s+\??([A-Za-z_]\w*)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_CONTINUATION = re.compile(r"^#\s{2,}(\S.*)$")
_POSITION = re.compile(r"(?:error at |line )(\d+)[:, ](?:column )?(\d+)")


class Engine(str, enum.Enum):
    """SPARQL engines that run the named queries; both give the same rows."""

    OXIGRAPH = "oxigraph"
    RDFLIB = "rdflib"


@dataclass(frozen=True)
class Parameter:
    name: str
    description: str
    kind: str | None = None
    optional: bool = False


@dataclass(frozen=True)
class NamedQuery:
    """One ``queries/NAME.rq`` file and what its header says about it."""

    name: str
    question: str
    description: str
    parameters: tuple[Parameter, ...]
    returns: str
    answers: str
    text: str
    path: Path


class Row(Mapping[str, Term | None]):
    """One result row: a mapping from column to :class:`Term` (None when unbound), also by attribute."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, Term | None]) -> None:
        self._values = values

    def __getitem__(self, key: str) -> Term | None:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Term | None:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return "Row(" + ", ".join(f"{k}={v.value if v else None!r}" for k, v in self._values.items()) + ")"


@dataclass
class QueryResult(Sequence[Row]):
    """Rows in the query's ``ORDER BY`` order; ``columns`` as selected, plus a ``…Label`` column per IRI column."""

    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    boolean: bool | None = None

    def __getitem__(self, index: Any) -> Any:
        return self.rows[index]

    def __len__(self) -> int:
        return len(self.rows)

    def values(self, column: str) -> list[str | None]:
        """The lexical values of one column, in row order."""
        return [row[column].value if row[column] is not None else None for row in self.rows]  # type: ignore[union-attr]


def _parse_header(path: Path) -> NamedQuery:
    text = path.read_text(encoding="utf-8")
    fields: dict[str, str] = {}
    params: list[Parameter] = []
    last: str | None = None
    for line in text.splitlines():
        if not line.startswith("#"):
            if line.strip():
                break
            continue
        if m := _HEADER_PARAM.match(line):
            flags = [f.strip() for f in (m.group(2) or "").split(",") if f.strip()]
            kind = next((f for f in flags if ":" in f), None)
            params.append(Parameter(m.group(1), m.group(3).strip(),
                                    IIM + kind.split(":", 1)[1] if kind and kind.startswith("iim:") else kind,
                                    "optional" in flags))
            last = "param"
        elif m := _HEADER_FIELD.match(line):
            fields[m.group(1)] = m.group(2).strip()
            last = m.group(1)
        elif (m := _CONTINUATION.match(line)) and last:
            if last == "param":
                p = params[-1]
                params[-1] = Parameter(p.name, f"{p.description} {m.group(1)}", p.kind, p.optional)
            else:
                fields[last] = f"{fields[last]} {m.group(1)}"
    if fields.get("name") != path.stem:
        raise IimkgError(f"{path}: the header's '# name:' must be {path.stem!r}")
    return NamedQuery(path.stem, fields.get("question", ""), fields.get("description", ""), tuple(params),
                      fields.get("returns", ""), fields.get("answers", ""), text, path)


@cache
def _queries() -> dict[str, NamedQuery]:
    return {q.name: q for q in (_parse_header(p) for p in sorted(queries_dir().glob("*.rq")))}


def list_queries() -> list[NamedQuery]:
    """The named queries, by name."""
    return list(_queries().values())


def named_query(name: str) -> NamedQuery:
    """The named query ``name``.

    :raises UnknownQueryError: if there is none (the message lists the closest names).
    """
    found = _queries().get(name)
    if found is None:
        raise UnknownQueryError(name, difflib.get_close_matches(name, list(_queries()), n=3, cutoff=0.5))
    return found


@cache
def term_index() -> TermIndex:
    """The index of names and codes of the shipped graph, built once per process."""
    return TermIndex.from_store(shared_store())


@cache
def _rdflib_graph() -> rdflib.Graph:
    from iimkg.graph.loading import load

    return load()


def query(name: str, *, engine: Engine | str = Engine.OXIGRAPH, labels: bool = True,
          **parameters: str | None) -> QueryResult:
    """Run a named query on the shipped graph; parameter values are resolved to terms and bound, never pasted.

    >>> rows = query("adverse-effects", drug="prednisone")
    >>> "hypertension" in rows.values("effectLabel")
    True

    :param name: the query file's stem, e.g. ``"adverse-effects"``.
    :param engine: ``oxigraph`` (default) or ``rdflib``; both give the same rows.
    :param labels: add a ``…Label`` column after each IRI column.
    :param parameters: values for the parameters the query's header declares: a label or synonym in any
        language we carry, our CURIE or IRI, or an external CURIE such as ``MONDO:0016367``.
    :returns: the rows in the query's order.
    :raises UnknownQueryError: if no query has that name.
    :raises UnknownTermError: if a value names no term (with the closest matches).
    :raises AmbiguousTermError: if a value names several terms (with their IDs).
    :raises MissingParameterError: if a required parameter is missing or an unknown one is given.
    """
    named = named_query(name)
    index = term_index()
    bindings = bind_parameters(named, parameters, index)
    result = run_sparql(named.text, bindings=bindings, engine=Engine(engine))
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

    On pyoxigraph, bindings become a trailing ``VALUES`` block of serialised RDF terms (pyoxigraph checks
    and escapes them; its optimiser pushes them into the pattern). rdflib joins a trailing ``VALUES`` only
    after evaluating the whole pattern (minutes instead of milliseconds), so there they are passed as
    ``initBindings``. Either way a value is an RDF term and can never change the query's structure.

    :raises QuerySyntaxError: if the text does not parse (line and column of the query text).
    """
    if engine is Engine.OXIGRAPH:
        text = text + values_clause(bindings) if bindings else text
        return _run_oxigraph(text, store if store is not None else shared_store())
    return _run_rdflib(text, dict(bindings or {}), graph if graph is not None else _rdflib_graph())


def values_clause(bindings: Mapping[str, Term]) -> str:
    """``VALUES (?a ?b) { (<x> "y") }`` for one row of bindings."""
    from iimkg.core.rdfterms import to_oxigraph

    names = " ".join(f"?{ox.Variable(name).value}" for name in bindings)
    values = " ".join(str(to_oxigraph(term)) for term in bindings.values())
    return f"\nVALUES ({names}) {{ ({values}) }}\n"


def _run_oxigraph(text: str, store: ox.Store) -> QueryResult:
    try:
        solutions = store.query(text)
    except SyntaxError as error:
        raise _syntax_error(str(error)) from None
    if isinstance(solutions, ox.QueryBoolean):
        return QueryResult([], [], bool(solutions))
    if isinstance(solutions, ox.QueryTriples):
        rows = [Row({"subject": from_oxigraph(t.subject), "predicate": from_oxigraph(t.predicate),
                     "object": from_oxigraph(t.object)}) for t in solutions]
        return QueryResult(["subject", "predicate", "object"], rows)
    columns = [v.value for v in solutions.variables]
    rows = []
    for solution in solutions:
        values: dict[str, Term | None] = {}
        for column in columns:
            value = solution[column]
            values[column] = from_oxigraph(value) if value is not None else None
        rows.append(Row(values))
    return QueryResult(columns, rows)


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
        return QueryResult(["subject", "predicate", "object"], rows)
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
    """pyoxigraph says "error at 3:14: expected …"; keep the place apart so the CLI can print ``file:3:14:``."""
    position = _POSITION.search(message)
    if position:
        detail = message[position.end():].lstrip(": ") or message
        return QuerySyntaxError(detail, path="<query>", line=int(position.group(1)), column=int(position.group(2)))
    return QuerySyntaxError(message, path="<query>")


def with_labels(result: QueryResult, index: TermIndex) -> QueryResult:
    """Add an English ``…Label`` column right after each column that holds IRIs (unless it is selected already)."""
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
    return QueryResult(columns, rows, result.boolean)

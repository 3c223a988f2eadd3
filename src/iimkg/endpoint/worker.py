"""A query worker: a process that holds the served dataset in pyoxigraph and runs one job at a time.

Queries run here, not in the HTTP process, because a pyoxigraph query cannot be interrupted from Python:
the pool (:mod:`iimkg.endpoint.pool`) waits for the answer up to the timeout, then kills this process and
starts another. What a client sends can therefore take at most one worker down, never the server. At start a
worker also:

- cuts itself off from the network (a new network namespace, where the kernel allows it), so that no query
  can reach another host even if the ``SERVICE`` guard missed one;
- caps its address space (``RLIMIT_AS``), so that a query that builds a huge intermediate result ends this
  process instead of exhausting the machine;
- asks the kernel to kill it when the HTTP process dies.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import IO, TYPE_CHECKING, Any, Literal, cast

import pyoxigraph as ox

from iimkg.core.errors import QuerySyntaxError
from iimkg.core.rdfterms import Term, from_oxigraph
from iimkg.core.sparql_guard import keywords, network_refusal, parse_tree, update_syntax_error, uses_keyword
from iimkg.endpoint.jobs import (
    BAD_REQUEST,
    NOT_ACCEPTABLE,
    NOT_FOUND,
    REFUSED,
    Dataset,
    Failure,
    NamedJob,
    Ok,
    PageJob,
    QueryJob,
    Ready,
    Reply,
    Table,
    UpdateJob,
    WorkerSetup,
)
from iimkg.endpoint.protocol import CHARSET_FORMATS, ResultFormat, choose
from iimkg.queries.output import OutputFormat, graph_prefixes

if TYPE_CHECKING:
    from iimkg.graph.terms import TermIndex

__all__ = ["State", "main", "run_job"]

_RESULTS = {
    ResultFormat.JSON: ox.QueryResultsFormat.JSON,
    ResultFormat.XML: ox.QueryResultsFormat.XML,
    ResultFormat.CSV: ox.QueryResultsFormat.CSV,
    ResultFormat.TSV: ox.QueryResultsFormat.TSV,
}
_GRAPHS = {
    ResultFormat.TURTLE: ox.RdfFormat.TURTLE,
    ResultFormat.NTRIPLES: ox.RdfFormat.N_TRIPLES,
    ResultFormat.RDFXML: ox.RdfFormat.RDF_XML,
    ResultFormat.JSONLD: ox.RdfFormat.JSON_LD,
}
# The media type of each output format a named query is answered in (the table is for terminals only).
_NAMED_MEDIA = {OutputFormat.JSON: ResultFormat.JSON, OutputFormat.CSV: ResultFormat.CSV,
                OutputFormat.TSV: ResultFormat.TSV}
_CHARSET = CHARSET_FORMATS
_CLONE_NEWNET, _CLONE_NEWUSER, _PR_SET_PDEATHSIG = 0x40000000, 0x10000000, 1
# How many merged default graphs (datasets of two or more default graphs) a worker keeps for the next query that
# names the same graphs: each is a copy of the triples of the graphs it names.
MERGED_DATASETS = 4


class TooManyResults(Exception):
    """Raised from inside pyoxigraph's serialiser to stop it as soon as the result passes the limit."""


@dataclass
class State:
    """A worker's store and limits; the term index for the named queries is built on first use."""

    store: ox.Store
    max_results: int
    _index: TermIndex | None = field(default=None, repr=False)
    # a store per dataset of several default graphs, their merge as its default graph (see _dataset_store)
    merged: OrderedDict[tuple[tuple[str, ...], tuple[str, ...]], ox.Store] = field(
        default_factory=OrderedDict, repr=False)

    @property
    def index(self) -> TermIndex:
        if self._index is None:
            from iimkg.graph.terms import TermIndex

            self._index = TermIndex.from_store(self.store)
        return self._index


def main(conn: Connection, setup: WorkerSetup) -> None:
    """The worker process: set itself up, say it is ready, then answer jobs until the pipe closes."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the HTTP process, which stops the workers
    _die_with_parent()
    isolated = _isolate_network()
    if setup.memory_bytes:
        _limit_memory(setup.memory_bytes)
    if setup.max_depth is not None:
        from iimkg.core.limits import configure

        configure(max_depth=setup.max_depth)
    store = ox.Store()
    store.load(setup.nquads, format=ox.RdfFormat.N_QUADS)
    state = State(store, setup.max_results)
    state.index  # noqa: B018 -- built now, so that the first named query is as fast as the next
    conn.send(Ready(os.getpid(), isolated, len(store)))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply = run_job(job, state)
        except MemoryError:
            reply = Failure(REFUSED, "the query needs more memory than a query may use here; narrow it down")
        except Exception as error:  # a bug, not the client's fault: answer, and keep the worker
            reply = Failure(500, f"internal error while running the query: {type(error).__name__}: {error}")
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return


def run_job(job: Any, state: State) -> Reply:
    """Answer one job (also callable in-process, which the tests use)."""
    if isinstance(job, QueryJob):
        return _query(job, state)
    if isinstance(job, PageJob):
        return _page(job, state)
    if isinstance(job, NamedJob):
        return _named(job, state)
    if isinstance(job, UpdateJob):
        return _update(job)
    return Failure(500, f"unknown job {type(job).__name__}")


def _execute(text: str, state: State, dataset: Any = None) -> Any:
    """``store.query`` with the protocol's dataset; a :class:`Failure` for what may not or cannot run."""
    try:
        refusal = network_refusal(text)
    except QuerySyntaxError as error:  # nested deeper than any parser here may safely recurse
        return Failure(BAD_REQUEST, f"malformed query: {error}")
    if refusal is not None:
        return Failure(REFUSED, refusal)
    store = state.store
    options: dict[str, Any] = {}
    if dataset is None:
        dataset = _query_dataset(text)
    if dataset is not None:
        store, options = _dataset_store(state, dataset)
    try:
        return store.query(text, **options)
    except SyntaxError as error:
        return Failure(BAD_REQUEST, f"malformed query: {error}")
    except (ValueError, OSError, RuntimeError) as error:
        return Failure(500, f"the query failed: {error}")


def _dataset_store(state: State, dataset: Dataset) -> tuple[ox.Store, dict[str, Any]]:
    """The store and ``query`` options that give a query the dataset the protocol (or its ``FROM``) names.

    The default graph is the RDF merge of the graphs named, a set (SPARQL 1.1 Query §13.2), but pyoxigraph's
    ``default_graph=[A, B]`` is their bag union: a triple in A and B would be seen twice, and A named twice
    would double every row. So each IRI counts once, and two or more default graphs are copied into a store of
    their own whose default graph holds each triple once, with the named graphs the dataset names; the last
    :data:`MERGED_DATASETS` such stores are kept, the dataset being read-only.
    """
    default = tuple(dict.fromkeys(dataset.default_graphs))
    named = tuple(dict.fromkeys(dataset.named_graphs))
    named_graphs = [ox.NamedNode(g) for g in named]
    if len(default) <= 1:
        return state.store, {"default_graph": [ox.NamedNode(g) for g in default], "named_graphs": named_graphs}
    key = (default, named)
    store = state.merged.pop(key, None)
    if store is None:
        store = ox.Store()
        for graph in default:
            store.extend(ox.Quad(q.subject, q.predicate, q.object, ox.DefaultGraph())
                         for q in state.store.quads_for_pattern(None, None, None, ox.NamedNode(graph)))
        for graph in named:
            store.extend(state.store.quads_for_pattern(None, None, None, ox.NamedNode(graph)))
        while len(state.merged) >= MERGED_DATASETS:
            state.merged.popitem(last=False)
    state.merged[key] = store
    return store, {"default_graph": [ox.DefaultGraph()], "named_graphs": named_graphs}


def _query_dataset(text: str) -> Dataset | None:
    """The dataset of a query's ``FROM``/``FROM NAMED`` clauses when it has two or more (else None: pyoxigraph
    reads one clause of each kind as it should), so that they give the same set as ``default-graph-uri``.

    The clauses are read from rdflib's parse tree (nothing is evaluated), prefixed names and relative IRIs
    resolved by the query's prologue. A query rdflib does not read, or whose IRIs do not resolve to absolute ones,
    is left to pyoxigraph, which reports its syntax error.
    """
    if text.lower().count("from") < 2 or sum(word == "FROM" for word in keywords(text)) < 2:
        return None
    from pyparsing import ParseBaseException
    from rdflib import URIRef
    from rdflib.plugins.sparql.algebra import translatePrologue

    try:
        tree = parse_tree(text)
        prologue = translatePrologue(tree[0], None)
        clauses = dict.get(tree[1], "datasetClause") or []
        default: list[str] = []
        named: list[str] = []
        for clause in clauses:
            kind = "default" if "default" in clause else "named"
            iri = prologue.absolutize(dict.get(clause, kind))
            if not isinstance(iri, URIRef) or not _ABSOLUTE.match(iri):
                return None
            (default if kind == "default" else named).append(str(iri))
    except (ParseBaseException, QuerySyntaxError, RecursionError):
        return None
    except Exception:  # rdflib's prologue raises a bare Exception for an undeclared prefix
        return None
    return Dataset(tuple(default), tuple(named)) if len(clauses) >= 2 else None


_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


def _query(job: QueryJob, state: State) -> Reply:
    result = _execute(job.text, state, job.dataset)
    if isinstance(result, Failure):
        return result
    form: Literal["select", "ask", "graph"] = "select"
    if isinstance(result, ox.QueryBoolean):
        form = "ask"
    elif isinstance(result, ox.QueryTriples):
        form = "graph"
    fmt = choose(form, job.accept, job.format)
    if fmt is None:
        return _not_acceptable(form, job)
    try:
        if isinstance(result, ox.QueryBoolean):
            return Ok(_bytes(result.serialize(format=_RESULTS[fmt])), _content_type(fmt), 1)
        if isinstance(result, ox.QueryTriples):
            triples = _capped(result, state.max_results)
            prefixes = graph_prefixes() if fmt in {ResultFormat.TURTLE, ResultFormat.RDFXML} else None
            body = _bytes(ox.serialize(triples, format=_GRAPHS[fmt], prefixes=prefixes))
            return Ok(body, _content_type(fmt), len(triples))
        return _solutions(result, fmt, state.max_results)
    except TooManyResults:
        return _too_many(state.max_results)
    except (ValueError, OSError, RuntimeError) as error:
        return Failure(500, f"the query failed: {error}")


def _solutions(result: ox.QuerySolutions, fmt: ResultFormat, limit: int) -> Ok:
    """Serialise solutions with pyoxigraph, stopping as soon as there are more than ``limit``.

    They are first written as TSV, where each solution is exactly one line (the format escapes line breaks
    inside terms), through a writer that counts lines and stops the serialiser past the limit; other
    formats are then written by pyoxigraph from those TSV results, which carry every term unchanged.
    """
    counter = _LineCounter(limit + 1)  # the header line, then one line per solution
    result.serialize(cast(IO[bytes], counter), format=ox.QueryResultsFormat.TSV)
    tsv = b"".join(counter.chunks)
    rows = counter.lines - 1
    if fmt is ResultFormat.TSV:
        return Ok(tsv, _content_type(fmt), rows)
    parsed = ox.parse_query_results(tsv, format=ox.QueryResultsFormat.TSV)
    return Ok(_bytes(parsed.serialize(format=_RESULTS[fmt])), _content_type(fmt), rows)


def _bytes(serialized: bytes | None) -> bytes:
    """pyoxigraph's ``serialize`` returns bytes when given no output (its type also allows None)."""
    assert serialized is not None
    return serialized


class _LineCounter:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lines = 0
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.lines += data.count(b"\n")
        if self.lines > self.limit:
            raise TooManyResults
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None


def _capped(items: Iterator[Any], limit: int) -> list[Any]:
    out = []
    for item in items:
        out.append(item)
        if len(out) > limit:
            raise TooManyResults
    return out


def _content_type(fmt: ResultFormat) -> str:
    return f"{fmt.value}; charset=utf-8" if fmt in _CHARSET else fmt.value


def _too_many(limit: int) -> Failure:
    return Failure(REFUSED, f"refused: the result has more than {limit} rows (the --max-results limit); "
                            "add LIMIT or narrow the query, or download the graph from /")


def _not_acceptable(form: str, job: QueryJob) -> Failure:
    from iimkg.endpoint.protocol import ASK_FORMATS, GRAPH_FORMATS, SELECT_FORMATS

    offers = {"select": SELECT_FORMATS, "ask": ASK_FORMATS, "graph": GRAPH_FORMATS}[form]
    kind = {"select": "a SELECT", "ask": "an ASK", "graph": "a CONSTRUCT or DESCRIBE"}[form]
    asked = f"format={job.format}" if job.format else f"Accept: {job.accept}"
    return Failure(NOT_ACCEPTABLE, f"can't answer {kind} query as {asked}; this one can be answered as "
                                   + ", ".join(dict.fromkeys(m for m, _ in offers)))


def _page(job: PageJob, state: State) -> Reply:
    result = _execute(job.text, state)
    if isinstance(result, Failure):
        return result
    try:
        if isinstance(result, ox.QueryBoolean):
            return Table((), (), bool(result))
        if isinstance(result, ox.QueryTriples):
            triples = _capped(result, state.max_results)
            graph = tuple((from_oxigraph(t.subject), from_oxigraph(t.predicate), from_oxigraph(t.object))
                          for t in triples)
            return Table(("subject", "predicate", "object"), graph, graph=True, labels=_labels(graph, state))
        columns = tuple(v.value for v in result.variables)
        rows: list[tuple[Term | None, ...]] = []
        for solution in result:
            rows.append(tuple(from_oxigraph(v) if (v := solution[c]) is not None else None for c in columns))
            if len(rows) > state.max_results:
                raise TooManyResults
        return Table(columns, tuple(rows), labels=_labels(rows, state))
    except TooManyResults:
        return _too_many(state.max_results)
    except (ValueError, OSError, RuntimeError) as error:
        return Failure(500, f"the query failed: {error}")


def _labels(rows: Iterable[tuple[Term | None, ...]], state: State) -> dict[str, str]:
    """The English label (else the one with no language) of each IRI in ``rows`` that has one in the store."""
    out: dict[str, str] = {}
    for row in rows:
        for term in row:
            if term is not None and term.kind == "uri" and term.value not in out:
                labels = state.index.labels.get(term.value, {})
                label = labels.get("en") or labels.get("")
                if label:
                    out[term.value] = label
    return out


def _named(job: NamedJob, state: State) -> Reply:
    """A named query, bound as ``iimkg query`` binds it, on the served default graph; rendered as the CLI does."""
    from iimkg.core.errors import AmbiguousTermError, MissingParameterError, UnknownQueryError, UnknownTermError
    from iimkg.queries.output import render
    from iimkg.queries.run import bind_parameters, named_query, run_sparql, with_labels

    try:
        named = named_query(job.name)
    except UnknownQueryError as error:
        return Failure(NOT_FOUND, str(error))
    try:
        bindings = bind_parameters(named, dict(job.parameters), state.index, name_format="{}",
                                   missing_format="?{}=…")
    except UnknownTermError as error:
        return Failure(BAD_REQUEST, str(error), {"suggestions": error.suggestions})
    except AmbiguousTermError as error:
        return Failure(BAD_REQUEST, str(error), {"candidates": error.candidates})
    except MissingParameterError as error:
        return Failure(BAD_REQUEST, str(error))
    result = with_labels(run_sparql(named.text, bindings=bindings, store=state.store), state.index)
    if len(result.rows) > state.max_results:
        return _too_many(state.max_results)
    return Ok(render(result, job.format).encode("utf-8"), _content_type(_NAMED_MEDIA[job.format]), len(result.rows))


def _update(job: UpdateJob) -> Reply:
    message = update_syntax_error(job.text)
    if message is not None:
        return Failure(BAD_REQUEST, f"malformed update: {message}")
    if job.using is not None and uses_keyword(job.text, "USING", "WITH"):
        return Failure(BAD_REQUEST, "the update names its dataset twice: with using-graph-uri/using-named-graph-uri "
                                    "and with USING or WITH in the text (SPARQL 1.1 Protocol §2.2.3)")
    return Failure(REFUSED, "refused: this endpoint is read-only, so SPARQL Update (and LOAD) is not run; "
                            "load your data with `iimkg serve --data FILE` or `iimkg sparql --data FILE`")


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _isolate_network() -> bool:
    """Move this process into an empty network namespace (as root; else through a user namespace)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    for flags in (_CLONE_NEWNET, _CLONE_NEWUSER | _CLONE_NEWNET):
        try:
            if libc.unshare(flags) == 0:
                return True
        except AttributeError:
            return False
    return False


def _limit_memory(limit: int) -> None:
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, ValueError, OSError):
        pass

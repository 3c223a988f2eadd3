"""``iimkg sparql``: any SPARQL query over the graph (plus data files), or on a remote SPARQL endpoint.

The query and one data file may come from standard input (``-``). Results are written as the query's form asks:
rows as a table or a W3C results format, an ASK answer as true/false, a CONSTRUCT or DESCRIBE graph as RDF
(Turtle unless ``--format`` says otherwise; see :mod:`iimkg.queries.output`). The query runs in a child process
that is stopped at ``--timeout`` (see :func:`iimkg.cli.main._bounded`).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iimkg.core.errors import InputError, require_file

if TYPE_CHECKING:
    import pyoxigraph as ox

__all__ = ["register"]

STDIN = "-"
_STDIN_NAME = "<stdin>"


def register(subparsers: Any) -> None:
    """Add ``sparql`` to the ``iimkg`` command."""
    from iimkg.cli.main import _limit_options, _output_options

    sparql = subparsers.add_parser(
        "sparql", help="run any SPARQL query over the graph (plus optional data files), or on --endpoint",
        description="Run a SPARQL query over the graph (plus --data files), or on a remote SPARQL endpoint that "
                    "holds the iimkg release (--endpoint). Rows are written as a table or a W3C results format "
                    "(json, xml, csv, tsv), an ASK answer as true or false, a CONSTRUCT or DESCRIBE graph as RDF "
                    "(turtle by default; nt, jsonld, rdfxml). '-' reads the query (or one --data file) from "
                    "standard input. Nothing reaches the network but --endpoint: SERVICE and FROM <http…>/<file…> "
                    "are refused unless --allow-service; the query is stopped after --timeout seconds (exit 2) and "
                    "on Ctrl-C (exit 130). See docs/security.md.")
    sparql.add_argument("query", help="the query text, a file that holds it (.rq, .sparql), or - for standard input")
    sparql.add_argument("--data", nargs="+", type=Path, default=[], metavar="FILE",
                        help="RDF files to add to the graph (Turtle, N-Triples, JSON-LD, RDF/XML… by extension), "
                             "or - for standard input")
    sparql.add_argument("--input-format", metavar="FORMAT",
                        help="RDF syntax of the --data files when the extension does not tell, and of - "
                             "(default for -: JSON-LD if it starts with { or [, RDF/XML if with <?xml or <rdf:, "
                             "else Turtle)")
    sparql.add_argument("--allow-service", action="store_true",
                        help="let the query call other hosts (SERVICE, and FROM graphs fetched by the rdflib engine); "
                             "off by default, as a query from elsewhere could reach any host this machine can")
    _output_options(sparql)
    _limit_options(sparql)
    sparql.set_defaults(handler=_sparql)


def _sparql(ns: argparse.Namespace) -> int:
    from iimkg.cli.main import _bounded, _engine_or_endpoint
    from iimkg.cli.options import apply_input_limits

    apply_input_limits(ns)
    _engine_or_endpoint(ns)
    if ns.endpoint is not None and ns.data:
        raise InputError("--data adds files to the local graph; with --endpoint the query runs on the endpoint's "
                         "data: load the files there, or leave out --endpoint")
    if ns.query == STDIN and STDIN in map(str, ns.data):
        raise InputError("only one of the query and a --data file can be read from standard input (-)")
    text, origin = _read_query(ns.query)
    with _stdin_spooled(ns.data, ns.input_format) as (data, stdin_file):

        def work() -> str:
            try:
                return _run(text, ns, data)
            except InputError as error:
                place = error.path
                if str(place) == "<query>" and origin is not None:
                    place = origin
                elif stdin_file is not None and place == stdin_file:
                    place = Path(_STDIN_NAME)
                else:
                    raise
                raise InputError(error.detail, path=place, line=error.line, column=error.column) from None

        return _bounded(work, ns.timeout, ns.max_memory_mb)


def _read_query(argument: str) -> tuple[str, Path | None]:
    """The query's text, and the file it came from (for messages); ``-`` is standard input, read up to the limit."""
    from iimkg.core.limits import current

    limit = current().max_input_bytes
    if argument == STDIN:
        raw = sys.stdin.buffer.read(limit + 1)
        _within_limit(len(raw), limit, _STDIN_NAME)
        return _decoded(raw, _STDIN_NAME), Path(_STDIN_NAME)
    candidate = Path(argument)
    if "\n" not in argument and len(argument) < 4096 and candidate.suffix in {".rq", ".sparql"}:
        if not candidate.exists() and not candidate.is_symlink():
            raise InputError("no such query file", path=candidate)
        require_file(candidate)  # a folder, a device, a loop of links, no permission: said so, not parsed as text
        _within_limit(candidate.stat().st_size, limit, candidate)
        try:
            raw = candidate.read_bytes()
        except OSError as error:
            raise InputError(f"can't be read: {error.strerror or error}", path=candidate) from None
        return _decoded(raw, candidate), candidate
    surrogate = next((i for i, char in enumerate(argument) if "\udc80" <= char <= "\udcff"), None)
    if surrogate is not None:  # the shell passed bytes that are not UTF-8; Python kept them as lone surrogates
        byte = ord(argument[surrogate]) - 0xDC00
        raise InputError(f"the query is not UTF-8: byte 0x{byte:02x} at character {surrogate + 1} can't be decoded",
                         path="<query>")
    return argument, None


def _within_limit(size: int, limit: int, path: Path | str) -> None:
    """A query (from standard input or a file) is held to the input policy's size, as a data file is."""
    if size > limit:
        raise InputError(f"the query is larger than {limit // 1_048_576} MB", path=path)


def _decoded(raw: bytes, path: Path | str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"the query is not UTF-8: byte {error.start} can't be decoded", path=path) from None


@contextmanager
def _stdin_spooled(data: Sequence[Path], input_format: str | None) -> Iterator[tuple[list[tuple[Path, str | None]],
                                                                                   Path | None]]:
    """Each ``--data`` file with its syntax (None: by extension); ``-`` is standard input copied, up to the size
    limit, to a temporary file that the same readers and checks then read (removed on leaving)."""
    if STDIN not in map(str, data):
        yield [(path, input_format) for path in data], None
        return
    from iimkg.core.limits import current

    limit = current().max_input_bytes
    with tempfile.TemporaryDirectory(prefix="iimkg-stdin-") as folder:
        spooled = Path(folder) / "stdin"
        size = 0
        head = b""
        with open(spooled, "wb") as out:
            while chunk := sys.stdin.buffer.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise InputError(f"the data is larger than the limit of {limit // 1_048_576} MB; raise it with "
                                     "--max-input-mb if it is meant to be this large", path=_STDIN_NAME)
                head = head or chunk[:256]
                out.write(chunk)
        syntax = input_format or _sniff(head)
        yield [(spooled if str(path) == STDIN else path, syntax if str(path) == STDIN else input_format)
               for path in data], spooled


def _sniff(head: bytes) -> str:
    """The RDF syntax of data read from standard input, from its first characters."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if start[:1] in {b"{", b"["}:
        return "jsonld"
    if start.startswith((b"<?xml", b"<rdf:RDF", b"<!--")):
        return "rdfxml"
    return "turtle"


def _run(text: str, ns: argparse.Namespace, data: Sequence[tuple[Path, str | None]]) -> str:
    """The rendered result of ``iimkg sparql``; the network guard first, unless ``--allow-service``."""
    from iimkg.core.kinds import Engine
    from iimkg.core.limits import RefusedError, check_query_depth
    from iimkg.queries.output import render
    from iimkg.queries.run import run_sparql

    check_query_depth(text)
    _refuse_update(text)
    if not ns.allow_service:
        import rdflib.plugins.sparql

        from iimkg.core.sparql_guard import network_refusal

        rdflib.plugins.sparql.SPARQL_LOAD_GRAPHS = False  # a FROM <http…> graph is never fetched by rdflib
        refusal = network_refusal(text, remote_from=True)
        if refusal is not None:
            raise RefusedError(refusal + " (iimkg sparql --allow-service lets it call other hosts)")
    if ns.endpoint is not None:
        from iimkg.queries.remote import run_remote

        return render(run_remote(text, ns.endpoint, timeout=ns.timeout), ns.format)
    engine: Engine = ns.engine or Engine.OXIGRAPH
    per_file = [(path, _data_quads([(path, syntax)])) for path, syntax in data]  # every file read before any query
    if engine is Engine.OXIGRAPH:
        store = None
        if any(quads for _, quads in per_file):
            from iimkg.graph.loading import oxigraph_store

            store = oxigraph_store()
            for _, quads in per_file:
                store.extend(quads)
        return render(run_sparql(text, engine=engine, store=store), ns.format)
    graph = None
    if any(quads for _, quads in per_file):
        from iimkg.core.rdfterms import QuotedTripleError, to_rdflib
        from iimkg.graph.loading import load

        graph = load()
        for path, quads in per_file:
            try:
                graph.addN((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object), graph) for q in quads)
            except QuotedTripleError as error:  # rdflib has no quoted triple: the file that holds one, and where
                raise error.in_file(path) from None
    try:
        return render(run_sparql(text, engine=engine, graph=graph), ns.format)
    except Exception as error:
        if "requiring a dataset" not in str(error):  # rdflib raises a bare Exception for GRAPH on one graph
            raise
        raise InputError("the query names graphs (GRAPH, FROM NAMED), which the rdflib engine can't answer: it "
                         "holds the graph and the --data files as one default graph; run it with --engine oxigraph "
                         "(the default)", path="<query>") from None


_UPDATE_WORDS = ("INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH")


# The prologue (comments, PREFIX and BASE declarations) before a request's first keyword
_PROLOGUE = re.compile(r"(?:\s+|#[^\n]*|(?i:PREFIX)\s+[^\s:]*:\s*<[^>]*>|(?i:BASE)\s*<[^>]*>)*")


def _refuse_update(text: str) -> None:
    """An update (INSERT, DELETE, LOAD, CLEAR…) is refused for what it is; the query parsers said ``expected
    CONSTRUCT`` at its first keyword. Only a text with an update keyword is parsed as an update; nothing is run.
    A text whose first keyword is an update's is refused as an update even when it does not parse as one, with the
    update parser's message (the query parser's would be ``expected CONSTRUCT`` there too)."""
    from iimkg.core.sparql_guard import update_syntax_error, uses_keyword

    if not uses_keyword(text, *_UPDATE_WORDS):
        return
    problem = update_syntax_error(text)
    prologue = _PROLOGUE.match(text)
    first = re.match(r"[A-Za-z]+", text[prologue.end():] if prologue else text)
    starts_update = first is not None and first.group(0).upper() in _UPDATE_WORDS
    if problem is None or starts_update:
        broken = f"; it does not parse as one either ({problem})" if problem is not None else ""
        raise InputError("this is a SPARQL update (INSERT, DELETE, LOAD, CLEAR…): iimkg sparql runs queries only "
                         "(SELECT, ASK, CONSTRUCT, DESCRIBE) and does not run updates; nothing was changed" + broken,
                         path="<query>")


def _data_quads(data: Sequence[tuple[Path, str | None]]) -> list[ox.Quad]:
    """The triples of every data file, in the default graph; either all files read or an InputError is raised.

    JSON-LD goes through the plan reader, which inlines the iimkg plan context where a file names it by IRI and
    refuses any other remote context (nothing is fetched); every other syntax through the one RDF file reader.
    """
    import pyoxigraph as ox

    from iimkg.graph.loading import parse_rdf_file, rdf_format_for
    from iimkg.plans.reading import load_plan_file

    quads: list[ox.Quad] = []
    for path, syntax in data:
        require_file(path)
        if rdf_format_for(path, syntax) == ox.RdfFormat.JSON_LD:
            scratch = ox.Store()
            graph = ox.NamedNode("urn:iimkg:data")
            load_plan_file(scratch, path, graph, syntax)
            quads += (ox.Quad(q.subject, q.predicate, q.object) for q in scratch.quads_for_pattern(None, None, None,
                                                                                                 graph))
        else:
            quads += (ox.Quad(q.subject, q.predicate, q.object) for q in parse_rdf_file(path, input_format=syntax))
    return quads

"""The HTTP side of ``iimkg serve``: routes, limits, CORS and the access log, on Starlette and uvicorn.

The HTTP process parses requests and writes responses; every query runs in a worker process
(:mod:`iimkg.endpoint.pool`). Routes:

- ``/sparql``: the SPARQL 1.1 Protocol (GET, POST form-encoded, POST ``application/sparql-query``); without a
  query, the service description. Errors are ``text/plain``.
- ``/queries`` and ``/queries/NAME?PARAM=VALUE``: the named queries as a small REST API (JSON errors), described
  by ``/openapi.json``.
- ``/``: the HTML page; ``/download/iim.{ttl,nt,owl,jsonld}``: the shipped graph in the release formats.

Statuses: 400 malformed (the parser's message), 404 unknown named query, 405 other methods, 406 a format the
query can't be given in, 413 a body over ``--max-request-bytes``, 414 a URL over it, 415 a body that is
neither form-encoded nor a query, or not UTF-8; 500 refused (update, ``SERVICE``, too many rows, too long:
SPARQL 1.1 Protocol §2.1.7 gives 500 to a service that refuses to run a query) or failed; 503 every worker
busy for the whole timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pyoxigraph as ox
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from iimkg.core.errors import IimkgError
from iimkg.core.messages import clip
from iimkg.core.vocab import IIM, OWL, SD, VOID
from iimkg.endpoint.dataset import ServedDataset, build_dataset
from iimkg.endpoint.description import service_description
from iimkg.endpoint.jobs import Failure, NamedJob, Ok, PageJob, QueryJob, Table, UpdateJob, WorkerSetup
from iimkg.endpoint.openapi import openapi_document
from iimkg.endpoint.pages import Download, Example, render_error, render_page, render_table, with_values
from iimkg.endpoint.pool import Busy, PoolError, WorkerPool
from iimkg.endpoint.protocol import (
    ASK_FORMATS,
    GRAPH_FORMATS,
    NAMED_FORMATS,
    SELECT_FORMATS,
    SPARQL_METHODS,
    ProtocolError,
    ResultFormat,
    negotiate,
    parse_params,
    parse_request,
)
from iimkg.queries.named import NamedQuery
from iimkg.queries.output import OutputFormat

__all__ = ["ServeConfig", "create_app", "serve"]

log = logging.getLogger("iimkg.cli.serve")
access_log = logging.getLogger("iimkg.cli.serve.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_ALL_OFFERS = SELECT_FORMATS + ASK_FORMATS + GRAPH_FORMATS
_NAMED_OFFERS = NAMED_FORMATS
# the CLI's output format that writes each of them, as `iimkg query --format` would
_NAMED_OUTPUT = {ResultFormat.JSON: OutputFormat.JSON, ResultFormat.CSV: OutputFormat.CSV,
                 ResultFormat.TSV: OutputFormat.TSV}
_DESCRIPTION_OFFERS = (*GRAPH_FORMATS[:4], ("text/html", ResultFormat.HTML))
_RDF = {ResultFormat.TURTLE: ox.RdfFormat.TURTLE, ResultFormat.NTRIPLES: ox.RdfFormat.N_TRIPLES,
        ResultFormat.RDFXML: ox.RdfFormat.RDF_XML, ResultFormat.JSONLD: ox.RdfFormat.JSON_LD}
DOWNLOADS = (
    Download("iim.ttl", "text/turtle", "Turtle, as shipped"),
    Download("iim.owl", "application/rdf+xml", "RDF/XML"),
    Download("iim.nt", "application/n-triples", "N-Triples"),
    Download("iim.jsonld", "application/ld+json", "JSON-LD"),
)


def _default_workers() -> int:
    return max(1, min(os.cpu_count() or 2, 8))


@dataclass(frozen=True)
class ServeConfig:
    """The options of ``iimkg serve``."""

    host: str = "127.0.0.1"
    port: int = 7878
    data: tuple[Path, ...] = ()
    timeout: float = 10.0
    max_results: int = 100_000
    max_request_bytes: int = 1_048_576
    workers: int = field(default_factory=_default_workers)
    cors: str | None = "*"
    worker_memory_mb: int = 2048
    input_format: str | None = None
    request_timeout: float = 10.0
    max_depth: int | None = None


def create_app(config: ServeConfig, dataset: ServedDataset, *,
               on_ready: Callable[[WorkerPool], None] | None = None) -> Starlette:
    """The ASGI application; its lifespan starts the worker pool (and calls ``on_ready``) and stops it."""
    setup = WorkerSetup(dataset.nquads, config.max_results,
                        config.worker_memory_mb * 1024 * 1024 if config.worker_memory_mb else None,
                        config.max_depth)
    state: dict[str, WorkerPool] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        pool = WorkerPool(setup, size=config.workers, timeout=config.timeout)
        await pool.start()
        state["pool"] = pool
        if not pool.isolated:
            log.warning("iimkg serve: query workers could not be cut off from the network here; the SERVICE guard "
                        "still refuses federated queries")
        if on_ready is not None:
            on_ready(pool)
        try:
            yield
        finally:
            await pool.close()

    handlers = _Handlers(config, dataset, state)
    routes = [
        Route("/", handlers.index, methods=["GET"]),
        # every method reaches the handler, so that one place answers OPTIONS and any other method with the
        # Allow header of what this endpoint does (Starlette's own 405 would list the route's methods)
        Route("/sparql", handlers.sparql,
              methods=["GET", "POST", "OPTIONS", "PUT", "DELETE", "PATCH", "TRACE", "CONNECT"]),
        Route("/queries", handlers.queries, methods=["GET"]),
        Route("/queries/{name}", handlers.named, methods=["GET"]),
        Route("/openapi.json", handlers.openapi, methods=["GET"]),
        Route("/download/{name}", handlers.download, methods=["GET"]),
    ]
    middleware = [Middleware(AccessLog), Middleware(SecurityHeaders)]
    if config.cors:
        # allow_private_network: Chrome's Private Network Access preflight, sent when a hosted page (YASGUI) calls
        # this endpoint on 127.0.0.1 or the LAN, which is what --cors is for; only the allowed origin gets it
        middleware.append(Middleware(CORSMiddleware, allow_origins=[config.cors], allow_methods=["GET", "POST"],
                                     allow_headers=["*"], allow_private_network=True, max_age=600))
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                     exception_handlers={Exception: _internal_error})


async def _internal_error(request: Request, error: Exception) -> Response:
    log.error("iimkg serve: internal error on %s %s: %r", request.method, request.url.path, error)
    return PlainTextResponse("internal error: the server could not answer this request\n", status_code=500)


class _Handlers:
    def __init__(self, config: ServeConfig, dataset: ServedDataset, state: dict[str, WorkerPool]) -> None:
        self.config = config
        self.dataset = dataset
        self.state = state

    @property
    def pool(self) -> WorkerPool:
        return self.state["pool"]

    async def _body(self, request: Request) -> bytes:
        limit = self.config.max_request_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise ProtocolError(400, "Content-Length is not a number")
            if int(declared) > limit:
                raise ProtocolError(413, f"the request body has {declared} bytes; at most {limit} are read "
                                         "(--max-request-bytes)")
        chunks: list[bytes] = []

        async def read() -> None:
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ProtocolError(413, f"the request body has more than {limit} bytes (--max-request-bytes)")
                chunks.append(chunk)

        # a body sent a byte at a time holds a connection as a slow head would: it gets the same deadline
        try:
            await asyncio.wait_for(read(), self.config.request_timeout)
        except asyncio.TimeoutError:
            raise ProtocolError(408, f"the request body did not arrive within {self.config.request_timeout:g} s "
                                     "(--request-timeout)", {"Connection": "close"}) from None
        return b"".join(chunks)

    def _query_string(self, request: Request) -> bytes:
        raw: bytes = request.scope.get("query_string", b"")
        if len(raw) > self.config.max_request_bytes:
            raise ProtocolError(414, f"the URL has {len(raw)} bytes of parameters; at most "
                                     f"{self.config.max_request_bytes} are read: POST a long query instead")
        return raw

    async def _run(self, job: Any) -> Ok | Table | Failure:
        try:
            return await self.pool.run(job)
        except Busy as error:
            return Failure(503, str(error))
        except PoolError as error:
            return Failure(500, f"refused: {error}")

    # ── /sparql ──

    async def sparql(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": SPARQL_METHODS})
        try:
            body = await self._body(request) if request.method == "POST" else b""
            operation = parse_request(request.method, request.headers.get("content-type"),
                                      self._query_string(request), body)
        except ProtocolError as error:
            return _text(error.status, error.message, error.headers)
        except ClientDisconnect:
            return _text(400, "the connection closed before the whole request body arrived")
        accept = request.headers.get("accept")
        if operation is None:
            return await self._description(request, accept)
        if operation.kind == "update":
            reply = await self._run(UpdateJob(operation.text, operation.dataset))
        else:
            if operation.format is None and negotiate(accept, _ALL_OFFERS) is None:
                return _text(406, f"can't answer in any of Accept: {accept}; results are available as "
                                  + ", ".join(dict.fromkeys(m for m, _ in _ALL_OFFERS)))
            reply = await self._run(QueryJob(operation.text, operation.dataset, accept, operation.format))
        if isinstance(reply, Ok):
            return Response(reply.body, media_type=reply.media_type, headers={"Vary": "Accept"})
        if isinstance(reply, Failure):
            return _text(reply.status, reply.message, {"Retry-After": "1"} if reply.status == 503 else None)
        return _text(500, "internal error: unexpected reply")

    async def _description(self, request: Request, accept: str | None) -> Response:
        fmt = negotiate(accept, _DESCRIPTION_OFFERS)
        if fmt is ResultFormat.HTML:
            return await self.index(request)
        if fmt is None:
            return _text(406, "the service description is available as "
                              + ", ".join(m for m, _ in _DESCRIPTION_OFFERS))
        try:
            endpoint: str | None = ox.NamedNode(str(request.url.replace(query=""))).value
        except ValueError:
            endpoint = None
        triples = service_description(endpoint, self.dataset, timeout=self.config.timeout,
                                      max_results=self.config.max_results)
        prefixes = {"sd": SD, "void": VOID}
        body = ox.serialize(triples, format=_RDF[fmt], prefixes=prefixes if fmt is ResultFormat.TURTLE else None)
        return Response(body, media_type=fmt.value + ("; charset=utf-8" if fmt is ResultFormat.TURTLE else ""),
                        headers={"Vary": "Accept"})

    # ── the HTML page ──

    async def index(self, request: Request) -> Response:
        try:
            params = parse_params(self._query_string(request))
        except ProtocolError as error:
            return _text(error.status, error.message)
        texts = [v for k, v in params if k == "query"]
        query = texts[0] if texts else ""
        results, status = "", 200
        if len(texts) > 1:
            results, status = render_error(400, "the form sent several queries; send one"), 400
        elif query.strip():
            reply = await self._run(PageJob(query))
            if isinstance(reply, Table):
                results = render_table(reply, download=query)
            elif isinstance(reply, Failure):
                results, status = render_error(reply.status, clip(reply.message)), reply.status
        page = render_page(
            query=query or (_examples()[0].sparql if _examples() else ""), results=results, examples=_examples(),
            downloads=DOWNLOADS, endpoint=str(request.url_for("sparql")) if _has_host(request) else "/sparql",
            graphs=[g.name for g in self.dataset.graphs], version=_version_info()[0],
            version_iri=_version_info()[1], timeout=self.config.timeout, max_results=self.config.max_results)
        return HTMLResponse(page, status_code=status, headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"})

    # ── the REST API ──

    async def queries(self, request: Request) -> Response:
        from iimkg.queries.run import list_queries

        listed = []
        for named in list_queries():
            listed.append({
                "name": named.name,
                "question": named.question,
                "description": named.description,
                "parameters": [{"name": p.name, "description": p.description, "required": not p.optional,
                                "kind": p.kind, "example": p.example, "examples": list(p.examples)}
                               for p in named.parameters],
                "returns": named.returns,
                "answers": named.answers,
                "url": f"/queries/{named.name}",
                "example": _example_url(named),
                "sparql": named.text,
            })
        return JSONResponse({"queries": listed})

    async def named(self, request: Request) -> Response:
        import difflib

        from iimkg.queries.run import list_queries

        name = request.path_params["name"]
        names = [q.name for q in list_queries()]
        if name not in names:
            close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            return _json_error(404, f"no named query is called {name!r}{hint} (GET /queries lists them)",
                               {"suggestions": close})
        try:
            params = parse_params(self._query_string(request))
        except ProtocolError as error:
            return _json_error(error.status, error.message)
        seen: dict[str, str] = {}
        for key, value in params:
            if key in seen:
                return _json_error(400, f"the parameter {key!r} is given twice; give it once")
            seen[key] = value
        fmt = negotiate(request.headers.get("accept"), _NAMED_OFFERS)
        if fmt is None:
            return _json_error(406, "named query results are available as "
                                    + ", ".join(m for m, _ in _NAMED_OFFERS))
        reply = await self._run(NamedJob(name, tuple(seen.items()), _NAMED_OUTPUT[fmt]))
        if isinstance(reply, Ok):
            return Response(reply.body, media_type=reply.media_type, headers={"Vary": "Accept"})
        if isinstance(reply, Failure):
            return _json_error(reply.status, reply.message, reply.details)
        return _json_error(500, "internal error: unexpected reply")

    async def openapi(self, request: Request) -> Response:
        from iimkg.queries.run import list_queries

        return JSONResponse(openapi_document(list_queries(), version=_version_info()[0]))

    async def download(self, request: Request) -> Response:
        name = request.path_params["name"]
        found = next((d for d in DOWNLOADS if d.name == name), None)
        if found is None:
            return _text(404, f"no download is called {name!r}; there are " + ", ".join(d.name for d in DOWNLOADS))
        body = await asyncio.get_running_loop().run_in_executor(None, _download_bytes, name)
        media = found.media_type + ("; charset=utf-8" if found.media_type == "text/turtle" else "")
        return Response(body, media_type=media, headers={"Content-Disposition": f'inline; filename="{name}"'})


def _has_host(request: Request) -> bool:
    return bool(request.headers.get("host"))


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(clip(message.rstrip("\n")) + "\n", status_code=status, headers=headers)


def _json_error(status: int, message: str, details: dict[str, list[str]] | None = None) -> Response:
    details = {key: [clip(v, 200) for v in values[:20]] for key, values in (details or {}).items()}
    return JSONResponse({"error": clip(message), **details}, status_code=status,
                        headers={"Retry-After": "1"} if status == 503 else None)


@cache
def _version_info() -> tuple[str, str]:
    """The shipped graph's ``owl:versionInfo`` and ``owl:versionIRI``."""
    from iimkg.graph.loading import shipped_quads

    owl = OWL
    version, iri = "unknown", IIM
    for quad in shipped_quads():
        if quad.predicate.value == owl + "versionInfo" and isinstance(quad.object, ox.Literal):
            version = quad.object.value
        elif quad.predicate.value == owl + "versionIRI" and isinstance(quad.object, ox.NamedNode):
            iri = quad.object.value
    return version, iri


def _example_url(named: NamedQuery) -> str:
    """The REST URL of a named query with the first example value its header gives for each parameter."""
    given = named.example_values()
    return f"/queries/{named.name}" + (f"?{urlencode(given)}" if given else "")


@cache
def _examples() -> tuple[Example, ...]:
    """The named queries as the page lists them: SPARQL with the header's first example values written in.

    The page's form runs SPARQL text, which a reader can change, so the examples are bound in the text itself
    (:func:`~iimkg.endpoint.pages.with_values`); ``/queries/NAME`` binds parameters as terms instead.
    """
    from iimkg.core.errors import IimkgError as Error
    from iimkg.core.rdfterms import Term
    from iimkg.queries.run import list_queries, term_index

    index = term_index()
    out = []
    for named in list_queries():
        bindings = {}
        for p in named.parameters:
            if p.example is None:
                continue
            try:
                bindings[p.name] = Term("uri", index.resolve(p.example, parameter=p.name, kind=p.kind))
            except Error:
                continue
        out.append(Example(named.name, named.question, with_values(named.text, bindings), _example_url(named)))
    return tuple(out)


@cache
def _download_bytes(name: str) -> bytes:
    """The shipped graph in one syntax, written by the release's serialisers (same order, prefixes and context).

    Turtle too is written from the graph, not copied from ``ontology/iim.ttl``: the cross-references are in
    ``ontology/mappings.sssom.tsv``, so the hand-written file alone is not the whole graph.
    """
    from iimkg.graph.loading import shipped_quads
    from iimkg.release import serializers
    from iimkg.release.graph import canonical_triples, ontology_iri_of

    triples = canonical_triples(ox.Triple(q.subject, q.predicate, q.object) for q in shipped_quads())
    if name == "iim.ttl":
        return serializers.turtle(triples, header=ox.NamedNode(ontology_iri_of("iim.owl")),
                                  comment="iim.ttl: the graph this endpoint serves, written from ontology/iim.ttl "
                                          "and ontology/mappings.sssom.tsv.")
    if name == "iim.owl":
        return serializers.rdfxml(triples, header=ox.NamedNode(ontology_iri_of("iim.owl")))
    return {"iim.nt": serializers.ntriples, "iim.jsonld": serializers.jsonld}[name](triples)


class _HttpMiddleware:
    """An ASGI middleware that acts on HTTP requests only and passes anything else (the lifespan) through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class SecurityHeaders(_HttpMiddleware):
    """``X-Content-Type-Options: nosniff`` on every response: a result is never run as a script or page."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-content-type-options", b"nosniff")]
            await send(message)

        await self.app(scope, receive, with_headers)


class AccessLog(_HttpMiddleware):
    """One line per request: client, request line (cut at 300 characters), status, bytes sent, time taken."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        status, size = 0, 0

        async def counting(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            client = scope.get("client") or ("-", 0)
            target = scope.get("raw_path") or scope.get("path", "").encode()
            if scope.get("query_string"):
                target += b"?" + scope["query_string"]
            line = target.decode("latin-1")
            line = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in line)
            line = line[:300] + ("…" if len(line) > 300 else "")
            access_log.info('%s:%s "%s %s HTTP/%s" %d %d %.1fms', client[0], client[1], scope.get("method"), line,
                            scope.get("http_version", "1.1"), status or 500, size,
                            (time.perf_counter() - start) * 1000)


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free port the system picks).

    :raises IimkgError: if the address can't be used (in use, not an address of this machine).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(512)
        return sock
    except OSError as error:
        raise IimkgError(f"can't listen on {host}:{port}: {error.strerror or error}; pick another --port "
                         "(0 takes a free one) or --host") from None


def serve(config: ServeConfig) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM); print ``listening on URL`` on standard output once ready.

    :raises InputError: if a ``--data`` file does not parse (nothing is served).
    :raises IimkgError: if the address can't be used or the query workers don't start.
    """
    import uvicorn

    from iimkg.endpoint.resilience import GuardedH11Protocol, LogDrain

    # Logging never blocks serving: records go to a bounded queue that one thread writes to stderr (dropped and
    # counted when the reader stalls), uvicorn's own loggers included.
    drain = LogDrain(sys.stderr)
    drain.attach(log, "uvicorn", "uvicorn.error", formatter=logging.Formatter("%(asctime)s %(message)s"))
    log.setLevel(logging.INFO)
    drain.start()
    try:
        _serve(config, uvicorn.Server, GuardedH11Protocol)
    finally:
        drain.stop()


def _raise_open_files_limit() -> None:
    """Let this process hold as many sockets as the system allows it (slow clients cost one each)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else max(soft, 65_536),
                                                    hard))


def _serve(config: ServeConfig, server_class: Any, protocol: Any) -> None:
    import uvicorn

    _raise_open_files_limit()
    protocol.head_timeout = config.request_timeout
    dataset = build_dataset(config.data, input_format=config.input_format)
    sock = _listen(config.host, config.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"

    def ready(pool: WorkerPool) -> None:
        print(f"iimkg serve: listening on {url} (SPARQL endpoint {url}sparql; {pool.size} query workers, "
              f"timeout {config.timeout:g} s, at most {config.max_results} rows; "
              f"network isolation {'on' if pool.isolated else 'off'})", flush=True)

    app = create_app(config, dataset, on_ready=ready)
    # Slow clients: a connection has GuardedH11Protocol.head_timeout seconds to send its request head, and one
    # address holds at most GuardedH11Protocol.per_client_waiting connections waiting to; idle keep-alive ends
    # after 5 s; a shutdown (SIGTERM, Ctrl-C) waits at most 3 s for requests under way.
    server = server_class(uvicorn.Config(
        app, http=protocol, lifespan="on", log_level="warning", log_config=None, access_log=False,
        timeout_keep_alive=5, timeout_graceful_shutdown=3, limit_concurrency=1024,
        h11_max_incomplete_event_size=max(65_536, config.max_request_bytes + 16_384), server_header=False))
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        sock.close()
    if not server.started:
        raise IimkgError("the server did not start: the query workers could not load the graph (see above)")

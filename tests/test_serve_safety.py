"""Nothing a client sends can crash the server or make it read, write or call anywhere; the limits hold.

A "canary" HTTP server on 127.0.0.1 records every request it gets: each query or update that names it
(SERVICE, LOAD, FROM, graph IRIs) must leave it untouched.
"""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from test_serve_units import SERVICE_QUERIES

from serving import RESULTS_JSON, Reply, Server, running_server

# pyoxigraph would evaluate this for about 10^11 rows: it only ends when the worker is killed.
ENDLESS = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
TIMEOUT = 2.0


class _Canary(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []  # noqa: RUF012 -- shared on purpose: every request any test makes to it

    def _record(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(200)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.end_headers()
        self.wfile.write(b'{"head":{"vars":[]},"results":{"bindings":[{}]}}')

    do_GET = do_POST = _record

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def canary() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Canary)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One worker, small limits: every limit is reached quickly."""
    with running_server(tmp_path_factory.mktemp("strict"), "--workers", "1", "--timeout", str(TIMEOUT),
                        "--max-results", "50", "--max-request-bytes", "20000", "--worker-memory", "600") as server:
        yield server


def _answers_again(server: Server) -> Reply:
    """A normal query, retried while a replaced worker starts (503, or 500 from the queue): at most 30 s."""
    deadline = time.monotonic() + 30
    while True:
        reply = server.sparql("ASK { ?s ?p ?o }")
        if reply.status == 200 or time.monotonic() > deadline:
            return reply
        time.sleep(0.2)


# ── calling out ──

@pytest.mark.parametrize("text", SERVICE_QUERIES)
def test_service_is_refused_and_nobody_is_called(strict: Server, canary: str, text: str) -> None:
    reply = strict.sparql(text.replace("http://127.0.0.1:9/", canary + "/"))
    assert reply.status == 500 and reply.text.startswith("refused: SERVICE"), reply.text
    assert _Canary.seen == []


@pytest.mark.parametrize("update", [
    "LOAD <{canary}/data.ttl>",
    "LOAD SILENT <{canary}/data.ttl> INTO GRAPH <urn:g>",
    "LOAD <file:///etc/passwd>",
    "CLEAR ALL",
    "DROP GRAPH <https://w3id.org/iimkg/iim.owl>",
    "INSERT DATA {{ <urn:a> <urn:b> <urn:c> }}",
])
def test_updates_are_refused_and_load_fetches_nothing(strict: Server, canary: str, update: str) -> None:
    for reply in (strict.post("/sparql", urlencode({"update": update.format(canary=canary)}).encode(),
                              "application/x-www-form-urlencoded"),
                  strict.post("/sparql", update.format(canary=canary).encode(), "application/sparql-update")):
        assert reply.status == 500 and reply.text.startswith("refused: this endpoint is read-only"), reply.text
    assert _Canary.seen == []
    assert strict.sparql("ASK { GRAPH <https://w3id.org/iimkg/iim.owl> { ?s ?p ?o } }").json()["boolean"] is True


def test_from_a_url_or_a_file_reads_nothing(strict: Server, canary: str) -> None:
    for source in (f"{canary}/data.ttl", "file:///etc/passwd", "file:///etc/hostname"):
        reply = strict.sparql(f"SELECT * FROM <{source}> FROM NAMED <{source}> {{ {{ ?s ?p ?o }} UNION "
                              "{ GRAPH ?g { ?s ?p ?o } } }")
        assert reply.status == 200 and reply.json()["results"]["bindings"] == []
    assert _Canary.seen == []


def test_workers_are_cut_off_from_the_network(strict: Server) -> None:
    if "network isolation on" not in strict.banner:
        pytest.skip("this kernel lets no process make a network namespace: the SERVICE guard is the only wall")
    assert "network isolation on" in strict.banner


# ── limits ──

def test_a_query_past_the_timeout_is_stopped_and_the_server_goes_on(strict: Server) -> None:
    start = time.monotonic()
    reply = strict.sparql(ENDLESS)
    took = time.monotonic() - start
    assert reply.status == 500 and "ran longer than 2 s" in reply.text, reply.text
    assert TIMEOUT <= took < TIMEOUT + 5
    assert _answers_again(strict).status == 200


def test_more_rows_than_the_limit_are_refused(strict: Server) -> None:
    over = strict.sparql("SELECT ?s ?p ?o { ?s ?p ?o }")
    assert over.status == 500 and "more than 50 rows" in over.text
    at = strict.sparql("SELECT ?s ?p ?o { ?s ?p ?o } LIMIT 50")
    assert at.status == 200 and len(at.json()["results"]["bindings"]) == 50
    graph = strict.sparql("CONSTRUCT WHERE { ?s ?p ?o }", accept="text/turtle")
    assert graph.status == 500 and "more than 50 rows" in graph.text
    named = strict.get("/queries/mappings")
    assert named.status == 500 and "more than 50 rows" in named.json()["error"]


def test_a_body_over_the_request_limit_is_413(strict: Server) -> None:
    text = "ASK { ?s ?p ?o } #" + "x" * 25_000
    assert strict.post("/sparql", text.encode(), "application/sparql-query").status == 413
    form = urlencode({"query": text}).encode()
    assert strict.post("/sparql", form, "application/x-www-form-urlencoded").status == 413
    chunked = (b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + b"".join(
                   b"%x\r\n%s\r\n" % (len(piece), piece) for piece in [text.encode()[i:i + 4000]
                                                                         for i in range(0, len(text), 4000)])
               + b"0\r\n\r\n")
    assert _raw(strict, chunked).startswith(b"HTTP/1.1 413 ")


def test_a_url_over_the_request_limit_is_414(strict: Server) -> None:
    reply = strict.sparql("ASK { ?s ?p ?o } #" + "x" * 25_000)
    assert reply.status == 414 and "POST" in reply.text


def test_a_query_that_needs_too_much_memory_ends_only_its_worker(strict: Server) -> None:
    reply = strict.sparql("SELECT ?a ?b ?c { ?a ?p ?x . ?b ?q ?y . ?c ?r ?z } ORDER BY ?a ?b ?c LIMIT 1")
    assert (reply.status == 500 and reply.text.startswith("refused:")) or "memory" in reply.text, reply.text
    assert _answers_again(strict).status == 200 and strict.alive()


# ── hostile input ──

def _raw(server: Server, data: bytes, timeout: float = 10) -> bytes:
    """Send bytes as they are and return what comes back (until the server closes or 2 s of silence)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as connection:
        connection.sendall(data)
        connection.settimeout(2)
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return received


HOSTILE_QUERIES = [
    "SELECT * {" + "{" * 9_000 + "}" * 9_000 + "}",
    "SELECT * { FILTER(" + "(" * 5000 + "1" + ")" * 5000 + ") }",
    "SELECT * WHERE { ?s ?p ?o } LIMIT 99999999999999999999999999",
    "SELECT (REGEX(?o, '(a+)+$') AS ?x) { ?s ?p ?o } LIMIT 5",
    "\x00\x01\x02",
    "SELECT ?x { BIND(<\u0000> AS ?x) }",
    "\ufeffASK {}",
    "PREFIX : <http://e/> SELECT * { :a :b :c " * 200,
    "DESCRIBE ?x",
    "SELECT * { ?s ?p ?o } ORDER BY (1/0)",
    "SELECT (SUM(?o) AS ?n) { ?s ?p ?o }",
    "SELECT * { BIND(STRLEN(CONCAT(" + ", ".join(['"x"'] * 2000) + ")) AS ?n) }",
]


@pytest.mark.parametrize("text", HOSTILE_QUERIES, ids=range(len(HOSTILE_QUERIES)))
def test_hostile_queries_get_an_answer_and_the_server_stays_up(strict: Server, text: str) -> None:
    reply = strict.post("/sparql", text.encode("utf-8"), "application/sparql-query", Accept=RESULTS_JSON)
    assert reply.status in {200, 400, 406, 500}, (reply.status, reply.text)
    assert not reply.text.startswith("internal error")
    assert _answers_again(strict).status == 200 and strict.alive()


@pytest.mark.parametrize("data", [
    b"GARBAGE\r\n\r\n",
    b"GET /sparql?query=%ZZ HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\nContent-Length: -5\r\n\r\n",
    b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\nContent-Length: 100\r\n\r\nASK",
    b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\nContent-Length: 9999999999\r\n\r\n",
    b"GET /sparql HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 200_000 + b"\r\n\r\n",
    b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /sparql?query=ASK%7B%7D HTTP/1.0\r\n\r\n",
    b"GET /sparql HTTP/1.1\r\nHost: x\r\nAccept: \xff\xfe;q=nan, */*;q=-1\r\n\r\n",
    b"GET /queries/%00%ff HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /download/..%2F..%2Fetc%2Fpasswd HTTP/1.1\r\nHost: x\r\n\r\n",
    b"BREW /sparql HTTP/1.1\r\nHost: x\r\n\r\n",
])
def test_broken_http_gets_an_error_and_the_server_stays_up(strict: Server, data: bytes) -> None:
    answer = _raw(strict, data)
    if answer:
        status = int(answer.split(b" ", 2)[1])
        assert 200 <= status < 500 or (status == 500 and b"internal error" not in answer), answer[:300]
        assert b"root:" not in answer
    assert _answers_again(strict).status == 200 and strict.alive()


def test_the_access_log_has_a_line_per_request(strict: Server) -> None:
    strict.get("/queries")
    deadline = time.monotonic() + 10
    while '"GET /queries HTTP/1.1" 200' not in strict.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert '"GET /queries HTTP/1.1" 200' in strict.log_text()
    assert "Traceback" not in strict.log_text()


def test_the_server_never_wrote_a_file(strict: Server, tmp_path: Path) -> None:
    # Every request above ran with the server's working folder unchanged; nothing may appear beside the log.
    assert [p.name for p in strict.log.parent.iterdir()] == [strict.log.name]


# ── the depth limit reaches the workers ──

def _nested(depth: int) -> str:
    """An ASK whose FILTER nests ``depth - 1`` parentheses inside the braces of its pattern."""
    return "ASK { FILTER(" + "(" * (depth - 2) + "true" + ")" * (depth - 2) + ") }"


def test_max_depth_of_serve_reaches_the_query_workers(tmp_path: Path) -> None:
    """Workers are spawned with core/limits' defaults (128): the flag must travel to them, both ways."""
    from iimkg.core.limits import Limits

    default = Limits().max_depth
    deeper = default + 40
    with running_server(tmp_path, "--workers", "1", "--max-depth", str(deeper + 10)) as server:
        allowed = server.sparql(_nested(deeper))
        assert allowed.status == 200 and allowed.json()["boolean"] is True, allowed.text
        refused = server.sparql(_nested(deeper + 20))
        assert refused.status == 400 and f"limit of {deeper + 10}" in refused.text, refused.text
    with running_server(tmp_path, "--workers", "1", "--max-depth", "20") as server:
        refused = server.sparql(_nested(30))
        assert refused.status == 400 and "limit of 20" in refused.text, refused.text

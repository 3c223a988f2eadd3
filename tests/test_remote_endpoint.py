"""Named queries on a real SPARQL server holding the release give the local engine's rows, exactly.

The release's store files (``store/`` of ``iimkg release``: ``iimkg.nq``, the English graph and each language's
translations as named graphs, and ``iimkg.nt``, the English graph alone) are loaded the way a user loads them:
``iimkg.nq`` with the release's own ``load-oxigraph.sh`` and served with ``--union-default-graph`` (what the script
says to do), ``iimkg.nt`` with ``oxigraph load`` into the default graph; each store is served with
``oxigraph serve-read-only`` on a free loopback port, and every named query runs with every example value of its
header, locally and through ``--endpoint``, on both. Failures of the endpoint (refused, HTTP errors, a reply that is not
SPARQL results, silence) are one line each, exit 2.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import rdflib

from iimkg.cli.main import main
from iimkg.queries.named import NamedQuery
from iimkg.queries.remote import Endpoint, EndpointError
from iimkg.queries.run import list_queries, query
from iimkg.release.store import shipped_store_files

START_SECONDS = 30.0


def _oxigraph() -> str:
    found = shutil.which("oxigraph") or str(Path(sys.executable).with_name("oxigraph"))
    if not Path(found).is_file():
        pytest.skip("the Oxigraph server is not installed: pip install oxigraph (it is in the test extra)")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module", params=["nq", "nt"])
def endpoint(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of an Oxigraph server's query service holding the release's store files, loaded as a user would."""
    oxigraph = _oxigraph()
    folder = tmp_path_factory.mktemp("oxigraph")
    for name, content in shipped_store_files().items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    store = folder / "db"
    env = {**os.environ, "PATH": f"{Path(oxigraph).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    if request.param == "nq":
        subprocess.run(["sh", str(folder / "store" / "load-oxigraph.sh"), str(store)], check=True,
                       capture_output=True, timeout=120, env=env)
        union = ["--union-default-graph"]
    else:
        subprocess.run([oxigraph, "load", "--location", str(store), "--file", str(folder / "store" / "iimkg.nt")],
                       check=True, capture_output=True, timeout=120)
        union = []
    port = _free_port()
    server = subprocess.Popen([oxigraph, "serve-read-only", "--location", str(store), *union,
                               "--bind", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/query"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"{url}?query=ASK%7B%7D", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    err = server.stderr.read().decode() if server.stderr and server.poll() is not None else ""
                    pytest.fail(f"the Oxigraph server did not start on port {port}: {err[:500]}")
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


def _cases() -> list[tuple[str, dict[str, str]]]:
    """Each named query with each example value of each parameter (and with none, where all are optional)."""
    cases = []
    for named in list_queries():
        cases += [(named.name, values) for values in _examples(named)]
    return cases


def _examples(named: NamedQuery) -> list[dict[str, str]]:
    combos = [{p.name: value} for p in named.parameters for value in p.examples]
    if all(p.optional for p in named.parameters):
        combos.append({})
    return combos


@pytest.mark.parametrize(("name", "values"), _cases(), ids=lambda c: c if isinstance(c, str) else
                         ",".join(c.values()) or "-")
def test_every_named_query_gives_the_local_rows(endpoint: str, name: str, values: dict[str, str]) -> None:
    local = query(name, **values)
    remote = query(name, endpoint=endpoint, **values)
    assert remote.columns == local.columns
    assert remote.rows == local.rows, f"{name} {values}: {len(remote)} rows remotely, {len(local)} locally"


def test_the_cases_cover_every_query_and_find_rows() -> None:
    names = {name for name, _ in _cases()}
    assert names == {q.name for q in list_queries()}
    assert all(len(query(name, **values)) > 0 for name, values in _cases()[:3])


def test_the_cli_writes_the_same_output_through_the_endpoint(endpoint: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    args = ["query", "adverse-effects", "--drug", "prednisona", "--format", "json"]
    assert main(args) == 0
    local = capsys.readouterr().out
    assert main([*args, "--endpoint", endpoint]) == 0
    remote = capsys.readouterr().out
    assert remote == local and json.loads(remote)["results"]["bindings"]


def test_sparql_on_the_endpoint_writes_a_construct_as_turtle(endpoint: str, request: pytest.FixtureRequest,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The labels of a term, as RDF; ``iimkg.nt`` is the English graph alone (translations are in ``iimkg.nq``)."""
    text = ("CONSTRUCT { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l } WHERE { "
            "?s <http://www.w3.org/2000/01/rdf-schema#label> ?l FILTER (?s = <https://w3id.org/iimkg/IIM_0000102>) }")
    assert main(["sparql", text]) == 0
    local = rdflib.Graph().parse(data=capsys.readouterr().out, format="turtle")
    assert main(["sparql", text, "--endpoint", endpoint]) == 0
    remote = rdflib.Graph().parse(data=capsys.readouterr().out, format="turtle")
    with_translations = request.node.callspec.params["endpoint"] == "nq"
    assert set(remote) == {t for t in local if with_translations or getattr(t[2], "language", None) == "en"}
    languages = {o.language for _, _, o in remote if isinstance(o, rdflib.Literal)}
    assert languages >= {"en", "es", "ca"} if with_translations else languages == {"en"}


def test_sparql_on_the_endpoint_answers_ask(endpoint: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sparql", "ASK { <https://w3id.org/iimkg/IIM_0000002> ?p ?o }", "--endpoint", endpoint]) == 0
    assert capsys.readouterr().out == "true\n"


def test_the_endpoint_still_refuses_service_in_the_query(endpoint: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }"
    assert main(["sparql", text, "--endpoint", endpoint]) == 2
    assert "SERVICE" in capsys.readouterr().err


# --- failures, without a SPARQL server ----------------------------------------------------------------------------

def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


def test_a_refused_connection_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_free_port()}/query"
    assert main(["query", "subtypes", "--endpoint", url]) == 2
    line = _one_line(capsys)
    assert url in line and "connection refused" in line


# the user and password /private asks for, with the characters a URL must percent-encode
USER, PASSWORD = "ana maría", "p@ss:wörd/1"


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers as the path says: /html a web page, /error a 500, /slow nothing for 5 s, /bad broken JSON, /moved a
    redirect, /private ``true`` to an ASK with HTTP Basic credentials USER and PASSWORD and 401 without."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/private":
            token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode("ascii")
            if self.headers.get("Authorization") == f"Basic {token}":
                self._answer(200, "application/sparql-results+json", b'{"head": {}, "boolean": true}')
            else:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="sparql"')
                self.send_header("Content-Length", "0")
                self.end_headers()
            return
        if self.path == "/slow":
            time.sleep(5)
        if self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/query")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, kind, body = {
            "/html": (200, "text/html", b"<html><body>Welcome</body></html>"),
            "/error": (500, "text/plain", b"Virtuoso 37000 Error SP030: SPARQL compiler, line 3: syntax error"),
            "/bad": (200, "application/sparql-results+json", b'{"head": {"vars": ["x"]}, "results": '),
        }.get(self.path, (404, "text/plain", b"no such page"))
        self._answer(status, kind, body)

    def _answer(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture(scope="module")
def impostor() -> Iterator[str]:
    """A web server that is not a SPARQL endpoint."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("path", "says"), [
    ("/html", "text/html, not SPARQL results"),
    ("/error", "answered HTTP 500 Internal Server Error: Virtuoso 37000 Error SP030"),
    ("/bad", "is not valid SPARQL results"),
    ("/missing", "answered HTTP 404"),
    ("/moved", "/moved redirects to http://127.0.0.1:"),
])
def test_a_reply_that_is_not_sparql_results_is_one_line(impostor: str, path: str, says: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "adverse-effects", "--drug", "prednisone", "--endpoint", impostor + path]) == 2
    assert says in _one_line(capsys)


def _with_user(url: str, user: str, password: str | None = None) -> str:
    secret = "" if password is None else ":" + urllib.parse.quote(password, safe="")
    return url.replace("://", f"://{urllib.parse.quote(user, safe='')}{secret}@", 1)


def test_a_store_that_asks_for_a_password_gets_the_urls(impostor: str, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IIMKG_ENDPOINT_PASSWORD", raising=False)
    assert main(["sparql", "--endpoint", _with_user(impostor + "/private", USER, PASSWORD), "ASK {}"]) == 0
    assert "true" in capsys.readouterr().out
    # the user in the URL, the password from the environment (out of the shell's history and the process list)
    monkeypatch.setenv("IIMKG_ENDPOINT_PASSWORD", PASSWORD)
    assert main(["sparql", "--endpoint", _with_user(impostor + "/private", USER), "ASK {}"]) == 0
    assert "true" in capsys.readouterr().out


def test_a_refused_or_missing_password_is_one_line_that_does_not_show_it(
        impostor: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IIMKG_ENDPOINT_PASSWORD", raising=False)
    assert main(["sparql", "--endpoint", impostor + "/private", "ASK {}"]) == 2
    assert "HTTP 401" in (line := _one_line(capsys)) and "asks for a user and password" in line
    wrong = _with_user(impostor + "/private", USER, "not-" + PASSWORD)
    assert main(["sparql", "--endpoint", wrong, "ASK {}"]) == 2
    line = _one_line(capsys)
    assert "refused the user and password" in line and "not-" not in line and ":***@" in line
    closed = _with_user(f"http://127.0.0.1:{_free_port()}/query", USER, PASSWORD)
    assert main(["query", "subtypes", "--endpoint", closed]) == 2
    line = _one_line(capsys)
    assert "connection refused" in line and urllib.parse.quote(PASSWORD, safe="") not in line


def test_a_silent_endpoint_times_out(impostor: str) -> None:
    with pytest.raises(EndpointError, match=r"did not answer within 0\.5 s|no answer within 0\.5 s"):
        query("subtypes", endpoint=Endpoint(impostor + "/slow", timeout=0.5))


def test_an_endpoint_that_is_not_http_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["query", "subtypes", "--endpoint", "file:///etc/passwd"])
    assert stopped.value.code == 2
    assert "not an http:// or https:// URL" in capsys.readouterr().err
    with pytest.raises(EndpointError, match="not an http"):
        query("subtypes", endpoint="localhost:7878")


def test_endpoint_and_engine_or_data_do_not_mix(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["query", "subtypes", "--engine", "rdflib", "--endpoint", "http://127.0.0.1:9/query"]) == 2
    assert "--engine rdflib chooses a local engine" in _one_line(capsys)
    data = tmp_path / "x.ttl"
    data.write_text("<http://example.org/a> <http://example.org/b> 1 .\n")
    assert main(["sparql", "ASK {}", "--data", str(data), "--endpoint", "http://127.0.0.1:9/query"]) == 2
    assert "--data adds files to the local graph" in _one_line(capsys)

"""Comunica, the JavaScript SPARQL engine, against ``iimkg serve``: ``comunica-sparql sparql@URL QUERY -t FORMAT``.

Comunica is installed with npm into ``tests/.cache/comunica`` (ignored by git) on first use and reused after.
``undici`` is held at 7: Comunica 5 asks for undici 8, which needs Node 22.19 or later, and Debian's Node is 20.
The tests skip, saying why, only when npm is missing or cannot install the package (no registry). Each answer is
parsed and compared with the same query run in this process, so a lost language tag or row fails.

Not tested: ``ASK`` with ``-t application/sparql-results+xml``, which Comunica 5.4 itself cannot write (its XML
serialiser asks a boolean result for its variables and fails with "action.metadata is not a function", whatever
the source).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest

from iimkg.graph.loading import shared_store

from serving import Server, running_server

CACHE = Path(__file__).resolve().parent / ".cache" / "comunica"
PACKAGE = {
    "private": True,
    "description": "Comunica for tests/test_serve_comunica.py",
    "dependencies": {"@comunica/query-sparql": "5.4.1"},
    "overrides": {"undici": "^7"},
}
INSTALL_SECONDS = 300
RUN_SECONDS = 120
PREDNISONE = "https://w3id.org/iimkg/IIM_0000102"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
LABELS = f"SELECT ?label WHERE {{ <{PREDNISONE}> <{RDFS}label> ?label }} ORDER BY ?label"
CONSTRUCT = f"CONSTRUCT {{ <{PREDNISONE}> ?p ?o }} WHERE {{ <{PREDNISONE}> ?p ?o }}"
RESULTS = "http://www.w3.org/2005/sparql-results#"


def _installed() -> Path:
    """The ``comunica-sparql`` command, installed into the cache folder if it is not there yet."""
    command = CACHE / "node_modules" / ".bin" / "comunica-sparql"
    manifest = CACHE / "package.json"
    wanted = json.dumps(PACKAGE, indent=2) + "\n"
    if command.exists() and manifest.exists() and manifest.read_text(encoding="utf-8") == wanted:
        return command
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("Node.js and npm are not installed (Debian: apt-get install npm); Comunica can't run")
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE.parent / ".gitignore").write_text("*\n", encoding="utf-8")
    manifest.write_text(wanted, encoding="utf-8")
    try:
        # without a registry npm would retry for many minutes: one short retry, then skip
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "--fetch-retries=1",
                               "--fetch-timeout=60000", "--fetch-retry-maxtimeout=10000"], cwd=CACHE,
                              capture_output=True, text=True, timeout=INSTALL_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm could not install @comunica/query-sparql within {INSTALL_SECONDS} s")
    if done.returncode != 0 or not command.exists():
        manifest.unlink(missing_ok=True)  # try again next time
        last = " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        pytest.skip(f"npm could not install @comunica/query-sparql (exit {done.returncode}): {last[:300]}")
    return command


@pytest.fixture(scope="module")
def comunica() -> Path:
    return _installed()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("comunica"), "--workers", "2") as running:
        yield running


def run(comunica: Path, server: Server, query: str, media_type: str | None = None) -> str:
    """``comunica-sparql sparql@URL/sparql QUERY [-t MEDIA_TYPE]``: its standard output; it must exit 0."""
    args = [str(comunica), f"sparql@{server.url}/sparql", query, *(["-t", media_type] if media_type else [])]
    done = subprocess.run(args, capture_output=True, text=True, timeout=RUN_SECONDS, check=False)
    assert done.returncode == 0, f"comunica-sparql exit {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout


def _labels_here() -> list[tuple[str, str]]:
    solutions = shared_store().query(LABELS)
    assert isinstance(solutions, ox.QuerySolutions)
    return [(s["label"].value, s["label"].language) for s in solutions]


def _triples_here(query: str) -> set[ox.Triple]:
    triples = shared_store().query(query)
    assert isinstance(triples, ox.QueryTriples)
    return set(triples)


def test_select_as_sparql_json(comunica: Path, server: Server) -> None:
    data = json.loads(run(comunica, server, LABELS, "application/sparql-results+json"))
    got = [(b["label"]["value"], b["label"].get("xml:lang")) for b in data["results"]["bindings"]]
    assert got == _labels_here() and {lang for _, lang in got} >= {"en", "es", "ca"}


def test_select_as_sparql_xml(comunica: Path, server: Server) -> None:
    root = ET.fromstring(run(comunica, server, LABELS, "application/sparql-results+xml"))
    got = [(e.text, e.get("{http://www.w3.org/XML/1998/namespace}lang")) for e in root.iter(f"{{{RESULTS}}}literal")]
    assert got == _labels_here()


def test_select_as_csv(comunica: Path, server: Server) -> None:
    rows = list(csv.reader(io.StringIO(run(comunica, server, LABELS, "text/csv"), newline="")))
    assert rows == [["label"], *([text] for text, _ in _labels_here())]


def test_select_as_tsv(comunica: Path, server: Server) -> None:
    lines = run(comunica, server, LABELS, "text/tab-separated-values").splitlines()
    assert lines == ["?label", *(str(ox.Literal(text, language=lang)) for text, lang in _labels_here())]


def test_a_long_query_comunica_posts(comunica: Path, server: Server) -> None:
    """Comunica sends a query whose URL would be long as a POST form: the same answer."""
    others = " ".join(f"<{PREDNISONE}{n}>" for n in range(60))
    query = f"SELECT ?label WHERE {{ VALUES ?drug {{ <{PREDNISONE}> {others} }} ?drug <{RDFS}label> ?label }} " \
            "ORDER BY ?label"
    data = json.loads(run(comunica, server, query, "application/sparql-results+json"))
    got = [(b["label"]["value"], b["label"].get("xml:lang")) for b in data["results"]["bindings"]]
    assert got == _labels_here()
    assert '"POST /sparql' in server.log_text()


def test_ask(comunica: Path, server: Server) -> None:
    assert json.loads(run(comunica, server, f"ASK {{ <{PREDNISONE}> ?p ?o }}",
                          "application/sparql-results+json"))["boolean"] is True
    assert run(comunica, server, f"ASK {{ <{PREDNISONE}> <{RDFS}label> 'no such label' }}").strip() == "false"


@pytest.mark.parametrize(("media_type", "fmt"), [("text/turtle", ox.RdfFormat.TURTLE),
                                                 ("application/n-triples", ox.RdfFormat.N_TRIPLES)])
def test_construct(comunica: Path, server: Server, media_type: str, fmt: ox.RdfFormat) -> None:
    body = run(comunica, server, CONSTRUCT, media_type).encode("utf-8")
    assert {q.triple for q in ox.parse(body, format=fmt)} == _triples_here(CONSTRUCT)


def test_describe(comunica: Path, server: Server) -> None:
    body = run(comunica, server, f"DESCRIBE <{PREDNISONE}>", "application/n-triples").encode("utf-8")
    got = {q.triple for q in ox.parse(body, format=ox.RdfFormat.N_TRIPLES)}
    assert got == _triples_here(f"DESCRIBE <{PREDNISONE}>") and len(got) > 5

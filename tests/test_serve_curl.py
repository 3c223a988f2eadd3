"""curl against ``iimkg serve``, as people type it: GET and POST, form and direct bodies, every ``Accept`` type.

Each answer is parsed and compared with the same query run in this process on the shipped graph, so a format
that loses a language tag, a datatype or a row fails. curl is Debian's (``/usr/bin/curl``); without it the tests
skip and say so.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
import pytest

from iimkg.endpoint.protocol import ASK_FORMATS, GRAPH_FORMATS, SELECT_FORMATS, ResultFormat
from iimkg.graph.loading import shared_store

from serving import Server, running_server

CURL = shutil.which("curl")
pytestmark = pytest.mark.skipif(CURL is None, reason="curl is not installed (Debian: apt-get install curl)")

PREDNISONE = "https://w3id.org/iimkg/IIM_0000102"
# labels in three languages, a datatype'd literal (a count) and IRIs: what a format can lose
SELECT = f"""PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?label ?parent (COUNT(?p) AS ?n) WHERE {{
  <{PREDNISONE}> rdfs:label ?label ; rdfs:subClassOf ?parent ; ?p ?o .
  FILTER(isIRI(?parent))
}} GROUP BY ?label ?parent ORDER BY ?label ?parent"""
CONSTRUCT = f"CONSTRUCT {{ <{PREDNISONE}> ?p ?o }} WHERE {{ <{PREDNISONE}> ?p ?o }}"
ASK = f"ASK {{ <{PREDNISONE}> ?p ?o }}"
_RESULTS = {ResultFormat.JSON: ox.QueryResultsFormat.JSON, ResultFormat.XML: ox.QueryResultsFormat.XML,
            ResultFormat.CSV: ox.QueryResultsFormat.CSV, ResultFormat.TSV: ox.QueryResultsFormat.TSV}
_GRAPHS = {ResultFormat.TURTLE: ox.RdfFormat.TURTLE, ResultFormat.NTRIPLES: ox.RdfFormat.N_TRIPLES,
           ResultFormat.RDFXML: ox.RdfFormat.RDF_XML, ResultFormat.JSONLD: ox.RdfFormat.JSON_LD}


@dataclass(frozen=True)
class Answer:
    status: int
    media_type: str
    body: bytes


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("curl"), "--workers", "2") as running:
        yield running


def curl(server: Server, folder: Path, *args: str, path: str = "/sparql") -> Answer:
    """``curl -sS ARGS URL``: the status, media type and body (headers and body go to files, never mixed)."""
    assert CURL is not None
    headers, body = folder / "headers", folder / "body"
    done = subprocess.run([CURL, "-sS", "--noproxy", "*", "--max-time", "60", "-D", str(headers), "-o", str(body),
                           *args, server.url + path], capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr
    lines = headers.read_text(encoding="latin-1").splitlines()
    status = int(lines[0].split()[1])
    media = next((line.split(":", 1)[1].split(";")[0].strip() for line in lines
                  if line.lower().startswith("content-type:")), "")
    return Answer(status, media, body.read_bytes())


def _rows(results: ox.QuerySolutions) -> list[tuple[str, ...]]:
    return [tuple(str(s[v]) if s[v] is not None else "" for v in results.variables) for s in results]


def _expected_rows(fmt: ResultFormat) -> list[tuple[str, ...]]:
    """The rows of SELECT here, as they come back through ``fmt`` (CSV keeps only each term's text, by design)."""
    solutions = shared_store().query(SELECT)
    assert isinstance(solutions, ox.QuerySolutions)
    if fmt is ResultFormat.CSV:
        return [tuple(s[v].value if s[v] is not None else "" for v in solutions.variables) for s in solutions]
    return _rows(solutions)


def _parsed_rows(answer: Answer, fmt: ResultFormat) -> list[tuple[str, ...]]:
    if fmt is ResultFormat.CSV:  # pyoxigraph does not read CSV results (they are lossy): the csv module does
        header, *rows = csv.reader(io.StringIO(answer.body.decode("utf-8"), newline=""))
        assert header == ["label", "parent", "n"]
        return [tuple(row) for row in rows]
    parsed = ox.parse_query_results(answer.body, format=_RESULTS[fmt])
    assert isinstance(parsed, ox.QuerySolutions)
    return _rows(parsed)


def _triples(body: bytes, fmt: ox.RdfFormat) -> set[ox.Triple]:
    return {q.triple for q in ox.parse(body, format=fmt)}


def _expected_triples() -> set[ox.Triple]:
    triples = shared_store().query(CONSTRUCT)
    assert isinstance(triples, ox.QueryTriples)
    return set(triples)


@pytest.mark.parametrize(("accept", "fmt"), SELECT_FORMATS)
def test_get_select_with_each_accept_type(server: Server, tmp_path: Path, accept: str, fmt: ResultFormat) -> None:
    answer = curl(server, tmp_path, "-G", "--data-urlencode", f"query={SELECT}", "-H", f"Accept: {accept}")
    assert (answer.status, answer.media_type) == (200, fmt.value), answer.body[:300]
    rows = _parsed_rows(answer, fmt)
    assert rows == _expected_rows(fmt) and len(rows) >= 3  # en, es, ca


@pytest.mark.parametrize(("accept", "fmt"), GRAPH_FORMATS)
def test_get_construct_with_each_accept_type(server: Server, tmp_path: Path, accept: str, fmt: ResultFormat) -> None:
    answer = curl(server, tmp_path, "-G", "--data-urlencode", f"query={CONSTRUCT}", "-H", f"Accept: {accept}")
    assert (answer.status, answer.media_type) == (200, fmt.value), answer.body[:300]
    assert _triples(answer.body, _GRAPHS[fmt]) == _expected_triples()


@pytest.mark.parametrize(("accept", "fmt"), ASK_FORMATS)
def test_ask_with_each_accept_type(server: Server, tmp_path: Path, accept: str, fmt: ResultFormat) -> None:
    answer = curl(server, tmp_path, "-G", "--data-urlencode", f"query={ASK}", "-H", f"Accept: {accept}")
    assert (answer.status, answer.media_type) == (200, fmt.value), answer.body[:300]
    assert bool(ox.parse_query_results(answer.body, format=_RESULTS[fmt])) is True


def test_post_form_encoded_as_curl_data_urlencode_sends_it(server: Server, tmp_path: Path) -> None:
    answer = curl(server, tmp_path, "--data-urlencode", f"query={SELECT}", "-H", "Accept: text/csv")
    assert (answer.status, answer.media_type) == (200, "text/csv")
    assert _parsed_rows(answer, ResultFormat.CSV) == _expected_rows(ResultFormat.CSV)


def test_post_form_as_typed_without_encoding(server: Server, tmp_path: Path) -> None:
    """``curl -d 'query=…'`` sends the text as it is (spaces, ``?``, ``<``): a form body the endpoint reads."""
    answer = curl(server, tmp_path, "-d", f"query={ASK}")
    assert (answer.status, answer.media_type) == (200, ResultFormat.JSON.value)
    assert b'"boolean":true' in answer.body


def test_post_the_query_itself_from_a_file(server: Server, tmp_path: Path) -> None:
    query_file = tmp_path / "query.rq"
    query_file.write_text(SELECT, encoding="utf-8")
    answer = curl(server, tmp_path, "--data-binary", f"@{query_file}", "-H", "Content-Type: application/sparql-query",
                  "-H", "Accept: application/sparql-results+xml")
    assert (answer.status, answer.media_type) == (200, ResultFormat.XML.value)
    assert _parsed_rows(answer, ResultFormat.XML) == _expected_rows(ResultFormat.XML)


def test_curls_default_accept_gets_json_results_and_turtle_graphs(server: Server, tmp_path: Path) -> None:
    select = curl(server, tmp_path, "-G", "--data-urlencode", f"query={SELECT}")
    assert (select.status, select.media_type) == (200, ResultFormat.JSON.value)
    graph = curl(server, tmp_path, "-G", "--data-urlencode", f"query={CONSTRUCT}")
    assert (graph.status, graph.media_type) == (200, ResultFormat.TURTLE.value)
    assert _triples(graph.body, ox.RdfFormat.TURTLE) == _expected_triples()


@pytest.mark.parametrize(("name", "fmt"), [("csv", ResultFormat.CSV), ("tsv", ResultFormat.TSV),
                                           ("xml", ResultFormat.XML), ("json", ResultFormat.JSON)])
def test_the_format_parameter_overrides_accept(server: Server, tmp_path: Path, name: str, fmt: ResultFormat) -> None:
    answer = curl(server, tmp_path, "-G", "--data-urlencode", f"query={SELECT}", "--data-urlencode", f"format={name}",
                  "-H", "Accept: application/sparql-results+json")
    assert (answer.status, answer.media_type) == (200, fmt.value)
    assert _parsed_rows(answer, fmt) == _expected_rows(fmt)


def test_the_service_description_and_a_named_query(server: Server, tmp_path: Path) -> None:
    description = curl(server, tmp_path, "-H", "Accept: text/turtle")
    assert (description.status, description.media_type) == (200, "text/turtle")
    assert any(t.object == ox.NamedNode("http://www.w3.org/ns/sparql-service-description#Service")
               for t in ox.parse(description.body, format=ox.RdfFormat.TURTLE))
    named = curl(server, tmp_path, "-G", "--data-urlencode", "drug=prednisone", "-H", "Accept: text/csv",
                 path="/queries/adverse-effects")
    assert (named.status, named.media_type) == (200, "text/csv")
    assert named.body.splitlines()[0].startswith(b"effect,effectLabel")


def test_what_curl_users_get_wrong_gets_one_clear_line(server: Server, tmp_path: Path) -> None:
    malformed = curl(server, tmp_path, "-G", "--data-urlencode", "query=SELECT * WHERE { ?s ?p }")
    assert malformed.status == 400 and malformed.body.startswith(b"malformed query: ")
    multipart = curl(server, tmp_path, "-F", f"query={ASK}")
    assert multipart.status == 415 and b"application/x-www-form-urlencoded" in multipart.body
    wrong = curl(server, tmp_path, "-G", "--data-urlencode", f"query={SELECT}", "-H", "Accept: text/turtle")
    assert wrong.status == 406 and b"text/csv" in wrong.body


def test_a_repeated_format_with_one_meaning_is_read_and_a_conflict_is_refused(server: Server, tmp_path: Path) -> None:
    same = curl(server, tmp_path, "-G", "--data-urlencode", f"query={SELECT}", "--data-urlencode", "format=tsv",
                "--data-urlencode", "format=text/tab-separated-values")
    assert (same.status, same.media_type) == (200, ResultFormat.TSV.value)
    conflict = curl(server, tmp_path, "-G", "--data-urlencode", f"query={SELECT}", "--data-urlencode", "format=csv",
                    "--data-urlencode", "format=json")
    assert conflict.status == 400, conflict.body

"""Real clients against ``iimkg serve``: SPARQLWrapper and rdflib's SPARQLStore in every return format, plain HTTP,
many at once."""

from __future__ import annotations

import csv
import http.client
import io
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast
from urllib.parse import urlencode
from xml.dom.minidom import Document

import pyoxigraph as ox
import pytest
import rdflib

from iimkg.graph.loading import shared_store
from iimkg.queries.output import render
from iimkg.queries.run import query

from serving import Server, running_server

IIM = "https://w3id.org/iimkg/"
PREDNISONE = IIM + "IIM_0000102"
LABELS = f"""PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?label WHERE {{ <{PREDNISONE}> rdfs:label ?label }} ORDER BY ?label"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("clients"), "--workers", "2") as running:
        yield running


def _labels_here() -> list[tuple[str, str | None]]:
    """The labels of prednisone as pyoxigraph gives them in-process: (text, language)."""
    solutions = shared_store().query(LABELS)
    assert isinstance(solutions, ox.QuerySolutions)
    return [(s["label"].value, s["label"].language) for s in solutions]


def test_sparqlwrapper_json(server: Server) -> None:
    from SPARQLWrapper import JSON, SPARQLWrapper

    client = SPARQLWrapper(f"{server.url}/sparql")
    client.setQuery(LABELS)
    client.setReturnFormat(JSON)
    result = client.queryAndConvert()
    assert isinstance(result, dict)
    got = [(b["label"]["value"], b["label"].get("xml:lang")) for b in result["results"]["bindings"]]
    assert got == _labels_here() and ("prednisone", "en") in got


def test_sparqlwrapper_xml_with_post(server: Server) -> None:
    from SPARQLWrapper import POST, XML, SPARQLWrapper

    client = SPARQLWrapper(f"{server.url}/sparql")
    client.setQuery(LABELS)
    client.setReturnFormat(XML)
    client.setMethod(POST)
    document = client.queryAndConvert()
    assert isinstance(document, Document)
    got = [(literal.firstChild.nodeValue, literal.getAttribute("xml:lang") or None)  # type: ignore[union-attr]
           for literal in document.getElementsByTagName("literal")]
    assert got == _labels_here()


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")  # inside SPARQLWrapper
def test_sparqlwrapper_ask_and_construct(server: Server) -> None:
    from SPARQLWrapper import JSON, TURTLE, XML, SPARQLWrapper

    client = SPARQLWrapper(f"{server.url}/sparql")
    client.setQuery(f"ASK {{ <{PREDNISONE}> ?p ?o }}")
    client.setReturnFormat(JSON)
    assert client.queryAndConvert() == {"head": {}, "boolean": True}
    construct = f"CONSTRUCT WHERE {{ <{PREDNISONE}> <http://www.w3.org/2000/01/rdf-schema#label> ?o }}"
    for fmt in (XML, TURTLE):
        client.setQuery(construct)
        client.setReturnFormat(fmt)
        converted = client.queryAndConvert()
        if not isinstance(converted, rdflib.Graph):
            assert isinstance(converted, bytes | str)
            converted = rdflib.Graph().parse(data=converted, format="turtle")
        assert {(str(o), o.language) for o in converted.objects() if isinstance(o, rdflib.Literal)} == set(
            _labels_here())


def test_sparqlwrapper_sees_updates_refused(server: Server) -> None:
    from SPARQLWrapper import POST, SPARQLWrapper
    from SPARQLWrapper.SPARQLExceptions import EndPointInternalError

    client = SPARQLWrapper(f"{server.url}/sparql")
    client.setMethod(POST)
    client.setQuery("INSERT DATA { <urn:a> <urn:b> <urn:c> }")
    with pytest.raises(EndPointInternalError, match="read-only"):
        client.query()


def test_rdflib_sparqlstore(server: Server) -> None:
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    graph = rdflib.Graph(store=SPARQLStore(f"{server.url}/sparql", returnFormat="json"))
    rows = [(str(label), label.language) for label in (row[0] for row in graph.query(LABELS))  # type: ignore[index]
            if isinstance(label, rdflib.Literal)]
    assert rows == _labels_here()
    labels = {(str(o), o.language) for o in graph.objects(rdflib.URIRef(PREDNISONE), rdflib.RDFS.label)
              if isinstance(o, rdflib.Literal)}
    assert labels == set(_labels_here())
    assert graph.query(f"ASK {{ <{PREDNISONE}> ?p ?o }}").askAnswer is True


# ── every return format of SPARQLWrapper and rdflib (issue 17: SPARQLWrapper repeats format/output/results) ──

def _wrapper(server: Server, text: str, return_format: str, method: str = "GET") -> Any:
    """What ``SPARQLWrapper.queryAndConvert`` gives for ``text`` asked in ``return_format``, as its users call it."""
    from SPARQLWrapper import SPARQLWrapper

    client = SPARQLWrapper(f"{server.url}/sparql")
    client.setQuery(text)
    client.setReturnFormat(return_format)
    client.setMethod(method)
    return client.queryAndConvert()


def _tsv_labels(body: bytes) -> list[tuple[str, str | None]]:
    solutions = ox.parse_query_results(body, format=ox.QueryResultsFormat.TSV)
    assert isinstance(solutions, ox.QuerySolutions)
    return [(s["label"].value, s["label"].language) for s in solutions]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("return_format", ["json", "xml", "csv", "tsv"])
def test_sparqlwrapper_select_in_every_results_format(server: Server, return_format: str, method: str) -> None:
    converted = _wrapper(server, LABELS, return_format, method)
    if return_format == "json":
        got = [(b["label"]["value"], b["label"].get("xml:lang")) for b in converted["results"]["bindings"]]
    elif return_format == "xml":
        got = [(node.firstChild.nodeValue, node.getAttribute("xml:lang") or None)
               for node in converted.getElementsByTagName("literal")]
    elif return_format == "tsv":
        got = _tsv_labels(converted)
    else:  # CSV has no language tags (SPARQL 1.1 CSV/TSV §2): the texts must still be all there
        rows = list(csv.reader(io.StringIO(converted.decode("utf-8"))))
        assert rows == [["label"]] + [[text] for text, _ in _labels_here()]
        return
    assert got == _labels_here()


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")  # inside SPARQLWrapper
@pytest.mark.filterwarnings("ignore:Sending Accept header:RuntimeWarning")  # SPARQLWrapper, for 'rdf' and 'json'
@pytest.mark.parametrize("form", ["CONSTRUCT", "DESCRIBE"])
@pytest.mark.parametrize("return_format", ["xml", "rdf+xml", "rdf", "turtle", "n3", "json-ld", "json"])
def test_sparqlwrapper_graphs_in_every_rdf_format(server: Server, return_format: str, form: str) -> None:
    text = (f"CONSTRUCT WHERE {{ <{PREDNISONE}> <http://www.w3.org/2000/01/rdf-schema#label> ?o }}"
            if form == "CONSTRUCT" else f"DESCRIBE <{PREDNISONE}>")
    converted = _wrapper(server, text, return_format)
    if isinstance(converted, bytes | str):  # SPARQLWrapper hands Turtle and N3 over unparsed
        converted = rdflib.Graph().parse(data=converted, format="turtle")
    if isinstance(converted, dict | list):
        converted = rdflib.Graph().parse(data=json.dumps(converted), format="json-ld")
    assert isinstance(converted, rdflib.Graph)
    labels = {(str(o), o.language) for o in converted.objects(rdflib.URIRef(PREDNISONE), rdflib.RDFS.label)
              if isinstance(o, rdflib.Literal)}
    assert labels == set(_labels_here())


@pytest.mark.parametrize("return_format", ["json", "xml"])
def test_sparqlwrapper_ask_in_both_boolean_formats(server: Server, return_format: str) -> None:
    converted = _wrapper(server, f"ASK {{ <{PREDNISONE}> ?p ?o }}", return_format)
    answer = (converted["boolean"] if return_format == "json"
              else converted.getElementsByTagName("boolean")[0].firstChild.nodeValue == "true")
    assert answer is True


@pytest.mark.parametrize("return_format", ["json", "xml", "csv", "tsv"])
def test_rdflib_sparqlstore_in_every_results_format(server: Server, return_format: str) -> None:
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    graph = rdflib.Graph(store=SPARQLStore(f"{server.url}/sparql", returnFormat=return_format))
    labels = [row[0] for row in graph.query(LABELS)]  # type: ignore[index]
    assert all(isinstance(label, rdflib.Literal) for label in labels)
    if return_format == "csv":  # no language tags in CSV
        assert [str(label) for label in labels] == [text for text, _ in _labels_here()]
        return
    assert [(str(label), cast(rdflib.Literal, label).language) for label in labels] == _labels_here()


def test_rdflib_sparqlstore_construct(server: Server) -> None:
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    graph = rdflib.Graph(store=SPARQLStore(f"{server.url}/sparql"))
    result = graph.query(f"CONSTRUCT WHERE {{ <{PREDNISONE}> <http://www.w3.org/2000/01/rdf-schema#label> ?o }}")
    assert result.graph is not None
    assert {(str(o), o.language) for o in result.graph.objects() if isinstance(o, rdflib.Literal)} == set(
        _labels_here())


def test_plain_http_get_and_post(server: Server) -> None:
    url = f"{server.url}/sparql?" + urlencode({"query": LABELS})
    request = urllib.request.Request(url, headers={"Accept": "application/sparql-results+json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        data = json.load(response)
    assert [(b["label"]["value"], b["label"].get("xml:lang")) for b in data["results"]["bindings"]] == _labels_here()
    post = urllib.request.Request(f"{server.url}/sparql", data=LABELS.encode(),
                                  headers={"Content-Type": "application/sparql-query", "Accept": "text/csv"})
    with urllib.request.urlopen(post, timeout=30) as response:
        lines = response.read().decode().splitlines()
    assert lines == ["label"] + [text for text, _ in _labels_here()]


# ── many clients at once ──

def _workload() -> list[tuple[str, str, str]]:
    """(path, Accept, expected body): named queries, whose answers are known from the CLI, and SPARQL."""
    jobs = []
    for name, params in (("adverse-effects", {"drug": "prednisone"}), ("treatments", {"disease": "dermatomyositis"}),
                         ("subtypes", {}), ("infection-prevention", {"drug": "rituximab"})):
        expected = render(query(name, **cast(Any, params)), "json")
        jobs.append((f"/queries/{name}" + (f"?{urlencode(params)}" if params else ""), "application/json", expected))
    labels = "label\r\n" + "".join(f"{text}\r\n" for text, _ in _labels_here())
    jobs.append(("/sparql?" + urlencode({"query": LABELS}), "text/csv", labels))
    return jobs


def test_32_clients_50_queries_each_all_correct(server: Server) -> None:
    jobs = _workload()
    clients, per_client = 32, 50
    errors: list[str] = []
    done = [0] * clients
    deadline = time.monotonic() + 240

    def client(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        try:
            for i in range(per_client):
                if time.monotonic() > deadline:
                    errors.append(f"client {number}: out of time after {i} queries")
                    return
                path, accept, expected = jobs[(number + i) % len(jobs)]
                connection.request("GET", path, headers={"Accept": accept})
                response = connection.getresponse()
                body = response.read().decode()
                if response.status != 200 or body != expected:
                    errors.append(f"client {number}, query {i} ({path}): {response.status} {body[:200]}")
                    return
                done[number] += 1
        except (OSError, http.client.HTTPException) as error:
            errors.append(f"client {number}: {type(error).__name__}: {error}")
        finally:
            connection.close()

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(client, n) for n in range(clients)]
        for future in futures:
            future.result(timeout=300)
    took = time.monotonic() - start
    assert errors == []
    assert sum(done) == clients * per_client
    print(f"{clients * per_client} queries from {clients} clients in {took:.1f} s "
          f"({clients * per_client / took:.0f} queries/s)")
    assert threading.active_count() < 100


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("return_format", ["json", "xml"])
def test_rdflib_sparqlstore_constructs_in_the_json_and_xml_results_formats(server: Server, return_format: str,
                                                                          method: str) -> None:
    """rdflib's SPARQLStore sends only its result-set type, also for a CONSTRUCT: the graph comes back in the RDF
    syntax ?format= gives for that name (JSON-LD for json, RDF/XML for xml), not a 406, so a SPARQLStore set up
    for SELECT can CONSTRUCT too, as against Fuseki. CSV and TSV name no RDF syntax (406, as ?format=csv)."""
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    graph = rdflib.Graph(store=SPARQLStore(f"{server.url}/sparql", returnFormat=return_format, method=method))
    result = graph.query(f"CONSTRUCT WHERE {{ <{PREDNISONE}> <http://www.w3.org/2000/01/rdf-schema#label> ?o }}")
    assert result.graph is not None
    assert {(str(o), o.language) for o in result.graph.objects() if isinstance(o, rdflib.Literal)} == set(
        _labels_here())

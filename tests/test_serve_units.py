"""The endpoint's rules without a server: the SERVICE guard, protocol parsing, content negotiation, the worker."""

from __future__ import annotations

import json
from pathlib import Path

import pyoxigraph as ox
import pytest

from iimkg.core.errors import InputError
from iimkg.core.sparql_guard import network_refusal, update_syntax_error, uses_keyword, uses_service
from iimkg.endpoint.dataset import SHIPPED_GRAPH, build_dataset, data_graph_name
from iimkg.endpoint.jobs import Dataset, Failure, NamedJob, Ok, PageJob, QueryJob, Table, UpdateJob
from iimkg.endpoint.protocol import SELECT_FORMATS, ProtocolError, ResultFormat, choose, negotiate, parse_request
from iimkg.endpoint.worker import State, run_job
from iimkg.queries.output import render
from iimkg.queries.run import query

# Each of these makes pyoxigraph call the named service (checked by hand against pyoxigraph 0.5: it tried
# to connect); the guard must refuse every one.
SERVICE_QUERIES = [
    "SELECT * { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "select * { service silent <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "PREFIX : <http://127.0.0.1:9/> SELECT * { SERVICE:g { ?s ?p ?o } }",
    "PREFIX x: <http://127.0.0.1:9/> SELECT * { SERVICEx:g { ?s ?p ?o } }",
    "SELECT * { SERVICE#comment\n<http://127.0.0.1:9/> { ?s ?p ?o } }",
    "SELECT * { OPTIONAL{}SERVICE<http://127.0.0.1:9/>{ ?s ?p ?o } }",
    "PREFIX a.b: <http://127.0.0.1:9/> SELECT * { SERVICE a.b:c {} }",
    "SELECT * { ?a ?b ?x . SERVICE ?x { ?s ?p ?o } }",
    'SELECT * { ?s ?p "\\u0022" . SERVICE <http://127.0.0.1:9/> {} }',
    "SELECT * { \\u0053ERVICE <http://127.0.0.1:9/> {} }",
    'SELECT * { ?s ?p """x"""" . SERVICE <http://127.0.0.1:9/> {} }',
    "ASK { {} SERVICE <http://127.0.0.1:9/> {} }",
]
NOT_SERVICE = [
    'SELECT * { ?s ?p "a health service" }',
    "SELECT * { ?s ?p ?o } # SERVICE <http://127.0.0.1:9/>",
    "SELECT ?service { ?service ?p <http://example.org/SERVICE> }",
    "PREFIX ex: <http://example.org/> SELECT * { ?s ex:service ?o }",
    "SELECT * { ?s ?p '''SERVICE <x> {}''' }",
]


@pytest.mark.parametrize("text", SERVICE_QUERIES)
def test_every_way_of_writing_service_is_refused(text: str) -> None:
    assert uses_service(text)


@pytest.mark.parametrize("text", NOT_SERVICE)
def test_the_word_service_in_data_is_not_a_service_call(text: str) -> None:
    assert not uses_service(text)


@pytest.mark.parametrize("text", SERVICE_QUERIES)
def test_the_parsed_guard_refuses_every_way_of_writing_service(text: str) -> None:
    assert network_refusal(text) is not None


@pytest.mark.parametrize("text", NOT_SERVICE)
def test_the_parsed_guard_lets_the_word_service_in_data_pass(text: str) -> None:
    assert network_refusal(text) is None


def test_update_syntax_is_checked_without_running_it() -> None:
    assert update_syntax_error("LOAD <http://127.0.0.1:9/x>") is None
    assert update_syntax_error("INSERT DATA { <urn:a> <urn:b> <urn:c> }") is None
    message = update_syntax_error("CLEAR XYZ")
    assert message is not None and message.startswith("line 1, column")


def test_using_and_with_are_found_outside_strings() -> None:
    assert uses_keyword("WITH <urn:g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }", "USING", "WITH")
    assert not uses_keyword('INSERT DATA { <urn:a> <urn:b> "WITH" }', "USING", "WITH")


# ── protocol ──

def test_get_without_a_query_is_the_service_description() -> None:
    assert parse_request("GET", None, b"", b"") is None


def test_the_three_ways_of_sending_a_query_read_the_same() -> None:
    text = "ASK { ?s ?p ?o }"
    by_get = parse_request("GET", None, b"query=ASK+%7B+%3Fs+%3Fp+%3Fo+%7D", b"")
    by_form = parse_request("POST", "application/x-www-form-urlencoded", b"", b"query=ASK+%7B+%3Fs+%3Fp+%3Fo+%7D")
    by_body = parse_request("POST", "application/sparql-query; charset=UTF-8", b"", text.encode())
    assert by_get == by_form == by_body and by_get is not None and by_get.text == text


def test_protocol_dataset_keeps_both_lists_in_order() -> None:
    operation = parse_request("GET", None, b"query=ASK%7B%7D&named-graph-uri=urn%3Aa&default-graph-uri=urn%3Ab"
                                           b"&named-graph-uri=urn%3Ac", b"")
    assert operation is not None and operation.dataset == Dataset(("urn:b",), ("urn:a", "urn:c"))


@pytest.mark.parametrize(("method", "content_type", "url", "body", "status"), [
    ("GET", None, b"query=ASK%7B%7D&query=ASK%7B%7D", b"", 400),
    ("GET", None, b"update=CLEAR+ALL", b"", 400),
    ("GET", None, b"query=%FF", b"", 400),
    ("GET", None, b"query=ASK%7B%7D&default-graph-uri=not+an+iri", b"", 400),
    ("GET", None, b"query=ASK%7B%7D&format=png", b"", 400),
    ("PUT", "application/sparql-query", b"", b"ASK {}", 405),
    ("POST", None, b"", b"query=ASK%7B%7D", 415),
    ("POST", "text/plain", b"", b"ASK {}", 415),
    ("POST", "application/sparql-query; charset=UTF-16", b"", "ASK {}".encode("utf-16"), 415),
    ("POST", "application/sparql-query", b"", b"ASK { ?s ?p \"\xff\" }", 400),
    ("POST", "application/sparql-query", b"query=ASK%7B%7D", b"ASK {}", 400),
    ("POST", "application/x-www-form-urlencoded", b"", b"query=ASK%7B%7D&update=CLEAR+ALL", 400),
    ("POST", "application/x-www-form-urlencoded", b"", b"default-graph-uri=urn%3Aa", 400),
    ("POST", "application/x-www-form-urlencoded", b"", b"update=CLEAR+ALL&default-graph-uri=urn%3Aa", 400),
])
def test_requests_the_protocol_does_not_allow(method: str, content_type: str | None, url: bytes, body: bytes,
                                             status: int) -> None:
    with pytest.raises(ProtocolError) as error:
        parse_request(method, content_type, url, body)
    assert error.value.status == status and error.value.message


@pytest.mark.parametrize(("accept", "expected"), [
    (None, ResultFormat.JSON),
    ("", ResultFormat.JSON),
    ("*/*", ResultFormat.JSON),
    ("application/sparql-results+xml", ResultFormat.XML),
    ("text/csv;q=0.5, application/sparql-results+xml;q=0.9", ResultFormat.XML),
    ("text/*", ResultFormat.CSV),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", ResultFormat.XML),
    ("application/json", ResultFormat.JSON),
    ("text/tab-separated-values, */*;q=0.1", ResultFormat.TSV),
    ("image/png", None),
    ("application/sparql-results+json;q=0", None),
])
def test_content_negotiation_for_select(accept: str | None, expected: ResultFormat | None) -> None:
    assert negotiate(accept, SELECT_FORMATS) == expected


def test_format_parameter_means_the_same_format_for_each_query_form() -> None:
    assert choose("select", "text/csv", "json") is ResultFormat.JSON
    assert choose("graph", None, "json") is ResultFormat.JSONLD
    assert choose("graph", None, "xml") is ResultFormat.RDFXML
    assert choose("ask", None, "csv") is None
    assert choose("graph", "text/csv", None) is None


# ── the worker, in-process ──

@pytest.fixture(scope="module")
def state() -> State:
    store = ox.Store()
    store.load(build_dataset().nquads, format=ox.RdfFormat.N_QUADS)
    return State(store, 1000)


def test_results_pass_through_tsv_unchanged(state: State) -> None:
    """Solutions are counted as TSV lines, then re-serialised: every term must come out as it went in."""
    text = "SELECT ?s ?p ?o { ?s ?p ?o }"
    reply = run_job(QueryJob(text, accept="application/sparql-results+json"), State(state.store, 10**6))
    assert isinstance(reply, Ok)
    direct = state.store.query(text)
    assert isinstance(direct, ox.QuerySolutions)
    assert json.loads(reply.body) == json.loads(direct.serialize(format=ox.QueryResultsFormat.JSON) or b"")
    assert reply.count == len(json.loads(reply.body)["results"]["bindings"])


def test_the_row_limit_is_exact(state: State) -> None:
    at_limit = run_job(QueryJob("SELECT ?s { ?s ?p ?o } LIMIT 1000", accept="text/csv"), state)
    assert isinstance(at_limit, Ok) and at_limit.count == 1000
    assert len(at_limit.body.decode().splitlines()) == 1001
    over = run_job(QueryJob("SELECT ?s { ?s ?p ?o } LIMIT 1001"), state)
    assert isinstance(over, Failure) and over.status == 500 and "more than 1000 rows" in over.message
    graph = run_job(QueryJob("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 1001"), state)
    assert isinstance(graph, Failure) and graph.status == 500
    page = run_job(PageJob("SELECT ?s { ?s ?p ?o } LIMIT 1001"), state)
    assert isinstance(page, Failure) and page.status == 500


def test_zero_variable_results_survive_the_round_trip(state: State) -> None:
    reply = run_job(QueryJob("SELECT * {}"), state)
    assert isinstance(reply, Ok) and json.loads(reply.body) == {"head": {"vars": []}, "results": {"bindings": [{}]}}


def test_a_select_asked_for_turtle_is_not_acceptable(state: State) -> None:
    reply = run_job(QueryJob("SELECT * {}", accept="text/turtle"), state)
    assert isinstance(reply, Failure) and reply.status == 406 and "application/sparql-results+json" in reply.message


def test_malformed_query_is_400_with_the_parsers_position(state: State) -> None:
    reply = run_job(QueryJob("SELECT * { ?s ?p }"), state)
    assert isinstance(reply, Failure) and reply.status == 400 and "error at 1:" in reply.message


def test_updates_are_checked_then_refused(state: State) -> None:
    refused = run_job(UpdateJob("INSERT DATA { <urn:a> <urn:b> <urn:c> }"), state)
    assert isinstance(refused, Failure) and refused.status == 500 and "read-only" in refused.message
    malformed = run_job(UpdateJob("INSERT DATA { <urn:a> <urn:b> }"), state)
    assert isinstance(malformed, Failure) and malformed.status == 400
    conflict = run_job(UpdateJob("WITH <urn:g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }", Dataset(("urn:g",))), state)
    assert isinstance(conflict, Failure) and conflict.status == 400 and "twice" in conflict.message
    assert len(state.store) == len(build_dataset().nquads.splitlines())


def test_named_query_rows_are_the_clis(state: State) -> None:
    reply = run_job(NamedJob("adverse-effects", (("drug", "prednisone"),)), State(state.store, 10**6))
    assert isinstance(reply, Ok)
    assert reply.body.decode() == render(query("adverse-effects", drug="prednisone"), "json")


def test_named_query_errors_name_the_closest_terms(state: State) -> None:
    reply = run_job(NamedJob("adverse-effects", (("drug", "predisone"),)), state)
    assert isinstance(reply, Failure) and reply.status == 400
    assert "prednisone (iim:IIM_0000102)" in reply.details["suggestions"]
    assert reply.message.startswith("drug 'predisone' matches no term")


def test_page_job_gives_terms_for_every_query_form(state: State) -> None:
    ask = run_job(PageJob("ASK { ?s ?p ?o }"), state)
    assert ask == Table((), (), True)
    graph = run_job(PageJob("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 2"), state)
    assert isinstance(graph, Table) and graph.graph and graph.columns == ("subject", "predicate", "object")
    assert len(graph.rows) == 2


# ── the dataset ──

def test_data_files_become_named_graphs_and_join_the_default(tmp_path: Path) -> None:
    plan = tmp_path / "my plan.ttl"
    plan.write_text("<http://example.org/plan> <http://example.org/takes> <https://w3id.org/iimkg/IIM_0000102> .\n")
    dataset = build_dataset([plan])
    assert [g.name for g in dataset.graphs] == [SHIPPED_GRAPH, "urn:iimkg:data:my%20plan.ttl"]
    assert data_graph_name(plan) == "urn:iimkg:data:my%20plan.ttl"
    assert dataset.default_triples == sum(g.triples for g in dataset.graphs)


def test_two_data_files_with_one_name_are_an_error(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "plan.ttl").write_text("<urn:a> <urn:b> <urn:c> .\n")
    with pytest.raises(InputError, match=r"two --data files are called 'plan\.ttl'"):
        build_dataset([tmp_path / "a" / "plan.ttl", tmp_path / "b" / "plan.ttl"])

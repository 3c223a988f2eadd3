"""The SERVICE guard decides by parsing: a malformed query is a syntax error (400), whatever words it holds.

SPARQL 1.1 Protocol §2.1.5: a query that does not parse gets 400. The word ``service`` in a string, a comment or
a name is no federated call: a malformed query holding it must get the parser's message, and a valid one (a
prefix called ``service:``) must run. A real ``SERVICE``, in whichever engine's reading, is still refused
(``tests/test_serve_units.py`` and ``tests/hostile/test_hostile_service_guard.py`` hold the many spellings).
"""

from __future__ import annotations

import subprocess
import sys

import pyoxigraph as ox
import pytest

from iimkg.core.errors import QuerySyntaxError
from iimkg.core.sparql_guard import network_refusal
from iimkg.endpoint.dataset import build_dataset
from iimkg.endpoint.jobs import BAD_REQUEST, REFUSED, Failure, Ok, QueryJob
from iimkg.endpoint.worker import State, run_job

MALFORMED = [
    'SELECT * WHERE { ?s ?p "customer service" ',
    "SELECT * WHERE { ?s ?p ?o } # a service comment\n }",
    "PREFIX ex: <http://example.org/> SELECT * WHERE { ?s ex:service }",
    "SELECT ?service WHERE { ?service ?p }",
    'SELECT * WHERE { ?s ?p "\\u0073ervice" ',
]
VALID = [
    "PREFIX service: <http://ex/> SELECT ?s WHERE { ?s service:p ?t }",
    "PREFIX service: <http://ex/> SELECT ?s WHERE { ?s ?p service:t . service:x ?q ?r }",
    'SELECT * WHERE { ?s ?p ?o FILTER(?o = "customer service") }',
]
# Each makes pyoxigraph call the host; the last two are read without SERVICE by rdflib's parser (a comment ends
# at a carriage return for pyoxigraph only) or not read by it at all (the keyword glued to a name).
SERVICE = [
    "SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }",
    "PREFIX : <http://127.0.0.1:9/> SELECT * WHERE { ?s ?p ?o . service:x { ?a ?b ?c } }",
    "SELECT * WHERE { ?s ?p ?o # x\r SERVICE <http://127.0.0.1:9/> { ?a ?b ?c } \n }",
    "PREFIX x: <http://127.0.0.1:9/> SELECT * WHERE { SERVICEx:g { ?s ?p ?o } }",
]


@pytest.fixture(scope="module")
def state() -> State:
    store = ox.Store()
    store.load(build_dataset().nquads, format=ox.RdfFormat.N_QUADS)
    return State(store, 1000)


@pytest.mark.parametrize("text", MALFORMED)
def test_a_malformed_query_that_says_service_is_a_syntax_error(text: str, state: State) -> None:
    with pytest.raises(QuerySyntaxError) as error:
        network_refusal(text)
    assert error.value.line is not None and error.value.column is not None
    reply = run_job(QueryJob(text), state)
    assert isinstance(reply, Failure) and reply.status == BAD_REQUEST, reply
    assert reply.message.startswith("malformed query:") and "refused" not in reply.message


def test_the_syntax_error_is_where_pyoxigraph_puts_it_in_the_text_sent() -> None:
    text = 'SELECT * WHERE {\n  ?s ?p "a service", "self-service" . ?s ?p }'
    with pytest.raises(SyntaxError) as direct:  # no SERVICE keyword, and malformed: safe to ask pyoxigraph
        ox.Store().query(text)
    with pytest.raises(QuerySyntaxError) as error:
        network_refusal(text)
    assert f"error at {error.value.line}:{error.value.column}:" in str(direct.value)


def test_a_malformed_query_with_the_service_keyword_is_refused_and_says_why_it_does_not_parse() -> None:
    refusal = network_refusal("SELECT * WHERE {\n  SERVICE <http://127.0.0.1:9/> { ?s ?p } }")
    assert refusal is not None and refusal.startswith("refused: SERVICE") and "<query>:2:" in refusal


@pytest.mark.parametrize("text", VALID)
def test_a_valid_query_that_says_service_runs(text: str, state: State) -> None:
    assert network_refusal(text) is None
    assert isinstance(run_job(QueryJob(text), state), Ok)


@pytest.mark.parametrize("text", SERVICE)
def test_a_service_call_in_either_engines_reading_is_refused(text: str, state: State) -> None:
    assert network_refusal(text) is not None
    reply = run_job(QueryJob(text), state)
    assert isinstance(reply, Failure) and reply.status == REFUSED and reply.message.startswith("refused: SERVICE")


def test_from_named_a_local_graph_is_not_a_remote_from() -> None:
    """``iimkg sparql`` refuses FROM graphs an engine would fetch; a FROM NAMED of a local IRI is not one."""
    text = "SELECT * FROM NAMED <urn:iimkg:data:x.ttl> WHERE { GRAPH ?g { ?s ?p ?o } }"
    assert network_refusal(text, remote_from=True) is None
    assert network_refusal("SELECT * FROM NAMED <http://127.0.0.1:9/g> WHERE { ?s ?p ?o }", remote_from=True)


def _sparql(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iimkg.cli.main", "sparql", *args], capture_output=True, text=True,
                          check=False, timeout=120, stdin=subprocess.DEVNULL)


def test_iimkg_sparql_takes_the_same_decisions() -> None:
    ran = _sparql(VALID[0])
    assert ran.returncode == 0, ran.stderr
    malformed = _sparql(MALFORMED[0])
    assert malformed.returncode != 0 and "refused" not in malformed.stderr and "<query>:1:" in malformed.stderr
    refused = _sparql(SERVICE[2])
    assert refused.returncode != 0 and "refused: SERVICE" in refused.stderr

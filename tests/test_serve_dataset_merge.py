"""A default graph made of several graphs is their RDF merge, a set (SPARQL 1.1 Query §13.2).

``default-graph-uri=A&default-graph-uri=B`` and ``FROM <A> FROM <B>`` must count a triple held by both graphs
once, naming one graph twice must not double its rows, and naming a graph twice with ``named-graph-uri`` or
``FROM NAMED`` must not double the rows of ``GRAPH ?g``. Run in-process through the worker's job runner.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyoxigraph as ox
import pytest

from iimkg.endpoint.dataset import SHIPPED_GRAPH, build_dataset, data_graph_name
from iimkg.endpoint.jobs import Dataset, Ok, QueryJob
from iimkg.endpoint.worker import State, run_job

SHARED = "<urn:ex:s> <urn:ex:p> <urn:ex:shared> .\n"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
ROWS = "SELECT ?s ?p ?o WHERE { ?s ?p ?o }"
NAMED_ROWS = "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }"


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> tuple[State, str, str]:
    """A store as a worker holds it, with two data graphs that share one triple and have one each of their own."""
    folder = tmp_path_factory.mktemp("merge")
    a, b = folder / "a.ttl", folder / "b.ttl"
    a.write_text(SHARED + "<urn:ex:s> <urn:ex:p> <urn:ex:only-a> .\n", encoding="utf-8")
    b.write_text(SHARED + "<urn:ex:s> <urn:ex:p> <urn:ex:only-b> .\n", encoding="utf-8")
    store = ox.Store()
    store.load(build_dataset([a, b]).nquads, format=ox.RdfFormat.N_QUADS)
    return State(store, 10**6), data_graph_name(Path(a)), data_graph_name(Path(b))


def _rows(state: State, text: str, dataset: Dataset | None = None) -> list[dict[str, str]]:
    reply = run_job(QueryJob(text, dataset, accept="application/sparql-results+json"), state)
    assert isinstance(reply, Ok), reply
    return [{k: v["value"] for k, v in row.items()} for row in json.loads(reply.body)["results"]["bindings"]]


def _count(state: State, text: str, dataset: Dataset | None = None) -> int:
    return int(_rows(state, text, dataset)[0]["n"])


def test_a_triple_in_two_default_graphs_counts_once(graphs: tuple[State, str, str]) -> None:
    state, a, b = graphs
    assert _count(state, COUNT, Dataset((a, b))) == 3
    assert _count(state, f"SELECT (COUNT(*) AS ?n) FROM <{a}> FROM <{b}> WHERE {{ ?s ?p ?o }}") == 3
    assert sorted(r["o"] for r in _rows(state, ROWS, Dataset((a, b)))) == [
        "urn:ex:only-a", "urn:ex:only-b", "urn:ex:shared"]


def test_a_graph_named_twice_is_the_graph_once(graphs: tuple[State, str, str]) -> None:
    state, a, _ = graphs
    assert len(_rows(state, ROWS, Dataset((a, a)))) == 2
    assert len(_rows(state, f"SELECT * FROM <{a}> FROM <{a}> WHERE {{ ?s ?p ?o }}")) == 2
    assert len(_rows(state, NAMED_ROWS, Dataset((), (a, a)))) == 2
    assert len(_rows(state, f"SELECT * FROM NAMED <{a}> FROM NAMED <{a}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}")) == 2


def test_the_merged_default_graph_keeps_the_named_graphs_apart(graphs: tuple[State, str, str]) -> None:
    state, a, b = graphs
    rows = _rows(state, NAMED_ROWS, Dataset((a, b, a), (b, b)))
    assert sorted((r["g"], r["o"]) for r in rows) == [(b, "urn:ex:only-b"), (b, "urn:ex:shared")]
    prefixed = (f"PREFIX d: <{a[:-len('a.ttl')]}> SELECT * FROM d:a.ttl FROM d:b.ttl FROM NAMED d:b.ttl "
                "WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert len(_rows(state, prefixed)) == 2
    assert _count(state, COUNT, Dataset((a, b), (a,))) == 3


def test_the_shipped_graph_merged_with_data_is_the_served_default_graph(graphs: tuple[State, str, str]) -> None:
    state, a, b = graphs
    everything = _count(state, COUNT)  # the served default graph: the merge of every graph
    assert _count(state, COUNT, Dataset((SHIPPED_GRAPH, a, b))) == everything
    assert _count(state, f"SELECT (COUNT(*) AS ?n) FROM <{SHIPPED_GRAPH}> FROM <{a}> FROM <{b}> "
                         "WHERE { ?s ?p ?o }") == everything


def test_merged_datasets_kept_for_reuse_are_bounded(graphs: tuple[State, str, str]) -> None:
    state, a, b = graphs
    for n in range(20):
        assert _count(state, COUNT, Dataset((a, b, f"urn:ex:absent-{n}"))) == 3
    assert 0 < len(state.merged) <= 8

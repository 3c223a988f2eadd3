"""Every clinical statement of the seed page (S01-S35) is in the graph, sourced, and answered by a named query."""

from __future__ import annotations

import csv
from collections import defaultdict

import pyoxigraph as ox
import pytest

from iimkg.queries.run import query

from conftest import IIM, RESOURCES, SHARED

SEED = IIM + "seed-page"
EXPERT = IIM + "ExpertPatientInformation"


def expected_statements() -> dict[str, list[dict[str, str]]]:
    lines = [line for line in (RESOURCES / "seed-statements.tsv").read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("#")]
    by_id: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in csv.DictReader(lines, delimiter="\t"):
        by_id[row["id"]].append(row)
    return dict(by_id)


EXPECTED = expected_statements()


def iri(value: str) -> str:
    return value if value in {"true", "false"} else IIM + value


def statements_with_id(store: ox.Store, seed_id: str) -> dict[str, dict[str, set[str]]]:
    """Each statement resource with this dcterms:identifier, as {statement: {property: {values}}}."""
    result = store.query(f"""
        PREFIX dcterms: <http://purl.org/dc/terms/>
        SELECT ?statement ?p ?o WHERE {{ ?statement dcterms:identifier {ox.Literal(seed_id)} ; ?p ?o }}""")
    assert isinstance(result, ox.QuerySolutions)
    found: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for s in result:
        found[s["statement"].value][s["p"].value].add(s["o"].value)
    return found


def test_the_table_covers_every_seed_statement() -> None:
    listed = SHARED / "seed" / "statements.md"
    if not listed.is_file():
        pytest.skip("../shared/seed/statements.md is not beside the checkout")
    ids = {line.split("|")[1].strip() for line in listed.read_text(encoding="utf-8").splitlines()
           if line.startswith("| S")}
    assert ids == set(EXPECTED) and len(ids) == 35


@pytest.mark.parametrize("seed_id", sorted(EXPECTED))
def test_seed_statement_is_in_the_graph_and_answered(store: ox.Store, seed_id: str) -> None:
    found = statements_with_id(store, seed_id)
    assert len(found) == len(EXPECTED[seed_id]), f"{seed_id}: {sorted(found)}"
    unmatched = dict(found)
    for row in EXPECTED[seed_id]:
        parts = dict(part.split("=", 1) for part in row["parts"].split())
        matches = [
            statement for statement, props in unmatched.items()
            if IIM + row["class"] in props["http://www.w3.org/1999/02/22-rdf-syntax-ns#type"]
            and all(props.get(IIM + prop) == {iri(value)} for prop, value in parts.items())
        ]
        assert len(matches) == 1, f"{seed_id}: no statement {row['class']} with {parts}"
        props = unmatched.pop(matches[0])
        assert props["http://purl.org/dc/terms/source"] == {SEED}
        assert props[IIM + "evidenceLevel"] == {EXPERT}
        assert any(text for text in props.get(IIM + "statementText", set()))
        name, *args = row["answered by"].split()
        params = {k: v for k, v in (a.split("=", 1) for a in args)}
        answered = query(name, labels=False, **params)
        column = "statement"
        assert matches[0] in answered.values(column), f"{seed_id} is not answered by `iimkg query {row['answered by']}`"


def test_the_seed_page_is_described(store: ox.Store) -> None:
    result = store.query("""
        PREFIX dcterms: <http://purl.org/dc/terms/>
        SELECT ?title ?issued WHERE {
          <https://w3id.org/iimkg/seed-page> dcterms:title ?title ; dcterms:issued ?issued
        }""")
    assert isinstance(result, ox.QuerySolutions)
    rows = [(s["title"].value, s["issued"].value) for s in result]
    assert rows == [("Treating Idiopathic Inflammatory Myopathies", "2020-11-25")]


def test_every_seed_statement_resource_carries_an_id(store: ox.Store) -> None:
    result = store.query("""
        PREFIX dcterms: <http://purl.org/dc/terms/>
        SELECT ?s WHERE { ?s dcterms:source <https://w3id.org/iimkg/seed-page> .
                          FILTER (STRSTARTS(STR(?s), "https://w3id.org/iimkg/statement-"))
                          MINUS { ?s dcterms:identifier ?id } }""")
    assert isinstance(result, ox.QuerySolutions)
    assert [s["s"].value for s in result] == []



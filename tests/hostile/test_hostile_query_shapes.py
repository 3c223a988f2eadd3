"""Queries that are long but not deep (a run of ``!``, a chain of UNIONs, a long property path) crashed pyoxigraph's
parser (a segfault) and overflowed rdflib's recursion; RDF-star quoted triples stopped the rdflib paths with a
traceback. Each is one line naming the file (line, column) and the problem, exit 2."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from iimkg.core.errors import QuerySyntaxError
from iimkg.core.limits import Limits, check_query_depth
from iimkg.core.sparql_guard import network_refusal

from conftest import ROOT
from hostile import assert_one_line_error, run_cli

PLAN = ROOT / "examples" / "plans" / "conforming-dermatomyositis.ttl"
SH = "http://www.w3.org/ns/shacl#"

# each crashed pyoxigraph (segfault) or rdflib (RecursionError), or took seconds, at these counts
CHAINS = {
    "not": "SELECT $this WHERE { FILTER(" + "!" * 100_000 + "true) }",
    "union": "SELECT * WHERE { " + " UNION ".join(["{?s ?p ?o}"] * 30_000) + " }",
    "path": "SELECT * WHERE { ?s " + "/".join(["<http://p>"] * 100_000) + " ?o }",
    "alternative": "SELECT * WHERE { ?s " + "|".join(["<http://p>"] * 20_000) + " ?o }",
    "and": "SELECT * WHERE { FILTER(" + " && ".join(["true"] * 20_000) + ") }",
    "minus": "SELECT * WHERE { ?s ?p ?o " + " ".join(["MINUS {?s ?p ?o}"] * 5_000) + " }",
    "filters": "SELECT * WHERE { ?s ?p ?o " + " ".join(["FILTER(true)"] * 20_000) + " }",
    "product": "SELECT * WHERE { FILTER(" + " * ".join(["1"] * 20_000) + ") }",
    "hidden in an IRI-looking <…>": "SELECT * WHERE { FILTER(?a<" + "!" * 100_000 + "true&&true>?b) }",
}


@pytest.mark.parametrize("text", CHAINS.values(), ids=CHAINS.keys())
def test_a_long_chain_of_operators_is_a_syntax_error_before_any_parser(text: str) -> None:
    with pytest.raises(QuerySyntaxError) as raised:
        check_query_depth(text)
    assert "--max-depth" in str(raised.value) and raised.value.line == 1 and raised.value.column
    with pytest.raises(QuerySyntaxError):
        network_refusal(text, remote_from=True)  # what the endpoint (a 400) and the shapes reader run


def test_the_chain_limit_follows_max_depth() -> None:
    text = "SELECT * WHERE { FILTER(" + "!" * 600 + "true) }"
    with pytest.raises(QuerySyntaxError):
        check_query_depth(text)
    check_query_depth(text, Limits(max_depth=200))  # 800 allowed


def test_the_projects_own_queries_and_shapes_chain_far_below_the_limit() -> None:
    from iimkg.core.limits import CHAIN_FACTOR, chain_depth

    limit = CHAIN_FACTOR * Limits().max_depth
    texts = {str(p): p.read_text(encoding="utf-8")
             for p in [*ROOT.glob("queries/*.rq"), *ROOT.glob("src/iimkg/sparql/*.rq")]}
    for shapes in ROOT.glob("shapes/*.ttl"):
        for quad in ox.parse(path=str(shapes), format=ox.RdfFormat.TURTLE):
            if quad.predicate.value in {SH + "select", SH + "ask", SH + "construct"}:
                texts[f"{shapes}: {quad.subject}"] = quad.object.value
    assert len(texts) > 20
    for name, text in texts.items():
        assert chain_depth(text)[0] <= limit // 10, name
        check_query_depth(text)


def _shapes(tmp_path: Path, query: str, name: str = "shapes.ttl") -> Path:
    shapes = tmp_path / name
    shapes.write_text(f"@prefix sh: <{SH}> .\n@prefix ex: <http://example.org/> .\n"
                      "ex:S a sh:NodeShape ; sh:targetClass <https://w3id.org/iimkg/TreatmentPlan> ;\n"
                      f'  sh:sparql [ sh:select """{query}""" ] .\n', encoding="utf-8")
    return shapes


@pytest.mark.parametrize("engine", ["oxigraph", "rdflib"])
def test_a_shapes_file_whose_query_chains_100000_nots_is_one_line_naming_the_file_and_shape(
        tmp_path: Path, engine: str) -> None:
    shapes = _shapes(tmp_path, CHAINS["not"])
    output = tmp_path / "report.txt"
    line = assert_one_line_error(run_cli("validate", "--engine", engine, "--shapes", str(shapes), str(PLAN),
                                         "--output", str(output), timeout=120))
    assert f"{shapes}:4:" in line and "<query>" not in line
    assert "sh:select query of <http://example.org/S>" in line and "--max-depth" in line
    assert not output.exists()


def test_a_shapes_file_whose_query_nests_too_deep_names_the_shapes_file_not_query(tmp_path: Path) -> None:
    shapes = _shapes(tmp_path, "SELECT $this WHERE { FILTER(" + "(" * 200 + "true" + ")" * 200 + ") }")
    line = assert_one_line_error(run_cli("validate", "--shapes", str(shapes), str(PLAN)))
    assert f"{shapes}:4:" in line and "<query>" not in line and "nests brackets" in line


def test_sparql_with_a_chain_of_100000_nots_is_a_syntax_error_not_a_crashed_child(tmp_path: Path) -> None:
    query = tmp_path / "q.rq"
    query.write_text(CHAINS["not"], encoding="utf-8")
    line = assert_one_line_error(run_cli("sparql", str(query)))
    assert "q.rq:1:" in line and "chains more than 512" in line and "memory" not in line


STAR = "<http://a> <http://b> << <http://a> <http://b> <http://c> >> .\n"


def test_a_shapes_file_with_a_quoted_triple_is_one_line(tmp_path: Path) -> None:
    shapes = tmp_path / "star.ttl"
    shapes.write_text(STAR, encoding="utf-8")
    line = assert_one_line_error(run_cli("validate", "--shapes", str(shapes), str(PLAN)))
    assert f"{shapes}:1:23:" in line and "RDF-star" in line and "shapes reader" in line


def test_a_plan_with_a_quoted_triple_is_one_line_with_the_rdflib_engine(tmp_path: Path) -> None:
    plan = tmp_path / "star-plan.ttl"
    plan.write_text(PLAN.read_text(encoding="utf-8") + "\n" + STAR, encoding="utf-8")
    line = assert_one_line_error(run_cli("validate", "--engine", "rdflib", str(plan)))
    assert f"{plan}:" in line and "RDF-star" in line and "rdflib engine" in line
    assert run_cli("validate", str(plan)).returncode in (0, 1)  # pyoxigraph reads it


def test_an_ontology_or_data_with_a_quoted_triple_is_one_line_with_rdflib(tmp_path: Path) -> None:
    onto = tmp_path / "star-onto.ttl"
    onto.write_text("@prefix owl: <http://www.w3.org/2002/07/owl#> .\n<https://w3id.org/iimkg/x> a owl:Ontology .\n"
                    "<https://w3id.org/iimkg/IIM_9> a owl:Class .\n" + STAR, encoding="utf-8")
    line = assert_one_line_error(run_cli("validate", "--qc", str(onto), "--engine", "rdflib"))
    assert "RDF-star" in line and f"{onto}:4:" in line, line
    data, plain = tmp_path / "star.ttl", tmp_path / "plain.ttl"
    data.write_text(STAR, encoding="utf-8")
    plain.write_text("<https://example.org/a> <https://example.org/b> <https://example.org/c> .\n", encoding="utf-8")
    line = assert_one_line_error(run_cli("sparql", "--engine", "rdflib", "ASK {}", "--data", str(plain),
                                         "--data", str(data)))
    assert "RDF-star" in line and "internal error" not in line and f"{data}:1:" in line, line
    done = run_cli("sparql", "ASK {}", "--data", str(data))
    assert done.returncode == 0 and done.stdout.strip() == "true"

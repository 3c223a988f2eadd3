"""The command line: answers, exit codes, and errors that name the problem without a traceback."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import rdflib

from iimkg.cli.main import main
from iimkg.core.kinds import Engine
from iimkg.queries.output import OutputFormat


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iimkg.cli.main", *args], capture_output=True, text=True, check=False)


def test_info_prints_the_version_and_the_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "version 20" in out and "triples:" in out and "clinical statements:" in out and "MONDO" in out


def test_query_list_names_every_query(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("subtypes", "treatments", "not-effective", "adverse-effects", "adverse-effect-prevention",
                 "infection-prevention", "supportive-care", "comorbidities", "drug-profile", "evidence", "mappings"):
        assert f"  {name} " in out


def test_query_help_shows_the_parameters_from_the_header() -> None:
    done = run("query", "adverse-effects", "--help")
    assert done.returncode == 0
    assert "--drug TERM" in done.stdout and "prednisone" in done.stdout


def test_json_output_is_sparql_results_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "mappings", "--term", "dermatomyositis", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "termLabel" in data["head"]["vars"]
    first = data["results"]["bindings"][0]
    assert first["term"] == {"type": "uri", "value": "https://w3id.org/iimkg/IIM_0000002"}
    assert first["termLabel"] == {"type": "literal", "value": "dermatomyositis", "xml:lang": "en"}


def test_an_unknown_term_exits_2_with_the_closest_matches() -> None:
    done = run("query", "adverse-effects", "--drug", "predisone")
    assert done.returncode == 2
    assert "prednisone (iim:IIM_0000102)" in done.stderr and "Traceback" not in done.stderr


def test_an_unknown_query_exits_2_with_a_suggestion() -> None:
    done = run("query", "adverse-effect")
    assert done.returncode == 2
    assert "adverse-effects" in done.stderr and "Traceback" not in done.stderr


def test_a_sparql_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    broken = tmp_path / "broken.rq"
    broken.write_text("SELECT *\nWHERE { ?s ?p ?o ) }\nLIMIT 1\n")
    done = run("sparql", str(broken))
    assert done.returncode == 2
    # the place is pyoxigraph's (it reports where its parser gave up)
    assert re.search(rf"{re.escape(str(broken))}:\d+:\d+: expected", done.stderr), done.stderr
    assert "Traceback" not in done.stderr


def test_sparql_runs_over_extra_data(tmp_path: Path) -> None:
    data = tmp_path / "plan.ttl"
    data.write_text("@prefix ex: <http://example.org/> .\n"
                    "ex:plan ex:prescribes <https://w3id.org/iimkg/IIM_0000102> .\n")
    done = run("sparql", "SELECT ?drug WHERE { ?plan <http://example.org/prescribes> ?drug }", "--data", str(data),
               "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["drug", "https://w3id.org/iimkg/IIM_0000102"]


def test_broken_extra_data_names_file_line_and_column(tmp_path: Path) -> None:
    data = tmp_path / "plan.ttl"
    data.write_text('@prefix ex: <http://example.org/> .\nex:p ex:q "unclosed .\n')
    done = run("sparql", "ASK { ?s ?p ?o }", "--data", str(data))
    assert done.returncode == 2
    assert f"{data}:2:" in done.stderr and "Traceback" not in done.stderr


def test_ask_prints_true_or_false(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sparql", "ASK { <https://w3id.org/iimkg/IIM_0000002> ?p ?o }"]) == 0
    assert capsys.readouterr().out == "true\n"
    assert main(["sparql", "ASK { <https://w3id.org/iimkg/IIM_0000002> a <http://example.org/Nothing> }"]) == 0
    assert capsys.readouterr().out == "false\n"


def test_reason_without_java_exits_2_and_says_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["reason"]) == 2
    err = capsys.readouterr().err
    assert "HermiT needs Java" in err and "default-jre-headless" in err


@pytest.mark.parametrize("fmt", [f for f in OutputFormat if not f.is_graph])
def test_query_writes_every_output_format(fmt: OutputFormat, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "subtypes", "--format", fmt.value]) == 0
    assert "dermatomyositis" in capsys.readouterr().out


@pytest.mark.parametrize("engine", list(Engine))
def test_sparql_runs_on_every_engine(engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    text = ("SELECT ?label WHERE { <https://w3id.org/iimkg/IIM_0000002> "
            "<http://www.w3.org/2000/01/rdf-schema#label> ?label }")
    assert main(["sparql", text, "--engine", engine.value, "--format", "csv"]) == 0
    assert "dermatomyositis" in capsys.readouterr().out.splitlines()


# --- iimkg sparql output: W3C results formats and RDF, with language tags and datatypes kept (issue 17) ------------

XSD_DECIMAL = "http://www.w3.org/2001/XMLSchema#decimal"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
PREDNISONE = "https://w3id.org/iimkg/IIM_0000102"
# a label in Spanish from the graph, and a typed literal and an IRI
TYPED_ROWS = (f'SELECT ?label ?dose ?drug WHERE {{ VALUES ?dose {{ 15.5 }} BIND (<{PREDNISONE}> AS ?drug) '
              f'?drug <{RDFS_LABEL}> ?label FILTER (lang(?label) = "es") }}')


def _sparql_out(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["sparql", *args]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["json", "xml", "tsv"])
def test_select_results_keep_language_tags_and_datatypes(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    import rdflib.query

    out = _sparql_out(capsys, TYPED_ROWS, "--format", fmt)
    parsed = rdflib.query.Result.parse(io.BytesIO(out.encode("utf-8")), format=fmt)
    [row] = list(parsed)
    label, dose, drug = row  # type: ignore[misc]
    assert (str(label), label.language) == ("prednisona", "es")
    assert (str(dose), str(dose.datatype)) == ("15.5", XSD_DECIMAL)
    assert drug == rdflib.URIRef(PREDNISONE)


def test_select_results_as_xml_follow_the_w3c_schema(capsys: pytest.CaptureFixture[str]) -> None:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(_sparql_out(capsys, TYPED_ROWS, "--format", "xml"))
    ns = {"s": "http://www.w3.org/2005/sparql-results#"}
    assert [v.get("name") for v in root.findall("s:head/s:variable", ns)] == ["label", "dose", "drug"]
    literals = root.findall(".//s:literal", ns)
    assert {(lit.text, lit.get("{http://www.w3.org/XML/1998/namespace}lang"), lit.get("datatype"))
            for lit in literals} == {("prednisona", "es", None), ("15.5", None, XSD_DECIMAL)}


def test_select_results_as_csv_are_plain_strings(capsys: pytest.CaptureFixture[str]) -> None:
    import csv

    rows = list(csv.reader(io.StringIO(_sparql_out(capsys, TYPED_ROWS, "--format", "csv"))))
    assert rows == [["label", "dose", "drug"], ["prednisona", "15.5", PREDNISONE]]


def test_tsv_writes_terms_as_the_w3c_says(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _sparql_out(capsys, TYPED_ROWS, "--format", "tsv").splitlines()
    assert lines[0] == "?label\t?dose\t?drug"
    assert lines[1].split("\t")[0] == '"prednisona"@es' and lines[1].split("\t")[2] == f"<{PREDNISONE}>"


@pytest.mark.parametrize(("fmt", "expected"), [("table", "true\n"), ("csv", "true\n"), ("tsv", "true\n")])
def test_ask_answers_true_or_false_in_text(fmt: str, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _sparql_out(capsys, f"ASK {{ <{PREDNISONE}> ?p ?o }}", "--format", fmt) == expected


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_ask_answers_as_w3c_boolean_results(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    import rdflib.query

    for text, answer in ((f"ASK {{ <{PREDNISONE}> ?p ?o }}", True), ("ASK { <http://example.org/x> ?p ?o }", False)):
        out = _sparql_out(capsys, text, "--format", fmt)
        assert rdflib.query.Result.parse(io.BytesIO(out.encode()), format=fmt).askAnswer is answer


GRAPH_QUERY = (f'CONSTRUCT {{ ?drug <{RDFS_LABEL}> ?label ; <http://example.org/dose> ?dose }} WHERE {{ '
               f'VALUES ?dose {{ 15.5 }} BIND (<{PREDNISONE}> AS ?drug) ?drug <{RDFS_LABEL}> ?label }}')


@pytest.mark.parametrize(("fmt", "syntax"), [(None, "turtle"), ("turtle", "turtle"), ("nt", "nt"),
                                             ("jsonld", "json-ld"), ("json", "json-ld"), ("rdfxml", "xml"),
                                             ("xml", "xml")])
def test_construct_is_written_as_rdf(fmt: str | None, syntax: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = _sparql_out(capsys, GRAPH_QUERY, *(["--format", fmt] if fmt else []))
    graph = rdflib.Graph().parse(data=out, format=syntax)
    drug = rdflib.URIRef(PREDNISONE)
    labels = {(str(o), o.language) for o in graph.objects(drug, rdflib.RDFS.label)}  # type: ignore[attr-defined]
    assert {("prednisone", "en"), ("prednisona", "es")} <= labels
    [dose] = list(graph.objects(drug, rdflib.URIRef("http://example.org/dose")))
    assert (str(dose), str(dose.datatype)) == ("15.5", XSD_DECIMAL)  # type: ignore[attr-defined]


def test_describe_is_written_as_turtle(capsys: pytest.CaptureFixture[str]) -> None:
    graph = rdflib.Graph().parse(data=_sparql_out(capsys, f"DESCRIBE <{PREDNISONE}>"), format="turtle")
    assert (rdflib.URIRef(PREDNISONE), rdflib.RDFS.label, rdflib.Literal("prednisone", lang="en")) in graph


@pytest.mark.parametrize(("text", "fmt", "says"), [
    (GRAPH_QUERY, "csv", "a graph, which CSV can't hold"),
    (TYPED_ROWS, "turtle", "--format turtle writes a graph"),
    (f"ASK {{ <{PREDNISONE}> ?p ?o }}", "nt", "true or false"),
])
def test_a_format_that_does_not_fit_the_query_form_is_one_line(text: str, fmt: str, says: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sparql", text, "--format", fmt]) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1


def test_the_query_is_read_from_standard_input() -> None:
    done = subprocess.run([sys.executable, "-m", "iimkg.cli.main", "sparql", "-", "--format", "csv"],
                          input=f"SELECT ?l WHERE {{ <{PREDNISONE}> <{RDFS_LABEL}> ?l }}", capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "prednisona" in done.stdout.splitlines()


def test_a_syntax_error_on_standard_input_names_stdin() -> None:
    done = subprocess.run([sys.executable, "-m", "iimkg.cli.main", "sparql", "-"], input="SELECT * WHERE { ?s ?p }",
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2 and done.stderr.startswith("iimkg: error: <stdin>:1:"), done.stderr


@pytest.mark.parametrize(("data", "expected"), [
    ('@prefix ex: <http://example.org/> . ex:plan ex:label "plan"@ca .', '"plan"@ca'),
    ('{"@context": {"ex": "http://example.org/"}, "@id": "ex:plan", "ex:label": {"@value": "plan", '
     '"@language": "ca"}}', '"plan"@ca'),
])
def test_data_is_read_from_standard_input(data: str, expected: str) -> None:
    done = subprocess.run([sys.executable, "-m", "iimkg.cli.main", "sparql",
                           "SELECT ?l WHERE { <http://example.org/plan> <http://example.org/label> ?l }",
                           "--data", "-", "--format", "tsv"], input=data, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["?l", expected]


def test_a_broken_file_on_standard_input_names_stdin() -> None:
    done = subprocess.run([sys.executable, "-m", "iimkg.cli.main", "sparql", "ASK {}", "--data", "-"],
                          input="@prefix ex: <http://example.org/> .\nex:a ex:b \"open .\n", capture_output=True,
                          text=True, check=False)
    assert done.returncode == 2 and done.stderr.startswith("iimkg: error: <stdin>:2"), done.stderr
    assert "Traceback" not in done.stderr and "iimkg-stdin" not in done.stderr


def test_json_ld_data_may_name_the_iimkg_plan_context(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from iimkg.core.vocab import PLAN_CONTEXT_IRI

    plan = tmp_path / "plan.jsonld"
    plan.write_text(json.dumps({"@context": PLAN_CONTEXT_IRI, "@id": "http://example.org/plan1",
                                "@type": "TreatmentPlan"}))
    out = _sparql_out(capsys, "SELECT ?t WHERE { <http://example.org/plan1> a ?t }", "--data", str(plan),
                      "--format", "csv")
    assert "https://w3id.org/iimkg/TreatmentPlan" in out.splitlines()


@pytest.mark.parametrize("engine", list(Engine))
def test_json_ld_data_with_a_remote_context_is_refused(engine: Engine, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "remote.jsonld"
    data.write_text('{"@context": "https://schema.org/", "@id": "http://example.org/a", "name": "x"}')
    assert main(["sparql", "ASK {}", "--data", str(data), "--engine", engine.value]) == 2
    err = capsys.readouterr().err
    assert f"{data}: the JSON-LD context 'https://schema.org/'" in err and "fetches nothing" in err


def test_only_one_of_query_and_data_reads_standard_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sparql", "-", "--data", "-"]) == 2
    assert "only one of the query and a --data file" in capsys.readouterr().err

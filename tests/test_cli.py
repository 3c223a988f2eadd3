"""The command line: answers, exit codes, and errors that name the problem without a traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

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

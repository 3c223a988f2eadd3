"""``iimkg sparql`` and ``iimkg query`` given hostile input: one line, exit 2 (or 130), no traceback, no network.

Each run is a child process with a memory cap and a time limit (:func:`hostile.run_cli`); every URL points at a
local listener that must see no connection.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hostile import (  # noqa: F401 (the fixture)
    Listener,
    as_a_foreground_job,
    assert_one_line_error,
    listener_fixture,
    run_cli,
)

CARTESIAN = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"  # the graph's size cubed: hours


def billion_laughs(path: Path, levels: int = 10) -> Path:
    """RDF/XML whose one literal expands to 10**levels characters through nested internal entities."""
    entities = ['<!ENTITY e0 "laugh">'] + [
        f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, levels)]
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n' + "\n".join(entities) + "\n]>\n"
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="urn:ex:">\n'
        f'<rdf:Description rdf:about="urn:ex:s"><ex:p>&e{levels - 1};</ex:p></rdf:Description>\n</rdf:RDF>\n',
        encoding="utf-8")
    return path


@pytest.mark.parametrize("engine", ["oxigraph", "rdflib"])
def test_service_is_refused_by_default(listener: Listener, engine: str) -> None:
    done = run_cli("sparql", f"SELECT * {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}", "--engine", engine)
    assert "--allow-service" in assert_one_line_error(done)
    assert listener.connections == 0


def test_service_is_refused_when_an_escaped_name_hides_it_from_a_text_scan(listener: Listener) -> None:
    done = run_cli("sparql", f"PREFIX z: <urn:z:> PREFIX s: <{listener.url}>\n"
                             "SELECT * { z:a\\#b ?p ?o . SERVICE s:x { ?s ?p ?o } }")
    assert_one_line_error(done)
    assert listener.connections == 0


def test_a_remote_from_is_not_fetched_by_rdflib(listener: Listener) -> None:
    done = run_cli("sparql", f"SELECT * FROM <{listener.url}> {{ ?s ?p ?o }}", "--engine", "rdflib")
    assert "FROM" in assert_one_line_error(done)
    assert listener.connections == 0


def test_allow_service_does_let_the_query_call_out(listener: Listener) -> None:
    """The opt-in works (so the refusals above are the guard's doing, not a broken engine)."""
    run_cli("sparql", f"SELECT * {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}", "--allow-service")
    assert listener.connections >= 1


@pytest.mark.parametrize("engine", ["oxigraph", "rdflib"])
def test_a_runaway_query_stops_at_its_timeout(engine: str) -> None:
    started = time.monotonic()
    done = run_cli("sparql", CARTESIAN, "--engine", engine, "--timeout", "2")
    assert "--timeout" in assert_one_line_error(done)
    assert time.monotonic() - started < 15


def test_a_named_query_has_a_timeout_too() -> None:
    done = run_cli("query", "adverse-effects", "--drug", "prednisone", "--timeout", "0.001")
    assert "--timeout" in assert_one_line_error(done)


def test_ctrl_c_stops_a_runaway_query_with_130() -> None:
    child = subprocess.Popen([sys.executable, "-m", "iimkg.cli.main", "sparql", CARTESIAN, "--timeout", "120"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                             preexec_fn=as_a_foreground_job)
    time.sleep(3)  # past the imports, into the query
    os.killpg(child.pid, signal.SIGINT)  # as the terminal does: the whole process group
    try:
        _, err = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    assert child.returncode == 130
    assert "Traceback" not in err


@pytest.mark.parametrize("engine", ["oxigraph", "rdflib"])
def test_ten_thousand_parentheses_give_one_line(engine: str) -> None:
    done = run_cli("sparql", "SELECT * { FILTER(" + "(" * 10_000 + "1" + ")" * 10_000 + ") }", "--engine", engine)
    assert "nests brackets" in assert_one_line_error(done)


def test_max_depth_raises_the_limit() -> None:
    text = "ASK { FILTER(" + "(" * 150 + "true" + ")" * 150 + ") }"
    assert_one_line_error(run_cli("sparql", text))
    done = run_cli("sparql", text, "--max-depth", "200", "--format", "json")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("engine", ["oxigraph", "rdflib"])
def test_billion_laughs_is_refused_before_parsing(tmp_path: Path, engine: str) -> None:
    data = billion_laughs(tmp_path / "laughs.rdf")
    done = run_cli("sparql", "ASK { ?s ?p ?o }", "--data", str(data), "--engine", engine)
    line = assert_one_line_error(done)
    assert f"{data}:3:1:" in line and "ENTITY" in line


def test_an_entity_split_across_read_chunks_is_found(tmp_path: Path) -> None:
    data = tmp_path / "padded.rdf"
    padding = "<!-- " + "x" * ((1 << 20) - 30) + " -->\n"
    data.write_text('<?xml version="1.0"?>\n<!DOCTYPE r [\n' + padding + '<!ENTITY a "b">\n]>\n<r/>\n',
                    encoding="utf-8")
    line = assert_one_line_error(run_cli("sparql", "ASK {}", "--data", str(data)))
    assert f"{data}:4:1:" in line


def test_a_file_over_the_size_limit_is_refused_and_the_flag_raises_it(tmp_path: Path) -> None:
    data = tmp_path / "big.nt"
    data.write_text("<urn:a> <urn:b> \"" + "x" * (2 * 1_048_576) + "\" .\n", encoding="utf-8")
    line = assert_one_line_error(run_cli("sparql", "ASK { ?s ?p ?o }", "--data", str(data), "--max-input-mb", "1"))
    assert "--max-input-mb" in line and str(data) in line
    done = run_cli("sparql", "ASK { <urn:a> ?p ?o }", "--data", str(data), "--max-input-mb", "3")
    assert done.returncode == 0, done.stderr


def test_a_100_kb_parameter_is_not_echoed_whole() -> None:
    line = assert_one_line_error(run_cli("query", "adverse-effects", "--drug", "x" * 100_000))
    assert len(line) <= 1000 and line.endswith("…")


def test_serve_refuses_an_entity_declaring_data_file(tmp_path: Path) -> None:
    data = billion_laughs(tmp_path / "laughs.owl")
    line = assert_one_line_error(run_cli("serve", "--port", "0", "--data", str(data)))
    assert f"{data}:3:1:" in line and "ENTITY" in line


def test_serve_has_the_input_size_flag(tmp_path: Path) -> None:
    data = tmp_path / "big.nt"
    data.write_text("<urn:a> <urn:b> \"" + "x" * (2 * 1_048_576) + "\" .\n", encoding="utf-8")
    line = assert_one_line_error(run_cli("serve", "--port", "0", "--data", str(data), "--max-input-mb", "1"))
    assert "--max-input-mb" in line


def test_a_query_past_its_memory_cap_is_stopped_with_one_line() -> None:
    """60 MB of address space is less than the child already holds: its next allocation fails, and it says so."""
    line = assert_one_line_error(run_cli("sparql", "SELECT * { ?s ?p ?o }", "--max-memory-mb", "60"))
    assert "--max-memory-mb" in line


def test_the_quality_gate_refuses_an_entity_declaring_ontology(tmp_path: Path) -> None:
    data = billion_laughs(tmp_path / "laughs.owl")
    line = assert_one_line_error(run_cli("validate", "--qc", str(data)))
    assert f"{data}:3:1:" in line and "ENTITY" in line

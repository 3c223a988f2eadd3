"""The command's edges: SIGTERM cleans up as Ctrl-C does, option values out of range are refused when parsed, error
messages stay one line whatever the input holds, and messages name the real problem.

Each run is a child process with a memory cap and a time limit (:func:`hostile.run_cli`), or a process group that
the test signals as ``timeout`` does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from test_hostile_bulk import write_export
from test_hostile_validate import _cloned_cohort

from hostile import assert_one_line_error, run_cli

CARTESIAN = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"  # the graph's size cubed: hours


def _children_of(pid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            found.append(int(name))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _terminated_when(ready: Callable[[], bool], *args: str, env: dict[str, str] | None = None,
                     ) -> tuple[subprocess.CompletedProcess[str], list[int]]:
    """``iimkg ARGS`` in a process group of its own, sent SIGTERM as ``timeout`` sends it (to the whole group) once
    ``ready()``; the finished run and the processes it had started."""
    child = subprocess.Popen([sys.executable, "-m", "iimkg.cli.main", *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while not ready() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        assert ready(), "the run never got to the point where the test stops it"
        assert child.poll() is None, "the run ended before SIGTERM: make the input larger"
        started = _children_of(child.pid)
        os.killpg(child.pid, signal.SIGTERM)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(child.args, child.returncode, out, err), started


def test_sigterm_in_a_streamed_conversion_is_143_and_leaves_no_temporary_output(tmp_path: Path) -> None:
    files = write_export(tmp_path, 3_000)
    out = tmp_path / "out"
    out.mkdir()
    done, _ = _terminated_when(lambda: any(out.iterdir()), "fhir", "convert", *map(str, files),
                               "-o", str(out / "plans.ttl"))
    assert done.returncode == 143 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert list(out.iterdir()) == []


def test_sigterm_in_a_large_validation_is_143_and_leaves_no_report_no_spill_files_and_no_workers(
        tmp_path: Path) -> None:
    cohort = _cloned_cohort(tmp_path, 8_000)
    spill, report = tmp_path / "spill", tmp_path / "report.json"
    spill.mkdir()
    started = time.monotonic()

    def into_the_run() -> bool:
        return any(spill.iterdir()) and time.monotonic() - started > 4

    done, workers = _terminated_when(into_the_run, "validate", str(cohort), "--workers", "2", "--format", "json",
                                     "--output", str(report), env={**os.environ, "IIMKG_TMPDIR": str(spill)})
    assert done.returncode == 143 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert not report.exists()
    assert not list(spill.rglob("*")), list(spill.rglob("*"))
    assert workers and not [pid for pid in workers if _alive(pid)]


def test_sigterm_stops_a_runaway_query_and_its_process_with_143(tmp_path: Path) -> None:
    started = time.monotonic()
    done, query = _terminated_when(lambda: time.monotonic() - started > 3, "sparql", CARTESIAN, "--timeout", "120")
    assert done.returncode == 143 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert query and not [pid for pid in query if _alive(pid)]


# ── option values out of range: refused when parsed, one line with the range ──

@pytest.mark.parametrize("value", ["inf", "1e308", "99999999999999999999", "1e10", "nan", "-inf", "0"])
@pytest.mark.parametrize("command", [["sparql", "ASK {}"], ["query", "subtypes"]])
def test_a_timeout_that_is_not_a_finite_number_of_seconds_in_range_is_one_line(command: list[str], value: str) -> None:
    line = assert_one_line_error(run_cli(*command, f"--timeout={value}"))
    assert "--timeout" in line and "above 0 and at most 86400" in line


@pytest.mark.parametrize("value", ["99999999999999999999", "1", "50", "0", "1e3"])
def test_a_memory_cap_out_of_range_is_one_line_with_the_floor(value: str) -> None:
    line = assert_one_line_error(run_cli("sparql", "ASK {}", "--max-memory-mb", value))
    assert "--max-memory-mb" in line and "from 128" in line


def test_the_memory_floor_lets_a_query_run() -> None:
    for engine in ("oxigraph", "rdflib"):
        done = run_cli("query", "adverse-effects", "--drug", "prednisone", "--engine", engine,
                       "--max-memory-mb", "128")
        assert done.returncode == 0 and done.stderr == "", (engine, done.stderr[-2000:])


@pytest.mark.parametrize("option", [["--timeout", "nan"], ["--timeout", "inf"], ["--request-timeout", "1e400"],
                                    ["--worker-memory", "1"], ["--worker-memory", "50"], ["--workers", "100000"],
                                    ["--max-results", "99999999999999999999"], ["--max-request-bytes", "1e3"],
                                    ["--max-request-bytes", str(2**40)]])
def test_serve_refuses_an_option_out_of_range_before_it_starts(option: list[str]) -> None:
    line = assert_one_line_error(run_cli("serve", "--port", "0", *option, timeout=30))
    assert option[0] in line


@pytest.mark.parametrize("command", [["validate", "plan.ttl"], ["fhir", "convert", "bundle.json"], ["serve"],
                                     ["sparql", "ASK {}"]])
@pytest.mark.parametrize("option", [["--max-input-mb", "99999999999999999999"], ["--max-depth", "0"]])
def test_every_command_refuses_a_limit_out_of_range_when_it_parses_it(command: list[str], option: list[str]) -> None:
    """One parser per kind of limit (cli/options.py): validate and fhir convert took any --max-input-mb."""
    line = assert_one_line_error(run_cli(*command, *option, timeout=30))
    assert option[0] in line and "is not a whole number above 0" in line, line


def test_validate_refuses_more_workers_than_serve_would_start() -> None:
    line = assert_one_line_error(run_cli("validate", "--workers", "1000", "plan.ttl", timeout=30))
    assert "--workers" in line and "at most 64" in line, line


# ── error messages: one line, whatever the input holds ──

def test_a_message_that_quotes_a_file_shows_its_newlines_and_escapes_escaped(tmp_path: Path) -> None:
    injected = tmp_path / "inj.rdf"
    injected.write_text("line1\nline2\nline3\n\x1b[31mRED\n", encoding="utf-8")
    done = run_cli("validate", str(injected))
    line = assert_one_line_error(done)
    assert "\x1b" not in done.stderr and "\\x1b[31mRED" in line and "line1\\nline2" in line


def test_a_large_file_quoted_in_a_message_is_one_line_cut_at_the_limit(tmp_path: Path) -> None:
    text = tmp_path / "big.rdf"
    text.write_text("A\n" * 100_000, encoding="utf-8")
    line = assert_one_line_error(run_cli("validate", str(text)))
    assert len(line) <= 1000 and line.endswith("…")


def test_a_query_past_its_memory_cap_is_one_line_without_the_runtime_s_own_messages() -> None:
    done = run_cli("sparql", "CONSTRUCT { ?a ?b ?c . ?d ?e ?f } { ?a ?b ?c . ?d ?e ?f }", "--max-memory-mb", "128")
    assert "memory" in assert_one_line_error(done)


@pytest.mark.parametrize("args", [["sparql"], ["validate", "--format", "nope"], ["query", "subtypes", "--nope"],
                                  ["fhir", "convert"], ["nope"]])
def test_a_usage_error_is_one_line(args: list[str]) -> None:
    assert " --help)" in assert_one_line_error(run_cli(*args))


# ── messages that name the real problem ──

@pytest.mark.parametrize("update", ["INSERT DATA { <urn:a> <urn:b> <urn:c> }", "DELETE WHERE { ?s ?p ?o }",
                                    "LOAD <http://127.0.0.1:9/x>", "CLEAR ALL"])
@pytest.mark.parametrize("engine", ["oxigraph", "rdflib"])
def test_an_update_is_refused_as_an_update(update: str, engine: str) -> None:
    line = assert_one_line_error(run_cli("sparql", update, "--engine", engine))
    assert "runs queries only" in line and "does not run updates" in line


@pytest.mark.parametrize("update", ["INSERT DATA { <urn:a> <urn:b> }", "BASE <urn:b:> LOAD",
                                    "PREFIX x: <urn:x:> # a comment\ndelete where { ?s"])
def test_a_malformed_update_is_refused_as_an_update_with_the_update_parsers_place(update: str) -> None:
    """Not the query parser's "expected CONSTRUCT" at the first keyword."""
    line = assert_one_line_error(run_cli("sparql", update))
    assert "does not run updates" in line and "does not parse as one either (line " in line, line
    assert "CONSTRUCT" not in line.split("does not run updates")[1], line


def test_a_query_whose_prefix_is_an_update_word_still_runs() -> None:
    done = run_cli("sparql", "PREFIX add: <urn:x:> SELECT * { ?s add:p ?o }")
    assert done.returncode == 0, done.stderr


def test_a_query_argument_that_is_not_utf8_is_one_line_saying_so() -> None:
    done = subprocess.run([sys.executable, "-m", "iimkg.cli.main", "sparql", b'SELECT * { ?s ?p "\xff" }'],
                          capture_output=True, text=True, check=False, timeout=60)
    line = assert_one_line_error(done)
    assert "not UTF-8" in line and "0xff" in line and "internal error" not in line


def test_graph_with_the_rdflib_engine_says_to_use_oxigraph() -> None:
    line = assert_one_line_error(run_cli("sparql", "SELECT * { GRAPH <urn:g> { ?s ?p ?o } }", "--engine", "rdflib"))
    assert "--engine oxigraph" in line and "internal error" not in line


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/", "http://127.0.0.1:0/", "http://127.0.0.1:x/"])
def test_an_endpoint_port_that_cannot_exist_is_said_so(url: str) -> None:
    line = assert_one_line_error(run_cli("sparql", "ASK {}", "--endpoint", url))
    assert "from 1 to 65535" in line and "refused" not in line

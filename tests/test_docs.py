"""The tables in docs/ that restate the shapes and the graph are the ones the command writes from them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import rdflib

from iimkg.core.prefixes import compress
from iimkg.core.resources import shapes_dir
from iimkg.core.vocab import IIM
from iimkg.graph.loading import load
from iimkg.queries.run import query, term_index
from iimkg.release.doctables import (
    COMMAND,
    DOCUMENTS,
    README,
    query_blocks,
    query_table,
    refreshed,
    rule_table,
    stale,
    term_table,
)
from iimkg.shacl.findings import rules_of

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_the_generated_tables_of_the_docs_are_up_to_date(name: str) -> None:
    assert name not in stale(DOCS), f"docs/{name} restates the shapes or the graph as they were: run {COMMAND}"


def test_the_rule_table_has_one_row_per_plan_rule() -> None:
    shapes = rdflib.Graph().parse(shapes_dir() / "treatment-plan.ttl", format="turtle")
    rows = re.findall(r"^\| `(\w+)` \|", rule_table(), flags=re.MULTILINE)
    assert sorted(rows) == sorted(r.name for r in rules_of(shapes))


def test_the_term_list_has_one_row_per_class_of_ours() -> None:
    classes = {str(c).rsplit("/", 1)[-1] for c in load().subjects(rdflib.RDF.type, rdflib.OWL.Class)
               if str(c).startswith(IIM + "IIM_")}
    rows = re.findall(r"^\| (IIM_\d+) \|", term_table(), flags=re.MULTILINE)
    assert sorted(rows) == sorted(classes)


def test_a_document_without_the_markers_is_an_error() -> None:
    with pytest.raises(ValueError, match="generated: rules"):
        refreshed("# Treatment plans\n\nno table here\n", ["rules"])


# ── the README's example tables ──

def test_the_readmes_example_tables_are_the_graphs_answers() -> None:
    readme = DOCS.parent / README
    blocks = query_blocks(readme.read_text(encoding="utf-8"))
    assert blocks, "README.md has no generated query tables"
    assert README not in stale(DOCS), f"README.md's example tables are not the graph's answers: run {COMMAND}"


def test_each_readme_table_follows_the_command_it_answers() -> None:
    """The table under a `query …` marker is that command's answer (and the report under `report validate …` that
    validation's): the code block just above shows the command."""
    text = (DOCS.parent / README).read_text(encoding="utf-8")
    for name in query_blocks(text):
        before = text[:text.index(f"<!-- generated: {name} -->")]
        last_block = before[before.rindex("```", 0, before.rindex("```")):]
        command = name.removeprefix("report ")
        assert f"iimkg {command}" in last_block, f"the table of '{name}' does not follow a block that shows it"


def test_a_query_table_shows_labels_with_their_curie_beside() -> None:
    table = query_table("query adverse-effects --drug prednisone")
    index = term_index()
    rows = query("adverse-effects", labels=False, drug="prednisone")
    first = rows[0]["effect"]
    assert first is not None
    assert f"| {index.label(first.value)} `{compress(first.value)}` |" in table
    assert f"of {len(rows)} rows" in table


# ── every command the docs show, run ──

ROOT = DOCS.parent
COMMAND_SECONDS = 180
_FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_SHELL = {"sh", "console", "bash", "shell", "shell-session"}

# Commands the docs show that a test cannot run here, and why.
SKIP = {
    "iimkg release --out dist/": "a whole release (Java, ROBOT-style checks, every artefact); tests/test_release.py "
                                 "builds one",
}
# Commands that exit other than 0 as their document says, with what says so.
EXIT = {
    "iimkg validate examples/plans/several-findings.ttl": (1, "README: its report ends 'FAIL: 3 findings at or "
                                                               "above violation'; exit 1 when something is"),
    "iimkg validate plans/*.ttl --format junit --output plans.xml": (1, "the example plans include failing ones"),
    "iimkg validate examples/fhir/dermatomyositis-gaps.json": (1, "the gaps example has violations (docs/fhir.md)"),
    "iimkg validate examples/plans/*.ttl examples/plans/*.jsonld": (1, "the example plans include failing ones"),
    "iimkg validate --format json --output report.json clinic/plans/*.jsonld": (1, "the JSON-LD examples include "
                                                                                  "failing plans"),
    "iimkg fhir convert examples/fhir/bulk-export/*.ndjson --strict": (1, "README: 'exit 1 if anything could not be "
                                                                          "read'; the bulk example has unmapped codes"),
}


def _shell_commands(path: Path) -> list[tuple[int, str, str]]:
    """``(line, command, fenced block language)`` for each ``iimkg`` command in ``path``'s shell code blocks.

    Blocks marked ``sh``/``console``/``bash``, and unmarked blocks for lines that start with ``iimkg `` (not a
    usage synopsis with ``[--option]``). A ``$ `` prompt is dropped and ``\\`` continuations joined.
    """
    text = path.read_text(encoding="utf-8")
    out = []
    for block in _FENCE.finditer(text):
        language = block.group(1)
        if language not in _SHELL and language != "":
            continue
        first_line = text.count("\n", 0, block.start(2)) + 1
        pending = ""
        for offset, raw in enumerate(block.group(2).splitlines()):
            line = raw.strip()
            if language == "console":
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            line = pending + line
            if line.endswith("\\"):
                pending = line[:-1] + " "
                continue
            pending = ""
            if not line.startswith("iimkg "):
                continue
            if language == "" and re.search(r"\[--?\w", line):
                continue  # a usage synopsis, not a command
            out.append((first_line + offset, line, language))
    return out


def _documents() -> list[Path]:
    return [ROOT / README, *sorted(DOCS.glob("*.md"))]


def _doc_commands() -> list[Any]:
    cases = []
    for path in _documents():
        for line, command, _ in _shell_commands(path):
            cases.append(pytest.param(path, line, command, id=f"{path.relative_to(ROOT)}:{line}"))
    return cases


def _without_comment(command: str) -> str:
    return re.sub(r"\s+#.*$", "", command).strip()


def _sparql_before(path: Path, line: int) -> str | None:
    """The last ``sparql`` code block above ``line`` of ``path``: the query a ``iimkg sparql FILE.rq`` runs."""
    text = path.read_text(encoding="utf-8")
    cut = sum(len(t) + 1 for t in text.split("\n")[:line - 1])
    found = [b.group(2) for b in _FENCE.finditer(text[:cut]) if b.group(1) == "sparql"]
    return found[-1] if found else None


LOCAL_RULES = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix iim: <https://w3id.org/iimkg/> .
@prefix ex: <https://example.org/clinic/rules/> .

# a clinic's own rule, as a reader of the docs would add one: every plan has an identifier
ex:plan_identifier a sh:NodeShape ;
    sh:targetClass iim:TreatmentPlan ;
    sh:property [ sh:path dcterms:identifier ; sh:minCount 1 ; sh:severity sh:Warning ;
                  sh:message "A plan has an identifier." ] .
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the files the docs name: ``examples/`` as shipped, and stand-ins for the reader's own files
    (``plans/*.ttl`` and ``clinic/plans/*.jsonld`` are the example plans, ``my-fork.ttl`` the ontology, a plan
    JSON-LD example for ``my-plan.jsonld`` and ``plan.jsonld``, a small SHACL rule for the local rules)."""
    import shutil

    folder = tmp_path_factory.mktemp("docs-commands")
    shutil.copytree(ROOT / "examples", folder / "examples")
    (folder / "plans").mkdir()
    (folder / "clinic" / "plans").mkdir(parents=True)
    for plan in (ROOT / "examples" / "plans").iterdir():
        if plan.suffix == ".ttl":
            shutil.copy(plan, folder / "plans")
        elif plan.suffix == ".jsonld":
            shutil.copy(plan, folder / "clinic" / "plans")
    shutil.copy(ROOT / "ontology" / "iim.ttl", folder / "my-fork.ttl")
    for name in ("my-plan.jsonld", "plan.jsonld"):
        shutil.copy(ROOT / "examples" / "plans" / "conforming-antisynthetase.jsonld", folder / name)
    for name in ("clinic-rules.ttl", "our-local-rules.ttl"):
        (folder / name).write_text(LOCAL_RULES, encoding="utf-8")
    return folder


@pytest.mark.parametrize(("path", "line", "command"), _doc_commands())
def test_each_command_the_docs_show_runs_as_documented(workspace: Path, path: Path, line: int, command: str) -> None:
    import os
    import shutil
    import subprocess
    import sys

    shown = _without_comment(command)
    if shown in SKIP:
        pytest.skip(SKIP[shown])
    if shown.startswith("iimkg reason") and shutil.which("java") is None:
        pytest.skip("Java is not installed (.ci/run installs it); iimkg reason runs HermiT on it")
    if re.match(r"iimkg sparql \S+\.rq$", shown):
        query_text = _sparql_before(path, line)
        assert query_text is not None, f"{shown}: no sparql block above it says what the .rq file holds"
        (workspace / shown.split()[-1]).write_text(query_text, encoding="utf-8")
    # where a command's output goes is the reader's choice (~/.zfunc/…): it is run, its output kept here
    run = re.sub(r"\s+>\s*\S+", "", shown)
    expected, why = EXIT.get(shown, (0, "exit 0"))
    env = {**os.environ, "HOME": str(workspace), "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                                        f"{os.environ.get('PATH', '')}"}
    if run.startswith("iimkg serve"):
        _serve_starts(run, workspace, env)
        return
    try:
        done = subprocess.run(["bash", "-c", run], cwd=workspace, env=env, capture_output=True, text=True,
                              timeout=COMMAND_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{path.name}:{line}: `{shown}` ran longer than {COMMAND_SECONDS} s")
    assert done.returncode == expected, (
        f"{path.name}:{line}: `{shown}` exited {done.returncode}, expected {expected} ({why}):\n"
        f"{done.stderr[-1500:]}")
    assert "Traceback" not in done.stderr


def _serve_starts(command: str, workspace: Path, env: dict[str, str]) -> None:
    """``iimkg serve …`` (on a free port) prints that it listens, and stops on SIGTERM (docs/serve.md).

    uvicorn stops serving, then raises the signal again, so the process ends as SIGTERM ends it (or exits 0)."""
    import signal
    import subprocess

    from serving import _banner, stop

    log = workspace / "serve.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(["bash", "-c", f"exec {command} --port 0"], cwd=workspace, env=env,
                                   stdout=subprocess.PIPE, stderr=log_file, stdin=subprocess.DEVNULL)
    try:
        assert "listening on http://" in _banner(process, log)
    finally:
        code = stop(process)
    assert code in {0, -signal.SIGTERM}, log.read_text(errors="replace")[-1500:]

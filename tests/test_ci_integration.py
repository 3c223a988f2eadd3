"""CI integration: the pre-commit hooks, the composite GitHub Action and CITATION.cff, each run as their users run it.

- ``.pre-commit-hooks.yaml`` is checked by pre-commit's own manifest schema, and its hooks run with
  ``pre-commit try-repo`` in a temporary git repository. The ``system`` hooks run the ``iimkg`` of this
  environment (no network); the ``python`` hooks make pre-commit pip-install this repository into a fresh
  environment, which needs the package index: that test is marked slow.
- ``action.yml``: every ``iimkg`` flag its scripts use is one the ``validate`` command has, the step that validates
  runs here with bash and the real ``iimkg`` (its inputs from the action's defaults), and upload-sarif gets its file.
- ``CITATION.cff`` is valid against the Citation File Format 1.2.0 schema (``tests/resources/schemas/``, a copy of
  the schema ``cffconvert --validate`` uses; cffconvert 2.0 pins ``jsonschema<4``, which the test extra's
  openapi-spec-validator can't share, so it is not in the test extra: where it is installed, it runs too).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml  # type: ignore[import-untyped]

from iimkg.cli import validate as validate_command

from conftest import RESOURCES, ROOT

HOOKS = ROOT / ".pre-commit-hooks.yaml"
ACTION = ROOT / "action.yml"
CITATION = ROOT / "CITATION.cff"
FAILING_PLAN = ROOT / "examples" / "plans" / "live-vaccine.ttl"
CONFORMING_PLAN = ROOT / "examples" / "plans" / "conforming-dermatomyositis.ttl"
BIN = str(Path(sys.executable).parent)


def _validate_parser() -> argparse.ArgumentParser:
    """``iimkg validate``'s own parser, built by the module that registers it."""
    parser = argparse.ArgumentParser(prog="iimkg")
    validate_command.register(parser.add_subparsers())
    return parser


def _hooks() -> list[dict[str, Any]]:
    hooks: list[dict[str, Any]] = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    return hooks


def _status(result: Any) -> int:
    """The exit status ``iimkg validate`` gives a result: 0 if it conforms, 1 if not."""
    return 0 if result.conforms else 1


# ── pre-commit ──

def test_hooks_are_a_valid_pre_commit_manifest() -> None:
    from pre_commit.clientlib import load_manifest  # type: ignore[import-untyped]

    loaded = load_manifest(str(HOOKS))
    assert {hook["id"] for hook in loaded} == {hook["id"] for hook in _hooks()}


@pytest.mark.parametrize("hook", _hooks(), ids=lambda hook: hook["id"])
def test_each_hook_runs_a_validate_command_the_cli_accepts(hook: dict[str, Any]) -> None:
    command, *args = hook["entry"].split()
    assert command == "iimkg" and args[0] == "validate"
    sample = CONFORMING_PLAN if "--qc" not in args else ROOT / "ontology" / "iim.ttl"
    assert re.search(hook["files"], sample.name), f"{hook['id']} would not run on {sample.name}"
    _validate_parser().parse_args([*args, str(sample)])  # exits (status 2) on a flag validate does not have


def _git_repository(folder: Path, files: list[Path]) -> Path:
    folder.mkdir()
    for file in files:
        shutil.copy(file, folder / file.name)
    git = ["git", "-c", "user.name=iimkg tests", "-c", "user.email=tests@iimkg.invalid",
           "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=folder, check=True)
    subprocess.run([*git, "add", "."], cwd=folder, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "files"], cwd=folder, check=True)
    return folder


def _try_repo(hook_repo: Path, hook: str, project: Path, files: list[str],
              home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PATH": BIN + os.pathsep + os.environ.get("PATH", "")}
    env.pop("PRE_COMMIT", None)
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), hook, "--files", *files],
                          cwd=project, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository holding only this project's hook definitions, as committed (the system hooks need no more)."""
    return _git_repository(tmp_path_factory.mktemp("hooks") / "repo", [HOOKS])


@pytest.mark.parametrize(("plan", "expected"), [(FAILING_PLAN, 1), (CONFORMING_PLAN, 0)])
def test_plan_hook_fails_a_commit_with_findings(hook_repo: Path, tmp_path: Path, plan: Path, expected: int) -> None:
    from iimkg.validation import validate_plans

    assert _status(validate_plans([plan])) == expected
    project = _git_repository(tmp_path / "project", [plan])
    run = _try_repo(hook_repo, "iimkg-validate-system", project, [plan.name], tmp_path / "home")
    assert run.returncode == expected, run.stdout + run.stderr
    assert ("Passed" if expected == 0 else "Failed") in run.stdout


def test_qc_hook_runs_the_quality_gate_on_an_ontology(hook_repo: Path, tmp_path: Path) -> None:
    from iimkg.shacl.qc import validate_ontology

    case = RESOURCES / "qc" / "missing_label-fail.ttl"
    assert _status(validate_ontology([case])) == 1
    project = _git_repository(tmp_path / "project", [case])
    run = _try_repo(hook_repo, "iimkg-qc-system", project, [case.name], tmp_path / "home")
    assert run.returncode == 1 and "missing_label" in run.stdout, run.stdout + run.stderr


@pytest.mark.slow
def test_python_hook_installs_iimkg_from_this_repository(tmp_path: Path) -> None:
    """pre-commit pip-installs this repository (and its dependencies, from the package index) for the hook."""
    project = _git_repository(tmp_path / "project", [FAILING_PLAN])
    run = _try_repo(ROOT, "iimkg-validate", project, [FAILING_PLAN.name], tmp_path / "home")
    assert run.returncode == 1 and "live_vaccine" in run.stdout, run.stdout + run.stderr


# ── the GitHub Action ──

def _action() -> dict[str, Any]:
    action: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return action


def test_action_is_a_composite_action_whose_references_exist() -> None:
    action = _action()
    assert action["runs"]["using"] == "composite" and action["name"] and action["description"]
    steps = action["runs"]["steps"]
    ids = {step["id"] for step in steps if "id" in step}
    text = ACTION.read_text(encoding="utf-8")
    assert set(re.findall(r"inputs\.([\w-]+)", text)) <= set(action["inputs"])
    assert set(re.findall(r"steps\.([\w-]+)\.", text)) <= ids
    for step in steps:
        assert ("uses" in step) != ("run" in step)
        assert "run" not in step or step["shell"] == "bash"
        assert "run" not in step or "${{" not in step["run"], "expressions go through env, not into scripts"
    (upload,) = [step for step in steps if step.get("uses", "").startswith("github/codeql-action/upload-sarif@")]
    assert upload["with"]["sarif_file"] == "${{ steps.validate.outputs.sarif-file }}"


def test_action_uses_only_flags_validate_has() -> None:
    parser = _validate_parser()
    validate = next(action for action in parser._subparsers._actions  # type: ignore[union-attr]
                    if isinstance(action, argparse._SubParsersAction)).choices["validate"]
    scripts = "\n".join(step.get("run", "") for step in _action()["runs"]["steps"])
    used = set(re.findall(r"iimkg validate[^\n]*", scripts))
    flags = {flag for line in used for flag in re.findall(r"(?<!\S)(--[a-z-]+)", line)}
    flags |= set(re.findall(r"set -- (--[a-z-]+)", scripts))
    assert {"--format", "--output", "--fail-on", "--qc"} <= flags
    assert flags <= set(validate._option_string_actions)
    assert "sarif" in [choice for action in validate._actions if action.dest == "format"
                       for choice in action.choices or ()]


def _run_validate_step(tmp_path: Path, cwd: Path, **given: str) -> tuple[int, dict[str, str], Path]:
    """The action's validate step, run with bash as the runner runs it: env from the inputs (defaults, then
    ``given``), ``GITHUB_OUTPUT`` a file. Returns the exit status, the outputs written and the SARIF path."""
    action = _action()
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()} | given
    inputs["sarif-file"] = str(tmp_path / "out.sarif")
    (step,) = [step for step in action["runs"]["steps"] if step.get("id") == "validate"]
    env = {name: re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: inputs[m.group(1)], value)
           for name, value in step["env"].items()}
    outputs = tmp_path / "github-output"
    outputs.touch()
    run = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=cwd, capture_output=True, text=True, timeout=300,
                         env={**os.environ, **env, "GITHUB_OUTPUT": str(outputs),
                              "PATH": BIN + os.pathsep + os.environ.get("PATH", "")})
    written = dict(line.split("=", 1) for line in outputs.read_text(encoding="utf-8").splitlines())
    return run.returncode, written, Path(inputs["sarif-file"])


def test_action_validate_step_writes_sarif_and_the_status(tmp_path: Path) -> None:
    from iimkg.validation import validate_plans

    expected = validate_plans([FAILING_PLAN])
    code, outputs, sarif = _run_validate_step(tmp_path, ROOT, plans="examples/plans/live-*.ttl")
    assert code == 0 and outputs == {"sarif-file": str(sarif), "status": str(_status(expected))}
    results = json.loads(sarif.read_text(encoding="utf-8"))["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == [f.rule for f in expected.findings]


def test_action_validate_step_runs_the_quality_gate(tmp_path: Path) -> None:
    from iimkg.shacl.qc import validate_ontology

    case = RESOURCES / "qc" / "missing_label-fail.ttl"
    expected = validate_ontology([case])
    code, outputs, sarif = _run_validate_step(tmp_path, ROOT, qc=str(case.relative_to(ROOT)))
    assert code == 0 and outputs["status"] == str(_status(expected))
    results = json.loads(sarif.read_text(encoding="utf-8"))["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {f.rule for f in expected.findings}


def test_action_refuses_plans_and_qc_together(tmp_path: Path) -> None:
    code, outputs, _ = _run_validate_step(tmp_path, ROOT, plans="a.ttl", qc="b.ttl")
    assert code == 2 and outputs == {}


# ── CITATION.cff ──

def _citation() -> dict[str, Any]:
    citation: dict[str, Any] = yaml.safe_load(CITATION.read_text(encoding="utf-8"))
    return citation


def test_citation_is_valid_citation_file_format() -> None:
    schema = json.loads((RESOURCES / "schemas" / "citation-file-format-1.2.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).validate(_citation())


def test_citation_version_is_the_package_version() -> None:
    from importlib.metadata import version

    assert str(_citation()["version"]) == version("iimkg")


@pytest.mark.skipif(shutil.which("cffconvert", path=BIN) is None,
                    reason="cffconvert is not installed (it pins jsonschema<4; see the module docstring)")
def test_cffconvert_validates_the_citation() -> None:
    run = subprocess.run([str(Path(BIN) / "cffconvert"), "--validate", "-i", str(CITATION)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "valid" in run.stdout, run.stdout + run.stderr

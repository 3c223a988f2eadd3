"""Findings beyond memory: a run forced to spill its results and findings to disk (tiny thresholds) writes every
report with the same bytes as the run that held them in memory; the spill files go under IIMKG_TMPDIR and are
removed; plans named by identifier and the two-files check work from the on-disk registry."""

from __future__ import annotations

import io
import random
import re
import shutil
from pathlib import Path

import pytest
from rdflib.compare import isomorphic

from iimkg.core.errors import InputError
from iimkg.plans import spill as plan_spill
from iimkg.plans.validate import validate_plans
from iimkg.shacl import spill
from iimkg.shacl.findings import Finding, Severity, ValidationResult
from iimkg.shacl.reports import ReportFormat, render_report, write_report

from conftest import ROOT

EXAMPLES = sorted((ROOT / "examples" / "plans").glob("*.ttl"))
STREAMED = [ReportFormat.TEXT, ReportFormat.JSON, ReportFormat.JUNIT, ReportFormat.SARIF, ReportFormat.TURTLE]


@pytest.fixture(autouse=True)
def _here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # reports name files relative to the working directory
    folder = tmp_path / "spill"
    folder.mkdir()
    monkeypatch.setenv("IIMKG_TMPDIR", str(folder))
    return folder


def _reports(result: ValidationResult) -> dict[ReportFormat, str]:
    """Every streamed report (written a piece at a time and rendered whole: the same), blank-node labels (drawn at
    random when a file is read) made equal."""
    result.seconds = 0.0
    written = {}
    for fmt in STREAMED:
        out = io.StringIO()
        write_report(result, fmt, out)
        assert out.getvalue() == render_report(result, fmt)
        written[fmt] = _blank(out.getvalue())
    return written


def _blank(text: str) -> str:
    return re.sub(r"_:[0-9a-f]+", "_:b", text)


def _spilling(monkeypatch: pytest.MonkeyPatch, findings: int, results: int) -> None:
    monkeypatch.setattr(spill, "SPILL_FINDINGS", findings)
    monkeypatch.setattr(plan_spill, "SPILL_RESULTS", results)


def _files(tmp_path: Path) -> list[Path]:
    """The example plans, copied into the working directory (several files: findings of each come together)."""
    copies = []
    for path in EXAMPLES:
        copy = tmp_path / path.name
        shutil.copy(path, copy)
        copies.append(copy)
    return copies


def test_spilled_reports_are_the_in_memory_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   _here: Path) -> None:
    files = _files(tmp_path)
    held = validate_plans(files, chunk_plans=2)
    assert isinstance(held.findings, list)
    expected = _reports(held)
    count = len(held.findings)
    assert count > 20  # enough findings for several runs of a few each

    _spilling(monkeypatch, findings=count // 7, results=3)
    spilled = validate_plans(files, chunk_plans=2)
    assert isinstance(spilled.findings, spill.SpilledFindings)
    assert list(_here.iterdir())  # the spill files are under IIMKG_TMPDIR
    assert len(spilled.findings) == count
    assert _blank(repr(list(spilled.findings))) == _blank(repr(held.findings))
    assert _blank(repr([spilled.findings[-1], *spilled.findings[3:6]])) == _blank(repr([held.findings[-1],
                                                                                         *held.findings[3:6]]))
    assert spilled.counts() == held.counts() and spilled.conforms == held.conforms
    assert _reports(spilled) == expected
    assert isomorphic(spilled.graph, held.graph)
    spilled.close()
    held.close()
    assert not list(_here.iterdir())


def test_spilled_findings_keep_every_severity_and_rule_of_a_file(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """JUnit lists findings by rule and SARIF lists rules first: both from counts made while spilling."""
    files = _files(tmp_path)
    held = validate_plans(files, fail_on=Severity.WARNING)
    _spilling(monkeypatch, findings=5, results=2)
    spilled = validate_plans(files, fail_on=Severity.WARNING)
    assert isinstance(spilled.findings, spill.SpilledFindings)
    assert spilled.stats().rule_counts == held.stats().rule_counts
    assert spilled.stats().plans == held.stats().plans == len({f.plan for f in held.findings if f.plan})
    assert _reports(spilled) == _reports(held)


def test_the_sorter_is_sorted_without_repeats_in_any_number_of_runs() -> None:
    rng = random.Random(7)
    findings = [Finding(severity=rng.choice(list(Severity)), rule=f"r{rng.randrange(4)}", message="m",
                        focus=f"f{rng.randrange(30)}", file=f"file{rng.randrange(3)}", source=None,
                        plan=rng.choice([None, "p1", "p2", "_:x"])) for _ in range(500)]

    def key(f: Finding) -> tuple[object, ...]:
        return (f.file, f.plan or "", f.rule)

    expected = sorted(dict.fromkeys(findings), key=key)
    for limit in (1, 7, 64, 10_000):
        sorter = spill.FindingSorter(key, limit=limit)
        sorter.extend(findings)
        assert list(sorter.finish()) == expected


def test_a_plan_in_two_files_is_found_in_the_registry(tmp_path: Path) -> None:
    plan = EXAMPLES[0].read_text(encoding="utf-8")
    base = re.search(r"@base <([^>]+)>", plan)
    first, second = tmp_path / "a.ttl", tmp_path / "b.ttl"
    if base is None:  # relative IRIs resolve against each file: give both the same base
        plan = f"@base <https://example.org/plans/> .\n{plan}"
    first.write_text(plan, encoding="utf-8")
    second.write_text(plan, encoding="utf-8")
    with pytest.raises(InputError, match="also described in"):
        validate_plans([first, second], chunk_plans=1)


def test_spill_files_are_removed_on_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _here: Path) -> None:
    _spilling(monkeypatch, findings=2, results=1)
    files = _files(tmp_path)
    broken = tmp_path / "broken.ttl"
    broken.write_text("<a> <b> .\n", encoding="utf-8")
    with pytest.raises(InputError):
        validate_plans([*files, broken], chunk_plans=1)
    assert not list(_here.iterdir())


def test_a_run_that_spills_nothing_leaves_no_folder_while_its_result_is_open(tmp_path: Path, _here: Path) -> None:
    """A result is often never closed: a script's, or a multiprocessing worker's, which ends by os._exit and runs no
    finalizer. The folder it would spill into is gone as soon as the run is done, since nothing needs it."""
    result = validate_plans(_files(tmp_path), chunk_plans=2)
    assert isinstance(result.findings, list) and result.findings, "the examples have findings"
    assert not list(_here.iterdir())
    assert result.graph is not None, "the report is still made from the results held in memory"


def test_a_run_that_spilled_keeps_its_folder_until_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          _here: Path) -> None:
    _spilling(monkeypatch, findings=10**9, results=1)
    result = validate_plans(_files(tmp_path), chunk_plans=2)
    assert [p.name for p in _here.iterdir()], "the spilled results wait for the report"
    with validate_plans(_files(tmp_path), chunk_plans=2) as again:
        assert isomorphic(result.graph, again.graph)
        assert len(list(_here.iterdir())) == 2, "each open result keeps its spilled results"
    assert len(list(_here.iterdir())) == 1, "the block closed its result"
    result.close()
    assert not list(_here.iterdir())


@pytest.mark.parametrize("chunk_plans", [1, 1_000])
def test_plans_sharing_an_identifier_across_chunks_are_named_by_their_iris(tmp_path: Path, chunk_plans: int) -> None:
    """Findings are made as each chunk comes back, naming plans by identifier; an identifier a later chunk's plan
    carries too is known only at the end, and the findings are then made again with both plans named by IRI."""
    plan = (ROOT / "examples" / "plans" / "pneumocystis-prophylaxis.ttl").read_text(encoding="utf-8")
    identifier = re.search(r'dcterms:identifier "([^"]+)"', plan)
    assert identifier is not None
    first, second, other = tmp_path / "a.ttl", tmp_path / "b.ttl", tmp_path / "c.ttl"
    first.write_text(plan, encoding="utf-8")
    second.write_text(plan.replace(f":{identifier[1]}", ":another-plan"), encoding="utf-8")  # same identifier
    other.write_text(plan.replace(f":{identifier[1]}", ":a-third-plan").replace(f'"{identifier[1]}"', '"its-own"'),
                     encoding="utf-8")
    result = validate_plans([first, second, other], chunk_plans=chunk_plans)
    named = {f.file: f.plan for f in result.findings if f.rule == "pneumocystis_prophylaxis"}
    assert named == {"a.ttl": f"https://example.org/clinic/plans/{identifier[1]}",
                     "b.ttl": "https://example.org/clinic/plans/another-plan", "c.ttl": "its-own"}
    result.close()

"""Plan validation on Spark (iimkg.spark) gives the local run's findings on the same cohort.

The cohort: example plan files (one of them with several plans, and a file made of several plan files), and a Bulk
Data export made from examples/fhir/bulk-export copied under new patient ids, with a Medication referenced by
``medicationReference``, resource types no plan is made from, a resource that names no patient, a blank line and a
last line without a line break. The local Bulk Data reader's batch size is made small, so that which conversion
notes are listed (the first of each kind) depends on the batch order the Spark run has to reproduce.

One Spark session (local[2], no UI, on 127.0.0.1) serves the module; the tests that need it start Java, so they are
marked slow (they still run in CI, which installs pyspark with the test extra).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iimkg.core.errors import IimkgError, InputError
from iimkg.shacl.findings import Finding, Severity
from iimkg.shacl.reports import render_report

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT / "examples" / "fhir" / "bulk-export"
PLANS = ROOT / "examples" / "plans"
COPIES = 9
SMALL_BATCH = 3_000


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'iimkg[spark]')")
    from iimkg.spark.session import session

    with session("local[2]", app="iimkg tests") as (spark, _log):
        yield spark


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Plan files and an NDJSON export, as one list of inputs (plan files first, as a user would give them)."""
    folder = tmp_path_factory.mktemp("cohort")
    several = folder / "several-plans.ttl"
    several.write_text("".join((PLANS / name).read_text(encoding="utf-8") + "\n" for name in
                               ("hepatitis-b-screening.ttl", "live-vaccine.ttl", "osteoporosis-prevention.ttl")),
                       encoding="utf-8")
    plans = [PLANS / "structural-errors.ttl", PLANS / "dysphagia.jsonld", PLANS / "pregnancy.ttl", several]
    return plans + _export(folder / "export")


def _export(folder: Path) -> list[Path]:
    folder.mkdir()
    out: dict[str, list[str]] = {}
    for path in sorted(EXPORT.glob("*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            resource = json.loads(line)
            for copy in range(COPIES):
                out.setdefault(path.stem, []).append(json.dumps(_renamed(resource, copy)))
    patients = [json.loads(line)["id"] for line in out["Patient"]]
    out["Medication"] = [json.dumps({
        "resourceType": "Medication", "id": "aza-50",
        "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "197388",
                             "display": "Azathioprine 50 MG Oral Tablet"}]}})]
    for number, patient in enumerate(patients):
        out["MedicationRequest"].append(json.dumps({
            "resourceType": "MedicationRequest", "id": f"aza-{number}", "status": "active", "intent": "order",
            "medicationReference": {"reference": "Medication/aza-50"}, "subject": {"reference": f"Patient/{patient}"},
            "authoredOn": "2024-01-15",
            "dosageInstruction": [{"timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                                   "doseAndRate": [{"doseQuantity": {"value": 50, "unit": "mg"}}]}]}))
        if number % 3 == 0:
            out.setdefault("Encounter", []).append(json.dumps(
                {"resourceType": "Encounter", "id": f"e{number}", "status": "finished",
                 "subject": {"reference": f"Patient/{patient}"}}))
    out["Condition"].append(json.dumps({"resourceType": "Condition", "id": "nobody",
                                        "code": {"text": "dermatomyositis"}}))
    files = []
    for name, lines in sorted(out.items()):
        path = folder / f"{name}.ndjson"
        text = "\n".join(lines)
        if name == "Condition":
            text = text.replace("\n", "\n\n", 1)  # a blank line
        path.write_text(text + ("" if name == "Observation" else "\n"), encoding="utf-8")  # one file ends mid-line
        files.append(path)
    return files


def _renamed(resource: dict[str, Any], copy: int) -> dict[str, Any]:
    """The resource under a new id, its patient references moved to the copy of the patient."""
    text = json.dumps(resource)
    for reference in set(re.findall(r'"reference": "Patient/([^"]+)"', text)):
        text = text.replace(f'"Patient/{reference}"', f'"Patient/{reference}-{copy}"')
    renamed = json.loads(text)
    renamed["id"] = f"{resource['id']}-{copy}"
    return dict(renamed)


def _comparable(findings: list[Finding]) -> list[str]:
    """Findings sorted, blank node labels (random per parse) made equal."""
    return sorted(re.sub(r"_:[0-9A-Za-z]+", "_:b", repr(f)) for f in findings)


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("iimkg.fhir.bulk.BATCH_BYTES", SMALL_BATCH)
    monkeypatch.setattr("iimkg.spark.bulk.BATCH_BYTES", SMALL_BATCH)


@pytest.mark.slow
@pytest.mark.usefixtures("small_batches")
def test_spark_findings_are_the_local_runs(spark: Any, cohort: list[Path]) -> None:
    from iimkg.spark.job import validate_result
    from iimkg.validation import validate_plans

    local = validate_plans(cohort)
    distributed = validate_result(spark, cohort)
    assert _comparable(distributed.findings) == _comparable(local.findings)
    assert distributed.plans == local.plans
    assert distributed.rules == local.rules and distributed.files == local.files
    # the cohort is one the comparison can fail on: notes left out and counted, several batches, every kind of input
    assert any(f.focus == "(more)" for f in local.findings)
    assert {f.rule for f in local.findings} >= {"fhir_skipped", "fhir_unmapped"}
    assert len({f.plan for f in local.findings if f.file.endswith("several-plans.ttl")}) > 1
    assert sum(len(p.read_bytes()) for p in cohort if p.suffix == ".ndjson") > 5 * SMALL_BATCH

    def text(result: Any) -> str:
        return re.sub(r"_:[0-9A-Za-z]+", "_:b", re.sub(r" in \d+\.\d s:", " in s:", render_report(result, "text")))

    assert text(distributed) == text(local)


@pytest.mark.slow
def test_blank_node_plans_have_the_local_runs_labels(spark: Any, tmp_path: Path) -> None:
    """Plans written as blank nodes (an example plan's blank nodes, and plans alike in every triple) are reported
    under the same labels as in a local run, not under labels of the partition they were checked in; spread over
    several partitions, plans alike stay apart."""
    import pyoxigraph as ox

    from iimkg.spark.job import validate_result
    from iimkg.validation import validate_plans

    def blank(term: Any) -> str:
        local = isinstance(term, ox.NamedNode) and term.value.startswith("https://example.org/")
        return "_:" + re.sub(r"\W", "_", term.value.rsplit("/", 1)[-1]) if local else str(term)

    example = PLANS / "several-findings.ttl"
    quads = ox.parse(path=str(example), format=ox.RdfFormat.TURTLE, base_iri=example.resolve().as_uri())
    anonymous = tmp_path / "anonymous.ttl"
    plan = """
[ a iim:TreatmentPlan ; iim:planDate "2026-03-02"^^xsd:date ; iim:diagnosis iim:IIM_0000005 ;
  iim:patient [ iim:sex iim:Female ; iim:ageYears 49 ] ;
  iim:prescription [ iim:prescribedDrug iim:IIM_0000104 ; iim:dailyDoseMg 7.5 ;
                     iim:startDate "2026-03-02"^^xsd:date ; iim:plannedDurationDays 365 ] ] .
"""
    anonymous.write_text("@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n@prefix iim: <https://w3id.org/iimkg/> ."
                         + plan * 12, encoding="utf-8")
    lines = tmp_path / "blank.nt"
    lines.write_text("".join(f"{blank(q.subject)} {q.predicate} {blank(q.object)} .\n" for q in quads),
                     encoding="utf-8")
    local = validate_plans([anonymous, lines], chunk_plans=5)
    distributed = validate_result(spark, [anonymous, lines])
    assert sorted(map(repr, distributed.findings)) == sorted(map(repr, local.findings))
    twins = {f.plan for f in local.findings if f.file.endswith("anonymous.ttl")}
    assert len(twins) == 12 and all(plan and plan.startswith("_:") for plan in twins)
    assert any(f.plan_iri.startswith("_:") for f in local.findings if f.file.endswith("blank.nt"))


@pytest.mark.slow
@pytest.mark.parametrize("bad", [
    b'{"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/x"},}',  # not JSON
    b'{"resourceType": "Condition", "id": "c", "note": [{"text": "\xff\xfe"}]}',  # not UTF-8
])
def test_an_input_error_is_the_local_runs(spark: Any, cohort: list[Path], tmp_path: Path, bad: bytes) -> None:
    from iimkg.spark import validate
    from iimkg.validation import validate_plans

    broken = tmp_path / "Condition.ndjson"
    lines = next(p for p in cohort if p.name == "Condition.ndjson").read_bytes().splitlines()
    lines.insert(5, bad)
    broken.write_bytes(b"\n".join(lines) + b"\n")
    inputs = [p for p in cohort if p.name != "Condition.ndjson"] + [broken]
    with pytest.raises(InputError) as local:
        validate_plans(inputs)
    with pytest.raises(InputError) as distributed:
        validate(spark, inputs)
    assert str(distributed.value) == str(local.value)
    assert local.value.line == 6


@pytest.mark.slow
def test_an_export_saved_with_its_manifest_and_an_empty_part_gives_the_local_runs_findings(
        spark: Any, tmp_path: Path) -> None:
    """A client's folder: files named by their URL's last segment (no extension), the manifest listing them and an
    error file, and an empty part of a type the server had nothing of (iimkg.fhir.manifest,
    iimkg.fhir.reading.no_resource_message)."""
    from iimkg.spark import validate
    from iimkg.spark.job import validate_result
    from iimkg.validation import validate_plans

    entries = []
    for number, path in enumerate(sorted(EXPORT.glob("*.ndjson"))):
        (tmp_path / f"file-{number}").write_bytes(path.read_bytes())
        entries.append({"type": path.stem, "url": f"https://fhir.example.org/bulk/file-{number}"})
    (tmp_path / "error").mkdir()
    (tmp_path / "error" / "errors").write_text(json.dumps({"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "exception", "diagnostics": "Observation/o-9 could not be exported"}]}) + "\n",
        encoding="utf-8")
    (tmp_path / "manifest.json").write_text(json.dumps({
        "transactionTime": "2026-12-01T08:00:00Z", "output": entries,
        "error": [{"type": "OperationOutcome", "url": "https://fhir.example.org/bulk/errors"}]}), encoding="utf-8")
    empty = tmp_path / "Encounter.ndjson"
    empty.write_bytes(b"")
    inputs = [empty, tmp_path / "manifest.json"]
    local = validate_plans(inputs)
    distributed = validate_result(spark, inputs)
    assert _comparable(distributed.findings) == _comparable(local.findings)
    assert distributed.plans == local.plans > 0 and distributed.files == local.files
    assert [f.severity for f in local.findings if f.rule == "fhir_reported"] == [Severity.WARNING]
    # an empty part is an error only when no file holds a resource, and then after the files' other errors
    broken = tmp_path / "Condition.ndjson"
    broken.write_bytes(b'{"resourceType": "Condition",}\n')
    for files in ([empty, broken], [empty, tmp_path / "Other.ndjson"]):
        files[-1].touch()
        with pytest.raises(InputError) as local_error:
            validate_plans(files)
        with pytest.raises(InputError) as distributed_error:
            validate(spark, files)
        assert str(distributed_error.value) == str(local_error.value)


@pytest.mark.slow
def test_cli_writes_the_findings_as_parquet(spark: Any, cohort: list[Path], tmp_path: Path) -> None:
    """``iimkg validate --spark local[1] --format parquet``: nothing but the exit status on the terminal, and the
    findings, read back, are the local run's."""
    from iimkg.validation import validate_plans

    target = tmp_path / "findings"
    inputs = [p for p in cohort if p.suffix != ".ndjson"][:2] + [p for p in cohort if p.suffix == ".ndjson"]
    command = ["validate", "--spark", "local[1]", "--format", "parquet", "--output", str(target), *map(str, inputs)]
    done = subprocess.run([sys.executable, "-m", "iimkg.cli.main", *command],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    local = validate_plans(inputs)
    assert (done.returncode, done.stderr, done.stdout) == (0 if local.conforms else 1, "", "")
    frame = spark.read.parquet(str(target))
    assert {"plan", "rule", "severity", "focus", "message", "statement", "file"} <= set(frame.columns)
    read = [Finding(**{**row.asDict(), "severity": Severity(row["severity"])}) for row in frame.collect()]
    assert _comparable(read) == _comparable(local.findings)


@pytest.mark.slow
def test_cli_on_a_local_master_runs_without_its_environment_on_path(cohort: list[Path], tmp_path: Path) -> None:
    """The command run by its full path from a virtual environment that is not activated (pipx, cron): the local
    session's Python workers are the command's own interpreter, not the ``python3`` on PATH (which has no iimkg)."""
    from iimkg.validation import validate_plans

    plans = [p for p in cohort if p.suffix != ".ndjson"][:1]
    own = str(Path(sys.executable).parent)
    path = os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep) if d and d != own)
    env = {k: v for k, v in os.environ.items() if k not in ("PYSPARK_PYTHON", "VIRTUAL_ENV")}
    report = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "iimkg.cli.main", "validate", "--spark", "local[1]", "--format",
                           "json", "--output", str(report), *map(str, plans)], capture_output=True, text=True,
                          timeout=600, env={**env, "PATH": path, "PYTHONWARNINGS": "ignore"})
    local = validate_plans(plans)
    assert (done.returncode, done.stderr) == (0 if local.conforms else 1, "")
    assert len(json.loads(report.read_text(encoding="utf-8"))["findings"]) == len(local.findings)


@pytest.mark.slow
@pytest.mark.parametrize("broken", [False, True], ids=["findings", "input-error"])
def test_a_cli_run_leaves_nothing_in_the_temporary_folder(cohort: list[Path], tmp_path: Path, broken: bool) -> None:
    """The session's log folder goes with the session, unless a Spark failure's message names the log; an input
    error (exit 2) does not name it."""
    plans = [p for p in cohort if p.suffix != ".ndjson"][:1]
    if broken:
        bad = tmp_path / "bad.ttl"
        bad.write_text("<a> <b> .\n", encoding="utf-8")
        plans.append(bad)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-m", "iimkg.cli.main", "validate", "--spark", "local[1]", "--format",
                           "json", "--output", str(tmp_path / "report.json"), *map(str, plans)], capture_output=True,
                          text=True, timeout=600, env=env)
    assert done.returncode in ((2,) if broken else (0, 1)), done.stderr
    assert not [p.name for p in scratch.iterdir() if p.name.startswith("iimkg-")]


def test_without_pyspark_the_cli_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from iimkg.cli.main import main
    from iimkg.spark.session import INSTALL_HINT, require_pyspark

    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark now raises ImportError
    with pytest.raises(IimkgError, match="pip install"):
        require_pyspark()
    assert main(["validate", "--spark", "local[1]", str(PLANS / "pregnancy.ttl")]) == 2
    error = capsys.readouterr().err
    assert error.strip().splitlines() == [f"iimkg: error: {INSTALL_HINT}"]


@pytest.mark.parametrize(("options", "says"), [
    (["--format", "parquet", "--output", "out"], "give --spark"),
    (["--spark", "local[1]", "--format", "parquet"], "--output DIR"),
    (["--spark", "local[1]", "--engine", "rdflib"], "oxigraph engine"),
    (["--spark", "local[1]", "--format", "turtle"], "not made on Spark"),
])
def test_spark_options_that_do_not_go_together(options: list[str], says: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from iimkg.cli.main import main

    assert main(["validate", *options, str(PLANS / "pregnancy.ttl")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and says in error[0]

"""``iimkg validate`` given hostile FHIR and plan files: one line naming the file (line, column), exit 2, no
traceback, no report written; or, for a value that is no dose, a note on that resource and no exception."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyoxigraph as ox
import pytest

from conftest import ROOT
from hostile import as_a_foreground_job, assert_one_line_error, run_cli

PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1970-03-01"}


def _bundle(*resources: dict[str, object]) -> dict[str, object]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def test_a_fhir_document_nested_100000_deep_is_one_line_not_a_recursion_error(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text('{"resourceType": "Bundle", "entry": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    output = tmp_path / "report.txt"
    line = assert_one_line_error(run_cli("validate", str(deep), "--output", str(output)))
    assert "deep.json:1:" in line and "--max-depth" in line
    assert not output.exists()


def test_an_empty_bundle_is_an_input_error_not_a_pass(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(_bundle()), encoding="utf-8")
    assert "holds no resource" in assert_one_line_error(run_cli("validate", str(empty)))


def test_a_dose_of_1e999999999_is_a_note_on_its_resource_not_an_overflow(tmp_path: Path) -> None:
    request = {"resourceType": "MedicationRequest", "id": "rx1", "status": "active", "intent": "order",
               "subject": {"reference": "Patient/p1"}, "authoredOn": "2024-01-10",
               "medicationCodeableConcept": {"coding": [
                   {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "8640"}]},
               "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {
                   "value": 1, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}}]}]}
    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps(_bundle(PATIENT, request)).replace('"value": 1,', '"value": 1E+999999999,'),
                    encoding="utf-8")
    done = run_cli("validate", str(huge), "--format", "json")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    notes = [f for f in json.loads(done.stdout)["findings"] if f["rule"] == "fhir_unmapped"]
    assert any("MedicationRequest/rx1" in f["message"] and "1E+999999999 is not a usable number" in f["message"]
               for f in notes)


PLAN = ROOT / "examples" / "plans" / "conforming-dermatomyositis.ttl"  # a plan every rule accepts


def _plan_with(tmp_path: Path, old: str, new: str) -> Path:
    """The conforming plan with one value changed (``old`` must occur once in it)."""
    text = PLAN.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    changed = tmp_path / "plan.ttl"
    changed.write_text(text.replace(old, new), encoding="utf-8")
    return changed


def _rule_findings(done: subprocess.CompletedProcess[str], rule: str) -> list[dict[str, str]]:
    assert done.returncode in (0, 1) and done.stderr == "", done.stderr[-2000:]
    return [f for f in json.loads(done.stdout)["findings"] if f["rule"] == rule]


@pytest.mark.parametrize(("dose", "flagged"), [
    ('"1E+999999999"^^xsd:double', True),  # overflows to infinity
    ('"INF"^^xsd:double', True),
    ('"-INF"^^xsd:double', True),
    ('"NaN"^^xsd:double', True),
    ('"' + "9" * 6000 + '"^^xsd:decimal', True),  # more digits than any engine's decimal holds
    ('"4.0E1"^^xsd:double', False),  # the same 40 mg, written as a double
    ('"1.0E6"^^xsd:double', False),  # absurd but finite: the dose rules judge it, not this one
])
def test_a_dose_that_is_no_finite_positive_number_is_a_finding_not_a_pass(tmp_path: Path, dose: str,
                                                                          flagged: bool) -> None:
    plan = _plan_with(tmp_path, "iim:dailyDoseMg 40 ;", f"iim:dailyDoseMg {dose} ;")
    found = _rule_findings(run_cli("validate", str(plan), "--format", "json"), "positive_dose")
    assert len(found) == (1 if flagged else 0), found
    if flagged:
        assert found[0]["severity"] == "violation" and "prednisone" in found[0]["message"]


def test_an_age_of_6000_digits_is_a_finding_with_no_library_traceback(tmp_path: Path) -> None:
    """rdflib logs a traceback for a literal it cannot turn into a Python value; the command shows the finding."""
    plan = _plan_with(tmp_path, "iim:ageYears 58 ;", "iim:ageYears " + "9" * 6000 + " ;")
    found = _rule_findings(run_cli("validate", str(plan), "--format", "json"), "patient_age")
    assert len(found) == 1 and found[0]["severity"] == "violation"


def test_a_fhir_file_with_a_byte_order_mark_is_read_as_fhir(tmp_path: Path) -> None:
    bom = tmp_path / "bom.json"
    bom.write_text(json.dumps(_bundle(PATIENT)), encoding="utf-8-sig")
    done = run_cli("validate", str(bom), "--format", "json")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert {f["rule"] for f in json.loads(done.stdout)["findings"]} == {"plan_diagnosis"}  # read, not refused


@pytest.mark.parametrize("fmt", [ox.RdfFormat.TURTLE, ox.RdfFormat.N_TRIPLES, ox.RdfFormat.RDF_XML,
                                 ox.RdfFormat.N_QUADS], ids=lambda fmt: fmt.file_extension)
def test_a_plan_file_with_a_byte_order_mark_gives_the_findings_it_gives_without(tmp_path: Path,
                                                                              fmt: ox.RdfFormat) -> None:
    """Windows tools write a UTF-8 byte order mark (PowerShell's Out-File -Encoding utf8); it was a syntax error at
    1:1 in every RDF syntax but JSON-LD."""
    from iimkg.plans.reading import load_plan_file
    from iimkg.plans.validate import validate_plans

    example = ROOT / "examples" / "plans" / "several-findings.ttl"
    data = ox.serialize(ox.parse(path=str(example), format=ox.RdfFormat.TURTLE), format=fmt) or b""
    plain, marked = tmp_path / f"plain.{fmt.file_extension}", tmp_path / f"marked.{fmt.file_extension}"
    plain.write_bytes(data)
    marked.write_bytes(b"\xef\xbb\xbf" + data)
    expected = [f.message for f in validate_plans([plain]).findings]
    assert [f.message for f in validate_plans([marked]).findings] == expected and expected
    store, graph = ox.Store(), ox.NamedNode("urn:the-file")  # what the reference engine (pyshacl) reads
    load_plan_file(store, marked, graph, None)
    assert len(store) == len(list(ox.parse(data, format=fmt)))


def test_an_rdf_xml_plan_file_declaring_entities_is_refused_before_parsing(tmp_path: Path) -> None:
    plan = tmp_path / "plan.rdf"
    plan.write_text('<?xml version="1.0"?>\n<!DOCTYPE r [\n<!ENTITY a "aaaaaaaaaa">\n]>\n'
                    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>\n', encoding="utf-8")
    line = assert_one_line_error(run_cli("validate", str(plan)))
    assert "plan.rdf:3:" in line and "entity" in line


def test_the_input_size_flag_of_validate_refuses_a_larger_plan_file(tmp_path: Path) -> None:
    plan = tmp_path / "plan.ttl"
    plan.write_text((ROOT / "examples" / "plans" / "several-findings.ttl").read_text(encoding="utf-8")
                    + "#" * 1_100_000 + "\n", encoding="utf-8")
    assert "--max-input-mb" in assert_one_line_error(run_cli("validate", str(plan), "--max-input-mb", "1"))


def _padded(path: Path, fmt: ox.RdfFormat, lines: int) -> None:
    """An example plan file written in ``fmt`` with ``lines`` triples of padding (linked to no plan) after it."""
    example = ROOT / "examples" / "plans" / "several-findings.ttl"
    quads = list(ox.parse(path=str(example), format=ox.RdfFormat.TURTLE, base_iri=example.resolve().as_uri()))
    padding = [ox.Quad(ox.NamedNode(f"urn:padding:{n}"), ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#comment"),
                       ox.Literal("padding of sixty bytes or so, to make the file large")) for n in range(lines)]
    path.write_bytes(ox.serialize(quads + padding, format=fmt) or b"")


@pytest.mark.parametrize("name, fmt", [("plans.nt", ox.RdfFormat.N_TRIPLES), ("plans.jsonld", ox.RdfFormat.JSON_LD)])
def test_a_streamed_plan_file_larger_than_the_input_size_is_checked(name: str, fmt: ox.RdfFormat,
                                                                    tmp_path: Path) -> None:
    """N-Triples and JSON-LD plan files are split as they are read, so the input size bounds what is held at once (a
    line, a JSON value), not the file: an export job's one large file needs no flag, as an NDJSON export does not."""
    plan = tmp_path / name
    _padded(plan, fmt, 20_000)
    assert plan.stat().st_size > 1_048_576
    bounded = run_cli("validate", str(plan), "--max-input-mb", "1", "--format", "json")
    assert bounded.returncode == 1, bounded.stderr
    assert json.loads(bounded.stdout)["findings"] == json.loads(run_cli("validate", str(plan), "--format",
                                                                        "json").stdout)["findings"]


def test_an_n_triples_line_longer_than_the_input_size_is_refused_at_its_line(tmp_path: Path) -> None:
    plan = tmp_path / "plan.nt"
    _padded(plan, ox.RdfFormat.N_TRIPLES, 3)
    lines = plan.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(5, '<urn:long> <http://www.w3.org/2000/01/rdf-schema#comment> "' + "x" * 1_100_000 + '" .\n')
    plan.write_text("".join(lines), encoding="utf-8")
    line = assert_one_line_error(run_cli("validate", str(plan), "--max-input-mb", "1"))
    assert "plan.nt:6:" in line and "--max-input-mb" in line


def test_qc_on_a_file_that_holds_no_ontology_is_one_line_saying_what_is_missing(tmp_path: Path) -> None:
    plan = ROOT / "examples" / "plans" / "several-findings.ttl"
    line = assert_one_line_error(run_cli("validate", "--qc", str(plan)))
    assert "several-findings.ttl: the file holds no ontology to check: no owl:Ontology header and no owl:Class" in line
    scheme = tmp_path / "scheme.ttl"  # a file of triples, none about an ontology
    scheme.write_text("@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n"
                      "<http://example.org/s> a skos:ConceptScheme .\n", encoding="utf-8")
    assert "no owl:Ontology header" in assert_one_line_error(run_cli("validate", "--qc", str(scheme)))


def test_qc_on_an_ontology_with_no_term_of_our_namespace_is_one_line(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.ttl"
    foreign.write_text("@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
                       "<http://example.org/onto> a owl:Ontology .\n<http://example.org/C> a owl:Class .\n",
                       encoding="utf-8")
    output = tmp_path / "report.txt"
    line = assert_one_line_error(run_cli("validate", "--qc", str(foreign), "--output", str(output)))
    assert "foreign.ttl: the file holds no ontology to check: no term of the iimkg namespace" in line
    assert not output.exists()


def _cloned_cohort(folder: Path, copies: int) -> Path:
    """The conforming plan ``copies`` times in one N-Triples file, each copy with IRIs and blank nodes of its own."""
    quads = list(ox.parse(path=str(PLAN), format=ox.RdfFormat.TURTLE, base_iri=PLAN.resolve().as_uri()))
    template = "".join(f"{q.subject} {q.predicate} {q.object} .\n" for q in quads)
    template = re.sub(r"<(https://example\.org/[^>]*)>", r"<\1-COPY>", template).replace("_:", "_:cCOPYx")
    cohort = folder / "plans.nt"
    with cohort.open("w", encoding="utf-8") as out:
        for copy in range(copies):
            out.write(template.replace("COPY", str(copy)))
    return cohort


def test_ctrl_c_in_the_middle_of_a_large_run_is_130_and_leaves_no_report_and_no_spill_files(tmp_path: Path) -> None:
    """The spill files (results, plans, findings on disk) go with the run, and the report is never half there."""
    cohort = _cloned_cohort(tmp_path, 8_000)  # some 10 s of work on 2 cores: Ctrl-C comes well before the end
    spill, report = tmp_path / "spill", tmp_path / "report.json"
    spill.mkdir()
    child = subprocess.Popen([sys.executable, "-m", "iimkg.cli.main", "validate", str(cohort), "--format", "json",
                              "--output", str(report)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True, preexec_fn=as_a_foreground_job,
                             env={**os.environ, "IIMKG_TMPDIR": str(spill)})
    try:
        deadline = time.monotonic() + 60
        while not any(spill.iterdir()) and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        assert any(spill.iterdir()), "the run made no spill folder"
        time.sleep(1)  # into the run: chunks out to the workers, results coming back
        assert child.poll() is None, "the run ended before Ctrl-C: make the cohort larger"
        os.killpg(child.pid, signal.SIGINT)  # as the terminal does: the whole process group, workers too
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    assert child.returncode == 130 and "Traceback" not in err, err[-2000:]
    assert not report.exists()
    assert not list(spill.rglob("*")), list(spill.rglob("*"))


def test_a_worker_killed_mid_run_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """As the kernel's out-of-memory killer would: a worker gone is a clear error, exit 2, and no report."""
    cohort = _cloned_cohort(tmp_path, 8_000)
    report = tmp_path / "report.json"
    child = subprocess.Popen([sys.executable, "-m", "iimkg.cli.main", "validate", str(cohort), "--workers", "2",
                              "--format", "json", "--output", str(report)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline, workers = time.monotonic() + 60, []
        while not workers and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.1)
            workers = [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent_of(int(p)) == child.pid
                       and b"resource_tracker" not in _command_of(int(p))]  # forked workers, not a helper
        assert workers, "no worker process was seen"
        time.sleep(0.5)
        os.kill(workers[0], signal.SIGKILL)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    assert child.returncode == 2 and "Traceback" not in err, err[-2000:]
    assert err.strip().splitlines() == [err.strip()] and "a worker process stopped" in err
    assert not report.exists()


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _command_of(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read()
    except OSError:
        return b""

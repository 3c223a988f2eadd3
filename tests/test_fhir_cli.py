"""`iimkg fhir convert`: writes the plans (complete or not at all), lists what it could not read, and fails with
file, line and column on input that is not FHIR JSON; never a traceback."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from iimkg.cli.main import main

from conftest import ROOT

EXAMPLES = ROOT / "examples" / "fhir"
GAPS, IBM = EXAMPLES / "dermatomyositis-gaps.json", EXAMPLES / "ibm-azathioprine.json"
IBM_PATIENT = "https://ehr.example.org/fhir/Patient/ibm-5120"  # its fullUrl: converted plans' IRIs are absolute


def test_convert_writes_plans_and_lists_what_it_could_not_read(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "plans.ttl"
    assert main(["fhir", "convert", str(GAPS), str(IBM), "-o", str(output)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert (f"{GAPS}:443:9: warning: MedicationRequest/dm-gaps-acei: drug code RXNORM:29046 \"lisinopril\" "
            "(text \"Lisinopril 10 mg tablet\") not recognised; not checked") in err
    assert err[-1] == (f"iimkg fhir convert: 2 plans from 19 resources in 2 files (4 unmapped, 1 approximated); "
                       f"written to {output}")
    quads = list(ox.parse(path=str(output), format=ox.RdfFormat.TURTLE, base_iri=output.as_uri()))
    plans = {q.subject.value for q in quads if q.object == ox.NamedNode("https://w3id.org/iimkg/TreatmentPlan")}
    assert plans == {"https://ehr.example.org/fhir/Patient/dm-gaps-7731#plan-Patient-dm-gaps-7731",
                     IBM_PATIENT + "#plan-Patient-ibm-5120"}


def test_convert_to_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fhir", "convert", str(IBM)]) == 0
    out, err = capsys.readouterr()
    assert f"<{IBM_PATIENT}#plan-Patient-ibm-5120> a iim:TreatmentPlan ;" in out
    assert err == "iimkg fhir convert: 1 plan from 8 resources in 1 file\n"


def test_strict_fails_and_writes_nothing_when_something_could_not_be_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "plans.ttl"
    assert main(["fhir", "convert", "--strict", str(GAPS), "-o", str(output)]) == 1
    err = capsys.readouterr().err
    assert ": error: MedicationRequest/dm-gaps-acei: drug code RXNORM:29046" in err
    assert ": info: Condition/dm-gaps-dx: ICD10CM:M33.10 is more specific" in err  # approximations stay info
    assert "--strict: 4 could not be read, so nothing was written" in err
    assert not output.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("text", "expected"), [
    ('{"resourceType": "Bundle",\n "entry": [\n  {"resource": {"resourceType": "Patient" "id": "x"}}]}',
     "{path}:3:43: not valid JSON: Expecting ',' delimiter"),
    ('{"patient": "not FHIR"}',
     "{path}: the document is a JSON object that has no resourceType, so it is not a FHIR resource"),
    ("", "{path}: the file is empty; expected a FHIR resource, a Bundle or NDJSON (one resource per line)"),
])
def test_input_that_is_not_fhir_json_exits_2_with_file_and_place(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str) -> None:
    path, output = tmp_path / "export.json", tmp_path / "plans.ttl"
    path.write_text(text, encoding="utf-8")
    assert main(["fhir", "convert", str(path), "-o", str(output)]) == 2
    out, err = capsys.readouterr()
    assert err == f"iimkg: error: {expected.format(path=path)}\n" and out == ""
    assert not output.exists()


def test_missing_file_and_unwritable_output_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fhir", "convert", str(tmp_path / "none.json")]) == 2
    assert capsys.readouterr().err == f"iimkg: error: {tmp_path / 'none.json'}: no such file\n"
    assert main(["fhir", "convert", str(IBM), "-o", str(tmp_path / "no" / "plans.ttl")]) == 2
    assert "because the folder" in capsys.readouterr().err


def test_fhir_without_a_command_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fhir"]) == 2
    assert "convert" in capsys.readouterr().err


def test_a_bulk_export_streamed_one_patient_a_batch_writes_the_plans_of_the_whole_export(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from iimkg.fhir import bulk

    files = sorted((EXAMPLES / "bulk-export").glob("*.ndjson"))
    whole = tmp_path / "export.json"  # the same lines under a .json name: read whole
    whole.write_text("".join(f.read_text(encoding="utf-8") for f in files), encoding="utf-8")
    assert main(["fhir", "convert", str(whole), "-o", str(tmp_path / "whole.ttl")]) == 0
    whole_err = capsys.readouterr().err.splitlines()
    monkeypatch.setattr(bulk, "BATCH_BYTES", 1)  # every patient a batch of its own
    assert main(["fhir", "convert", *map(str, files), "-o", str(tmp_path / "streamed.ttl")]) == 0
    streamed_err = capsys.readouterr().err.splitlines()

    def triples(name: str) -> set[ox.Quad]:
        return set(ox.parse(path=str(tmp_path / name), format=ox.RdfFormat.TURTLE))

    assert triples("streamed.ttl") == triples("whole.ttl") and len(triples("whole.ttl")) > 100
    assert streamed_err[-1].split(" from ")[0] == whole_err[-1].split(" from ")[0] == "iimkg fhir convert: 5 plans"
    assert len(streamed_err) == len(whole_err)

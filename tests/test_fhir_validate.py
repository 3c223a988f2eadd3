"""`iimkg validate` on FHIR files: each example gives the findings a clinician expects, what the converter could not
read is a finding of its own (an error under --strict), and input that is not FHIR JSON exits 2 with its place."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from iimkg.cli.main import main

from conftest import ROOT

EXAMPLES = ROOT / "examples" / "fhir"
FULL, GAPS, IBM = EXAMPLES / "dermatomyositis-full.json", EXAMPLES / "dermatomyositis-gaps.json", \
    EXAMPLES / "ibm-azathioprine.json"
BULK = sorted((EXAMPLES / "bulk-export").glob("*.ndjson"))


def validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object], str]:
    status = main(["validate", *args, "--format", "json"])
    out, err = capsys.readouterr()
    return status, (json.loads(out) if out else {}), err


def rules(report: dict[str, object]) -> Counter[tuple[str, str]]:
    findings = report["findings"]
    assert isinstance(findings, list)
    return Counter((f["rule"], f["severity"]) for f in findings)


def test_full_co_interventions_conform(capsys: pytest.CaptureFixture[str]) -> None:
    status, report, _ = validate(capsys, str(FULL))
    assert status == 0 and report["conforms"] is True
    # methotrexate with co-trimoxazole as Pneumocystis prophylaxis: the label's interaction (R123), which R125
    # qualifies (no more cytopenia at prophylactic doses) -- a warning for the clinician, not a gap
    assert rules(report) == Counter({("fhir_approximated", "info"): 1, ("fhir_skipped", "info"): 1,
                                     ("drug_interaction", "warning"): 1})


def test_gaps_give_the_findings_a_clinician_expects(capsys: pytest.CaptureFixture[str]) -> None:
    status, report, _ = validate(capsys, str(GAPS))
    assert status == 1 and report["conforms"] is False
    found = rules(report)
    # post-menopausal woman on prednisone 60 then 40 mg with methotrexate, and nothing else done
    for rule in ("osteoporosis_prevention_high_risk", "pneumocystis_prophylaxis", "live_vaccine"):
        assert found[(rule, "violation")] >= 1, rule
    for rule in ("tuberculosis_screening", "hepatitis_b_screening", "recommended_vaccines",
                 "vaccination_schedule_review", "supportive_care", "comorbidity_monitoring"):
        assert found[(rule, "warning")] >= 1, rule
    assert found[("prescription_dose", "violation")] == 1  # methotrexate's dose was only in its text
    assert (found[("fhir_unmapped", "warning")], found[("fhir_unmapped", "info")]) == (2, 2)
    findings = report["findings"]
    assert isinstance(findings, list)
    unmapped = {f["message"] for f in findings if f["rule"] == "fhir_unmapped"}
    assert ('MedicationRequest/dm-gaps-acei: drug code RXNORM:29046 "lisinopril" (text "Lisinopril 10 mg tablet") '
            "not recognised; not checked") in unmapped
    assert {f["plan"] for f in findings} == {"Patient/dm-gaps-7731"}
    assert {f["file"] for f in findings} == {str(GAPS.relative_to(Path.cwd())) if GAPS.is_relative_to(Path.cwd())
                                             else str(GAPS)}


def test_ibm_on_azathioprine_is_told_it_is_not_shown_effective(capsys: pytest.CaptureFixture[str]) -> None:
    _, report, _ = validate(capsys, str(IBM))
    found = rules(report)
    assert found[("not_shown_effective", "warning")] == 1
    assert found[("tuberculosis_screening", "warning")] == 1
    assert not any(rule.startswith("fhir_") for rule, _ in found)


def test_bulk_export_and_strict(capsys: pytest.CaptureFixture[str]) -> None:
    _, report, _ = validate(capsys, *map(str, BULK))
    plans = {f["plan"] for f in report["findings"]}  # type: ignore[union-attr]
    assert plans == {"Patient/asyn-4471", "Patient/imnm-3318", "Patient/jdm-2207", "Patient/myo-5590",
                     "Patient/pm-1042"}
    found = rules(report)
    assert found[("plan_diagnosis", "violation")] == 1  # M60.9 is not an IIM code: no diagnosis
    assert found[("fhir_unmapped", "warning")] == 1 and found[("fhir_unmapped", "info")] == 1
    status, strict, _ = validate(capsys, *map(str, BULK), "--strict")
    assert status == 1 and rules(strict)[("fhir_unmapped", "violation")] == 2


def test_fhir_that_is_not_json_exits_2_with_its_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "export.ndjson"
    path.write_text('{"resourceType": "Patient", "id": "a"}\n{"resourceType": "Patient", "id": \n', encoding="utf-8")
    assert main(["validate", str(path)]) == 2  # line 2, column 35: where the value of "id" should be
    assert capsys.readouterr().err == f"iimkg: error: {path}:2:35: not valid JSON: Expecting value\n"


def test_the_plans_of_one_export_checked_in_two_processes_give_the_same_findings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A Bulk Data export gives every plan to its Patient file; its plans are split in parts over worker processes,
    here one plan a part, and the findings are those of one process."""
    from iimkg import validation
    from iimkg.plans import validate as plans

    one = validation.validate_plans(BULK, workers=1)
    monkeypatch.setattr(plans, "PLANS_PER_PART", 1)
    two = validation.validate_plans(BULK, workers=2)
    assert one.plans == two.plans == 5
    assert one.findings == two.findings and len(one.findings) > 10


def test_the_text_report_counts_plans_and_puts_what_is_about_no_plan_last(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(FULL)]) == 0
    out = capsys.readouterr().out
    assert ": 1 plan with findings; 0 violations, 1 warning, 2 infos\n" in out
    no_plan = out.index("  not about one plan\n    info (1)\n      fhir_skipped  Encounter:")
    assert out.index("  plan Patient/") < no_plan


def test_a_bulk_export_streamed_one_patient_a_batch_gives_the_findings_of_the_whole_export(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from iimkg.fhir import bulk
    from iimkg.plans.validate import validate_plans as whole_export
    from iimkg.validation import ADAPTERS, validate_plans

    monkeypatch.setattr(bulk, "BATCH_BYTES", 1)  # every patient a batch of its own
    streamed = validate_plans(BULK, strict=True)
    whole = whole_export(BULK, adapters=ADAPTERS, strict=True)
    assert streamed.findings == whole.findings and streamed.plans == whole.plans == 5
    assert [r.name for r in streamed.rules] == [r.name for r in whole.rules]


def test_notes_past_the_sample_are_one_finding_per_kind_with_the_worst_severity() -> None:
    from iimkg.fhir.intake import NoteFindings
    from iimkg.plans.notes import SAMPLE_PER_KIND, Note, NoteKind

    notes = NoteFindings(strict=False)
    for number in range(SAMPLE_PER_KIND + 5):
        severity = "warning" if number == SAMPLE_PER_KIND + 3 else "info"
        notes.add(Note(NoteKind.UNMAPPED, severity, f"Observation/o{number}", "code not recognised", Path("x")))
    found = notes.findings(Path("x"))
    assert len(found) == SAMPLE_PER_KIND + 1
    assert found[-1].severity.value == "warning" and found[-1].message.startswith("5 more unmapped notes")
    assert found[-1].message.endswith(f"the most frequent: {SAMPLE_PER_KIND + 5} x code not recognised")


def _one_bundle(tmp_path: Path) -> tuple[Path, str]:
    """The example Bundles' entries in one Bundle, laid out as exports write them (one entry a line), with one
    patient's entry moved after the resources that name it by its ``urn:uuid:``."""
    entries = [entry for path in sorted(EXAMPLES.glob("*.json"))
               for entry in json.loads(path.read_text(encoding="utf-8"))["entry"]]
    first_patient = next(n for n, e in enumerate(entries) if e["resource"]["resourceType"] == "Patient")
    entries.append(entries.pop(first_patient))
    text = ('{"resourceType": "Bundle", "type": "collection", "entry": [\n'
            + ",\n".join(json.dumps(entry, ensure_ascii=False) for entry in entries) + "\n]}\n")
    path = tmp_path / "population.json"
    path.write_text(text, encoding="utf-8")
    return path, text


def test_a_large_bundle_read_entry_by_entry_gives_the_findings_of_the_whole_bundle(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from iimkg.core import jsonstream
    from iimkg.fhir import bulk
    from iimkg.validation import validate_plans

    path, _ = _one_bundle(tmp_path)
    whole = validate_plans([path], strict=True)
    monkeypatch.setattr(bulk, "STREAM_BYTES", 0)  # every JSON file is large
    monkeypatch.setattr(bulk, "BATCH_BYTES", 1)  # every patient a batch of its own
    monkeypatch.setattr(jsonstream, "READ_BYTES", 512)
    assert bulk.is_bulk_export([path])
    streamed = validate_plans([path], strict=True)
    assert streamed.plans == whole.plans == len({f.plan for f in whole.findings if f.plan})
    assert streamed.findings == whole.findings and len(whole.findings) > 10


BAD_ENTRIES = {  # an entry of the Bundle changed: the error must be the one the whole Bundle gives
    "not JSON": lambda entry: entry.replace('"resourceType"', '"resourceType" "', 1),
    "not a resource": lambda entry: entry.replace('"resourceType"', '"kind"', 1),
    "not an object": lambda entry: "[]",
    "NaN": lambda entry: entry.replace('"resourceType"', '"x": NaN, "resourceType"', 1),
}


@pytest.mark.parametrize("case", sorted(BAD_ENTRIES))
def test_bad_input_in_a_large_bundle_is_the_error_of_the_whole_bundle(case: str, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from iimkg.core.errors import InputError
    from iimkg.fhir import bulk
    from iimkg.validation import validate_plans

    path, text = _one_bundle(tmp_path)
    lines = text.split("\n")
    lines[-4] = BAD_ENTRIES[case](lines[-4].rstrip(",")) + ","
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(InputError) as whole:
        validate_plans([path])
    monkeypatch.setattr(bulk, "STREAM_BYTES", 0)
    with pytest.raises(InputError) as streamed:
        validate_plans([path])
    assert streamed.value.detail == whole.value.detail
    # on the entry's line (the whole Bundle places an entry that is not a resource at the Bundle)
    assert streamed.value.line == len(lines) - 3


def test_a_large_bundle_is_indexed_in_bounded_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tracemalloc

    from iimkg.core import jsonstream
    from iimkg.fhir import bulk

    small, text = _one_bundle(tmp_path)
    head, entries = text.split("[\n", 1)
    body = entries.rsplit("\n]", 1)[0]
    ids = sorted({entry["resource"].get("id", "") for entry in json.loads(text)["entry"]} - {""}, key=len)
    copies = []
    for number in range(40):  # every identifier made that copy's own, wherever it is named
        copy = body
        for name in ids:
            copy = copy.replace(name, f"{name}-copy{number}")
        copies.append(copy)
    path = tmp_path / "large.json"
    path.write_text(head + "[\n" + ",\n".join(copies) + "\n]}\n", encoding="utf-8")
    monkeypatch.setattr(bulk, "STREAM_BYTES", 0)
    monkeypatch.setattr(jsonstream, "READ_BYTES", 16 * 1024)
    tracemalloc.start()
    try:
        export = bulk.BulkExport([path]).index()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < path.stat().st_size // 4, f"{peak} bytes held to index a file of {path.stat().st_size}"
    assert export.patients == 40 * bulk.BulkExport([small]).index().patients


def test_only_fhir_makes_a_large_file_streamed_as_fhir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plan files (Turtle, N-Triples, JSON-LD) are never FHIR, whatever their size: with every file "large", a run of
    plan files, or of plan files and a Bundle, is not read as a Bulk Data export, and gives its findings."""
    from iimkg.fhir import bulk
    from iimkg.validation import validate_plans

    folder = ROOT / "examples" / "plans"
    plans = [*sorted(folder.glob("*.jsonld"))[:2], folder / "several-findings.ttl"]
    expected = validate_plans(plans)
    monkeypatch.setattr(bulk, "STREAM_BYTES", 0)
    assert not bulk.is_bulk_export(plans) and not bulk.is_bulk_export([*plans, FULL])
    assert bulk.is_bulk_export([FULL])
    found = validate_plans(plans)
    assert found.findings == expected.findings and found.plans == expected.plans == len(plans)


def test_an_entry_of_a_large_bundle_longer_than_the_input_limit_is_refused_on_its_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from iimkg.core import limits
    from iimkg.core.errors import InputError
    from iimkg.fhir import bulk
    from iimkg.validation import validate_plans

    path, text = _one_bundle(tmp_path)
    lines = text.split("\n")
    megabyte = 1_048_576  # the limit (the ontology, which is read under it too, is smaller)
    narrative = json.dumps({"status": "generated", "div": f"<div>{'x' * megabyte}</div>"})
    lines[-4] = lines[-4].replace('"resourceType"', f'"text": {narrative}, "resourceType"', 1)
    path.write_text("\n".join(lines), encoding="utf-8")
    monkeypatch.setattr(bulk, "STREAM_BYTES", 0)
    monkeypatch.setattr(limits, "_current", limits.Limits(max_input_bytes=megabyte))
    with pytest.raises(InputError, match="longer than the input limit") as refused:
        validate_plans([path])
    assert refused.value.line == len(lines) - 3


BUNDLE_LAYOUTS = {  # the example Bundle's entries laid out as exports do, and as they should not
    "response entries": lambda entries: {"resourceType": "Bundle", "type": "batch-response",
                                         "entry": [{"response": {"status": "201 Created"}}, *entries]},
    "link after the entries": lambda entries: {"resourceType": "Bundle", "type": "searchset", "entry": entries,
                                               "link": [{"relation": "self", "url": "Patient"}], "total": 1},
    "a Bundle in an entry": lambda entries: {"resourceType": "Bundle", "type": "collection",
                                             "entry": [{"resource": {"resourceType": "Bundle", "entry": entries}}]},
    "resourceType after the entries": lambda entries: {"type": "collection", "entry": entries,
                                                       "resourceType": "Bundle"},  # read whole
    "no entries": lambda entries: {"resourceType": "Bundle", "type": "collection", "entry": []},
    "entry not an array": lambda entries: {"resourceType": "Bundle", "entry": entries[0]},
}


@pytest.mark.parametrize("layout", list(BUNDLE_LAYOUTS))
def test_a_bundle_read_entry_by_entry_gives_what_the_whole_bundle_gives(layout: str, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from iimkg.core.errors import InputError
    from iimkg.fhir import bulk
    from iimkg.validation import validate_plans

    entries = json.loads(FULL.read_text(encoding="utf-8"))["entry"]
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(BUNDLE_LAYOUTS[layout](entries), indent=1), encoding="utf-8")

    def outcome() -> object:
        try:
            result = validate_plans([path])
        except InputError as error:
            return str(error)
        return result.plans, result.findings

    whole = outcome()
    assert "is the Bundle's" not in str(whole)  # was "the document is the Bundle's entry is not an array"
    monkeypatch.setattr(bulk, "STREAM_BYTES", 0)
    assert outcome() == whole

"""FHIR Bulk Data NDJSON as an attacker or a large hospital sends it: a large export converts in bounded memory
(read line by line, a few patients at a time), a malformed line is one error naming its file, line and column,
and nothing is written until every line has been read."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import ROOT
from hostile import assert_one_line_error, run_cli, run_cli_peak

BULK = ROOT / "examples" / "fhir" / "bulk-export"
_IDS = re.compile(r'("id":"|"reference":"Patient/)([^"]+)"')


def write_export(folder: Path, copies: int, narrative: int = 0) -> list[Path]:
    """The example Bulk Data export copied ``copies`` times under new ids, one file per resource type (as Bulk
    Data writes them): ``copies`` x 5 patients, 14 kB a copy, plus ``narrative`` characters of XHTML narrative
    (``text.div``, as servers export it) in each of its 28 resources."""
    files = []
    text = ('"text":{{"status":"generated","div":"<div xmlns=\\"http://www.w3.org/1999/xhtml\\">'
            + "narrative " * (narrative // 10) + '</div>"}},') if narrative else ""
    for source in sorted(BULK.glob("*.ndjson")):
        lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
        templates = ["{{" + text + _IDS.sub(r'\1\2-{n}"', line.replace("{", "{{").replace("}", "}}"))[2:]
                     for line in lines]
        target = folder / source.name
        with target.open("w", encoding="utf-8") as handle:
            for number in range(copies):
                handle.writelines(template.format(n=number) + "\n" for template in templates)
        files.append(target)
    return files


def test_a_large_export_converts_in_memory_that_reading_it_whole_would_exceed(tmp_path: Path) -> None:
    copies, cap_mb = 200, 130.0  # 1,000 patients, 68 MB with their narratives
    files = write_export(tmp_path, copies, narrative=12_000)
    output = tmp_path / "plans.ttl"
    done, peak = run_cli_peak("fhir", "convert", *map(str, files), "-o", str(output),
                              peak_file=tmp_path / "peak", timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert f"{copies * 5:,} plans from" in done.stderr.splitlines()[-1]
    assert output.read_text(encoding="utf-8").count("a iim:TreatmentPlan") == copies * 5
    assert peak < cap_mb, f"streamed conversion peaked at {peak:.0f} MiB"
    # the same lines in one .json file are read whole: the cap is one that whole-file reading goes over
    whole = tmp_path / "whole.json"
    with whole.open("w", encoding="utf-8") as handle:
        for path in files:
            handle.write(path.read_text(encoding="utf-8"))
    done, whole_peak = run_cli_peak("fhir", "convert", str(whole), "-o", str(tmp_path / "whole.ttl"),
                                    peak_file=tmp_path / "peak", timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert whole_peak > cap_mb, f"whole-file reading peaked at {whole_peak:.0f} MiB: the test's cap proves nothing"


def test_notes_of_a_large_export_are_counted_not_all_listed(tmp_path: Path) -> None:
    files = write_export(tmp_path, 60)
    done = run_cli("fhir", "convert", *map(str, files), "-o", str(tmp_path / "plans.ttl"))
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stderr.splitlines()
    assert len(lines) < 100
    more = [line for line in lines if "more unmapped notes not listed" in line]
    assert len(more) == 1 and "--all-notes" in more[0], lines[-5:]
    frequent = lines[lines.index(more[0]) + 1]  # each message counted: 60 copies, 60 times each
    assert frequent.startswith("  60 x ") and "(first: " in frequent, frequent
    every = run_cli("fhir", "convert", *map(str, files), "-o", str(tmp_path / "plans.ttl"), "--all-notes")
    found = re.search(r"\(([\d,]+) unmapped", every.stderr.splitlines()[-1])
    assert found is not None, every.stderr[-2000:]
    counted = int(found.group(1).replace(",", ""))
    assert every.stderr.count(": warning: ") + every.stderr.count(": info: ") >= counted > 20


def test_a_malformed_line_at_the_end_of_an_export_is_one_line_with_its_place_and_nothing_is_written(
        tmp_path: Path) -> None:
    files = write_export(tmp_path, 100)
    observations = tmp_path / "Observation.ndjson"
    good = observations.read_text(encoding="utf-8").count("\n")
    with observations.open("a", encoding="utf-8") as handle:
        handle.write('{"resourceType": "Observation", "id": "x", "status": }\n')
    output = tmp_path / "plans.ttl"
    before = sorted(tmp_path.iterdir())
    for args in (("fhir", "convert", "-o", str(output)), ("validate", "--output", str(output))):
        line = assert_one_line_error(run_cli(*args, *map(str, files)))
        assert f"Observation.ndjson:{good + 1}:54: not valid JSON: Expecting value" in line, line
        assert sorted(tmp_path.iterdir()) == before  # no output, no temporary file left behind


def test_a_line_that_is_not_utf8_or_not_a_resource_is_one_line_with_its_place(tmp_path: Path) -> None:
    export = tmp_path / "Patient.ndjson"
    export.write_bytes(b'{"resourceType":"Patient","id":"a"}\n{"resourceType":"Patient","id":"b\xff"}\n')
    line = assert_one_line_error(run_cli("fhir", "convert", str(export)))
    assert "Patient.ndjson:2:34: can't read the line as UTF-8 text" in line, line
    export.write_text('{"resourceType":"Patient","id":"a"}\n[1, 2]\n', encoding="utf-8")
    line = assert_one_line_error(run_cli("validate", str(export)))
    assert "Patient.ndjson:2:1: line 2 is an array, not a FHIR resource" in line, line


def test_a_line_longer_than_the_input_limit_is_refused_before_it_is_read_whole(tmp_path: Path) -> None:
    export = tmp_path / "Patient.ndjson"
    export.write_text('{"resourceType":"Patient","id":"a"}\n{"resourceType":"Patient","id":"' + "b" * 1_200_000
                      + '"}\n', encoding="utf-8")
    line = assert_one_line_error(run_cli("fhir", "convert", str(export), "--max-input-mb", "1"))
    assert "Patient.ndjson:2:1: the line is longer than the input limit of 1.0 MB" in line, line

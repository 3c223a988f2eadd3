"""Inputs a file system or a user makes awkward: a loop of links, a name too long, the output named as an input, a
query file that is a folder or not UTF-8, a JSON number too long for Python's int, one RDF term over the parser's
buffer. Each is one line naming the file (exit 2) or, for the number, data read as any other; never a traceback,
never an input overwritten."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import ROOT
from hostile import assert_one_line_error, run_cli

PLAN = ROOT / "examples" / "plans" / "several-findings.ttl"
BUNDLE = ROOT / "examples" / "fhir" / "ibm-azathioprine.json"


def test_a_loop_of_symbolic_links_is_named_by_every_reader(tmp_path: Path) -> None:
    (tmp_path / "a.ttl").symlink_to(tmp_path / "b.ttl")
    (tmp_path / "b.ttl").symlink_to(tmp_path / "a.ttl")
    loop = str(tmp_path / "a.ttl")
    for args in (("validate", loop), ("validate", "--qc", loop), ("fhir", "convert", loop),
                 ("sparql", "ASK {}", "--data", loop), ("validate", str(PLAN), "--shapes", loop)):
        line = assert_one_line_error(run_cli(*args))
        assert "a.ttl: is a symbolic link to nothing" in line, (args, line)


def test_a_name_the_file_system_refuses_is_one_line_for_input_and_output(tmp_path: Path) -> None:
    long_name = str(tmp_path / ("a" * 300 + ".ttl"))
    line = assert_one_line_error(run_cli("validate", long_name))
    assert "can't be read: File name too long" in line
    line = assert_one_line_error(run_cli("validate", str(PLAN), "--output", long_name))
    assert "can't write the report to" in line and "File name too long" in line


@pytest.mark.parametrize("how", ["same name", "another name", "a link"])
def test_the_output_is_never_one_of_the_inputs(how: str, tmp_path: Path) -> None:
    plan = tmp_path / "plan.ttl"
    shutil.copy(PLAN, plan)
    before = plan.read_bytes()
    output = {"same name": plan, "another name": tmp_path / "." / "plan.ttl", "a link": tmp_path / "report.txt"}[how]
    if how == "a link":
        output.symlink_to(plan)
    for args in (("validate", str(plan), "--output", str(output)),
                 ("validate", str(PLAN), "--shapes", str(plan), "--output", str(output))):
        line = assert_one_line_error(run_cli(*args))
        assert "it is one of the input files" in line, line
    assert plan.read_bytes() == before
    bundle = tmp_path / "bundle.json"
    shutil.copy(BUNDLE, bundle)
    line = assert_one_line_error(run_cli("fhir", "convert", str(bundle), "-o", str(bundle)))
    assert "it is one of the input files" in line and bundle.read_bytes() == BUNDLE.read_bytes()


def test_a_query_file_that_is_a_folder_or_not_utf8_is_named_so(tmp_path: Path) -> None:
    folder = tmp_path / "q.rq"
    folder.mkdir()
    assert "is a folder" in assert_one_line_error(run_cli("sparql", str(folder)))
    binary = tmp_path / "bad.rq"
    binary.write_bytes(b"\xff\xfeSELECT")
    assert "the query is not UTF-8" in assert_one_line_error(run_cli("sparql", str(binary)))


def test_a_json_integer_too_long_for_python_is_data_not_a_traceback(tmp_path: Path) -> None:
    """Python refuses to turn more than 4,300 digits into an int (a ValueError); FHIR and JSON-LD are read with
    such a number as a decimal: the plan is converted and checked as it would be with a short number there."""
    huge = "9" * 5000
    bundle = json.loads(BUNDLE.read_text(encoding="utf-8"))
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    patient["extension"] = [{"url": "https://example.org/n", "valueInteger": 1}]
    text = json.dumps(bundle).replace('"valueInteger": 1', f'"valueInteger": {huge}')
    (tmp_path / "huge.json").write_text(text, encoding="utf-8")
    (tmp_path / "short.json").write_text(json.dumps(bundle), encoding="utf-8")
    for name in ("huge.json", "short.json"):
        done = run_cli("fhir", "convert", str(tmp_path / name), "-o", str(tmp_path / f"{name}.ttl"))
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    converted = {name: (tmp_path / f"{name}.json.ttl").read_text(encoding="utf-8").replace(f"{name}.json", "F")
                 for name in ("huge", "short")}
    assert converted["huge"] == converted["short"]
    (tmp_path / "ndjson.ndjson").write_text(json.dumps(patient).replace('"valueInteger": 1', f'"valueInteger": {huge}')
                                            + "\n", encoding="utf-8")
    done = run_cli("validate", str(tmp_path / "ndjson.ndjson"))
    assert "Traceback" not in done.stderr and done.returncode in (0, 1), done.stderr[-2000:]
    plan = {"@context": {"iim": "https://w3id.org/iimkg/"}, "@id": "https://example.org/p",
            "@type": "iim:TreatmentPlan", "https://example.org/n": 1}
    (tmp_path / "plan.jsonld").write_text(json.dumps(plan).replace(": 1}", f": {huge}}}"), encoding="utf-8")
    done = run_cli("validate", str(tmp_path / "plan.jsonld"))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]


@pytest.mark.parametrize("suffix", [".ttl", ".nt", ".jsonld"])
def test_one_term_over_the_parsers_buffer_is_one_line(suffix: str, tmp_path: Path) -> None:
    """pyoxigraph's parsers hold a token in a 16 MB buffer and raise MemoryError past it: that is the file's
    fault, said as such, not an out-of-memory machine and not a traceback."""
    literal = "x" * 17_000_000
    path = tmp_path / f"big{suffix}"
    if suffix == ".jsonld":
        path.write_text(json.dumps({"@id": "https://example.org/p", "@type": "https://w3id.org/iimkg/TreatmentPlan",
                                    "https://example.org/note": literal}), encoding="utf-8")
    else:
        rdf_type = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
        path.write_text(f'<https://example.org/p> {rdf_type} <https://w3id.org/iimkg/TreatmentPlan> .\n'
                        f'<https://example.org/p> <https://example.org/note> "{literal}" .\n', encoding="utf-8")
    for args in (("validate", str(path)), ("validate", "--qc", str(path))):
        line = assert_one_line_error(run_cli(*args, timeout=120))
        assert "longer than the RDF parser's 16 MB buffer" in line, (args, line)

"""A FHIR Bulk Data export as clients save it gives the findings of the export's plain files: with its manifest
(alone, or given with the files), under the names a client gives the files (standard names, a URL's last segment
without an extension, a destination elsewhere), split into parts, with an empty part. What cannot be read exits 2
with one line that names the file and the place.

The base export is examples/fhir/bulk-export, one NDJSON file per resource type; each layout is made from it in a
temporary folder, and its findings are compared with the base run's, file names aside."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from iimkg.cli.main import main
from iimkg.core.errors import InputError
from iimkg.shacl.findings import ValidationResult
from iimkg.validation import validate_plans

from conftest import ROOT

EXPORT = sorted((ROOT / "examples" / "fhir" / "bulk-export").glob("*.ndjson"))
SERVER = "https://fhir.example.org/bulk/files/"


def _findings(result: ValidationResult) -> Counter[tuple[str, ...]]:
    """Every finding but its file's name, which a layout changes."""
    return Counter((f.plan or "", f.focus, f.rule, f.severity.value, f.value or "", f.message, f.statement or "")
                   for f in result.findings)


@pytest.fixture(scope="module")
def base() -> ValidationResult:
    return validate_plans(EXPORT)


def _kind(path: Path) -> str:
    return str(json.loads(path.read_text(encoding="utf-8").splitlines()[0])["resourceType"])


def _manifest(folder: Path, entries: list[dict[str, str]]) -> Path:
    """The complete status response of the Bulk Data IG, saved as a client saves it."""
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps({"transactionTime": "2026-12-01T08:00:00Z", "request": SERVER + "$export",
                                    "requiresAccessToken": True, "output": entries, "error": []}, indent=2),
                        encoding="utf-8")
    return manifest


def _copies(folder: Path, name: Callable[[Path], str]) -> list[Path]:
    copies = []
    for path in EXPORT:
        copy = folder / name(path)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(path.read_bytes())
        copies.append(copy)
    return copies


def manifest_alone(folder: Path) -> list[Path]:
    _copies(folder, lambda p: p.name)
    return [_manifest(folder, [{"type": _kind(p), "url": SERVER + p.name} for p in EXPORT])]


def manifest_with_its_files(folder: Path) -> list[Path]:
    files = _copies(folder, lambda p: p.name)
    return [_manifest(folder, [{"type": _kind(p), "url": SERVER + p.name} for p in EXPORT]), *files]


def standard_names(folder: Path) -> list[Path]:
    """bulk-data-client --forceStandardFileNames: <n>.<type>.ndjson, whatever the URL says."""
    _copies(folder, lambda p: f"1.{_kind(p)}.ndjson")
    return [_manifest(folder, [{"type": _kind(p), "url": f"{SERVER}job-7/{n}"} for n, p in enumerate(EXPORT)])]


def names_without_extension(folder: Path) -> list[Path]:
    """A server whose file URLs end in an id (…/Binary/4f2a…): the client saves each under that id."""
    def opaque(path: Path) -> str:
        return hashlib.sha1(path.name.encode()).hexdigest()[:16]

    _copies(folder, opaque)
    return [_manifest(folder, [{"type": _kind(p), "url": f"{SERVER}Binary/{opaque(p)}"} for p in EXPORT])]


def destination_elsewhere(folder: Path) -> list[Path]:
    """bulk-data-client --addDestinationToManifest, the files in another folder than the manifest."""
    files = _copies(folder / "downloads", lambda p: p.name)
    return [_manifest(folder, [{"type": _kind(p), "url": SERVER + p.name, "destination": str(f.resolve())}
                               for p, f in zip(EXPORT, files, strict=True)])]


def parts_and_an_empty_one(folder: Path) -> list[Path]:
    """Each type in two files, as a server that caps its file sizes writes them, and one part with nothing in it."""
    files = []
    for path in EXPORT:
        lines = path.read_bytes().splitlines(keepends=True)
        half = (len(lines) + 1) // 2
        for number, part in enumerate((lines[:half], lines[half:]), start=1):
            files.append(folder / f"{_kind(path)}.{number:03d}.ndjson")
            files[-1].write_bytes(b"".join(part))
    (folder / "Encounter.001.ndjson").write_bytes(b"")
    (folder / "Procedure.003.ndjson").write_bytes(b"\n\n")
    return [folder / "Encounter.001.ndjson", *files, folder / "Procedure.003.ndjson"]


LAYOUTS = [manifest_alone, manifest_with_its_files, standard_names, names_without_extension,
           destination_elsewhere, parts_and_an_empty_one]


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda f: f.__name__)
def test_an_export_as_a_client_saves_it_gives_the_findings_of_its_files(
        layout: Callable[[Path], list[Path]], base: ValidationResult, tmp_path: Path) -> None:
    result = validate_plans(layout(tmp_path))
    assert _findings(result) == _findings(base)
    assert result.plans == base.plans
    assert any(not f.rule.startswith("fhir_") for f in result.findings), "an export the plan rules fire on"


def test_a_manifest_given_with_its_files_reads_each_file_once(base: ValidationResult, tmp_path: Path) -> None:
    result = validate_plans(manifest_with_its_files(tmp_path))
    assert len(result.files) == len(EXPORT) == len(base.files)


def test_the_manifest_stands_for_its_files_in_fhir_convert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs = manifest_alone(tmp_path)
    assert main(["fhir", "convert", *map(str, EXPORT), "--output", str(tmp_path / "files.ttl")]) == 0
    assert main(["fhir", "convert", *map(str, inputs), "--output", str(tmp_path / "manifest.ttl")]) == 0
    capsys.readouterr()
    # the plans, their comments' places without their folders
    body = [(tmp_path / name).read_text(encoding="utf-8").split("\n", 3)[3].replace(f"{folder}/", "")
            for name, folder in (("files.ttl", EXPORT[0].parent), ("manifest.ttl", tmp_path))]
    assert body[0] == body[1] and "iim:TreatmentPlan" in body[0]


def _error(capsys: pytest.CaptureFixture[str], *args: Path) -> str:
    assert main(["validate", *map(str, args)]) == 2
    out, err = capsys.readouterr()
    assert not out and err.count("\n") == 1 and "Traceback" not in err
    return err


OUTCOME = {"resourceType": "OperationOutcome", "id": "e1", "issue": [
    {"severity": "error", "code": "exception", "diagnostics": "Observation/obs-9 could not be exported"}]}


def test_the_error_files_a_manifest_lists_are_warnings(base: ValidationResult, tmp_path: Path) -> None:
    """The SMART client saves the export's error files (OperationOutcomes) in error/: each error is a warning, as
    the plans may lack what the server could not export; the deleted files are not read."""
    manifest = manifest_alone(tmp_path)[0]
    (tmp_path / "error").mkdir()
    (tmp_path / "error" / "errors.ndjson").write_text(json.dumps(OUTCOME) + "\n", encoding="utf-8")
    listed = json.loads(manifest.read_text(encoding="utf-8"))
    listed["error"] = [{"type": "OperationOutcome", "url": SERVER + "errors.ndjson"}]
    listed["deleted"] = [{"type": "Bundle", "url": SERVER + "gone.ndjson"}]
    manifest.write_text(json.dumps(listed, indent=2), encoding="utf-8")
    result = validate_plans([manifest])
    reported = [f for f in result.findings if f.rule == "fhir_reported"]
    assert [(f.severity.value, f.focus) for f in reported] == [("warning", "OperationOutcome/e1")]
    assert "Observation/obs-9 could not be exported" in reported[0].message
    added = _findings(result) - _findings(base)
    assert sum(added.values()) == 1 and next(iter(added))[2] == "fhir_reported", "the rest is the export's"
    assert not _findings(base) - _findings(result)
    (tmp_path / "error" / "errors.ndjson").unlink()
    with pytest.raises(InputError, match=re.escape("error file (what the server could not export) ")):
        validate_plans([manifest])


def test_a_file_the_manifest_lists_and_the_folder_lacks_is_an_error_on_its_entry(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = manifest_alone(tmp_path)[0]
    (tmp_path / "Observation.ndjson").unlink()
    text = manifest.read_text(encoding="utf-8")
    brace = text.rindex("{", 0, text.index(SERVER + "Observation.ndjson"))  # the entry's object
    line, column = text.count("\n", 0, brace) + 1, brace - text.rfind("\n", 0, brace)
    err = _error(capsys, manifest)
    assert err.startswith(f"iimkg: error: {manifest}:{line}:{column}: ") and "Observation file" in err
    assert "Observation.ndjson" in err and "1.Observation.ndjson" in err


@pytest.mark.parametrize(("text", "says", "place"), [
    ('{"transactionTime": "x", "output": [{"type": "Patient"}]}', "output 1 of the Bulk Data manifest has no url",
     ":1:37:"),
    ('{"transactionTime": "x", "output": {"url": "a"}}', "output is a list", ":1:36:"),
    ('{"transactionTime": "x", "output": []}', "lists no file (its output is empty)", ":1:36:"),
    ('{"transactionTime": "x",\n "output": [{"url": "a"},]}', "not valid JSON", ":2:"),
])
def test_a_manifest_that_is_not_one_exits_2_with_its_place(text: str, says: str, place: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(text, encoding="utf-8")
    err = _error(capsys, manifest)
    assert says in err and f"{manifest}{place}" in err, err


def test_an_export_of_empty_parts_only_is_an_error_on_the_first(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "Patient.ndjson", tmp_path / "Condition.ndjson"
    first.write_bytes(b"")
    second.write_bytes(b"\n")
    err = _error(capsys, first, second)
    assert err == f"iimkg: error: {first}: the file is empty; expected a FHIR resource, a Bundle or NDJSON (one " \
        "resource per line)\n"
    # the other errors of the files come first: they are all read before an empty part counts
    second.write_bytes(b'{"resourceType": "Condition",}\n')
    assert f"{second}:1:" in _error(capsys, first, second)


@pytest.mark.parametrize("name", ["Patient.ndjson.gz", "plans.ttl.gz", "export.zip"])
def test_a_compressed_file_says_to_decompress_it(name: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    compressed = tmp_path / name
    compressed.write_bytes(b"\x1f\x8b\x08\x00")
    err = _error(capsys, compressed)
    assert f"{compressed}: the file is compressed" in err and "decompress it first" in err

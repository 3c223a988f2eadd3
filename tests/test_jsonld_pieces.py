"""A JSON-LD file read in pieces (iimkg.graph.jsonld_pieces): the same triples as one parse, bad input placed in
the file, and memory that does not grow with the file."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pyoxigraph as ox
import pytest

from iimkg.core import jsonstream
from iimkg.core.errors import InputError
from iimkg.core.vocab import PLAN_CONTEXT_IRI
from iimkg.graph.jsonld import jsonld_with_context
from iimkg.graph.jsonld_pieces import jsonld_pieces as pieces_of

MEMBERS = 400
MARKED = 317  # the member a bad-input case changes


def _member(number: int) -> str:
    """A node with a labelled blank node shared with the next member (so pieces must keep labels document-wide),
    an unlabelled nested node, and a term of the plan context."""
    return json.dumps({"@id": f"urn:plan:{number}", "type": "TreatmentPlan", "identifier": f"P{number}",
                       "patient": {"@id": f"_:patient{number // 2}"},
                       "prescription": {"prescribedDrug": {"@id": "https://w3id.org/iimkg/prednisone"},
                                        "dailyDoseMg": number}})


def _document(layout: str, members: list[str]) -> str:
    listed = ",\n  ".join(members)
    if layout == "list":  # pyoxigraph's writer: a top-level array, each member with its context
        return "[\n  " + listed.replace('{"@id"', f'{{"@context": "{PLAN_CONTEXT_IRI}", "@id"') + "\n]\n"
    after = ',\n "@id": "urn:graph", "http://purl.org/dc/terms/title": "a cohort"' if layout == "named" else ""
    key = "plans" if layout == "plans" else "@graph"  # the iimkg context's name for @graph (docs/plans.md)
    return f'{{"@context": "{PLAN_CONTEXT_IRI}",\n "{key}": [\n  {listed}\n ]{after}\n}}\n'


def _write(tmp_path: Path, text: str | bytes, name: str = "plans.jsonld") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _triples(data: bytes, path: Path) -> set[str]:
    """The triples (graph names dropped, as the splitter drops them), blank nodes by their labels."""
    quads = ox.parse(data, format=ox.RdfFormat.JSON_LD, base_iri=path.resolve().as_uri())
    return {f"{q.subject} {q.predicate} {q.object}" for q in quads}


def _anonymous(triples: set[str]) -> set[str]:
    """Unlabelled blank nodes get random labels in every parse: counted, not compared."""
    return {" ".join("_:anon" if part.startswith("_:") and not part.startswith("_:patient") else part
                     for part in triple.split(" ")) for triple in triples}


@pytest.mark.parametrize("layout", ["graph", "plans", "list", "named"])
def test_the_pieces_hold_the_triples_of_one_parse(tmp_path: Path, layout: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonstream, "READ_BYTES", 4096)
    path = _write(tmp_path, _document(layout, [_member(n) for n in range(MEMBERS)]))
    whole = _triples(jsonld_with_context(path), path)
    pieces = list(pieces_of(path, piece_chars=5000))
    cut = set().union(*(_triples(piece.data, path) for piece in pieces))
    assert len(pieces) > MEMBERS * len(_member(0)) // 5000
    assert len(cut) == len(whole) and _anonymous(cut) == _anonymous(whole)
    assert f"<urn:plan:{MEMBERS - 1}> <https://w3id.org/iimkg/patient> _:patient{(MEMBERS - 1) // 2}" in cut


@pytest.mark.parametrize("text", [
    json.dumps({"@context": PLAN_CONTEXT_IRI, "@id": "urn:plan:1", "type": "TreatmentPlan"}),
    '{"@graph": [{"@id": "urn:plan:1", "@type": "https://w3id.org/iimkg/TreatmentPlan"}], "@context": {}}',
], ids=["one-node", "graph-before-context"])
def test_another_layout_is_one_piece_the_whole_document(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text)
    assert [piece.data for piece in pieces_of(path)] == [jsonld_with_context(path)]


def _line_of(text: str, marker: str) -> int:
    return text[:text.index(marker)].count("\n") + 1


BAD = {  # a case: the marked member changed, and what the error says
    "syntax": (lambda m: m.replace('"identifier"', ',"identifier"'), "not valid JSON"),
    "depth": (lambda m: m.replace('"identifier"', '"note": ' + "[" * 200 + "]" * 200 + ', "identifier"'),
              "deeper than the limit"),
    "remote context": (lambda m: m.replace('{"@id"', '{"@context": "https://schema.org/", "@id"'),
                       "'https://schema.org/' is not one iimkg can load"),
    "missing comma": (lambda m: m + " " + _member(0), "Expecting ',' delimiter"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_deep_in_the_file_is_placed_on_its_line(tmp_path: Path, case: str) -> None:
    change, says = BAD[case]
    members = [_member(n) for n in range(MEMBERS)]
    members[MARKED] = change(members[MARKED])
    text = _document("graph", members)
    path = _write(tmp_path, text)
    with pytest.raises(InputError, match=says) as raised:
        list(pieces_of(path, piece_chars=5000))
    assert raised.value.line == _line_of(text, f'"urn:plan:{MARKED}"')


def test_a_byte_that_is_not_utf8_and_text_after_the_document_are_placed(tmp_path: Path) -> None:
    text = _document("graph", [_member(n) for n in range(MEMBERS)])
    raw = text.encode().replace(f'"P{MARKED}"'.encode(), f'"P{MARKED}\xff"'.encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8") as raised:
        list(pieces_of(_write(tmp_path, raw, "bytes.jsonld")))
    assert raised.value.line == _line_of(text, f'"P{MARKED}"')
    with pytest.raises(InputError, match="Extra data") as raised:
        list(pieces_of(_write(tmp_path, text + "]\n", "extra.jsonld")))
    assert raised.value.line == text.count("\n") + 1


@pytest.mark.parametrize(("old", "new", "says"), [
    ('"TreatmentPlan"', '{"@value": "x", "@language": 3}', "@type value must be a string"),
    ('{"@id"', '{"\\u0040context": "https://schema.org/", "@id"', "'https://schema.org/' is not one iimkg can load"),
], ids=["json-ld-error", "context-key-escaped"])
def test_a_parse_error_in_a_piece_names_the_files_line_and_exits_2(tmp_path: Path, old: str, new: str,
                                                                     says: str) -> None:
    members = [_member(n) for n in range(MEMBERS)]
    members[MARKED] = members[MARKED].replace(old, new)
    text = _document("graph", members)
    path = _write(tmp_path, text)
    command = [sys.executable, "-m", "iimkg.cli.main", "validate", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"{path}:{_line_of(text, f'urn:plan:{MARKED}')}:" in done.stderr and says in done.stderr


def test_a_large_file_is_read_in_bounded_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonstream, "READ_BYTES", 16 * 1024)
    text = _document("graph", [_member(n) for n in range(20 * MEMBERS)])
    path = _write(tmp_path, text)
    tracemalloc.start()
    try:
        count = sum(len(piece.data) > 0 for piece in pieces_of(path, piece_chars=16 * 1024))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < len(text) // 4, f"{peak} bytes held for a file of {len(text)}"
    assert count > 1

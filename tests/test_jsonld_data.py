"""JSON-LD data is read the same way by every entry point: the iimkg context inlined, no other remote context."""

from __future__ import annotations

import json
from pathlib import Path

import pyoxigraph as ox
import pytest

from iimkg.core.errors import InputError
from iimkg.core.vocab import PLAN_CONTEXT_IRI
from iimkg.endpoint.dataset import build_dataset, data_graph_name
from iimkg.graph.loading import parse_rdf_file

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "plans"


def _plain_rdf_of(path: Path) -> int:
    """Triples of a JSON-LD plan as the CLI's reader parses it."""
    return len(parse_rdf_file(path))


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.jsonld")), ids=lambda p: p.name)
def test_serve_data_takes_a_jsonld_plan_that_names_the_iimkg_context(example: Path) -> None:
    assert PLAN_CONTEXT_IRI in example.read_text(encoding="utf-8")
    dataset = build_dataset([example])
    graphs = {info.name: info.triples for info in dataset.graphs}
    assert graphs[data_graph_name(example)] == _plain_rdf_of(example) > 0


def test_an_inline_context_reads_like_the_named_one(tmp_path: Path) -> None:
    example = sorted(EXAMPLES.glob("*.jsonld"))[0]
    document = json.loads(example.read_text(encoding="utf-8"))
    from iimkg.graph.jsonld import plan_context

    document["@context"] = plan_context()
    inline = tmp_path / "inline.jsonld"
    inline.write_text(json.dumps(document), encoding="utf-8")
    assert _shape(parse_rdf_file(inline)) == _shape(parse_rdf_file(example))


def _shape(quads: list[ox.Quad]) -> list[tuple[str, str, str]]:
    """The triples with blank nodes blanked out (their labels differ from one parse to the next)."""
    def term(node: object) -> str:
        return "_:" if isinstance(node, ox.BlankNode) else str(node)
    return sorted((term(q.subject), str(q.predicate), term(q.object)) for q in quads)


@pytest.mark.parametrize("document", [
    {"@context": "http://127.0.0.1:9/context.jsonld", "@id": "urn:x", "urn:p": "v"},
    {"@context": ["https://schema.org/"], "@id": "urn:x"},
    {"@id": "urn:x", "urn:p": {"@context": "http://127.0.0.1:9/scoped", "@value": "v"}},
], ids=["top", "list", "nested"])
def test_another_remote_context_is_refused_naming_it(tmp_path: Path, document: dict[str, object]) -> None:
    path = tmp_path / "remote.jsonld"
    path.write_text(json.dumps(document), encoding="utf-8")
    for read in (lambda: parse_rdf_file(path), lambda: build_dataset([path])):
        with pytest.raises(InputError, match="is not one iimkg can load") as caught:
            read()
        assert str(path) in str(caught.value)


def test_deep_jsonld_is_refused_at_its_place(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonld"
    path.write_text("[" * 5000, encoding="utf-8")
    with pytest.raises(InputError, match="deeper than the limit") as caught:
        parse_rdf_file(path)
    assert caught.value.line == 1

"""The release's FHIR terminology: a CodeSystem of our terms and a ConceptMap per target code system, each valid FHIR
R4 (``fhir.resources``' R4B models, whose CodeSystem and ConceptMap are R4's) and each saying what the mapping set
says. Built from the shipped ontology and ``ontology/mappings.sssom.tsv`` without HermiT, so the test is fast; the
slow release tests build the whole release, into which ``release/build.py`` writes these files.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pyoxigraph as ox
import pytest
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.conceptmap import ConceptMap

from iimkg.core.resources import ontology_file
from iimkg.core.vocab import ONTOLOGY_IRI
from iimkg.graph.loading import shipped_quads
from iimkg.graph.mappings import Mapping
from iimkg.release.fhir_terminology import (
    CODE_SYSTEM_FILE,
    EQUIVALENCE,
    fhir_terminology_files,
    target_systems,
)
from iimkg.release.graph import ReleaseError, ReleaseGraph, Term, canonical_triples
from iimkg.release.mapping_set import mappings

VERSION = "2026-01-01"
TITLE = "IIM treatment knowledge graph"


@pytest.fixture(scope="module")
def terms() -> list[Term]:
    return ReleaseGraph(canonical_triples(ox.Triple(q.subject, q.predicate, q.object)
                                          for q in shipped_quads())).terms


@pytest.fixture(scope="module")
def rows() -> list[Mapping]:
    return mappings(ontology_file())


@pytest.fixture(scope="module")
def files(terms: list[Term], rows: list[Mapping]) -> dict[str, Any]:
    return {name: json.loads(data) for name, data in
            fhir_terminology_files(terms, rows, version=VERSION, title=TITLE).items()}


def _maps(files: dict[str, Any]) -> list[dict[str, Any]]:
    return [resource for name, resource in files.items() if name != CODE_SYSTEM_FILE]


def test_every_file_is_valid_fhir(files: dict[str, Any]) -> None:
    for name, resource in files.items():
        model = CodeSystem if name == CODE_SYSTEM_FILE else ConceptMap
        model.model_validate(resource)  # raises on anything FHIR R4 does not allow


def test_one_concept_map_per_target_system_of_the_mapping_set(files: dict[str, Any], rows: list[Mapping]) -> None:
    prefixes = {row.object_id.split(":", 1)[0] for row in rows}
    systems = target_systems()
    assert sorted(m["targetUri"] for m in _maps(files)) == sorted(systems[p] for p in prefixes)
    assert len({m["targetUri"] for m in _maps(files)}) == len(prefixes)


def test_each_mapping_is_one_target_with_the_equivalence_of_its_predicate(files: dict[str, Any],
                                                                          rows: list[Mapping]) -> None:
    got = Counter((group["source"], element["code"], group["target"], target["equivalence"])
                  for concept_map in _maps(files) for group in concept_map["group"]
                  for element in group["element"] for target in element["target"])
    systems = target_systems()
    expected = Counter((ONTOLOGY_IRI, row.subject_iri.rsplit("/", 1)[-1], systems[row.object_id.split(":", 1)[0]],
                        EQUIVALENCE[row.predicate_id]) for row in rows)
    assert got == expected


def test_hl7_system_uris_and_codes_for_the_systems_the_fhir_intake_reads(files: dict[str, Any],
                                                                         rows: list[Mapping]) -> None:
    """A ConceptMap's codes read back through the FHIR intake's code mapper as the term they map from."""
    from iimkg.plans.codes import CodeMapper

    mapper = CodeMapper.shipped()
    by_target = {m["targetUri"]: m for m in _maps(files)}
    checked = 0
    for row in rows:
        if not row.has_xref or row.predicate_id != "skos:exactMatch":
            continue
        system = target_systems()[row.object_id.split(":", 1)[0]]
        target_codes = [t["code"] for group in by_target[system]["group"] for e in group["element"]
                        if e["code"] == row.subject_iri.rsplit("/", 1)[-1] for t in e["target"]]
        curies = {mapper._curie({"system": system, "code": code}) for code in target_codes}
        if curies == {None}:  # a system the intake does not read codes of
            continue
        assert row.object_id in curies
        checked += 1
    assert checked


def test_code_system_holds_every_mapped_term_and_marks_deprecated_ones(files: dict[str, Any],
                                                                       terms: list[Term],
                                                                       rows: list[Mapping]) -> None:
    code_system = files[CODE_SYSTEM_FILE]
    codes = {concept["code"]: concept for concept in code_system["concept"]}
    assert code_system["count"] == len(codes) == len(code_system["concept"])
    mapped = {code for concept_map in _maps(files) for group in concept_map["group"]
              for code in (e["code"] for e in group["element"])}
    assert mapped <= set(codes)
    by_local = {term.local: term for term in terms}
    for code, concept in codes.items():
        assert concept["display"] == by_local[code].label
        assert bool(concept.get("property")) == by_local[code].deprecated


def test_a_deprecated_term_is_an_inactive_concept(terms: list[Term], rows: list[Mapping]) -> None:
    """The shipped graph has no deprecated class yet; a deprecated copy of one shows how it is exported."""
    live = next(term for term in terms if term.kind == "class")
    gone = Term(live.iri, live.kind, live.label, True, "")
    code_system = json.loads(fhir_terminology_files([gone], [], version=VERSION, title=TITLE)[CODE_SYSTEM_FILE])
    CodeSystem.model_validate(code_system)
    (concept,) = code_system["concept"]
    assert concept["property"] == [{"code": "inactive", "valueBoolean": True}]
    assert code_system["property"][0]["code"] == "inactive"


def test_a_predicate_without_a_fhir_equivalence_stops_the_release(terms: list[Term], rows: list[Mapping]) -> None:
    odd = Mapping(subject_id=rows[0].subject_id, predicate_id="owl:sameAs", object_id=rows[0].object_id,
                  subject_label=rows[0].subject_label, object_label="", mapping_justification="semapv:Unspecified")
    with pytest.raises(ReleaseError, match="owl:sameAs"):
        fhir_terminology_files(terms, [odd], version=VERSION, title=TITLE)

"""The shipped ontology is well formed: metadata, labels, definitions, cross-references, OWL 2 DL reasoning."""

from __future__ import annotations

import shutil

import pyoxigraph as ox
import pytest

from iimkg.core.prefixes import is_well_formed

from conftest import IIM

ONTOLOGY = ox.NamedNode(IIM + "iim.owl")
DCTERMS = "http://purl.org/dc/terms/"


def select(store: ox.Store, text: str) -> list[dict[str, str]]:
    result = store.query(text)
    assert isinstance(result, ox.QuerySolutions)
    names = [v.value for v in result.variables]
    return [{n: s[n].value for n in names if s[n] is not None} for s in result]


def own_terms(store: ox.Store) -> list[str]:
    rows = select(store, """
        PREFIX owl: <http://www.w3.org/2002/07/owl#>
        SELECT DISTINCT ?t WHERE {
          { ?t a owl:Class } UNION { ?t a owl:ObjectProperty } UNION { ?t a owl:DatatypeProperty }
          UNION { ?t a owl:AnnotationProperty } UNION { ?t a owl:NamedIndividual }
          FILTER (STRSTARTS(STR(?t), "https://w3id.org/iimkg/") && !STRSTARTS(STR(?t), "https://w3id.org/iimkg/statement-"))
        }""")
    return [r["t"] for r in rows]


def test_header_has_the_metadata_obo_expects(store: ox.Store) -> None:
    def value(prop: str) -> str:
        found = list(store.quads_for_pattern(ONTOLOGY, ox.NamedNode(prop), None))
        assert found, f"the ontology header has no {prop}"
        return found[0].object.value

    assert value("http://www.w3.org/2002/07/owl#versionIRI").startswith(IIM + "releases/")
    assert value("http://www.w3.org/2002/07/owl#versionIRI").endswith("/iim.owl")
    assert value(DCTERMS + "license") == "https://creativecommons.org/licenses/by/4.0/"
    assert value(DCTERMS + "source") == IIM + "seed-page"
    for prop in ("title", "description", "creator"):
        assert value(DCTERMS + prop)
    comment = value("http://www.w3.org/2000/01/rdf-schema#comment")
    assert "Not medical advice" in comment


def test_every_own_term_has_one_english_label_and_a_definition(store: ox.Store) -> None:
    rows = select(store, """
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        PREFIX obo: <http://purl.obolibrary.org/obo/>
        SELECT ?t (COUNT(DISTINCT ?label) AS ?labels) (COUNT(DISTINCT ?def) AS ?defs) WHERE {
          ?t ?p ?o .
          FILTER (STRSTARTS(STR(?t), "https://w3id.org/iimkg/") && !STRSTARTS(STR(?t), "https://w3id.org/iimkg/statement-")
                  && STR(?t) != "https://w3id.org/iimkg/seed-page" && STR(?t) != "https://w3id.org/iimkg/iim.owl"
                  && !CONTAINS(STR(?t), "Scheme"))
          OPTIONAL { ?t rdfs:label ?label FILTER (lang(?label) = "en") }
          OPTIONAL { ?t obo:IAO_0000115 ?def }
        } GROUP BY ?t""")
    assert len(rows) > 150
    bad = [r["t"] for r in rows if r["labels"] != "1" or r["defs"] != "1"]
    assert bad == [], f"terms without exactly one English label and one definition: {bad}"


def test_no_two_terms_share_an_english_label(store: ox.Store) -> None:
    rows = select(store, """
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        SELECT ?label (COUNT(DISTINCT ?t) AS ?n) WHERE { ?t rdfs:label ?label FILTER (lang(?label) = "en") }
        GROUP BY ?label HAVING (COUNT(DISTINCT ?t) > 1)""")
    assert rows == []


def test_every_cross_reference_has_a_known_prefix_and_a_well_formed_id(store: ox.Store) -> None:
    rows = select(store, """
        PREFIX oboInOwl: <http://www.geneontology.org/formats/oboInOwl#>
        SELECT ?t ?x WHERE { ?t oboInOwl:hasDbXref ?x }""")
    assert len(rows) > 250
    assert [r["x"] for r in rows if not is_well_formed(r["x"])] == []


def test_every_cross_reference_is_a_verified_identifier(store: ox.Store, verified_xrefs: set[str]) -> None:
    rows = select(store, """
        PREFIX oboInOwl: <http://www.geneontology.org/formats/oboInOwl#>
        SELECT DISTINCT ?x WHERE { ?t oboInOwl:hasDbXref ?x }""")
    assert sorted(r["x"] for r in rows if r["x"] not in verified_xrefs) == []


def test_every_skos_mapping_is_also_a_cross_reference(store: ox.Store) -> None:
    from iimkg.core.prefixes import converter

    rows = select(store, """
        PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
        PREFIX oboInOwl: <http://www.geneontology.org/formats/oboInOwl#>
        SELECT ?t ?m WHERE {
          VALUES ?p { skos:exactMatch skos:closeMatch skos:broadMatch skos:narrowMatch }
          ?t ?p ?m . FILTER (STRSTARTS(STR(?t), "https://w3id.org/iimkg/IIM_"))
        }""")
    xrefs = {(r["t"], r["x"]) for r in select(store, """
        PREFIX oboInOwl: <http://www.geneontology.org/formats/oboInOwl#>
        SELECT ?t ?x WHERE { ?t oboInOwl:hasDbXref ?x }""")}
    missing = [(r["t"], r["m"]) for r in rows if (r["t"], converter().compress(r["m"])) not in xrefs]
    assert missing == []


def test_obsolete_or_wrong_identifiers_are_never_used(store: ox.Store) -> None:
    # xrefs-notes.md: obsolete MONDO classes, meprednisone's ATC code, outdated rituximab/tofacitinib ATC,
    # salt or hydrate ChEBI forms, the MeSH "Tuberculoma" that DOID gives tuberculosis
    forbidden = {"MONDO:0005924", "MONDO:0016124", "MONDO:0019247", "MONDO:0017707", "MONDO:0015123",
                 "HP:0008356", "HP:0003464", "ATC:H02AB15", "ATC:L01XC02", "ATC:L04AA29", "CHEBI:4026",
                 "CHEBI:71365", "CHEBI:63716", "MESH:D014375", "MESH:C088658"}
    used = {r["x"] for r in select(store, """
        PREFIX oboInOwl: <http://www.geneontology.org/formats/oboInOwl#>
        SELECT DISTINCT ?x WHERE { ?t oboInOwl:hasDbXref ?x }""")}
    assert used & forbidden == set()


def test_every_clinical_statement_has_a_source_and_an_evidence_level(store: ox.Store) -> None:
    rows = select(store, """
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        PREFIX dcterms: <http://purl.org/dc/terms/>
        PREFIX iim: <https://w3id.org/iimkg/>
        SELECT ?s (COUNT(DISTINCT ?src) AS ?sources) (COUNT(DISTINCT ?ev) AS ?levels) WHERE {
          ?s a ?c . ?c rdfs:subClassOf iim:ClinicalStatement .
          OPTIONAL { ?s dcterms:source ?src } OPTIONAL { ?s iim:evidenceLevel ?ev }
        } GROUP BY ?s""")
    assert len(rows) >= 35 + 40
    assert [r["s"] for r in rows if r["sources"] == "0" or r["levels"] != "1"] == []


def test_every_cited_source_is_described(store: ox.Store) -> None:
    rows = select(store, """
        PREFIX dcterms: <http://purl.org/dc/terms/>
        SELECT DISTINCT ?src WHERE {
          ?s dcterms:source ?src .
          MINUS { ?src dcterms:bibliographicCitation ?c }
        }""")
    assert [r["src"] for r in rows] == []


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="HermiT needs Java; .ci/run installs it")
def test_hermit_finds_the_ontology_consistent_with_no_unsatisfiable_classes() -> None:
    from iimkg.graph.reason import reason

    report = reason()
    assert report.consistent, report.message
    assert report.unsatisfiable == []


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="HermiT needs Java; .ci/run installs it")
def test_hermit_reports_an_inconsistent_ontology(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from iimkg.graph.reason import reason

    broken = tmp_path / "broken.ttl"
    broken.write_text("""
        @prefix owl: <http://www.w3.org/2002/07/owl#> .
        @prefix ex: <http://example.org/> .
        ex:o a owl:Ontology .
        ex:A a owl:Class . ex:B a owl:Class .
        ex:A owl:disjointWith ex:B .
        ex:x a owl:NamedIndividual , ex:A , ex:B .
    """)
    assert not reason(broken).consistent


def test_the_fast_compress_agrees_with_curies_on_every_iri(store: ox.Store) -> None:
    from iimkg.core.prefixes import compress, converter, expand

    rows = select(store, "SELECT DISTINCT ?o WHERE { ?s ?p ?o FILTER (isIRI(?o)) }")
    iris = [r["o"] for r in rows]
    assert len(iris) > 300
    for iri in iris:
        assert compress(iri) == converter().compress(iri), iri
        curie = compress(iri)
        if curie:
            assert expand(curie) == iri


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="HermiT needs Java; .ci/run installs it")
def test_owlready2_users_can_list_classes_before_and_after_reasoning(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A statement about "any infection" names the class iim:Infection; with a range of iim:Infection HermiT
    # made that class an instance of itself, and owlready2 then failed with "an inheritance cycle".
    import owlready2

    from iimkg.graph.loading import shipped_quads

    ntriples = tmp_path / "iim.nt"
    ntriples.write_bytes(ox.serialize([ox.Triple(q.subject, q.predicate, q.object) for q in shipped_quads()],
                                      format=ox.RdfFormat.N_TRIPLES) or b"")
    world = owlready2.World()
    world.get_ontology(ntriples.as_uri()).load()
    before = len(list(world.classes()))
    owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0, ignore_unsupported_datatypes=True)
    assert len([c.ancestors() for c in world.classes()]) == before

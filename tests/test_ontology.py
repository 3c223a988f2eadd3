"""The shipped ontology is well formed: metadata, labels, definitions, cross-references, OWL 2 DL reasoning."""

from __future__ import annotations

import csv
import re
import shutil
import tempfile
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib

from iimkg.core.errors import InputError
from iimkg.core.prefixes import expand, is_well_formed
from iimkg.graph.loading import ontology_quads, shipped_quads
from iimkg.graph.mappings import read_mappings

from conftest import IIM, ROOT

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


# ── The mapping set: every cross-reference written once, in ontology/mappings.sssom.tsv ──

MAPPINGS = ROOT / "ontology" / "mappings.sssom.tsv"
SKOS = "http://www.w3.org/2004/02/skos/core#"
XREF = "http://www.geneontology.org/formats/oboInOwl#hasDbXref"
MATCHES = {SKOS + m for m in ("exactMatch", "closeMatch", "broadMatch", "narrowMatch", "relatedMatch")}


def mapping_rows() -> list[dict[str, str]]:
    """The table as plain text rows, read here without the package's reader."""
    lines = [line for line in MAPPINGS.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))


@pytest.mark.filterwarnings("ignore:::sssom.util")  # sssom-py's own use of deprecated pandas arguments
def test_the_mapping_set_is_read_and_validated_by_sssom() -> None:
    pytest.importorskip("sssom", reason="the sssom package (test extra) reads the mapping set as a consumer would")
    from sssom.parsers import parse_sssom_table
    from sssom.validators import DEFAULT_VALIDATION_TYPES, validate

    msdf = parse_sssom_table(MAPPINGS)
    reports = validate(msdf, validation_types=DEFAULT_VALIDATION_TYPES, fail_on_error=True)
    assert all(not report.results for report in reports.values())
    rows = mapping_rows()
    assert len(msdf.df) == len(rows) > 0
    # its curie_map says what ontology/prefixes.tsv says, so both readers give every CURIE the same IRI
    assert {msdf.converter.expand(r["object_id"]) for r in rows} == {expand(r["object_id"]) for r in rows}
    assert {msdf.converter.expand(r["subject_id"]) for r in rows} == {expand(r["subject_id"]) for r in rows}


def test_every_mapped_subject_is_an_iimkg_term_under_the_label_the_table_gives(store: ox.Store) -> None:
    labels = {r["t"]: r["label"] for r in select(store, """
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        SELECT ?t ?label WHERE { ?t rdfs:label ?label FILTER (lang(?label) = "en") }""")}
    rows = mapping_rows()
    assert all((expand(r["subject_id"]) or "").startswith(IIM) for r in rows)
    assert [(r["subject_id"], r["subject_label"]) for r in rows
            if labels.get(expand(r["subject_id"]) or "") != r["subject_label"]] == []


def test_an_object_label_is_the_targets_own_label_and_a_qualifier_goes_in_the_comment() -> None:
    """SSSOM's object_label is the object's label, which label-consistency checks compare with the target: ATC
    names "tacrolimus" both L04AD02 and D11AH01, ChEBI names CHEBI:35705 "immunosuppressive agent". What tells
    them apart (systemic, topical, a role) is a note in the comment. Compared with the shared reference where it
    gives a plain label (no provenance in brackets, no alternatives)."""
    from conftest import SHARED

    table = SHARED / "reference" / "xrefs.tsv"
    if not table.is_file():
        pytest.skip(f"{table} is not there: the label check needs ../shared beside the checkout")
    reference = {row[2]: row[3] for row in csv.reader(table.read_text(encoding="utf-8").splitlines()[1:],
                                                      delimiter="\t") if len(row) > 3}
    plain = {curie: label for curie, label in reference.items() if not re.search(r"[(;]", label)}
    compared = [r for r in mapping_rows() if r["object_id"] in plain]
    assert compared
    assert [(r["object_id"], r["object_label"]) for r in compared
            if r["object_label"].casefold() != plain[r["object_id"]].casefold()] == []


def test_the_loaded_graph_holds_exactly_the_mappings_of_the_table(graph: rdflib.Graph) -> None:
    """Each row is one skos match; a numbered term (IIM_0000002) also has the object's CURIE as hasDbXref."""
    rows = mapping_rows()
    skos = {(expand(r["subject_id"]), SKOS + r["predicate_id"].removeprefix("skos:"), expand(r["object_id"]))
            for r in rows}
    xrefs = {(expand(r["subject_id"]), r["object_id"]) for r in rows
             if re.fullmatch(r"iim:IIM_[0-9]{7}", r["subject_id"])}
    loaded_skos = {(str(s), str(p), str(o)) for s, p, o in graph if str(p) in MATCHES}
    loaded_xrefs = {(str(s), str(o)) for s, o in graph.subject_objects(rdflib.URIRef(XREF))}
    assert loaded_skos == skos
    assert loaded_xrefs == xrefs
    assert len(rows) == len(skos)  # no pair written twice


def test_the_ontology_file_holds_no_mapping_of_its_own() -> None:
    """A cross-reference written in iim.ttl too would be written twice again."""
    written = [(q.subject.value, q.predicate.value) for q in ox.parse(path=str(ROOT / "ontology" / "iim.ttl"),
                                                                       format=ox.RdfFormat.TURTLE)
               if q.predicate.value in MATCHES or q.predicate.value == XREF]
    assert written == []


def test_a_forked_ontology_file_gets_the_mapping_set_beside_it(tmp_path: Path) -> None:
    fork = tmp_path / "iim.ttl"
    shutil.copyfile(ROOT / "ontology" / "iim.ttl", fork)
    alone = ontology_quads(fork)
    assert not any(q.predicate.value == XREF for q in alone)
    shutil.copyfile(MAPPINGS, tmp_path / "mappings.sssom.tsv")
    beside = ontology_quads(fork)
    assert len(beside) == len(shipped_quads())
    assert sum(q.predicate.value == XREF for q in beside) == sum(q.predicate.value == XREF for q in shipped_quads())


def _table(tmp_path: Path, row: str) -> Path:
    header = "\t".join(("subject_id", "subject_label", "predicate_id", "object_id", "object_label",
                        "mapping_justification"))
    table = tmp_path / "mappings.sssom.tsv"
    table.write_text(f"#mapping_set_id: https://example.org/m.sssom.tsv\n{header}\n{row}\n", encoding="utf-8")
    return table


@pytest.mark.parametrize(("row", "says"), [
    ("iim:IIM_0000002\tdermatomyositis\tskos:exactMatch\tNOPE:1\tx\tsemapv:ManualMappingCuration", "'NOPE:1'"),
    ("MONDO:0016367\tdermatomyositis\tskos:exactMatch\tDOID:10223\tx\tsemapv:ManualMappingCuration",
     "not an iimkg term"),
    ("iim:IIM_0000002\tdermatomyositis\towl:sameAs\tDOID:10223\tx\tsemapv:ManualMappingCuration",
     "'owl:sameAs'"),
])
def test_a_mapping_row_that_cannot_become_triples_is_refused_with_its_line(tmp_path: Path, row: str,
                                                                           says: str) -> None:
    with pytest.raises(InputError, match=says) as raised:
        read_mappings(_table(tmp_path, row))
    assert raised.value.line == 3


def test_a_pair_mapped_twice_is_refused(tmp_path: Path) -> None:
    row = "iim:IIM_0000002\tdermatomyositis\tskos:{}\tDOID:10223\tx\tsemapv:ManualMappingCuration"
    with pytest.raises(InputError, match="twice"):
        read_mappings(_table(tmp_path, row.format("exactMatch") + "\n" + row.format("closeMatch")))


# ── Statements: an identifier and a label that says something ──


def statements(store: ox.Store) -> list[dict[str, str]]:
    return select(store, """
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        PREFIX dcterms: <http://purl.org/dc/terms/>
        PREFIX iim: <https://w3id.org/iimkg/>
        SELECT ?s (GROUP_CONCAT(DISTINCT ?id; separator="|") AS ?ids) (SAMPLE(?l) AS ?label) WHERE {
          ?s a ?c . ?c rdfs:subClassOf iim:ClinicalStatement .
          OPTIONAL { ?s dcterms:identifier ?id } OPTIONAL { ?s rdfs:label ?l FILTER (lang(?l) = "en") }
        } GROUP BY ?s""")


def test_every_statement_has_the_identifier_its_iri_gives(store: ox.Store) -> None:
    """The local name after ``statement-`` is the ID; the parts of a split seed statement (S31a…) cite its ID."""
    rows = statements(store)
    assert rows
    wrong = [(r["s"], r["ids"]) for r in rows
             if not re.fullmatch(re.escape(r["ids"]) + "[a-z]?", r["s"].removeprefix(IIM + "statement-"))]
    assert wrong == []


def test_no_statement_label_merely_copies_its_identifier(store: ox.Store) -> None:
    rows = statements(store)
    assert rows
    local = {r["s"]: r["s"].removeprefix(IIM + "statement-") for r in rows}
    bare = [r["label"] for r in rows
            if not re.sub(rf"\(?{re.escape(local[r['s']])}\)?|statement", "", r.get("label", "")).strip()]
    assert bare == []


def test_a_dose_text_that_names_a_drug_is_on_a_statement_about_that_drug_alone(store: ox.Store) -> None:
    """The queries show a statement's iim:doseText beside each of its drugs: a dose text that names some of a
    statement's drugs but not all would be read as the others' dose too (R213 once gave "hydroxychloroquine up to
    400 mg/day" as azathioprine's). Such a statement is split by drug (R213, R213a)."""
    rows = select(store, """
        PREFIX iim: <https://w3id.org/iimkg/>
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        SELECT ?s ?dose ?drug ?label WHERE {
          ?s iim:doseText ?dose ; iim:drug ?drug .
          ?drug rdfs:label ?label . FILTER (LANG(?label) = "en")
        }""")
    assert rows, "the graph has dose texts"
    drugs: dict[tuple[str, str], dict[str, str]] = {}
    for row in rows:
        drugs.setdefault((row["s"], row["dose"]), {})[row["drug"]] = row["label"].lower()
    partial = {statement: dose for (statement, dose), labels in drugs.items()
               if 0 < sum(label in dose.lower() for label in labels.values()) < len(labels)}
    assert partial == {}


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


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="HermiT needs Java; .ci/run installs it")
def test_an_inconsistent_ontology_leaves_no_copy_in_the_temporary_folder(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """owlready2 removes the file it hands HermiT only when HermiT succeeds."""
    from iimkg.graph.reason import reason

    broken = tmp_path / "broken.ttl"
    broken.write_text("""
        @prefix owl: <http://www.w3.org/2002/07/owl#> .
        @prefix ex: <http://example.org/> .
        ex:o a owl:Ontology .
        ex:A a owl:Class ; owl:disjointWith ex:B . ex:B a owl:Class .
        ex:x a owl:NamedIndividual , ex:A , ex:B .
    """)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    assert not reason(broken).consistent
    assert not list(scratch.iterdir())


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

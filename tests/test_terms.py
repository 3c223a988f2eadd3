"""A parameter accepts what an informatician types: our IDs, external codes, labels in English, Spanish, Catalan."""

from __future__ import annotations

import pytest

from iimkg.core.errors import AmbiguousTermError, BroaderCodeError, UnknownTermError
from iimkg.queries.run import query, term_index

from conftest import IIM

DISEASE = IIM + "Disease"
DRUG = IIM + "Drug"
DERMATOMYOSITIS = IIM + "IIM_0000002"
PREDNISONE = IIM + "IIM_0000102"
SPORADIC_IBM = IIM + "IIM_0000007"


@pytest.mark.parametrize("typed", [
    "dermatomyositis", "Dermatomyositis", "  DERMATOMYOSITIS ", "dermatomiositis", "Dermatomiositis",
    "iim:IIM_0000002", "IIM_0000002", "https://w3id.org/iimkg/IIM_0000002", "MONDO:0016367", "mondo:0016367",
    "DOID:10223", "MESH:D003882",
])
def test_dermatomyositis_is_found_however_it_is_written(typed: str) -> None:
    assert term_index().resolve(typed, kind=DISEASE) == DERMATOMYOSITIS


@pytest.mark.parametrize("typed", ["prednisone", "Prednisone", "prednisona", "CHEBI:8382", "ATC:H02AB07",
                                   "RXNORM:8640", "DRUGBANK:DB00635"])
def test_prednisone_is_found_by_name_or_code(typed: str) -> None:
    assert term_index().resolve(typed, kind=DRUG) == PREDNISONE


@pytest.mark.parametrize("typed", ["sIBM", "sporadic inclusion body myositis", "MONDO:0007827"])
def test_sporadic_ibm_is_found_by_synonym_and_code(typed: str) -> None:
    assert term_index().resolve(typed, kind=DISEASE) == SPORADIC_IBM


def test_an_unknown_name_lists_the_closest_matches() -> None:
    with pytest.raises(UnknownTermError) as error:
        term_index().resolve("prednisolon", parameter="drug", kind=DRUG)
    assert "prednisolone (iim:IIM_0000103)" in str(error.value)


def test_a_term_of_the_wrong_kind_is_named_as_such() -> None:
    with pytest.raises(UnknownTermError) as error:
        term_index().resolve("hypertension", parameter="drug", kind=DRUG)
    assert "hypertension (iim:IIM_0000301) is not a drug" in str(error.value)


def test_an_unknown_external_code_is_not_guessed() -> None:
    with pytest.raises(UnknownTermError):
        term_index().resolve("RXNORM:999999999", parameter="drug", kind=DRUG)


def test_a_shared_code_is_ambiguous_and_lists_the_candidates() -> None:
    """The graph maps no code to two terms as the same thing (a close match each, here), so a small graph does."""
    import pyoxigraph as ox

    from iimkg.graph.terms import TermIndex

    store = ox.Store()
    store.load(f"""@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
        @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
        <{IIM}IIM_0000901> rdfs:label "walking"@en ; skos:closeMatch <http://id.nlm.nih.gov/mesh/D015444> .
        <{IIM}IIM_0000902> rdfs:label "running"@en ; skos:closeMatch <http://id.nlm.nih.gov/mesh/D015444> .""",
               format=ox.RdfFormat.TURTLE)
    with pytest.raises(AmbiguousTermError) as error:
        TermIndex.from_store(store).resolve("MESH:D015444", parameter="term")
    assert error.value.candidates == ["running (iim:IIM_0000902)", "walking (iim:IIM_0000901)"]


def test_a_code_broader_than_two_terms_names_both() -> None:
    # MeSH D015444 "Exercise" is a broad match of two of our interventions
    with pytest.raises(BroaderCodeError) as error:
        term_index().resolve("MESH:D015444", parameter="term")
    assert len(error.value.suggestions) >= 2
    assert all("(iim:IIM_" in c for c in error.value.suggestions)


@pytest.mark.parametrize("hostile", [
    'prednisone" } UNION { ?s ?p ?o } #',
    "prednisone> } SELECT * WHERE { ?s ?p ?o",
    "https://w3id.org/iimkg/IIM_0000102> } # ",
    "{ } # \\u0000",
    "x" * 5000,
])
def test_hostile_input_cannot_change_the_query(hostile: str) -> None:
    with pytest.raises(UnknownTermError):
        query("adverse-effects", drug=hostile)


def _mapped_codes(predicate: str) -> dict[str, set[str]]:
    """External code (CURIE) → our terms, for one SKOS mapping predicate, read from the loaded graph."""
    import pyoxigraph as ox

    from iimkg.core.prefixes import compress
    from iimkg.graph.loading import shared_store

    found: dict[str, set[str]] = {}
    for quad in shared_store().quads_for_pattern(None, ox.NamedNode(predicate), None):
        curie = compress(quad.object.value)
        if curie and quad.subject.value.startswith(IIM + "IIM_"):
            found.setdefault(curie, set()).add(quad.subject.value)
    return found


def _xref_codes() -> dict[str, set[str]]:
    """CURIE → our terms that carry it as oboInOwl:hasDbXref."""
    import pyoxigraph as ox

    from iimkg.graph.loading import shared_store

    found: dict[str, set[str]] = {}
    xref = ox.NamedNode("http://www.geneontology.org/formats/oboInOwl#hasDbXref")
    for quad in shared_store().quads_for_pattern(None, xref, None):
        found.setdefault(quad.object.value, set()).add(quad.subject.value)
    return found


def test_a_code_the_graph_maps_only_by_close_match_names_its_term() -> None:
    """A diagnosis coded with a MONDO term that we map only by skos:closeMatch (MONDO:0600023) is a known term."""
    skos = "http://www.w3.org/2004/02/skos/core#"
    exact, close = _mapped_codes(skos + "exactMatch"), _mapped_codes(skos + "closeMatch")
    xrefs = _xref_codes()
    only_close = {code: terms for code, terms in close.items()
                  if code not in exact and len(terms) == 1 and xrefs.get(code, terms) == terms}
    assert "MONDO:0600023" in only_close
    index = term_index()
    for code, (term,) in only_close.items():
        assert index.resolve(code) == term, code


def test_an_exact_match_wins_over_a_close_match_of_the_same_code() -> None:
    skos = "http://www.w3.org/2004/02/skos/core#"
    exact, close = _mapped_codes(skos + "exactMatch"), _mapped_codes(skos + "closeMatch")
    both = {code: exact[code] for code in exact if code in close and len(exact[code]) == 1}
    index = term_index()
    for code, (term,) in both.items():
        assert index.resolve(code) == term, code


def test_a_code_broader_than_its_terms_is_not_read_as_one_and_the_error_names_them() -> None:
    """A code we map only as broader than our term (skos:broadMatch: DOID:633 myositis for idiopathic
    inflammatory myopathy, ATC H02 for glucocorticoid) would make an answer about our term look like one about
    everything the code covers: the question is refused (exit 2 on the CLI), naming the narrower term to ask about.
    A code narrower than our term (skos:narrowMatch: chronic hepatitis B for hepatitis B virus infection) names it,
    since what holds for the term holds for what it covers."""
    skos = "http://www.w3.org/2004/02/skos/core#"
    broad = _mapped_codes(skos + "broadMatch")
    naming = {**_mapped_codes(skos + "exactMatch"), **_mapped_codes(skos + "closeMatch")}
    only_broad = {code: terms for code, terms in broad.items() if code not in naming}
    assert {"DOID:633", "ATC:H02"} <= set(only_broad)
    index = term_index()
    for code, terms in only_broad.items():
        with pytest.raises(BroaderCodeError) as error:
            index.resolve(code)
        assert all(index.display(term) in str(error.value) for term in terms), str(error.value)
        assert isinstance(error.value, UnknownTermError)
    narrow = {code: terms for code, terms in _mapped_codes(skos + "narrowMatch").items()
              if code not in naming and code not in broad and len(terms) == 1}
    assert narrow
    for code, (term,) in narrow.items():
        assert index.resolve(code) == term, code


def test_a_broader_code_is_refused_by_the_cli_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from iimkg.cli.main import main

    assert main(["query", "treatments", "--disease", "DOID:633"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert "'DOID:633' is broader than" in line and "idiopathic inflammatory myopathy (iim:IIM_0000001)" in line

"""The SPARQL 1.1 Service Description of the endpoint (``GET /sparql`` without a query), built as RDF terms."""

from __future__ import annotations

import pyoxigraph as ox

from iimkg.core.vocab import DCTERMS, FORMATS, RDF, RDFS, SD, VOID, XSD
from iimkg.endpoint.dataset import ServedDataset

__all__ = ["service_description"]

RDF_TYPE = ox.NamedNode(RDF + "type")
RDFS_COMMENT = ox.NamedNode(RDFS + "comment")
DCTERMS_SOURCE = ox.NamedNode(DCTERMS + "source")
RESULT_FORMATS = ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
                  "Turtle", "N-Triples", "RDF_XML", "JSON-LD")


def _sd(name: str) -> ox.NamedNode:
    return ox.NamedNode(SD + name)


def service_description(endpoint: str | None, dataset: ServedDataset, *, timeout: float,
                        max_results: int) -> list[ox.Triple]:
    """Triples describing the service at ``endpoint`` (None if the request's URL is not a valid IRI).

    It lists SPARQL 1.1 Query as the only language (no update, no federation), the result formats, the
    default graph as the union of the named graphs, and each named graph with its size.
    """
    service = ox.BlankNode("service")
    triples = [ox.Triple(service, RDF_TYPE, _sd("Service"))]
    if endpoint is not None:
        triples.append(ox.Triple(service, _sd("endpoint"), ox.NamedNode(endpoint)))
    triples.append(ox.Triple(service, _sd("supportedLanguage"), _sd("SPARQL11Query")))
    triples.append(ox.Triple(service, _sd("feature"), _sd("UnionDefaultGraph")))
    triples.extend(ox.Triple(service, _sd("resultFormat"), ox.NamedNode(FORMATS + f)) for f in RESULT_FORMATS)
    triples.append(ox.Triple(service, RDFS_COMMENT, ox.Literal(
        f"Read-only: SPARQL Update, LOAD and SERVICE are refused. Each query may run {timeout:g} s and return "
        f"{max_results} rows. The default graph is the merge of the named graphs. Not medical advice.",
        language="en")))
    described = ox.BlankNode("dataset")
    triples.append(ox.Triple(service, _sd("defaultDataset"), described))
    triples.append(ox.Triple(described, RDF_TYPE, _sd("Dataset")))
    default = ox.BlankNode("default")
    triples.append(ox.Triple(described, _sd("defaultGraph"), default))
    triples.append(ox.Triple(default, RDF_TYPE, _sd("Graph")))
    triples.append(ox.Triple(default, ox.NamedNode(VOID + "triples"), ox.Literal(str(dataset.default_triples),
                   datatype=ox.NamedNode(XSD + "integer"))))
    for position, graph in enumerate(dataset.graphs):
        if graph.name.startswith("_:"):  # a blank-node graph of a TriG file has no name to give
            continue
        named = ox.BlankNode(f"named{position}")
        content = ox.BlankNode(f"graph{position}")
        triples.append(ox.Triple(described, _sd("namedGraph"), named))
        triples.append(ox.Triple(named, RDF_TYPE, _sd("NamedGraph")))
        triples.append(ox.Triple(named, _sd("name"), ox.NamedNode(graph.name)))
        triples.append(ox.Triple(named, _sd("graph"), content))
        triples.append(ox.Triple(content, RDF_TYPE, _sd("Graph")))
        triples.append(ox.Triple(content, DCTERMS_SOURCE, ox.Literal(graph.source)))
        triples.append(ox.Triple(content, ox.NamedNode(VOID + "triples"), ox.Literal(str(graph.triples),
                       datatype=ox.NamedNode(XSD + "integer"))))
    return triples

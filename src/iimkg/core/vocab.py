"""Every namespace IRI the package names, written once.

Plain strings, so that code can join them with a local name (``SKOS + "exactMatch"``) and hand them to pyoxigraph,
rdflib or SPARQL text alike. A term used in more than one module is named here too; a term one module needs is
written there as ``NAMESPACE + "localName"``.
"""

from __future__ import annotations

__all__ = [
    "DCTERMS",
    "FORMATS",
    "IIM",
    "IIMFHIR",
    "IIMPLAN",
    "IIMQC",
    "OBO",
    "OBOINOWL",
    "ONTOLOGY_GRAPH_URN",
    "ONTOLOGY_IRI",
    "OWL",
    "PLAN_CONTEXT_IRI",
    "PROV",
    "RDF",
    "RDFS",
    "RDFS_COMMENT",
    "RDFS_LABEL",
    "RDFS_SUBCLASS_OF",
    "RDF_TYPE",
    "SD",
    "SEMAPV",
    "SH",
    "SKOS",
    "STANDARD_PREFIXES",
    "STATEMENT_PREFIX",
    "VOID",
    "XSD",
]

# W3C and other standard vocabularies
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
SH = "http://www.w3.org/ns/shacl#"
PROV = "http://www.w3.org/ns/prov#"
SD = "http://www.w3.org/ns/sparql-service-description#"
FORMATS = "http://www.w3.org/ns/formats/"
VOID = "http://rdfs.org/ns/void#"
DCTERMS = "http://purl.org/dc/terms/"
OBO = "http://purl.obolibrary.org/obo/"
OBOINOWL = "http://www.geneontology.org/formats/oboInOwl#"
SEMAPV = "https://w3id.org/semapv/vocab/"

# iimkg's own
IIM = "https://w3id.org/iimkg/"
IIMQC = IIM + "shapes/qc/"          # the ontology quality gate's shapes (shapes/ontology-qc.ttl)
IIMPLAN = IIM + "shapes/plan/"      # the treatment-plan shapes and their annotations (shapes/treatment-plan.ttl)
IIMFHIR = IIM + "fhir/"             # rules of the FHIR intake (what the converter could not read)
ONTOLOGY_IRI = IIM + "iim.owl"
PLAN_CONTEXT_IRI = IIM + "plan-context.jsonld"
STATEMENT_PREFIX = IIM + "statement-"
ONTOLOGY_GRAPH_URN = "urn:iimkg:graph:ontology"  # the named graph the ontology sits in beside users' plan files

# Terms named by several modules
RDF_TYPE = RDF + "type"
RDFS_LABEL = RDFS + "label"
RDFS_COMMENT = RDFS + "comment"
RDFS_SUBCLASS_OF = RDFS + "subClassOf"

STANDARD_PREFIXES: dict[str, str] = {
    "rdf": RDF, "rdfs": RDFS, "owl": OWL, "xsd": XSD, "skos": SKOS, "sh": SH, "prov": PROV, "dcterms": DCTERMS,
    "obo": OBO, "oboInOwl": OBOINOWL, "iim": IIM, "iimqc": IIMQC, "iimplan": IIMPLAN,
}

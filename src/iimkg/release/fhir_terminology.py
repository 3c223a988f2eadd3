"""The ontology's terms and cross-references as FHIR R4 terminology: a ``CodeSystem`` and ``ConceptMap``s.

A FHIR terminology server loads these; the graph's own SSSOM file (``iim.sssom.tsv``) is read by mapping tools, these
by the FHIR world. Both come from the same rows of ``ontology/mappings.sssom.tsv``.

- ``fhir/CodeSystem-iim.json``: our classes and controlled values (and any other term a mapping starts from), code =
  the local part of the IRI (``IIM_0000102``), display = the English label; deprecated terms are ``inactive``.
  Its canonical URL is the ontology IRI, as HL7's terminology names OBO ontologies (``…/mondo.owl``).
- ``fhir/ConceptMap-iim-to-<prefix>.json``: one per target code system, the system URI HL7 uses for it where
  ``core/code-systems.tsv`` (the table the FHIR intake reads codes with) names one, else the prefix's IRI base.
  The equivalence follows the SKOS predicate as sssom-py's FHIR export has it: exactMatch → equivalent,
  closeMatch → inexact, broadMatch → wider, narrowMatch → narrower, relatedMatch → relatedto. FHIR R4 asks for a
  comment on inexact and narrower maps; it says which predicate and curation the row has.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from iimkg.core.code_systems import hl7_system_uris
from iimkg.core.prefixes import prefixes
from iimkg.core.vocab import IIM, IIMFHIR, OBO, ONTOLOGY_IRI
from iimkg.graph.mappings import Mapping
from iimkg.release.graph import ReleaseError, Term

__all__ = ["CODE_SYSTEM_FILE", "EQUIVALENCE", "code_system", "concept_maps", "fhir_terminology_files",
           "target_systems"]

CODE_SYSTEM_FILE = "fhir/CodeSystem-iim.json"
EQUIVALENCE = {
    "skos:exactMatch": "equivalent",
    "skos:closeMatch": "inexact",
    "skos:broadMatch": "wider",
    "skos:narrowMatch": "narrower",
    "skos:relatedMatch": "relatedto",
}
# The kinds of term a FHIR coding can name (properties, statements and sources are the graph's own structure).
CODED_KINDS = frozenset({"class", "controlled value", "individual"})
INACTIVE = "http://hl7.org/fhir/concept-properties#inactive"


def target_systems() -> dict[str, str]:
    """The FHIR system URI of each CURIE prefix: HL7's where ``core/code-systems.tsv`` names one, else the IRI base."""
    return {prefix: known.uri_prefix for prefix, known in prefixes().items()} | hl7_system_uris()


def _local(iri: str) -> str:
    return iri[len(IIM):] if iri.startswith(IIM) else iri


def _code(curie: str) -> str:
    """The code of a CURIE in its FHIR code system: OBO ontologies keep the prefix (``HP:0001250``), as HL7's
    terminology writes them; other systems use the local identifier (``M33.2``, ``D003882``)."""
    prefix, _, local = curie.partition(":")
    known = prefixes().get(prefix)
    return curie if known is not None and known.uri_prefix.startswith(OBO) else local


def _name(text: str) -> str:
    """A computer-friendly FHIR ``name`` (FHIR's inv-0: a capital letter, then letters, digits and ``_``)."""
    words = re.findall(r"[A-Za-z0-9]+", text)
    return "".join(word[:1].upper() + word[1:] for word in words)


def code_system(terms: Sequence[Term], rows: Iterable[Mapping], *, version: str, title: str) -> dict[str, Any]:
    """The ``CodeSystem`` of our terms a coding can name, plus every term a mapping starts from."""
    mapped = {row.subject_iri for row in rows}
    coded = [term for term in terms if term.kind in CODED_KINDS or term.iri in mapped]
    concepts = []
    for term in coded:
        concept: dict[str, Any] = {"code": term.local, "display": term.label or term.local}
        if term.deprecated:
            concept["property"] = [{"code": "inactive", "valueBoolean": True}]
        concepts.append(concept)
    return {
        "resourceType": "CodeSystem",
        "id": "iim",
        "url": ONTOLOGY_IRI,
        "version": version,
        "name": _name("IIM treatment knowledge graph"),
        "title": title,
        "status": "active",
        "date": version,
        "description": f"The classes and controlled values of {title}, release {version}.",
        "caseSensitive": True,
        "content": "complete",
        "count": len(concepts),
        "property": [{"code": "inactive", "uri": INACTIVE, "type": "boolean",
                      "description": "The term is deprecated (owl:deprecated); see its replacement in the ontology."}],
        "concept": concepts,
    }


def concept_maps(rows: Sequence[Mapping], *, version: str, title: str) -> dict[str, dict[str, Any]]:
    """One ``ConceptMap`` per target CURIE prefix, by prefix: from our CodeSystem to that system.

    :raises ReleaseError: if a row's predicate has no FHIR equivalence.
    """
    systems = target_systems()
    by_prefix: dict[str, list[Mapping]] = {}
    for row in rows:
        by_prefix.setdefault(row.object_id.split(":", 1)[0], []).append(row)
    maps = {}
    for prefix, own in sorted(by_prefix.items(), key=lambda item: item[0].lower()):
        elements: dict[str, dict[str, Any]] = {}
        for row in sorted(own, key=lambda r: (r.subject_id, r.object_id)):
            if row.predicate_id not in EQUIVALENCE:
                raise ReleaseError(f"the mapping {row.subject_id} → {row.object_id} uses {row.predicate_id}, "
                                 f"which has no FHIR equivalence (use one of {', '.join(EQUIVALENCE)})")
            source = _local(row.subject_iri)
            element = elements.setdefault(source, {"code": source, "display": row.subject_label, "target": []})
            target: dict[str, Any] = {"code": _code(row.object_id), "equivalence": EQUIVALENCE[row.predicate_id]}
            if row.object_label:
                target["display"] = row.object_label
            if target["equivalence"] in {"inexact", "narrower"}:
                target["comment"] = f"{row.predicate_id} ({row.mapping_justification})"
            element["target"].append(target)
        slug = prefix.lower()
        name = prefixes()[prefix].name if prefix in prefixes() else prefix
        maps[prefix] = {
            "resourceType": "ConceptMap",
            "id": f"iim-to-{slug}",
            "url": f"{IIMFHIR}ConceptMap/iim-to-{slug}",
            "version": version,
            "name": _name(f"iim to {prefix}"),
            "title": f"{title}: cross-references to {name}",
            "status": "active",
            "date": version,
            "description": f"The curated cross-references of {title} to {name} (ontology/mappings.sssom.tsv).",
            "sourceUri": ONTOLOGY_IRI,
            "targetUri": systems[prefix],
            "group": [{"source": ONTOLOGY_IRI, "sourceVersion": version, "target": systems[prefix],
                       "element": list(elements.values())}],
        }
    return maps


def _json(resource: dict[str, Any]) -> bytes:
    return (json.dumps(resource, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def fhir_terminology_files(terms: Sequence[Term], rows: Sequence[Mapping], *, version: str,
                           title: str) -> dict[str, bytes]:
    """The release's FHIR files by path: the CodeSystem, then a ConceptMap per target system."""
    files = {CODE_SYSTEM_FILE: _json(code_system(terms, rows, version=version, title=title))}
    for resource in concept_maps(rows, version=version, title=title).values():
        files[f"fhir/ConceptMap-{resource['id']}.json"] = _json(resource)
    return files

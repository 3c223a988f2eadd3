"""Every cross-reference of the ontology as one SSSOM mapping set (``iim.sssom.tsv``), the form mapping tools read."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pyoxigraph as ox

from iimkg.core.prefixes import compress, expand, prefixes
from iimkg.release.graph import IIM, OBOINOWL, SKOS, ReleaseError, ReleaseGraph

__all__ = ["Mapping", "comment_labels", "mapping_set_tsv", "mappings"]

MAPPING_SET_ID = IIM + "iim.sssom.tsv"
JUSTIFICATION = "semapv:ManualMappingCuration"
SKOS_PREDICATES = ("exactMatch", "closeMatch", "broadMatch", "narrowMatch", "relatedMatch")
COLUMNS = ("subject_id", "subject_label", "predicate_id", "object_id", "object_label", "mapping_justification")
# The prefixes SSSOM defines itself; a curie_map must not list them (sssom-py warns), the rest it must list.
_BUILT_IN = {"sssom", "owl", "rdf", "rdfs", "skos", "semapv"}
_IRI_COMMENT = re.compile(r"<(https?://[^>\s]+)>\s*[,;.]?\s*#\s*(\S.*?)\s*$")


@dataclass(frozen=True, order=True)
class Mapping:
    subject_id: str
    predicate_id: str
    object_id: str
    subject_label: str
    object_label: str


def comment_labels(turtle_text: str) -> dict[str, str]:
    """The labels written after external IRIs in the source Turtle (``<…MONDO_0016367> ,  # dermatomyositis``).

    The style guide puts the label of every opaque ID in a comment beside it; the cross-references' labels
    are nowhere else in the sources, so this is the only place ``object_label`` can come from. A label that
    differs between two places is left out rather than guessed.
    """
    found: dict[str, set[str]] = {}
    for line in turtle_text.splitlines():
        match = _IRI_COMMENT.search(line)
        if match:
            found.setdefault(match.group(1), set()).add(match.group(2))
    return {iri: next(iter(labels)) for iri, labels in found.items() if len(labels) == 1}


def _curie(iri: str, where: str) -> str:
    curie = compress(iri)
    if curie is None or curie.endswith(":"):
        raise ReleaseError(f"the cross-reference {iri} of {where} has no prefix in ontology/prefixes.tsv; "
                           "add its prefix there so that the mapping set can name it")
    return curie


def mappings(graph: ReleaseGraph, labels: dict[str, str]) -> list[Mapping]:
    """One mapping per (term, external entity): the SKOS mapping where there is one, else the database
    cross-reference (``oboInOwl:hasDbXref``) with that predicate.

    :raises ReleaseError: if a cross-reference has a prefix that ``prefixes.tsv`` does not declare.
    """
    found: dict[tuple[str, str], Mapping] = {}
    xrefs: list[tuple[str, str]] = []
    for t in graph.triples:
        if not (isinstance(t.subject, ox.NamedNode) and t.subject.value.startswith(IIM)):
            continue
        predicate = t.predicate.value
        subject = t.subject.value
        if predicate.startswith(SKOS) and predicate[len(SKOS):] in SKOS_PREDICATES and isinstance(t.object,
                                                                                                  ox.NamedNode):
            obj = _curie(t.object.value, subject)
            key = (subject, obj)
            if key in found:
                raise ReleaseError(f"{subject} is mapped to {obj} with two SKOS predicates; keep the one that holds")
            found[key] = Mapping(_curie(subject, subject), "skos:" + predicate[len(SKOS):], obj,
                                 graph.label(subject), labels.get(t.object.value, ""))
        elif predicate == OBOINOWL + "hasDbXref" and isinstance(t.object, ox.Literal):
            xrefs.append((subject, t.object.value))
    for subject, xref in xrefs:
        iri = expand(xref)
        if iri is None or xref.split(":", 1)[0] not in prefixes():
            raise ReleaseError(f"the cross-reference {xref!r} of {subject} has no prefix in ontology/prefixes.tsv")
        obj = _curie(iri, subject)
        found.setdefault((subject, obj), Mapping(_curie(subject, subject), "oboInOwl:hasDbXref", obj,
                                                 graph.label(subject), labels.get(iri, "")))
    return sorted(found.values())


def _yaml_value(value: str) -> str:
    return value if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 ._/:()-]*", value) and ": " not in value \
        else json.dumps(value, ensure_ascii=False)


def mapping_set_tsv(rows: list[Mapping], *, version: str, license_iri: str, title: str) -> str:
    """The SSSOM/TSV text: a ``#`` YAML block with the set's metadata, then one row per mapping.

    :raises ReleaseError: if a label holds a tab or a line break, which TSV cannot carry.
    """
    used = {"semapv", "skos"} | {part.split(":", 1)[0] for row in rows
                                 for part in (row.subject_id, row.predicate_id, row.object_id)}
    curie_map = {p: prefixes()[p].uri_prefix for p in sorted(used, key=str.lower) if p not in _BUILT_IN}
    meta = [
        "curie_map:",
        *(f"  {prefix}: {_yaml_value(uri)}" for prefix, uri in curie_map.items()),
        f"mapping_set_id: {MAPPING_SET_ID}",
        f"mapping_set_version: {json.dumps(version)}",  # quoted: a version is a string, not a YAML date
        f"mapping_set_title: {_yaml_value(title + ': cross-references')}",
        f"mapping_set_description: {_yaml_value('Every cross-reference of the IIM treatment ontology to terms of other ontologies and vocabularies, each curated by hand.')}",  # noqa: E501
        f"license: {license_iri}",
        f"mapping_date: {_yaml_value(version)}",
        "sssom_version: \"1.0\"",
    ]
    lines = ["#" + line for line in meta]
    lines.append("\t".join(COLUMNS))
    for row in rows:
        values = (row.subject_id, row.subject_label, row.predicate_id, row.object_id, row.object_label, JUSTIFICATION)
        for value in values:
            if "\t" in value or "\n" in value or "\r" in value:
                raise ReleaseError(f"the mapping {row.subject_id} → {row.object_id} has a tab or line break in "
                                   f"{value!r}; TSV cannot carry it")
        lines.append("\t".join(values))
    return "\n".join(lines) + "\n"

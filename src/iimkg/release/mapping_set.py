"""Every cross-reference of the ontology as one SSSOM mapping set (``iim.sssom.tsv``), the form mapping tools read.

The rows are those of ``ontology/mappings.sssom.tsv``, where the cross-references are written once (the graph's
``skos:*Match`` and ``oboInOwl:hasDbXref`` triples are generated from the same rows); the release adds the set's
version, date and licence and keeps the columns that consumers of earlier releases read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from iimkg.core.errors import InputError
from iimkg.core.prefixes import prefixes
from iimkg.core.vocab import IIM
from iimkg.graph.mappings import Mapping, mappings_beside, read_mappings
from iimkg.release.graph import ReleaseError

__all__ = ["Mapping", "external_labels", "mapping_set_tsv", "mappings"]

MAPPING_SET_ID = IIM + "iim.sssom.tsv"
COLUMNS = ("subject_id", "subject_label", "predicate_id", "object_id", "object_label", "mapping_justification")
# The prefixes SSSOM defines itself; a curie_map must not list them (sssom-py warns), the rest it must list.
_BUILT_IN = {"sssom", "owl", "rdf", "rdfs", "skos", "semapv"}


def mappings(ontology: Path) -> list[Mapping]:
    """The curated mappings of an ontology file (from the mapping set beside it), in the release's order.

    :raises ReleaseError: if the mapping set does not read (an unknown prefix, a pair mapped twice …).
    """
    try:
        return sorted(read_mappings(mappings_beside(ontology)))
    except (InputError, OSError) as error:
        raise ReleaseError(f"the mapping set of {ontology.name} can't be released: {error}") from None


def external_labels(rows: list[Mapping]) -> dict[str, str]:
    """The label of each mapped external entity by IRI, for the documentation page."""
    return {row.object_iri: row.object_label for row in rows if row.object_label}


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
        values = (row.subject_id, row.subject_label, row.predicate_id, row.object_id, row.object_label,
                  row.mapping_justification)
        for value in values:
            if "\t" in value or "\n" in value or "\r" in value:
                raise ReleaseError(f"the mapping {row.subject_id} → {row.object_id} has a tab or line break in "
                                   f"{value!r}; TSV cannot carry it")
        lines.append("\t".join(values))
    return "\n".join(lines) + "\n"

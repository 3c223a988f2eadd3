"""FHIR code systems as this package knows them: each system URI (or OID) with the CURIE prefix of
``ontology/prefixes.tsv`` it stands for (``code-systems.tsv`` beside this module).

One table, two readers: the FHIR intake (:mod:`iimkg.plans.codes`) maps codings to CURIEs with it, and the release
(:mod:`iimkg.release.fhir_terminology`) names the target system of each ConceptMap with it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["CodeSystem", "code_systems", "hl7_system_uris"]

_TABLE = Path(__file__).resolve().parent / "code-systems.tsv"


@dataclass(frozen=True)
class CodeSystem:
    """A FHIR code system: its CURIE prefix, and whether its display texts may be matched against names.

    ``display`` is ``match``, or ``code`` for a classification whose codes say everything (ICD-10): a code the
    graph does not carry is not a term of the graph, whatever its display says ("Myositis, unspecified", M60.9, is
    not an idiopathic inflammatory myopathy).
    """

    system: str
    prefix: str
    display: str
    note: str


@cache
def code_systems() -> dict[str, CodeSystem]:
    """FHIR code system URIs (and OIDs) by URI, in the table's order."""
    with _TABLE.open(encoding="utf-8", newline="") as handle:
        return {row["system"]: CodeSystem(row["system"], row["prefix"], row["display"], row["note"])
                for row in csv.DictReader(handle, delimiter="\t")}


def hl7_system_uris() -> dict[str, str]:
    """The system URI HL7's terminology uses for each CURIE prefix: the table's first row of the prefix that is not
    an OID."""
    found: dict[str, str] = {}
    for system in code_systems().values():
        if not system.system.startswith("urn:oid:"):
            found.setdefault(system.prefix, system.system)
    return found

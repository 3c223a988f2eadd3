"""The one prefix map (``ontology/prefixes.tsv``): CURIE ↔ IRI and the shape of each prefix's IDs."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache

import curies

from iimkg.resources import prefixes_file

__all__ = ["Prefix", "converter", "is_well_formed", "prefixes"]


@dataclass(frozen=True)
class Prefix:
    prefix: str
    uri_prefix: str
    pattern: re.Pattern[str]
    name: str


@cache
def prefixes() -> dict[str, Prefix]:
    """Prefixes by name, as ``prefixes.tsv`` lists them."""
    with prefixes_file().open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        return {
            row["prefix"]: Prefix(row["prefix"], row["uri_prefix"], re.compile(row["local_id_pattern"]), row["name"])
            for row in rows
        }


@cache
def converter() -> curies.Converter:
    """A ``curies`` converter over the prefix map, for expanding and compressing cross-references."""
    return curies.Converter.from_prefix_map({p.prefix: p.uri_prefix for p in prefixes().values()})


def is_well_formed(curie: str) -> bool:
    """Whether a CURIE has a known prefix and a local ID of that prefix's shape."""
    prefix, sep, local = curie.partition(":")
    known = prefixes().get(prefix)
    return bool(sep) and known is not None and known.pattern.fullmatch(local) is not None

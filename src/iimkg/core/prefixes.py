"""The one prefix map (``ontology/prefixes.tsv``): CURIE ↔ IRI and the shape of each prefix's IDs."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from iimkg.core.resources import prefixes_file

if TYPE_CHECKING:
    import curies

__all__ = ["Prefix", "compress", "converter", "expand", "is_well_formed", "prefixes"]


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
    """A ``curies`` converter over the same prefix map, for callers that want its full API (SSSOM, validation)."""
    import curies

    return curies.Converter.from_prefix_map({p.prefix: p.uri_prefix for p in prefixes().values()})


@cache
def _by_length() -> tuple[Prefix, ...]:
    return tuple(sorted(prefixes().values(), key=lambda p: len(p.uri_prefix), reverse=True))


def compress(iri: str) -> str | None:
    """The CURIE of an IRI under the longest matching URI prefix, or None.

    The same answer as ``converter().compress`` (a test checks it on every mapping), without importing
    curies and pydantic, which cost ~120 ms at start-up: the CLI has 300 ms for a whole query.
    """
    for prefix in _by_length():
        if iri.startswith(prefix.uri_prefix):
            return f"{prefix.prefix}:{iri[len(prefix.uri_prefix):]}"
    return None


def expand(curie: str) -> str | None:
    """The IRI of a CURIE with a known prefix, or None."""
    prefix, sep, local = curie.partition(":")
    known = prefixes().get(prefix)
    return known.uri_prefix + local if sep and known else None


def is_well_formed(curie: str) -> bool:
    """Whether a CURIE has a known prefix and a local ID of that prefix's shape."""
    prefix, sep, local = curie.partition(":")
    known = prefixes().get(prefix)
    return bool(sep) and known is not None and known.pattern.fullmatch(local) is not None

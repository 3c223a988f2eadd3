"""The one prefix map (``ontology/prefixes.tsv`` plus the W3C namespaces): CURIE ↔ IRI, compaction for output, and the
shape of each prefix's IDs."""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from iimkg.core.resources import prefixes_file
from iimkg.core.vocab import OBO, OWL, PROV, RDF, RDFS, XSD

if TYPE_CHECKING:
    import curies

__all__ = ["Prefix", "by_length", "compact", "compress", "converter", "expand", "is_well_formed", "prefix_map",
           "prefixes"]

_PN_LOCAL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_-])?$")


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


@cache
def prefix_map() -> dict[str, str]:
    """Prefix → namespace for output (release files, query results): ``prefixes.tsv`` plus the W3C and OBO
    namespaces it leaves out, sorted by prefix."""
    found = {"rdf": RDF, "rdfs": RDFS, "owl": OWL, "xsd": XSD, "obo": OBO, "prov": PROV}
    for prefix in prefixes().values():
        found.setdefault(prefix.prefix, prefix.uri_prefix)
    return dict(sorted(found.items(), key=lambda kv: kv[0].lower()))


@cache
def _map_by_length() -> tuple[tuple[str, str], ...]:
    return by_length(prefix_map())


def by_length(namespaces: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """``namespaces`` (prefix → namespace) longest namespace first, as :func:`compact` takes them."""
    return tuple(sorted(namespaces.items(), key=lambda kv: (-len(kv[1]), kv[0])))


def compact(iri: str, *, strict: bool, namespaces: Sequence[tuple[str, str]] | None = None) -> str | None:
    """The prefixed name of ``iri`` under the longest namespace of :func:`prefix_map`, or None.

    ``strict``: only a valid Turtle local name (for writing Turtle); else any local part that is not a path.
    ``namespaces``: other (prefix, namespace) pairs, longest first (:func:`by_length`), for a document that declares
    only a few prefixes.
    """
    for prefix, namespace in _map_by_length() if namespaces is None else namespaces:
        if iri.startswith(namespace) and len(iri) > len(namespace):
            local = iri[len(namespace):]
            if (_PN_LOCAL.match(local) if strict else not local.startswith("//")):
                return f"{prefix}:{local}"
    return None

"""Where the shipped ontology, shapes and queries live, installed or in a source checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path

__all__ = ["data_dir", "ontology_file", "prefixes_file", "queries_dir", "shapes_dir", "sparql_dir"]

_PACKAGE = Path(__file__).resolve().parents[1]  # src/iimkg (or site-packages/iimkg)


@cache
def data_dir() -> Path:
    """The folder that holds ``ontology/``, ``shapes/`` and ``queries/``.

    A wheel carries them inside the package (``iimkg/data``); an editable install or a checkout
    reads the top-level folders, which stay the single source of truth.
    """
    packaged = _PACKAGE / "data"
    if (packaged / "ontology" / "iim.ttl").is_file():
        return packaged
    checkout = _PACKAGE.parents[1]
    if (checkout / "ontology" / "iim.ttl").is_file():
        return checkout
    raise FileNotFoundError(f"iimkg data files are missing: neither {packaged} nor {checkout} has ontology/iim.ttl")


def ontology_file() -> Path:
    return data_dir() / "ontology" / "iim.ttl"


def prefixes_file() -> Path:
    return data_dir() / "ontology" / "prefixes.tsv"


def shapes_dir() -> Path:
    return data_dir() / "shapes"


def queries_dir() -> Path:
    return data_dir() / "queries"


def sparql_dir() -> Path:
    """Internal queries (statistics, label index): data, not competency questions."""
    return _PACKAGE / "sparql"

"""The package's internal SPARQL (``src/iimkg/sparql/*.rq``): label index, term kinds, statistics, code mapping.

These are data, not competency questions; one loader reads them so each file is read once per process.
"""

from __future__ import annotations

from functools import cache

import pyoxigraph as ox

from iimkg.core.resources import sparql_dir

__all__ = ["internal_query", "select_internal"]


@cache
def internal_query(name: str) -> str:
    """The text of ``sparql/NAME`` (for example ``term-index.rq``)."""
    return (sparql_dir() / name).read_text(encoding="utf-8")


def select_internal(store: ox.Store, name: str) -> ox.QuerySolutions:
    """Run the internal SELECT query ``name`` over ``store``."""
    result = store.query(internal_query(name))
    if not isinstance(result, ox.QuerySolutions):
        raise TypeError(f"{name} must be a SELECT query")
    return result

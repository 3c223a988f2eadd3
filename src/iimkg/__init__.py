"""iimkg: an OWL ontology and knowledge graph of how idiopathic inflammatory myopathies are treated.

Not medical advice. ``load()`` gives the graph as rdflib; ``query()`` answers the named competency
questions; both read the files shipped inside this package. ``query(..., endpoint=URL)`` asks the same questions of
a SPARQL 1.1 endpoint that holds the iimkg release (names are still resolved here; the rows are the same).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iimkg.core.errors import IimkgError

if TYPE_CHECKING:
    from iimkg.graph.loading import load
    from iimkg.queries.run import query

__all__ = ["IimkgError", "load", "query"]


def __getattr__(name: str) -> Any:
    # Keep `import iimkg` cheap: rdflib and the query machinery load on first use.
    if name == "load":
        from iimkg.graph.loading import load

        return load
    if name == "query":
        from iimkg.queries.run import query

        return query
    raise AttributeError(f"module 'iimkg' has no attribute {name!r}")

"""Named competency queries: their headers and parameters, the engines (local, or a remote SPARQL endpoint) that run
them, and the formats their results are written in."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iimkg.queries.named import NamedQuery, Parameter, list_queries, named_query
    from iimkg.queries.run import Engine, QueryResult, Row, query

__all__ = ["Engine", "NamedQuery", "Parameter", "QueryResult", "Row", "list_queries", "named_query", "query"]

# Where each name lives: importing the package (as `iimkg.queries.output` does) loads no engine until one is used,
# so the CLI builds its parser, with choices from these modules' enums, without loading pyoxigraph.
_HOME = {"NamedQuery": "named", "Parameter": "named", "list_queries": "named", "named_query": "named",
         "Engine": "run", "QueryResult": "run", "Row": "run", "query": "run"}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(f"iimkg.queries.{_HOME[name]}"), name)
    raise AttributeError(f"module 'iimkg.queries' has no attribute {name!r}")

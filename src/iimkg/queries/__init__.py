"""Named competency queries: their headers and parameters, the engines that run them, and tables of their rows."""

from iimkg.queries.named import NamedQuery, Parameter, list_queries, named_query
from iimkg.queries.run import Engine, QueryResult, Row, query

__all__ = ["Engine", "NamedQuery", "Parameter", "QueryResult", "Row", "list_queries", "named_query", "query"]

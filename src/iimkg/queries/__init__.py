"""Named competency queries: their headers and parameters, the engines that run them, and tables of their rows."""

from iimkg.queries.run import Engine, NamedQuery, QueryResult, Row, list_queries, named_query, query

__all__ = ["Engine", "NamedQuery", "QueryResult", "Row", "list_queries", "named_query", "query"]

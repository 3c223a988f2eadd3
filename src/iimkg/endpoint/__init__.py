"""The SPARQL endpoint behind ``iimkg serve``: the SPARQL 1.1 Protocol, the named queries over HTTP, one HTML page.

Modules, one job each: :mod:`~iimkg.endpoint.dataset` (what is served), :mod:`~iimkg.endpoint.protocol` (reading
protocol requests, content negotiation), :mod:`~iimkg.core.sparql_guard` (what a query may not do; in core, as the
CLI and users' shapes use it too), :mod:`~iimkg.endpoint.jobs` (messages to the query workers),
:mod:`~iimkg.endpoint.worker` (a query worker process), :mod:`~iimkg.endpoint.pool` (the workers, their timeouts and
replacements), :mod:`~iimkg.endpoint.app` (the HTTP routes), :mod:`~iimkg.endpoint.pages` (the HTML page),
:mod:`~iimkg.endpoint.openapi` (the OpenAPI document), :mod:`~iimkg.endpoint.description` (the SPARQL service
description). Nothing here is imported by ``iimkg`` itself: starlette and uvicorn load only when serving.
"""

from __future__ import annotations

__all__: list[str] = []

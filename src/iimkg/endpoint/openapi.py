"""The OpenAPI 3.1 document at ``/openapi.json``: the named queries as REST operations, and the SPARQL endpoint.

Each named query gets its own path with its own parameters, read from the query file's header, so that a
generated client (or grlc-style tooling) knows that ``/queries/adverse-effects`` needs ``drug``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from iimkg.endpoint.protocol import (
    ASK_FORMATS,
    CHARSET_FORMATS,
    FORMAT_NAMES,
    GRAPH_FORMATS,
    GRAPHS_FOR_RESULT_TYPES,
    NAMED_FORMATS,
    SELECT_FORMATS,
    ResultFormat,
)
from iimkg.queries.named import NamedQuery

__all__ = ["openapi_document"]

_RESULTS_JSON = "application/sparql-results+json"
_ERROR = {"$ref": "#/components/responses/Error"}


def _term_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "value"],
        "properties": {
            "type": {"type": "string", "enum": ["uri", "literal", "bnode", "triple"]},
            "value": {"type": "string"},
            "xml:lang": {"type": "string"},
            "datatype": {"type": "string"},
        },
    }


def _components() -> dict[str, Any]:
    return {
        "schemas": {
            "Term": _term_schema(),
            "SparqlResults": {
                "description": "W3C SPARQL 1.1 Query Results JSON Format.",
                "type": "object",
                "required": ["head"],
                "properties": {
                    "head": {"type": "object", "properties": {"vars": {"type": "array", "items": {"type": "string"}}}},
                    "results": {"type": "object", "properties": {"bindings": {"type": "array", "items": {
                        "type": "object", "additionalProperties": {"$ref": "#/components/schemas/Term"}}}}},
                    "boolean": {"type": "boolean"},
                },
            },
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {"type": "string", "description": "What is wrong and what to send instead."},
                    "suggestions": {"type": "array", "items": {"type": "string"},
                                    "description": "The closest terms, for a value that names none."},
                    "candidates": {"type": "array", "items": {"type": "string"},
                                   "description": "The terms a value names, when it names several."},
                },
            },
            "NamedQuery": {
                "type": "object",
                "required": ["name", "question", "parameters", "url"],
                "properties": {
                    "name": {"type": "string"},
                    "question": {"type": "string"},
                    "description": {"type": "string"},
                    "parameters": {"type": "array", "items": {"$ref": "#/components/schemas/Parameter"}},
                    "returns": {"type": "string"},
                    "answers": {"type": "string"},
                    "url": {"type": "string"},
                    "example": {"type": "string"},
                    "sparql": {"type": "string"},
                },
            },
            "Parameter": {
                "type": "object",
                "required": ["name", "description", "required"],
                "properties": {
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "required": {"type": "boolean"},
                    "kind": {"type": ["string", "null"], "description": "IRI of the class a value must name."},
                    "example": {"type": ["string", "null"], "description": "The first of examples."},
                    "examples": {"type": "array", "items": {"type": "string"},
                                 "description": "Values the query's header gives as examples."},
                },
            },
        },
        "responses": {
            "Error": {
                "description": "The request could not be answered; the body says why.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
    }


def _named_operation(named: NamedQuery) -> dict[str, Any]:
    parameters = []
    for p in named.parameters:
        parameter: dict[str, Any] = {
            "name": p.name, "in": "query", "required": not p.optional, "description": p.description,
            "schema": {"type": "string"},
        }
        if p.examples:
            # the header's example values (a label, a CURIE, another language's label), keyed as OpenAPI asks
            parameter["examples"] = {_example_key(value): {"value": value} for value in p.examples}
        parameters.append(parameter)
    return {
        "get": {
            "operationId": named.name.replace("-", "_"),
            "summary": named.question,
            "description": (named.description + "\n\n" if named.description else "")
            + (f"Columns: {named.returns}. " if named.returns else "")
            + (f"Answers seed statements {named.answers}." if named.answers else ""),
            "tags": ["named queries"],
            "parameters": parameters,
            "responses": {
                "200": {
                    "description": "The rows, as `iimkg query` gives them (a `…Label` column after each IRI column).",
                    "content": _content(NAMED_FORMATS),
                },
                "400": _ERROR, "406": _ERROR, "500": _ERROR, "503": _ERROR,
            },
        },
    }


def _content(offers: Sequence[tuple[str, ResultFormat]]) -> dict[str, Any]:
    """An OpenAPI ``content`` map: every media type a client may ask for (``Accept``), and what it is then sent.

    ``application/json`` means SPARQL results JSON for a SELECT or ASK and JSON-LD for a CONSTRUCT; the
    description of each says which format answers and its exact ``Content-Type``.
    """
    content: dict[str, Any] = {}
    for media, fmt in offers:
        sent = fmt.value + ("; charset=utf-8" if fmt in CHARSET_FORMATS else "")
        entry = content.setdefault(media, {"schema": {"type": "string"}, "x-content-type": []})
        if fmt is ResultFormat.JSON:
            entry["schema"] = {"$ref": "#/components/schemas/SparqlResults"}
        if sent not in entry["x-content-type"]:
            entry["x-content-type"].append(sent)
    for media, entry in content.items():
        sent = entry.pop("x-content-type")
        entry["schema"] = entry["schema"] if len(sent) == 1 else {"type": ["object", "array", "string"]}
        entry["x-sent-as"] = sent
        if sent != [media]:
            entry["schema"]["description"] = "Sent as " + " or ".join(sent) + \
                (" (results for SELECT and ASK, a graph for CONSTRUCT and DESCRIBE)" if len(sent) > 1 else "") + "."
    return content


def _example_key(value: str) -> str:
    """An OpenAPI example's name: the value with anything but letters, digits, ``.``, ``-`` and ``_`` as ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", value)


def _sparql_parameters() -> list[dict[str, Any]]:
    return [
        {"name": "query", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "A SPARQL 1.1 query. Without it, GET returns the service description."},
        {"name": "default-graph-uri", "in": "query", "required": False, "explode": True,
         "schema": {"type": "array", "items": {"type": "string", "format": "iri"}},
         "description": "Graphs whose merge is the default graph (graphs the endpoint holds; never fetched)."},
        {"name": "named-graph-uri", "in": "query", "required": False, "explode": True,
         "schema": {"type": "array", "items": {"type": "string", "format": "iri"}},
         "description": "Graphs available to GRAPH."},
        {"name": "format", "in": "query", "required": False,
         "schema": {"type": "string", "enum": list(FORMAT_NAMES)},
         "description": "Overrides Accept (an extension of the protocol, as SPARQLWrapper sends it)."},
    ]


def _sparql_responses() -> dict[str, Any]:
    return {
        "200": {
            "description": "Query results (SELECT, ASK) or an RDF graph (CONSTRUCT, DESCRIBE), by Accept.",
            "content": _content(SELECT_FORMATS + ASK_FORMATS + GRAPH_FORMATS + GRAPHS_FOR_RESULT_TYPES),
        },
        "400": {"description": "Malformed query or request (the parser's message)."},
        "406": {"description": "The query's results can't be given in a format Accept allows."},
        "413": {"description": "The request is larger than --max-request-bytes."},
        "415": {"description": "A POST body that is neither form-encoded nor application/sparql-query, or not UTF-8."},
        "500": {"description": "Refused (update, SERVICE, more rows than --max-results, longer than --timeout) "
                               "or failed; the body says which."},
        "503": {"description": "Every query worker stayed busy for the timeout; try again."},
    }


def openapi_document(queries: Sequence[NamedQuery], *, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document: each named query as an operation, its parameters with their header's examples."""
    paths: dict[str, Any] = {
        "/queries": {
            "get": {
                "operationId": "list_queries",
                "summary": "The named queries: their questions and parameters.",
                "tags": ["named queries"],
                "responses": {"200": {"description": "Every named query.", "content": {"application/json": {
                    "schema": {"type": "object", "required": ["queries"], "properties": {
                        "queries": {"type": "array", "items": {"$ref": "#/components/schemas/NamedQuery"}}}}}}}},
            },
        },
    }
    for named in queries:
        paths[f"/queries/{named.name}"] = _named_operation(named)
    paths["/sparql"] = {
        "get": {
            "operationId": "sparql_get",
            "summary": "SPARQL 1.1 Protocol: a query by GET, or the service description.",
            "tags": ["SPARQL"],
            "parameters": _sparql_parameters(),
            "responses": _sparql_responses(),
        },
        "post": {
            "operationId": "sparql_post",
            "summary": "SPARQL 1.1 Protocol: a query by POST (form-encoded, or the query as the body).",
            "tags": ["SPARQL"],
            "parameters": [p for p in _sparql_parameters() if p["name"] != "query"],
            "requestBody": {"required": True, "content": {
                "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {
                    "query": {"type": "string"},
                    "default-graph-uri": {"type": "array", "items": {"type": "string"}},
                    "named-graph-uri": {"type": "array", "items": {"type": "string"}}}}},
                "application/sparql-query": {"schema": {"type": "string"}},
            }},
            "responses": _sparql_responses(),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "IIM treatment knowledge graph",
            "version": version,
            "summary": "Named treatment questions and a read-only SPARQL 1.1 endpoint. Not medical advice.",
            "license": {"name": "CC-BY-4.0 (data), MIT (code)", "identifier": "CC-BY-4.0 AND MIT"},
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": "named queries", "description": "The competency questions of queries/*.rq."},
                 {"name": "SPARQL", "description": "The SPARQL 1.1 Protocol."}],
        "paths": paths,
        "components": _components(),
    }

"""Read a SPARQL 1.1 Protocol request (GET, form POST, direct POST) and negotiate the response format.

Pure functions over bytes and header values, so that every rule of the protocol is tested without a server.
What the protocol leaves open is decided here, once:

- An update is recognised (``update=`` or ``application/sparql-update``) only to be refused: the endpoint is
  read-only (see :mod:`iimkg.core.sparql_guard`). An update sent with GET is a 400.
- ``default-graph-uri`` and ``named-graph-uri`` must be absolute IRIs; they name graphs the endpoint already
  holds and are never fetched. When either is given, the two lists are the whole dataset, replacing any
  ``FROM``/``FROM NAMED`` of the query (SPARQL 1.1 Protocol §2.1.4).
- Text must be UTF-8: a ``charset`` other than UTF-8 is a 415, bytes that are not UTF-8 a 400.
- ``format`` (``json``, ``xml``, ``csv``, ``tsv``, ``turtle``, ``ntriples``, ``rdfxml``, ``jsonld``, or a media
  type such as ``text/tab-separated-values``) overrides ``Accept``, as SPARQLWrapper and browsers' download links
  expect. ``output`` and ``results`` are its synonyms (other endpoints read one or the other). SPARQLWrapper sends
  its return format in all three, and for TSV, RDF/XML and JSON-LD twice, as a name and as media types
  (``format=tsv&format=text/tab-separated-values``): values that mean the same are one request, empty values are
  no request, and only values that mean different formats are a 400.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl

from iimkg.endpoint.jobs import Dataset

__all__ = [
    "ASK_FORMATS",
    "CHARSET_FORMATS",
    "FORMAT_NAMES",
    "FORMAT_PARAMETERS",
    "GRAPHS_FOR_RESULT_TYPES",
    "GRAPH_FORMATS",
    "NAMED_FORMATS",
    "SELECT_FORMATS",
    "SPARQL_METHODS",
    "Operation",
    "ProtocolError",
    "ResultFormat",
    "choose",
    "format_meaning",
    "media_type",
    "negotiate",
    "parse_accept",
    "parse_params",
    "parse_request",
    "requested_format",
]

FORM = "application/x-www-form-urlencoded"
SPARQL_QUERY = "application/sparql-query"
SPARQL_UPDATE = "application/sparql-update"


class ProtocolError(Exception):
    """A request the protocol does not allow: the HTTP status and a message that says what to send instead."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class ResultFormat(str, enum.Enum):
    """Every format a response can take; the value is the canonical media type sent as ``Content-Type``."""

    JSON = "application/sparql-results+json"
    XML = "application/sparql-results+xml"
    CSV = "text/csv"
    TSV = "text/tab-separated-values"
    TURTLE = "text/turtle"
    NTRIPLES = "application/n-triples"
    RDFXML = "application/rdf+xml"
    JSONLD = "application/ld+json"
    HTML = "text/html"


# What a client may ask for, per query form, in the server's order of preference: (media range, format).
SELECT_FORMATS: tuple[tuple[str, ResultFormat], ...] = (
    ("application/sparql-results+json", ResultFormat.JSON),
    ("application/sparql-results+xml", ResultFormat.XML),
    ("text/csv", ResultFormat.CSV),
    ("text/tab-separated-values", ResultFormat.TSV),
    ("application/json", ResultFormat.JSON),
    ("application/xml", ResultFormat.XML),
    ("text/xml", ResultFormat.XML),
)
ASK_FORMATS = tuple((m, f) for m, f in SELECT_FORMATS if f in {ResultFormat.JSON, ResultFormat.XML})
# What a named query (/queries/NAME) can be answered in: its rows as `iimkg query --format json|csv|tsv` writes them.
NAMED_FORMATS: tuple[tuple[str, ResultFormat], ...] = (
    ("application/sparql-results+json", ResultFormat.JSON),
    ("application/json", ResultFormat.JSON),
    ("text/csv", ResultFormat.CSV),
    ("text/tab-separated-values", ResultFormat.TSV),
)
# Formats sent with `; charset=utf-8` (text types whose charset is not fixed by their own definition).
CHARSET_FORMATS = frozenset({ResultFormat.CSV, ResultFormat.TSV, ResultFormat.TURTLE})
GRAPH_FORMATS: tuple[tuple[str, ResultFormat], ...] = (
    ("text/turtle", ResultFormat.TURTLE),
    ("application/n-triples", ResultFormat.NTRIPLES),
    ("application/rdf+xml", ResultFormat.RDFXML),
    ("application/ld+json", ResultFormat.JSONLD),
    ("application/x-turtle", ResultFormat.TURTLE),
    ("text/n3", ResultFormat.TURTLE),
    ("application/json", ResultFormat.JSONLD),
    ("application/xml", ResultFormat.RDFXML),
    ("text/xml", ResultFormat.RDFXML),
)
# ?format= values (SPARQLWrapper sends its return format this way too): per query form, what each means.
FORMAT_NAMES: dict[str, tuple[ResultFormat | None, ResultFormat | None]] = {
    # name: (for SELECT/ASK, for CONSTRUCT/DESCRIBE)
    "json": (ResultFormat.JSON, ResultFormat.JSONLD),
    "xml": (ResultFormat.XML, ResultFormat.RDFXML),
    "csv": (ResultFormat.CSV, None),
    "tsv": (ResultFormat.TSV, None),
    "turtle": (None, ResultFormat.TURTLE),
    "ttl": (None, ResultFormat.TURTLE),
    "n3": (None, ResultFormat.TURTLE),
    "nt": (None, ResultFormat.NTRIPLES),
    "ntriples": (None, ResultFormat.NTRIPLES),
    "n-triples": (None, ResultFormat.NTRIPLES),
    "rdf": (None, ResultFormat.RDFXML),
    "rdf+xml": (None, ResultFormat.RDFXML),
    "rdfxml": (None, ResultFormat.RDFXML),
    "json-ld": (None, ResultFormat.JSONLD),
    "jsonld": (None, ResultFormat.JSONLD),
}
# A CONSTRUCT or DESCRIBE asked for by a result-set type only: the RDF syntax ?format= gives for the same name
# (JSON-LD for JSON, RDF/XML for XML; CSV and TSV name none), read from FORMAT_NAMES, not written again.
_GRAPH_FOR = {results: graphs for results, graphs in FORMAT_NAMES.values() if results and graphs}
GRAPHS_FOR_RESULT_TYPES: tuple[tuple[str, ResultFormat], ...] = tuple(
    (media, _GRAPH_FOR[fmt]) for media, fmt in SELECT_FORMATS if fmt in _GRAPH_FOR)


@dataclass(frozen=True)
class Operation:
    """One protocol operation: a query or an update, its dataset, and an explicit ``format`` if one was given."""

    kind: Literal["query", "update"]
    text: str
    dataset: Dataset | None = None
    format: str | None = None


def media_type(value: str | None) -> tuple[str, dict[str, str]]:
    """``("text/csv", {"charset": "utf-8"})`` from a ``Content-Type`` value; lower-cased, ``("", {})`` if absent."""
    if not value:
        return "", {}
    head, *rest = value.split(";")
    params = {}
    for item in rest:
        key, sep, val = item.partition("=")
        if sep:
            params[key.strip().lower()] = val.strip().strip('"').lower()
    return head.strip().lower(), params


def parse_params(raw: bytes) -> list[tuple[str, str]]:
    """Name/value pairs of a query string or form body, in order, repeats kept.

    :raises ProtocolError: 400 if the bytes or a percent-escape do not decode as UTF-8.
    """
    try:
        text = raw.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=10_000)
    except UnicodeDecodeError:
        raise ProtocolError(400, "parameters must be UTF-8, percent-encoded") from None
    except ValueError as error:
        raise ProtocolError(400, f"can't read the parameters: {error}") from None


def _utf8(body: bytes, charset: str | None, what: str) -> str:
    if charset not in {None, "utf-8", "utf8"}:
        raise ProtocolError(415, f"the {what} must be UTF-8 (Content-Type charset={charset})")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ProtocolError(400, f"the {what} is not UTF-8: byte {error.start} can't be decoded") from None


def _one(params: Sequence[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in params if k == name]
    if len(values) > 1:
        raise ProtocolError(400, f"the request has {len(values)} '{name}' parameters; send exactly one")
    return values[0] if values else None


def _graphs(params: Sequence[tuple[str, str]], name: str) -> tuple[str, ...]:
    import pyoxigraph as ox

    graphs = []
    for _, value in ((k, v) for k, v in params if k == name):
        try:
            graphs.append(ox.NamedNode(value).value)
        except ValueError:
            raise ProtocolError(400, f"{name} {value!r} is not an absolute IRI") from None
    return tuple(graphs)


def _dataset(params: Sequence[tuple[str, str]], default: str, named: str) -> Dataset | None:
    if not any(k in {default, named} for k, _ in params):
        return None
    return Dataset(_graphs(params, default), _graphs(params, named))


SPARQL_METHODS = "GET, HEAD, POST, OPTIONS"  # the Allow header of /sparql: what it answers


def parse_request(method: str, content_type: str | None, query_string: bytes, body: bytes) -> Operation | None:
    """The operation a protocol request asks for, or None for a GET without one (the service description).

    :raises ProtocolError: with the status the SPARQL 1.1 Protocol (or HTTP) gives for what is wrong.
    """
    url_params = parse_params(query_string)
    if method in {"GET", "HEAD"}:
        if any(k in {"update", "using-graph-uri", "using-named-graph-uri"} for k, _ in url_params):
            raise ProtocolError(400, "an update must be sent with POST (and this endpoint is read-only)")
        text = _one(url_params, "query")
        if text is None:
            return None
        return _query(text, url_params)
    if method != "POST":
        raise ProtocolError(405, f"{method} is not a SPARQL protocol method; use GET or POST",
                            {"Allow": SPARQL_METHODS})
    kind, params = media_type(content_type)
    if kind == FORM:
        if params.get("charset") not in {None, "utf-8", "utf8"}:
            raise ProtocolError(415, f"form data must be UTF-8 (Content-Type charset={params['charset']})")
        form = url_params + parse_params(body)
        query, update = _one(form, "query"), _one(form, "update")
        if query is not None and update is not None:
            raise ProtocolError(400, "the request has both 'query' and 'update'; send one")
        if update is not None:
            return _update(update, form)
        if query is None:
            raise ProtocolError(400, "the form has no 'query' parameter")
        return _query(query, form)
    if kind in {SPARQL_QUERY, SPARQL_UPDATE}:
        what = "query" if kind == SPARQL_QUERY else "update"
        if any(k in {"query", "update"} for k, _ in url_params):
            raise ProtocolError(400, f"the {what} is in the body; the URL must not carry 'query' or 'update'")
        text = _utf8(body, params.get("charset"), what)
        return _query(text, url_params) if kind == SPARQL_QUERY else _update(text, url_params)
    if not kind:
        raise ProtocolError(415, f"a POST needs a Content-Type: {FORM} (query=… in the body) or {SPARQL_QUERY}")
    raise ProtocolError(415, f"can't read a {kind} body; send {FORM} or {SPARQL_QUERY}")


def _query(text: str, params: Sequence[tuple[str, str]]) -> Operation:
    if any(k in {"using-graph-uri", "using-named-graph-uri"} for k, _ in params):
        raise ProtocolError(400, "using-graph-uri and using-named-graph-uri belong to updates; "
                                 "a query names its dataset with default-graph-uri and named-graph-uri")
    return Operation("query", text, _dataset(params, "default-graph-uri", "named-graph-uri"), requested_format(params))


# The parameters that name a response format: SPARQLWrapper sends all three, Virtuoso reads format, sparqler output.
FORMAT_PARAMETERS = ("format", "output", "results")
# What a format request means: (for SELECT/ASK, for CONSTRUCT/DESCRIBE); None where it names nothing.
FormatMeaning = tuple[ResultFormat | None, ResultFormat | None]


def format_meaning(value: str) -> FormatMeaning | None:
    """What one ``format`` value asks for, per query form, or None if it names no format we know.

    A value is a name of :data:`FORMAT_NAMES` or one or more media types separated by commas (SPARQLWrapper sends
    its JSON-LD Accept list this way); for a list, each form takes the first type it can be answered in.

    >>> format_meaning("text/tab-separated-values") == (ResultFormat.TSV, None)
    True
    >>> format_meaning("application/ld+json,application/x-json+ld") == (None, ResultFormat.JSONLD)
    True
    """
    name = value.strip().lower()
    if name in FORMAT_NAMES:
        return FORMAT_NAMES[name]
    types = [media_type(item)[0] for item in name.split(",")]
    for_results = next((f for t in types for m, f in SELECT_FORMATS if m == t), None)
    for_graphs = next((f for t in types for m, f in GRAPH_FORMATS if m == t), None)
    if for_results is None and for_graphs is None:
        return None
    return for_results, for_graphs


def _agree(one: FormatMeaning, other: FormatMeaning) -> bool:
    """Two requests are one if they name a format for a common query form, and the same one wherever both do."""
    shared = [(a, b) for a, b in zip(one, other, strict=True) if a is not None and b is not None]
    return bool(shared) and all(a == b for a, b in shared)


def requested_format(params: Sequence[tuple[str, str]]) -> str | None:
    """The one format the ``format``/``output``/``results`` parameters ask for, as the value that says the most.

    :raises ProtocolError: 400 for a value that names no format, or two values that name different formats.
    """
    asked: list[tuple[str, FormatMeaning]] = []
    for key, value in params:
        if key not in FORMAT_PARAMETERS or not value.strip():
            continue
        meaning = format_meaning(value)
        if meaning is None:
            raise ProtocolError(400, f"unknown {key} {value!r}; use one of {', '.join(FORMAT_NAMES)}, "
                                     "a media type, or an Accept header")
        for earlier, earlier_meaning in asked:
            if not _agree(earlier_meaning, meaning):
                raise ProtocolError(400, f"the request asks for two formats, {earlier!r} and {value!r}; send one")
        asked.append((value.strip().lower(), meaning))
    if not asked:
        return None
    return max(asked, key=lambda item: sum(f is not None for f in item[1]))[0]


def _update(text: str, params: Sequence[tuple[str, str]]) -> Operation:
    if any(k in {"default-graph-uri", "named-graph-uri"} for k, _ in params):
        raise ProtocolError(400, "default-graph-uri and named-graph-uri belong to queries; "
                                 "an update names its dataset with using-graph-uri and using-named-graph-uri")
    return Operation("update", text, _dataset(params, "using-graph-uri", "using-named-graph-uri"))


def parse_accept(header: str | None) -> list[tuple[str, str, float]]:
    """``(type, subtype, q)`` for each media range of an ``Accept`` value; ranges that don't parse are skipped."""
    ranges = []
    for item in (header or "").split(","):
        kind, params = media_type(item)
        main, sep, sub = kind.partition("/")
        if not sep or not main or not sub or (main == "*" and sub != "*"):
            continue
        try:
            q = float(params.get("q", "1"))
        except ValueError:
            q = 0.0
        if q != q or q < 0:  # NaN or negative
            q = 0.0
        ranges.append((main, sub, min(q, 1.0)))
    return ranges


def negotiate(header: str | None, offers: Sequence[tuple[str, ResultFormat]]) -> ResultFormat | None:
    """The offer the client's ``Accept`` prefers (ties go to the earlier offer), or None if it accepts none.

    An absent or empty ``Accept`` accepts the first offer. The most specific range decides an offer's quality
    (``text/csv`` over ``text/*`` over ``*/*``), as RFC 9110 §12.5.1 says.

    >>> negotiate("text/csv;q=0.5, application/sparql-results+xml", SELECT_FORMATS).name
    'XML'
    >>> negotiate("image/png", SELECT_FORMATS) is None
    True
    """
    ranges = parse_accept(header)
    if not ranges:  # absent, empty or unreadable: RFC 9110 lets a server then answer in its default
        return offers[0][1] if offers else None
    best: tuple[float, int] | None = None
    chosen: ResultFormat | None = None
    for position, (offer, fmt) in enumerate(offers):
        main, _, sub = offer.partition("/")
        quality, specificity = 0.0, -1
        for r_main, r_sub, q in ranges:
            if r_main == main and r_sub == sub:
                level = 2
            elif r_main == main and r_sub == "*":
                level = 1
            elif r_main == "*":
                level = 0
            else:
                continue
            if level > specificity:
                quality, specificity = q, level
        if quality > 0 and (best is None or quality > best[0]):
            best, chosen = (quality, position), fmt
    return chosen


def choose(form: Literal["select", "ask", "graph"], accept: str | None, fmt: str | None) -> ResultFormat | None:
    """The format to answer a query of ``form`` in: ``fmt`` (from :func:`requested_format`) if given, else what
    ``Accept`` prefers; None if the query can't be answered in it."""
    meaning = format_meaning(fmt) if fmt else None
    if meaning is not None:
        for_results, for_graphs = meaning
        chosen = for_graphs if form == "graph" else for_results
        if form == "ask" and chosen not in {ResultFormat.JSON, ResultFormat.XML}:
            return None
        return chosen
    offers = {"select": SELECT_FORMATS, "ask": ASK_FORMATS, "graph": GRAPH_FORMATS}[form]
    chosen = negotiate(accept, offers)
    if chosen is None and form == "graph":
        # A client that asks for a result set whatever the query (rdflib's SPARQLStore with returnFormat="json"
        # sends only that type for a CONSTRUCT too) gets the graph in the RDF syntax ?format= gives for the same
        # name, as Fuseki answers it, rather than a 406 (RFC 9110 §12.5.1 lets a server answer in another format).
        chosen = negotiate(accept, GRAPHS_FOR_RESULT_TYPES)
    return chosen

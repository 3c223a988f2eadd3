"""Run the named queries (and any SPARQL) on a remote SPARQL 1.1 Protocol endpoint that holds the iimkg release.

Informaticians load our release into their own triplestore (an Oxigraph server, Virtuoso, QLever, GraphDB…). The
named queries run there unchanged, with two things kept local so that the rows are the same as a local run's:

- **Term resolution.** What a user types for a parameter (a name in any language we carry, a CURIE, an external
  code) is resolved to an IRI by the local :class:`~iimkg.graph.terms.TermIndex`, as for a local run.
- **Binding.** A remote store knows nothing of pyoxigraph's ``substitutions``. The resolved term, written by
  pyoxigraph (an IRI or a typed literal, never text the user typed), is bound by a ``VALUES`` block at the start
  of the query's ``WHERE`` group and of every group graph pattern that mentions the variable, which gives the
  same solutions as binding the variable before evaluation: each group that uses the variable sees it bound, as
  nested groups, ``UNION`` branches and ``FILTER (NOT) EXISTS`` do under substitution. The query text is split
  into tokens (strings, IRIs and comments skipped whole) to find the groups; a value is never pasted into text.

Replies are read as SPARQL results JSON or XML (TSV if a server insists) and graphs as N-Triples, Turtle or RDF/XML,
parsed by pyoxigraph, then made into the same :class:`~iimkg.queries.run.QueryResult` as a local run's. A reply is
read up to the input size limit (:mod:`iimkg.core.limits`); every failure is one :class:`EndpointError` line.

A store that asks for a user and password (GraphDB or Stardog with security on, Virtuoso's ``/sparql-auth``) gets
them by HTTP Basic authentication from the URL, as curl takes them (``https://USER:PASSWORD@host/…``, percent-encoded),
or the user from the URL and the password from ``IIMKG_ENDPOINT_PASSWORD``, which keeps it out of the shell's history
and the process list. The request goes to the URL without them, and messages show the URL with the password masked.
"""

from __future__ import annotations

import base64
import os
import re
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from http.client import HTTPException

import pyoxigraph as ox

from iimkg.core.errors import IimkgError
from iimkg.core.limits import current
from iimkg.core.rdfterms import Term, from_oxigraph, to_oxigraph
from iimkg.queries.result import QueryResult, Row

__all__ = ["ACCEPT", "PASSWORD_VARIABLE", "Endpoint", "EndpointError", "bind_values", "check_endpoint_url",
           "run_remote"]

PASSWORD_VARIABLE = "IIMKG_ENDPOINT_PASSWORD"  # the password for a user named in the endpoint's URL

# What we ask for: results JSON (every store speaks it), XML, then graphs in the syntaxes we parse fastest first.
ACCEPT = ("application/sparql-results+json, application/sparql-results+xml;q=0.9, "
          "application/n-triples, text/turtle;q=0.9, application/rdf+xml;q=0.8, "
          "text/tab-separated-values;q=0.5")
_RESULTS = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "application/xml": ox.QueryResultsFormat.XML,
    "text/xml": ox.QueryResultsFormat.XML,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
_GRAPHS = {
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "text/plain": ox.RdfFormat.N_TRIPLES,  # N-Triples as older servers label it
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/x-turtle": ox.RdfFormat.TURTLE,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/n-quads": ox.RdfFormat.N_QUADS,
    "application/trig": ox.RdfFormat.TRIG,
}


class EndpointError(IimkgError):
    """The endpoint could not be reached, refused the query or did not answer with SPARQL results; exit 2."""


@dataclass(frozen=True)
class Endpoint:
    """Where :func:`iimkg.query` runs a named query instead of the local graph: the endpoint's URL, and how long to
    wait (seconds) for it to connect and for each read of its answer.

    >>> Endpoint("http://localhost:7878/query", timeout=60).timeout
    60
    """

    url: str
    timeout: float = 30.0


@dataclass(frozen=True)
class _Reply:
    body: bytes
    media_type: str


def check_endpoint_url(url: str) -> str:
    """``url`` itself if it is an ``http`` or ``https`` URL with a host.

    :raises EndpointError: otherwise (a ``file:`` URL or a bare host name is not an endpoint).
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise EndpointError(f"{_masked(url)!r} is not an http:// or https:// URL of a SPARQL endpoint "
                            "(e.g. http://localhost:7878/query)")
    return url


@dataclass(frozen=True)
class _Target:
    """Where a request goes: the URL without its user and password, the URL as messages show it (the password
    masked), and the HTTP Basic credentials, if the URL names a user."""

    url: str
    shown: str
    authorization: str | None = None


def _target(url: str) -> _Target:
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return _Target(url, url)
    address = parts.netloc.rsplit("@", 1)[1]
    bare = urllib.parse.urlunsplit(parts._replace(netloc=address))
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password) if parts.password is not None else os.environ.get(
        PASSWORD_VARIABLE, "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return _Target(bare, _masked(url), f"Basic {token}")


def _masked(url: str) -> str:
    """``url`` with the password of its user info, if any, as ``***``."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    user, address = parts.netloc.rsplit("@", 1)[0].split(":", 1)[0], parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{address}"))


def run_remote(text: str, url: str, *, bindings: Mapping[str, Term] | None = None,
               timeout: float = 30.0) -> QueryResult:
    """Run SPARQL text on the endpoint at ``url`` with variables bound as RDF terms (see :func:`bind_values`).

    :param timeout: seconds to wait for the connection and for each read of the answer.
    :raises EndpointError: if the endpoint can't be reached, answers with an HTTP error, or with something that
        is not SPARQL results (one line naming the endpoint and what went wrong).
    """
    target = _target(check_endpoint_url(url))
    if bindings:
        text = bind_values(text, bindings)
    reply = _post(target, text, timeout)
    return _result(reply, target)


# --- binding ---------------------------------------------------------------------------------------------------

_TOKENS = re.compile(
    r"""(?P<skip>\#[^\n]*                                       # a comment
         |'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"   # long strings
         |'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"                # strings
         |<[^<>"{}|^`\\\x00-\x20]*>)                             # an IRI
       |(?P<var>[?$][A-Za-z0-9_\u00B7\u00C0-\uFFFF]+)
       |(?P<pname>(?:[A-Za-z][\w.-]*)?:[\w.:%-]*)                # a prefixed name (ex:values is no keyword)
       |(?P<word>[A-Za-z_][A-Za-z0-9_-]*)
       |(?P<open>\{)|(?P<close>\})
       |(?P<other>[^\s])""",
    re.VERBOSE | re.DOTALL)


@dataclass
class _Group:
    start: int  # the offset just after its `{`
    end: int = -1  # the offset of its `}`
    kind: str = "group"  # group, data (VALUES), template (CONSTRUCT), subselect (a group that is one SELECT)
    top: bool = False  # the query's WHERE group


def bind_values(text: str, bindings: Mapping[str, Term]) -> str:
    """The query with each variable of ``bindings`` bound by ``VALUES ?name { term }`` at the start of the query's
    WHERE group and of every group graph pattern that mentions it; the term is written by pyoxigraph.

    >>> from iimkg.core.rdfterms import Term
    >>> bind_values("SELECT ?x WHERE { ?d ?p ?x }", {"d": Term("uri", "https://w3id.org/iimkg/IIM_0000102")})
    'SELECT ?x WHERE { VALUES ?d { <https://w3id.org/iimkg/IIM_0000102> } ?d ?p ?x }'

    :raises EndpointError: if a variable name is not one, or the query has no WHERE group to bind it in.
    """
    groups, mentions = _groups(text)
    insertions: dict[int, list[str]] = {}
    top = next((g for g in groups if g.top), None)
    for name, term in bindings.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise EndpointError(f"can't bind {name!r}: not a SPARQL variable name")
        if top is None:
            raise EndpointError("can't bind parameters in this query: it has no WHERE group")
        value = str(to_oxigraph(term))
        block = f" VALUES ?{name} {{ {value} }}"
        offsets = mentions.get(name, [])
        for group in groups:
            if group.kind == "group" and (group.top or any(group.start <= at < group.end for at in offsets)):
                insertions.setdefault(group.start, []).append(block)
    out = []
    last = 0
    for at in sorted(insertions):
        out += [text[last:at], "".join(insertions[at])]
        last = at
    out.append(text[last:])
    return "".join(out)


def _groups(text: str) -> tuple[list[_Group], dict[str, list[int]]]:
    """Every ``{ … }`` of the query with what it is, and the offsets where each variable is mentioned."""
    groups: list[_Group] = []
    stack: list[_Group] = []
    mentions: dict[str, list[int]] = {}
    pending: str | None = None  # "data" after VALUES, "template" after CONSTRUCT (until WHERE)
    first_in_group = False
    for token in _TOKENS.finditer(text):
        kind = token.lastgroup
        if kind == "skip":
            continue
        if kind == "var":
            mentions.setdefault(token.group()[1:], []).append(token.start())
        elif kind == "word":
            word = token.group().upper()
            if word == "VALUES":
                pending = "data"
            elif word == "CONSTRUCT" and not stack:
                pending = "template"
            elif word == "WHERE" and pending == "template":
                pending = None
            elif word == "SELECT" and first_in_group and stack:
                stack[-1].kind = "subselect"
        elif kind == "open":
            group = _Group(token.end())
            if pending in {"data", "template"}:
                group.kind, pending = pending, None
            elif not stack and not any(g.top for g in groups):
                group.top = True
            groups.append(group)
            stack.append(group)
            first_in_group = True
            continue
        elif kind == "close" and stack:
            stack.pop().end = token.start()
        first_in_group = False
    for group in stack:  # unbalanced: the server will say where; bind up to the end
        group.end = len(text)
    return groups, mentions


# --- the request --------------------------------------------------------------------------------------------------

def _post(target: _Target, text: str, timeout: float) -> _Reply:
    """POST the query as a form (no length limit on the query, unlike a GET URL); the reply body up to the limit."""
    url = target.shown
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": ACCEPT,
               "User-Agent": "iimkg (https://w3id.org/iimkg/)"}
    if target.authorization is not None:
        headers["Authorization"] = target.authorization
    request = urllib.request.Request(target.url, data=urllib.parse.urlencode({"query": text}).encode("utf-8"),
                                     method="POST", headers=headers)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            media_type = response.headers.get_content_type().lower() if response.headers.get("Content-Type") else ""
            return _Reply(_read_bounded(response, url), media_type)
    except urllib.error.HTTPError as error:
        if 300 <= error.code < 400 and error.headers.get("Location"):
            target_url = urllib.parse.urljoin(target.url, error.headers["Location"])
            raise EndpointError(f"the SPARQL endpoint {url} redirects to {target_url} (HTTP {error.code}); "
                                "give that URL to --endpoint") from None
        if error.code == 401:
            raise EndpointError(
                f"the SPARQL endpoint {url} answered HTTP 401 {error.reason}: "
                + ("it refused the user and password of the URL" if target.authorization else
                   "it asks for a user and password; give them in the URL (http://USER:PASSWORD@host/…), or the "
                   f"user there and the password in {PASSWORD_VARIABLE}")) from None
        raise EndpointError(f"the SPARQL endpoint {url} answered HTTP {error.code} {error.reason}"
                            + _excerpt(error)) from None
    except urllib.error.URLError as error:
        raise EndpointError(f"can't reach the SPARQL endpoint {url}: {_why(error.reason, timeout)}") from None
    except TimeoutError:
        raise EndpointError(f"the SPARQL endpoint {url} did not answer within {timeout:g} s "
                            "(raise the limit with --timeout SECONDS)") from None
    except (HTTPException, ConnectionError, ssl.SSLError, OSError) as error:
        raise EndpointError(f"the SPARQL endpoint {url} broke off the answer: {_why(error, timeout)}") from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: urllib would turn the POST into a GET without the query, and the server would
    answer with its service description as if it were the result. The user is told the URL to use instead."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _read_bounded(response: object, url: str) -> bytes:
    limit = current().max_input_bytes
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read(1 << 16):  # type: ignore[attr-defined]
        size += len(chunk)
        if size > limit:
            raise EndpointError(f"the answer of the SPARQL endpoint {url} is larger than {limit // 1_048_576} MB; "
                                "narrow the query (LIMIT) or raise the limit with --max-input-mb")
        chunks.append(chunk)
    return b"".join(chunks)


def _why(reason: object, timeout: float) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (is the server running, and on that port?)"
    if isinstance(reason, TimeoutError):
        return f"no answer within {timeout:g} s (raise the limit with --timeout SECONDS)"
    if isinstance(reason, socket.gaierror):
        return "unknown host"
    if isinstance(reason, ssl.SSLError | ssl.CertificateError):
        return f"TLS failed: {getattr(reason, 'reason', None) or reason}"
    return str(getattr(reason, "strerror", None) or reason) or type(reason).__name__


def _excerpt(error: urllib.error.HTTPError) -> str:
    """The start of an error reply's text on one line (servers say what was wrong with the query there)."""
    try:
        body = error.read(600).decode("utf-8", "replace")
    except (OSError, HTTPException):
        return ""
    words = " ".join(re.sub(r"<[^>]*>", " ", body).split())
    return f": {words[:300]}" if words else ""


# --- the reply ----------------------------------------------------------------------------------------------------

def _result(reply: _Reply, target: _Target) -> QueryResult:
    url = target.shown
    if reply.media_type in _RESULTS:
        fmt = _RESULTS[reply.media_type]
        try:
            parsed = ox.parse_query_results(reply.body, format=fmt)
            if isinstance(parsed, ox.QueryBoolean):
                return QueryResult([], [], bool(parsed))
            columns = [v.value for v in parsed.variables]
            rows = [Row({c: from_oxigraph(v) if (v := solution[c]) is not None else None for c in columns})
                    for solution in parsed]
        except (SyntaxError, ValueError) as error:
            raise EndpointError(f"the answer of the SPARQL endpoint {url} is not valid SPARQL results "
                                f"({reply.media_type}): {error}") from None
        return QueryResult(columns, rows)
    if reply.media_type in _GRAPHS:
        try:
            triples = list(ox.parse(reply.body, format=_GRAPHS[reply.media_type], base_iri=target.url))
        except (SyntaxError, ValueError) as error:
            raise EndpointError(f"the answer of the SPARQL endpoint {url} is not valid RDF "
                                f"({reply.media_type}): {error}") from None
        return QueryResult(["subject", "predicate", "object"],
                           [Row({"subject": from_oxigraph(t.subject), "predicate": from_oxigraph(t.predicate),
                                 "object": from_oxigraph(t.object)}) for t in triples], graph=True)
    raise EndpointError(f"the answer of {url} is {reply.media_type or 'untyped'}, not SPARQL results: "
                        "is it the URL of a SPARQL endpoint (for an Oxigraph server, http://HOST:PORT/query)?")

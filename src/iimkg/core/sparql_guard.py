"""What a client's SPARQL may not do here: call other services (``SERVICE``) or change anything (updates).

pyoxigraph and rdflib evaluate ``SERVICE <http://…>`` by calling that host, an update's ``LOAD`` fetches a
URL, and rdflib loads a ``FROM <http://…>`` graph from the web. The endpoint and ``iimkg sparql`` call nobody
(unless ``iimkg sparql --allow-service``), so :func:`network_refusal` decides on the *parsed* query, as each
engine reads it; a text without the letters of ``service`` (in any case or escape) needs no parse.

- rdflib's parser (which builds a tree and evaluates nothing) reads the text, and the tree is walked for every
  ``ServiceGraphPattern`` and, where asked, every ``FROM``/``FROM NAMED`` IRI that is not a graph held here.
- pyoxigraph offers no parse without evaluation, and its parser differs from rdflib's at the edges (a comment
  ends at a carriage return, ``SERVICEx:g`` is the keyword and a name). So the text is read by pyoxigraph with
  every ``service`` (letters or escapes) made ``sxrvice``: a text that then has no ``service`` in any reading
  can't call a service, so running it on an empty store is safe. If it parses, pyoxigraph read no ``SERVICE``
  keyword in the query (the keyword always stands before ``VarOrIri {``, where a name can't), and the query is
  let through; pyoxigraph reports any other syntax error when it runs it. If not, the text is read once more
  with ``SERVICE [SILENT]`` made ``GRAPH``, which has the same grammar: if that parses, the query calls a
  service and is refused; if it does not either, the query is malformed, and :class:`QuerySyntaxError` carries
  pyoxigraph's message, its place mapped back to the text sent (the protocol's 400), unless the word
  ``SERVICE`` stands as a keyword (outside strings, IRIs, comments and variables), where the refusal says both.

Every branch that is not sure refuses: nothing is let through that either engine could read as ``SERVICE``. An
update is never run: it is only parsed so that a malformed one still gets the protocol's 400. Query workers
also run in a network namespace of their own where the kernel allows it (see :mod:`iimkg.endpoint.worker`),
so a miss here would still reach no host.

:func:`uses_service` is the older keyword scan (as written and with ``\\uXXXX`` escapes decoded); it is kept for
callers that want a quick, conservative answer without parsing.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from iimkg.core.errors import QuerySyntaxError
from iimkg.core.limits import check_query_depth
from iimkg.core.messages import clip

__all__ = ["decode_escapes", "keywords", "network_refusal", "parse_tree", "update_syntax_error", "uses_keyword",
           "uses_service"]

_T = TypeVar("_T")

_TOKEN = re.compile(
    r"""
    (?P<comment>\#[^\n\r]*)
    | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
    | (?P<string>
        \"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
      | '''(?:[^'\\]|\\.|'(?!''))*'''
      | "(?:[^"\\\n\r]|\\.)*"
      | '(?:[^'\\\n\r]|\\.)*'
      )
    | (?P<variable>[?$][^\s(){}\[\],;.<>=!|&+*/^"'#]*)
    | (?P<name>[A-Za-z_0-9\u00C0-\uFFFF][\w.\-\u00B7\u00C0-\uFFFF]*:(?:\\.|[^\s(){}\[\],;<>"'#\\])*
              |:(?:\\.|[^\s(){}\[\],;<>"'#\\])*)
    | (?P<word>[A-Za-z]+)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")


def decode_escapes(text: str) -> str:
    """The text with SPARQL's ``\\uXXXX`` and ``\\UXXXXXXXX`` code point escapes replaced by their characters."""

    def one(match: re.Match[str]) -> str:
        code = int(match.group(1) or match.group(2), 16)
        return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else match.group(0)

    return _ESCAPE.sub(one, text)


def keywords(text: str) -> Iterator[str]:
    """The bare words of a SPARQL text, upper-cased, with the prefix part of each prefixed name.

    Words inside strings, IRIs, comments and variables are not keywords. A prefixed name's prefix is
    yielded too because pyoxigraph reads ``SERVICEx:g`` as the keyword ``SERVICE`` and the name ``x:g``.

    >>> list(keywords('SELECT * { ?s ?p "SERVICE" } # SERVICE'))
    ['SELECT']
    """
    for match in _TOKEN.finditer(text):
        if match.lastgroup == "word":
            yield match.group().upper()
        elif match.lastgroup == "name" and not match.group().startswith(":"):
            yield match.group().split(":", 1)[0].upper()


def uses_keyword(text: str, *words: str, glued: bool = False) -> bool:
    """Whether any of ``words`` is a keyword of the text as written or with its escapes decoded.

    :param glued: also count a word that only starts with the keyword (``SERVICEx:g``, ``serviceFoo``), as
        pyoxigraph's parser splits a keyword from what follows it without a space.
    """
    wanted = tuple(w.upper() for w in words)
    decoded = decode_escapes(text)
    readings = (text,) if decoded == text else (text, decoded)
    for reading in readings:
        for word in keywords(reading):
            if word in wanted or (glued and word.startswith(wanted)):
                return True
    return False


def uses_service(text: str) -> bool:
    """Whether a query asks for another SPARQL service (federated query), which this endpoint refuses.

    >>> uses_service("SELECT * { service <http://example.org/sparql> { ?s ?p ?o } }")
    True
    >>> uses_service('SELECT * { ?s ?p "service" }')
    False
    """
    return uses_keyword(text, "SERVICE", glued=True)


def _deep(parse: Callable[[], _T]) -> _T:
    """Run a parse with room for rdflib's recursive descent (about 25 Python frames per bracket).

    The depth of the text is bounded first (:func:`iimkg.core.limits.check_query_depth`), so the room needed is
    bounded too; the parse runs in a thread with a large stack so that the raised recursion limit is safe.
    """
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = parse()
        except BaseException as error:  # re-raised in the caller's thread
            box["error"] = error

    old_limit, old_stack = sys.getrecursionlimit(), threading.stack_size()
    sys.setrecursionlimit(max(old_limit, 60_000))
    try:
        threading.stack_size(64 * 1024 * 1024)
        thread = threading.Thread(target=run, name="sparql-parse")
        thread.start()
    finally:
        threading.stack_size(old_stack)
    thread.join()
    sys.setrecursionlimit(old_limit)
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def parse_tree(text: str) -> Any:
    """rdflib's parse tree of a query (nothing is evaluated), after the depth check.

    :raises QuerySyntaxError: if the text nests too deep.
    :raises pyparsing.ParseBaseException: if it does not parse.
    """
    from rdflib.plugins.sparql.parser import parseQuery

    check_query_depth(text)
    return _deep(lambda: parseQuery(text))


def _walk(node: Any) -> Iterator[Any]:
    """Every node of an rdflib parse tree (CompValues, ParseResults, lists, terms), without recursion."""
    from pyparsing import ParseResults

    stack = [node]
    while stack:
        item = stack.pop()
        yield item
        if isinstance(item, dict):  # CompValue is an OrderedDict of its parameters
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, ParseResults)):
            stack.extend(item)


def _mentions_service(text: str) -> bool:
    """Whether the letters of ``service`` appear anywhere, in any case and through any escape: without them no
    parser can read the keyword, so a query that lacks them needs no parse."""
    return "service" in decode_escapes(text).casefold() or uses_service(text)


_FETCHED_SCHEMES = ("http:", "https:", "ftp:", "file:")


def network_refusal(text: str, *, remote_from: bool = False) -> str | None:
    """Why running the query would reach the network (or a file), or None if it would not.

    :param remote_from: also refuse a ``FROM``/``FROM NAMED`` IRI with a scheme an engine could fetch (``http``,
        ``https``, ``ftp``, ``file``): rdflib loads such a graph by default. The endpoint leaves this off, as
        pyoxigraph resolves those IRIs in its own dataset and never fetches them.
    :raises QuerySyntaxError: if the text nests brackets deeper than the limit, or mentions ``service`` and does
        not parse (the parser's message, with the line and column in ``text``).
    """
    from pyparsing import ParseBaseException
    from rdflib.plugins.sparql.parserutils import CompValue

    check_query_depth(text)
    service = _mentions_service(text)
    dataset = remote_from and "from" in decode_escapes(text).casefold()
    if not service and not dataset:
        return None
    try:
        tree = parse_tree(text)
    except (ParseBaseException, ValueError, TypeError, RecursionError):
        tree = None  # rdflib does not read it, so rdflib runs nothing of it; pyoxigraph's reading decides below
    for node in _walk(tree) if tree is not None else ():
        if not isinstance(node, CompValue):
            continue
        if node.name == "ServiceGraphPattern":
            return (f"refused: SERVICE {clip(str(node.get('term')), 200)} (federated query) is not allowed here; "
                    "this calls no other service. Run the query against the graph alone.")
        if node.name == "DatasetClause" and remote_from:
            # CompValue.get answers the key itself for a missing key, so ask the dict which clause this is
            iri = dict.get(node, "default") if "default" in node else dict.get(node, "named")
            if iri is not None and _fetchable(iri):
                return (f"refused: FROM {clip(str(iri), 200)} would be fetched from the network (or a file); "
                        "load data with --data FILE instead")
    return _oxigraph_service_refusal(text) if service else None


_SERVICE_REFUSED = ("refused: SERVICE (federated query) is not allowed here; this calls no other service. "
                    "Run the query against the graph alone.")


def _letters(word: str) -> str:
    """A pattern for ``word`` in any case, each letter as itself or as a ``\\u``/``\\U`` escape."""
    def one(letter: str) -> str:
        codes = {f"{ord(c):02X}" for c in (letter.lower(), letter.upper())}
        escapes = "|".join(rf"\\u00{code}|\\U000000{code}" for code in sorted(codes))
        return f"(?:{letter}|{escapes})"

    return "".join(one(letter) for letter in word)


_SERVICE_LETTERS = re.compile(_letters("service"), re.IGNORECASE)
_SERVICE_SILENT = re.compile(rf"{_letters('service')}(?P<gap>(?:\s|#[^\n\r]*)*)(?P<silent>{_letters('silent')})?",
                             re.IGNORECASE)
_OX_POSITION = re.compile(r"error at (\d+):(\d+)")
_CHARACTER_CLASS = re.compile(r",?\s*\['[^\]]*\]")
_EMPTY_STORE: list[Any] = []


def _oxigraph_service_refusal(text: str) -> str | None:
    """Whether pyoxigraph reads a ``SERVICE`` in a text that mentions it, decided by parsing (module docstring).

    :raises QuerySyntaxError: if pyoxigraph does not parse the text (with its message and place).
    """
    renamed = _SERVICE_LETTERS.sub("sxrvice", text)
    if _mentions_service(renamed):
        return _SERVICE_REFUSED  # some other spelling is left: fail closed
    prefixes = _prefixes_used(renamed)
    if _oxigraph_syntax_error(renamed, prefixes) is None:
        return None
    as_graph, origin = _service_as_graph(text)
    if _mentions_service(as_graph):
        return _SERVICE_REFUSED
    error = _oxigraph_syntax_error(as_graph, _prefixes_used(as_graph))
    if error is None:
        return _SERVICE_REFUSED
    malformed = _mapped_syntax_error(error, as_graph, origin, text)
    if uses_keyword(text, "SERVICE"):  # the word stands where a keyword may: nothing runs, but say both
        return ("refused: SERVICE (federated query) is not allowed here, and this query does not parse either "
                f"({malformed})")
    raise malformed


def _service_as_graph(text: str) -> tuple[str, list[int]]:
    """The text with each ``SERVICE [SILENT]`` made ``GRAPH``, and for each of its characters (and its end) the
    offset in ``text`` it comes from."""
    pieces: list[str] = []
    origin: list[int] = []
    at = 0
    for match in _SERVICE_SILENT.finditer(text):
        pieces.append(text[at:match.start()])
        origin.extend(range(at, match.start()))
        pieces.append("GRAPH")
        origin.extend(range(match.start(), match.start() + 5))
        pieces.append(match.group("gap"))
        origin.extend(range(match.start("gap"), match.end("gap")))
        at = match.end()
    pieces.append(text[at:])
    origin.extend(range(at, len(text) + 1))
    return "".join(pieces), origin


def _prefixes_used(text: str) -> dict[str, str]:
    """Every prefix a name of the text uses, bound to a placeholder IRI: the check is about the query's shape, and
    a shape's query (SHACL) or a named query gets its prefixes from elsewhere. The query's own PREFIX wins."""
    found = {m.group().split(":", 1)[0] for m in _TOKEN.finditer(text) if m.lastgroup == "name"}
    return {prefix: "urn:iimkg:guard:" for prefix in found}


def _oxigraph_syntax_error(text: str, prefixes: dict[str, str]) -> str | None:
    """pyoxigraph's syntax error for a text that can call no service, or None if it parses.

    pyoxigraph parses only to run, so the text is run on an empty store (its results are not read)."""
    import pyoxigraph as ox

    if not _EMPTY_STORE:
        _EMPTY_STORE.append(ox.Store())
    try:
        _EMPTY_STORE[0].query(text, prefixes=prefixes)
    except SyntaxError as error:
        return str(error)
    except (ValueError, OSError, RuntimeError, TypeError) as error:
        return f"{type(error).__name__}: {error}"  # not known to have parsed: the check does not count it as read
    return None


def _mapped_syntax_error(message: str, read: str, origin: list[int], text: str) -> QuerySyntaxError:
    """pyoxigraph's "error at L:C: …" on ``read``, as a :class:`QuerySyntaxError` at the same place of ``text``."""
    found = _OX_POSITION.search(message)
    detail = (message[found.end():].lstrip(": ") if found else message).strip()
    detail = clip(_CHARACTER_CLASS.sub("", detail) or detail, 500)  # not pyoxigraph's lines of Unicode ranges
    if found is None:
        return QuerySyntaxError(detail, path="<query>")
    line, column = int(found.group(1)), int(found.group(2))
    lines = read.split("\n")
    offset = sum(len(part) + 1 for part in lines[: line - 1]) + column - 1
    at = origin[min(max(offset, 0), len(origin) - 1)]
    before = text[:at]
    return QuerySyntaxError(detail, path="<query>", line=before.count("\n") + 1,
                            column=at - (before.rfind("\n") + 1) + 1)


def _fetchable(iri: Any) -> bool:
    """Whether an engine could fetch a ``FROM`` IRI: a fetched scheme, and (failing closed) a prefixed name or a
    relative IRI, which the query's ``PREFIX``/``BASE`` may resolve to anything."""
    from rdflib import URIRef

    text = str(iri).lower()
    return not isinstance(iri, URIRef) or text.startswith(_FETCHED_SCHEMES) or not _SCHEME.match(text)


_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]*:")


def update_syntax_error(text: str) -> str | None:
    """The parser's message if ``text`` is not a SPARQL 1.1 update, else None; nothing is evaluated.

    rdflib's parser only builds a parse tree: no ``LOAD`` is fetched and no graph is touched.
    """
    from pyparsing import ParseBaseException
    from rdflib.plugins.sparql.parser import parseUpdate

    from iimkg.core.errors import QuerySyntaxError

    try:
        check_query_depth(text)
        _deep(lambda: parseUpdate(text))
    except QuerySyntaxError as error:
        return f"line {error.line}, column {error.column}: {error.detail}"
    except ParseBaseException as error:
        return f"line {error.lineno}, column {error.col}: {error.msg}"
    except (ValueError, TypeError, RecursionError) as error:
        return f"{type(error).__name__}: {error}"
    return None

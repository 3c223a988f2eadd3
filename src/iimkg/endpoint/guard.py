"""What a client's SPARQL may not do here: call other services (``SERVICE``) or change anything (updates).

pyoxigraph evaluates ``SERVICE <http://…>`` by calling that host, and an update's ``LOAD`` fetches a URL.
The endpoint is read-only and calls nobody, so a query is refused if its text holds the ``SERVICE`` keyword
anywhere outside strings, IRIs and comments, and an update is never run: it is only parsed (by rdflib's
parser, which evaluates nothing) so that a malformed one still gets the protocol's 400.

The keyword scan reads the text twice, as written and with ``\\uXXXX`` escapes decoded (SPARQL 1.1 Query
§19.2 lets a processor decode them before parsing), and refuses if either reading finds the keyword: a
query can't hide ``SERVICE`` behind an escape, nor open a fake string with an escaped quote. Query
workers also run in a network namespace of their own where the kernel allows it (see
:mod:`iimkg.endpoint.worker`), so a miss here would still reach no host.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["decode_escapes", "keywords", "update_syntax_error", "uses_keyword", "uses_service"]

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
    | (?P<name>[A-Za-z_0-9\u00C0-\uFFFF][\w.\-\u00B7\u00C0-\uFFFF]*:[^\s(){}\[\],;<>"'#]*|:[^\s(){}\[\],;<>"'#]*)
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


def update_syntax_error(text: str) -> str | None:
    """The parser's message if ``text`` is not a SPARQL 1.1 update, else None; nothing is evaluated.

    rdflib's parser only builds a parse tree: no ``LOAD`` is fetched and no graph is touched.
    """
    from pyparsing import ParseBaseException
    from rdflib.plugins.sparql.parser import parseUpdate

    try:
        parseUpdate(text)
    except ParseBaseException as error:
        return f"line {error.lineno}, column {error.col}: {error.msg}"
    except (ValueError, TypeError, RecursionError) as error:
        return f"{type(error).__name__}: {error}"
    return None

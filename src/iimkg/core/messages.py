"""Error messages that quote what a user or a client sent: cut to a length, and made one line for a terminal.

Messages quote parameters, files and queries; a 100 kB parameter must not come back whole, nor a file's lines
(a non-XML .rdf file's message held 477 of them), nor its escape sequences, which a terminal would obey. The
command line, the endpoint and the SPARQL guard cut messages here, so the limit is one number.
"""

from __future__ import annotations

import re

__all__ = ["MAX_ERROR_CHARS", "clip", "one_line"]

MAX_ERROR_CHARS = 1000

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def clip(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """At most ``limit`` characters of ``text``, ending in an ellipsis when cut.

    >>> clip("abcdef", 4)
    'abc…'
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(message: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``message`` made one line and cut to ``limit`` characters: newlines and other control characters (and line
    separators, bidirectional overrides, lone surrogates) are shown escaped, as ``\\n`` or ``\\x1b``, before the cut.

    >>> one_line("bad\\nline\\x1b[31mRED")
    'bad\\\\nline\\\\x1b[31mRED'
    """
    escaped = _UNSAFE.sub(_escape, message[: limit + 1])
    return escaped if len(escaped) <= limit and len(message) <= limit else escaped[: limit - 1] + "…"


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED_ESCAPES.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")

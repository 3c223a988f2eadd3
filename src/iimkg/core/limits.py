"""The one input policy of every entry point: how large, how deeply nested and how expanding an input may be.

An attacker (or a careless user) controls the files and queries that ``iimkg validate``, ``sparql --data``,
``serve --data``, the plan readers and the endpoint read. Each limit here is checked *before* a parser sees the
input, because the parsers themselves are the risk: an RDF/XML internal entity that refers to others ten times
over ("billion laughs") makes the XML parser allocate gigabytes, and ten thousand nested parentheses overflow
the recursive descent of both SPARQL parsers (a RecursionError in rdflib, a segfault in pyoxigraph).

The defaults fit real data with room to spare (the shipped ontology is a few MB; the named queries nest fewer
than ten brackets deep); :func:`configure` raises them, and the CLI's ``--max-input-mb`` and ``--max-depth``
flags call it. See ``docs/security.md``.
"""

from __future__ import annotations

import itertools
import re
import sys
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from iimkg.core.errors import IimkgError, InputError, QuerySyntaxError

__all__ = ["CHAIN_FACTOR", "Limits", "RefusedError", "chain_depth", "check_file_size", "check_json_depth",
           "check_no_xml_entities", "check_query_depth", "configure", "current", "json_deepest", "json_depth",
           "json_int", "line_too_long", "nesting_depth", "over_limit"]


class RefusedError(IimkgError):
    """An input asks for something the policy forbids (a query reaching the network); exit 2, one line."""


@dataclass(frozen=True)
class Limits:
    """The limits in force. ``max_input_bytes`` bounds one input file; ``max_depth`` the brackets of a query."""

    max_input_bytes: int = 512 * 1024 * 1024
    max_depth: int = 128


_current = Limits()


def json_int(text: str) -> int | Decimal:
    """A JSON integer as Python's :mod:`json` would give it, except one longer than Python converts to ``int``
    (``sys.get_int_max_str_digits()``, 4,300 digits: a ValueError with a traceback before), which is read as a
    ``Decimal`` of the same value: the number is data (an out-of-range dose, an identifier), to be checked as such,
    not a reason to stop. Give it as ``parse_int`` to every decoder of input JSON."""
    if len(text) <= _INT_DIGITS:
        return int(text)
    return Decimal(text)


_INT_DIGITS = min(sys.get_int_max_str_digits() or 4300, 4300) if hasattr(sys, "get_int_max_str_digits") else 4300


def current() -> Limits:
    """The limits in force in this process (the defaults unless :func:`configure` changed them)."""
    return _current


def configure(*, max_input_bytes: int | None = None, max_depth: int | None = None) -> Limits:
    """Raise (or lower) limits for this process, e.g. from a CLI flag; None leaves a limit as it is."""
    global _current
    if max_input_bytes is not None:
        _current = replace(_current, max_input_bytes=max_input_bytes)
    if max_depth is not None:
        _current = replace(_current, max_depth=max_depth)
    return _current


def check_file_size(path: Path, limits: Limits | None = None) -> None:
    """Refuse a file larger than ``max_input_bytes`` before reading any of it.

    :raises InputError: naming the file, its size and the flag that raises the limit.
    """
    limit = (limits or _current).max_input_bytes
    try:
        size = Path(path).stat().st_size
    except OSError:
        return  # a missing file is the reader's to report, with its own message
    if size > limit:
        raise InputError(f"the file is {_mb(size)}, more than the limit of {_mb(limit)}; "
                         "raise it with --max-input-mb if the file is meant to be this large", path=path)


def over_limit(what: str, limit: int) -> str:
    """The message for a piece of input (``what``: "the line is", "a JSON value") over ``limit`` bytes: the same
    words wherever a line or value is bounded (plan files, NDJSON, Spark tasks, JSON streams)."""
    return (f"{what} longer than the input limit of {_mb(limit)}; raise it with --max-input-mb if it is meant to be "
            "this long")


def line_too_long(path: Path | str, line: int, limit: int) -> InputError:
    """A line of ``path`` over ``limit`` bytes, as the input error that names the file, line and the flag."""
    return InputError(over_limit("the line is", limit), path=Path(path), line=line, column=1)


def _mb(size: int) -> str:
    return f"{size / 1_048_576:.1f} MB"


_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_CHUNK = 1 << 20


def check_no_xml_entities(path: Path) -> None:
    """Refuse an XML file that declares entities (``<!DOCTYPE … [<!ENTITY …>]>``), before any XML parser runs.

    Entities are how "billion laughs" expands a few hundred bytes into gigabytes, and how XXE reads local
    files; RDF/XML has no need of them. The file is read in chunks (with an overlap so that a declaration split
    between two chunks is still found), so the check itself is bounded in memory.

    :raises InputError: naming the file and the line and column of the first ``<!ENTITY``.
    """
    seen_doctype = False
    tail = b""
    line = 1  # the line of data[0]
    last_newline = -1  # absolute offset of the last newline before data[0]
    data_start = 0  # absolute offset of data[0]
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                data = tail + chunk
                seen_doctype = seen_doctype or _DOCTYPE.search(data) is not None
                found = _ENTITY.search(data) if seen_doctype else None
                if found is not None:
                    at = found.start()
                    newline = data.rfind(b"\n", 0, at)
                    column = at - newline if newline >= 0 else data_start + at - last_newline
                    raise InputError("the XML declares an entity (<!ENTITY); entity declarations are refused "
                                     "because they can expand without bound", path=path,
                                     line=line + data.count(b"\n", 0, at), column=column)
                keep = min(len(data), 16)
                done = len(data) - keep
                line += data.count(b"\n", 0, done)
                newline = data.rfind(b"\n", 0, done)
                if newline >= 0:
                    last_newline = data_start + newline
                data_start += done
                tail = data[done:]
    except OSError:
        return  # the reader reports a file it cannot open




def nesting_depth(text: str, stop_above: int | None = None) -> tuple[int, int, int]:
    """The deepest bracket nesting of a query text, and the line and column where it is first reached (or, with
    ``stop_above``, the first depth past it and its place: the scan stops there).

    Every ``(``, ``{`` and ``[`` counts, also inside strings and comments: the count may only overstate
    the nesting, never understate it, and it takes one pass with no recursion whatever the input.
    """
    return _scan(text, "({[", ")}]", stop_above, json_strings=False)


def check_query_depth(text: str, limits: Limits | None = None) -> None:
    """Refuse a query nested deeper than ``max_depth`` brackets before any SPARQL parser sees it.

    :raises QuerySyntaxError: with the line and column where the limit is passed.
    """
    limit = (limits or _current).max_depth
    deepest, line, column = nesting_depth(text, limit)
    if deepest > limit:
        raise QuerySyntaxError(f"the query nests brackets deeper than the limit of {limit} "
                               "(raise it with --max-depth)", path="<query>", line=line, column=column)
    chain_limit = CHAIN_FACTOR * limit
    longest, line, column = chain_depth(text, chain_limit)
    if longest > chain_limit:
        raise QuerySyntaxError(f"the query chains more than {chain_limit} operators (UNION, MINUS, OPTIONAL, "
                               "FILTER, !, &&, ||, |, /, *, +, -) in one group or expression, the limit of "
                               f"{CHAIN_FACTOR} x --max-depth (raise it with --max-depth)",
                               path="<query>", line=line, column=column)


# How many chained operators a query may hold along one path of its groups, per level of --max-depth (512 at the
# default 128). The parsers and engines build one tree level per operator of a chain (as per bracket) and walk it
# recursively, so a long flat chain crashes them as deep brackets do. Measured with pyoxigraph 0.4 (8 MB stack, a
# query run on an empty store): a segfault past 2,600 MINUS groups, 6,900 `*`, 9,300 `!`, `&&`, `||` or FILTERs,
# 10,800 `|`; seconds past 6,200 UNIONs or `+`. rdflib 7 (prepareQuery, Python's default recursion limit): a
# RecursionError past 980 UNIONs, seconds past 600 MINUS or 670 `&&`. The project's own queries and shapes chain
# far fewer (tests/hostile/test_hostile_query_shapes.py).
CHAIN_FACTOR = 4

# What the chain count reads: comments, strings and variables (skipped), IRIs (see chain_depth), prefixed names
# (whole: `-` and `.` in a name are no operators), words, two-character operators, brackets.
_CHAIN_TOKENS = re.compile(
    r"""
    (?P<skip>\#[^\n\r]*
      | \"\"\"(?:[^"\\]|\\.|"(?!""))*(?:\"\"\")?
      | '''(?:[^'\\]|\\.|'(?!''))*(?:''')?
      | "(?:[^"\\\n\r]|\\.)*"?
      | '(?:[^'\\\n\r]|\\.)*'?
      | [?$][\w\u00B7\u00C0-\uFFFF]*)
    | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
    | (?P<name>[A-Za-z_0-9\u00C0-\uFFFF][\w.\-\u00B7\u00C0-\uFFFF]*:(?:[\w\-.:%\u00B7\u00C0-\uFFFF]|\\.)*
      | :(?:[\w\-.:%\u00B7\u00C0-\uFFFF]|\\.)*)
    | (?P<word>[A-Za-z]+)
    | (?P<op>&&|\|\||[!|/*+\-])
    | (?P<open>[({\[])
    | (?P<close>[)}\]])
    """,
    re.VERBOSE | re.DOTALL,
)
_CHAIN_WORDS = frozenset({"UNION", "MINUS", "OPTIONAL", "FILTER"})
_IRI_OPERATORS = re.compile(r"&&|[!*+]")
_IRI_SLACK = 16  # the `/` and the `-` an IRI may hold before they count (a real IRI has a few)


def chain_depth(text: str, stop_above: int | None = None) -> tuple[int, int, int]:
    """The longest run of chained operators along one path of a query's groups, and the line and column where it
    is first reached (with ``stop_above``: the first count past it, and the scan stops there).

    Each operator adds one to the count of its group, each bracket one level, and a group starts from the count
    of the group around it. Operators are what makes a parser or an engine recurse once each: the keywords UNION,
    MINUS, OPTIONAL and FILTER, ``!``, ``&&``, ``||``, ``|``, ``/``, ``*``, ``+`` and ``-``, outside strings,
    comments, variables and prefixed names. An IRI-looking ``<…>`` may be a less-than and a greater-than around
    operators (``?a<!!!true&&true>?b``), so its ``!``, ``&&``, ``*`` and ``+`` count, and its ``/`` and ``-``
    past the first 16 of each. Like :func:`nesting_depth` the count overstates rather than understates; one pass,
    no recursion.
    """
    weight = longest = where = 0
    stack: list[int] = []
    for match in _CHAIN_TOKENS.finditer(text):
        kind = match.lastgroup
        step = 0
        if kind == "open":
            stack.append(weight)
            step = 1
        elif kind == "close":
            weight = stack.pop() if stack else 0
        elif kind == "op":
            step = 1
        elif kind == "word":
            step = match.group().upper() in _CHAIN_WORDS
        elif kind == "iri":
            iri = match.group()
            step = (len(_IRI_OPERATORS.findall(iri)) + max(0, iri.count("/") - _IRI_SLACK)
                    + max(0, iri.count("-") - _IRI_SLACK))
        if step:
            weight += step
            if weight > longest:
                longest, where = weight, match.start()
                if stop_above is not None and weight > stop_above:
                    break
    return longest, text.count("\n", 0, where) + 1, where - text.rfind("\n", 0, where)


def json_depth(text: str, stop_above: int | None = None) -> tuple[int, int, int]:
    """The deepest nesting of arrays and objects in a JSON text (brackets inside strings do not count), and the
    line and column where it is first reached (with ``stop_above``: as :func:`nesting_depth`); one pass, no
    recursion, whatever the input.

    The loop runs once per string and bracket, not per character: a regular expression skips whole strings
    (3.5x faster than stepping through the characters on FHIR JSON, 16 ms/MB); an unterminated string runs to
    the end of the text, as the JSON parser reads it."""
    depth = deepest = 0
    where = -1
    for match in _JSON_TOKENS.finditer(text):
        char = text[match.start()]
        if char == '"':
            continue
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest, where = depth, match.start()
                if stop_above is not None and depth > stop_above:
                    break
        elif depth > 0:
            depth -= 1
    if where < 0:
        return deepest, 1, 1
    return deepest, text.count("\n", 0, where) + 1, where - text.rfind("\n", 0, where)


def json_deepest(text: str, outer: int = 0) -> int:
    """The deepest nesting of arrays and objects in ``text`` (whole JSON values, as a decoder returned them),
    counted from ``outer``: the tokens of :func:`json_depth`, but the strings dropped and the brackets added up by
    the regular expression engine and ``itertools`` (some 10x faster on JSON-LD); no place (:func:`json_depth`
    finds it)."""
    brackets = _JSON_BRACKETS.findall(_JSON_STRINGS.sub("", text))
    return max(itertools.accumulate(map(_BRACKET_STEPS.__getitem__, brackets), initial=outer))


_JSON_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_JSON_BRACKETS = re.compile(r"[\[\]{}]")
_BRACKET_STEPS = {"[": 1, "{": 1, "]": -1, "}": -1}


# a JSON string (escapes included) or one bracket
_JSON_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)


def _scan(text: str, opening: str, closing: str, stop_above: int | None, *,
          json_strings: bool) -> tuple[int, int, int]:
    """The character-by-character depth scanner: brackets in ``opening``/``closing``, JSON strings skipped if
    asked (queries use it; JSON has the faster :func:`json_depth`)."""
    depth = deepest = 0
    line, column = 1, 0
    where = (1, 1)
    in_string = escaped = False
    for char in text:
        column += 1
        if char == "\n":
            line, column = line + 1, 0
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif json_strings and char == '"':
            in_string = True
        elif char in opening:
            depth += 1
            if depth > deepest:
                deepest, where = depth, (line, column)
                if stop_above is not None and depth > stop_above:
                    break
        elif char in closing and depth > 0:
            depth -= 1
    return deepest, where[0], where[1]


def check_json_depth(text: str, path: Path | str, limits: Limits | None = None, *, line_offset: int = 0) -> None:
    """Refuse JSON nested deeper than ``max_depth`` before :mod:`json` recurses into it (a RecursionError at
    about 1,000 levels, and a traceback).

    :raises InputError: naming the file, with the line and column where the limit is passed.
    """
    limit = (limits or _current).max_depth
    if text.count("[") + text.count("{") <= limit:
        return  # it cannot nest deeper than it has brackets: no scan (one NDJSON line of FHIR, typically)
    deepest, line, column = json_depth(text, limit)
    if deepest > limit:
        raise InputError(f"the JSON nests arrays and objects deeper than the limit of {limit} "
                         "(raise it with --max-depth)", path=path, line=line + line_offset, column=column)

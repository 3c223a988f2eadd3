"""A large JSON-LD file read as a stream of small documents of its own, so that a file of a hundred thousand plans
is never one JSON value in memory nor one RDF parse.

Read whole, 10,000 plans in one 46 MB JSON-LD file held 685 MB in the process that checked them (``json.loads``
for the checks of :func:`iimkg.graph.jsonld.jsonld_with_context`, then one store); pyoxigraph's own parser, streaming
as it is, holds a top-level object's ``"@graph"`` until the object ends (428 MB for those 46 MB), since a key after
it (``"@id"``) could still make it a named graph.

So the two layouts writers use for many nodes are cut between the members of their top-level list:

- ``{"@context": C, "@graph": [n1, n2, …]}`` (rdflib and most writers; the context first): pieces
  ``{"@context": C, "@graph": [ni, …]}``; members after the list (an ``"@id"`` naming the graph, properties of the
  top node) make a last piece with C;
- ``[n1, n2, …]`` (pyoxigraph's writer): pieces ``[ni, …]``.

That keeps the meaning: every node object is read with the context it had, and blank node labels keep their
document-wide scope (pyoxigraph keeps a document's labels as written and gives an unlabelled node a fresh random
one). Graph names are not kept apart anyway: the splitter reads a plan file as one graph, as it does TriG. Any
other layout (one node object, ``"@graph"`` before ``"@context"``) is one piece: the whole document, as before.

A piece's text between its first and last member is the file's own, so an error found when it is parsed is placed
in the file (:meth:`Piece.place`). The checks of :func:`~iimkg.graph.jsonld.jsonld_with_context` are made as the
text is read, each at the cost of a few C calls a piece where nothing is wrong (the first version, stepping through
the tokens and walking every member in Python, took 5 of the 12 s that splitting 10,000 plans took): UTF-8; the
nesting depth of the input policy (:mod:`iimkg.core.limits`), a piece at a time, the decoder's own recursion limit
guarding what it reads before; remote contexts, in the members whose text names ``"@context"`` (a key written with
escapes is still refused, by pyoxigraph, which has no document loader).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from iimkg.core.errors import InputError
from iimkg.core.limits import current, json_deepest, json_depth
from iimkg.graph.jsonld import check_contexts, inline_context, jsonld_with_context

__all__ = ["Piece", "jsonld_pieces"]

PIECE_CHARS = 1 << 20  # members of the top-level list gathered into one piece (the last member may pass it)
_READ_BYTES = 1 << 20  # read at a time; doubled while one member does not fit
_WHITESPACE = " \t\n\r"
_CUT_OFF = 16  # a decoding error this close to the end of the text read may be a value cut off by it
_SEPARATOR = re.compile(r"[ \t\n\r]*([,\]])[ \t\n\r]*")  # after a member: the comma or the list's end
_CONTEXT_KEY = '"@context"'
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class Piece:
    """One JSON-LD document cut from a file: ``data``; the file's line and column where the text of its first line
    after ``prefix`` characters begins."""

    data: bytes
    line: int
    column: int
    prefix: int

    def place(self, line: int | None, column: int | None) -> tuple[int | None, int | None]:
        """The file's line and column of a place in :attr:`data` (a place in the prefix: the first member's)."""
        if line is None:
            return None, None
        if line > 1:
            return self.line + line - 1, column
        return self.line, self.column + max((column or 1) - 1 - self.prefix, 0)


def jsonld_pieces(path: Path, piece_chars: int | None = None) -> Iterator[Piece]:
    """The file as JSON-LD documents of about ``piece_chars`` characters each (default :data:`PIECE_CHARS`; 0: a
    piece for each member), in order (see the module's text).

    :raises InputError: naming the file, with the line and column: not UTF-8, not JSON, nested deeper than the
        input policy allows, a remote context other than the iimkg one.
    """
    piece_chars = PIECE_CHARS if piece_chars is None else piece_chars
    try:
        with path.open("rb") as handle:
            text = _Text(path, handle)
            at = text.skip(0)
            if text.char(at) == "[":
                yield from _members(text, at + 1, "[", "]", piece_chars, 1)
                text.end(text.skip(text.at))
                return
            context = _leading_context(text, at) if text.char(at) == "{" else None
            if context is None:
                yield Piece(jsonld_with_context(path), 1, 1, 0)
                return
            prefix = '{"@context":' + json.dumps(context[0], ensure_ascii=False, separators=(",", ":")) + ","
            yield from _members(text, context[1], prefix + '"@graph":[', "]}", piece_chars, 2)
            at = text.skip(text.at)
            if text.char(at) == ",":  # members after the list: one last piece with the context
                first = text.skip(at + 1)
                yield text.piece(prefix, first, _object_end(text, first), "}", 1)
                at = 0  # the closing brace: the text before it is dropped
            if text.char(at) != "}":
                raise text.error("not valid JSON: Expecting ',' delimiter", at)
            text.end(text.skip(at + 1))
    except OSError as error:
        raise InputError(f"can't read the file: {error}", path=path) from None


class _Text:
    """The file's text, decoded as it is read, with the file's line and column of any place still held. Places are
    indices into :attr:`buffer`; :meth:`drop` forgets a done prefix."""

    def __init__(self, path: Path, handle: IO[bytes]) -> None:
        self.path = path
        self.handle = handle
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.limit = current().max_depth
        self.buffer = ""
        self.at = 0  # where the caller is (after a list: the place after its closing bracket)
        self.line = 1  # the file's line of buffer[0]
        self.column = 1  # and its column
        self.eof = False
        self.read_bytes = _READ_BYTES

    def more(self) -> bool:
        """Read another block (twice as much after each call that did not free the buffer); False at the end."""
        if self.eof:
            return False
        data = self.handle.read(self.read_bytes)
        self.read_bytes *= 2
        try:
            text = self.decoder.decode(data, final=not data)
        except UnicodeDecodeError as error:
            self.buffer += data[:max(error.start, 0)].decode("utf-8", "replace")  # to place the error
            raise self.error(f"the file is not UTF-8 text: {error.reason}", len(self.buffer)) from None
        self.eof = not data
        self.buffer += text
        return True

    def char(self, at: int) -> str:
        """The character at ``at`` ('' at the end of the file)."""
        while at >= len(self.buffer) and self.more():
            pass
        return self.buffer[at] if at < len(self.buffer) else ""

    def skip(self, at: int) -> int:
        """The first place from ``at`` that is not whitespace."""
        while (char := self.char(at)) and char in _WHITESPACE:
            at += 1
        return at

    def value(self, at: int) -> tuple[Any, int]:
        """The JSON value at ``at`` and the place after it (more is read until it is whole)."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buffer, at)
            except RecursionError:  # nested deeper than Python's decoder goes (about 1,000)
                raise self.deep(at, 1_000_000) from None
            except json.JSONDecodeError as error:
                cut_off = error.pos >= len(self.buffer) - _CUT_OFF or error.msg.startswith("Unterminated string")
                if cut_off and self.more():
                    continue
                raise self.error(f"not valid JSON: {error.msg}", error.pos) from None
            if end >= len(self.buffer) and self.more():
                continue  # a number may go on
            return value, end

    def check_depth(self, first: int, end: int, outer: int) -> None:
        """Refuse the values from ``first`` to ``end``, inside ``outer`` brackets, if they nest deeper than the
        input policy allows."""
        if json_deepest(self.buffer[first:end], outer) > self.limit:
            raise self.deep(first, end, outer)

    def deep(self, first: int, end: int, outer: int = 0) -> InputError:
        """The error of values nested too deep, at the first bracket past the limit."""
        _, line, column = json_depth(self.buffer[first:end], self.limit - outer)
        start_line, start_column = self.place(first)
        return InputError(f"the JSON nests arrays and objects deeper than the limit of {self.limit} "
                          "(raise it with --max-depth)", path=self.path, line=start_line + line - 1,
                          column=start_column + column - 1 if line == 1 else column)

    def piece(self, prefix: str, first: int, end: int, suffix: str, outer: int) -> Piece:
        """The piece of ``prefix`` + the text from ``first`` to ``end`` (values inside ``outer`` brackets) +
        ``suffix``; then the text before ``end`` is forgotten."""
        self.check_depth(first, end, outer)
        line, column = self.place(first)
        piece = Piece((prefix + inline_context(self.buffer[first:end]) + suffix).encode("utf-8"), line, column,
                      len(prefix))
        self.drop(end)
        return piece

    def drop(self, end: int) -> None:
        done = self.buffer[:end]
        lines = done.count("\n")
        self.line += lines
        self.column = end - done.rfind("\n") if lines else self.column + end
        self.buffer = self.buffer[end:]
        self.at -= end
        self.read_bytes = _READ_BYTES

    def place(self, at: int) -> tuple[int, int]:
        head = self.buffer[:at]
        lines = head.count("\n")
        return self.line + lines, (at - head.rfind("\n")) if lines else self.column + at

    def error(self, message: str, at: int) -> InputError:
        line, column = self.place(min(at, len(self.buffer)))
        return InputError(message, path=self.path, line=line, column=column)

    def end(self, at: int) -> None:
        """Only whitespace may follow the document."""
        if self.char(at):
            raise self.error("not valid JSON: Extra data", at)


def _leading_context(text: _Text, at: int) -> tuple[Any, int] | None:
    """For ``{"@context": C, "@graph": [``: C, with the iimkg context written in, and the place after the bracket;
    None for any other object."""
    at = text.skip(at + 1)
    context: Any = None
    for expected in ("@context", "@graph"):
        if text.char(at) != '"':
            return None
        key, at = text.value(at)
        at = text.skip(at)
        if key != expected or text.char(at) != ":":
            return None
        at = text.skip(at + 1)
        if key == "@graph":
            break
        start = at
        context, at = text.value(at)
        text.check_depth(start, at, 1)
        try:
            check_contexts({"@context": context}, text.path)
        except InputError as error:
            raise text.error(error.detail, start) from None
        at = text.skip(at)
        if text.char(at) != ",":
            return None
        at = text.skip(at + 1)
    if text.char(at) != "[":
        return None
    return json.loads(inline_context(json.dumps(context, ensure_ascii=False))), at + 1


def _members(text: _Text, at: int, prefix: str, suffix: str, piece_chars: int, outer: int) -> Iterator[Piece]:
    """The members of the list that starts at ``at`` (inside ``outer`` brackets, the list's own included), in
    pieces; leaves :attr:`_Text.at` after the list."""
    at = text.skip(at)
    if text.char(at) == "]":
        text.at = at + 1
        return
    first = at
    while True:
        value, end = text.value(at)
        if text.buffer.find(_CONTEXT_KEY, at, end) >= 0:
            try:
                check_contexts(value, text.path)
            except InputError as error:
                raise text.error(error.detail, at) from None
        while (separator := _SEPARATOR.match(text.buffer, end)) is None or separator.end() == len(text.buffer):
            if not text.more():
                break
        if separator is None:
            raise text.error("not valid JSON: Expecting ',' delimiter", text.skip(end))
        if separator.group(1) == "]" or end - first >= piece_chars:
            text.at = separator.end()
            yield text.piece(prefix, first, end, suffix, outer)
            if separator.group(1) == "]":
                return
            first = at = text.at
            continue
        at = separator.end()


def _object_end(text: _Text, at: int) -> int:
    """The place of the ``}`` that closes the members from ``at`` (``"key": value`` pairs)."""
    while True:
        if text.char(at) != '"':
            raise text.error("not valid JSON: Expecting property name enclosed in double quotes", at)
        _, at = text.value(at)
        at = text.skip(at)
        if text.char(at) != ":":
            raise text.error("not valid JSON: Expecting ':' delimiter", at)
        _, at = text.value(text.skip(at + 1))
        at = text.skip(at)
        if text.char(at) == "}":
            return at
        if text.char(at) != ",":
            raise text.error("not valid JSON: Expecting ',' delimiter", at)
        at = text.skip(at + 1)

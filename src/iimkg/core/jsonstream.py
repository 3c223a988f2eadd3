"""A JSON file read as a stream: the members of a large list a value at a time, each with its place in the file
(line, column, byte offset), in memory that does not grow with the file.

Python's :mod:`json` has no streaming reader, but ``JSONDecoder.raw_decode`` decodes one value from a place in a
text: :class:`JsonText` keeps a window of the decoded file, reads more (twice as much each time) while a value is
cut off by its end, and forgets what the caller is done with. Bad input is an :class:`~iimkg.core.errors.InputError`
with the file's line and column: not UTF-8, not JSON, nested deeper than the input policy allows, or a member of a
list (a Bundle entry) longer than its input size (:mod:`iimkg.core.limits`), as an NDJSON line is. Used by the
JSON-LD splitter (:mod:`iimkg.graph.jsonld_pieces`) and the FHIR Bundle index (:mod:`iimkg.fhir.bulk`).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from iimkg.core.errors import InputError
from iimkg.core.limits import current, json_deepest, json_depth, json_int, over_limit

__all__ = ["JsonText", "shifted"]

READ_BYTES = 1 << 20  # read at a time; doubled while one value does not fit
_WHITESPACE = " \t\n\r"
_CUT_OFF = 16  # a decoding error this close to the end of the text read may be a value cut off by it
_SEPARATOR = re.compile(r"[ \t\n\r]*([,\]])[ \t\n\r]*")  # after a member: the comma or the list's end
_DECODER = json.JSONDecoder(parse_int=json_int)


def shifted(start_line: int, start_column: int, line: int, column: int) -> tuple[int, int]:
    """The file's line and column of ``line``:``column`` of a text cut from the file at ``start_line``:``start_column``
    (an entry, a piece): on the text's first line the columns are shifted, below it only the lines."""
    return start_line + line - 1, (start_column + column - 1 if line == 1 else column)


class JsonText:
    """A JSON file's text, decoded as it is read, with the file's line, column and byte offset of any place still
    held. Places are indices into :attr:`buffer`; :meth:`drop` forgets a done prefix (and moves :attr:`at`, the
    caller's place, with it)."""

    def __init__(self, path: Path, handle: IO[bytes]) -> None:
        self.path = path
        self.handle = handle
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.limit = current().max_depth
        self.longest = current().max_input_bytes  # characters held at most: one value (and a block) in memory
        self.buffer = ""
        self.at = 0
        self.line = 1  # the file's line of buffer[0]
        self.column = 1  # and its column
        self.offset = 0  # and its byte offset
        self.eof = False
        self.read_bytes = READ_BYTES

    def more(self) -> bool:
        """Read another block (twice as much after each call that did not free the buffer); False at the end."""
        if self.eof:
            return False
        data = self.handle.read(self.read_bytes)
        if not self.offset and not self.buffer and data.startswith(codecs.BOM_UTF8):
            self.offset = len(codecs.BOM_UTF8)  # the decoder drops it
        self.read_bytes *= 2
        try:
            text = self.decoder.decode(data, final=not data)
        except UnicodeDecodeError as error:
            self.buffer += data[:max(error.start, 0)].decode("utf-8", "replace")  # to place the error
            raise self.error(f"the file is not UTF-8 text: {error.reason}", len(self.buffer)) from None
        self.eof = not data
        self.buffer += text
        if len(self.buffer) > self.longest + len(text):  # what is kept (a value not yet whole) passes the limit
            raise self.too_long(0)
        return True

    def too_long(self, at: int) -> InputError:
        return self.error(over_limit("a JSON value", self.longest), at)

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
        """The JSON value at ``at`` and the place after it (more is read until it is whole).

        The decoder recurses, up to Python's limit (about 1,000 levels: a RecursionError, caught here); the input
        policy's lower limit is checked by the caller on the text it keeps (:meth:`check_depth`), a block at a
        time, which costs a few C calls where a scan token by token in Python cost as much as the decoding."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buffer, at)
            except RecursionError:
                raise self.deep(at, len(self.buffer)) from None
            except json.JSONDecodeError as error:
                cut_off = error.pos >= len(self.buffer) - _CUT_OFF or error.msg.startswith("Unterminated string")
                if cut_off and self.more():
                    continue
                raise self.error(f"not valid JSON: {error.msg}", error.pos) from None
            if end >= len(self.buffer) and self.more():
                continue  # a number may go on
            return value, end

    def members(self, at: int) -> Iterator[tuple[Any, int, int, bool]]:
        """The members of the list whose first member (or closing bracket) is at or after ``at``: each value, its
        start and end, and whether it is the last. The caller may :meth:`drop` text before the end of the member it
        was given; :attr:`at` is after the list once the last is given."""
        at = self.skip(at)
        if self.char(at) == "]":
            self.at = at + 1
            return
        while True:
            value, end = self.value(at)
            if end - at > self.longest // 4 and len(self.buffer[at:end].encode("utf-8")) > self.longest:
                raise self.too_long(at)
            while (separator := _SEPARATOR.match(self.buffer, end)) is None or separator.end() == len(self.buffer):
                if not self.more():
                    break
            if separator is None:
                raise self.error("not valid JSON: Expecting ',' delimiter", self.skip(end))
            last = separator.group(1) == "]"
            self.at = separator.end()
            yield value, at, end, last
            if last:
                return
            at = self.at

    def object_members(self, at: int) -> Iterator[tuple[str, int]]:
        """The first members of the object that starts at ``at`` (its ``{``): each key and the place of its value.
        The caller reads the value (:meth:`value`) and sets :attr:`at` after it to go on. The walk ends at the
        closing brace, or quietly at anything else: the caller then reads the file another way."""
        at = self.skip(at + 1)
        while self.char(at) == '"':
            key, at = self.value(at)
            at = self.skip(at)
            if not isinstance(key, str) or self.char(at) != ":":
                return
            self.at = self.skip(at + 1)
            yield key, self.at
            at = self.skip(self.at)
            if self.char(at) != ",":
                return
            at = self.skip(at + 1)

    def object_end(self, at: int) -> int:
        """The place of the ``}`` that closes an object whose members go on at ``at`` (a comma before the next)
        or end there; the members are read and let go."""
        while self.char(at) == ",":
            at = self.skip(at + 1)
            if self.char(at) != '"':
                raise self.error("not valid JSON: Expecting property name enclosed in double quotes", at)
            _, at = self.value(at)
            at = self.skip(at)
            if self.char(at) != ":":
                raise self.error("not valid JSON: Expecting ':' delimiter", at)
            _, at = self.value(self.skip(at + 1))
            at = self.skip(at)
        if self.char(at) != "}":
            raise self.error("not valid JSON: Expecting ',' delimiter", at)
        return at

    def check_depth(self, first: int, end: int, outer: int) -> None:
        """Refuse the values from ``first`` to ``end``, inside ``outer`` brackets, if they nest deeper than the
        input policy allows."""
        if json_deepest(self.buffer[first:end], outer) > self.limit:
            raise self.deep(first, end, outer)

    def deep(self, first: int, end: int, outer: int = 0) -> InputError:
        """The error of values nested too deep, at the first bracket past the limit."""
        _, line, column = json_depth(self.buffer[first:end], self.limit - outer)
        line, column = shifted(*self.place(first), line, column)
        return InputError(f"the JSON nests arrays and objects deeper than the limit of {self.limit} "
                          "(raise it with --max-depth)", path=self.path, line=line, column=column)

    def drop(self, end: int) -> None:
        """Forget the text before ``end``."""
        done = self.buffer[:end]
        lines = done.count("\n")
        self.line += lines
        self.column = end - done.rfind("\n") if lines else self.column + end
        self.offset += len(done.encode("utf-8"))
        self.buffer = self.buffer[end:]
        self.at -= end
        self.read_bytes = READ_BYTES

    def place(self, at: int) -> tuple[int, int]:
        """The file's line and column of ``at``."""
        head = self.buffer[:at]
        lines = head.count("\n")
        return self.line + lines, (at - head.rfind("\n")) if lines else self.column + at

    def byte_offset(self, at: int) -> int:
        """The file's byte offset of ``at``."""
        return self.offset + len(self.buffer[:at].encode("utf-8"))

    def error(self, message: str, at: int) -> InputError:
        line, column = self.place(min(at, len(self.buffer)))
        return InputError(message, path=self.path, line=line, column=column)

    def end(self, at: int) -> None:
        """Only whitespace may follow the document."""
        if self.char(at):
            raise self.error("not valid JSON: Extra data", at)

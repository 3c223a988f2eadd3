"""A large JSON-LD file read as a stream of small documents of its own, so that a file of a hundred thousand plans
is never one JSON value in memory nor one RDF parse.

Read whole, 10,000 plans in one 46 MB JSON-LD file held 685 MB in the process that checked them (``json.loads``
for the checks of :func:`iimkg.graph.jsonld.jsonld_with_context`, then one store); pyoxigraph's own parser, streaming
as it is, holds a top-level object's ``"@graph"`` until the object ends (428 MB for those 46 MB), since a key after
it (``"@id"``) could still make it a named graph.

So the two layouts writers use for many nodes are cut between the members of their top-level list:

- ``{"@context": C, "@graph": [n1, n2, …]}`` (rdflib and most writers; the context first), or a term C defines
  as ``@graph`` in its place (``"plans"`` in the iimkg context, docs/plans.md): pieces
  ``{"@context": C, "@graph": [ni, …]}``; members after the list (an ``"@id"`` naming the graph, properties of the
  top node) make a last piece with C;
- ``[n1, n2, …]`` (pyoxigraph's writer): pieces ``[ni, …]``.

That keeps the meaning: every node object is read with the context it had, and blank node labels keep their
document-wide scope (pyoxigraph keeps a document's labels as written and gives an unlabelled node a fresh random
one). Graph names are not kept apart anyway: the splitter reads a plan file as one graph, as it does TriG. Any
other layout (one node object, ``"@graph"`` before ``"@context"``) is one piece: the whole document, as before.

A piece's text between its first and last member is the file's own, so an error found when it is parsed is placed
in the file (:meth:`Piece.place`). The file is read by :class:`iimkg.core.jsonstream.JsonText`, and the checks of
:func:`~iimkg.graph.jsonld.jsonld_with_context` are made as it is read, each at the cost of a few C calls a piece
where nothing is wrong (the first version, stepping through the tokens and walking every member in Python, took 5
of the 12 s that splitting 10,000 plans took): UTF-8; the nesting depth of the input policy, a piece at a time;
remote contexts, in the members whose text names ``"@context"`` (a key written with escapes is still refused, by
pyoxigraph, which has no document loader, and named by :mod:`iimkg.plans.splitting`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iimkg.core.errors import InputError
from iimkg.core.jsonstream import JsonText, shifted
from iimkg.graph.jsonld import check_contexts, inline_context, jsonld_with_context

__all__ = ["Piece", "jsonld_pieces"]

PIECE_CHARS = 1 << 20  # members of the top-level list gathered into one piece (the last member may pass it)
_CONTEXT_KEY = '"@context"'


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
        column = column or 1
        return shifted(self.line, self.column, line, max(column - self.prefix, 1) if line == 1 else column)


def jsonld_pieces(path: Path, piece_chars: int | None = None) -> Iterator[Piece]:
    """The file as JSON-LD documents of about ``piece_chars`` characters each (default :data:`PIECE_CHARS`; 0: a
    piece for each member), in order (see the module's text).

    :raises InputError: naming the file, with the line and column: not UTF-8, not JSON, nested deeper than the
        input policy allows, a remote context other than the iimkg one.
    """
    piece_chars = PIECE_CHARS if piece_chars is None else piece_chars
    try:
        with path.open("rb") as handle:
            text = JsonText(path, handle)
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
            close = text.object_end(at)
            if close != at:  # members after the list: one last piece with the context
                yield _piece(text, prefix, text.skip(at + 1), close, "}", 1)
                close = 0  # the text before the closing brace is dropped
            text.end(text.skip(close + 1))
    except OSError as error:
        raise InputError(f"can't read the file: {error}", path=path) from None


def _leading_context(text: JsonText, start: int) -> tuple[Any, int] | None:
    """For ``{"@context": C, "@graph": [`` at ``start`` (or a term C defines as ``@graph``, as the iimkg context
    does ``"plans"``): C, with the iimkg context written in, and the place after the bracket; None for any other
    object."""
    context: Any = None
    for number, (key, at) in enumerate(text.object_members(start)):
        if number:  # the second member: the list to cut
            return (context, at + 1) if key in _graph_keys(context) and text.char(at) == "[" else None
        if key != "@context":
            return None
        context, text.at = text.value(at)
        text.check_depth(at, text.at, 1)
        try:
            check_contexts({"@context": context}, text.path)
        except InputError as error:
            raise text.error(error.detail, at) from None
        context = json.loads(inline_context(json.dumps(context, ensure_ascii=False)))
    return None


def _graph_keys(context: Any) -> set[str]:
    """``@graph`` and the terms the context defines as it (the last definition of a term stands)."""
    keys: set[str] = set()
    for part in context if isinstance(context, list) else [context]:
        if not isinstance(part, dict):
            continue
        for term, definition in part.items():
            graph = definition == "@graph" or (isinstance(definition, dict) and definition.get("@id") == "@graph")
            (keys.add if graph else keys.discard)(term)
    keys.add("@graph")
    return keys


def _members(text: JsonText, at: int, prefix: str, suffix: str, piece_chars: int,
             outer: int) -> Iterator[Piece]:
    """The members of the list that starts at ``at`` (inside ``outer`` brackets, the list's own included), in
    pieces; leaves :attr:`JsonText.at` after the list."""
    first = None
    for value, start, end, last in text.members(at):
        first = start if first is None else first
        if text.buffer.find(_CONTEXT_KEY, start, end) >= 0:
            try:
                check_contexts(value, text.path)
            except InputError as error:
                raise text.error(error.detail, start) from None
        if last or end - first >= piece_chars:
            yield _piece(text, prefix, first, end, suffix, outer)
            first = None


def _piece(text: JsonText, prefix: str, first: int, end: int, suffix: str, outer: int) -> Piece:
    """The piece of ``prefix`` + the text from ``first`` to ``end`` (values inside ``outer`` brackets) +
    ``suffix``; then the text before ``end`` is forgotten."""
    text.check_depth(first, end, outer)
    line, column = text.place(first)
    piece = Piece((prefix + inline_context(text.buffer[first:end]) + suffix).encode("utf-8"), line, column,
                  len(prefix))
    text.drop(end)
    return piece

"""Splitting a plan file into plan-sized work units, by plan and not by bytes, reading it as a stream.

N-Triples are read in blocks of lines kept as they are (no parse: the grouper's loop takes each plainly written line
apart by its spaces into its subject, predicate and object; a line that does not look plain is parsed on its own);
other syntaxes (Turtle, N-Quads, TriG, N3, RDF/XML) are parsed by pyoxigraph's streaming parser and
written out as N-Triples a few thousand triples at a time, then read the same way; so is JSON-LD, parsed a piece of
the document at a time (:mod:`iimkg.graph.jsonld_pieces`). Lines are grouped into plans by
:class:`iimkg.plans.grouping.Grouper`.

A unit's lines are the file's own, so a syntax error a unit shows when it is loaded is one of the file: it is found
again, with the file's line and column, by :func:`locate_syntax_error`.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from iimkg.core.errors import InputError
from iimkg.core.limits import check_file_size, check_no_xml_entities, current, json_int, line_too_long
from iimkg.core.scratch import spill_dir
from iimkg.core.vocab import IIM, OWL, RDF_TYPE, RDFS, RDFS_SUBCLASS_OF
from iimkg.graph.jsonld import check_contexts
from iimkg.graph.jsonld_pieces import Piece, jsonld_pieces
from iimkg.graph.loading import ontology_quads, open_rdf, rdf_format_for, syntax_message, too_long_message
from iimkg.plans import grouping
from iimkg.plans.grouping import Group, Grouper, Line

__all__ = ["PlanUnit", "PlanVocabulary", "Restart", "blank_plans", "locate_syntax_error", "plan_vocabulary",
           "split_file"]

_LINE_FORMATS = (ox.RdfFormat.N_TRIPLES,)
# read in bounded pieces, each held to the input policy's size (a line; a JSON value), so a file may be any size
_STREAMED = (ox.RdfFormat.N_TRIPLES, ox.RdfFormat.JSON_LD)


@dataclass(frozen=True)
class PlanUnit:
    """One plan (or a few that share a resource) with everything it links to, as RDF: what a worker checks.

    ``source`` is the file the triples were read from (as given: it names the file in findings and errors),
    ``data`` the triples, in the syntax ``format`` (a media type, ``ox.RdfFormat.from_media_type`` reads it: plain
    values, so a unit pickles and crosses process and machine boundaries), ``plans`` how many plans the splitter
    found in it (0 for lines linked to no plan), ``first`` the number of its first line among the file's lines (of
    N-Triples, as the splitter reads or writes them), or -1 where not known (units made from other than a file's
    lines). ``first`` is where the unit is in the file, whatever chunk or Spark partition it is checked in: the
    labels reports give blank-node plans are made with it (:mod:`iimkg.plans.labels`).
    """

    source: str
    data: bytes
    format: str
    plans: int = 0
    first: int = -1


@dataclass(frozen=True)
class PlanVocabulary:
    """What the splitter reads from the ontology: the plan classes, and the properties that link a plan to the
    resources described with it (a property whose domain is a plan or such a resource, and whose range is a named
    class with no subclass and no instance in the ontology: a patient, a prescription, not a drug or a disease)."""

    plan_types: frozenset[bytes]
    links: frozenset[bytes]


def blank_plans(unit: PlanUnit, vocabulary: PlanVocabulary) -> Iterator[str]:
    """The labels, as the unit's lines write them, of its plans that are blank nodes: found by the type line the
    splitter counted them by (``_:p <rdf:type> <plan class> .``, written plainly). A search in C over the unit's
    bytes, not a parse; nothing for a unit not cut from a file's lines or holding no plan."""
    data = unit.data
    if not unit.plans or unit.first < 0 or b"_:" not in data:
        return
    for plan_type in vocabulary.plan_types:
        line = b" " + _TYPE + b" " + plan_type
        at = data.find(line)
        while at >= 0:
            end = at + len(line)
            start = data.rfind(b"\n", 0, at) + 1
            if data[start:start + 2] == b"_:" and data[end:end + 1] in (b" ", b"."):
                yield data[start + 2:at].decode("utf-8", "replace")
            at = data.find(line, end)


@functools.cache
def plan_vocabulary(ontology: Path) -> PlanVocabulary:
    store = ox.Store()
    store.extend(ontology_quads(ontology))
    plans = store.query(f"SELECT ?c WHERE {{ ?c <{RDFS_SUBCLASS_OF}>* <{IIM}TreatmentPlan> }}")
    assert isinstance(plans, ox.QuerySolutions)
    plan_types = {str(s["c"]) for s in plans if isinstance(s["c"], ox.NamedNode)}
    rows = store.query(
        f"SELECT ?p ?domain ?range WHERE {{ ?p a <{OWL}ObjectProperty> ; <{RDFS}domain> ?domain ; "
        f"<{RDFS}range> ?range . FILTER (isIRI(?range)) "
        f"FILTER NOT EXISTS {{ ?sub <{RDFS_SUBCLASS_OF}> ?range }} FILTER NOT EXISTS {{ ?x a ?range }} }}")
    assert isinstance(rows, ox.QuerySolutions)
    edges = [(str(r["domain"]), str(r["p"]), str(r["range"])) for r in rows]
    described, links, grown = set(plan_types), set(), True
    while grown:  # the classes reachable from a plan through such properties (a patient's test results…)
        grown = False
        for domain, prop, target in edges:
            if domain in described and prop not in links:
                links.add(prop)
                grown = grown or target not in described
                described.add(target)
    return PlanVocabulary(frozenset(t.encode() for t in plan_types), frozenset(p.encode() for p in links))


@dataclass(frozen=True)
class Restart:
    """Said by an optimistic split (:func:`split_file`): a line came late for a plan already handed out, so drop
    what was found in ``source``; its units follow again, split exactly."""

    source: str


def split_file(path: Path, input_format: str | None, vocabulary: PlanVocabulary, window: int | None = None,
               optimistic: bool = False) -> Iterator[PlanUnit | Restart]:
    """The plan units of one file (see :func:`iimkg.plans.units.split_plans`); ``window``: lines held in memory
    (default :data:`iimkg.plans.grouping.WINDOW_LINES`). ``optimistic``: hand units out while the file is read,
    followed, in the rare case that a late line joins a plan already handed out, by a :class:`Restart` and the
    file's units again.

    The input policy's size (``--max-input-mb``) bounds what is held at once: an N-Triples line, a JSON-LD value
    (:mod:`iimkg.graph.jsonld_pieces`), not the file, which is streamed, as a Bulk Data export's NDJSON file is. A
    file of another syntax is bounded whole: pyoxigraph's Turtle-family parsers hold at most 16 MB a term whatever
    the flag says, and its RDF/XML parser holds a literal of any length.

    :raises InputError: if the file (or an N-Triples line of it) is too large, does not parse (with line and
        column), holds no triples or no treatment plan.
    """
    fmt = rdf_format_for(path, input_format)
    if fmt not in _STREAMED:
        check_file_size(path)
    if fmt == ox.RdfFormat.RDF_XML:
        check_no_xml_entities(path)  # before any XML parser can expand them (billion laughs, XXE)
    source = str(path)
    grouper = Grouper(vocabulary.links, vocabulary.plan_types, _TYPE, window or grouping.WINDOW_LINES, spill_dir(),
                      optimistic)
    media_type = (fmt if fmt in _LINE_FORMATS else ox.RdfFormat.N_TRIPLES).media_type
    if fmt in _LINE_FORMATS:  # N-Quads are parsed, as TriG is: a plan file is one graph, named graphs merged
        feed = _grouped(_file_blocks(path), fmt, grouper, path)
    else:
        blocks = _jsonld_blocks(path) if fmt == ox.RdfFormat.JSON_LD else _parsed_blocks(path, fmt)
        feed = _grouped(blocks, ox.RdfFormat.N_TRIPLES, grouper, path)
    plans = 0
    while True:
        try:
            group = next(feed)
        except StopIteration as stop:
            triples = stop.value
            break
        if grouper.scattered:  # plans scattered over the file: split it exactly now, not after a wasted pass
            feed.close()
            grouper.close()
            yield Restart(source)
            yield from split_file(path, input_format, vocabulary, window)
            return
        plans += group.plans
        yield PlanUnit(source, b"".join(group.lines), media_type, group.plans, group.first)
    if not triples:
        raise InputError("the file holds no triples; nothing to check", path=path)
    for group in grouper.groups():
        plans += group.plans
        yield PlanUnit(source, b"".join(group.lines), media_type, group.plans, group.first)
    if grouper.late:
        yield Restart(source)
        yield from split_file(path, input_format, vocabulary, window)
        return
    if not plans:
        raise InputError(
            "the file holds no treatment plan: nothing in it is typed iim:TreatmentPlan "
            '(in JSON-LD, "type": "TreatmentPlan"); nothing to check', path=path)


_TYPE = f"<{RDF_TYPE}>".encode()
_BLOCK_BYTES = 1 << 20  # read at a time from an N-Triples or N-Quads file (a block is cut at its last newline)
_PARSED_TRIPLES = 10_000  # triples of another syntax written out as N-Triples at a time

def _grouped(blocks: Iterable[bytes], fmt: ox.RdfFormat, grouper: Grouper,
             path: Path) -> Generator[Group, None, int]:
    """Feed blocks of N-Triples or N-Quads lines to ``grouper`` (:meth:`~iimkg.plans.grouping.Grouper.add` takes
    the plainly written ones apart), passing on the groups it has ready; returns the number of triples.

    A line that is not plainly written is parsed on its own (:func:`_odd_line`). A line that looks plain but is not
    N-Triples after all (an unterminated literal…) still passes here: the engine's parser finds it when the unit is
    loaded, and the error is placed in the file."""
    def odd(line: bytes, number: int) -> list[Line]:
        return _odd_line(line, number, fmt, path)

    count = number = 0
    for block in blocks:
        lines = block.splitlines(keepends=True)
        count += grouper.add(lines, number, odd)
        number += len(lines)
        yield from grouper.take()
    return count


def _file_blocks(path: Path) -> Iterator[bytes]:
    """A file's bytes in blocks of whole lines (a line longer than a block makes a longer block, up to the input
    policy's size); the last line given its newline if it has none.

    :raises InputError: at a line longer than the input policy's size (its number counted in LFs)."""
    pieces: list[bytes] = []
    held = 0  # bytes of the line not yet whole
    lines = 0  # LFs in the blocks given
    longest = current().max_input_bytes
    # reads no larger than the limit, so that a line over it always spans two reads, where it is measured
    size = max(1, min(_BLOCK_BYTES, longest))
    try:
        with open_rdf(path) as handle:
            while data := handle.read(size):
                # after the last LF; else after the last CR (a file may end its lines with CR alone) but one that
                # ends the read, which may be followed by an LF
                cut = data.rfind(b"\n") + 1 or data.rfind(b"\r", 0, len(data) - 1) + 1
                if not cut:
                    pieces.append(data)
                    held += len(data)
                    if held > longest:
                        raise line_too_long(path, lines + 1, longest)
                    continue
                if held:  # the line spanning reads ends in this one
                    end = data.find(b"\n", 0, cut)
                    if held + (end if end >= 0 else cut) > longest:
                        raise line_too_long(path, lines + 1, longest)
                pieces.append(data[:cut])
                block = b"".join(pieces)
                lines += block.count(b"\n")
                yield block
                pieces = [data[cut:]]
                held = len(pieces[0])
    except OSError as error:
        raise InputError(f"can't read the file: {error}", path=path) from None
    rest = b"".join(pieces)
    if rest:
        yield rest if rest.endswith((b"\n", b"\r")) else rest + b"\n"


def _odd_line(line: bytes, number: int, fmt: ox.RdfFormat, path: Path) -> list[Line]:
    """The triples of a line that is not plainly written, by parsing it: none for a comment or a blank line; the
    line as it is when it holds one triple, each triple written out on its own line when it holds several.

    :raises InputError: the line does not parse (with the file's line number and the column)."""
    text = line.strip()
    if not text or text[:1] == b"#":
        return []
    try:
        quads = list(ox.parse(line, format=fmt))
    except SyntaxError as error:
        raise InputError(syntax_message(error), path=path, line=number, column=error.offset) from None
    except MemoryError as error:
        raise InputError(too_long_message(error), path=path, line=number) from None
    lines = []
    for quad in quads:
        obj = b"" if isinstance(quad.object, ox.Literal) else str(quad.object).encode()
        own = line if len(quads) == 1 else ox.serialize([quad], format=fmt) or b""
        lines.append((own, str(quad.subject).encode(), str(quad.predicate).encode(), obj))
    return lines


def _parsed_blocks(path: Path, fmt: ox.RdfFormat) -> Iterator[bytes]:
    """Parse a Turtle, N-Quads, TriG, N3 or RDF/XML file as a stream and write its triples out as blocks of
    N-Triples lines (:func:`_lines`)."""
    try:
        with open_rdf(path) as handle:
            yield from _lines(ox.parse(handle, format=fmt, base_iri=path.resolve().as_uri()))
    except SyntaxError as error:
        raise InputError(syntax_message(error), path=path, line=error.lineno, column=error.offset) from None
    except MemoryError as error:
        raise InputError(too_long_message(error), path=path) from None
    except (OSError, ValueError) as error:
        raise InputError(f"can't read the file: {error}", path=path) from None


def _jsonld_blocks(path: Path) -> Iterator[bytes]:
    """A JSON-LD file's triples as blocks of N-Triples lines, parsed a piece of the document at a time
    (:mod:`iimkg.graph.jsonld_pieces`), each error placed in the file."""
    base = path.resolve().as_uri()
    for piece in jsonld_pieces(path):
        try:
            yield from _lines(ox.parse(piece.data, format=ox.RdfFormat.JSON_LD, base_iri=base))
        except SyntaxError as error:
            line, column = piece.place(error.lineno, error.offset)
            member = _failing_member(path, base) if line is None else None
            if member is not None:  # a JSON-LD error (not of JSON syntax) comes without a place: its node's
                line, column = member.line, member.column
                # a context key written with escapes ("\u0040context") gets past the pieces' check: name it now
                check_contexts(json.loads(member.data, parse_int=json_int), path, line, column)
            raise InputError(syntax_message(error), path=path, line=line, column=column) from None
        except MemoryError as error:
            line, column = piece.place(1, 1)
            raise InputError(too_long_message(error), path=path, line=line, column=column) from None


def _failing_member(path: Path, base: str) -> Piece | None:
    """The first member of the file's top-level list that fails to parse alone (each member a piece of its own)."""
    for piece in jsonld_pieces(path, piece_chars=0):
        try:
            for _ in ox.parse(piece.data, format=ox.RdfFormat.JSON_LD, base_iri=base):
                pass
        except SyntaxError:
            return piece
    return None


def _lines(quads: Iterator[ox.Quad]) -> Iterator[bytes]:
    """Parsed quads as blocks of N-Triples lines, their graph names dropped (a plan file is one graph): by
    pyoxigraph's writer, 5x faster than a triple at a time in Python, unless the block holds named graphs, which
    that writer refuses in N-Triples."""
    while block := list(itertools.islice(quads, _PARSED_TRIPLES)):
        try:
            data = _written(block)
        except ValueError:
            data = _written_as_triples(block)
        yield data


def _written(quads: list[ox.Quad]) -> bytes:
    return ox.serialize(quads, format=ox.RdfFormat.N_TRIPLES) or b""


def _written_as_triples(quads: list[ox.Quad]) -> bytes:
    return "".join(f"{q.subject} {q.predicate} {q.object} .\n" for q in quads).encode()


def locate_syntax_error(path: Path, fmt: ox.RdfFormat) -> InputError | None:
    """The first syntax error of a file, with its line and column, found by parsing it as a stream."""
    try:
        with open_rdf(path) as handle:
            for _ in ox.parse(handle, format=fmt, base_iri=path.resolve().as_uri()):
                pass
    except SyntaxError as error:
        return InputError(syntax_message(error), path=path, line=error.lineno, column=error.offset)
    except MemoryError as error:
        return InputError(too_long_message(error), path=path)
    except (OSError, ValueError) as error:
        return InputError(f"can't read the file: {error}", path=path)
    return None

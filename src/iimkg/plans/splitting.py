"""Splitting a plan file into plan-sized work units, by plan and not by bytes, reading it as a stream.

N-Triples and N-Quads are read line by line as they are (no parse: a line's subject and object are its first and
third terms; a line that does not look plain is parsed on its own); other syntaxes (Turtle, TriG, N3, RDF/XML) are
parsed by pyoxigraph's streaming parser and written out as N-Triples lines; JSON-LD is read whole (it is a single
document) and is one unit. Lines are grouped into plans by :class:`iimkg.plans.grouping.Grouper`.

A unit's lines are the file's own, so a syntax error a unit shows when it is loaded is one of the file: it is found
again, with the file's line and column, by :func:`locate_syntax_error`.
"""

from __future__ import annotations

import functools
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from iimkg.core.errors import InputError
from iimkg.core.limits import check_file_size, check_no_xml_entities
from iimkg.core.vocab import IIM, OWL, RDF_TYPE, RDFS, RDFS_SUBCLASS_OF
from iimkg.graph.loading import ontology_quads, rdf_format_for, syntax_message
from iimkg.plans import grouping
from iimkg.plans.grouping import Group, Grouper, spill_dir

__all__ = ["PlanUnit", "PlanVocabulary", "Restart", "locate_syntax_error", "plan_vocabulary", "split_file"]

_LINE_FORMATS = (ox.RdfFormat.N_TRIPLES, ox.RdfFormat.N_QUADS)


@dataclass(frozen=True)
class PlanUnit:
    """One plan (or a few that share a resource) with everything it links to, as RDF: what a worker checks.

    ``source`` is the file the triples were read from (as given: it names the file in findings and errors),
    ``data`` the triples, in the syntax ``format`` (a media type, ``ox.RdfFormat.from_media_type`` reads it: plain
    values, so a unit pickles and crosses process and machine boundaries), ``plans`` how many plans the splitter
    found in it (0 for lines linked to no plan; a JSON-LD file is one unit whose plans are counted when it is
    checked, also 0 here).
    """

    source: str
    data: bytes
    format: str
    plans: int = 0


@dataclass(frozen=True)
class PlanVocabulary:
    """What the splitter reads from the ontology: the plan classes, and the properties that link a plan to the
    resources described with it (a property whose domain is a plan or such a resource, and whose range is a named
    class with no subclass and no instance in the ontology: a patient, a prescription, not a drug or a disease)."""

    plan_types: frozenset[bytes]
    links: frozenset[bytes]


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

    :raises InputError: if the file is too large, does not parse (with line and column), holds no triples or no
        treatment plan.
    """
    fmt = rdf_format_for(path, input_format)
    check_file_size(path)
    if fmt == ox.RdfFormat.RDF_XML:
        check_no_xml_entities(path)  # before any XML parser can expand them (billion laughs, XXE)
    source = str(path)
    if fmt == ox.RdfFormat.JSON_LD:
        from iimkg.plans.reading import jsonld_with_context

        yield PlanUnit(source, jsonld_with_context(path), fmt.media_type, 0)
        return
    grouper = Grouper(window or grouping.WINDOW_LINES, spill_dir(), optimistic)
    media_type = (fmt if fmt in _LINE_FORMATS else ox.RdfFormat.N_TRIPLES).media_type
    feed = _plain_lines(path, fmt, grouper, vocabulary) if fmt in _LINE_FORMATS else \
        _parsed_lines(path, fmt, grouper, vocabulary)
    plans = 0
    while True:
        try:
            group = next(feed)
        except StopIteration as stop:
            triples = stop.value
            break
        plans += group.plans
        yield PlanUnit(source, b"".join(group.lines), media_type, group.plans)
    if not triples:
        raise InputError("the file holds no triples; nothing to check", path=path)
    for group in grouper.groups():
        plans += group.plans
        yield PlanUnit(source, b"".join(group.lines), media_type, group.plans)
    if grouper.late:
        yield Restart(source)
        yield from split_file(path, input_format, vocabulary, window)
        return
    if not plans:
        raise InputError(
            "the file holds no treatment plan: nothing in it is typed iim:TreatmentPlan "
            '(in JSON-LD, "type": "TreatmentPlan"); nothing to check', path=path)


_TYPE = f"<{RDF_TYPE}>".encode()


def _plain_lines(path: Path, fmt: ox.RdfFormat, grouper: Grouper,
                 vocabulary: PlanVocabulary) -> Generator[Group, None, int]:
    """Feed an N-Triples or N-Quads file's lines to ``grouper`` as they are, passing on the groups it has ready;
    returns the number of triples.

    A line is taken apart by its spaces when it is plainly written (an IRI or blank node subject, an IRI predicate,
    no backslash escape anywhere); any other line is parsed on its own. A line that is not N-Triples at all may
    still pass here: the engine's parser finds it when the unit is loaded, and the error is placed in the file.
    """
    links, plan_types, add = vocabulary.links, vocabulary.plan_types, grouper.add
    count = 0
    try:
        with path.open("rb") as handle:
            for number, line in enumerate(handle, 1):
                parts = line.split(None, 2)
                if len(parts) == 3 and b"\\" not in line:
                    subject, predicate, rest = parts
                    if predicate[:1] != b"<" or predicate[-1:] != b">" or subject[:1] not in (b"<", b"_"):
                        terms = _terms_of_line(line, fmt, path, number)
                        if terms is None:
                            continue
                        subject, predicate, obj = terms
                    elif rest[:1] == b"<":
                        obj = rest[:rest.find(b">") + 1]
                    elif rest[:1] == b"_":
                        obj = rest.split(None, 1)[0].rstrip(b".")
                    else:
                        obj = b""
                elif not parts or parts[0][:1] == b"#":
                    continue
                else:
                    terms = _terms_of_line(line, fmt, path, number)
                    if terms is None:
                        continue
                    subject, predicate, obj = terms
                if line[-1:] != b"\n":
                    line += b"\n"
                count += 1
                if predicate == _TYPE:
                    spilled = add(subject, line, None, obj in plan_types)
                elif obj and (obj[:1] == b"_" or predicate in links):
                    spilled = add(subject, line, obj)
                else:
                    spilled = add(subject, line)
                if spilled:
                    yield from grouper.take()
    except OSError as error:
        raise InputError(f"can't read the file: {error}", path=path) from None
    return count


def _terms_of_line(line: bytes, fmt: ox.RdfFormat, path: Path, number: int) -> tuple[bytes, bytes, bytes] | None:
    """A line's subject, predicate and object (b"" for a literal) as N-Triples terms, by parsing it; None for a
    comment."""
    try:
        quads = list(ox.parse(line, format=fmt))
    except SyntaxError as error:
        raise InputError(syntax_message(error), path=path, line=number, column=error.offset) from None
    if not quads:
        return None
    if len(quads) != 1:
        raise InputError("expected one triple on the line", path=path, line=number)
    quad = quads[0]
    obj = b"" if isinstance(quad.object, ox.Literal) else str(quad.object).encode()
    return str(quad.subject).encode(), str(quad.predicate).encode(), obj


def _parsed_lines(path: Path, fmt: ox.RdfFormat, grouper: Grouper,
                  vocabulary: PlanVocabulary) -> Generator[Group, None, int]:
    """Parse a Turtle, TriG, N3 or RDF/XML file as a stream and feed its triples to ``grouper`` as lines, passing on
    the groups it has ready; returns the number of triples."""
    links, plan_types = vocabulary.links, vocabulary.plan_types
    type_iri = ox.NamedNode(RDF_TYPE)
    count = 0
    try:
        for quad in ox.parse(path=str(path), format=fmt, base_iri=path.resolve().as_uri()):
            subject, predicate, obj = quad.subject, quad.predicate, quad.object
            s, o = str(subject), str(obj)
            line = f"{s} {predicate} {o} .\n".encode()
            count += 1
            if predicate == type_iri:
                spilled = grouper.add(s.encode(), line, plan=o.encode() in plan_types)
            elif isinstance(obj, ox.BlankNode) or (isinstance(obj, ox.NamedNode)
                                                   and str(predicate).encode() in links):
                spilled = grouper.add(s.encode(), line, link=o.encode())
            else:
                spilled = grouper.add(s.encode(), line)
            if spilled:
                yield from grouper.take()
    except SyntaxError as error:
        raise InputError(syntax_message(error), path=path, line=error.lineno, column=error.offset) from None
    except (OSError, ValueError) as error:
        raise InputError(f"can't read the file: {error}", path=path) from None
    return count


def locate_syntax_error(path: Path, fmt: ox.RdfFormat) -> InputError | None:
    """The first syntax error of a file, with its line and column, found by parsing it as a stream."""
    try:
        for _ in ox.parse(path=str(path), format=fmt, base_iri=path.resolve().as_uri()):
            pass
    except SyntaxError as error:
        return InputError(syntax_message(error), path=path, line=error.lineno, column=error.offset)
    except (OSError, ValueError) as error:
        return InputError(f"can't read the file: {error}", path=path)
    return None

"""Load the shipped graph once per process: pyoxigraph parses it, rdflib gets a copy on request."""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import pyoxigraph as ox

from iimkg.core.errors import InputError, require_file
from iimkg.core.kinds import InputFormat
from iimkg.core.limits import check_file_size, check_no_xml_entities
from iimkg.core.resources import ontology_file
from iimkg.graph.jsonld import jsonld_with_context
from iimkg.graph.mappings import mapping_quads, mappings_beside, read_mappings

if TYPE_CHECKING:
    import rdflib

__all__ = ["RDF_SUFFIXES", "load", "ontology_quads", "open_rdf", "oxigraph_store", "parse_rdf_file", "rdf_format_for",
           "shipped_quads", "syntax_message", "too_long_message"]

_EXTENSIONS = {
    ".ttl": ox.RdfFormat.TURTLE,
    ".turtle": ox.RdfFormat.TURTLE,
    ".nt": ox.RdfFormat.N_TRIPLES,
    ".ntriples": ox.RdfFormat.N_TRIPLES,
    ".nq": ox.RdfFormat.N_QUADS,
    ".trig": ox.RdfFormat.TRIG,
    ".owl": ox.RdfFormat.RDF_XML,
    ".rdf": ox.RdfFormat.RDF_XML,
    ".xml": ox.RdfFormat.RDF_XML,
    ".jsonld": ox.RdfFormat.JSON_LD,
    ".json": ox.RdfFormat.JSON_LD,
    ".n3": ox.RdfFormat.N3,
}

RDF_SUFFIXES = frozenset(_EXTENSIONS)  # the extensions that name an RDF syntax
# a compressed file: named in the message, since its extension names no syntax
_COMPRESSED = {".gz": "gunzip", ".bz2": "bunzip2", ".xz": "unxz", ".zst": "unzstd", ".zip": "unzip"}

_SYNTAX = {
    InputFormat.TURTLE: ox.RdfFormat.TURTLE,
    InputFormat.NTRIPLES: ox.RdfFormat.N_TRIPLES,
    InputFormat.NQUADS: ox.RdfFormat.N_QUADS,
    InputFormat.TRIG: ox.RdfFormat.TRIG,
    InputFormat.RDFXML: ox.RdfFormat.RDF_XML,
    InputFormat.JSONLD: ox.RdfFormat.JSON_LD,
    InputFormat.N3: ox.RdfFormat.N3,
}


def rdf_format_for(path: Path, explicit: str | None = None) -> ox.RdfFormat:
    """The RDF syntax of a file, from ``explicit`` (a name such as ``turtle``) or the extension.

    :raises InputError: if neither names a syntax we read.
    """
    if explicit:
        named = InputFormat.parse(explicit)
        if named is None:
            raise InputError(f"unknown input format {explicit!r}; use one of {', '.join(f.value for f in InputFormat)}",
                             path=path)
        return _SYNTAX[named]
    fmt = _EXTENSIONS.get(path.suffix.lower())
    if fmt is None and path.suffix.lower() in _COMPRESSED:
        raise InputError(f"the file is compressed ({path.suffix}), and iimkg reads plain text files; decompress it "
                         f"first ({_COMPRESSED[path.suffix.lower()]} {path.name})", path=path)
    if fmt is None:
        raise InputError(
            f"can't tell the RDF syntax from the extension {path.suffix!r}; "
            "use .ttl, .nt, .jsonld, .owl/.rdf or pass --input-format", path=path)
    return fmt


def parse_rdf_file(path: Path, *, input_format: str | None = None) -> list[ox.Quad]:
    """Parse a whole RDF file, so that a syntax error leaves nothing half-loaded.

    The input policy (:mod:`iimkg.core.limits`) is applied first, before the parser allocates anything: the
    file's size, and for RDF/XML the absence of entity declarations.

    :raises InputError: if the file is missing, too large, declares XML entities, or does not parse (with line
        and column).
    """
    require_file(path)
    fmt = rdf_format_for(path, input_format)
    check_file_size(path)
    if fmt == ox.RdfFormat.RDF_XML:
        check_no_xml_entities(path)
    try:
        if fmt == ox.RdfFormat.JSON_LD:  # the iimkg context inlined, any other remote context refused
            return list(ox.parse(jsonld_with_context(path), format=fmt, base_iri=path.resolve().as_uri()))
        with open_rdf(path) as handle:
            return list(ox.parse(handle, format=fmt, base_iri=path.resolve().as_uri()))
    except SyntaxError as error:
        raise InputError(syntax_message(error), path=path, line=error.lineno, column=error.offset) from None
    except MemoryError as error:
        raise InputError(too_long_message(error), path=path) from None
    except (OSError, ValueError) as error:
        raise InputError(f"can't read the file: {error}", path=path) from None


def too_long_message(error: MemoryError) -> str:
    """What pyoxigraph's parsers mean by a MemoryError: one token (a literal, an IRI, a line of N-Triples) above
    their buffer (16 MB), not a machine out of memory."""
    text = str(error)
    if "buffer maximal size" in text:
        return ("a single term (a literal, an IRI) or line is longer than the RDF parser's 16 MB buffer; shorten it "
                "or keep such data out of the file")
    return "the file needs more memory to read than this process may use"


def open_rdf(path: Path) -> BinaryIO:
    """A file opened for an RDF parser, past a UTF-8 byte order mark: Windows tools write one (PowerShell's
    ``Out-File -Encoding utf8``), and pyoxigraph's parsers take it for text ("The subject of a triple must be an IRI
    or a blank node" at 1:1)."""
    handle = path.open("rb")
    if handle.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
        handle.seek(0)
    return handle



def syntax_message(error: SyntaxError) -> str:
    message = error.msg or str(error)
    # pyoxigraph prefixes the span ("Parser error between line 2 column 11 and …: "); the place is ours to print.
    head, sep, tail = message.partition(": ")
    return tail if sep and head.startswith("Parser error") else message


@cache
def shipped_quads() -> tuple[ox.Quad, ...]:
    """The shipped ontology's triples, parsed once per process, with those of its mapping set
    (``ontology/mappings.sssom.tsv``: the cross-references are written there once, see :mod:`iimkg.graph.mappings`).
    """
    return tuple(_with_mappings(ontology_file(), parse_rdf_file(ontology_file())))


def _with_mappings(ontology: Path, quads: list[ox.Quad]) -> list[ox.Quad]:
    """An ontology file's triples plus those of the mapping set beside it, if there is one."""
    table = mappings_beside(ontology)
    if table.is_file():
        quads.extend(mapping_quads(read_mappings(table)))
    return quads


def ontology_quads(path: Path | None = None, *, input_format: str | None = None) -> tuple[ox.Quad, ...]:
    """An ontology's triples, parsed once per process and version of the file: the shipped one (``path`` None or
    the shipped file) or a fork, an extension… with the cross-references of the mapping set beside it
    (``mappings.sssom.tsv`` in the same folder), if there is one. Worker processes forked after a first call share
    the parse.

    :raises InputError: as :func:`parse_rdf_file`, or if the mapping set beside the file does not read.
    """
    if path is not None:
        require_file(Path(path))  # first: resolving a loop of symbolic links raises
    if path is None or (input_format is None and Path(path).resolve() == ontology_file().resolve()):
        return shipped_quads()
    path = Path(path)
    stat = path.stat()
    table = mappings_beside(path)
    table_stat = table.stat() if table.is_file() else None
    return _parsed_once(str(path.resolve()), input_format, stat.st_mtime_ns, stat.st_size,
                        (table_stat.st_mtime_ns, table_stat.st_size) if table_stat else None)


@cache
def _parsed_once(path: str, input_format: str | None, mtime_ns: int, size: int,
                 table_version: tuple[int, int] | None) -> tuple[ox.Quad, ...]:
    """``mtime_ns``, ``size`` and ``table_version`` are in the key so that an edited file is parsed again."""
    return tuple(_with_mappings(Path(path), parse_rdf_file(Path(path), input_format=input_format)))


def oxigraph_store(extra: Sequence[Path] = (), *, input_format: str | None = None) -> ox.Store:
    """A new in-memory store holding the shipped graph plus ``extra`` files in the default graph.

    Either every file loads or an :class:`InputError` is raised and no store is returned.
    """
    store = ox.Store()
    store.extend(shipped_quads())
    for path in extra:
        store.extend(parse_rdf_file(path, input_format=input_format))
    return store


@cache
def shared_store() -> ox.Store:
    """The shipped graph in one store shared by the query functions of this process (read-only use)."""
    return oxigraph_store()


def load(extra: Iterable[Path] = ()) -> rdflib.Graph:
    """The shipped graph (plus ``extra`` files) as a new :class:`rdflib.Graph`.

    Parsing goes through pyoxigraph (about 20x faster than rdflib's Turtle parser) and is cached
    per process; each call returns a fresh graph, so changing it never changes the next one.
    """
    import rdflib

    from iimkg.core.rdfterms import to_rdflib

    graph = rdflib.Graph()
    for prefix, namespace in _graph_prefixes().items():
        graph.bind(prefix, namespace)
    quads: list[ox.Quad] = list(shipped_quads())
    for path in extra:
        quads.extend(parse_rdf_file(Path(path)))
    graph.addN((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object), graph) for q in quads)
    return graph


def _graph_prefixes() -> dict[str, str]:
    """The prefixes bound on :func:`load`'s graph, from the one prefix map (rdflib binds its own W3C ones)."""
    from iimkg.core.prefixes import prefix_map

    known = prefix_map()
    return {name: known[name] for name in ("iim", "obo", "oboInOwl", "skos", "dcterms", "owl", "biolink")}

"""One engine-neutral RDF term type, so results from pyoxigraph and rdflib compare equal."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyoxigraph as ox

from iimkg.core.errors import InputError
from iimkg.core.messages import clip
from iimkg.core.vocab import RDF, XSD

if TYPE_CHECKING:
    import rdflib

__all__ = ["QuotedTripleError", "Term", "first_quoted_triple", "from_oxigraph", "from_rdflib", "quoted_triple_place",
           "to_oxigraph", "to_rdflib", "to_rdflib_term"]

RDF_LANGSTRING = RDF + "langString"


@dataclass(frozen=True, order=True)
class Term:
    """An RDF term as a value: ``kind`` is ``uri``, ``literal`` or ``bnode`` (the SPARQL JSON names)."""

    kind: Literal["uri", "literal", "bnode"]
    value: str
    datatype: str | None = None
    lang: str | None = None

    @property
    def python(self) -> Any:
        """The value as Python: numbers for numeric literals, bool for booleans, str otherwise."""
        if self.kind != "literal" or self.datatype is None:
            return self.value
        local = self.datatype.removeprefix(XSD)
        try:
            if local in {"integer", "int", "long", "short", "nonNegativeInteger", "positiveInteger"}:
                return int(self.value)
            if local == "decimal":
                return Decimal(self.value)
            if local in {"double", "float"}:
                return float(self.value)
            if local == "boolean":
                return self.value in {"true", "1"}
        except (ValueError, ArithmeticError):
            return self.value
        return self.value

    def to_json(self) -> dict[str, str]:
        """This term in the W3C SPARQL 1.1 Query Results JSON format."""
        out = {"type": self.kind, "value": self.value}
        if self.lang:
            out["xml:lang"] = self.lang
        elif self.datatype and self.datatype != XSD + "string":
            out["datatype"] = self.datatype
        return out

    def __str__(self) -> str:
        return self.value


def from_oxigraph(term: Any) -> Term:
    if isinstance(term, ox.NamedNode):
        return Term("uri", term.value)
    if isinstance(term, ox.BlankNode):
        return Term("bnode", term.value)
    if isinstance(term, ox.Literal):
        lang = term.language
        datatype = None if lang else term.datatype.value
        return Term("literal", term.value, datatype, lang.lower() if lang else None)
    raise TypeError(f"unsupported RDF term {term!r}")


def from_rdflib(term: Any) -> Term:
    import rdflib

    if isinstance(term, rdflib.URIRef):
        return Term("uri", str(term))
    if isinstance(term, rdflib.BNode):
        return Term("bnode", str(term))
    if isinstance(term, rdflib.Literal):
        lang = term.language
        if lang:
            return Term("literal", str(term), None, lang.lower())
        datatype = str(term.datatype) if term.datatype else XSD + "string"
        return Term("literal", str(term), datatype, None)
    raise TypeError(f"unsupported RDF term {term!r}")


class QuotedTripleError(InputError):
    """An RDF-star quoted triple (``<< s p o >>``) where rdflib (or pyshacl) would read it: rdflib 7 has no such
    term. pyoxigraph reads them; a caller that knows the file gives it (:meth:`in_file`)."""

    def __init__(self, triple: Any, *, reader: str = "the rdflib engine", path: Path | str | None = None,
                 line: int | None = None, column: int | None = None) -> None:
        self.triple = triple
        self.reader = reader
        super().__init__(f"RDF-star quoted triples (<< … >>) are not supported by {reader}: "
                         f"<< {clip(str(triple), 200)} >>",
                         path=path, line=line, column=column)

    @classmethod
    def of_quad(cls, quad: ox.Quad, *, reader: str = "the rdflib engine") -> QuotedTripleError:
        """The error for a quad whose subject or object is a quoted triple (:func:`first_quoted_triple`)."""
        return cls(quad.subject if isinstance(quad.subject, ox.Triple) else quad.object, reader=reader)

    def in_file(self, path: Path | str, *, reader: str | None = None) -> QuotedTripleError:
        """The same error naming ``path``, and the place of its first ``<<`` if the file shows one."""
        line, column = quoted_triple_place(path)
        return QuotedTripleError(self.triple, reader=reader or self.reader, path=path, line=line, column=column)


def first_quoted_triple(quads: Any) -> ox.Quad | None:
    """The first quad whose subject or object is a quoted triple, or None."""
    return next((q for q in quads if isinstance(q.subject, ox.Triple) or isinstance(q.object, ox.Triple)), None)


def quoted_triple_place(path: Path | str) -> tuple[int | None, int | None]:
    """The line and column of the first ``<<`` in a file (Turtle, TriG, N-Triples, N-Quads write a quoted triple
    so), or (None, None) if there is none or the file can't be read; a line at a time, so bounded in memory."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                at = line.find("<<")
                if at >= 0:
                    return number, at + 1
    except OSError:
        pass
    return None, None


def to_rdflib(term: Any) -> rdflib.term.Identifier:
    """Convert a pyoxigraph term to rdflib, keeping the lexical form of literals.

    :raises QuotedTripleError: for an RDF-star quoted triple, which rdflib has no term for.
    """
    import rdflib

    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return rdflib.Literal(term.value, lang=term.language)
        return rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value))
    if isinstance(term, ox.Triple):
        raise QuotedTripleError(term)
    raise TypeError(f"unsupported RDF term {term!r}")


def to_rdflib_term(term: Term) -> rdflib.term.Identifier:
    """An engine-neutral term as rdflib (through pyoxigraph, which checks IRIs and escapes literals)."""
    return to_rdflib(to_oxigraph(term))


def to_oxigraph(term: Term) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    if term.kind == "uri":
        return ox.NamedNode(term.value)
    if term.kind == "bnode":
        return ox.BlankNode(term.value)
    if term.lang:
        return ox.Literal(term.value, language=term.lang)
    return ox.Literal(term.value, datatype=ox.NamedNode(term.datatype or XSD + "string"))

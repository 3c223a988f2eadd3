"""The closed choices that cross the package: which engine runs a query or a check, which syntax a file is in.

Enums, not strings, so that the CLI's choices, the Python API and the code that branches on them cannot drift apart.
Each enum's values are what the CLI accepts.
"""

from __future__ import annotations

import enum

__all__ = ["Engine", "InputFormat"]


class Engine(str, enum.Enum):
    """SPARQL/SHACL engines. Both give the same rows and findings; oxigraph is fast, rdflib (pyshacl) the reference."""

    OXIGRAPH = "oxigraph"
    RDFLIB = "rdflib"


class InputFormat(str, enum.Enum):
    """RDF syntaxes read from files, as ``--input-format`` names them (the extension decides when none is given)."""

    TURTLE = "turtle"
    NTRIPLES = "ntriples"
    NQUADS = "nquads"
    TRIG = "trig"
    RDFXML = "rdfxml"
    JSONLD = "jsonld"
    N3 = "n3"

    @classmethod
    def parse(cls, name: str) -> InputFormat | None:
        """The format a user means by ``name``: a value, or a common alias (``ttl``, ``nt``, ``json-ld``, ``xml``)."""
        key = name.strip().lower()
        return _ALIASES.get(key) or next((f for f in cls if f.value == key), None)


_ALIASES = {
    "ttl": InputFormat.TURTLE, "nt": InputFormat.NTRIPLES, "n-triples": InputFormat.NTRIPLES,
    "rdf/xml": InputFormat.RDFXML, "xml": InputFormat.RDFXML, "owl": InputFormat.RDFXML,
    "json-ld": InputFormat.JSONLD, "n-quads": InputFormat.NQUADS,
}

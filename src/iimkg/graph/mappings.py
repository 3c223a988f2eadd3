"""The curated cross-references, written once in ``ontology/mappings.sssom.tsv`` and turned into triples here.

The ontology file holds no ``skos:*Match`` or ``oboInOwl:hasDbXref``: each cross-reference is one row of the
SSSOM table beside it, with its object's label and where it was seen. Loading adds, for every row, the SKOS
mapping triple, and for every row whose subject is a numbered term (``IIM_0000002``) the ``oboInOwl:hasDbXref``
CURIE that OBO tools and the code mapper read; the model's own classes and properties (aligned to Biolink and RO)
carry no database cross-reference. The table is read with :mod:`csv`, not ``sssom``: loading must stay fast
(``sssom`` and pandas take a second to import); ``tests/test_ontology.py`` parses it with ``sssom`` too.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pyoxigraph as ox

from iimkg.core.errors import InputError
from iimkg.core.prefixes import expand
from iimkg.core.vocab import IIM, OBOINOWL, SKOS

__all__ = ["MAPPING_SET_FILE", "SKOS_PREDICATES", "XREF", "Mapping", "mapping_quads", "mappings_beside",
           "read_mappings"]

MAPPING_SET_FILE = "mappings.sssom.tsv"
"""The name of an ontology file's mapping set, in the same folder."""
SKOS_PREDICATES = ("skos:exactMatch", "skos:closeMatch", "skos:broadMatch", "skos:narrowMatch", "skos:relatedMatch")
XREF = OBOINOWL + "hasDbXref"
_REQUIRED = ("subject_id", "subject_label", "predicate_id", "object_id", "object_label", "mapping_justification")
_NUMBERED_TERM = re.compile(r"IIM_[0-9]{7}")


@dataclass(frozen=True, order=True)
class Mapping:
    """One row of the mapping set (the columns the release's ``iim.sssom.tsv`` carries, plus provenance)."""

    subject_id: str
    predicate_id: str
    object_id: str
    subject_label: str
    object_label: str
    mapping_justification: str
    comment: str = ""

    @property
    def subject_iri(self) -> str:
        return expand(self.subject_id) or self.subject_id

    @property
    def object_iri(self) -> str:
        return expand(self.object_id) or self.object_id

    @property
    def has_xref(self) -> bool:
        """Whether the subject is a numbered term, which also gets the ``oboInOwl:hasDbXref`` of the object."""
        subject = self.subject_iri
        return subject.startswith(IIM) and _NUMBERED_TERM.fullmatch(subject[len(IIM):]) is not None


def mappings_beside(ontology: Path) -> Path:
    """Where the mapping set of an ontology file is: ``mappings.sssom.tsv`` in its folder."""
    return Path(ontology).parent / MAPPING_SET_FILE


@cache
def _read_cached(path: str, mtime_ns: int, size: int) -> tuple[Mapping, ...]:
    """``mtime_ns`` and ``size`` are in the key so that an edited table is read again."""
    where = Path(path)
    with where.open(encoding="utf-8", newline="") as handle:
        lines = [(number, line) for number, line in enumerate(handle, 1) if not line.startswith("#")]
    if not lines:
        raise InputError("the mapping set has no header row", path=where)
    header_number = lines[0][0]
    reader = csv.DictReader((line for _, line in lines), delimiter="\t", quoting=csv.QUOTE_NONE)
    missing = [c for c in _REQUIRED if c not in (reader.fieldnames or ())]
    if missing:
        raise InputError(f"the mapping set lacks the column(s) {', '.join(missing)}", path=where, line=header_number)
    rows = []
    for (number, _), row in zip(lines[1:], reader, strict=True):
        mapping = Mapping(row["subject_id"], row["predicate_id"], row["object_id"], row["subject_label"],
                          row["object_label"], row["mapping_justification"], row.get("comment") or "")
        for curie in (mapping.subject_id, mapping.object_id):
            if expand(curie) is None:
                raise InputError(f"{curie!r} has no prefix in ontology/prefixes.tsv; add its prefix there",
                                 path=where, line=number)
        if not mapping.subject_iri.startswith(IIM):
            raise InputError(f"the subject {mapping.subject_id} is not an iimkg term; a mapping set maps ours",
                             path=where, line=number)
        if mapping.predicate_id not in SKOS_PREDICATES:
            raise InputError(f"the predicate {mapping.predicate_id!r} is not one of {', '.join(SKOS_PREDICATES)}",
                             path=where, line=number)
        rows.append(mapping)
    pairs = [(m.subject_id, m.object_id) for m in rows]
    if len(set(pairs)) != len(pairs):
        twice = sorted({p for p in pairs if pairs.count(p) > 1})
        raise InputError(f"{twice[0][0]} is mapped to {twice[0][1]} twice; keep the one predicate that holds",
                         path=where)
    return tuple(rows)


def read_mappings(path: Path) -> tuple[Mapping, ...]:
    """The rows of a mapping set, read once per version of the file.

    :raises InputError: if a column is missing, a CURIE has an unknown prefix, a subject is not ours, the
        predicate is not a SKOS mapping predicate, or a pair is mapped twice.
    """
    stat = Path(path).stat()
    return _read_cached(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


def mapping_quads(rows: Iterable[Mapping]) -> list[ox.Quad]:
    """The triples the rows stand for: the SKOS mapping, and the database cross-reference of numbered terms."""
    quads = []
    for row in rows:
        subject = ox.NamedNode(row.subject_iri)
        predicate = ox.NamedNode(SKOS + row.predicate_id.removeprefix("skos:"))
        quads.append(ox.Quad(subject, predicate, ox.NamedNode(row.object_iri)))
        if row.has_xref:
            quads.append(ox.Quad(subject, ox.NamedNode(XREF), ox.Literal(row.object_id)))
    return quads

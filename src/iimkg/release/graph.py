"""The graph a release is made of: canonical blank nodes, the dated header of each artefact, and a view of its terms."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import pyoxigraph as ox

from iimkg.core.errors import IimkgError
from iimkg.core.vocab import DCTERMS, IIM, OBO, ONTOLOGY_IRI, OWL, RDF, RDFS, SKOS, XSD

__all__ = [
    "IIM",
    "ONTOLOGY_IRI",
    "ReleaseError",
    "ReleaseGraph",
    "Term",
    "base_subset",
    "canonical_triples",
    "check_version",
    "nt",
    "ontology_iri_of",
    "version_iri_of",
    "with_header",
]


RDF_TYPE = ox.NamedNode(RDF + "type")
RDFS_LABEL = RDFS + "label"
OWL_ONTOLOGY = ox.NamedNode(OWL + "Ontology")
OWL_VERSION_IRI = ox.NamedNode(OWL + "versionIRI")
OWL_VERSION_INFO = ox.NamedNode(OWL + "versionInfo")
OWL_DEPRECATED = OWL + "deprecated"
TERM_REPLACED_BY = OBO + "IAO_0100001"
CLINICAL_STATEMENT = IIM + "ClinicalStatement"
BIBLIOGRAPHIC_RESOURCE = DCTERMS + "BibliographicResource"

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")

Subject = ox.NamedNode | ox.BlankNode | ox.Triple
Object = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple


class ReleaseError(IimkgError):
    """A release cannot be built from these sources; the message says what to fix. Nothing was written."""


def check_version(version: str) -> str:
    """``version`` itself if it is an ISO 8601 calendar date (``YYYY-MM-DD``), as OBO principle 4 asks.

    :raises ReleaseError: if it is not.
    """
    if not _DATE.match(version):
        raise ReleaseError(f"the release version {version!r} is not a date of the form YYYY-MM-DD (e.g. 2026-11-25)")
    try:
        date.fromisoformat(version)
    except ValueError:
        raise ReleaseError(f"the release version {version!r} is not a calendar date") from None
    return version


def ontology_iri_of(name: str) -> str:
    """The ontology IRI of an artefact: ``https://w3id.org/iimkg/iim-base.owl`` for ``iim-base.owl`` (as ODK does)."""
    return IIM + name


def version_iri_of(version: str, name: str) -> str:
    """The dated version IRI of an artefact: ``https://w3id.org/iimkg/releases/2026-11-25/iim.owl``."""
    return f"{IIM}releases/{version}/{name}"


def nt(term: object) -> str:
    """A term in N-Triples syntax, the key that every ordering in a release sorts by."""
    return str(term)


def with_header(triples: Iterable[ox.Triple], *, name: str, version: str) -> list[ox.Triple]:
    """The triples with the ontology header of artefact ``name``: its own ontology IRI and a dated version.

    The shipped ontology's ``owl:versionIRI`` and ``owl:versionInfo`` are replaced, so ``--version`` changes the
    artefacts only, never ``ontology/iim.ttl``.
    """
    source = ox.NamedNode(ONTOLOGY_IRI)
    target = ox.NamedNode(ontology_iri_of(name))
    out: list[ox.Triple] = []
    for t in triples:
        if t.subject == source:
            if t.predicate in (OWL_VERSION_IRI, OWL_VERSION_INFO):
                continue
            out.append(ox.Triple(target, t.predicate, t.object))
        else:
            out.append(t)
    out.append(ox.Triple(target, RDF_TYPE, OWL_ONTOLOGY))
    out.append(ox.Triple(target, OWL_VERSION_IRI, ox.NamedNode(version_iri_of(version, name))))
    out.append(ox.Triple(target, OWL_VERSION_INFO, ox.Literal(version)))
    return sorted(set(out), key=lambda t: (nt(t.subject), nt(t.predicate), nt(t.object)))


def canonical_triples(triples: Iterable[ox.Triple]) -> list[ox.Triple]:
    """The triples with blank nodes renamed after what they are and where they hang, then sorted.

    A blank node's new name is a hash of its content (its own triples, nested blank nodes included) and of the
    subject and predicate that point at it; two blank nodes with the same name are interchangeable, so any
    order between them gives the same bytes. Names do not depend on parse order or ``PYTHONHASHSEED``, and
    adding a triple elsewhere leaves them alone, so release files diff cleanly. Graphs whose blank nodes form
    a cycle fall back to Oxigraph's canonicalisation.
    """
    unique = set(triples)
    outgoing: dict[ox.BlankNode, list[ox.Triple]] = defaultdict(list)
    incoming: dict[ox.BlankNode, list[ox.Triple]] = defaultdict(list)
    blanks: set[ox.BlankNode] = set()
    for t in unique:
        if isinstance(t.subject, ox.BlankNode):
            outgoing[t.subject].append(t)
            blanks.add(t.subject)
        if isinstance(t.object, ox.BlankNode):
            incoming[t.object].append(t)
            blanks.add(t.object)
    try:
        names = _blank_names(blanks, outgoing, incoming)
    except _Cycle:
        dataset = ox.Dataset(ox.Quad(t.subject, t.predicate, t.object) for t in unique)
        dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
        return sorted((ox.Triple(q.subject, q.predicate, q.object) for q in dataset),
                      key=lambda t: (nt(t.subject), nt(t.predicate), nt(t.object)))

    def rename(term: ox.NamedNode | ox.BlankNode | ox.Literal) -> ox.NamedNode | ox.BlankNode | ox.Literal:
        return names[term] if isinstance(term, ox.BlankNode) else term

    renamed = {ox.Triple(rename(t.subject), t.predicate, rename(t.object)) for t in unique}  # type: ignore[arg-type]
    return sorted(renamed, key=lambda t: (nt(t.subject), nt(t.predicate), nt(t.object)))


class _Cycle(Exception):
    pass


def _blank_names(blanks: set[ox.BlankNode], outgoing: dict[ox.BlankNode, list[ox.Triple]],
                 incoming: dict[ox.BlankNode, list[ox.Triple]]) -> dict[ox.BlankNode, ox.BlankNode]:
    content: dict[ox.BlankNode, str] = {}

    def signature(node: ox.BlankNode, path: frozenset[ox.BlankNode]) -> str:
        if node in content:
            return content[node]
        if node in path:
            raise _Cycle
        parts = sorted(
            f"{nt(t.predicate)} "
            + (f"[{signature(t.object, path | {node})}]" if isinstance(t.object, ox.BlankNode) else nt(t.object))
            for t in outgoing.get(node, ()))
        content[node] = " ; ".join(parts)
        return content[node]

    # Name blank nodes top-down, a layer at a time, so that a node's name uses its parents' final names: two
    # nodes that tie (same content, same parents, same predicates) are interchangeable, and so are their subtrees.
    names: dict[ox.BlankNode, ox.BlankNode] = {}
    pending = set(blanks)
    while pending:
        ready = [node for node in pending
                 if all(not isinstance(t.subject, ox.BlankNode) or t.subject in names for t in incoming.get(node, ()))]
        if not ready:
            raise _Cycle
        groups: dict[str, list[ox.BlankNode]] = defaultdict(list)
        for node in ready:
            contexts = sorted(f"{nt(names[t.subject] if isinstance(t.subject, ox.BlankNode) else t.subject)} "
                              f"{nt(t.predicate)}" for t in incoming.get(node, ()))
            text = "|".join(contexts) + "\n" + signature(node, frozenset())
            groups[hashlib.sha256(text.encode()).hexdigest()].append(node)
        for digest, members in groups.items():
            for index, node in enumerate(members):
                names[node] = ox.BlankNode(f"b{digest[:16]}" + (f"x{index}" if len(members) > 1 else ""))
        pending.difference_update(ready)
    return names


@dataclass(frozen=True)
class Term:
    """One resource of our namespace, as the term list, the diff and the documentation see it."""

    iri: str
    kind: str
    label: str
    deprecated: bool
    replaced_by: str

    @property
    def local(self) -> str:
        return self.iri[len(IIM):]


KIND_ORDER = ("class", "object property", "data property", "annotation property", "controlled value",
              "concept scheme", "statement", "source", "individual")


@dataclass
class ReleaseGraph:
    """Indexes over a set of triples, for the artefacts that describe terms (mappings, docs, term list)."""

    triples: Sequence[ox.Triple]
    by_subject: dict[Subject, list[ox.Triple]] = field(default_factory=lambda: defaultdict(list))
    by_object: dict[Object, list[ox.Triple]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        for t in self.triples:
            self.by_subject[t.subject].append(t)
            self.by_object[t.object].append(t)

    def objects(self, subject: Subject, predicate: str) -> list[Object]:
        return [t.object for t in self.by_subject.get(subject, ()) if t.predicate.value == predicate]

    def types(self, subject: Subject) -> set[str]:
        return {o.value for o in self.objects(subject, RDF + "type") if isinstance(o, ox.NamedNode)}

    def label(self, iri: str, language: str = "en") -> str:
        """The label in ``language``, else one without a language, else the first in order, else ``""``."""
        labels = [o for o in self.objects(ox.NamedNode(iri), RDFS_LABEL) if isinstance(o, ox.Literal)]
        for wanted in (language, None):
            for literal in labels:
                if (literal.language or None) == wanted:
                    return literal.value
        return labels[0].value if labels else ""

    @cached_property
    def statement_classes(self) -> frozenset[str]:
        """``iim:ClinicalStatement`` and every class asserted below it."""
        found = {CLINICAL_STATEMENT}
        frontier = [CLINICAL_STATEMENT]
        while frontier:
            parent = ox.NamedNode(frontier.pop())
            for t in self.by_object.get(parent, ()):
                if t.predicate.value == RDFS + "subClassOf" and isinstance(t.subject, ox.NamedNode) \
                        and t.subject.value not in found:
                    found.add(t.subject.value)
                    frontier.append(t.subject.value)
        return frozenset(found)

    def kind(self, iri: str) -> str:
        types = self.types(ox.NamedNode(iri))
        if OWL + "Class" in types:
            return "class"
        for owl_type, kind in (("ObjectProperty", "object property"), ("DatatypeProperty", "data property"),
                               ("AnnotationProperty", "annotation property")):
            if OWL + owl_type in types:
                return kind
        if types & self.statement_classes:
            return "statement"
        if BIBLIOGRAPHIC_RESOURCE in types:
            return "source"
        if SKOS + "ConceptScheme" in types:
            return "concept scheme"
        if types - {OWL + "NamedIndividual"}:
            return "controlled value"
        return "individual"

    def deprecated(self, iri: str) -> bool:
        return any(isinstance(o, ox.Literal) and o.value in {"true", "1"}
                   for o in self.objects(ox.NamedNode(iri), OWL_DEPRECATED))

    def replaced_by(self, iri: str) -> str:
        return " ".join(sorted(o.value for o in self.objects(ox.NamedNode(iri), TERM_REPLACED_BY)
                               if isinstance(o, ox.NamedNode)))

    @cached_property
    def terms(self) -> list[Term]:
        """Every resource of our namespace that the graph describes, but the ontology itself, sorted by IRI."""
        iris = sorted({s.value for s in self.by_subject if isinstance(s, ox.NamedNode) and s.value.startswith(IIM)
                       and not self._is_ontology(s)})
        return [Term(iri, self.kind(iri), self.label(iri), self.deprecated(iri), self.replaced_by(iri))
                for iri in iris]

    def _is_ontology(self, node: ox.NamedNode) -> bool:
        return OWL + "Ontology" in self.types(node)

    @cached_property
    def ontology(self) -> ox.NamedNode:
        """The ``owl:Ontology`` of the graph."""
        found = sorted(s.value for s in self.by_subject if isinstance(s, ox.NamedNode) and self._is_ontology(s))
        if len(found) != 1:
            raise ReleaseError(f"the ontology must declare exactly one owl:Ontology, not {len(found)}")
        return ox.NamedNode(found[0])

    def header_value(self, predicate: ox.NamedNode) -> str:
        values = sorted(o.value for o in self.objects(self.ontology, predicate.value)
                        if isinstance(o, ox.NamedNode | ox.Literal))
        return values[0] if values else ""


_DECLARATION_TYPES = {OWL + "Class", OWL + "ObjectProperty", OWL + "DatatypeProperty", OWL + "AnnotationProperty"}
_BUILT_IN_NAMESPACES = (RDF, RDFS, OWL, XSD)


def base_subset(triples: Sequence[ox.Triple]) -> list[ox.Triple]:
    """The OBO base module: only axioms about our own terms.

    Kept: every triple whose subject is in our namespace (the header included), the blank nodes those triples
    reach (restrictions, unions, lists), axioms on anonymous roots that name only our terms (``AllDisjointClasses``),
    and the bare declaration (``rdf:type owl:AnnotationProperty`` …) of each external entity they use, which OWL 2
    DL needs; the external entities' own labels and axioms are left to their ontologies.
    """
    by_subject: dict[object, list[ox.Triple]] = defaultdict(list)
    has_incoming: set[object] = set()
    for t in triples:
        by_subject[t.subject].append(t)
        if isinstance(t.object, ox.BlankNode):
            has_incoming.add(t.object)

    def closure(start: object) -> list[ox.Triple]:
        found: list[ox.Triple] = []
        stack, seen = [start], set()
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            for t in by_subject.get(node, ()):
                found.append(t)
                if isinstance(t.object, ox.BlankNode):
                    stack.append(t.object)
        return found

    def ours_or_built_in(term: object) -> bool:
        return not isinstance(term, ox.NamedNode) or term.value.startswith((IIM, *_BUILT_IN_NAMESPACES))

    kept: set[ox.Triple] = set()
    for subject in by_subject:
        if isinstance(subject, ox.NamedNode) and subject.value.startswith(IIM):
            kept.update(closure(subject))
        elif isinstance(subject, ox.BlankNode) and subject not in has_incoming:
            axiom = closure(subject)
            if all(ours_or_built_in(t.predicate) and ours_or_built_in(t.object) for t in axiom):
                kept.update(axiom)
    used = {term.value for t in kept for term in (t.predicate, t.object) if isinstance(term, ox.NamedNode)}
    for t in triples:
        if isinstance(t.subject, ox.NamedNode) and t.subject.value in used and t.predicate == RDF_TYPE \
                and isinstance(t.object, ox.NamedNode) and t.object.value in _DECLARATION_TYPES \
                and not t.subject.value.startswith(IIM):
            kept.add(t)
    return sorted(kept, key=lambda t: (nt(t.subject), nt(t.predicate), nt(t.object)))

"""Byte-stable RDF files: N-Triples, Turtle, RDF/XML and JSON-LD written from canonical triples in a fixed order.

rdflib's serialisers change their output with ``PYTHONHASHSEED``; these writers take canonical triples
(:func:`iimkg.release.graph.canonical_triples`) and order subjects, predicates and objects themselves, so the
same triples always give the same bytes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence

import pyoxigraph as ox

from iimkg.core.prefixes import compact, prefix_map
from iimkg.core.vocab import DCTERMS, OBO, OBOINOWL, OWL, RDF, RDFS, SKOS, XSD
from iimkg.release.graph import nt

__all__ = ["context", "jsonld", "ntriples", "rdfxml", "turtle"]

_PREDICATE_ORDER = (
    RDF + "type", RDFS + "label", OBOINOWL + "hasExactSynonym", OBOINOWL + "hasRelatedSynonym",
    OBO + "IAO_0000115", RDFS + "comment", RDFS + "subClassOf", OWL + "equivalentClass", RDFS + "domain",
    RDFS + "range",
)
_PREDICATE_LAST = (
    SKOS + "exactMatch", SKOS + "closeMatch", SKOS + "broadMatch", SKOS + "narrowMatch", SKOS + "relatedMatch",
    OBOINOWL + "hasDbXref", DCTERMS + "source", RDFS + "isDefinedBy",
)


def _predicate_key(predicate: ox.NamedNode) -> tuple[int, str]:
    iri = predicate.value
    if iri in _PREDICATE_ORDER:
        return (_PREDICATE_ORDER.index(iri), "")
    if iri in _PREDICATE_LAST:
        return (len(_PREDICATE_ORDER) + 1 + _PREDICATE_LAST.index(iri), "")
    return (len(_PREDICATE_ORDER), iri)


def _subject_key(subject: object, header: ox.NamedNode | None) -> tuple[int, str]:
    if subject == header:
        return (0, "")
    return (2 if isinstance(subject, ox.BlankNode) else 1, nt(subject))


def _object_key(node: object) -> tuple[int, str]:
    """Objects in N-Triples order, but English literals first, as a reader looks for them."""
    return (0 if isinstance(node, ox.Literal) and node.language == "en" else 1, nt(node))


def _grouped(triples: Sequence[ox.Triple], header: ox.NamedNode | None) -> list[tuple[object, list[ox.Triple]]]:
    by_subject: dict[object, list[ox.Triple]] = defaultdict(list)
    for t in triples:
        by_subject[t.subject].append(t)
    return [(subject, sorted(by_subject[subject], key=lambda t: (_predicate_key(t.predicate), _object_key(t.object))))
            for subject in sorted(by_subject, key=lambda s: _subject_key(s, header))]


def _ordered(triples: Sequence[ox.Triple], header: ox.NamedNode | None) -> list[ox.Triple]:
    return [t for _, group in _grouped(triples, header) for t in group]


def ntriples(triples: Sequence[ox.Triple]) -> bytes:
    """Sorted N-Triples, one line per triple: the form to diff and to checksum."""
    text = (ox.serialize([ox.Triple(t.subject, t.predicate, t.object) for t in triples],
                         format=ox.RdfFormat.N_TRIPLES) or b"").decode("utf-8")
    return "".join(line + "\n" for line in sorted(set(text.splitlines())) if line).encode("utf-8")


def rdfxml(triples: Sequence[ox.Triple], *, header: ox.NamedNode) -> bytes:
    """RDF/XML (the OBO primary format) with the ontology header first and typed elements for every subject."""
    used = {p for p, ns in prefix_map().items() if ns.endswith(("/", "#"))}
    return ox.serialize(_ordered(triples, header), format=ox.RdfFormat.RDF_XML,
                        prefixes={p: prefix_map()[p] for p in sorted(used)}) or b""


def turtle(triples: Sequence[ox.Triple], *, header: ox.NamedNode, comment: str) -> bytes:
    """Turtle in the order of the source's style guide: header first, ``a`` first, labels, definition, axioms,
    cross-references, ``rdfs:isDefinedBy`` last; blank nodes used once are written inline, lists as ``( … )``."""
    groups = _grouped(triples, header)
    by_subject = dict(groups)
    references: dict[ox.BlankNode, int] = defaultdict(int)
    for t in triples:
        if isinstance(t.object, ox.BlankNode):
            references[t.object] += 1
    used_prefixes: set[str] = set()

    def term(node: object) -> str:
        if isinstance(node, ox.NamedNode):
            name = compact(node.value, strict=True)
            if name:
                used_prefixes.add(name.split(":", 1)[0])
                return name
            return nt(node)
        if isinstance(node, ox.Literal) and node.language is None and node.datatype.value != XSD + "string":
            datatype = compact(node.datatype.value, strict=True)
            if datatype:
                used_prefixes.add(datatype.split(":", 1)[0])
                return nt(ox.Literal(node.value)) + "^^" + datatype
        return nt(node)

    def inline(node: ox.BlankNode) -> bool:
        return references.get(node, 0) == 1

    def as_list(node: ox.BlankNode) -> list[object] | None:
        items: list[object] = []
        current: object = node
        seen: set[object] = set()
        while current != ox.NamedNode(RDF + "nil"):
            if not isinstance(current, ox.BlankNode) or current in seen or references.get(current, 0) != 1:
                return None
            seen.add(current)
            group = by_subject.get(current, [])
            predicates = sorted(t.predicate.value for t in group)
            if predicates != [RDF + "first", RDF + "rest"]:
                return None
            items.append(next(t.object for t in group if t.predicate.value == RDF + "first"))
            current = next(t.object for t in group if t.predicate.value == RDF + "rest")
        return items

    def value(node: object, depth: int) -> str:
        if isinstance(node, ox.BlankNode) and inline(node):
            items = as_list(node)
            if items is not None:
                return "( " + " ".join(value(item, depth + 1) for item in items) + " )"
            body = properties(by_subject.get(node, []), depth + 1)
            return "[\n" + body + "\n" + "    " * depth + "]"
        return term(node)

    def properties(group: list[ox.Triple], depth: int) -> str:
        lines: list[str] = []
        by_predicate: dict[ox.NamedNode, list[object]] = defaultdict(list)
        for t in group:
            by_predicate[t.predicate].append(t.object)
        for predicate in sorted(by_predicate, key=_predicate_key):
            name = "a" if predicate.value == RDF + "type" else term(predicate)
            objects = " , ".join(value(o, depth) for o in by_predicate[predicate])
            lines.append("    " * depth + f"{name} {objects}")
        return " ;\n".join(lines)

    blocks: list[str] = []
    for subject, group in groups:
        if isinstance(subject, ox.BlankNode) and (inline(subject) or as_list(subject) is not None):
            continue  # written where it is used
        if isinstance(subject, ox.BlankNode) and references.get(subject, 0) == 0:
            blocks.append("[\n" + properties(group, 1) + "\n] .")
        else:
            name = nt(subject) if subject == header else term(subject)
            blocks.append(name + "\n" + properties(group, 1) + " .")
    head = [f"# {line}".rstrip() for line in comment.splitlines()]
    head += [f"@prefix {p}: <{prefix_map()[p]}> ." for p in sorted(used_prefixes, key=str.lower)]
    return ("\n".join(head) + "\n\n" + "\n\n".join(blocks) + "\n").encode("utf-8")


def context() -> dict[str, object]:
    """The JSON-LD 1.1 context of the release: every prefix, with ``@prefix`` where the namespace ends in ``_``."""
    entries: dict[str, object] = {"@version": 1.1}
    for prefix, namespace in prefix_map().items():
        entries[prefix] = namespace if namespace.endswith(("/", "#")) else {"@id": namespace, "@prefix": True}
    return entries


def jsonld(triples: Sequence[ox.Triple]) -> bytes:
    """Flattened JSON-LD with the release context inline: one node object per subject, sorted, lexical forms kept."""
    def iri(value: str) -> str:
        return compact(value, strict=False) or value

    def node_id(node: object) -> str:
        if isinstance(node, ox.BlankNode):
            return f"_:{node.value}"
        assert isinstance(node, ox.NamedNode)
        return iri(node.value)

    def literal(node: ox.Literal) -> dict[str, str]:
        if node.language:
            return {"@value": node.value, "@language": node.language}
        if node.datatype.value == XSD + "string":
            return {"@value": node.value}
        return {"@value": node.value, "@type": iri(node.datatype.value)}

    graph: list[dict[str, object]] = []
    for subject, group in _grouped(triples, None):
        node: dict[str, object] = {"@id": node_id(subject)}
        types = [node_id(t.object) for t in group if t.predicate.value == RDF + "type"
                 and isinstance(t.object, ox.NamedNode)]
        if types:
            node["@type"] = types
        for t in group:
            if t.predicate.value == RDF + "type" and isinstance(t.object, ox.NamedNode):
                continue
            values = node.setdefault(iri(t.predicate.value), [])
            assert isinstance(values, list)
            values.append(literal(t.object) if isinstance(t.object, ox.Literal) else {"@id": node_id(t.object)})
        graph.append(node)
    document = {"@context": context(), "@graph": graph}
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")

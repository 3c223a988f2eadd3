"""Static HTML documentation of a release: one page, one anchor per term, with the statements that use each term.

pyLODE was tried first: the releases on PyPI for Python 3.11 either fail at import (3.4.1 reads a
``pyproject.toml`` the wheel lacks) or (3.3.4) name anchors after a random-language label, change their
bytes from run to run, and do not list the statements that use a term; newer releases need Python 3.12.
So the page is written here, from the same canonical triples as the other artefacts.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Sequence

import pyoxigraph as ox

from iimkg.core.prefixes import compress
from iimkg.core.vocab import DCTERMS, IIM, OBO, OBOINOWL, OWL, RDF, RDFS, SKOS
from iimkg.release.changes import plural
from iimkg.release.graph import KIND_ORDER, ReleaseGraph, Term

__all__ = ["documentation_page"]

IIM_STATEMENT_TEXT = IIM + "statementText"
_SHOWN_APART = {
    RDF + "type", RDFS + "label", OBO + "IAO_0000115", RDFS + "comment", OBOINOWL + "hasExactSynonym",
    OBOINOWL + "hasRelatedSynonym", RDFS + "subClassOf", RDFS + "domain", RDFS + "range", OWL + "deprecated",
    OBO + "IAO_0100001", OBOINOWL + "hasDbXref", IIM_STATEMENT_TEXT, RDFS + "isDefinedBy",
    *(SKOS + m for m in ("exactMatch", "closeMatch", "broadMatch", "narrowMatch", "relatedMatch")),
}
_CHARACTERISTICS = {OWL + "FunctionalProperty": "functional", OWL + "InverseFunctionalProperty": "inverse functional",
                    OWL + "TransitiveProperty": "transitive", OWL + "SymmetricProperty": "symmetric"}
_STYLE = """
body { font-family: system-ui, sans-serif; line-height: 1.45; margin: 0 auto; max-width: 60rem; padding: 1rem; }
h1 { margin-bottom: .2rem; } h2 { border-bottom: 2px solid #ccc; margin-top: 2.5rem; }
article { border-top: 1px solid #ddd; padding: .4rem 0; } article h3 { margin: .4rem 0; }
article:target { background: #fff8d6; }
dl { display: grid; grid-template-columns: 12rem 1fr; gap: .15rem 1rem; margin: .3rem 0; }
dt { color: #555; } dd { margin: 0; } code { font-size: .9em; } .lang { color: #777; font-size: .8em; }
.deprecated { color: #a00; font-weight: bold; } ul { margin: 0; padding-left: 1.2rem; }
nav ul { columns: 2; } .note { background: #f3f3f3; padding: .5rem; }
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


class _Page:
    def __init__(self, graph: ReleaseGraph, external_labels: dict[str, str]) -> None:
        self.graph = graph
        self.external_labels = external_labels
        self.documented = {t.iri: t for t in graph.terms}
        self.by_predicate: dict[str, list[ox.Triple]] = defaultdict(list)
        for t in graph.triples:
            self.by_predicate[t.predicate.value].append(t)
        self.disjoint: dict[str, set[str]] = defaultdict(set)
        for t in self.by_predicate.get(OWL + "members", []):
            members = [m.value for m in self._list(t.object) if isinstance(m, ox.NamedNode)]
            for member in members:
                self.disjoint[member].update(m for m in members if m != member)
        for t in self.by_predicate.get(OWL + "disjointWith", []):
            if isinstance(t.subject, ox.NamedNode) and isinstance(t.object, ox.NamedNode):
                self.disjoint[t.subject.value].add(t.object.value)
                self.disjoint[t.object.value].add(t.subject.value)

    def _list(self, node: object) -> list[object]:
        items: list[object] = []
        seen: set[object] = set()
        while isinstance(node, ox.BlankNode) and node not in seen:
            seen.add(node)
            first = self.graph.objects(node, RDF + "first")
            rest = self.graph.objects(node, RDF + "rest")
            if not first or not rest:
                break
            items.append(first[0])
            node = rest[0]
        return items

    def name(self, iri: str) -> str:
        """How a term is shown: its English label, else a statement's identifier, else its CURIE."""
        label = self.graph.label(iri)
        if label:
            return label
        identifiers = self.graph.objects(ox.NamedNode(iri), DCTERMS + "identifier")
        if identifiers and iri in self.documented:
            return str(getattr(identifiers[0], "value", ""))
        if iri in self.external_labels:
            return self.external_labels[iri]
        citations = self.graph.objects(ox.NamedNode(iri), DCTERMS + "bibliographicCitation")
        if citations:
            return str(getattr(citations[0], "value", ""))
        return compress(iri) or iri

    def link(self, node: object) -> str:
        if isinstance(node, ox.NamedNode):
            iri = node.value
            curie = compress(iri)
            if iri in self.documented:
                local = iri[len(IIM):]
                return f'<a href="#{_e(local)}">{_e(self.name(iri))}</a>'
            label = self.name(iri)
            shown = _e(label) + (f" <code>{_e(curie)}</code>" if curie and curie != label else "")
            return f'<a href="{_e(iri)}">{shown}</a>'
        if isinstance(node, ox.Literal):
            lang = f' <span class="lang">@{_e(node.language)}</span>' if node.language else ""
            return _e(node.value) + lang
        if isinstance(node, ox.BlankNode):
            return self.expression(node)
        return _e(str(node))

    def expression(self, node: ox.BlankNode) -> str:
        """A class expression in words (``has causative agent some Mycobacterium tuberculosis``)."""
        objects = {t.predicate.value: t.object for t in self.graph.by_subject.get(node, [])}
        on = objects.get(OWL + "onProperty")
        for key, word in (("someValuesFrom", "some"), ("allValuesFrom", "only"), ("hasValue", "value")):
            if on is not None and OWL + key in objects:
                return f"{self.link(on)} {word} {self.link(objects[OWL + key])}"
        for key, word in (("unionOf", " or "), ("intersectionOf", " and "), ("oneOf", ", ")):
            if OWL + key in objects:
                return "(" + word.join(self.link(item) for item in self._list(objects[OWL + key])) + ")"
        if OWL + "complementOf" in objects:
            return "not " + self.link(objects[OWL + "complementOf"])
        return "(anonymous class expression)"

    def _values(self, iri: str, predicate: str) -> list[object]:
        return sorted(self.graph.objects(ox.NamedNode(iri), predicate), key=str)

    def article(self, term: Term) -> str:
        iri, subject = term.iri, ox.NamedNode(term.iri)
        rows: list[tuple[str, str]] = [("IRI", f'<a href="{_e(iri)}"><code>{_e(iri)}</code></a>')]
        if term.deprecated:
            replaced = ", ".join(self.link(o) for o in self._values(iri, OBO + "IAO_0100001"))
            rows.append(("Deprecated", '<span class="deprecated">yes</span>'
                         + (f"; replaced by {replaced}" if replaced else "")))
        labels = sorted(self.graph.objects(subject, RDFS + "label"),
                        key=lambda o: (getattr(o, "language", "") != "en", str(o)))
        if labels:
            rows.append(("Labels", ", ".join(self.link(o) for o in labels)))
        for predicate, title in ((OBO + "IAO_0000115", "Definition"), (IIM_STATEMENT_TEXT, "Statement"),
                                 (OBOINOWL + "hasExactSynonym", "Exact synonyms"),
                                 (OBOINOWL + "hasRelatedSynonym", "Related synonyms"),
                                 (RDFS + "comment", "Comment")):
            values = self._values(iri, predicate)
            if values:
                rows.append((title, "<br>".join(self.link(o) for o in values)))
        types = [o for o in self._values(iri, RDF + "type") if getattr(o, "value", "") != OWL + "NamedIndividual"]
        characteristics = [_CHARACTERISTICS[o.value] for o in types if isinstance(o, ox.NamedNode)
                           and o.value in _CHARACTERISTICS]
        if term.kind not in {"class"} and types:
            rows.append(("Type", ", ".join(self.link(o) for o in types if getattr(o, "value", "")
                                           not in _CHARACTERISTICS)))
        if characteristics:
            rows.append(("Characteristics", ", ".join(characteristics)))
        for predicate, title in ((RDFS + "subClassOf", "Subclass of"), (RDFS + "domain", "Domain"),
                                 (RDFS + "range", "Range")):
            values = self._values(iri, predicate)
            if values:
                rows.append((title, "<br>".join(self.link(o) for o in values)))
        children = sorted({t.subject.value for t in self.graph.by_object.get(subject, [])
                           if t.predicate.value == RDFS + "subClassOf" and isinstance(t.subject, ox.NamedNode)})
        if children:
            rows.append(("Subclasses", ", ".join(self.link(ox.NamedNode(c)) for c in children)))
        if self.disjoint.get(iri):
            rows.append(("Disjoint with", ", ".join(self.link(ox.NamedNode(c)) for c in sorted(self.disjoint[iri]))))
        mappings = [(t.predicate.value[len(SKOS):], t.object) for t in self.graph.by_subject.get(subject, [])
                    if t.predicate.value.startswith(SKOS) and t.predicate.value.endswith("Match")]
        if mappings:
            rows.append(("Mappings", "<ul>" + "".join(
                f"<li>{_e(predicate)} {self.link(obj)}</li>"
                for predicate, obj in sorted(mappings, key=lambda m: (m[0], str(m[1])))) + "</ul>"))
        xrefs = self._values(iri, OBOINOWL + "hasDbXref")
        if xrefs:
            rows.append(("Cross-references", ", ".join(f"<code>{self.link(o)}</code>" for o in xrefs)))
        others = sorted((t for t in self.graph.by_subject.get(subject, []) if t.predicate.value not in _SHOWN_APART),
                        key=lambda t: (self.name(t.predicate.value), str(t.object)))
        if others:
            rows.append(("Parts" if term.kind == "statement" else "Other annotations", "<ul>" + "".join(
                f"<li>{self.link(t.predicate)}: {self.link(t.object)}</li>" for t in others) + "</ul>"))
        rows += self.uses(term)
        body = "".join(f"<dt>{title}</dt><dd>{value}</dd>" for title, value in rows)
        curie = compress(iri) or iri
        return (f'<article id="{_e(term.local)}"><h3>{_e(self.name(iri))} <code>{_e(curie)}</code></h3>'
                f"<dl>{body}</dl></article>\n")

    def uses(self, term: Term) -> list[tuple[str, str]]:
        """The statements (and other terms) that point at this term, or that use it as their predicate."""
        subject = ox.NamedNode(term.iri)
        statements: dict[str, set[str]] = defaultdict(set)
        others: dict[str, set[str]] = defaultdict(set)
        pointing = [t for t in self.graph.by_object.get(subject, []) if t.predicate.value != RDFS + "subClassOf"]
        pointing += self.by_predicate.get(term.iri, [])
        for t in pointing:
            if not isinstance(t.subject, ox.NamedNode) or t.subject.value == term.iri:
                continue
            owner = self.documented.get(t.subject.value)
            if owner is None:
                continue
            target = statements if owner.kind == "statement" else others
            target[owner.iri].add(self.name(t.predicate.value))
        rows = []
        if statements:
            rows.append((f"Used in {len(statements)} statement{'s' if len(statements) != 1 else ''}", "<ul>" + "".join(
                f"<li>{self.link(ox.NamedNode(s))} ({_e(', '.join(sorted(statements[s])))}): "
                f"{self._statement_text(s)}</li>" for s in sorted(statements, key=self._statement_key)) + "</ul>"))
        if others:
            rows.append(("Used by", "<ul>" + "".join(
                f"<li>{self.link(ox.NamedNode(o))} ({_e(', '.join(sorted(others[o])))})</li>"
                for o in sorted(others, key=lambda i: (self.name(i).lower(), i))) + "</ul>"))
        return rows

    def _statement_text(self, iri: str) -> str:
        texts = self._values(iri, IIM_STATEMENT_TEXT)
        return self.link(texts[0]) if texts else ""

    def _statement_key(self, iri: str) -> tuple[str, str]:
        return (self.name(iri), iri)


def documentation_page(graph: ReleaseGraph, *, version: str, version_iri: str, downloads: Sequence[str],
                       external_labels: dict[str, str]) -> str:
    """The HTML page of a release: header, downloads, then every term of our namespace grouped by kind.

    Each term is an ``<article id="LOCAL">`` (``IIM_0000002``, ``therapy``, ``statement-S19``), the anchor that
    ``w3id/.htaccess`` sends a browser to for ``https://w3id.org/iimkg/LOCAL``.
    """
    page = _Page(graph, external_labels)

    def header(predicate: str) -> str:
        values = graph.objects(graph.ontology, predicate)
        return str(getattr(values[0], "value", "")) if values else ""

    title = header(DCTERMS + "title") or "IIM treatment knowledge graph"
    by_kind: dict[str, list[Term]] = defaultdict(list)
    for term in graph.terms:
        by_kind[term.kind].append(term)
    kinds = [k for k in KIND_ORDER if by_kind.get(k)] + sorted(k for k in by_kind if k not in KIND_ORDER)
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)} {_e(version)}</title>",
        '<link rel="alternate" type="text/turtle" href="../iim.ttl">',
        '<link rel="alternate" type="application/rdf+xml" href="../iim.owl">',
        '<link rel="alternate" type="application/ld+json" href="../iim.jsonld">',
        f"<style>{_STYLE}</style>", "</head>", "<body>", "<header>",
        f"<h1>{_e(title)}</h1>", f"<p>{_e(header(DCTERMS + 'description'))}</p>",
        f'<p class="note">{_e(header(RDFS + "comment"))}</p>',
        "<dl>",
        f'<dt>Ontology IRI</dt><dd><a href="{_e(graph.ontology.value)}">'
        f"<code>{_e(graph.ontology.value)}</code></a></dd>",
        f"<dt>Version</dt><dd>{_e(version)}</dd>",
        f'<dt>Version IRI</dt><dd><a href="{_e(version_iri)}"><code>{_e(version_iri)}</code></a></dd>',
        f'<dt>License</dt><dd><a href="{_e(header(DCTERMS + "license"))}">{_e(header(DCTERMS + "license"))}</a></dd>',
        "<dt>Downloads</dt><dd>" + ", ".join(f'<a href="../{_e(name)}">{_e(name)}</a>' for name in downloads)
        + "</dd>",
        "</dl>", "<nav><h2>Contents</h2><ul>",
        *(f'<li><a href="#section-{_e(kind.replace(" ", "-"))}">{_e(plural(kind).capitalize())}</a> '
          f"({len(by_kind[kind])})</li>" for kind in kinds),
        "</ul></nav>", "</header>", "<main>",
    ]
    for kind in kinds:
        parts.append(f'<section id="section-{_e(kind.replace(" ", "-"))}"><h2>{_e(plural(kind).capitalize())}</h2>')
        for term in sorted(by_kind[kind], key=lambda t: (page.name(t.iri).lower(), t.iri)):
            parts.append(page.article(term))
        parts.append("</section>")
    parts += ["</main>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"

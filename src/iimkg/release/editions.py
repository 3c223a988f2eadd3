"""The language editions of a release: the English ontology, its translations, and the translated editions.

OBO tools (ROBOT's report, ODK) expect one ``rdfs:label`` per term; ``ontology/iim.ttl`` gives terms their Spanish
and Catalan names as further language-tagged labels, because ``iimkg``'s own queries resolve those names. The
release therefore does what the Human Phenotype Ontology does with its translations: the primary artefacts carry
English only, every other-language literal becomes a row of a Babelon translation table
(:mod:`iimkg.release.babelon`), and a translated edition per language (``iim-es.owl``) carries the ontology with
each translated value in place of the English one it translates (terms without a translation keep English).

The release also gives every bibliographic source a label (ROBOT's ``missing_label``): its citation, which the
source records carry and which names it for a reader. A source that already has a label keeps it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

import pyoxigraph as ox

from iimkg.core.vocab import DCTERMS, RDF, RDFS_LABEL

__all__ = ["SOURCE_LANGUAGE", "Editions", "Translation", "TranslationType", "label_sources", "shipped_editions",
           "split_languages", "translated_edition"]

SOURCE_LANGUAGE = "en"
_BIBLIOGRAPHIC_RESOURCE = ox.NamedNode(DCTERMS + "BibliographicResource")
_CITATION = DCTERMS + "bibliographicCitation"
_IDENTIFIER = DCTERMS + "identifier"


class TranslationType(Enum):
    """Babelon's ``translation_type``: a value that translates an English one, or one with no English counterpart."""

    TRANSLATION = "TRANSLATION"
    AUGMENTATION = "AUGMENTATION"


@dataclass(frozen=True, order=True)
class Translation:
    """One other-language value of the source: whose, which property, in what language, and what it translates.

    ``source_value`` is the English value of the same term and property that it translates, or ``""`` when that
    cannot be told (no English value, or several on both sides): then it is an augmentation.
    """

    subject: str
    predicate: str
    language: str
    value: str
    source_value: str

    @property
    def kind(self) -> TranslationType:
        return TranslationType.TRANSLATION if self.source_value else TranslationType.AUGMENTATION

    def triple(self) -> ox.Triple:
        return ox.Triple(ox.NamedNode(self.subject), ox.NamedNode(self.predicate),
                         ox.Literal(self.value, language=self.language))


@dataclass(frozen=True)
class Editions:
    """The English triples of the release and the translations taken out of them."""

    english: list[ox.Triple]
    translations: tuple[Translation, ...]

    @property
    def languages(self) -> list[str]:
        """The translation languages, from the data (``["ca", "es"]`` today)."""
        return sorted({t.language for t in self.translations})

    def in_language(self, language: str) -> list[Translation]:
        return [t for t in self.translations if t.language == language]


def _is_source_language(tag: str) -> bool:
    return tag.lower() == SOURCE_LANGUAGE or tag.lower().startswith(SOURCE_LANGUAGE + "-")


def split_languages(triples: Iterable[ox.Triple]) -> Editions:
    """Take every literal in another language than English out of ``triples``, as :class:`Translation` rows.

    A translated value gets the English value of the same term and property as its ``source_value`` when there
    is exactly one English value and one value in that language (a label and its translation); otherwise the
    pairing would be a guess, and the row is an augmentation.
    """
    english: list[ox.Triple] = []
    others: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    source_values: dict[tuple[str, str], list[str]] = defaultdict(list)
    for t in triples:
        literal = t.object
        if isinstance(literal, ox.Literal) and literal.language and not _is_source_language(literal.language) \
                and isinstance(t.subject, ox.NamedNode):
            others[(t.subject.value, t.predicate.value, literal.language)].append(literal.value)
            continue
        english.append(t)
        if isinstance(literal, ox.Literal) and literal.language and isinstance(t.subject, ox.NamedNode):
            source_values[(t.subject.value, t.predicate.value)].append(literal.value)
    translations: list[Translation] = []
    for (subject, predicate, language), values in others.items():
        originals = source_values.get((subject, predicate), [])
        pair = originals[0] if len(originals) == 1 and len(values) == 1 else ""
        translations.extend(Translation(subject, predicate, language, value, pair) for value in values)
    return Editions(english, tuple(sorted(translations)))


def translated_edition(english: Sequence[ox.Triple], translations: Iterable[Translation]) -> list[ox.Triple]:
    """The English triples with each translated value in place of the English value it translates.

    Augmentations are added beside the English values; terms without a translation keep their English values.
    """
    replaced: set[ox.Triple] = set()
    added: list[ox.Triple] = []
    for row in translations:
        if row.source_value:
            replaced.add(ox.Triple(ox.NamedNode(row.subject), ox.NamedNode(row.predicate),
                                   ox.Literal(row.source_value, language=SOURCE_LANGUAGE)))
        added.append(row.triple())
    return [t for t in english if t not in replaced] + added


def label_sources(triples: Sequence[ox.Triple]) -> list[ox.Triple]:
    """``triples`` with an ``rdfs:label`` for every bibliographic source that has none: its citation.

    Two sources with the same citation, or a citation that is already another term's label, get their
    ``dcterms:identifier`` (else their IRI) after it, so that no two terms share a label (ROBOT's
    ``duplicate_label``).
    """
    labelled = {t.subject for t in triples if t.predicate.value == RDFS_LABEL}
    sources = {t.subject for t in triples if t.predicate.value == RDF + "type" and t.object == _BIBLIOGRAPHIC_RESOURCE
               and isinstance(t.subject, ox.NamedNode) and t.subject not in labelled}
    citations: dict[ox.NamedNode, ox.Literal] = {}
    identifiers: dict[ox.NamedNode, str] = {}
    for t in triples:
        subject, value = t.subject, t.object
        if not isinstance(subject, ox.NamedNode) or subject not in sources or not isinstance(value, ox.Literal):
            continue
        if t.predicate.value == _CITATION:
            current = citations.get(subject)
            if current is None or _citation_key(value) < _citation_key(current):
                citations[subject] = value
        elif t.predicate.value == _IDENTIFIER:
            identifiers[subject] = min(identifiers.get(subject, value.value), value.value)
    taken = Counter(t.object.value for t in triples if t.predicate.value == RDFS_LABEL
                    and isinstance(t.object, ox.Literal))
    taken.update(c.value for c in citations.values())
    added = []
    for source, citation in sorted(citations.items(), key=lambda item: item[0].value):
        text = " ".join(citation.value.split())  # no line breaks or tabs in a label (ROBOT's label_formatting)
        if taken[citation.value] > 1:
            text += f" ({identifiers.get(source, source.value)})"
        added.append(ox.Triple(source, ox.NamedNode(RDFS_LABEL), ox.Literal(text, language=citation.language or
                                                                              SOURCE_LANGUAGE)))
    return [*triples, *added]


def _citation_key(literal: ox.Literal) -> tuple[int, str]:
    """English citations first, then untagged, then any other; the text breaks ties."""
    language = literal.language or ""
    return (0 if _is_source_language(language) else 1 if not language else 2, literal.value)


def shipped_editions(version: str | None = None) -> tuple[Editions, str]:
    """The editions of the shipped ontology (sources labelled, translations split off) and the release version:
    ``version``, or the ``owl:versionInfo`` of ``ontology/iim.ttl``.

    :raises ReleaseError: if the version is not a date.
    """
    from iimkg.graph.loading import shipped_quads
    from iimkg.release.graph import OWL_VERSION_INFO, ReleaseGraph, canonical_triples, check_version

    shipped = canonical_triples(ox.Triple(q.subject, q.predicate, q.object) for q in shipped_quads())
    editions = split_languages(label_sources(shipped))
    return editions, check_version(version or ReleaseGraph(editions.english).header_value(OWL_VERSION_INFO))

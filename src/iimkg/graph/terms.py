"""Resolve what a user types (CURIE, IRI, external code, label or synonym in any language) to one term."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

import pyoxigraph as ox

from iimkg.core.errors import AmbiguousTermError, BroaderCodeError, UnknownTermError
from iimkg.core.prefixes import compress, prefixes
from iimkg.core.vocab import IIM
from iimkg.graph.internal import select_internal

__all__ = ["TermIndex", "normalise"]

_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")
_CURIE = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]*):(\S+)$")
_OWN_ID = re.compile(r"^IIM_[0-9]{7}$")
# Name kinds in the order they are tried: a label beats a synonym, an exact synonym beats a related one.
_NAME_PRIORITY = ("label", "exact", "related")


def normalise(text: str) -> str:
    """Case-, accent-, hyphen- and space-insensitive form of a name ("Dermatomiositis" → "dermatomiositis")."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = stripped.casefold().replace("-", " ").replace("_", " ").replace("/", " ")
    return " ".join(folded.split())


@dataclass
class TermIndex:
    """Names, codes and kinds of every term in a store, built with two queries."""

    names: dict[str, dict[str, set[str]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(set)))
    codes: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    exact_codes: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # codes broader than a term (skos:broadMatch): its xref, but not a name of it for a question (see resolve)
    broader_codes: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    labels: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    kinds: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    subjects: set[str] = field(default_factory=set)

    @classmethod
    def from_store(cls, store: ox.Store) -> TermIndex:
        index = cls()
        for solution in select_internal(store, "term-index.rq"):
            term, kind, name = solution["term"].value, solution["kind"].value, solution["name"]
            index.subjects.add(term)
            if kind in _NAME_PRIORITY and isinstance(name, ox.Literal):
                index.names[kind][normalise(name.value)].add(term)
                if kind == "label":
                    index.labels[term].setdefault((name.language or "").lower(), name.value)
            elif kind == "xref":
                index.codes[_code_key(name.value)].add(term)
            elif kind == "broad":
                curie = compress(name.value)
                if curie:
                    index.broader_codes[_code_key(curie)].add(term)
            elif kind in ("mapping", "close"):
                # A code the graph maps with skos:closeMatch names the term too (MONDO:0600023, the IIM group), but
                # where a code also has an exact match, the exact one wins (see resolve).
                curie = compress(name.value)
                if curie:
                    index.codes[_code_key(curie)].add(term)
                    if kind == "mapping":
                        index.exact_codes[_code_key(curie)].add(term)
        for solution in select_internal(store, "term-kinds.rq"):
            index.kinds[solution["term"].value].add(solution["kind"].value)
            index.subjects.add(solution["term"].value)
        return index

    def label(self, iri: str, language: str = "en") -> str | None:
        """The term's label in ``language``, else its label without a language, else None."""
        labels = self.labels.get(iri)
        if not labels:
            return None
        return labels.get(language) or labels.get("") or next(iter(labels.values()))

    def display(self, iri: str) -> str:
        """``label (CURIE)``, as error messages list candidates."""
        curie = compress(iri) or iri
        label = self.label(iri)
        return f"{label} ({curie})" if label else curie

    def resolve(self, value: str, *, parameter: str = "term", kind: str | None = None) -> str:
        """The IRI of the one term ``value`` names, optionally required to be of ``kind`` (an IRI).

        :raises UnknownTermError: if nothing matches (the message lists the closest names).
        :raises AmbiguousTermError: if several terms match (the message lists them with their IDs).
        :raises BroaderCodeError: if ``value`` is a code broader than the only terms it names (a ``skos:broadMatch``
            of them): the message names them, so the user can ask about one of them, knowing it is narrower.
        """
        text = value.strip()
        candidates = self._candidates(text)
        broader = self.broader_codes.get(_code_key(text), set()) if _CURIE.match(text) else set()
        if broader & set(candidates):
            # A code broader than the term (DOID:633 myositis for idiopathic inflammatory myopathy, ATC H02 for
            # glucocorticoid) would answer a question about more than the graph says anything about: not read as it
            narrower = [c for c in candidates if c in broader]
            candidates = [c for c in candidates if c not in broader]
            if not candidates:
                raise BroaderCodeError(value, parameter, sorted(self.display(c) for c in narrower))
        fitting = [c for c in candidates if kind is None or kind in self.kinds.get(c, set())]
        if len(fitting) == 1:
            return fitting[0]
        if len(fitting) > 1:
            exact = [c for c in fitting if c in self.exact_codes.get(_code_key(text), set())]
            if len(exact) == 1:
                return exact[0]
            raise AmbiguousTermError(value, parameter, sorted(self.display(c) for c in fitting))
        if candidates and kind is not None:
            wrong = ", ".join(sorted(self.display(c) for c in candidates))
            raise UnknownTermError(value, parameter, [f"{wrong} is not a {self._kind_label(kind)}"])
        raise UnknownTermError(value, parameter, self._suggestions(text, kind))

    def candidates(self, value: str) -> list[str]:
        """Every term ``value`` names, as :meth:`resolve` matches it, without raising or computing suggestions
        (for callers that try many codes and names and report what matched nothing themselves)."""
        return self._candidates(value.strip())

    def _candidates(self, text: str) -> list[str]:
        if _ABSOLUTE_IRI.match(text):
            return [text] if text in self.subjects else []
        if _OWN_ID.match(text):
            iri = IIM + text
            return [iri] if iri in self.subjects else []
        match = _CURIE.match(text)
        if match and match.group(1).lower() == "iim":
            iri = IIM + match.group(2)
            return [iri] if iri in self.subjects else []
        if match and _known_prefix(match.group(1)):
            return sorted(self.codes.get(_code_key(text), set()))
        key = normalise(text)
        for kind in _NAME_PRIORITY:
            found = self.names[kind].get(key)
            if found:
                return sorted(found)
        return []

    def _suggestions(self, text: str, kind: str | None) -> list[str]:
        key = normalise(text)
        pool: dict[str, set[str]] = defaultdict(set)
        for kind_names in self.names.values():
            for name, terms in kind_names.items():
                for term in terms:
                    if kind is None or kind in self.kinds.get(term, set()):
                        pool[name].add(term)
        close = difflib.get_close_matches(key, list(pool), n=5, cutoff=0.6)
        seen: list[str] = []
        for name in close:
            for term in sorted(pool[name]):
                shown = self.display(term)
                if shown not in seen:
                    seen.append(shown)
        return seen[:5]

    def _kind_label(self, kind: str) -> str:
        return self.label(kind) or kind.removeprefix(IIM)


def _known_prefix(prefix: str) -> bool:
    return prefix.lower() in {p.lower() for p in prefixes()}


def _code_key(curie: str) -> str:
    """CURIEs compare with a case-insensitive prefix and an exact local ID (``chebi:8382`` = ``CHEBI:8382``)."""
    prefix, _, local = curie.strip().partition(":")
    return f"{prefix.lower()}:{local}"

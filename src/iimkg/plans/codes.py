"""Map FHIR codings and texts to iimkg terms through the graph's own cross-references, labels and synonyms.

There is one mapping table, the graph (``oboInOwl:hasDbXref``, ``skos:exactMatch``, ``rdfs:label`` and synonyms, as
:class:`~iimkg.graph.terms.TermIndex` reads it); this module holds no codes. What it adds is how FHIR names things:
which code system URI is which CURIE prefix (``code-systems.tsv``), that an ICD-10-CM code more specific than the
ones the graph carries stands for its most specific carried ancestor, and that a display text or ``text`` names a
term when one of the term's names appears in it (``prednisone 20 MG Oral Tablet`` → prednisone).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import pyoxigraph as ox

from iimkg.core.code_systems import code_systems
from iimkg.core.prefixes import prefixes
from iimkg.core.vocab import IIM
from iimkg.graph.internal import select_internal
from iimkg.graph.terms import TermIndex, normalise

__all__ = [
    "CONDITION_KINDS",
    "DRUG_KINDS",
    "MEASURE_KINDS",
    "TEST_KINDS",
    "CodeMapper",
    "Resolution",
    "code_systems",
    "phrase",
]

DISEASE, DRUG, CONDITION = IIM + "Disease", IIM + "Drug", IIM + "Condition"
TEST, NON_DRUG = IIM + "ClinicalTest", IIM + "NonDrugIntervention"
CONDITION_KINDS = frozenset({DISEASE, CONDITION})
DRUG_KINDS = frozenset({DRUG})
TEST_KINDS = frozenset({TEST})
MEASURE_KINDS = frozenset({TEST, NON_DRUG, DRUG})

_WORD = re.compile(r"[^\W_]+")
# Head nouns that name the act of testing rather than what is tested: an Observation of "Blood glucose" is a
# "blood glucose measurement", a "Hepatitis B surface antigen" result a "hepatitis B surface antigen test". Used
# only when the whole text is the name without its head noun.
_TEST_HEADS = frozenset({"test", "testing", "measurement", "assessment", "screening", "scan", "examination"})
# CVX and product names rarely say "vaccine": "influenza, injectable, quadrivalent" names an influenza vaccine,
# "zoster vaccine, live" a live vaccine. A vaccine's name without "vaccine" is also looked for inside a text.
_VACCINE_HEAD = "vaccine"


def phrase(text: str) -> tuple[str, ...]:
    """The words of a name or text for matching one inside the other: case, accents, punctuation and British
    spellings folded (``"Haemorrhagic cystitis"`` and ``"hemorrhagic-cystitis"`` give the same words)."""
    folded = normalise(text).replace("ae", "e").replace("oe", "e")
    return tuple(_WORD.findall(folded))


@dataclass(frozen=True)
class Resolution:
    """What a FHIR concept (a CodeableConcept) names in the graph.

    ``terms`` are the most specific terms it names (several for a combination product); ``via`` is the code or text
    that named them; ``approximation`` says how the reading is less than exact (an ancestor code), or is None.
    ``codes`` and ``texts`` are what was looked at (``RXNORM:999999 "Imuran 50 MG Oral Tablet"``), for the message
    when ``terms`` is empty; ``conflict`` lists the terms that codes of one concept named when they disagree.
    """

    terms: tuple[str, ...] = ()
    via: str = ""
    approximation: str | None = None
    codes: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    conflict: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.terms)

    def described(self, what: str) -> str:
        """``drug code RXNORM:999999 "Imuran 50 MG Oral Tablet"``, ``drug "Folic acid"`` or ``drug (no code or
        text)``: what was not recognised, for a message."""
        if self.codes:
            word = "code" if len(self.codes) == 1 else "codes"
            shown = ", ".join(self.codes)
            extra = [t for t in self.texts if t not in shown]
            return f"{what} {word} {shown}" + (f" (text {', '.join(extra)})" if extra else "")
        if self.texts:
            return f"{what} {', '.join(self.texts)}"
        return f"{what} (no code or text)"


@dataclass(frozen=True)
class _Tried:
    codes: tuple[str, ...]
    texts: tuple[str, ...]


class CodeMapper:
    """Resolves FHIR codings and texts to iimkg terms, and answers what the converter needs to know about a term
    (its kind, its classes, whether the graph names it as a treatment)."""

    def __init__(self, index: TermIndex, store: ox.Store) -> None:
        self.index = index
        self.ancestors: dict[str, set[str]] = defaultdict(set)
        for row in select_internal(store, "term-ancestors.rq"):
            self.ancestors[row["term"].value].add(row["ancestor"].value)
        self.therapies = frozenset(row["drug"].value for row in select_internal(store, "therapy-drugs.rq"))
        self.defined_populations: dict[str, set[str]] = defaultdict(set)
        for row in select_internal(store, "condition-populations.rq"):
            self.defined_populations[row["condition"].value].add(row["population"].value)
        self._phrases: dict[tuple[str, ...], set[str]] = defaultdict(set)
        self._test_names: dict[tuple[str, ...], set[str]] = defaultdict(set)
        headless: dict[tuple[str, ...], set[str]] = defaultdict(set)
        for kind_names in index.names.values():
            for name, terms in kind_names.items():
                words = phrase(name)
                if not words:
                    continue
                self._phrases[words].update(terms)
                if len(words) > 1 and words[-1] in _TEST_HEADS:
                    self._test_names[words[:-1]].update(terms)
                    if len(words) > 2:
                        headless[words[:-1]].update(terms)
                if len(words) > 1 and words[-1] == _VACCINE_HEAD:
                    headless[words[:-1]].update(terms)
        # Inside a text, names are looked for with and without their head noun; a name without its head noun that
        # is another term's name ("hepatitis B" from "hepatitis B screening") is left out, as it would mislead.
        self._inside_names: dict[tuple[str, ...], set[str]] = defaultdict(set, self._phrases)
        for words, terms in headless.items():
            if words not in self._phrases:
                self._inside_names[words] = set(terms)
        self._longest = max((len(w) for w in self._inside_names), default=1)
        self._names_of: dict[str, set[tuple[str, ...]]] = defaultdict(set)
        for words, terms in self._phrases.items():
            for term in terms:
                self._names_of[term].add(words)
        self._known = {p.lower(): p for p in prefixes()}
        self._cache: dict[tuple[Any, ...], Resolution] = {}

    @classmethod
    def shipped(cls) -> CodeMapper:
        """The mapper over the shipped graph, built once per process."""
        return _shipped_mapper()

    # ── what the graph says about a term ──

    def label(self, term: str) -> str:
        return self.index.label(term) or term.removeprefix(IIM)

    def is_a(self, term: str, ancestor: str) -> bool:
        return term == ancestor or ancestor in self.ancestors.get(term, set())

    def is_therapy(self, term: str) -> bool:
        """Whether the graph names ``term`` (or a class above it) as a treatment in a non-negative statement."""
        return term in self.therapies

    def populations_defined_by(self, condition: str) -> set[str]:
        """The populations whose defining condition (``iim:definingCondition``) is ``condition`` or above it."""
        return self.defined_populations.get(condition, set())

    def of_kind(self, term: str, kinds: frozenset[str]) -> bool:
        return bool(self.index.kinds.get(term, set()) & kinds)

    # ── resolution ──

    def resolve(self, concept: Any, kinds: frozenset[str]) -> Resolution:
        """The terms of ``kinds`` that a CodeableConcept names.

        Codes first: a coding whose system has a prefix of ``prefixes.tsv`` and whose code is a cross-reference of a
        term; then, for ICD-10(-CM), the code's ancestors (M33.10 → M33.1 → M33); then the codings' display texts
        and the concept's ``text``: a whole name, a whole test name without its head noun, then the names found
        inside the text (with or without a head noun such as "vaccine" or "measurement"). When codes name several
        terms on one line of descent, the most specific wins.
        """
        key = (_freeze(concept), kinds)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._resolve(concept, kinds)
        return found

    def _resolve(self, concept: Any, kinds: frozenset[str]) -> Resolution:
        codings = [c for c in _list(concept, "coding") if isinstance(c, dict)]
        texts: list[str] = []
        for coding in codings:
            display = coding.get("display")
            system = code_systems().get(str(coding.get("system", "")).rstrip("/"))
            if isinstance(display, str) and display.strip() and (system is None or system.display == "match"):
                texts.append(display)
        text = concept.get("text") if isinstance(concept, dict) else None
        if isinstance(text, str) and text.strip():
            texts.append(text)
        tried = _Tried(
            tuple(dict.fromkeys(self._describe(c) for c in codings if _has_code(c))),
            tuple(dict.fromkeys(f'"{t}"' for t in texts if not _is_display_of(t, codings))))

        exact: list[tuple[str, str]] = []      # (term, curie)
        approximate: list[tuple[str, str, str]] = []  # (term, curie given, curie carried)
        for coding in codings:
            curie = self._curie(coding)
            if curie is None:
                continue
            terms = self._code_terms(curie, kinds)
            exact.extend((t, curie) for t in terms)
            if not terms and curie.startswith("ICD10CM:"):
                for ancestor in _icd_ancestors(curie):
                    terms = self._code_terms(ancestor, kinds)
                    if terms:
                        approximate.extend((t, curie, ancestor) for t in terms)
                        break
        if exact:
            return self._decide([t for t, _ in exact], via=", ".join(dict.fromkeys(c for _, c in exact)),
                                tried=tried)
        text_terms, text_via = self._text_terms(texts, kinds)
        if approximate:
            given, carried = approximate[0][1], approximate[0][2]
            candidates = [t for t, _, _ in approximate]
            # a text that names something more specific under the ancestor's term refines it
            refined = [t for t in text_terms if any(self.is_a(t, c) and t != c for c in candidates)]
            resolution = self._decide(candidates + refined, via=given, tried=tried)
            if resolution.terms:
                note = (f"{given} is more specific than any code the graph carries; read as {carried} "
                        f"({', '.join(self.label(t) for t in candidates)})")
                if refined:
                    note += f", refined by {text_via}"
                return Resolution(resolution.terms, resolution.via, note, tried.codes, tried.texts)
            return resolution
        if text_terms:
            return self._decide(text_terms, via=text_via, tried=tried, combination=True)
        return Resolution(codes=tried.codes, texts=tried.texts)

    def _decide(self, terms: Sequence[str], *, via: str, tried: _Tried,
                combination: bool = False) -> Resolution:
        """Keep the most specific of ``terms``; several unrelated terms are a combination (from a text) or a
        conflict (from codes)."""
        distinct = sorted(set(terms))
        specific = [t for t in distinct if not any(o != t and self.is_a(o, t) for o in distinct)]
        if combination:
            # a drug named inside another found term's name is a component of it (trimethoprim in
            # "sulfamethoxazole-trimethoprim"), not a second drug
            specific = [t for t in specific if not any(o != t and self._named_inside(t, o) for o in specific)]
        if len(specific) > 1 and not combination:
            return Resolution(codes=tried.codes, texts=tried.texts, conflict=tuple(specific))
        return Resolution(tuple(specific), via, None, tried.codes, tried.texts)

    def _named_inside(self, part: str, whole: str) -> bool:
        """Whether a name of ``part`` is a run of words inside a longer name of ``whole``."""
        return any(len(inner) < len(outer) and any(outer[i:i + len(inner)] == inner
                                                   for i in range(len(outer) - len(inner) + 1))
                   for inner in self._names_of.get(part, ()) for outer in self._names_of.get(whole, ()))

    def _code_terms(self, curie: str, kinds: frozenset[str]) -> list[str]:
        return [t for t in self.index.candidates(curie) if self.of_kind(t, kinds)]

    def _curie(self, coding: dict[str, Any]) -> str | None:
        system, code = coding.get("system"), coding.get("code")
        if not isinstance(system, str) or not isinstance(code, str) or not code.strip():
            return None
        known = code_systems().get(system.rstrip("/"))
        if known is None or known.prefix.lower() not in self._known:
            return None
        prefix = self._known[known.prefix.lower()]
        local = code.strip()
        for lead in (f"{prefix}:", f"{prefix}_"):
            if local.upper().startswith(lead.upper()):
                local = local[len(lead):]
        if prefix == "ICD10CM":
            local = local.upper()
            if "." not in local and len(local) > 3:
                local = f"{local[:3]}.{local[3:]}"
        elif prefix == "ATC":
            local = local.upper()
        elif prefix == "CVX":
            local = local.lstrip("0") or "0"
        return f"{prefix}:{local}"

    def _describe(self, coding: dict[str, Any]) -> str:
        """A coding as a message shows it: ``RXNORM:999999 "Imuran 50 MG Oral Tablet"``."""
        system, code, display = coding.get("system"), coding.get("code"), coding.get("display")
        known = code_systems().get(system.rstrip("/")) if isinstance(system, str) else None
        code = str(code).strip()
        shown = f"{known.prefix}:{code}" if known else (f"{system}|{code}" if system else code)
        return f'{shown} "{display}"' if isinstance(display, str) and display.strip() else shown

    def _text_terms(self, texts: Sequence[str], kinds: frozenset[str]) -> tuple[list[str], str]:
        """Terms named by the texts, from the best tier that names any, and the text that named them."""
        tiers: tuple[tuple[dict[tuple[str, ...], set[str]], bool], ...] = (
            (self._phrases, False), (self._test_names, False), (self._inside_names, True))
        for table, inside in tiers:
            found: list[str] = []
            via: list[str] = []
            for text in texts:
                words = phrase(text)
                terms = self._inside(table, words, kinds) if inside else self._whole(table, words, kinds)
                if terms:
                    found.extend(terms)
                    via.append(f'"{text}"')
            if found:
                return found, "text " + ", ".join(dict.fromkeys(via))
        return [], ""

    def _whole(self, table: dict[tuple[str, ...], set[str]], words: tuple[str, ...],
               kinds: frozenset[str]) -> list[str]:
        return [t for t in sorted(table.get(words, ())) if self.of_kind(t, kinds)]

    def _inside(self, table: dict[tuple[str, ...], set[str]], words: tuple[str, ...],
                kinds: frozenset[str]) -> list[str]:
        """Terms whose name appears as whole words in ``words``, longest names first, left to right."""
        found: list[str] = []
        start = 0
        while start < len(words):
            for length in range(min(self._longest, len(words) - start), 0, -1):
                terms = self._whole(table, words[start:start + length], kinds)
                if terms:
                    found.extend(terms)
                    start += length
                    break
            else:
                start += 1
        return found


@cache
def _shipped_mapper() -> CodeMapper:
    from iimkg.graph.loading import shared_store
    from iimkg.queries.run import term_index

    return CodeMapper(term_index(), shared_store())


def _icd_ancestors(curie: str) -> list[str]:
    """``ICD10CM:M33.10`` → ``ICD10CM:M33.1``, ``ICD10CM:M33`` (never shorter than the three-character category)."""
    prefix, _, code = curie.partition(":")
    found = []
    while len(code) > 3:
        code = code[:-1].rstrip(".")
        found.append(f"{prefix}:{code}")
    return found


def _has_code(coding: dict[str, Any]) -> bool:
    code = coding.get("code")
    return isinstance(code, str) and bool(code.strip())


def _is_display_of(text: str, codings: Sequence[dict[str, Any]]) -> bool:
    return any(c.get("display") == text and _has_code(c) for c in codings)


def _list(value: Any, key: str) -> list[Any]:
    if not isinstance(value, dict):
        return []
    found = value.get(key)
    return found if isinstance(found, list) else []


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items() if k in {"coding", "text", "system", "code",
                                                                              "display"}))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value

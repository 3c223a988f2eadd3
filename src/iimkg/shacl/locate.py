"""Where a finding's focus node is written in its source file: the line and column, for SARIF and editors.

RDF parsers do not say where they read a triple, so the place is found again in the file's text, once per file:

- Turtle, TriG, N-Triples, N-Quads (and N3): the first place the focus node's IRI is the **subject** of a
  statement, written as a full IRI, a prefixed name (``@prefix``/``PREFIX``) or a relative IRI (``<#x>``, resolved
  against ``@base``/``BASE`` or the file's own URI, as :mod:`iimkg.plans.reading` loads it); else the first place it
  is used at all.
- JSON-LD: the first ``"@id"`` (or ``"id"``, its alias in the iimkg plan context) whose value is the IRI
  (absolute, or relative to the file).
- FHIR JSON and NDJSON: plans made from FHIR name their nodes ``FILE#[plan-]ResourceType-id``, and notes name a
  resource ``ResourceType/id``; the place is the start of the resource with that ``resourceType`` and ``id``.

Strings and comments are skipped as the formats define them, so an IRI quoted in a comment is not taken for a use.
A file larger than :data:`MAX_BYTES` is not searched (no place is given, as before).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

__all__ = ["MAX_BYTES", "Locator", "Place"]

Place = tuple[int, int]
"""A 1-based line and column (in Unicode code points, as SARIF's ``columnKind: unicodeCodePoints``)."""

MAX_BYTES = 64 * 1024 * 1024
_RDF_SUFFIXES = {".ttl", ".trig", ".nt", ".nq", ".n3", ".turtle"}
_JSON_SUFFIXES = {".json", ".jsonld", ".ndjson", ".jsonl"}

# One token of the Turtle family; strings, comments and IRIs first, so that nothing inside them is read as syntax.
_TURTLE_TOKEN = re.compile(r'''
    (?P<comment>\#[^\n]*)
  | (?P<string>"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^'\\]|\\.|'(?!''))*\'\'\'
               |"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<iri><(?:[^<>"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*>)
  | (?P<directive>@prefix|@base|(?i:PREFIX|BASE)(?=\s))
  | (?P<pname>(?:[A-Za-z_][\w.\-]*)?:(?:[\w\-:%]|\\.|\.(?=[\w\-:%]))*)
  | (?P<number>[+-]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<end>[.{}])
  | (?P<other>\S)
''', re.VERBOSE | re.DOTALL)
_UCHAR = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]]')
_JSON_STRING_AFTER = re.compile(r'\s*:\s*("(?:[^"\\]|\\.)*")')
_FHIR_REFERENCE = re.compile(r"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})")


class _Text:
    """A file's text with a line index, to turn offsets into lines and columns."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def place(self, offset: int) -> Place:
        line = bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1


class Locator:
    """Finds focus nodes in files; each file is read and indexed once, on first use."""

    def __init__(self) -> None:
        self._indexes: dict[str, dict[str, Place]] = {}

    def find_among(self, file: str, others: Sequence[str], iri: str) -> tuple[str, Place] | None:
        """The file and place of ``iri``: in ``file`` (where the finding was read) if there, else, for a FHIR
        resource, in the first of ``others`` that holds it (Bulk Data writes one file per resource type, so a
        plan read from ``Patient.ndjson`` cites a resource of ``MedicationRequest.ndjson``)."""
        found = self.find(file, iri)
        if found is not None:
            return file, found
        if "#" not in iri and not _FHIR_REFERENCE.fullmatch(iri):
            return None
        for other in others:
            if other != file and Path(other).suffix.lower() in _JSON_SUFFIXES:
                found = self.find(other, iri)
                if found is not None:
                    return other, found
        return None

    def find(self, file: str | Path, iri: str) -> Place | None:
        """The line and column of ``iri`` in ``file``, or None where the file or the place can't be known."""
        key = str(file)
        if key not in self._indexes:
            self._indexes[key] = _index(Path(file))
        index = self._indexes[key]
        found = index.get(iri)
        if found is None and "#" in iri:
            fragment = unquote(iri.rsplit("#", 1)[1])
            found = index.get(f"fhir:{fragment.removeprefix('plan-')}")
        if found is None and (reference := _FHIR_REFERENCE.fullmatch(iri)):
            found = index.get(f"fhir:{reference.group(1)}-{reference.group(2)}")
        return found


def _index(path: Path) -> dict[str, Place]:
    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return {}
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return {}
    base = path.resolve().as_uri()
    suffix = path.suffix.lower()
    if suffix in _RDF_SUFFIXES:
        return _turtle_index(_Text(text), base)
    if suffix in _JSON_SUFFIXES:
        return _json_index(_Text(text), base)
    return {}


class _Statements:
    """Subjects and uses of IRIs as a Turtle-family text is read, token by token."""

    def __init__(self, text: _Text, base: str) -> None:
        self.text = text
        self.base = base
        self.prefixes: dict[str, str] = {}
        self.subjects: dict[str, Place] = {}
        self.uses: dict[str, Place] = {}

    def read(self) -> dict[str, Place]:
        at_start = True  # the next term starts a statement (or names a graph, if a { follows it)
        pending: tuple[str, int] | None = None
        tokens = (t for t in _TURTLE_TOKEN.finditer(self.text.text) if t.lastgroup != "comment")
        for token in tokens:
            kind, value = token.lastgroup, token.group()
            if kind == "directive":
                self._directive(value, tokens)
                at_start = True
                continue
            iri = self._iri(kind, value)
            if pending is not None:
                if value != "{":
                    self.subjects.setdefault(pending[0], self.text.place(pending[1]))
                pending = None
            if iri is not None:
                self.uses.setdefault(iri, self.text.place(token.start()))
                if at_start:
                    pending = (iri, token.start())
            at_start = kind == "end"
        if pending is not None:
            self.subjects.setdefault(pending[0], self.text.place(pending[1]))
        return {**self.uses, **self.subjects}

    def _directive(self, keyword: str, tokens: Iterator[re.Match[str]]) -> None:
        if keyword.lower().lstrip("@") == "prefix":
            name = next(tokens, None)
            target = next(tokens, None)
            if name is not None and target is not None and target.lastgroup == "iri":
                self.prefixes[name.group().split(":", 1)[0]] = self._resolve(target.group()[1:-1])
        else:
            target = next(tokens, None)
            if target is not None and target.lastgroup == "iri":
                self.base = self._resolve(target.group()[1:-1])

    def _resolve(self, reference: str) -> str:
        return reference if urlsplit(reference).scheme else urljoin(self.base, reference)

    def _iri(self, kind: str | None, value: str) -> str | None:
        if kind == "iri":
            return self._resolve(_UCHAR.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), value[1:-1]))
        if kind == "pname":
            prefix, local = value.split(":", 1)
            namespace = self.prefixes.get(prefix)
            return namespace + re.sub(r"\\(.)", r"\1", local) if namespace is not None else None
        return None


def _turtle_index(text: _Text, base: str) -> dict[str, Place]:
    return _Statements(text, base).read()


def _json_index(text: _Text, base: str) -> dict[str, Place]:
    """``@id`` values (JSON-LD) and ``fhir:Type-id`` for each FHIR resource, at the start of their object."""
    import json

    out: dict[str, Place] = {}
    opened: list[int] = []  # offsets of the objects and arrays being read
    source = text.text
    for token in _JSON_TOKEN.finditer(source):
        value = token.group()
        if value in "{[":
            opened.append(token.start())
        elif value in "}]":
            if opened:
                opened.pop()
        elif value in {'"@id"', '"id"'} and opened and source[opened[-1]] == "{":
            after = _JSON_STRING_AFTER.match(source, token.end())
            if after is None:
                continue
            try:
                found = json.loads(after.group(1))
            except ValueError:
                continue
            start = opened[-1]
            kind = _resource_type(source, start) if value == '"id"' else None
            if kind is not None:
                out.setdefault(f"fhir:{kind}-{found}", text.place(start))
            elif isinstance(found, str):  # "@id", or "id" as the iimkg plan context aliases it
                iri = found if urlsplit(found).scheme else urljoin(base, found)
                out.setdefault(iri, text.place(token.start()))
    return out


_RESOURCE_TYPE = re.compile(r'"resourceType"\s*:\s*"([A-Za-z]+)"')


def _resource_type(source: str, start: int) -> str | None:
    """The ``resourceType`` of the object that opens at ``start`` (its own key, not a nested resource's)."""
    depth = 0
    for token in _JSON_TOKEN.finditer(source, start):
        value = token.group()
        if value in "{[":
            depth += 1
        elif value in "}]":
            depth -= 1
            if depth == 0:
                return None
        elif depth == 1 and value == '"resourceType"':
            found = _RESOURCE_TYPE.match(source, token.start())
            return found.group(1) if found else None
    return None

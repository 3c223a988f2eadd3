"""The named queries' files: each ``queries/NAME.rq`` header says what the query asks, takes and answers.

The header is the one place a query's parameters are declared, with their kind and their example values
(``# param drug (iim:Drug): the drug or drug class, e.g. prednisone, glucocorticoid, ATC:H02AB07``). The CLI's
options, the endpoint's page, its ``/queries`` listing and OpenAPI document, the tests and the benchmarks all
read them from here, so that a new query is one ``.rq`` file.
"""

from __future__ import annotations

import csv
import difflib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from iimkg.core.errors import IimkgError, UnknownQueryError
from iimkg.core.resources import queries_dir
from iimkg.core.vocab import IIM

__all__ = ["NamedQuery", "Parameter", "list_queries", "named_query", "parse_examples", "parse_header"]

_HEADER_FIELD = re.compile(r"^#\s*(name|question|description|returns|answers)\s*:\s*(.*)$")
_HEADER_PARAM = re.compile(r"^#\s*param\s+\??([A-Za-z_]\w*)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_CONTINUATION = re.compile(r"^#\s{2,}(\S.*)$")
_EXAMPLES = re.compile(r"\be\.g\.\s*(.+)$")


@dataclass(frozen=True)
class Parameter:
    """One ``# param`` line: the name (``?drug`` binds ``drug``), what it means, the class its value must name
    (``kind``, an IRI, or None for any term), whether it may be left out, and the example values it gives."""

    name: str
    description: str
    kind: str | None = None
    optional: bool = False
    examples: tuple[str, ...] = ()

    @property
    def example(self) -> str | None:
        """The first example value: the one the endpoint's page and ``/queries`` show."""
        return self.examples[0] if self.examples else None


@dataclass(frozen=True)
class NamedQuery:
    """One ``queries/NAME.rq`` file and what its header says about it."""

    name: str
    question: str
    description: str
    parameters: tuple[Parameter, ...]
    returns: str
    answers: str
    text: str
    path: Path

    def example_values(self) -> dict[str, str]:
        """Each parameter's first example value (parameters without one are left out)."""
        return {p.name: p.example for p in self.parameters if p.example is not None}


def parse_examples(description: str) -> tuple[str, ...]:
    """The example values a parameter's description lists after ``e.g.``, to its end, comma-separated.

    A value with a comma, or one that should show as written (another language's label), is quoted:
    ``e.g. prednisone, CHEBI:8382, "prednisona"`` → ``("prednisone", "CHEBI:8382", "prednisona")``.
    """
    match = _EXAMPLES.search(description)
    if match is None:
        return ()
    row = next(csv.reader([match.group(1)], skipinitialspace=True))
    return tuple(value.strip() for value in row if value.strip())


def parse_header(path: Path) -> NamedQuery:
    """Read the leading ``#`` lines of a query file: ``name``, ``question``, ``description``, ``param``s, ``returns``
    and ``answers``; a line indented by two or more spaces after the ``#`` continues the field above it.

    :raises IimkgError: if the header's ``# name:`` is not the file's stem.
    """
    text = path.read_text(encoding="utf-8")
    fields: dict[str, str] = {}
    params: list[tuple[str, str, list[str]]] = []
    last: str | None = None
    for line in text.splitlines():
        if not line.startswith("#"):
            if line.strip():
                break
            continue
        if m := _HEADER_PARAM.match(line):
            flags = [f.strip() for f in (m.group(2) or "").split(",") if f.strip()]
            params.append((m.group(1), m.group(3).strip(), flags))
            last = "param"
        elif m := _HEADER_FIELD.match(line):
            fields[m.group(1)] = m.group(2).strip()
            last = m.group(1)
        elif (m := _CONTINUATION.match(line)) and last:
            if last == "param":
                name, description, flags = params[-1]
                params[-1] = (name, f"{description} {m.group(1)}", flags)
            else:
                fields[last] = f"{fields[last]} {m.group(1)}"
    if fields.get("name") != path.stem:
        raise IimkgError(f"{path}: the header's '# name:' must be {path.stem!r}")
    parameters = tuple(Parameter(name, description, _kind(flags), "optional" in flags, parse_examples(description))
                       for name, description, flags in params)
    return NamedQuery(path.stem, fields.get("question", ""), fields.get("description", ""), parameters,
                      fields.get("returns", ""), fields.get("answers", ""), text, path)


def _kind(flags: list[str]) -> str | None:
    """The class a value must name, from a flag such as ``iim:Drug`` (a full IRI is kept as it is)."""
    kind = next((f for f in flags if ":" in f), None)
    if kind is not None and kind.startswith("iim:"):
        return IIM + kind.removeprefix("iim:")
    return kind


@cache
def _queries() -> dict[str, NamedQuery]:
    return {q.name: q for q in (parse_header(p) for p in sorted(queries_dir().glob("*.rq")))}


def list_queries() -> list[NamedQuery]:
    """The named queries, by name."""
    return list(_queries().values())


def named_query(name: str) -> NamedQuery:
    """The named query ``name``.

    :raises UnknownQueryError: if there is none (the message lists the closest names).
    """
    found = _queries().get(name)
    if found is None:
        raise UnknownQueryError(name, difflib.get_close_matches(name, list(_queries()), n=3, cutoff=0.5))
    return found

"""What a query answers: rows of terms (``Row``) in a ``QueryResult``, whichever engine or endpoint ran it.

Its own module so that the engines (:mod:`iimkg.queries.run`), a remote endpoint (:mod:`iimkg.queries.remote`)
and the writers (:mod:`iimkg.queries.output`) share it without importing one another.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from iimkg.core.rdfterms import Term, to_oxigraph

__all__ = ["QueryResult", "Row"]


class Row(Mapping[str, Term | None]):
    """One result row: a mapping from column to :class:`Term` (None when unbound), also by attribute."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, Term | None]) -> None:
        self._values = values

    def __getitem__(self, key: str) -> Term | None:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Term | None:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return "Row(" + ", ".join(f"{k}={v.value if v else None!r}" for k, v in self._values.items()) + ")"


@dataclass
class QueryResult(Sequence[Row]):
    """Rows in the query's ``ORDER BY`` order; ``columns`` as selected, plus a ``…Label`` column per IRI column.

    An ASK query's answer is ``boolean`` (no columns); a CONSTRUCT or DESCRIBE graph is ``graph=True`` with one
    ``subject``/``predicate``/``object`` row per triple, so it can be shown as a table or written as RDF.
    """

    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    boolean: bool | None = None
    graph: bool = False

    def triples(self) -> list[ox.Triple]:
        """A graph result's triples (see ``graph``), as pyoxigraph terms."""
        triples = []
        for row in self.rows:
            subject, predicate, obj = row["subject"], row["predicate"], row["object"]
            assert subject is not None and predicate is not None and obj is not None
            triples.append(ox.Triple(to_oxigraph(subject), to_oxigraph(predicate), to_oxigraph(obj)))  # type: ignore[arg-type]
        return triples

    def __getitem__(self, index: Any) -> Any:
        return self.rows[index]

    def __len__(self) -> int:
        return len(self.rows)

    def values(self, column: str) -> list[str | None]:
        """The lexical values of one column, in row order."""
        return [row[column].value if row[column] is not None else None for row in self.rows]  # type: ignore[union-attr]

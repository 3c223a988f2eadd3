"""What a run of many chunks keeps until the last one is checked, in bounded memory.

Findings name each plan by its ``dcterms:identifier`` only when no other plan has it, and a plan described in two
files is an input error: both need every plan seen so far. :class:`PlanRegistry` keeps them in an SQLite file (an
index of plan IRIs and a table of identifiers) rather than in Python dicts (some 300 bytes a plan, 300 MB for a
million). :class:`ChunkResults` keeps each chunk's raw results with the identifiers of the plans they are about, in
memory up to :data:`SPILL_RESULTS` results, then pickled to a file; a file checked again (see
:class:`~iimkg.plans.splitting.Restart`) drops what its earlier chunks found.

Both live in a :class:`~iimkg.core.scratch.SpillFolder` (``IIMKG_TMPDIR`` or the system's temporary folder), removed
when the run ends, fails or is interrupted, or with the result that reads from it.
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from iimkg.core.errors import InputError
from iimkg.core.scratch import SpillFolder
from iimkg.plans.reading import PlanNode
from iimkg.plans.results import Outcome, PlanResult

__all__ = ["SPILL_RESULTS", "ChunkResults", "PlanRegistry"]

# Raw results held in memory before the chunks' results go to disk (some 30 MB of PlanResult objects).
SPILL_RESULTS = 50_000


class PlanRegistry:
    """Every plan seen, by file: who describes each plan IRI (for the two-files check), how many plans carry each
    identifier (for plan names), and how many plans each file holds."""

    def __init__(self, folder: SpillFolder) -> None:
        self._path = folder.new_file("plans")
        self._db = sqlite3.connect(self._path, isolation_level=None)
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=FILE;"
            "CREATE TABLE owner (iri TEXT PRIMARY KEY, file INTEGER) WITHOUT ROWID;"
            "CREATE TABLE name (identifier TEXT, file INTEGER);"
            "CREATE TEMP TABLE stage (position INTEGER, iri TEXT, file INTEGER);")
        self._files: dict[str, int] = {}  # file → its number
        self.plans: dict[str, int] = {}  # file → plans, in the order files came (a file checked again goes last)

    def _number(self, file: str) -> int:
        return self._files.setdefault(file, len(self._files))

    def add(self, outcome: Outcome) -> None:
        """The plans of one chunk (blank nodes already made distinct across chunks).

        :raises InputError: at the first plan of the chunk that another file describes too.
        """
        named: list[tuple[int, str, int]] = []
        seen: dict[str, str] = {}
        clash: tuple[int, str, str, str] | None = None  # position, plan, the file that has it, this file
        identifiers = []
        for file, plans in outcome.plans.items():
            number = self._number(file)
            self.plans[file] = self.plans.pop(file, 0) + len(plans)
            for plan in plans:
                if isinstance(plan, ox.NamedNode):
                    known = seen.setdefault(plan.value, file)
                    if known != file and clash is None:
                        clash = (len(named), plan.value, known, file)
                    named.append((len(named), plan.value, number))
                if plan in outcome.names:
                    identifiers.append((outcome.names[plan], number))
        self._db.execute("BEGIN")
        self._db.executemany("INSERT INTO stage VALUES (?, ?, ?)", named)
        row = self._db.execute(
            "SELECT s.position, s.iri, o.file, s.file FROM stage s JOIN owner o ON o.iri = s.iri "
            "WHERE o.file != s.file ORDER BY s.position LIMIT 1").fetchone()
        if row is not None and (clash is None or row[0] < clash[0]):
            names = {number: file for file, number in self._files.items()}
            clash = (row[0], row[1], names[row[2]], names[row[3]])
        self._db.execute("INSERT OR IGNORE INTO owner SELECT iri, file FROM stage ORDER BY position")
        self._db.execute("DELETE FROM stage")
        self._db.executemany("INSERT INTO name VALUES (?, ?)", identifiers)
        self._db.execute("COMMIT")
        if clash is not None:
            _, iri, known, where = clash
            raise InputError(f"plan <{iri}> is also described in {known}; give each plan one file", path=where)

    def drop(self, file: str) -> None:
        """Forget the plans of ``file``: it is being checked again."""
        self.plans.pop(file, None)
        if file in self._files:
            number = self._files[file]
            self._db.execute("DELETE FROM owner WHERE file = ?", (number,))
            self._db.execute("DELETE FROM name WHERE file = ?", (number,))

    def shared_identifiers(self) -> frozenset[str]:
        """The identifiers more than one plan carries (those plans are named by their IRIs)."""
        rows = self._db.execute("SELECT identifier FROM name GROUP BY identifier HAVING COUNT(*) > 1")
        return frozenset(row[0] for row in rows)

    def plan_count(self) -> int:
        return sum(self.plans.values())

    def close(self) -> None:
        """Close and remove the table: it is needed while chunks come in, not by the findings made after."""
        self._db.close()
        self._path.unlink(missing_ok=True)


@dataclass
class _Chunk:
    """One chunk's results: in memory (``held``), or at ``offset`` in the spill file; ``dropped``: files whose
    results no longer count (checked again since)."""

    files: frozenset[str]
    held: tuple[list[PlanResult], dict[PlanNode, str]] | None
    offset: int = -1
    dropped: set[str] = field(default_factory=set)


class ChunkResults:
    """The raw results of every chunk, in order, with the identifiers of the plans they are about."""

    def __init__(self, folder: SpillFolder, limit: int | None = None) -> None:
        self._folder = folder
        self._limit = limit if limit is not None else SPILL_RESULTS
        self._chunks: list[_Chunk] = []
        self._held = 0
        self._file: Any = None
        self.count = 0

    def add(self, outcome: Outcome) -> None:
        """A chunk's results (blank nodes already made distinct across chunks)."""
        planned = {r.plan for r in outcome.results if r.plan is not None}
        names = {plan: name for plan, name in outcome.names.items() if plan in planned}
        self._chunks.append(_Chunk(frozenset(outcome.plans), (outcome.results, names)))
        self._held += len(outcome.results)
        self.count += len(outcome.results)
        if self._held > self._limit:
            self._spill()

    def _spill(self) -> None:
        if self._file is None:
            self._file = self._folder.new_file("results").open("w+b")
        self._file.seek(0, 2)
        for chunk in self._chunks:
            if chunk.held is not None:
                chunk.offset = self._file.tell()
                pickle.dump(_encoded(*chunk.held), self._file, protocol=pickle.HIGHEST_PROTOCOL)
                chunk.held = None
        self._held = 0

    def drop(self, file: str) -> None:
        """Forget what was found in ``file``: a chunk of that file alone goes whole (with results no file could be
        named for); from a chunk of several files, the results named for it."""
        kept = []
        for chunk in self._chunks:
            if chunk.files - chunk.dropped == {file}:
                continue
            chunk.dropped.add(file)
            kept.append(chunk)
        self._chunks = kept

    def chunks(self) -> Iterator[tuple[list[PlanResult], dict[PlanNode, str]]]:
        """Each chunk's results and the identifiers of their plans, in the order checked."""
        if self._file is not None:
            self._file.flush()
        for chunk in self._chunks:
            if chunk.held is not None:
                results, names = chunk.held
            else:
                self._file.seek(chunk.offset)
                results, names = _decoded(*pickle.load(self._file))
            if chunk.dropped:
                results = [r for r in results if r.file not in chunk.dropped]
            yield results, names

    def results(self) -> Iterator[PlanResult]:
        for results, _ in self.chunks():
            yield from results

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


# pyoxigraph terms pickle through their N-Triples text, some ten times slower than tuples of strings: spilled results
# are written with their terms as strings (an IRI ``<…``, a blank node ``_…``) or, for a literal, a tuple.
Encoded = str | tuple[str, str | None, str | None] | None


def _term(term: Any) -> Encoded:
    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return "<" + term.value
    if isinstance(term, ox.BlankNode):
        return "_" + term.value
    return (term.value, term.datatype.value if term.language is None else None, term.language)


def _node(code: Encoded) -> Any:
    if code is None:
        return None
    if isinstance(code, str):
        return ox.NamedNode(code[1:]) if code[0] == "<" else ox.BlankNode(code[1:])
    value, datatype, language = code
    if language is not None:
        return ox.Literal(value, language=language)
    return ox.Literal(value, datatype=ox.NamedNode(datatype)) if datatype is not None else ox.Literal(value)


def _encoded(results: list[PlanResult], names: dict[PlanNode, str]) -> tuple[list[tuple[Any, ...]], dict[Any, str]]:
    return ([(_term(r.focus), r.shape, r.severity, r.component, r.path, _term(r.value), r.messages, _term(r.plan),
              r.file) for r in results], {_term(plan): name for plan, name in names.items()})


def _decoded(rows: list[tuple[Any, ...]], names: dict[Any, str]) -> tuple[list[PlanResult], dict[PlanNode, str]]:
    """The chunk's results and names again; each term made once (a plan is the focus of many of its results), each
    result's fields set at once (a frozen dataclass's ``__init__`` sets them one by one, several times slower)."""
    memo: dict[Any, Any] = {}

    def node(code: Encoded) -> Any:
        made = memo.get(code)
        if made is None and code is not None:
            made = memo[code] = _node(code)
        return made

    results = []
    for focus, shape, severity, component, path, value, messages, plan, file in rows:
        result = object.__new__(PlanResult)
        result.__dict__.update(focus=node(focus), shape=shape, severity=severity, component=component, path=path,
                               value=node(value), messages=messages, plan=node(plan), file=file)
        results.append(result)
    return results, {node(plan): name for plan, name in names.items()}

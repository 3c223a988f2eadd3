"""Findings beyond memory: sorted runs spilled to disk and merged, read back as a sequence.

A million plans give millions of findings; as :class:`~iimkg.shacl.findings.Finding` objects they would take
gigabytes. :class:`FindingSorter` keeps at most :data:`SPILL_FINDINGS` of them in memory: beyond that it writes
sorted runs to a temporary folder and merges them (a stable merge: the order of :func:`sorted` on the whole). A run
that never spills gives a plain list, as before. The merged findings are written once more, in order, to one file
that :class:`SpilledFindings` reads as a :class:`~collections.abc.Sequence` (length, iteration, indexing), with the
counts every report needs first (:class:`FindingStats`) computed on the way.

Temporary files go under ``IIMKG_TMPDIR`` if set, else the system's temporary folder, and are removed when the
result is closed or garbage-collected, at exit, and on any error (Ctrl-C included) while sorting.
"""

from __future__ import annotations

import heapq
import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, overload

from iimkg.core.scratch import SpillFolder
from iimkg.shacl.findings import FINDING_FIELDS as _FIELDS
from iimkg.shacl.findings import Finding, FindingStats
from iimkg.shacl.findings import finding_row as _row

__all__ = ["SPILL_FINDINGS", "FindingSorter", "SpilledFindings"]

# Findings held in memory before a sorted run goes to disk: some 25 MB of Finding objects; fewer findings (a run
# of up to some 20,000 plans) are sorted in memory as before.
SPILL_FINDINGS = 50_000
# Findings pickled together: large enough that pickling is cheap per finding, small enough to read back one at a time.
_BATCH = 1_024


def _finding(row: tuple[Any, ...]) -> Finding:
    """The finding of ``row`` (its fields set at once: a frozen dataclass's ``__init__`` sets them one by one)."""
    finding = object.__new__(Finding)
    finding.__dict__.update(zip(_FIELDS, row, strict=True))
    return finding


def _write_batches(handle: IO[bytes], rows: Iterable[Any]) -> list[int]:
    """Pickle ``rows`` in batches; the offset of each batch."""
    offsets: list[int] = []
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) == _BATCH:
            offsets.append(handle.tell())
            pickle.dump(batch, handle, protocol=pickle.HIGHEST_PROTOCOL)
            batch = []
    if batch:
        offsets.append(handle.tell())
        pickle.dump(batch, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return offsets


def _read_batches(path: Path) -> Iterator[Any]:
    with path.open("rb") as handle:
        while True:
            try:
                batch = pickle.load(handle)
            except EOFError:
                return
            yield from batch


class SpilledFindings(Sequence[Finding]):
    """Findings in report order, in a file of pickled batches: re-iterable, with a length and counts."""

    def __init__(self, path: Path, offsets: list[int], stats: FindingStats, folder: SpillFolder) -> None:
        self._path, self._offsets, self.stats, self._folder = path, offsets, stats, folder
        self._cached: tuple[int, list[Any]] | None = None

    def __len__(self) -> int:
        return self.stats.total

    def __iter__(self) -> Iterator[Finding]:
        return (_finding(row) for row in _read_batches(self._path))

    @overload
    def __getitem__(self, index: int) -> Finding: ...

    @overload
    def __getitem__(self, index: slice) -> list[Finding]: ...

    def __getitem__(self, index: int | slice) -> Finding | list[Finding]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("finding index out of range")
        number = index // _BATCH
        if self._cached is None or self._cached[0] != number:
            with self._path.open("rb") as handle:
                handle.seek(self._offsets[number])
                self._cached = (number, pickle.load(handle))
        return _finding(self._cached[1][index % _BATCH])

    def close(self) -> None:
        """Remove the files (also done when garbage-collected, or at exit)."""
        self._folder.close()


class FindingSorter:
    """Findings sorted by ``key`` without repeats, as ``sorted(dict.fromkeys(findings), key=key)`` gives them, in
    bounded memory: sorted runs of ``limit`` findings go to disk and are merged."""

    def __init__(self, key: Callable[[Finding], tuple[Any, ...]], *, limit: int | None = None,
                 unique: bool = True) -> None:
        self._key, self._unique = key, unique
        self._limit = limit if limit is not None else SPILL_FINDINGS
        self._held: dict[Finding, None] = {}
        self._runs: list[Path] = []
        self._folder: SpillFolder | None = None
        self._seq = 0

    def extend(self, findings: Iterable[Finding]) -> None:
        try:
            for finding in findings:
                self._held[finding] = None
                if len(self._held) >= self._limit:
                    self._spill()
        except BaseException:
            self.close()
            raise

    def _spill(self) -> None:
        if self._folder is None:
            self._folder = SpillFolder("iimkg-findings-")
        path = self._folder.new_file("run")
        with path.open("wb") as handle:
            _write_batches(handle, self._rows())
        self._runs.append(path)
        self._held = {}

    def _rows(self) -> list[tuple[Any, ...]]:
        """The held findings, sorted: (key, sequence number, fields); the number makes the merge stable."""
        rows = []
        for finding in self._held:
            rows.append((self._key(finding), self._seq, _row(finding)))
            self._seq += 1
        rows.sort()  # by key, then number: the numbers differ, so fields are never compared
        return rows

    def finish(self) -> Sequence[Finding]:
        """The findings in order: a list when they fit in memory, else a :class:`SpilledFindings`."""
        if not self._runs:
            findings = sorted(self._held, key=self._key)
            self._held = {}
            return findings
        assert self._folder is not None
        try:
            rows = heapq.merge(*(_read_batches(run) for run in self._runs), self._rows())
            self._held = {}
            stats = FindingStats()
            path = self._folder.new_file("sorted")
            with path.open("wb") as handle:
                offsets = _write_batches(handle, self._merged(rows, stats))
            for run in self._runs:
                run.unlink()
            return SpilledFindings(path, offsets, stats, self._folder)
        except BaseException:
            self.close()
            raise

    def _merged(self, rows: Iterable[tuple[Any, ...]], stats: FindingStats) -> Iterator[tuple[Any, ...]]:
        """Each row's fields once (a repeat has the same key: only the rows of one key are remembered)."""
        key: Any = None
        first: tuple[Any, ...] = ()
        seen: set[tuple[Any, ...]] | None = None  # the rows of the key, made only when a key comes twice
        for row_key, _, row in rows:
            if row_key != key:
                key, first, seen = row_key, row, None
            elif self._unique:
                if seen is None:
                    seen = {first}
                if row in seen:
                    continue
                seen.add(row)
            stats.add_row(row)
            yield row

    def close(self) -> None:
        if self._folder is not None:
            self._folder.close()

"""Grouping a stream of triples into plans: each plan with everything it links to, wherever in the file it is.

A plan file is read as a stream of N-Triples lines (N-Triples and N-Quads as they are, other syntaxes parsed and
written out as lines). Each line is filed under its subject; a line whose object is a blank node, or whose predicate
is a link of the plan vocabulary (``iim:patient``, ``iim:prescription``… read from the ontology, see
:func:`iimkg.plans.splitting.plan_vocabulary`), joins the object's group to the subject's (union-find), so a plan's
patient, prescriptions and co-interventions end in its group whatever their order in the file: interleaved plans,
a prescription described before its plan, blank-node plans. Two plans that share a resource stay one group, as they
were one graph before.

Memory is bounded by a window of lines. Groups not touched in the last half window are written to a spill file and
forgotten; a compact filter (a Bloom filter of fixed size) remembers which node keys were spilled, so a later line
about a spilled node (rare: a cohort's plans are contiguous) is noted as a suspect. At the end, spilled groups that
share a suspect node are joined before anything is handed out; a file that never filled the window is handed out from
memory. So memory stays that of the window (plus the fixed filter) whatever the size of the file, and the groups are
exact whatever the layout.

An *optimistic* grouper hands spilled groups out at once (:meth:`Grouper.take`), so checking starts while the file
is still being read; if a later line turns out to belong to a group already handed out, :attr:`Grouper.late` is set
at the end and the caller reads the file again exactly (:func:`iimkg.plans.splitting.split_file` says so to the
checker, which drops what it found in that file). Cohorts written plan by plan never pay for that.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

__all__ = ["WINDOW_LINES", "Group", "Grouper", "spill_dir"]

# Lines held in memory before the least recently touched groups are spilled (some 10,000 plans, about 60 MB).
WINDOW_LINES = 500_000
_BLOOM_BITS = 1 << 28  # 32 MB: under 1 % false suspects up to some 30 million spilled nodes


@dataclass(eq=False)
class Group:
    """The lines of one connected group of nodes (a plan and what it links to; or lines linked to no plan)."""

    first: int
    lines: list[bytes] = field(default_factory=list)
    nodes: list[bytes] = field(default_factory=list)
    plans: int = 0
    touched: int = 0


class Grouper:
    """Feed lines with :meth:`add`, then take the groups from :meth:`groups` (in the order of their first line,
    or of their spilling for a file larger than the window)."""

    def __init__(self, window: int = WINDOW_LINES, spill_dir: str | None = None, optimistic: bool = False) -> None:
        self._window = max(2, window)
        self._optimistic = optimistic
        self._ready: list[Group] = []
        self.late = False
        self._node: dict[bytes, Group] = {}
        self._live: dict[int, Group] = {}
        self._buffered = 0
        self._seq = 0
        self._spill: IO[bytes] | None = None
        self._spill_dir = spill_dir
        self._spilled = 0
        self._bloom: bytearray | None = None
        self._suspects: set[bytes] = set()

    def add(self, subject: bytes, line: bytes, link: bytes | None = None, plan: bool = False) -> bool:
        """File ``line`` under ``subject``; ``link``: a node the line links the subject to; ``plan``: the line types
        the subject as a treatment plan. True when groups were spilled (an optimistic grouper has some ready).
        (Called once a triple: kept lean.)"""
        self._seq += 1
        nodes = self._node
        group = nodes.get(subject)
        if group is None:
            group = self._new_group(subject)
        if link is not None and link != subject:
            other = nodes.get(link)
            if other is None:
                self._attach(link, group)
            elif other is not group:
                group = self._merge(group, other)
        if plan:
            group.plans += 1
        group.lines.append(line)
        group.touched = self._seq
        self._buffered += 1
        if self._buffered > self._window:
            self._retire(self._seq - self._window // 2)
            return True
        return False

    def take(self) -> list[Group]:
        """The groups an optimistic grouper has spilled since the last call (complete unless :attr:`late`)."""
        ready, self._ready = self._ready, []
        return ready

    def groups(self) -> Iterator[Group]:
        """Every group, complete; call once, after the last :meth:`add`."""
        if self._spill is None:
            yield from sorted(self._live.values(), key=lambda g: g.first)
            return
        self._retire(self._seq + 1)
        spill, self._spill = self._spill, None
        try:
            spill.flush()
            if self._optimistic:
                yield from self.take()
                self.late = bool(self._suspects) and bool(self._joins(spill))
            else:
                yield from self._from_spill(spill)
        finally:
            spill.close()

    # ── groups in memory ──

    def _new_group(self, node: bytes) -> Group:
        group = Group(first=self._seq)
        self._live[id(group)] = group
        self._attach(node, group)
        return group

    def _attach(self, node: bytes, group: Group) -> None:
        if self._bloom is not None and self._maybe_spilled(node):
            self._suspects.add(node)
        self._node[node] = group
        group.nodes.append(node)

    def _merge(self, one: Group, other: Group) -> Group:
        big, small = (one, other) if len(one.lines) + len(one.nodes) >= len(other.lines) + len(other.nodes) \
            else (other, one)
        big.lines.extend(small.lines)
        big.nodes.extend(small.nodes)
        for node in small.nodes:
            self._node[node] = big
        big.plans += small.plans
        big.first = min(big.first, small.first)
        del self._live[id(small)]
        return big

    # ── spilling ──

    def _retire(self, before: int) -> None:
        """Write the groups last touched before line ``before`` to the spill file and forget them."""
        if self._spill is None:
            self._spill = tempfile.TemporaryFile(prefix="iimkg-plans-", dir=self._spill_dir)  # noqa: SIM115 (closed by groups())
            self._bloom = bytearray(_BLOOM_BITS // 8)
        old = sorted((g for g in self._live.values() if g.touched < before), key=lambda g: g.first)
        for group in old:
            if self._optimistic:  # handed out now; only the nodes are kept, to find a late line's group
                self._ready.append(group)
                pickle.dump((group.first, group.plans, b"", b"\n".join(group.nodes)), self._spill,
                            protocol=pickle.HIGHEST_PROTOCOL)
            else:
                pickle.dump((group.first, group.plans, b"".join(group.lines), b"\n".join(group.nodes)), self._spill,
                            protocol=pickle.HIGHEST_PROTOCOL)
            self._spilled += 1
            for node in group.nodes:
                del self._node[node]
                self._remember(node)
            self._buffered -= len(group.lines)
            del self._live[id(group)]

    def _bits(self, node: bytes) -> tuple[int, int, int]:
        value = hash(node) & 0xFFFF_FFFF_FFFF_FFFF
        mask = _BLOOM_BITS - 1
        return value & mask, (value >> 21) & mask, ((value >> 42) ^ (value * 0x9E3779B1)) & mask

    def _remember(self, node: bytes) -> None:
        bloom = self._bloom
        assert bloom is not None
        for bit in self._bits(node):
            bloom[bit >> 3] |= 1 << (bit & 7)

    def _maybe_spilled(self, node: bytes) -> bool:
        bloom = self._bloom
        assert bloom is not None
        return all(bloom[bit >> 3] & (1 << (bit & 7)) for bit in self._bits(node))

    def _records(self, spill: IO[bytes]) -> Iterator[tuple[int, int, bytes, bytes]]:
        spill.seek(0)
        for _ in range(self._spilled):
            yield pickle.load(spill)

    def _from_spill(self, spill: IO[bytes]) -> Iterator[Group]:
        """The spilled groups, those that share a node joined (only suspects can be shared: a node seen again after
        its group was spilled)."""
        joined = self._joins(spill) if self._suspects else {}
        held: dict[int, list[tuple[int, int, bytes, bytes]]] = {}
        for index, record in enumerate(self._records(spill)):
            root = joined.get(index)
            if root is None:
                yield _group(*record)
            else:
                held.setdefault(root, []).append(record)
        for records in held.values():
            group = Group(first=min(r[0] for r in records))
            for _, plans, lines, _ in records:
                group.lines.append(lines)
                group.plans += plans
            yield group

    def _joins(self, spill: IO[bytes]) -> dict[int, int]:
        """Spilled group index -> the index of the first group it shares a suspect node with (transitively)."""
        owners: dict[bytes, int] = {}
        parent: dict[int, int] = {}

        def find(index: int) -> int:
            while parent.get(index, index) != index:
                index = parent[index]
            return index

        for index, (_, _, _, nodes) in enumerate(self._records(spill)):
            for node in nodes.split(b"\n"):
                if node in self._suspects:
                    first = owners.setdefault(node, index)
                    if first != index:
                        a, b = find(first), find(index)
                        if a != b:
                            parent[max(a, b)] = min(a, b)
                            parent.setdefault(min(a, b), min(a, b))
        return {index: find(index) for index in parent}


def _group(first: int, plans: int, lines: bytes, _nodes: bytes) -> Group:
    return Group(first=first, lines=[lines], plans=plans)


def spill_dir() -> str | None:
    """Where spill files go: ``IIMKG_TMPDIR`` if set, else the system's temporary folder."""
    return os.environ.get("IIMKG_TMPDIR") or None

"""Grouping a stream of triples into plans: each plan with everything it links to, wherever in the file it is.

A plan file is read as a stream of N-Triples lines (N-Triples and N-Quads as they are, other syntaxes parsed and
written out as lines). Each line is filed under its subject; a line whose object is a blank node, or whose predicate
is a link of the plan vocabulary (``iim:patient``, ``iim:prescription``… read from the ontology, see
:func:`iimkg.plans.splitting.plan_vocabulary`), joins the object's group to the subject's (union-find), so a plan's
patient, prescriptions and co-interventions end in its group whatever their order in the file: interleaved plans,
a prescription described before its plan, blank-node plans. Two plans that share a resource stay one group, as they
were one graph before.

Memory is bounded by a window of lines. When it is full, the groups not touched in the last half window are written
to a spill file and forgotten, and the least recently touched others too until half the window is free; a compact
filter (a Bloom filter of fixed size) remembers which node keys were spilled, so a later line about a spilled node is
noted as a suspect. At the end, spilled groups that share a suspect node are joined before anything is handed out
(the joined ones sorted into bucket files by the group they join, a bucket at a time read back); a file that never
filled the window is handed out from memory. The groups are exact whatever the layout.

A cohort written plan by plan has no suspects, and its memory is that of the window (plus the fixed filter) whatever
the size of the file. A file whose plans are scattered over it, such as N-Triples sorted by ``sort`` or a
triplestore's dump (each in the order of its subjects, so a plan's blank nodes are described far from the plan), has
a suspect for most of its nodes: their keys are held until the end, and the file is spilled whole to disk once. On
100,000 plans of the benchmark's cohort (``bench/validate.py --layouts sorted``) the splitting process peaked at
474 MB, against 274 MB for the same plans written plan by plan: some 2 MB more for every 1,000 plans.

An *optimistic* grouper hands spilled groups out at once (:meth:`Grouper.take`), so checking starts while the file
is still being read; if a later line turns out to belong to a group already handed out, :attr:`Grouper.late` is set
at the end and the caller reads the file again exactly (:func:`iimkg.plans.splitting.split_file` says so to the
checker, which drops what it found in that file). Cohorts written plan by plan never pay for that; a scattered file
shows itself in the first spill (:attr:`Grouper.scattered`), and is read exactly from then on.
"""

from __future__ import annotations

import pickle
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

__all__ = ["WINDOW_LINES", "Group", "Grouper", "Line"]

# Lines held in memory before the least recently touched groups are spilled (some 10,000 plans, about 60 MB).
WINDOW_LINES = 500_000
_BLOOM_BITS = 1 << 28  # 32 MB: under 1 % false suspects up to some 30 million spilled nodes
_BLOOM_MASK = _BLOOM_BITS - 1
_BIT = tuple(1 << n for n in range(8))  # a bit of a byte of the filter
_SPILL_BATCH = 1_000  # groups written to the spill file in one record
# Suspect nodes (met after their group was spilled) that show a file's plans are scattered: more than this many, and
# more than this share of the lines read since the first spill. A file written plan by plan has only the Bloom
# filter's false suspects (by its false-positive rate, computed for 13 nodes a plan: a few at 100,000 plans, under
# 0.2 % of the lines at a million); a sorted file about one for every four lines (the bench's cohort has some 13
# blank nodes in 56 lines a plan).
_SCATTERED, _SCATTERED_SHARE = 1_000, 0.02
# Bytes of lines of joined groups (see Grouper._from_spill) held at once: groups are sorted into buckets by their
# root, a bucket at a time read back, so that a scattered file is never held whole.
BUCKET_BYTES = 64 << 20

Line = tuple[bytes, bytes, bytes, bytes]
"""A line taken apart: the line itself (with its line end), its subject and predicate as N-Triples terms, and its
object when it is an IRI or a blank node (b"" for a literal)."""
Odd = Callable[[bytes, int], list[Line]]

# What a predicate does to the grouping (see Grouper._kind); compared by identity in the inner loop.
_PLAIN, _LINK, _TYPE, _ODD = object(), object(), object(), object()
_KINDS_KEPT = 100_000  # predicates remembered


def _plain_node(term: bytes) -> bool:
    """An IRI or a blank node written plainly: one term (no other "<" or ">"), no escape."""
    if term[:1] == b"<":
        return term[-1:] == b">" and term.count(b"<") == 1 and term.count(b">") == 1 and b"\\" not in term
    return term[:2] == b"_:" and len(term) > 2 and b"<" not in term and b">" not in term and b"\\" not in term


class Group:
    """The lines of one connected group of nodes (a plan and what it links to; or lines linked to no plan).
    (A plain class with slots: one is made for every subject of the file.)"""

    __slots__ = ("first", "lines", "nodes", "plans", "touched")

    def __init__(self, first: int, node: bytes | None = None, lines: list[bytes] | None = None,
                 plans: int = 0) -> None:
        self.first = first
        self.lines: list[bytes] = [] if lines is None else lines
        self.nodes: list[bytes] = [] if node is None else [node]
        self.plans = plans
        self.touched = first


class Grouper:
    """Feed lines with :meth:`add`, then take the groups from :meth:`groups` (in the order of their first line,
    or of their spilling for a file larger than the window).

    ``links``: the predicates that join their (IRI) object's group to the subject's; ``plan_types``: the classes
    whose instances are plans; ``type_predicate``: ``rdf:type`` (all as N-Triples terms). A blank-node object always
    joins. The groups in memory are those of the nodes in memory (every group has a node: the subject it was made
    for), so no other registry is kept."""

    def __init__(self, links: frozenset[bytes], plan_types: frozenset[bytes], type_predicate: bytes,
                 window: int = WINDOW_LINES, spill_dir: str | None = None, optimistic: bool = False) -> None:
        self._kinds: dict[bytes, object] = {b"": _ODD}
        self._links = links
        self._plan_types = plan_types
        self._type = type_predicate
        self._window = max(2, window)
        self._optimistic = optimistic
        self._ready: list[Group] = []
        self.late = False
        self._node: dict[bytes, Group] = {}
        self._buffered = 0
        self._capacity = self._window  # lines held before spilling: the window, or more for one group larger than half
        self._seq = 0
        self._spill: IO[bytes] | None = None
        self._spill_dir = spill_dir
        self._bloom: bytearray | None = None
        # the keys (hash) of suspect nodes: met after a group holding them was spilled; a collision of two keys only
        # joins two groups into one unit, which is checked as one graph, as two plans sharing a resource are
        self._suspects: set[int] = set()
        self._groups = 0  # groups in the spill file
        self.rounds = 0  # times the window was spilled
        self._spilled_at = 0  # the line of the first spill
        self._dangling = False  # plans were spilled whose blank nodes were not described yet

    @property
    def scattered(self) -> bool:
        """Whether the file's plans are scattered over it (sorted lines, a triplestore's dump) rather than written
        plan by plan: most plans spilled had blank nodes not yet described (:func:`_mostly_dangling`), or so many
        lines came for groups already spilled. An optimistic split is then given up early
        (:func:`iimkg.plans.splitting.split_file`), since it would end in reading the file again anyway, after
        checking plans without their parts."""
        if self._dangling:
            return True
        suspects = len(self._suspects)
        return suspects > _SCATTERED and suspects > (self._seq - self._spilled_at) * _SCATTERED_SHARE

    def add(self, lines: Iterable[bytes], number: int = 0, odd: Odd | None = None) -> int:
        """File N-Triples or N-Quads lines (each with its line end); ``number``: the line number before the first.
        A line is taken apart by its spaces when it is plainly written (an IRI or blank-node subject and an IRI
        predicate, each followed by one space and without escapes; then the object: a literal, or an IRI or blank node
        followed by a space, a graph or a dot); any other line (a comment, a blank line, tabs, escapes, a syntax
        error) goes to ``odd`` with its number, which gives its triples as :data:`Line` (none for a comment).
        Returns how many triples were filed; groups an optimistic grouper spilled meanwhile wait in :meth:`take`.

        This is the splitter's inner loop (millions of lines) and is written for speed: locals; a subject checked
        and looked up only when it changes from the line before (a plan's lines come together), a predicate checked
        once per file (:meth:`_kind`); no call for a line that only adds to its subject's group; a group's
        ``touched`` set when the lines leave it, not at every line."""
        nodes, kinds, plan_types = self._node, self._kinds, self._plan_types
        bloom = self._bloom
        seq = start = self._seq
        limit = seq + self._capacity - self._buffered  # spill when seq passes this
        subject = None
        group = Group(0)  # replaced at the first line
        glines = group.lines
        odd_lines = odd_triples = 0  # lines given to ``odd``, and the triples they held: a line's number from seq
        for line in lines:
            try:
                s, p, rest = line.split(b" ", 2)
            except ValueError:
                s = p = rest = b""  # b"" is odd
            kind = kinds.get(p) or self._kind(p)
            if s != subject and kind is not _ODD:
                group.touched = seq
                found = nodes.get(s)
                if found is None and ((s[:1] == b"<" and s[-1:] == b">" and s.count(b"<") == 1)
                                      or (s[:2] == b"_:" and b"<" not in s)) and b"\\" not in s:
                    found = nodes[s] = Group(seq + 1, s)
                    if bloom is not None:  # a node of a spilled group? (the filter's first bit inlined)
                        bit = hash(s) & _BLOOM_MASK
                        if bloom[bit >> 3] & _BIT[bit & 7] and self._maybe_spilled(s):
                            self._suspects.add(hash(s))
                if found is None:
                    kind = _ODD
                else:
                    subject, group, glines = s, found, found.lines
            c = rest[:1]
            if kind is _PLAIN and (c == b'"' or c == b"<"):  # most lines: a literal, or an IRI linking nothing
                seq += 1
                glines.append(line)
                if seq > limit:
                    limit = self._spill_from(group, seq, limit)
                    bloom = self._bloom
                continue
            if kind is not _ODD:
                obj: bytes | None = b""  # a literal
                if c == b"_":  # a blank node, then a space ("_:b." or "_:b<g>" are parsed)
                    end = rest.find(b" ")
                    obj = rest[:end]
                    if end < 3 or obj[-1:] == b"." or b"<" in obj:
                        obj = None
                elif c == b"<":  # an IRI after a link or rdf:type
                    end = rest.find(b">") + 1
                    obj = rest[:end]
                    if not end or b"\\" in obj or rest[1:2] == b"<":
                        obj = None
                elif c != b'"':  # another space, a tab
                    obj = None
                if obj is not None:
                    seq += 1
                    if kind is _TYPE:
                        if obj in plan_types:
                            group.plans += 1
                    elif obj and obj != s:
                        other = nodes.get(obj)
                        if other is None:
                            nodes[obj] = group
                            group.nodes.append(obj)
                            if bloom is not None:
                                bit = hash(obj) & _BLOOM_MASK
                                if bloom[bit >> 3] & _BIT[bit & 7] and self._maybe_spilled(obj):
                                    self._suspects.add(hash(obj))
                        elif other is not group:
                            if len(other.nodes) == 1:  # one node described before the line linking it: joins
                                glines += other.lines
                                nodes[obj] = group
                                group.nodes.append(obj)
                                group.plans += other.plans
                                if other.first < group.first:
                                    group.first = other.first
                            else:
                                group = self._merge(group, other)
                                glines = group.lines
                    glines.append(line)
                    if seq > limit:
                        limit = self._spill_from(group, seq, limit)
                        bloom = self._bloom
                    continue
            odd_lines += 1
            if odd is not None:
                group.touched = self._seq = seq
                self._buffered = seq - limit + self._capacity
                for one in odd(line, number + (seq - start - odd_triples) + odd_lines):
                    self._file(*one)
                odd_triples += self._seq - seq
                seq = self._seq
                limit = seq + self._capacity - self._buffered
                bloom = self._bloom
                subject = None
        group.touched = self._seq = seq
        self._buffered = seq - limit + self._capacity
        return seq - start

    def _spill_from(self, group: Group, seq: int, limit: int) -> int:
        """:meth:`add` at line ``seq``, past ``limit``: the window is full; ``group``, the one being filled, is
        touched now. Spills (:meth:`_retire`) and returns the line after which to spill next."""
        group.touched = self._seq = seq
        self._buffered = seq - limit + self._capacity
        self._retire(seq - self._window // 2, keep=group)
        return seq + self._capacity - self._buffered

    def _kind(self, predicate: bytes) -> object:
        """What a predicate does (:data:`_LINK`, :data:`_TYPE`, :data:`_PLAIN`; :data:`_ODD` when it is not
        plainly written), remembered for the next lines (up to a bound: a file may have any number of predicates)."""
        if not _plain_node(predicate) or predicate[:1] != b"<":
            kind = _ODD
        elif predicate == self._type:
            kind = _TYPE
        else:
            kind = _LINK if predicate in self._links else _PLAIN
        if len(self._kinds) < _KINDS_KEPT:
            self._kinds[predicate] = kind
        return kind

    def _file(self, line: bytes, subject: bytes, predicate: bytes, obj: bytes) -> None:
        """File one line whose terms are known (an odd line, parsed); ``obj`` b"" for a literal."""
        self._seq += 1
        group = self._node.get(subject)
        if group is None:
            group = Group(self._seq)
            self._attach(subject, group)
        if obj and obj != subject:
            if predicate == self._type:
                group.plans += obj in self._plan_types
            elif obj[:1] == b"_" or predicate in self._links:
                other = self._node.get(obj)
                if other is None:
                    self._attach(obj, group)
                elif other is not group:
                    group = self._merge(group, other)
        group.lines.append(line)
        group.touched = self._seq
        self._buffered += 1
        if self._buffered > self._capacity:
            self._retire(self._seq - self._window // 2, keep=group)

    def take(self) -> list[Group]:
        """The groups an optimistic grouper has spilled since the last call (complete unless :attr:`late`)."""
        ready, self._ready = self._ready, []
        return ready

    def close(self) -> None:
        """Give up: remove the spill file (a split abandoned half way, see :attr:`scattered`)."""
        if self._spill is not None:
            self._spill.close()
            self._spill = None
        self._node.clear()
        self._ready.clear()
        self._bloom, self._suspects = None, set()  # the exact split that follows keeps its own

    def groups(self) -> Iterator[Group]:
        """Every group, complete; call once, after the last :meth:`add`."""
        if self._spill is None:
            yield from sorted(self._live(), key=lambda g: g.first)
            return
        self._retire(self._seq + 1)
        spill, self._spill = self._spill, None
        try:
            spill.flush()
            if self._optimistic:
                yield from self.take()
                self.late = bool(self._suspects) and self._joins(spill) is not None
            else:
                yield from self._from_spill(spill)
        finally:
            spill.close()

    # ── groups in memory ──

    def _live(self) -> list[Group]:
        """The groups in memory: those of the nodes in memory, each once."""
        return list({id(group): group for group in self._node.values()}.values())

    def _attach(self, node: bytes, group: Group) -> None:
        if self._bloom is not None and self._maybe_spilled(node):
            self._suspects.add(hash(node))
        self._node[node] = group
        group.nodes.append(node)

    def _merge(self, one: Group, other: Group) -> Group:
        """Join two groups: the smaller one's lines and nodes go to the larger one, which is returned."""
        if len(one.lines) < len(other.lines):
            one, other = other, one
        one.lines += other.lines
        one.nodes += other.nodes
        node = self._node
        for key in other.nodes:
            node[key] = one
        one.plans += other.plans
        if other.first < one.first:
            one.first = other.first
        if other.touched > one.touched:
            one.touched = other.touched
        return one

    # ── spilling ──

    def _retire(self, before: int, keep: Group | None = None) -> None:
        """Write the groups last touched before line ``before`` to the spill file and forget them; and if that leaves
        more than half the window, the least recently touched of the others too, until half the window is free.

        The second part is for files whose plans are scattered (N-Triples sorted by ``sort``, a triplestore's dump,
        both in the order of their subjects): there every group in memory is touched again and again, none is old,
        and spilling only old groups freed nothing, so the next line spilled again: a scan of every group in memory
        at every line (20,000 sorted plans: over ten minutes instead of 20 s). Freeing half the window keeps the
        scans one per half window; the groups spilled early are joined again at the end (their nodes are suspects).
        """
        if self._spill is None:
            self._spill = tempfile.TemporaryFile(prefix="iimkg-plans-", dir=self._spill_dir)  # noqa: SIM115 (closed by groups())
            self._bloom = bytearray(_BLOOM_BITS // 8)
            self._spilled_at = self._seq
        chosen, left, room = [], self._buffered, self._window // 2
        for group in sorted(self._live(), key=lambda g: g.touched):
            if group.touched >= before and left <= room:
                break
            if group is not keep:
                chosen.append(group)
                left -= len(group.lines)
        # the group being filled stays whole in memory: if it alone holds more than half the window, the next spill
        # waits for half a window more all the same (else every line would spill again)
        self._capacity = self._window + max(0, left - room)
        self.rounds += 1
        old = sorted(chosen, key=lambda g: g.first)
        if self._optimistic and not self._dangling:
            self._dangling = _mostly_dangling(old)
        nodes, bloom = self._node, self._bloom
        assert bloom is not None
        records: list[tuple[int, int, bytes, bytes]] = []
        for group in old:
            if self._optimistic:  # handed out now; only the nodes are kept, to find a late line's group
                self._ready.append(group)
                records.append((group.first, group.plans, b"", b"\n".join(group.nodes)))
            else:
                records.append((group.first, group.plans, b"".join(group.lines), b"\n".join(group.nodes)))
            if len(records) == _SPILL_BATCH:
                self._dump(records)
                records = []
            for node in group.nodes:  # remembered in the filter (_bits inlined: this runs for every node)
                del nodes[node]
                value = hash(node) & 0xFFFF_FFFF_FFFF_FFFF
                bit = value & _BLOOM_MASK
                bloom[bit >> 3] |= _BIT[bit & 7]
                bit = (value >> 21) & _BLOOM_MASK
                bloom[bit >> 3] |= _BIT[bit & 7]
                bit = ((value >> 42) ^ (value * 0x9E3779B1)) & _BLOOM_MASK
                bloom[bit >> 3] |= _BIT[bit & 7]
            self._buffered -= len(group.lines)
        if records:
            self._dump(records)

    def _dump(self, records: list[tuple[int, int, bytes, bytes]]) -> None:
        assert self._spill is not None
        _write_batch(self._spill, records)
        self._groups += len(records)

    def _bits(self, node: bytes) -> tuple[int, int, int]:
        value = hash(node) & 0xFFFF_FFFF_FFFF_FFFF
        return value & _BLOOM_MASK, (value >> 21) & _BLOOM_MASK, ((value >> 42) ^ (value * 0x9E3779B1)) & _BLOOM_MASK

    def _maybe_spilled(self, node: bytes) -> bool:
        bloom = self._bloom
        assert bloom is not None
        return all(bloom[bit >> 3] & _BIT[bit & 7] for bit in self._bits(node))

    def _records(self, spill: IO[bytes]) -> Iterator[tuple[int, int, bytes, bytes]]:
        return _read_batches(spill)

    def _from_spill(self, spill: IO[bytes]) -> Iterator[Group]:
        """The spilled groups, those that share a node joined (only suspects can be shared: a node seen again after
        its group was spilled).

        A group joined with none is handed out as it is read back. The joined ones are sorted into bucket files by
        the group they join (as many buckets as the spill file has :data:`BUCKET_BYTES`), then each bucket is read
        back and its groups joined: in a scattered file nearly every group is joined, and holding them all until the
        end held the whole file."""
        joined = self._joins(spill) if self._suspects else None
        buckets = [tempfile.TemporaryFile(prefix="iimkg-join-", dir=self._spill_dir)  # noqa: SIM115 (closed below)
                   for _ in range(-(-spill.seek(0, 2) // BUCKET_BYTES) if joined is not None else 0)]
        try:
            waiting: list[list[tuple[int, int, int, bytes]]] = [[] for _ in buckets]
            for index, (first, plans, lines, _) in enumerate(self._records(spill)):
                root = joined.root(index) if joined is not None else None
                if root is None:
                    yield Group(first=first, lines=[lines], plans=plans)
                    continue
                batch = waiting[root % len(buckets)]
                batch.append((root, first, plans, lines))
                if len(batch) == _SPILL_BATCH:
                    _write_batch(buckets[root % len(buckets)], batch)
                    batch.clear()
            for bucket, batch in zip(buckets, waiting, strict=True):
                _write_batch(bucket, batch)
                batch.clear()
                held: dict[int, Group] = {}
                for root, first, plans, lines in _read_batches(bucket):
                    group = held.get(root)
                    if group is None:
                        group = held[root] = Group(first=first)
                    group.first = min(group.first, first)
                    group.lines.append(lines)
                    group.plans += plans
                bucket.truncate(0)
                yield from held.values()
        finally:
            for bucket in buckets:
                bucket.close()

    def _joins(self, spill: IO[bytes]) -> _Joins | None:
        """Which spilled groups share a suspect node (transitively); ``None`` if none does.

        A union-find over the groups' places in the spill file, in an array (8 bytes a group) and not in dicts: in
        a scattered file nearly every group is joined to another, and dicts of them took more memory than the lines
        held in the window."""
        owners: dict[int, int] = {}  # a suspect's key -> the first group holding it
        joins = _Joins(self._groups)
        suspects = self._suspects
        for index, (_, _, _, nodes) in enumerate(self._records(spill)):
            for node in nodes.split(b"\n"):
                key = hash(node)
                if key in suspects:
                    first = owners.setdefault(key, index)
                    if first != index:
                        joins.join(first, index)
        return joins if joins.any else None


class _Joins:
    """Groups joined, by their index in the spill file: a union-find in an array, and a byte per group for "joined"."""

    def __init__(self, groups: int) -> None:
        self._parent = array("q", range(groups))
        self._joined = bytearray(groups)
        self.any = False

    def _find(self, index: int) -> int:
        parent = self._parent
        while parent[index] != index:
            parent[index] = parent[parent[index]]  # halve the path
            index = parent[index]
        return index

    def join(self, one: int, other: int) -> None:
        a, b = self._find(one), self._find(other)
        self._joined[one] = self._joined[other] = 1
        self.any = True
        if a != b:
            self._parent[max(a, b)] = min(a, b)

    def root(self, index: int) -> int | None:
        """The first group of the joined groups ``index`` is one of, or ``None`` if it is joined with none."""
        return self._find(index) if self._joined[index] else None


def _write_batch(handle: IO[bytes], batch: list[Any]) -> None:
    """Append a batch of records to a spill or bucket file, as one pickle."""
    pickle.dump(batch, handle, protocol=pickle.HIGHEST_PROTOCOL)


def _read_batches(handle: IO[bytes]) -> Iterator[Any]:
    """Every record of the batches written to ``handle`` (:func:`_write_batch`), from its start to its end."""
    end = handle.seek(0, 2)
    handle.seek(0)
    while handle.tell() < end:
        yield from pickle.load(handle)


_SAMPLED = 100  # plans of a spill round looked at by _mostly_dangling


def _mostly_dangling(groups: list[Group]) -> bool:
    """Whether most plans among ``groups`` (some of them) link to a blank node that none of their lines describes.

    A blank node belongs to its file, so in a file written plan by plan it is described among its plan's lines
    before the plan is spilled; a sorted file or a store's dump describes the blank nodes elsewhere (``_:`` lines
    sort after ``<`` ones). An IRI is not looked at: a patient may be described in another file."""
    planned = [group for group in groups if group.plans][:_SAMPLED]
    dangling = 0
    for group in planned:
        subjects = {line.split(b" ", 1)[0] for line in group.lines}
        dangling += any(node[:2] == b"_:" and node not in subjects for node in group.nodes)
    return dangling * 2 > len(planned) > 0

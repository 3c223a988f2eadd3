"""Blank nodes named by what they describe, so that two runs over the same file report the same labels.

A store draws a blank node's label at random when it reads a file: a plan written as ``[ a iim:TreatmentPlan … ]``,
and the patient and prescriptions of any plan, were reported (``focus``, ``plan_iri``, SARIF's logical location)
under a new label on every run, so a nightly job's report differed from the night before wherever a plan had blank
nodes. Here a blank node is labelled by a digest of the triples it is the subject of; where two nodes tie on
those, the blank nodes among their objects are followed down to :data:`DEPTH` levels (a plan, its patient, a
prescription's dose). A node that is not a plan adds the labels of the plans whose findings name it, so two equal
prescriptions of two plans differ. A plan with an identifier is first told apart by it. Triples the rules derived
(the ``iimplan:`` namespace) do not count: they follow from the others. Nodes equal in all of that are told apart
by a number, in an order that cannot matter: nothing tells them apart.

A blank-node plan's label is made with where its unit starts in the file (:attr:`PlanUnit.first
<iimkg.plans.splitting.PlanUnit>`) too, so that two plans alike in every triple, in two chunks, keep two labels;
since that does not depend on the chunk or Spark partition a unit is checked in, a label is the same whatever the
chunk size, the workers or ``--spark``, and unique within its file (findings name their file). The release names
its blank nodes the same way (``_blank_names`` in :mod:`iimkg.release.graph`), over a whole graph a layer at a
time; here only the nodes a chunk's findings name are labelled, since a chunk has thousands of others.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping

import pyoxigraph as ox

from iimkg.core.vocab import IIMPLAN
from iimkg.plans.results import Outcome

__all__ = ["DEPTH", "label_blank_nodes"]

DEPTH = 6  # levels of blank nodes followed: a plan's patient or prescription is 1, deeper data is rarer


def label_blank_nodes(store: ox.Store, outcome: Outcome, units: Mapping[str, int] | None = None) -> None:
    """Relabel the blank nodes of ``outcome`` (its results' focus, value and plan, its plans and names) by what
    they describe in ``store``; ``units``: the first line of the unit of each blank-node plan, by its label in the
    store (a plan not in it is labelled by what it describes alone)."""
    blanks = _blank_nodes(outcome)
    if not blanks:
        return
    digests = _Digests(store)
    # the file each node is in: labels are unique within a file, so ties are told apart there, and only there (a
    # node of another file in the same chunk must not change a label: the chunk is not the same in every run)
    files: dict[ox.BlankNode, set[str]] = {}
    for file, found in outcome.plans.items():
        for plan in found:
            if isinstance(plan, ox.BlankNode):
                files.setdefault(plan, set()).add(file)
    plans = set(files)
    owners: dict[ox.BlankNode, set[object]] = {}
    for result in outcome.results:
        for term in (result.focus, result.value):
            if isinstance(term, ox.BlankNode) and term not in plans:
                owners.setdefault(term, set()).add(result.plan)
                files.setdefault(term, set()).add(result.file or "")

    def scope(node: ox.BlankNode) -> str:
        return "\n".join(sorted(files.get(node, ())))
    # plans first: the other nodes add their plans' labels, final ones, so that a node of one of two plans alike
    # follows its own plan (tied plans take their numbers in any order: nothing in the report tells them apart)
    where = units or {}

    def plan_key(node: ox.BlankNode, depth: int) -> str:
        identifier = outcome.names.get(node)
        key = _digest(f"identifier {identifier}") if depth == 0 and identifier is not None else digests.of(node, depth)
        first = where.get(node.value)
        return key if first is None else _digest(f"unit {first}\n{key}")

    labels = _labelled(plans, plan_key, scope)

    def name(plan: object) -> str:
        return labels[plan].value if isinstance(plan, ox.BlankNode) and plan in labels else str(plan)

    def described(node: ox.BlankNode, depth: int) -> str:
        return _digest(" ".join(sorted(name(plan) for plan in owners.get(node, ()))) + "\n" + digests.of(node, depth))

    others = blanks - plans
    labels.update(_labelled(others, described, scope))
    outcome.relabel(lambda node: labels.get(node, node))
    # a label made without a unit is unique in this chunk only: a plan written on an odd line or in a unit not cut
    # from a file's lines, a node of such a plan, a node of no plan
    unplaced = {plan for plan in plans if plan.value not in where}
    outcome.chunk_local = frozenset(labels[node].value for node in unplaced | {
        node for node in others
        if not owners.get(node) or any(owner is None or owner in unplaced for owner in owners[node])})


def _blank_nodes(outcome: Outcome) -> set[ox.BlankNode]:
    found: set[ox.BlankNode] = set()
    for result in outcome.results:
        found.update(t for t in (result.focus, result.value, result.plan) if isinstance(t, ox.BlankNode))
    for plans in outcome.plans.values():
        found.update(p for p in plans if isinstance(p, ox.BlankNode))
    return found


def _labelled(nodes: Iterable[ox.BlankNode], key: Callable[[ox.BlankNode, int], str],
              scope: Callable[[ox.BlankNode], str]) -> dict[ox.BlankNode, ox.BlankNode]:
    """Labels from the key of each node's own triples (blank objects not followed), and, for the nodes of one
    ``scope`` (file) that tie there, from the key :data:`DEPTH` levels down. A node's own triples tell most nodes
    apart (a plan by its identifier and date); following every blank node below every plan cost the workers a fifth
    as much as the rules' evaluation, on plans written as blank nodes."""
    shallow = {node: (scope(node), key(node, 0)) for node in nodes}
    ties = Counter(shallow.values())
    return _numbered({node: own if ties[own] == 1 else (own[0], key(node, DEPTH)) for node, own in shallow.items()})


def _numbered(keys: dict[ox.BlankNode, tuple[str, str]]) -> dict[ox.BlankNode, ox.BlankNode]:
    """Each node's label: its key's first 16 hex digits, and ``x`` and a number after it for nodes of one scope with
    the same key (nodes alike in everything the key reads, in one unit: nothing tells them apart, so their order
    cannot matter)."""
    by_key: dict[tuple[str, str], list[ox.BlankNode]] = {}
    for node, key in keys.items():
        by_key.setdefault(key, []).append(node)
    labels = {}
    for (_, digest), nodes in by_key.items():
        for number, node in enumerate(nodes):
            labels[node] = ox.BlankNode(f"{digest[:16]}x{number}" if len(nodes) > 1 else digest[:16])
    return labels


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class _Digests:
    """The digest of what a blank node describes (see the module's note), computed once a node and depth."""

    def __init__(self, store: ox.Store) -> None:
        self._store = store
        self._known: dict[tuple[ox.BlankNode, int], str] = {}

    def of(self, node: ox.BlankNode, depth: int = DEPTH) -> str:
        known = self._known.get((node, depth))
        if known is None:
            known = self._known[(node, depth)] = _digest("\n".join(sorted(self._lines(node, depth))))
        return known

    def _lines(self, node: ox.BlankNode, depth: int) -> Iterable[str]:
        for quad in self._store.quads_for_pattern(node, None, None, ox.DefaultGraph()):
            predicate, value = quad.predicate, quad.object
            if predicate.value.startswith(IIMPLAN) or (isinstance(value, ox.NamedNode)
                                                       and value.value.startswith(IIMPLAN)):
                continue
            if isinstance(value, ox.BlankNode):
                yield f"{predicate} _:{self.of(value, depth - 1) if depth > 0 else ''}"
            else:
                yield f"{predicate} {value}"

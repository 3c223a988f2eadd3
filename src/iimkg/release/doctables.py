"""The tables in ``docs/`` that restate the shapes or the graph, written from them: never edited by hand.

- ``docs/plans.md``, ``rules``: every treatment-plan rule of ``shapes/treatment-plan.ttl`` with its severity, what
  it checks (``rdfs:label``), the statements it enforces (``iimplan:enforces``, as their ``dcterms:identifier``) and
  its source (``dcterms:source``);
- ``docs/model.md``, ``terms``: every class of our own by kind (the class of ours it first sits under: ``iim:Drug``,
  ``iim:Infection``…), with its ID, English label and parents.

Each table sits between ``<!-- generated: NAME -->`` and ``<!-- end generated -->`` in its file; the text around it
is the author's. ``python -m iimkg.release.doctables`` rewrites the tables, ``--check`` only says which are stale
(``tests/test_docs.py`` runs the check), so a rule or a term added to the data reaches the docs by one command.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pyoxigraph as ox

from iimkg.core.prefixes import compress
from iimkg.core.resources import data_dir, shapes_dir
from iimkg.core.vocab import DCTERMS, IIM, RDFS_LABEL, STATEMENT_PREFIX
from iimkg.graph.internal import select_internal
from iimkg.graph.loading import shared_store
from iimkg.shacl.findings import CheckKind, rules_of

__all__ = ["COMMAND", "DOCUMENTS", "WRITERS", "main", "refreshed", "rule_table", "stale", "term_table"]

COMMAND = "python -m iimkg.release.doctables"
_OWN_TERM = IIM + "IIM_"


def _block(name: str) -> re.Pattern[str]:
    """The marked block ``name``: its opening marker, its body, its closing marker."""
    return re.compile(rf"(<!-- generated: {re.escape(name)} -->\n)(.*?)(<!-- end generated -->)", re.DOTALL)


def _cell(text: str) -> str:
    """Text for a Markdown table cell: on one line, with ``|`` escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _statement_ids(store: ox.Store) -> dict[str, str]:
    """Each statement's ID as people cite it (``S31`` for ``iim:statement-S31a``): its ``dcterms:identifier``."""
    ids = store.quads_for_pattern(None, ox.NamedNode(DCTERMS + "identifier"), None)
    return {q.subject.value: q.object.value for q in ids if isinstance(q.subject, ox.NamedNode)
            and q.subject.value.startswith(STATEMENT_PREFIX) and isinstance(q.object, ox.Literal)}


def rule_table(shapes: Path | None = None, store: ox.Store | None = None) -> str:
    """The plan rules as a Markdown table, by kind (structural, then clinical: ``iimplan:ruleKind``), then name."""
    import rdflib

    graph = rdflib.Graph().parse(shapes or shapes_dir() / "treatment-plan.ttl", format="turtle")
    rules = rules_of(graph, _statement_ids(store if store is not None else shared_store()),
                     default_kind=CheckKind.STRUCTURAL)
    order = list(CheckKind)
    rows = [(f"`{r.name}`", r.kind.value, r.severity.value, r.label, ", ".join(r.statements), r.source or "")
            for r in sorted(rules, key=lambda r: (order.index(r.kind), r.name))]
    return _table(("rule", "kind", "severity", "checks", "statements", "source"), rows)


def term_table(store: ox.Store | None = None) -> str:
    """Our classes as Markdown tables, one per kind, kinds in the order of their first ID, terms by ID."""
    store = store if store is not None else shared_store()
    labels: dict[str, str] = {}
    parents: dict[str, list[str]] = {}
    for solution in select_internal(store, "doc-terms.rq"):
        term = solution["term"].value
        parents.setdefault(term, [])
        if solution["label"] is not None:
            labels[term] = solution["label"].value
        parent = solution["parent"]
        if parent is not None and parent.value not in parents[term]:
            parents[term].append(parent.value)
    by_kind: dict[str, list[str]] = {}
    for term in sorted(parents):
        by_kind.setdefault(_kind(term, parents), []).append(term)
    out = []
    for kind, terms in by_kind.items():
        title = f"`{compress(kind) or kind}`" + (f" ({label})" if (label := _label(store, kind)) else "")
        rows = [(_short(t), labels.get(t, ""), ", ".join(_short(p) for p in parents[t])) for t in terms]
        out.append(f"### {title}\n\n" + _table(("ID", "label", "parent(s)"), rows))
    return "\n".join(out)


def _kind(term: str, parents: dict[str, list[str]]) -> str:
    """The first class above ``term`` that is not a term of ours (``iim:Drug``…), through its first parents."""
    seen = {term}
    while parents.get(term):
        term = parents[term][0]
        if not term.startswith(_OWN_TERM) or term in seen:
            return term
        seen.add(term)
    return term


def _label(store: ox.Store, iri: str) -> str | None:
    for quad in store.quads_for_pattern(ox.NamedNode(iri), ox.NamedNode(RDFS_LABEL), None):
        if isinstance(quad.object, ox.Literal) and (quad.object.language or "en").startswith("en"):
            return quad.object.value
    return None


def _short(iri: str) -> str:
    """``IIM_0000002`` for a term of ours, else its CURIE (``iim:Drug``)."""
    if iri.startswith(_OWN_TERM):
        return iri.removeprefix(IIM)
    return compress(iri) or iri


# Each generated block by marker name, and the blocks of each document under docs/.
WRITERS: dict[str, Callable[[], str]] = {"rules": rule_table, "terms": term_table}
DOCUMENTS: dict[str, tuple[str, ...]] = {"plans.md": ("rules",), "model.md": ("terms",)}


def refreshed(text: str, names: Sequence[str]) -> str:
    """``text`` with the body of each named block written again.

    :raises ValueError: if a block's markers are missing.
    """
    for name in names:
        body = WRITERS[name]()
        found = _block(name).search(text)
        if found is None:
            raise ValueError(f"no '<!-- generated: {name} -->' … '<!-- end generated -->' block")
        text = text[:found.start(2)] + body + text[found.end(2):]
    return text


def stale(docs: Path) -> list[str]:
    """The documents under ``docs`` whose generated tables differ from what the command writes."""
    out = []
    for name, sections in DOCUMENTS.items():
        text = (docs / name).read_text(encoding="utf-8")
        if refreshed(text, sections) != text:
            out.append(name)
    return out


def default_docs() -> Path:
    """The checkout's ``docs/`` folder (a wheel carries no docs: pass ``--docs``)."""
    return data_dir() / "docs"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=Path, default=None, help="the docs folder (default: the checkout's docs/)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a table is stale")
    ns = parser.parse_args(argv)
    docs: Path = ns.docs or default_docs()
    if not all((docs / name).is_file() for name in DOCUMENTS):
        print(f"{COMMAND}: {docs} does not hold {', '.join(DOCUMENTS)}; pass --docs", file=sys.stderr)
        return 2
    if ns.check:
        old = stale(docs)
        for name in old:
            print(f"{docs / name}: generated tables are stale; run {COMMAND}", file=sys.stderr)
        return 1 if old else 0
    for name, sections in DOCUMENTS.items():
        path = docs / name
        text = path.read_text(encoding="utf-8")
        new = refreshed(text, sections)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

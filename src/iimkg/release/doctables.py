"""The tables in ``docs/`` that restate the shapes or the graph, written from them: never edited by hand.

- ``docs/plans.md``, ``rules``: every treatment-plan rule of ``shapes/treatment-plan.ttl`` with its severity, what
  it checks (``rdfs:label``), the statements it enforces (``iimplan:enforces``, as their ``dcterms:identifier``) and
  its source (``dcterms:source``);
- ``docs/model.md``, ``terms``: every class of our own by kind (the class of ours it first sits under: ``iim:Drug``,
  ``iim:Infection``…), with its ID, English label and parents.

- ``README.md``, ``query NAME --PARAM VALUE …``: the first rows of a named query's answer, as the command before
  the table runs it, with each term's English label and its CURIE beside it (where ``iimkg query`` shows a label
  column and an IRI column). The marker names the command, so a README example is added by writing its marker.
- ``README.md``, ``report validate FILE …``: the head of the text report ``iimkg validate`` prints for an example
  plan (header, plan, every line of the first severity group, the other groups' headings, the summary), with each
  finding's source list cut after its statement IDs and the run time left out: the rule count and the findings
  follow the shapes and the graph.

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
from iimkg.core.rdfterms import Term
from iimkg.core.resources import data_dir, shapes_dir
from iimkg.core.vocab import DCTERMS, IIM, RDFS_LABEL, STATEMENT_PREFIX
from iimkg.graph.internal import select_internal
from iimkg.graph.loading import shared_store
from iimkg.shacl.findings import CheckKind, rules_of

__all__ = ["COMMAND", "DOCUMENTS", "README", "WRITERS", "main", "query_blocks", "query_table", "refreshed",
           "report_excerpt", "rule_table", "stale", "term_table"]

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


QUERY_ROWS = 4
_CELL_CHARS = 70
_QUERY_MARKER = re.compile(r"<!-- generated: ((?:query|report) [^\n]*?) -->")


def query_table(command: str) -> str:
    """The first :data:`QUERY_ROWS` rows of ``query NAME --PARAM VALUE …`` as a Markdown table, then a line with
    the number of rows and the columns with no value in any row (left out of the table).

    An IRI shows as its English label with its CURIE beside it (``prednisone `iim:IIM_0000102```), or its CURIE
    alone where the graph has no label for it; text is cut at 70 characters.

    :raises ValueError: if the command is not ``query NAME`` with ``--PARAM VALUE`` pairs.
    """
    import shlex

    from iimkg.queries.run import query, term_index

    words = shlex.split(command)
    if len(words) < 2 or words[0] != "query" or len(words) % 2:
        raise ValueError(f"not a 'query NAME --PARAM VALUE …' block: {command!r}")
    params: dict[str, str | None] = {}
    for flag, value in zip(words[2::2], words[3::2], strict=True):
        if not flag.startswith("--"):
            raise ValueError(f"{flag!r} is not a --PARAM in {command!r}")
        params[flag[2:]] = value
    result = query(words[1], labels=False, **params)
    index = term_index()
    filled = [c for c in result.columns if any(row[c] is not None for row in result)]
    empty = [c for c in result.columns if c not in filled]

    def cell(term: Term | None) -> str:
        if term is None:
            return ""
        if term.kind == "uri":
            curie = compress(term.value) or term.value
            label = index.label(term.value)
            return f"{_clip(label)} `{curie}`" if label else f"`{curie}`"
        return _clip(term.value)

    rows = [[cell(row[c]) for c in filled] for row in list(result)[:QUERY_ROWS]]
    count = len(result)
    more = f"first {len(rows)} of {count} rows" if count > len(rows) else f"{count} row{'s' if count != 1 else ''}"
    note = f"({more}{'; no value in: ' + ', '.join(empty) if empty else ''})"
    return _table(filled, rows) + "\n" + note + "\n"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _CELL_CHARS else text[:_CELL_CHARS - 1].rstrip() + "…"


_SOURCES = re.compile(r"  \[([^;\]]*);[^\]]*\]$")
_RUN_TIME = re.compile(r" in [0-9.]+ s:")


def report_excerpt(command: str) -> str:
    """The head of the text report of ``report validate FILE …`` as a fenced ``text`` block (see the module doc).

    The report comes from running ``iimkg validate`` in a child process, as a reader would: plan validation sits
    floors above this module, which must not import it.

    :raises ValueError: if the command is not ``validate …`` or its exit code is not 0 or 1 (a report).
    """
    import shlex
    import subprocess

    words = shlex.split(command)
    if len(words) < 3 or words[:2] != ["report", "validate"]:
        raise ValueError(f"not a 'report validate FILE …' block: {command!r}")
    run = subprocess.run([sys.executable, "-c", "import sys; from iimkg.cli.main import main; sys.exit(main())",
                          *words[1:]], capture_output=True, text=True, cwd=data_dir(), check=False)
    if run.returncode not in (0, 1):
        raise ValueError(f"iimkg {' '.join(words[1:])} exited {run.returncode}: {run.stderr.strip()}")
    lines = run.stdout.rstrip("\n").split("\n")
    groups = [i for i, line in enumerate(lines) if re.match(r"^    \S.* \(\d+\)$", line)]
    if not groups:
        kept = lines
    else:
        first_end = groups[1] if len(groups) > 1 else len(lines) - 1
        kept = lines[:first_end] + [x for i in groups[1:] for x in (lines[i], "      …")] + lines[-1:]
    kept = [_RUN_TIME.sub(":", _SOURCES.sub(r"  [\1; …]", line)) for line in kept]
    return "```text\n" + "\n".join(kept) + "\n```\n"


def _writer(name: str) -> Callable[[], str]:
    if name in WRITERS:
        return WRITERS[name]
    if name.startswith("query "):
        return lambda: query_table(name)
    if name.startswith("report "):
        return lambda: report_excerpt(name)
    raise ValueError(f"no writer for the generated block {name!r}")


# Each generated block by marker name, and the blocks of each document under docs/; README.md (beside docs/) has
# one block per `query …` marker it holds.
WRITERS: dict[str, Callable[[], str]] = {"rules": rule_table, "terms": term_table}
DOCUMENTS: dict[str, tuple[str, ...]] = {"plans.md": ("rules",), "model.md": ("terms",)}
README = "README.md"


def query_blocks(text: str) -> list[str]:
    """The ``query …`` and ``report …`` blocks a document holds, by their marker names."""
    return _QUERY_MARKER.findall(text)


def refreshed(text: str, names: Sequence[str]) -> str:
    """``text`` with the body of each named block written again.

    :raises ValueError: if a block's markers are missing.
    """
    for name in names:
        body = _writer(name)()
        found = _block(name).search(text)
        if found is None:
            raise ValueError(f"no '<!-- generated: {name} -->' … '<!-- end generated -->' block")
        text = text[:found.start(2)] + body + text[found.end(2):]
    return text


def _documents(docs: Path) -> list[tuple[Path, tuple[str, ...]]]:
    """Each document with generated blocks and their names: those under ``docs``, and the README beside it."""
    out = [(docs / name, sections) for name, sections in DOCUMENTS.items()]
    readme = docs.parent / README
    if readme.is_file():
        out.append((readme, tuple(query_blocks(readme.read_text(encoding="utf-8")))))
    return out


def stale(docs: Path) -> list[str]:
    """The documents (under ``docs``, and ``../README.md``) whose generated tables differ from what the command
    writes."""
    out = []
    for path, sections in _documents(docs):
        text = path.read_text(encoding="utf-8")
        if refreshed(text, sections) != text:
            out.append(path.name)
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
            print(f"{name}: generated tables are stale; run {COMMAND}", file=sys.stderr)
        return 1 if old else 0
    for path, sections in _documents(docs):
        text = path.read_text(encoding="utf-8")
        new = refreshed(text, sections)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

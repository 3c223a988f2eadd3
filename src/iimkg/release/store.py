"""What a triplestore needs to load a release: ``store/iimkg.nt``, ``store/iimkg.nq`` and how to load them.

``iimkg.nt`` is the English ontology with its mappings' triples (the graph of ``iim.owl``), one sorted line per
triple. ``iimkg.nq`` holds the same triples in a named graph, the release's version IRI of ``iim.owl``, and each
language's translated values in a graph of their own (the version IRI of ``iim-es.owl`` …): a store that queries
the union of its graphs (Oxigraph's ``--union-default-graph``, QLever, Virtuoso's default) answers as ``iimkg``
does locally, Spanish and Catalan names included, while every graph keeps one label per term.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyoxigraph as ox

from iimkg.release.editions import Translation
from iimkg.release.graph import version_iri_of

__all__ = ["LOAD_SCRIPT", "NQUADS", "NTRIPLES", "shipped_store_files", "store_files"]

NTRIPLES = "store/iimkg.nt"
NQUADS = "store/iimkg.nq"
LOAD_SCRIPT = "store/load-oxigraph.sh"
VIRTUOSO_SCRIPT = "store/load-virtuoso.isql"
README = "store/README.md"


def _lines(quads: Sequence[ox.Quad], fmt: ox.RdfFormat) -> bytes:
    text = (ox.serialize(quads, format=fmt) or b"").decode("utf-8")
    return "".join(line + "\n" for line in sorted(set(text.splitlines())) if line).encode("utf-8")


def store_files(english: Sequence[ox.Triple], translations: Mapping[str, Sequence[Translation]], *,
                version: str) -> dict[str, bytes]:
    """The files of ``store/``: ``english`` carries the ``iim.owl`` header; ``translations`` are by language."""
    main = ox.NamedNode(version_iri_of(version, "iim.owl"))
    quads = [ox.Quad(t.subject, t.predicate, t.object, main) for t in english]
    graphs = {"iim.owl": main.value}
    for language, rows in sorted(translations.items()):
        graph = ox.NamedNode(version_iri_of(version, f"iim-{language}.owl"))
        graphs[f"iim-{language}.owl"] = graph.value
        quads.extend(ox.Quad(ox.NamedNode(row.subject), ox.NamedNode(row.predicate),
                             ox.Literal(row.value, language=row.language), graph) for row in rows)
    triples = [ox.Triple(t.subject, t.predicate, t.object) for t in english]
    return {
        NTRIPLES: _lines([ox.Quad(t.subject, t.predicate, t.object) for t in triples], ox.RdfFormat.N_TRIPLES),
        NQUADS: _lines(quads, ox.RdfFormat.N_QUADS),
        LOAD_SCRIPT: _oxigraph_script().encode("utf-8"),
        VIRTUOSO_SCRIPT: _virtuoso_script().encode("utf-8"),
        README: _readme(version, graphs).encode("utf-8"),
    }


def shipped_store_files(version: str | None = None) -> dict[str, bytes]:
    """The ``store/`` files ``iimkg release`` writes for the shipped ontology, alone: no Java, no other artefact
    (for tests and benchmarks that load a triplestore)."""
    from iimkg.release.editions import shipped_editions
    from iimkg.release.graph import with_header

    editions, version = shipped_editions(version)
    return store_files(with_header(editions.english, name="iim.owl", version=version),
                       {language: editions.in_language(language) for language in editions.languages}, version=version)


def _oxigraph_script() -> str:
    return """#!/bin/sh
# Load this iimkg release into an Oxigraph store (https://github.com/oxigraph/oxigraph, `pip install oxigraph`).
# Usage: sh load-oxigraph.sh STORE_DIR
# Then serve it: oxigraph serve-read-only --location STORE_DIR --union-default-graph --bind localhost:7878
set -eu
if [ "$#" -ne 1 ]; then
    echo "usage: sh load-oxigraph.sh STORE_DIR" >&2
    exit 2
fi
if [ -d "$1" ] && [ -n "$(ls -A "$1")" ]; then
    echo "load-oxigraph.sh: $1 is not empty: an earlier release's graphs would stay beside this one's and be served" >&2
    echo "  with it; load into a new folder, then point oxigraph serve-read-only at it" >&2
    exit 2
fi
here=$(dirname "$0")
oxigraph load --location "$1" --file "$here/iimkg.nq"
echo "loaded $here/iimkg.nq into $1; serve it with:" >&2
echo "  oxigraph serve-read-only --location $1 --union-default-graph --bind localhost:7878" >&2
"""


def _virtuoso_script() -> str:
    return """-- Load this iimkg release into Virtuoso (Debian: virtuoso-opensource):
--   isql 1111 dba PASSWORD load-virtuoso.isql
-- The folder of iimkg.nq must be listed in DirsAllowed of virtuoso.ini; replace /srv/iimkg/store with it.
-- N-Quads carry their own graph names; the third argument is only used for files without one.
ld_dir('/srv/iimkg/store', 'iimkg.nq', 'https://w3id.org/iimkg/');
rdf_loader_run();
checkpoint;
SELECT ll_file, ll_state, ll_error FROM DB.DBA.load_list WHERE ll_file LIKE '%iimkg.nq';
"""


def _readme(version: str, graphs: Mapping[str, str]) -> str:
    def holds(name: str) -> str:
        if name == "iim.owl":
            return "the ontology and its mappings (as `iimkg.nt`)"
        language = name[len("iim-"):-len(".owl")]
        return f"the {language} translations (as `iim-{language}.babelon.tsv`)"

    rows = "\n".join(f"| `{graph}` | {holds(name)} |" for name, graph in graphs.items())
    return f"""# Loading iimkg {version} into a triplestore

| file | what |
|---|---|
| `iimkg.nt` | the ontology in English with its mappings' triples, one sorted line per triple (the graph of `iim.owl`) |
| `iimkg.nq` | the same triples in a named graph; each language's translated names in a graph of their own |
| `load-oxigraph.sh` | loads `iimkg.nq` into an Oxigraph store |
| `load-virtuoso.isql` | loads `iimkg.nq` into Virtuoso with its bulk loader |

The named graphs of `iimkg.nq`:

| graph | holds |
|---|---|
{rows}

Query the union of the graphs to get what `iimkg query` and `iimkg sparql` see locally, Spanish and Catalan names
included.

## Oxigraph

    sh load-oxigraph.sh /var/lib/iimkg
    oxigraph serve-read-only --location /var/lib/iimkg --union-default-graph --bind localhost:7878

The endpoint is then `http://localhost:7878/query`: `iimkg query treatments --disease dermatomyositis --endpoint
http://localhost:7878/query`.

**A new release goes into a new store.** Each release's graphs are named by its version, so loading it into a store
that holds an earlier one keeps both, and the union the server answers from mixes them (what the newer release
removed would still be there). The script refuses a folder that is not empty: load into a new one and point the
server at it. In Virtuoso, clear the earlier release's graphs first (`SPARQL CLEAR GRAPH <…>` for each graph its
README lists).

## Virtuoso

List this folder in `DirsAllowed` of `virtuoso.ini`, put its path in `load-virtuoso.isql`, then
`isql 1111 dba PASSWORD load-virtuoso.isql` (`ld_dir`, `rdf_loader_run`, `checkpoint`). Virtuoso's default graph
is the union of its graphs.

## QLever

Index `iimkg.nt` (N-Triples is Turtle, which every QLever version reads), e.g. with qlever-control's Qleverfile:
`INPUT_FILES = iimkg.nt` and `CAT_INPUT_FILES = cat ${{INPUT_FILES}}`, then `qlever index` and `qlever start`.
A QLever that reads N-Quads can index `iimkg.nq` instead, to have the translations too.
"""

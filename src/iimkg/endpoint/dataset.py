"""What the endpoint serves: the shipped graph and each ``--data`` file, as named graphs and merged as the default.

- The shipped graph is the named graph ``https://w3id.org/iimkg/iim.owl`` (the ontology's IRI, as Ubergraph
  names its graphs).
- Each ``--data FILE`` is the named graph ``urn:iimkg:data:NAME`` (NAME: the file name, percent-encoded);
  a TriG or N-Quads file's own named graphs keep their names. Two files with the same name are an error.
- The default graph is the merge of all of them, so a query without a dataset sees the ontology and the
  user's data together, as ``iimkg sparql --data`` does.
- ``default-graph-uri=G`` (or ``FROM <G>``) makes the default graph the merge of the graphs named; an IRI the
  endpoint does not hold is an empty graph. Nothing is ever fetched.

Files are parsed once, in the HTTP process, before the server listens: a broken file stops ``iimkg serve``
with its line and column, and the query workers receive the parsed dataset, never a path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pyoxigraph as ox

from iimkg.core.errors import InputError
from iimkg.graph.loading import parse_rdf_file, shipped_quads

__all__ = ["DATA_GRAPH_PREFIX", "SHIPPED_GRAPH", "GraphInfo", "ServedDataset", "build_dataset", "data_graph_name"]

SHIPPED_GRAPH = "https://w3id.org/iimkg/iim.owl"
DATA_GRAPH_PREFIX = "urn:iimkg:data:"


@dataclass(frozen=True)
class GraphInfo:
    """One named graph: its IRI, where it came from, how many triples it holds."""

    name: str
    source: str
    triples: int


@dataclass(frozen=True)
class ServedDataset:
    """The dataset as N-Quads (for the workers) and a description of its graphs (for the service description)."""

    nquads: bytes
    graphs: tuple[GraphInfo, ...]
    default_triples: int


def data_graph_name(path: Path) -> str:
    """The named graph of a ``--data`` file: ``urn:iimkg:data:plan.ttl`` for ``some/folder/plan.ttl``."""
    return DATA_GRAPH_PREFIX + quote(path.name, safe="")


def build_dataset(data: Sequence[Path] = (), *, input_format: str | None = None) -> ServedDataset:
    """Parse the shipped graph and ``data`` into one dataset.

    :raises InputError: if a file is missing or does not parse (with line and column), or two files share a name.
    """
    names = Counter(path.name for path in data)
    twice = sorted(name for name, count in names.items() if count > 1)
    if twice:
        raise InputError(f"two --data files are called {twice[0]!r}, and each file becomes a graph named after "
                         "its file name; rename one", path=twice[0])
    store = ox.Store()
    shipped = ox.NamedNode(SHIPPED_GRAPH)
    sources: dict[str, str] = {SHIPPED_GRAPH: "the shipped graph (ontology/iim.ttl)"}
    store.extend(ox.Quad(q.subject, q.predicate, q.object, shipped) for q in shipped_quads())
    for path in data:
        own = ox.NamedNode(data_graph_name(path))
        quads = parse_rdf_file(path, input_format=input_format)
        for quad in quads:
            graph = own if isinstance(quad.graph_name, ox.DefaultGraph) else quad.graph_name
            sources.setdefault(_key(graph), f"--data {path.name}")
            store.add(ox.Quad(quad.subject, quad.predicate, quad.object, graph))
        sources.setdefault(own.value, f"--data {path.name}")
    counts = Counter(_key(q.graph_name) for q in store if not isinstance(q.graph_name, ox.DefaultGraph))
    for quad in list(store):
        store.add(ox.Quad(quad.subject, quad.predicate, quad.object, ox.DefaultGraph()))
    default_triples = len(store) - sum(counts.values())
    graphs = tuple(GraphInfo(name, source, counts.get(name, 0)) for name, source in sources.items())
    nquads = store.dump(format=ox.RdfFormat.N_QUADS)
    assert nquads is not None  # dump() without an output returns the bytes
    return ServedDataset(nquads, graphs, default_triples)


def _key(graph: ox.NamedNode | ox.BlankNode | ox.DefaultGraph) -> str:
    """A named graph's IRI, or ``_:id`` for a blank-node graph (from a TriG file)."""
    return graph.value if isinstance(graph, ox.NamedNode) else str(graph)

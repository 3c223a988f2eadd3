"""What the shipped graph holds, in numbers: the answer to "is this the graph I think it is?"."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyoxigraph as ox

from iimkg.core.vocab import ONTOLOGY_IRI, OWL
from iimkg.graph.internal import select_internal
from iimkg.graph.loading import shared_store

__all__ = ["GraphInfo", "graph_info", "render_info"]

OWL_VERSION_IRI = ox.NamedNode(OWL + "versionIRI")
OWL_VERSION_INFO = ox.NamedNode(OWL + "versionInfo")
ONTOLOGY = ox.NamedNode(ONTOLOGY_IRI)


@dataclass
class GraphInfo:
    version: str
    version_iri: str
    triples: int
    terms_by_kind: dict[str, int] = field(default_factory=dict)
    statements_by_class: dict[str, dict[str, int]] = field(default_factory=dict)
    seed_statements: int = 0
    other_statements: int = 0
    sources: int = 0
    xrefs_by_prefix: dict[str, int] = field(default_factory=dict)


def graph_info(store: ox.Store | None = None) -> GraphInfo:
    """Counts of terms, statements, sources and cross-references in the shipped graph."""
    store = store if store is not None else shared_store()
    version = next(iter(store.quads_for_pattern(ONTOLOGY, OWL_VERSION_INFO, None)), None)
    version_iri = next(iter(store.quads_for_pattern(ONTOLOGY, OWL_VERSION_IRI, None)), None)
    info = GraphInfo(str(getattr(version.object, "value", "?")) if version else "?",
                     str(getattr(version_iri.object, "value", "?")) if version_iri else "?", len(store))
    for s in select_internal(store, "info-kinds.rq"):
        info.terms_by_kind[s["kind"].value.rsplit("/", 1)[-1]] = int(s["count"].value)
    for s in select_internal(store, "info-statements.rq"):
        name = s["class"].value.rsplit("/", 1)[-1]
        origin = "seed" if s["fromSeed"].value == "true" else "other"
        count = int(s["count"].value)
        info.statements_by_class.setdefault(name, {"seed": 0, "other": 0})[origin] += count
        if origin == "seed":
            info.seed_statements += count
        else:
            info.other_statements += count
    for s in select_internal(store, "info-sources.rq"):
        if s["what"].value == "source":
            info.sources = int(s["count"].value)
        else:
            info.xrefs_by_prefix[s["key"].value] = int(s["count"].value)
    return info


def render_info(info: GraphInfo) -> str:
    lines = [
        f"iimkg graph, version {info.version} ({info.version_iri})",
        f"triples: {info.triples}",
        "terms by kind:",
        *(f"  {kind:<22} {count:>5}" for kind, count in info.terms_by_kind.items()),
        f"clinical statements: {info.seed_statements + info.other_statements} "
        f"({info.seed_statements} from the seed page, {info.other_statements} from other sources)",
        *(f"  {name:<36} {c['seed']:>4} seed {c['other']:>4} other" for name, c in info.statements_by_class.items()),
        f"sources cited: {info.sources}",
        f"cross-references: {sum(info.xrefs_by_prefix.values())}",
        *(f"  {prefix:<22} {count:>5}" for prefix, count in sorted(info.xrefs_by_prefix.items(),
                                                                   key=lambda kv: (-kv[1], kv[0]))),
    ]
    return "\n".join(lines) + "\n"

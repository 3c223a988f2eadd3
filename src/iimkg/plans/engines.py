"""The two engines that check plans, over the same store layout (:mod:`iimkg.plans.reading`).

``oxigraph`` runs every compiled constraint once over all plans of a group of files (:mod:`iimkg.shacl.fast`), in
chunks that bound memory; ``rdflib`` runs plain pyshacl on an rdflib graph, the reference the fast path is held to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pyoxigraph as ox

from iimkg.core.errors import InputError
from iimkg.core.vocab import RDF_TYPE, SH
from iimkg.plans.reading import ONTOLOGY_GRAPH, PlanNode, plan_store
from iimkg.plans.results import Outcome, attribute
from iimkg.shacl.findings import Severity
from iimkg.shacl.pyshacl_run import pyshacl_report

if TYPE_CHECKING:
    import rdflib

__all__ = ["CHUNK_BYTES", "check_with_pyshacl", "oxigraph_batch", "shapes_graph"]

# Plans are checked in chunks of about this many bytes of files (some 10,000 plans), each in a fresh store.
CHUNK_BYTES = 16_000_000


def shapes_graph(shapes_text: str) -> rdflib.Graph:
    """The shapes (N-Triples text: it crosses process boundaries as text) as the rdflib graph both engines read."""
    from rdflib import Graph

    graph = Graph()
    graph.parse(data=shapes_text, format="nt")
    return graph


def oxigraph_batch(files: list[Path], shapes_text: str, input_format: str | None,
                   ontology: Path, converted: Mapping[str, bytes]) -> Outcome:
    """Check a group of files in this process: in chunks of about :data:`CHUNK_BYTES` of plans, each loaded with
    the ontology into a fresh store, so that memory stays bounded however many plans there are."""
    from iimkg.shacl.fast import compile_shapes

    outcome = Outcome()
    compiled = compile_shapes(shapes_graph(shapes_text))
    owner: dict[PlanNode, str] = {}
    try:
        for chunk in _chunks(files):
            plans: dict[str, list[PlanNode]] = {}
            store, graphs = plan_store(chunk, input_format, ontology, converted, plans, outcome.names, owner)
            raw = compiled.run(store, [ONTOLOGY_GRAPH, *graphs])
            outcome.results.extend(attribute(store, raw, plans, dict(zip(map(str, chunk), graphs, strict=True))))
            outcome.plans.update(plans)
            del store
    except InputError as error:
        outcome.error = (error.detail, str(error.path) if error.path else None, error.line, error.column)
    return outcome


def _chunks(files: Sequence[Path]) -> list[list[Path]]:
    """Files in groups of about CHUNK_BYTES, each checked in a store of its own to bound memory."""
    chunks: list[list[Path]] = [[]]
    size = 0
    for path in files:
        length = path.stat().st_size
        if chunks[-1] and size + length > CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(path)
        size += length
    return chunks


def check_with_pyshacl(files: list[Path], shapes_text: str, input_format: str | None,
                       fail_on: Severity, ontology: Path, converted: Mapping[str, bytes]) -> Outcome:
    """Plain pyshacl on an rdflib graph of the ontology and the plans: the reference the fast path is held to."""
    from rdflib import Graph, URIRef

    from iimkg.core.rdfterms import from_rdflib, to_oxigraph, to_rdflib
    from iimkg.shacl.fast import RawResult

    outcome = Outcome()
    try:
        store, graphs = plan_store(files, input_format, ontology, converted, outcome.plans, outcome.names)
    except InputError as error:
        outcome.error = (error.detail, str(error.path) if error.path else None, error.line, error.column)
        return outcome
    data = Graph()
    data.addN((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object), data) for q in store)
    report = pyshacl_report(data, shapes_graph(shapes_text), fail_on=fail_on)

    def sh(name: str) -> URIRef:
        return URIRef(SH + name)

    raw = []
    for node in report.subjects(URIRef(RDF_TYPE), sh("ValidationResult")):
        value = report.value(node, sh("value"))
        path = report.value(node, sh("resultPath"))
        shape = report.value(node, sh("sourceShape"))
        raw.append(RawResult(
            focus=to_oxigraph(from_rdflib(report.value(node, sh("focusNode")))),
            shape=str(shape) if isinstance(shape, URIRef) else f"_:{shape}",
            severity=str(report.value(node, sh("resultSeverity"))),
            component=str(report.value(node, sh("sourceConstraintComponent"))),
            path=str(path) if isinstance(path, URIRef) else None,
            value=to_oxigraph(from_rdflib(value)) if value is not None else None,
            messages=tuple(ox.Literal(str(m)) for m in sorted(report.objects(node, sh("resultMessage")), key=str))))
    outcome.results = attribute(store, raw, outcome.plans, dict(zip(map(str, files), graphs, strict=True)))
    return outcome

"""The two engines that check plans, over the same store layout (:mod:`iimkg.plans.reading`).

``oxigraph`` (:class:`UnitChecker`) runs every compiled constraint once over all plans of a chunk of plan units
(:mod:`iimkg.shacl.fast`), each chunk in a fresh store, so memory stays that of a chunk; ``rdflib`` runs plain pyshacl
on an rdflib graph, the reference the fast path is held to.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from iimkg.core.errors import InputError
from iimkg.core.vocab import RDF_TYPE, SH
from iimkg.graph.loading import ontology_quads, syntax_message, too_long_message
from iimkg.plans.labels import label_blank_nodes
from iimkg.plans.reading import file_graph, plan_store, plans_in
from iimkg.plans.results import Outcome, attribute
from iimkg.plans.splitting import PlanUnit, blank_plans, plan_vocabulary
from iimkg.shacl.findings import Severity
from iimkg.shacl.pyshacl_run import pyshacl_report

if TYPE_CHECKING:
    import rdflib

__all__ = ["UnitChecker", "check_with_pyshacl", "shapes_graph"]

def shapes_graph(shapes_text: str) -> rdflib.Graph:
    """The shapes (N-Triples text: it crosses process boundaries as text) as the rdflib graph both engines read."""
    from rdflib import Graph

    graph = Graph()
    graph.parse(data=shapes_text, format="nt")
    return graph


class UnitChecker:
    """The compiled engine in one process: the shapes compiled and the ontology parsed once, then any number of
    chunks of plan units checked, each in a store of its own (what a worker process, or a Spark task, holds).

    ``timings`` adds up the seconds spent loading units, evaluating the rules and tracing results to plans; set
    ``step_timings`` to a dict to add up each rule's and check's CPU seconds too (``bench/rules.py``).
    """

    def __init__(self, shapes_text: str, ontology: Path) -> None:
        from iimkg.shacl.fast import compile_shapes

        self.compiled = compile_shapes(shapes_graph(shapes_text))
        # in the default graph, where the compiled rules and checks read (iimkg.shacl.fast: one graph is faster)
        self.ontology = [ox.Quad(q.subject, q.predicate, q.object) for q in ontology_quads(ontology)]
        self.ontology_subjects = frozenset(q.subject for q in self.ontology)
        self.timings: dict[str, float] = {}
        self.step_timings: dict[str, float] | None = None
        self._vocabulary = plan_vocabulary(ontology)  # how the splitter tells a plan (for its blank-node plans)

    def check(self, units: Sequence[PlanUnit]) -> Outcome:
        """Check ``units`` together (one store: a unit's plans are checked with the ontology only, never with
        another unit's triples).

        The rules and checks read the store's default graph (:meth:`iimkg.shacl.fast.CompiledShapes.run`). A chunk
        of one file (the usual case: a file is split into many chunks) is loaded there directly; in a chunk of
        several files each file is loaded into a named graph of its own, so that its plans and findings know their
        file, and then added to the default graph (with the copies, evaluation of 2,000 plans took 2.37 ms a plan
        against 1.93 without, under the same load: so only then).

        An input error (a unit that does not load) comes back as :attr:`Outcome.error`, with the place in the
        unit's data: for lines copied from an N-Triples file the caller finds the place in the file.
        """
        outcome = Outcome()
        started = time.perf_counter()
        store = ox.Store()
        store.extend(self.ontology)
        one_file = len({unit.source for unit in units}) == 1
        graphs: dict[str, ox.NamedNode | ox.DefaultGraph] = {}
        source = ""
        units_of: dict[str, int] = {}  # a blank-node plan's label in the store -> its unit's first line
        try:
            for (source, media_type), run in _runs(units):
                path = Path(source)
                graph = graphs.setdefault(source, ox.DefaultGraph() if one_file else file_graph(path))
                rdf_format = ox.RdfFormat.from_media_type(media_type)
                if rdf_format == ox.RdfFormat.N_TRIPLES:
                    prefix = "" if one_file else f"f{list(graphs).index(source)}x"
                    data = b"".join(unit.data for unit in run)
                    store.extend(_kept(ox.parse(data, format=rdf_format, base_iri=path.resolve().as_uri()), graph,
                                       prefix))
                    units_of.update((prefix + label, unit.first) for unit in run
                                    for label in blank_plans(unit, self._vocabulary))
                    continue
                for unit in run:
                    store.load(unit.data, format=rdf_format, base_iri=path.resolve().as_uri(), to_graph=graph)
            plans = {source: plans_in(store, graph, Path(source), outcome.names, converted=True)
                     for source, graph in graphs.items()}
            for graph in graphs.values():
                if isinstance(graph, ox.NamedNode):
                    store.update(f"ADD {graph} TO DEFAULT")
        except SyntaxError as error:
            outcome.error = (syntax_message(error), source, error.lineno, error.offset)
            return outcome
        except MemoryError as error:
            outcome.error = (too_long_message(error), source, None, None)
            return outcome
        except (OSError, ValueError) as error:
            outcome.error = (f"can't read the file: {error}", source, None, None)
            return outcome
        except InputError as error:
            outcome.error = (error.detail, str(error.path) if error.path else None, error.line, error.column)
            return outcome
        loaded = time.perf_counter()
        raw = self.compiled.run(store, self.step_timings)
        evaluated = time.perf_counter()
        outcome.results = attribute(store, raw, plans, graphs, self.ontology_subjects if one_file else frozenset())
        outcome.plans = plans
        label_blank_nodes(store, outcome, units_of)  # the same labels in every run and every chunking
        done = time.perf_counter()
        for name, seconds in (("load", loaded - started), ("evaluate", evaluated - loaded),
                              ("attribute", done - evaluated)):
            self.timings[name] = self.timings.get(name, 0.0) + seconds
            outcome.timings[name] = outcome.timings.get(name, 0.0) + seconds
        return outcome


def _runs(units: Sequence[PlanUnit]) -> Iterator[tuple[tuple[str, str], list[PlanUnit]]]:
    """The units in runs of one file and syntax (lines of one file are read in one parser call)."""
    for key, run in itertools.groupby(units, key=lambda u: (u.source, u.format)):
        yield key, list(run)


def _kept(quads: Iterator[ox.Quad], graph: ox.NamedNode | ox.DefaultGraph, prefix: str) -> Iterator[ox.Quad]:
    """Parsed N-Triples as the store takes them, blank-node labels kept as the lines give them.

    ``Store.load`` draws new labels; ``parse`` keeps the file's, at the same cost (45 ms for a chunk of 24,000 lines,
    either way), so a blank-node plan found in the store is found in its unit's lines too
    (``splitting.blank_plans``). Files share no blank node: in a chunk of several files each file's labels take a
    prefix, and its triples its named graph (a Python pass over those quads, for chunks of small files only)."""
    if not prefix and isinstance(graph, ox.DefaultGraph):
        return quads

    def own(term: Any) -> Any:
        return ox.BlankNode(prefix + term.value) if isinstance(term, ox.BlankNode) else term

    return (ox.Quad(own(q.subject), q.predicate, own(q.object), graph) for q in quads)


def check_with_pyshacl(files: list[Path], shapes_text: str, input_format: str | None,
                       fail_on: Severity, ontology: Path, converted: Mapping[str, bytes]) -> Outcome:
    """Plain pyshacl on an rdflib graph of the ontology and the plans: the reference the fast path is held to."""
    from rdflib import Graph, URIRef

    from iimkg.core.rdfterms import QuotedTripleError, first_quoted_triple, from_rdflib, to_oxigraph, to_rdflib
    from iimkg.shacl.fast import RawResult

    outcome = Outcome()
    try:
        store, graphs = plan_store(files, input_format, ontology, converted, outcome.plans, outcome.names)
    except InputError as error:
        outcome.error = (error.detail, str(error.path) if error.path else None, error.line, error.column)
        return outcome
    quoted = first_quoted_triple(store)
    if quoted is not None:  # rdflib has no quoted triple: one line naming the file (and its first `<<`)
        files_of: dict[object, Path] = {graph: path for path, graph in zip(files, graphs, strict=True)}
        refused = QuotedTripleError.of_quad(quoted, reader="the rdflib engine (--engine oxigraph reads them)")
        where = files_of.get(quoted.graph_name)
        if where is not None:
            refused = refused.in_file(where)
        outcome.error = (refused.detail, str(refused.path) if refused.path else None, refused.line, refused.column)
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

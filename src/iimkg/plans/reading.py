"""Reading plan files into a store: the ontology in one named graph, each plan file in a graph of its own.

A file's graph is named by the file's IRI, which is also how findings are traced back to their file; a plan and its
patient and prescriptions are described in the same file. JSON-LD plans may name the shipped context by its IRI: it
is inlined, never fetched (:mod:`iimkg.graph.jsonld`, shared with every other reader of JSON-LD).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pyoxigraph as ox

from iimkg.core.errors import InputError
from iimkg.core.limits import check_file_size, check_no_xml_entities
from iimkg.core.vocab import DCTERMS, IIM, ONTOLOGY_GRAPH_URN, PLAN_CONTEXT_IRI, RDFS_SUBCLASS_OF
from iimkg.graph.jsonld import jsonld_with_context, plan_context, plan_context_file
from iimkg.graph.loading import ontology_quads, open_rdf, rdf_format_for, syntax_message, too_long_message

__all__ = ["ONTOLOGY_GRAPH", "PLAN_CONTEXT_IRI", "file_graph", "jsonld_with_context", "load_plan_file", "plan_context",
           "plan_context_file", "plan_store", "plans_in"]

ONTOLOGY_GRAPH = ox.NamedNode(ONTOLOGY_GRAPH_URN)
PlanNode = ox.NamedNode | ox.BlankNode
_PLANS_IN_GRAPH = (
    f"SELECT ?plan (MIN(?id) AS ?name) (COUNT(DISTINCT ?id) AS ?names) WHERE {{ "
    f"GRAPH ?g {{ ?plan a ?type OPTIONAL {{ ?plan <{DCTERMS}identifier> ?id }} }} "
    f"?type <{RDFS_SUBCLASS_OF}>* <{IIM}TreatmentPlan> }} GROUP BY ?plan ORDER BY ?plan")


def load_plan_file(store: ox.Store, path: Path, graph: ox.NamedNode, input_format: str | None,
                converted: bytes | None = None) -> None:
    """Load one plan file into its own graph; JSON-LD may name the iimkg context by its IRI.

    :param converted: the plans made from the file if it is FHIR, as Turtle.
    :raises InputError: if the file does not parse (with line and column) or names another remote context.
    """
    if converted is not None:
        store.load(converted, format=ox.RdfFormat.TURTLE, base_iri=path.resolve().as_uri(), to_graph=graph)
        return
    fmt = rdf_format_for(path, input_format)
    check_file_size(path)
    if fmt == ox.RdfFormat.RDF_XML:
        check_no_xml_entities(path)  # before any XML parser can expand them (billion laughs, XXE)
    base = path.resolve().as_uri()
    try:
        if fmt == ox.RdfFormat.JSON_LD:
            store.load(jsonld_with_context(path), format=fmt, base_iri=base, to_graph=graph)
        else:
            with open_rdf(path) as handle:
                if fmt in (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG):  # a plan file is one graph: named graphs merged
                    store.extend(ox.Quad(q.subject, q.predicate, q.object, graph)
                                 for q in ox.parse(handle, format=fmt, base_iri=base))
                else:
                    store.load(handle, format=fmt, base_iri=base, to_graph=graph)
    except SyntaxError as error:
        raise InputError(syntax_message(error), path=path, line=error.lineno, column=error.offset) from None
    except MemoryError as error:
        raise InputError(too_long_message(error), path=path) from None
    except (OSError, ValueError) as error:
        raise InputError(f"can't read the file: {error}", path=path) from None


def file_graph(path: Path) -> ox.NamedNode:
    return ox.NamedNode(path.resolve().as_uri())


def plans_in(store: ox.Store, graph: ox.NamedNode | ox.DefaultGraph, path: Path, names: dict[PlanNode, str],
             converted: bool = False) -> list[PlanNode]:
    """The plans a file describes; ``names`` gets the identifier of each plan that has one (and only one).

    :param graph: the file's graph; the default graph when the store holds that file alone beside the ontology.

    :param converted: the file is FHIR, converted: it may hold no plan (a Bulk Data file of observations gives its
        resources to the plans of the patients' file).
    :raises InputError: if the file holds no triples, or nothing typed ``iim:TreatmentPlan``.
    """
    # The graph is a file: IRI (percent-encoded by Path.as_uri), written into the query as an IRI term: pyoxigraph's
    # substitutions= takes only projected variables, and ?g cannot be projected next to GROUP BY ?plan.
    within = "" if isinstance(graph, ox.DefaultGraph) else f"GRAPH {graph}"
    result = store.query(_PLANS_IN_GRAPH.replace("GRAPH ?g", within), use_default_graph_as_union=True)
    assert isinstance(result, ox.QuerySolutions)
    plans: list[PlanNode] = []
    for solution in result:
        plan = solution["plan"]
        assert isinstance(plan, ox.NamedNode | ox.BlankNode)
        plans.append(plan)
        name = solution["name"]
        if isinstance(name, ox.Literal) and int(solution["names"].value) == 1:
            names[plan] = name.value
    if not plans and not converted:
        if next(iter(store.quads_for_pattern(None, None, None, graph)), None) is None:
            raise InputError("the file holds no triples; nothing to check", path=path)
        raise InputError(
            "the file holds no treatment plan: nothing in it is typed iim:TreatmentPlan "
            '(in JSON-LD, "type": "TreatmentPlan"); nothing to check', path=path)
    return plans


def plan_store(files: Sequence[Path], input_format: str | None, ontology: Path, converted: Mapping[str, bytes],
               plans: dict[str, list[PlanNode]], names: dict[PlanNode, str], owner: dict[PlanNode, str] | None = None,
               ) -> tuple[ox.Store, list[ox.NamedNode]]:
    """A store with the ontology and each file in its own named graph; ``plans`` gets each file's plans, ``names``
    each plan's identifier.

    :param converted: per FHIR (or other adapter's) file, its plans as Turtle.
    :param owner: plans seen so far and their files, across calls (a plan described in two files is an error).
    """
    store = ox.Store()
    store.extend(ox.Quad(q.subject, q.predicate, q.object, ONTOLOGY_GRAPH) for q in ontology_quads(ontology))
    graphs = []
    owner = {} if owner is None else owner
    for path in files:
        graph = file_graph(path)
        load_plan_file(store, path, graph, input_format, converted.get(str(path)))
        graphs.append(graph)
        found = plans_in(store, graph, path, names, str(path) in converted)
        for plan in found:
            if plan in owner:
                raise InputError(f"plan {plan} is also described in {owner[plan]}; give each plan one file",
                                 path=path)
            owner[plan] = str(path)
        plans[str(path)] = found
    return store, graphs

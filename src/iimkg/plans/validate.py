"""Check treatment plans against the iimkg graph: load plan files with the ontology, run the plan shapes, and give
each finding its plan and file.

Two engines give the same findings (tests/test_validate_plans.py compares them): ``oxigraph`` (the default) runs
every constraint once over all plans with :mod:`iimkg.shacl.fast`, splitting the files over worker processes;
``rdflib`` runs plain pyshacl on an rdflib graph, as a reference. Either way the plans and the ontology sit in one
pyoxigraph store, one named graph per file, which is also how findings are traced back to their file.
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from iimkg.core.errors import InputError, require_file
from iimkg.core.resources import data_dir, ontology_file, shapes_dir
from iimkg.graph.loading import rdf_format_for
from iimkg.queries.run import Engine
from iimkg.shacl.qc import (
    PLAN_NAMESPACE,
    SH,
    Finding,
    Rule,
    Severity,
    ValidationResult,
    check_shapes_are_shacl,
    display_path,
    pyshacl_report,
    rule_name,
    rules_of,
    user_shapes_quads,
)

if TYPE_CHECKING:
    import rdflib

__all__ = [
    "PLAN_CONTEXT_IRI",
    "plan_context",
    "plan_context_file",
    "plan_shapes_file",
    "validate_plans",
]

IIM = "https://w3id.org/iimkg/"
PLAN_CONTEXT_IRI = "https://w3id.org/iimkg/plan-context.jsonld"
ONTOLOGY_GRAPH = ox.NamedNode("urn:iimkg:graph:ontology")
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
DCTERMS = "http://purl.org/dc/terms/"
SEED_ID = re.compile(r"S\d+")  # the seed page's statements, S01-S35 (the others: R001... from other sources)
# Below this much plan data, worker processes cost more (start-up, ontology load) than they save.
PARALLEL_MIN_BYTES = 4_000_000
# Plans are checked in chunks of about this many bytes of files (some 10,000 plans), each in a fresh store.
CHUNK_BYTES = 16_000_000
# Plans converted from one FHIR file (a Bulk Data export gives every plan to its Patient file) are split in parts of
# this many, which may be checked in different worker processes.
FHIR_PLANS_PER_PART = 1000


def plan_shapes_file() -> Path:
    """The shipped treatment-plan shapes."""
    return shapes_dir() / "treatment-plan.ttl"


def plan_context_file() -> Path:
    """The JSON-LD context for plans written as JSON (``ontology/plan-context.jsonld``)."""
    return data_dir() / "ontology" / "plan-context.jsonld"


@functools.cache
def plan_context() -> Any:
    """The value of the shipped context's ``@context``, which replaces :data:`PLAN_CONTEXT_IRI` in plan files."""
    return json.loads(plan_context_file().read_text(encoding="utf-8"))["@context"]


@dataclass(frozen=True)
class _Result:
    """A validation result with its terms in N-Triples syntax, so that it crosses process boundaries."""

    focus: str
    shape: str
    severity: str
    component: str
    path: str | None
    value: str | None
    messages: tuple[str, ...]
    plan: str | None
    file: str | None


@dataclass
class _BatchOutcome:
    results: list[_Result] = field(default_factory=list)
    plans: dict[str, list[str]] = field(default_factory=dict)  # file -> plans, in file order
    names: dict[str, str] = field(default_factory=dict)  # plan -> its one dcterms:identifier
    error: tuple[str, str | None, int | None, int | None] | None = None  # an InputError, as data


def validate_plans(
    paths: Sequence[Path],
    *,
    shapes: Sequence[Path] = (),
    input_format: str | None = None,
    fail_on: Severity | str = Severity.VIOLATION,
    engine: Engine | str = Engine.OXIGRAPH,
    workers: int | None = None,
    ontology: Path | None = None,
    strict: bool = False,
) -> ValidationResult:
    """Check treatment plan files against ``shapes/treatment-plan.ttl`` (and ``shapes``), with the shipped graph.

    Every file is read before anything is reported: an input error in any file stops the run with no report.

    :param paths: plan files: Turtle, JSON-LD (with the ``https://w3id.org/iimkg/plan-context.jsonld`` context or
        an inline one), N-Triples, RDF/XML… by extension; each holds one or more plans (``iim:TreatmentPlan``).
        HL7 FHIR R4 JSON files (Bundles, resources, Bulk Data NDJSON) are converted first (:mod:`iimkg.fhir`), all
        together, and what could not be read is reported with the findings (``fhir_unmapped``…).
    :param shapes: files of further shapes (users' own rules), checked together with the plan shapes.
    :param input_format: the RDF syntax of every file, when the extensions do not tell.
    :param fail_on: the lowest severity that makes the result non-conforming.
    :param engine: ``oxigraph`` (whole-graph queries, :mod:`iimkg.shacl.fast`) or ``rdflib`` (plain pyshacl).
    :param workers: processes for the ``oxigraph`` engine (default: one per CPU, at most one per file; small
        inputs run in this process).
    :param ontology: the graph to check the plans against (default: the shipped one); a fork or an extension of
        it, as Turtle. The rules read drugs, classes, statements and thresholds from it.
    :param strict: report FHIR resources the converter could not map as violations, not warnings.
    :returns: findings sorted by file, plan, severity, rule and focus node; each knows its plan (the plan's
        ``dcterms:identifier`` when it has one that no other plan has, else its IRI) and its file.
    :raises InputError: if a file is missing, empty, does not parse (with line and column), holds no plan, or
        describes a plan that another file describes too.
    :raises ShapesError: if a shapes file is not valid SHACL or a shape cannot be run.
    """
    fail_on, engine = Severity(fail_on), Engine(engine)
    started = time.perf_counter()
    files = list(dict.fromkeys(Path(p) for p in paths))
    if not files:
        raise InputError("no plan file given")
    for path in files:
        require_file(path)
    fhir = _read_fhir(files)
    for path in files:
        if str(path) not in fhir.data:
            rdf_format_for(path, input_format)
    graph_file = Path(ontology) if ontology is not None else ontology_file()
    if not graph_file.is_file():
        raise InputError("no such ontology file", path=graph_file)
    shapes_text = _shapes_ntriples(tuple(Path(s) for s in shapes))
    shapes_graph = _rdflib_graph_from_ntriples(shapes_text)
    if shapes:
        check_shapes_are_shacl(shapes_graph, shapes)
    rules = rules_of(shapes_graph, _statement_ids(graph_file))
    if engine is Engine.RDFLIB:
        outcome = _check_with_pyshacl(files, shapes_text, input_format, fail_on, graph_file, fhir.joined())
    else:
        outcome = _check_with_oxigraph(files, shapes_text, input_format, workers, graph_file, fhir.data)
    if outcome.error is not None:
        detail, where, line, column = outcome.error
        raise InputError(detail, path=where, line=line, column=column)
    shown = [display_path(p) for p in files]
    findings = _findings(outcome.results, rules, _plan_names(outcome))
    if fhir.data:
        from iimkg.fhir.intake import fhir_rules, note_finding

        rules = sorted([*rules, *fhir_rules(strict=strict)])
        findings += [note_finding(note, strict=strict) for note in fhir.notes]
    order = {name: i for i, name in enumerate(shown)}
    findings = sorted(dict.fromkeys(findings), key=lambda f: (order.get(f.file, len(order)), *f.sort_key()))
    results = outcome.results
    return ValidationResult(
        files=shown, rules=rules, findings=findings, fail_on=fail_on,
        report=lambda: _report_graph(results, files, fail_on), seconds=time.perf_counter() - started,
        plans=sum(len(p) for p in outcome.plans.values()))


# ── reading plans and shapes ──

@dataclass
class _Fhir:
    """FHIR files converted to plans: per file, the plans as Turtle (loaded in the file's graph, relative IRIs
    resolved against the file), in parts of whole plans that may go to different worker processes (``[b""]`` for a
    file that gives no plan of its own); the converter's notes."""

    data: dict[str, list[bytes]] = field(default_factory=dict)
    notes: list[Any] = field(default_factory=list)

    def joined(self) -> dict[str, bytes]:
        """Each file's plans as one Turtle document (Turtle documents concatenate)."""
        return {path: b"".join(parts) for path, parts in self.data.items()}


def _read_fhir(files: Sequence[Path]) -> _Fhir:
    """Convert the FHIR JSON files among ``files`` (docs/fhir.md), all together, as a Bulk Data export needs.

    :raises InputError: if a FHIR file is not valid JSON or not FHIR (with file, line and column).
    """
    if not any(path.suffix.lower() in {".json", ".ndjson", ".jsonl"} for path in files):
        return _Fhir()
    from iimkg.fhir.intake import read_fhir_inputs, split_fhir

    fhir_files, _ = split_fhir(files)
    if not fhir_files:
        return _Fhir()
    converted = read_fhir_inputs(fhir_files, plans_per_part=FHIR_PLANS_PER_PART)
    data = {str(path): [text.encode("utf-8") for text in parts] or [b""] for path, parts in converted.turtle.items()}
    return _Fhir(data, list(converted.conversion.notes))


def _plan_names(outcome: _BatchOutcome) -> dict[str, str]:
    """How findings name each plan: its ``dcterms:identifier`` if it has one and no other plan has it, else its IRI."""
    plans = [plan for file_plans in outcome.plans.values() for plan in file_plans]
    count: dict[str, int] = {}
    for plan in plans:
        if plan in outcome.names:
            count[outcome.names[plan]] = count.get(outcome.names[plan], 0) + 1
    return {plan: outcome.names[plan] if count.get(outcome.names.get(plan, ""), 0) == 1 else _plain(plan)
            for plan in plans}

def _shapes_ntriples(extra: tuple[Path, ...]) -> str:
    """The plan shapes plus the user's, as one N-Triples document (it crosses process boundaries as text)."""
    quads = list(ox.parse(path=str(plan_shapes_file()), format=ox.RdfFormat.TURTLE))
    for path in extra:
        quads.extend(user_shapes_quads(path))
    text = ox.serialize([ox.Triple(q.subject, q.predicate, q.object) for q in quads], format=ox.RdfFormat.N_TRIPLES)
    return text.decode("utf-8") if text else ""


def _rdflib_graph_from_ntriples(text: str) -> rdflib.Graph:
    from rdflib import Graph

    graph = Graph()
    graph.parse(data=text, format="nt")
    return graph


@functools.cache
def _statement_ids(ontology: Path) -> dict[str, str]:
    """Each statement's ID as people cite it: its ``dcterms:identifier`` (``S31``), else its IRI's local part."""
    from iimkg.graph.loading import ontology_quads

    store = ox.Store()
    store.extend(ontology_quads(ontology))
    result = store.query(
        "SELECT ?statement ?id WHERE { ?statement <http://purl.org/dc/terms/identifier> ?id . "
        "FILTER (STRSTARTS(STR(?statement), 'https://w3id.org/iimkg/statement-')) }")
    assert isinstance(result, ox.QuerySolutions)
    return {s["statement"].value: s["id"].value for s in result}


def _load_plans(store: ox.Store, path: Path, graph: ox.NamedNode, input_format: str | None,
                converted: bytes | None = None) -> None:
    """Load one plan file into its own graph; JSON-LD may name the iimkg context by its IRI.

    :param converted: the plans made from the file if it is FHIR, as Turtle.
    :raises InputError: if the file does not parse (with line and column) or names another remote context.
    """
    if converted is not None:
        store.load(converted, format=ox.RdfFormat.TURTLE, base_iri=path.resolve().as_uri(), to_graph=graph)
        return
    fmt = rdf_format_for(path, input_format)
    base = path.resolve().as_uri()
    try:
        if fmt == ox.RdfFormat.JSON_LD:
            store.load(_jsonld_with_context(path), format=fmt, base_iri=base, to_graph=graph)
        else:
            store.load(path=str(path), format=fmt, base_iri=base, to_graph=graph)
    except SyntaxError as error:
        from iimkg.graph.loading import _syntax_message

        raise InputError(_syntax_message(error), path=path, line=error.lineno, column=error.offset) from None
    except (OSError, ValueError) as error:
        raise InputError(f"can't read the file: {error}", path=path) from None


def _jsonld_with_context(path: Path) -> bytes:
    """A JSON-LD plan file with the iimkg context inlined where it is named by IRI (no network is used).

    The context goes in on the line where its IRI was, so line numbers in later errors stay those of the file.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"the file is not UTF-8 text: {error.reason}", path=path) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"not valid JSON: {error.msg}", path=path, line=error.lineno, column=error.colno) from None
    for context in _contexts(document):
        if isinstance(context, str) and context != PLAN_CONTEXT_IRI:
            raise InputError(
                f"the JSON-LD context {context!r} is not one iimkg can load (it fetches nothing from the network); "
                f"use \"{PLAN_CONTEXT_IRI}\" or write the context in the file", path=path)
    inline = json.dumps(plan_context(), ensure_ascii=False, separators=(",", ":"))
    return re.sub(r'"' + re.escape(PLAN_CONTEXT_IRI) + r'"', lambda _: inline, text).encode("utf-8")


def _contexts(node: Any) -> Iterable[Any]:
    if isinstance(node, dict):
        context = node.get("@context")
        if context is not None:
            yield from context if isinstance(context, list) else [context]
        for key, value in node.items():
            if key != "@context":
                yield from _contexts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _contexts(item)


def _file_graph(path: Path) -> ox.NamedNode:
    return ox.NamedNode(path.resolve().as_uri())


def _plans_in(store: ox.Store, graph: ox.NamedNode, path: Path, names: dict[str, str],
              converted: bool = False) -> list[str]:
    """The plans a file describes, in N-Triples syntax; ``names`` gets the identifier of each plan that has one.

    :param converted: the file is FHIR, converted: it may hold no plan (a Bulk Data file of observations gives its
        resources to the plans of the patients' file).
    :raises InputError: if the file holds no triples, or nothing typed ``iim:TreatmentPlan``.
    """
    query = (f"SELECT ?plan (MIN(?id) AS ?name) (COUNT(DISTINCT ?id) AS ?names) WHERE {{ "
             f"GRAPH <{graph.value}> {{ ?plan a ?type OPTIONAL {{ ?plan <{DCTERMS}identifier> ?id }} }} "
             f"?type <http://www.w3.org/2000/01/rdf-schema#subClassOf>* <{IIM}TreatmentPlan> }} "
             f"GROUP BY ?plan ORDER BY ?plan")
    result = store.query(query, use_default_graph_as_union=True)
    assert isinstance(result, ox.QuerySolutions)
    plans = []
    for solution in result:
        plan = str(solution["plan"])
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


# ── the oxigraph engine ──

_Unit = tuple[Path, bytes | None]  # a plan file, or one part of the plans converted from a FHIR file


def _check_with_oxigraph(files: list[Path], shapes_text: str, input_format: str | None,
                         workers: int | None, ontology: Path, converted: Mapping[str, list[bytes]]) -> _BatchOutcome:
    units: list[_Unit] = []
    for path in files:
        parts = converted.get(str(path))
        units.extend([(path, None)] if parts is None else [(path, part) for part in parts])
    batches = [_batch_inputs(batch) for batch in _batches(units, workers)]
    if len(batches) == 1:
        (only_files, only_converted), = batches
        return _oxigraph_batch(only_files, shapes_text, input_format, ontology, only_converted)
    context = get_context("fork") if "fork" in _start_methods() else get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(batches), mp_context=context) as pool:
        outcomes = list(pool.map(_oxigraph_batch, [b[0] for b in batches], [shapes_text] * len(batches),
                                 [input_format] * len(batches), [ontology] * len(batches), [b[1] for b in batches]))
    return _merge(outcomes, files)


def _batch_inputs(units: Sequence[_Unit]) -> tuple[list[Path], dict[str, bytes]]:
    """A worker's files, and the converted plans it checks for each FHIR file (its parts, joined)."""
    files = list(dict.fromkeys(path for path, _ in units))
    converted: dict[str, list[bytes]] = {}
    for path, part in units:
        if part is not None:
            converted.setdefault(str(path), []).append(part)
    return files, {path: b"".join(parts) for path, parts in converted.items()}


def _start_methods() -> list[str]:
    from multiprocessing import get_all_start_methods

    return get_all_start_methods()


def _batches(units: list[_Unit], workers: int | None) -> list[list[_Unit]]:
    """Plan files and parts of converted FHIR files in up to ``workers`` groups of about equal size (largest first,
    each to the lightest group), each group in the order given."""
    sizes = [path.stat().st_size if part is None else len(part) for path, part in units]
    count = workers if workers is not None else (os.cpu_count() or 1)
    if workers is None and sum(sizes) < PARALLEL_MIN_BYTES:
        count = 1
    count = max(1, min(count, len(units)))
    groups: list[list[int]] = [[] for _ in range(count)]
    loads = [0] * count
    for index in sorted(range(len(units)), key=lambda i: -sizes[i]):
        lightest = loads.index(min(loads))
        groups[lightest].append(index)
        loads[lightest] += sizes[index]
    return [[units[i] for i in sorted(group)] for group in groups if group]


def _merge(outcomes: Sequence[_BatchOutcome], files: Sequence[Path]) -> _BatchOutcome:
    merged = _BatchOutcome()
    errors = [o.error for o in outcomes if o.error is not None]
    if errors:
        order = {str(p): i for i, p in enumerate(files)}
        merged.error = min(errors, key=lambda e: order.get(e[1] or "", len(order)))
        return merged
    owner: dict[str, str] = {}
    for outcome in outcomes:
        merged.results.extend(outcome.results)
        merged.names.update(outcome.names)
        for file, plans in outcome.plans.items():
            merged.plans.setdefault(file, []).extend(plans)  # a FHIR file's plans may be checked in several workers
            for plan in plans:
                if plan in owner:
                    merged.error = (f"plan {plan} is also described in {owner[plan]}; give each plan one file",
                                    file, None, None)
                    return merged
                owner[plan] = file
    return merged


def _oxigraph_batch(files: list[Path], shapes_text: str, input_format: str | None,
                    ontology: Path, converted: Mapping[str, bytes]) -> _BatchOutcome:
    """Check a group of files in this process: in chunks of about :data:`CHUNK_BYTES` of plans, each loaded with
    the ontology into a fresh store, so that memory stays bounded however many plans there are.

    Each file is self-contained: a plan, its patient and its prescriptions are described in the same file.
    """
    from iimkg.shacl.fast import compile_shapes

    outcome = _BatchOutcome()
    compiled = compile_shapes(_rdflib_graph_from_ntriples(shapes_text))
    owner: dict[str, str] = {}
    try:
        for chunk in _chunks(files):
            chunk_outcome = _BatchOutcome()
            store, graphs = _plan_store(chunk, input_format, chunk_outcome, ontology, converted, owner)
            raw = compiled.run(store, [ONTOLOGY_GRAPH, *graphs])
            outcome.results.extend(_attribute(store, raw, chunk_outcome.plans,
                                              dict(zip(map(str, chunk), graphs, strict=True))))
            outcome.plans.update(chunk_outcome.plans)
            outcome.names.update(chunk_outcome.names)
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


def _plan_store(files: Sequence[Path], input_format: str | None, outcome: _BatchOutcome, ontology: Path,
                converted: Mapping[str, bytes], owner: dict[str, str] | None = None,
                ) -> tuple[ox.Store, list[ox.NamedNode]]:
    """A store with the ontology and each file in its own named graph; ``outcome.plans`` gets each file's plans.

    :param owner: plans seen so far and their files, across calls (a plan described in two files is an error).
    """
    from iimkg.graph.loading import ontology_quads

    store = ox.Store()
    store.extend(ox.Quad(q.subject, q.predicate, q.object, ONTOLOGY_GRAPH) for q in ontology_quads(ontology))
    graphs = []
    owner = {} if owner is None else owner
    for path in files:
        graph = _file_graph(path)
        _load_plans(store, path, graph, input_format, converted.get(str(path)))
        graphs.append(graph)
        plans = _plans_in(store, graph, path, outcome.names, str(path) in converted)
        for plan in plans:
            if plan in owner:
                raise InputError(f"plan {plan} is also described in {owner[plan]}; give each plan one file",
                                 path=path)
            owner[plan] = str(path)
        outcome.plans[str(path)] = plans
    return store, graphs


def _attribute(store: ox.Store, raw: Iterable[Any], plans: Mapping[str, list[str]],
               graphs: Mapping[str, ox.NamedNode]) -> list[_Result]:
    """Each result's plan (the focus node, or the plan that points at it) and file (the file of that plan)."""
    plan_file = {plan: file for file, file_plans in plans.items() for plan in file_plans}
    graph_file = {g.value: file for file, g in graphs.items()}
    owners: dict[str, tuple[str | None, str | None]] = {}
    results = []
    for result in raw:
        focus = str(result.focus)
        if focus not in owners:
            owners[focus] = _owner(store, result.focus, plan_file, graph_file)
        plan, file = owners[focus]
        results.append(_Result(
            focus=focus, shape=result.shape,
            severity=result.severity, component=result.component, path=result.path,
            value=str(result.value) if result.value is not None else None,
            messages=tuple(m.value for m in result.messages), plan=plan, file=file))
    return results


def _owner(store: ox.Store, focus: Any, plan_file: Mapping[str, str],
           graph_file: Mapping[str, str]) -> tuple[str | None, str | None]:
    text = str(focus)
    if text in plan_file:
        return text, plan_file[text]
    if isinstance(focus, ox.Literal):
        return None, None
    for quad in store.quads_for_pattern(None, None, focus):
        subject = str(quad.subject)
        if subject in plan_file:
            return subject, plan_file[subject]
    for quad in store.quads_for_pattern(focus, None, None):
        if isinstance(quad.graph_name, ox.NamedNode) and quad.graph_name.value in graph_file:
            return None, graph_file[quad.graph_name.value]
    return None, None


# ── the rdflib engine (plain pyshacl) ──

def _check_with_pyshacl(files: list[Path], shapes_text: str, input_format: str | None,
                        fail_on: Severity, ontology: Path, converted: Mapping[str, bytes]) -> _BatchOutcome:
    """Plain pyshacl on an rdflib graph of the ontology and the plans: the reference the fast path is held to."""
    from rdflib import Graph, URIRef

    from iimkg.core.rdfterms import from_rdflib, to_oxigraph, to_rdflib
    from iimkg.shacl.fast import RawResult

    outcome = _BatchOutcome()
    try:
        store, graphs = _plan_store(files, input_format, outcome, ontology, converted)
    except InputError as error:
        outcome.error = (error.detail, str(error.path) if error.path else None, error.line, error.column)
        return outcome
    data = Graph()
    data.addN((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object), data) for q in store)
    report = pyshacl_report(data, _rdflib_graph_from_ntriples(shapes_text), fail_on=fail_on)

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
    outcome.results = _attribute(store, raw, outcome.plans, dict(zip(map(str, files), graphs, strict=True)))
    return outcome


# ── findings and the report graph ──

def _findings(results: Iterable[_Result], rules: Sequence[Rule], names: Mapping[str, str]) -> list[Finding]:
    by_iri = {rule.iri: rule for rule in rules}
    findings = []
    for result in results:
        rule = by_iri.get(result.shape)
        messages = sorted(result.messages)
        findings.append(Finding(
            severity=Severity.from_iri(result.severity),
            rule=rule.name if rule else rule_name(result.shape),
            message=messages[0] if messages else (rule.label if rule else "shape not satisfied"),
            focus=_plain(result.focus),
            file=display_path(Path(result.file)) if result.file else "",
            source=rule.source if rule else None,
            value=_plain(result.value) if result.value is not None and result.value != result.focus else None,
            path=result.path,
            plan=names.get(result.plan, _plain(result.plan)) if result.plan else None,
            statement=", ".join(s for s in rule.statements if SEED_ID.fullmatch(s)) or None if rule else None,
            statements=", ".join(rule.statements) if rule and rule.statements else None,
            plan_iri=_plain(result.plan) if result.plan else None,
        ))
    return findings


def _plain(term: str) -> str:
    """An N-Triples term as a finding shows it: an IRI bare, a blank node as ``_:id``, a literal's text."""
    if term.startswith("<") and term.endswith(">"):
        return term[1:-1]
    if term.startswith('"'):
        literal = next(iter(ox.parse(f"<urn:x> <urn:y> {term} .", format=ox.RdfFormat.N_TRIPLES))).object
        return str(literal.value)
    return term


def _report_graph(results: Sequence[_Result], files: Sequence[Path], fail_on: Severity) -> rdflib.Graph:
    """The SHACL validation report: one ``sh:ValidationReport`` per file (``dcterms:source`` names it), each result
    with its focus node, value, path, shape, constraint component, severity, messages and plan (``iimplan:plan``)."""
    from rdflib import Graph

    lines = []
    by_file: dict[str, list[_Result]] = {}
    for result in results:
        by_file.setdefault(result.file or "", []).append(result)
    for index, path in enumerate(files):
        report = f"_:report{index}"
        own = by_file.get(str(path), [])
        conforms = not any(Severity.from_iri(r.severity).at_least(fail_on) for r in own)
        lines += [f"{report} <{RDF_TYPE}> <{SH}ValidationReport> .",
                  f'{report} <{SH}conforms> "{str(conforms).lower()}"^^<http://www.w3.org/2001/XMLSchema#boolean> .',
                  f"{report} <{DCTERMS}source> <{path.resolve().as_uri()}> ."]
        for number, result in enumerate(own):
            node = f"_:r{index}x{number}"
            lines += [f"{report} <{SH}result> {node} .",
                      f"{node} <{RDF_TYPE}> <{SH}ValidationResult> .",
                      f"{node} <{SH}focusNode> {result.focus} .",
                      f"{node} <{SH}resultSeverity> <{result.severity}> .",
                      f"{node} <{SH}sourceShape> {_node(result.shape)} .",
                      f"{node} <{SH}sourceConstraintComponent> <{result.component}> ."]
            if result.path:
                lines.append(f"{node} <{SH}resultPath> <{result.path}> .")
            if result.value is not None:
                lines.append(f"{node} <{SH}value> {result.value} .")
            if result.plan:
                lines.append(f"{node} <{PLAN_NAMESPACE}plan> {result.plan} .")
            lines += [f"{node} <{SH}resultMessage> {json.dumps(m, ensure_ascii=False)} ." for m in result.messages]
    graph = Graph()
    graph.parse(data="\n".join(lines), format="nt")
    for prefix, namespace in {"sh": SH, "iim": IIM, "iimplan": PLAN_NAMESPACE, "dcterms": DCTERMS}.items():
        graph.bind(prefix, namespace)
    return graph


def _node(text: str) -> str:
    return text if text.startswith("_:") else f"<{text}>"


"""Check treatment plans against the iimkg graph: the plan shapes, run over plans given as RDF, each finding traced
to its plan and file.

Plans come as RDF files (Turtle, JSON-LD, N-Triples, RDF/XML…) or through an intake adapter
(:mod:`iimkg.plans.intake`) that converts another format and reports what it could not read. The work is split into
reading (:mod:`~iimkg.plans.reading`), the engines (:mod:`~iimkg.plans.engines`), worker processes
(:mod:`~iimkg.plans.pool`) and attribution (:mod:`~iimkg.plans.results`); this module ties them together.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import pyoxigraph as ox

from iimkg.core.errors import InputError, require_file
from iimkg.core.kinds import Engine
from iimkg.core.resources import ontology_file, shapes_dir
from iimkg.core.scratch import SpillFolder
from iimkg.core.vocab import DCTERMS, STATEMENT_PREFIX
from iimkg.graph.loading import ontology_quads, rdf_format_for
from iimkg.plans.engines import check_with_pyshacl, shapes_graph
from iimkg.plans.intake import Adapter, Intake
from iimkg.plans.reading import PLAN_CONTEXT_IRI, plan_context, plan_context_file
from iimkg.plans.results import Outcome, findings_of, plan_names, report_graph, report_turtle
from iimkg.plans.spill import ChunkResults
from iimkg.plans.splitting import PlanUnit, Restart, plan_vocabulary, split_file
from iimkg.plans.units import CHUNK_PLANS, Checked, print_profile, run_units
from iimkg.shacl.findings import CheckKind, Finding, Rule, Severity, ValidationResult, display_path, rules_of
from iimkg.shacl.pyshacl_run import check_shapes_are_shacl, user_shapes_quads
from iimkg.shacl.spill import FindingSorter

__all__ = [
    "PLAN_CONTEXT_IRI",
    "in_report_order",
    "ontology_graph_file",
    "plan_context",
    "plan_context_file",
    "plan_shapes_file",
    "prepared_shapes",
    "validate_plans",
]

# Plans converted from one file of another format (a Bulk Data export gives every plan to its Patient file) are split
# in parts of this many, which may be checked in different worker processes.
PLANS_PER_PART = 1000


def plan_shapes_file() -> Path:
    """The shipped treatment-plan shapes."""
    return shapes_dir() / "treatment-plan.ttl"


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
    adapters: Sequence[Adapter] = (),
    chunk_plans: int = CHUNK_PLANS,
) -> ValidationResult:
    """Check treatment plan files against ``shapes/treatment-plan.ttl`` (and ``shapes``), with the shipped graph.

    Every file is read before anything is reported: an input error in any file stops the run with no report.

    :param paths: plan files: Turtle, JSON-LD (with the ``https://w3id.org/iimkg/plan-context.jsonld`` context or
        an inline one), N-Triples, RDF/XML… by extension; each holds one or more plans (``iim:TreatmentPlan``).
        Files an adapter claims (FHIR R4 JSON, with :class:`iimkg.fhir.FhirAdapter`) are converted first, all
        together, and what could not be read is reported with the findings (``fhir_unmapped``…).
    :param shapes: files of further shapes (users' own rules), checked together with the plan shapes.
    :param input_format: the RDF syntax of every file, when the extensions do not tell.
    :param fail_on: the lowest severity that makes the result non-conforming.
    :param engine: ``oxigraph`` (whole-graph queries, :mod:`iimkg.shacl.fast`) or ``rdflib`` (plain pyshacl).
    :param workers: processes for the ``oxigraph`` engine (default: one per CPU; an input of one chunk runs in this
        process).
    :param ontology: the graph to check the plans against (default: the shipped one); a fork or an extension of
        it, as Turtle. The rules read drugs, classes, statements and thresholds from it.
    :param strict: report records an adapter could not map as violations, not warnings.
    :param adapters: intake adapters for formats other than RDF (:func:`iimkg.validation.validate_plans` passes
        all the package has).
    :param chunk_plans: plans checked together in one store (:mod:`iimkg.plans.units`); the findings do not depend
        on it.
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
    intake = _intake(files, adapters, strict)
    converted = {str(path): parts for path, parts in intake.turtle.items()}
    for path in files:
        if str(path) not in converted:
            rdf_format_for(path, input_format)
    graph_file = ontology_graph_file(ontology)
    shapes_text, rules, statement_ids = prepared_shapes(shapes, graph_file)
    if engine is Engine.RDFLIB:
        outcome = check_with_pyshacl(files, shapes_text, input_format, fail_on, graph_file, intake.joined())
        if outcome.error is not None:
            detail, where, line, column = outcome.error
            raise InputError(detail, path=where, line=line, column=column)
        return _result(_in_memory(outcome), files, rules, statement_ids, fail_on, started, intake)
    units = _units(files, converted, input_format, graph_file)
    early = _EarlyFindings(files, rules, statement_ids)
    checked = early.run(units, shapes_text, graph_file, workers=workers, chunk_plans=chunk_plans)
    return _result(checked, files, rules, statement_ids, fail_on, started, intake, early)


def check_prepared(units: Iterable[PlanUnit], *, shapes: Sequence[Path] = (), ontology: Path | None = None,
                   fail_on: Severity | str = Severity.VIOLATION, workers: int | None = None,
                   chunk_plans: int = CHUNK_PLANS, files: Sequence[Path] | None = None,
                   intake: Callable[[], Intake] | None = None) -> ValidationResult:
    """:func:`iimkg.plans.units.check_units`: plan units (already split, or converted) to findings.

    :param files: the files reported on, in order (default: those the units came from, in the order they came).
    :param intake: called once the units are checked: what a converter could not read (its findings and rules
        join the report), for units converted as they are checked (a Bulk Data export).
    """
    fail_on = Severity(fail_on)
    started = time.perf_counter()
    graph_file = ontology_graph_file(ontology)
    shapes_text, rules, statement_ids = prepared_shapes(shapes, graph_file)
    # the report's order of files is known before the run only when they are given
    early = _EarlyFindings(files, rules, statement_ids) if files is not None else None
    if early is not None:
        checked = early.run(units, shapes_text, graph_file, workers=workers, chunk_plans=chunk_plans)
    else:
        checked = run_units(units, shapes_text, graph_file, workers=workers, chunk_plans=chunk_plans)
    try:
        notes = intake() if intake is not None else Intake()
    except BaseException:
        checked.close()
        if early is not None:
            early.sorter.close()
        raise
    reported = list(files) if files is not None else [Path(file) for file in checked.files]
    return _result(checked, reported, rules, statement_ids, fail_on, started, notes, early)


def ontology_graph_file(ontology: Path | None) -> Path:
    """The ontology file plans are checked against: ``ontology``, or the shipped one."""
    graph_file = Path(ontology) if ontology is not None else ontology_file()
    if not graph_file.is_file():
        raise InputError("no such ontology file", path=graph_file)
    return graph_file


def prepared_shapes(shapes: Sequence[Path], graph_file: Path) -> tuple[str, list[Rule], dict[str, str]]:
    """The shapes as N-Triples text (for the workers), their rules, and the graph's statement IDs."""
    shapes_text = _shapes_ntriples(tuple(Path(s) for s in shapes))
    shapes_rdf = shapes_graph(shapes_text)
    if shapes:
        check_shapes_are_shacl(shapes_rdf, shapes)
    statement_ids = _statement_ids(graph_file)
    return shapes_text, rules_of(shapes_rdf, statement_ids, default_kind=CheckKind.STRUCTURAL), statement_ids


def _units(files: Sequence[Path], converted: dict[str, list[bytes]], input_format: str | None,
           ontology: Path) -> Iterator[PlanUnit | Restart]:
    """Every file's plan units, file by file: RDF files split by plan (handed out while the file is read: see
    :class:`~iimkg.plans.splitting.Restart`), converted files by the adapter's parts."""
    vocabulary = plan_vocabulary(ontology)
    turtle = ox.RdfFormat.TURTLE.media_type
    for path in files:
        parts = converted.get(str(path))
        if parts is None:
            yield from split_file(path, input_format, vocabulary, optimistic=True)
        else:
            for part in parts:
                yield PlanUnit(str(path), part, turtle, part.count(b"TreatmentPlan"))


def _in_memory(outcome: Outcome) -> Checked:
    """The outcome of an unchunked run (plain pyshacl) as :func:`~iimkg.plans.units.run_units` gives one."""
    folder = SpillFolder("iimkg-validate-")
    results = ChunkResults(folder, limit=len(outcome.results) + 1)
    names = plan_names(outcome)
    outcome.names = names
    results.add(outcome)
    folder.close_if_empty()
    return Checked(results, list(outcome.plans), outcome.plan_count(), frozenset(), outcome.timings, folder)


class _EarlyFindings:
    """The findings of each chunk made as it comes back (:func:`~iimkg.plans.units.run_units`'s ``each``), while the
    workers check the next ones: after the last chunk only their sort is left to finish.

    A finding names its plan by its identifier unless another plan of the whole input has it too
    (:func:`~iimkg.plans.results.plan_name`), which is known only at the end; and a file read again drops what was
    found in it. So these are made as if no identifier were shared, and :func:`_result` keeps them only if none was
    and no file was read again (the usual case); else it makes them all again from the results kept."""

    def __init__(self, files: Sequence[Path], rules: list[Rule], statement_ids: dict[str, str]) -> None:
        self.sorter = FindingSorter(report_order([display_path(p) for p in files]))
        self.seconds = 0.0  # spent making them (the profile's "findings")
        self._rules, self._statements = rules, statement_ids.values()

    def run(self, units: Iterable[PlanUnit | Restart], shapes_text: str, ontology: Path, *, workers: int | None,
            chunk_plans: int) -> Checked:
        """:func:`~iimkg.plans.units.run_units` with these findings made as the chunks come back; the sorter's files
        removed if the run fails."""
        try:
            checked = run_units(units, shapes_text, ontology, workers=workers, chunk_plans=chunk_plans, each=self._add)
        except BaseException:
            self.sorter.close()
            raise
        checked.timings["findings"] = self.seconds
        return checked

    def _add(self, outcome: Outcome) -> None:
        started = time.perf_counter()
        self.sorter.extend(findings_of(outcome.results, self._rules, outcome.names, self._statements))
        self.seconds += time.perf_counter() - started


def _result(checked: Checked, files: Sequence[Path], rules: list[Rule], statement_ids: dict[str, str],
            fail_on: Severity, started: float, intake: Intake, early: _EarlyFindings | None = None) -> ValidationResult:
    """Findings sorted by file (in the order given), plan, severity, rule and focus node; beyond
    :data:`iimkg.shacl.spill.SPILL_FINDINGS` findings, sorted on disk. ``early``: the findings made as the chunks
    came, kept when no plan identifier is shared and no file was read again."""
    before = time.perf_counter()
    shown = [display_path(p) for p in files]
    keep = early is not None and not checked.shared and not checked.restarted
    if early is not None and not keep:
        early.sorter.close()
    sorter = early.sorter if early is not None and keep else FindingSorter(report_order(shown))
    try:
        if not keep:
            for results, names in checked.named_chunks():
                sorter.extend(findings_of(results, rules, names, statement_ids.values()))
        sorter.extend(intake.findings)
        findings = sorter.finish()
    except BaseException:
        sorter.close()
        checked.close()
        raise
    rules = sorted([*rules, *intake.rules])
    checked.timings["order"] = time.perf_counter() - before
    if os.environ.get("IIMKG_PROFILE"):
        print_profile(checked.timings, checked.plans)
    return ValidationResult(
        files=shown, rules=rules, findings=findings, fail_on=fail_on,
        report=lambda: report_graph(checked.results.results(), files, fail_on), seconds=time.perf_counter() - started,
        plans=checked.plans, report_turtle=lambda: report_turtle(checked.results.results, files, fail_on),
        on_close=checked.close)


def in_report_order(findings: Iterable[Finding], shown: Sequence[str]) -> list[Finding]:
    """Findings without repeats, by file (in the order ``shown``), then plan, severity, rule and focus node: the
    order of every report, local or from Spark (:mod:`iimkg.spark`)."""
    return sorted(dict.fromkeys(findings), key=report_order(shown))


def report_order(shown: Sequence[str]) -> Callable[[Finding], tuple[object, ...]]:
    """The sort key of :func:`in_report_order`."""
    order = {name: i for i, name in enumerate(shown)}
    return lambda f: (order.get(f.file, len(order)), *_order(f))


def _order(finding: Finding) -> tuple[object, ...]:
    """:meth:`Finding.sort_key` with blank nodes after the rest: their labels are drawn at random when a file is
    read, so findings that differ only in them are ordered by what does not (the same order in every run)."""
    plan, rank, rule, focus, value, message = finding.sort_key()
    return (_blank_last(plan), rank, rule, _blank_last(focus), _blank_last(value), message, plan, focus, value)


def _blank_last(text: str) -> str:
    return "\uffff" if text.startswith("_:") else text


def _intake(files: Sequence[Path], adapters: Sequence[Adapter], strict: bool) -> Intake:
    """Convert the files the adapters claim, each adapter's files together (an export spreads a patient over
    several files); the intakes of several adapters merged."""
    merged = Intake()
    for adapter in adapters:
        claimed = [path for path in files if adapter.claims(path)]
        if claimed:
            intake = adapter.read(claimed, plans_per_part=PLANS_PER_PART, strict=strict)
            merged.turtle.update(intake.turtle)
            merged.findings.extend(intake.findings)
            merged.rules.extend(intake.rules)
    return merged


def _shapes_ntriples(extra: tuple[Path, ...]) -> str:
    """The plan shapes plus the user's, as one N-Triples document (it crosses process boundaries as text)."""
    quads = list(ox.parse(path=str(plan_shapes_file()), format=ox.RdfFormat.TURTLE))
    for path in extra:
        quads.extend(user_shapes_quads(path))
    text = ox.serialize([ox.Triple(q.subject, q.predicate, q.object) for q in quads], format=ox.RdfFormat.N_TRIPLES)
    return text.decode("utf-8") if text else ""


@functools.cache
def _statement_ids(ontology: Path) -> dict[str, str]:
    """Each statement's ID as people cite it: its ``dcterms:identifier`` (``S31``), else its IRI's local part."""
    store = ox.Store()
    store.extend(ontology_quads(ontology))
    result = store.query(
        f"SELECT ?statement ?id WHERE {{ ?statement <{DCTERMS}identifier> ?id . "
        f"FILTER (STRSTARTS(STR(?statement), '{STATEMENT_PREFIX}')) }}")
    assert isinstance(result, ox.QuerySolutions)
    return {s["statement"].value: s["id"].value for s in result}

"""The driver's side of plan validation on Spark: inputs into work units, units spread over partitions, records
back into findings that are the local run's (:func:`iimkg.validation.validate_plans`) on the same input.

What a local run decides over all plans at once is decided here over all records: a plan's name (its
``dcterms:identifier`` if no other plan has it), a plan described in two files (an input error), the first input
error in file order, which conversion notes are listed (the first few of each kind, in the order the local run's
Bulk Data reader meets them) and how many are only counted.
"""

from __future__ import annotations

import functools
import math
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iimkg.core.errors import InputError, require_file
from iimkg.core.limits import Limits, current
from iimkg.fhir.bulk import BulkExport
from iimkg.fhir.intake import NoteFindings, fhir_rules
from iimkg.fhir.manifest import expand_manifests
from iimkg.fhir.reading import is_fhir_file, is_ndjson, no_resource_message
from iimkg.plans.notes import DISTINCT_MESSAGES, SAMPLE_PER_KIND, Note, NoteKind
from iimkg.plans.validate import in_report_order, ontology_graph_file, prepared_shapes
from iimkg.shacl.findings import Finding, Rule, Severity, ValidationResult, display_path
from iimkg.spark import bulk
from iimkg.spark.check import (
    ERROR,
    FINDING,
    FINDING_FIELDS,
    NOTE,
    NOTE_FIELDS,
    PLAN,
    SKIPPED,
    FhirUnit,
    FileUnit,
    Job,
    check_partition,
    split_file_unit,
)

if TYPE_CHECKING:
    from pyspark import RDD
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["FINDINGS_SCHEMA", "SparkRun", "validate", "validate_result"]

# Plan files are split by plan where they are read (one task a file), then spread over partitions of about this many
# bytes of plans (some 3,000 plans), each checked in chunks of iimkg.plans.units.CHUNK_PLANS.
PLAN_BYTES_PER_PARTITION = 4_000_000
FINDINGS_SCHEMA = ", ".join(f"{name} string" for name in FINDING_FIELDS)
_NOTES_SCHEMA = ", ".join(f"{name} {'int' if name in {'file', 'line', 'column'} else 'string'}" for name in NOTE_FIELDS)


def validate(spark: SparkSession, paths: Sequence[Path | str], *, shapes: Sequence[Path] = (),
             input_format: str | None = None, ontology: Path | None = None, strict: bool = False,
             limits: Limits | None = None) -> DataFrame:
    """Check treatment plan files on Spark; the findings as a DataFrame, one row per finding.

    Columns: ``plan``, ``rule``, ``severity``, ``focus``, ``message``, ``statement``, ``file`` (the source file),
    ``source``, ``value``, ``path``, ``statements``, ``plan_iri`` — the fields of
    :class:`iimkg.shacl.findings.Finding`, the same findings as :func:`iimkg.validation.validate_plans` gives for the
    same files. Paths must be readable by every executor (a shared file system on a cluster).

    :param paths: plan files (Turtle, N-Triples, JSON-LD…) and FHIR R4 JSON; Bulk Data NDJSON is grouped by patient
        and spread over the cluster.
    :param limits: the input policy on the executors (default: this process's, :func:`iimkg.core.limits.current`);
        NDJSON is read line by line, so its size is not limited, only its nesting depth.
    :raises InputError: as a local run: the first input error in file order, before any finding is returned.
    """
    return SparkRun(spark, paths, shapes=shapes, input_format=input_format, ontology=ontology, strict=strict,
                    limits=limits).findings


def validate_result(spark: SparkSession, paths: Sequence[Path | str], *, fail_on: Severity | str = Severity.VIOLATION,
                    **options: Any) -> ValidationResult:
    """:func:`validate`, collected into the :class:`ValidationResult` a local run gives (for the CLI's reports)."""
    started = time.perf_counter()
    run = SparkRun(spark, paths, **options)
    findings = in_report_order((Finding(**{**row.asDict(), "severity": Severity(row["severity"])})
                                for row in run.findings.collect()), run.shown)
    return ValidationResult(files=run.shown, rules=run.rules, findings=findings, fail_on=Severity(fail_on),
                            report=_no_report_graph, seconds=time.perf_counter() - started, plans=run.plan_count)


def _no_report_graph() -> Any:
    raise InputError("the SHACL report graph (--format turtle) is not made on Spark; use text, json, junit, sarif "
                     "or parquet")


class SparkRun:
    """One validation on Spark: the records are computed once (cached), checked for input errors, then read.

    :attr:`findings` is the DataFrame of findings, :attr:`plan_count` the number of plans checked.
    """

    def __init__(self, spark: SparkSession, paths: Sequence[Path | str], *, shapes: Sequence[Path] = (),
                 input_format: str | None = None, ontology: Path | None = None, strict: bool = False,
                 limits: Limits | None = None) -> None:
        self.spark = spark
        files = list(dict.fromkeys(Path(p) for p in paths))
        if not files:
            raise InputError("no plan file given")
        for path in files:
            require_file(path)
        files = expand_manifests(files)
        fhir = [i for i, path in enumerate(files) if is_fhir_file(path)]
        self.bulk = bool(fhir) and all(is_ndjson(files[i]) for i in fhir)
        # NDJSON files with no resource (Bulk Data NDJSON read here): an error only if no file holds one
        self.empty: list[tuple[int, int | None, int | None, str]] = []
        self.files = files
        self.shown = [display_path(p) for p in files]
        self.job, self.rules = _job(files, fhir, shapes, input_format, ontology, strict, limits or current())
        self.batches: DataFrame | None = None
        self.keyed: DataFrame | None = None
        units = self._units(fhir)
        self.records = units.mapPartitions(functools.partial(check_partition, self.job)).cache()
        self._raise_first_error()
        if self.keyed is not None:
            self.keyed.unpersist()  # the records hold all that is needed from here on
        plans = self.spark.createDataFrame(
            self.records.filter(lambda r: r[0] == PLAN).map(lambda r: r[1:]),
            "plan_iri string, name string, file int, blank boolean").cache()
        self._raise_plan_in_two_files(plans)
        self.plan_count = plans.count()
        self.findings = self._findings(plans)
        if self.batches is not None:
            self.batches.unpersist()

    def _units(self, fhir: list[int]) -> RDD[Any]:
        context = self.spark.sparkContext
        plan_files = [FileUnit(i) for i in range(len(self.files)) if i not in fhir]
        units = None
        if plan_files:
            size = sum(self.files[unit.index].stat().st_size for unit in plan_files)
            partitions = max(context.defaultParallelism, math.ceil(size / PLAN_BYTES_PER_PARTITION))
            units = context.parallelize(plan_files, len(plan_files)) \
                .flatMap(functools.partial(split_file_unit, self.job)).repartition(partitions)
        if fhir:
            fhir_units = self._fhir_units(fhir)
            units = fhir_units if units is None else units.union(fhir_units)
        assert units is not None
        return units

    def _fhir_units(self, fhir: list[int]) -> RDD[Any]:
        """NDJSON grouped by patient; a single unit when some FHIR cannot be split (a Bundle file or line)."""
        context = self.spark.sparkContext
        whole = context.parallelize([FhirUnit()], 1)
        if not self.bulk:
            return whole
        files = [(i, self.job.files[i]) for i in fhir]
        lines = bulk.ndjson_lines(self.spark, files).cache()
        keyed = self.keyed = bulk.keyed_lines(bulk.non_blank(lines)).cache()
        summary = bulk.file_summary(lines, keyed)
        lines.unpersist()
        if any(bundles for _, _, bundles in summary.values()):
            keyed.unpersist()
            self.bulk = False
            return whole
        if not any(count for _, count, _ in summary.values()):
            # as the local reader (iimkg.fhir.bulk.BulkExport.index): a file of none is an empty part of an export
            # unless none holds a resource; then the first such file is the error
            self.empty = [(i, None, None, no_resource_message(self.files[i]))
                          for i in fhir if not summary.get(i, (0, 0, False))[1]]
        last = {i: line for i, (line, _, _) in summary.items()}
        self.batches = bulk.batch_table(self.spark, keyed, files, last).cache()
        resources = sum(count for _, count, _ in summary.values())
        partitions = max(context.defaultParallelism, math.ceil(resources / bulk.LINES_PER_PARTITION))
        return bulk.patient_units(self.spark, keyed, partitions)

    def _raise_first_error(self) -> None:
        """The first input error in the local run's order: FHIR files first, in file order (in a file, the first by
        line), an NDJSON file of no resource after them (and only when none holds one), then plan files."""
        errors = self.records.filter(lambda r: r[0] == ERROR).map(lambda r: r[1:]).collect()
        errors += self.empty
        if not errors:
            return
        fhir = set(self.job.fhir)  # a local run reads every FHIR file before the plan files
        empty = {error[0] for error in self.empty}  # and tells of a file of no resource once it has read them all

        def order(error: tuple[int, int | None, int | None, str]) -> tuple[float, ...]:
            index, line, column, _ = error
            group = 2 if index not in fhir else 1 if index in empty and line is None else 0
            return (group, index, line if line is not None else math.inf, column or 0)

        index, line, column, detail = min(errors, key=order)
        path = self.files[index] if index < len(self.files) else None
        raise InputError(detail, path=path, line=line, column=column)

    def _raise_plan_in_two_files(self, plans: DataFrame) -> None:
        """A plan (an IRI) described in two files is an input error, as in a local run (which names the first)."""
        from pyspark.sql import functions as F

        shared = (plans.where(~F.col("blank")).groupBy("plan_iri")
                  .agg(F.array_sort(F.collect_set("file")).alias("files"))
                  .where(F.size("files") > 1).limit(1).collect())
        if shared:
            first, second = shared[0]["files"][:2]
            raise InputError(f"plan <{shared[0]['plan_iri']}> is also described in {self.files[first]}; "
                             "give each plan one file", path=self.files[second])

    def _findings(self, plans: DataFrame) -> DataFrame:
        """Finding records and the notes listed as a DataFrame; a plan named by an identifier another plan shares
        is named by its IRI."""
        from pyspark.sql import functions as F

        rows = self.records.filter(lambda r: r[0] == FINDING).map(lambda r: r[1:])
        frame = self.spark.createDataFrame(rows, FINDINGS_SCHEMA)
        notes = [_row(f) for f in self._note_findings()]
        if notes:
            frame = frame.unionByName(self.spark.createDataFrame(notes, FINDINGS_SCHEMA))
        shared = plans.where(F.col("name").isNotNull()).groupBy("name").agg(
            F.countDistinct("plan_iri").alias("plans")).where(F.col("plans") > 1).select(
            F.col("name").alias("shared_name"))
        named = frame.join(shared, (frame["plan"] == shared["shared_name"]) & (frame["plan"] != frame["plan_iri"]),
                           "left")
        fixed = named.withColumn("plan", F.when(F.col("shared_name").isNotNull(), F.col("plan_iri"))
                                 .otherwise(F.col("plan"))).drop("shared_name")
        return fixed.select(*FINDING_FIELDS).distinct()

    def _note_findings(self) -> list[Finding]:
        """The conversion notes as the local run lists them (:class:`iimkg.fhir.intake.NoteFindings`): the first
        :data:`SAMPLE_PER_KIND` of each kind in its order — batch by batch, in a batch by file, line, column and
        text — then the resources of types not read; one finding per kind for the rest, with its count, its worst
        severity and its most frequent messages (counted over the first :data:`DISTINCT_MESSAGES` messages met)."""
        if not self.bulk or self.batches is None:
            return []
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        records = self.records.filter(lambda r: r[0] == NOTE).map(lambda r: r[1:])
        notes = self.spark.createDataFrame(records, _NOTES_SCHEMA).join(self.batches, "batch_key", "left")
        given = F.array(*(F.lit(g) for g in self.job.given))
        order = [F.coalesce("batch", F.lit(-1)).alias("o1"), F.element_at(given, F.col("file") + 1).alias("o2"),
                 F.coalesce("line", F.lit(0)).alias("o3"), F.coalesce("column", F.lit(0)).alias("o4"),
                 F.concat_ws(": ", "resource", "message").alias("o5")]
        notes = notes.withColumn("place", F.struct(*order)).cache()
        ranked = notes.withColumn("rank", F.row_number().over(Window.partitionBy("kind").orderBy("place")))
        kept = ranked.where(F.col("rank") <= SAMPLE_PER_KIND).orderBy("place").collect()
        rank = F.when(F.col("finding_severity") == "violation", 3).when(F.col("finding_severity") == "warning", 2) \
            .otherwise(1)
        rest = ranked.where(F.col("rank") > SAMPLE_PER_KIND).groupBy("kind").agg(
            F.count(F.lit(1)).alias("count"), F.max(rank).alias("worst")).collect()
        first = F.min(F.struct("place", "severity", "resource", "file", "line", "column", "plan")).alias("first")
        messages = (notes.groupBy("kind", "message").agg(F.count(F.lit(1)).alias("count"), first)
                    .orderBy("first").limit(DISTINCT_MESSAGES).collect())
        notes.unpersist()
        listed = NoteFindings(strict=self.job.strict)
        for row in kept:
            listed.add(self._note(row["kind"], row["message"], row))
        by_rank = {s.rank: s for s in Severity}
        for row in rest:
            kind = NoteKind(row["kind"])
            listed.tally.counts[kind] += int(row["count"])
            listed.worst[kind] = by_rank[int(row["worst"])]
        listed.tally.messages = {(NoteKind(row["kind"]), row["message"]):
                                 [int(row["count"]), self._note(row["kind"], row["message"], row["first"])]
                                 for row in messages}
        for note in self._skipped_notes():
            listed.add(note)
        fhir = [self.files[i] for i in self.job.fhir]
        return listed.findings(fhir[0])

    def _note(self, kind: str, message: str, row: Any) -> Note:
        return Note(NoteKind(kind), row["severity"], row["resource"], message, self.files[row["file"]], row["line"],
                    row["column"], row["plan"])

    def _skipped_notes(self) -> list[Note]:
        """The local reader's notes for resources of types it does not read, from the counts of every partition."""
        counted = self.records.filter(lambda r: r[0] == SKIPPED).map(lambda r: ((r[1], r[2]), r[3])) \
            .reduceByKey(lambda a, b: a + b).collect()
        export = BulkExport([self.files[i] for i in self.job.fhir])
        position = {index: number for number, index in enumerate(self.job.fhir)}
        export.skipped = Counter({(position[index], kind): count for (index, kind), count in counted})
        return export.skipped_notes()


def _job(files: list[Path], fhir: list[int], shapes: Sequence[Path], input_format: str | None,
         ontology: Path | None, strict: bool, limits: Limits) -> tuple[Job, list[Rule]]:
    """The shapes, rules and statements every task needs, read once on the driver (as a local run reads them)."""
    graph_file = ontology_graph_file(ontology)
    shapes_text, rules, statement_ids = prepared_shapes(shapes, graph_file)
    job = Job(files=tuple(str(p.resolve()) for p in files), given=tuple(str(p) for p in files),
              shown=tuple(display_path(p) for p in files), fhir=tuple(fhir), shapes_text=shapes_text,
              input_format=input_format, ontology=str(graph_file.resolve()), rules=tuple(rules),
              statements=tuple(statement_ids.values()), strict=strict, limits=limits)
    shown_rules = sorted([*rules, *fhir_rules(strict=strict)]) if fhir else sorted(rules)
    return job, shown_rules


def _row(finding: Finding) -> tuple[Any, ...]:
    values = {**finding.__dict__, "severity": finding.severity.value}
    return tuple(values[name] for name in FINDING_FIELDS)

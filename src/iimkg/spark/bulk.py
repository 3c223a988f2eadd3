"""FHIR Bulk Data NDJSON into work units on Spark: every line keyed by the patient it is about, then grouped.

Spark reads the lines (its text reader, with each line's number) and parses only what grouping needs with its own
JSON reader (``from_json``: resource type, id, subject or patient reference, medication reference). Each group is
one patient's resources plus the Medications they reference, so the converter (:mod:`iimkg.fhir.convert`) sees on
an executor everything a local run would link to that patient. The executor parses every line again with the
package's reader, which decides what is valid, so input errors are the local run's (file, line, column).

Lines a patient is not needed for — resources of types no plan is made from (Encounter…), every Medication once —
go to buckets spread over the cluster, where they are only read and counted.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iimkg.fhir.bulk import BATCH_BYTES
from iimkg.fhir.convert import READ_TYPES
from iimkg.spark.check import SPREAD, PatientUnit, batch_key

if TYPE_CHECKING:
    from pyspark import RDD
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = ["LINES_PER_PARTITION", "batch_table", "file_summary", "keyed_lines", "ndjson_lines", "non_blank",
           "patient_units"]

# About this many NDJSON lines go to one partition (some 2,000 patients of a typical export): enough to amortise a
# store per partition, few enough that a partition's store stays small.
LINES_PER_PARTITION = 20_000
NO_PATIENT, BAD = "", "!"


def ndjson_lines(spark: SparkSession, files: Sequence[tuple[int, str]]) -> DataFrame:
    """The lines of NDJSON files, as ``(file, line, text)``: file is the input's index, line 1-based, the byte order
    mark of a first line dropped."""
    from pyspark.sql import functions as F

    context = spark.sparkContext
    parts = [context.textFile(Path(path).resolve().as_uri(), minPartitions=1).zipWithIndex()
             .map(functools.partial(_numbered, index)) for index, path in files]
    lines = context.union(parts)
    frame = spark.createDataFrame(lines, "file int, line long, text string")
    return frame.withColumn("text", F.when(F.col("line") == 1, F.regexp_replace("text", "^\ufeff", ""))
                            .otherwise(F.col("text")))


def non_blank(lines: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    return lines.where(F.length(F.trim(F.col("text"))) > 0)


def _numbered(index: int, pair: tuple[str, int]) -> tuple[int, int, str]:
    text, number = pair
    return index, number + 1, text


def file_summary(lines: DataFrame, keyed: DataFrame) -> dict[int, tuple[int, int, bool]]:
    """Per file: (its last line's number, how many lines hold a resource, whether a line is a Bundle); one pass."""
    from pyspark.sql import functions as F

    last: dict[int, int] = dict(lines.groupBy("file").agg(F.max("line")).collect())
    found = keyed.groupBy("file").agg(F.count("type"), F.max((F.col("type") == "Bundle").cast("int"))).collect()
    return {int(row[0]): (int(last.get(row[0], 0)), int(row[1]), bool(row[2])) for row in found}


def keyed_lines(lines: DataFrame) -> DataFrame:
    """Each line with its resource type, patient key (as the converter names patients) and medication key."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    reference = StructType([StructField("reference", StringType())])
    schema = StructType([StructField("resourceType", StringType()), StructField("id", StringType()),
                         StructField("subject", reference), StructField("patient", reference),
                         StructField("medicationReference", reference)])
    options = {"mode": "PERMISSIVE", "allowNonNumericNumbers": "false", "allowSingleQuotes": "false"}
    parsed = lines.withColumn("json", F.from_json(F.col("text"), schema, options))
    kind = F.col("json.resourceType")
    own_id = F.col("json.id")
    subject = F.when(F.col("json.subject").isNotNull(), F.col("json.subject.reference")).otherwise(
        F.col("json.patient.reference"))
    own_key = F.when(own_id.isNotNull() & (own_id != ""), F.concat(F.lit("Patient/"), own_id)).otherwise("Patient")
    patient = F.when(kind == "Patient", own_key).otherwise(_patient_key(subject))
    medication = F.col("json.medicationReference.reference")
    return parsed.select(
        "file", "line", "text", kind.alias("type"),
        patient.alias("patient"),
        F.when(kind == "Medication", F.concat(F.lit("Medication/"), own_id))
        .when(medication.isNotNull() & ~medication.startswith("#"), _last_two(medication)).alias("medication"))


def indexed(keyed: DataFrame) -> Column:
    """The lines the local run's Bulk Data reader indexes by patient: resources of the types read, but Medications."""
    from pyspark.sql import functions as F

    return (F.col("type").isin(sorted(READ_TYPES)) & (F.col("type") != "Medication")
            & F.col("type").rlike("^[A-Z][A-Za-z]+$"))


def batch_table(spark: SparkSession, keyed: DataFrame, files: Sequence[tuple[int, str]], last: dict[int, int]
                ) -> DataFrame:
    """``(batch_key, batch)``: the batch of the local run's Bulk Data reading (:mod:`iimkg.fhir.bulk`) each
    patient's lines fall in (and each line that names no patient), which decides the order its notes come in.

    The local run reads patients in the order of their keys, starting a new batch at a patient (or at a line that
    names none) once the batch holds :data:`iimkg.fhir.bulk.BATCH_BYTES` of lines; line lengths are counted here as
    it counts them, with the line break the file uses."""
    from pyspark.sql import functions as F

    breaks = {index: _line_break(Path(path)) for index, path in files}
    newline = F.lit(0)
    for index, (width, final) in breaks.items():
        at_end = F.col("line") == F.lit(last.get(index, 0))
        newline = F.when(F.col("file") == index, F.when(at_end, F.lit(final)).otherwise(F.lit(width))).otherwise(
            newline)
    sized = keyed.where(indexed(keyed)).select(
        F.coalesce("patient", F.lit(NO_PATIENT)).alias("key"), "file", "line",
        (F.octet_length("text") + newline).alias("bytes"))
    patients = sorted((row[0], int(row[1])) for row in
                      sized.where(F.col("key") != NO_PATIENT).groupBy("key").agg(F.sum("bytes")).collect())
    loose = sorted((int(row[0]), int(row[1]), int(row[2])) for row in
                   sized.where(F.col("key") == NO_PATIENT).select("file", "line", "bytes").collect())
    table: list[tuple[str, int]] = []
    batch, size, started = 0, 0, False
    for key, length in [*patients, *((batch_key(NO_PATIENT, f, n), b) for f, n, b in loose)]:
        if started and size >= BATCH_BYTES:
            batch, size = batch + 1, 0
        size += length
        started = True
        table.append((key, batch))
    return spark.createDataFrame(table, "batch_key string, batch int")


def _line_break(path: Path) -> tuple[int, int]:
    """(bytes of the file's line break, bytes of its last line's): \r\n or \n, and none after a last line
    that does not end the file with one."""
    with path.open("rb") as handle:
        head = handle.read(1 << 20)
        handle.seek(0, 2)
        end = handle.tell()
        handle.seek(max(0, end - 1))
        tail = handle.read(1)
    first = head.find(b"\n")
    width = 2 if first > 0 and head[first - 1:first] == b"\r" else 1
    return width, width if tail == b"\n" else 0


def patient_units(spark: SparkSession, keyed: DataFrame, partitions: int) -> RDD[PatientUnit]:
    """The lines grouped into :class:`PatientUnit` s, over ``partitions`` partitions."""
    from pyspark.sql import functions as F

    read = F.col("type").isin(sorted(READ_TYPES))
    valid = F.col("type").isNotNull() & F.col("type").rlike("^[A-Z][A-Za-z]+$")
    bucket = F.concat(F.lit(SPREAD), F.pmod(F.hash("file", "line"), F.lit(partitions)).cast("string"))
    own = keyed.where(~valid | (read & (F.col("type") != "Medication"))).select(
        F.when(~valid, F.lit(BAD)).otherwise(F.coalesce("patient", F.lit(NO_PATIENT))).alias("key"),
        "file", "line", "text")
    spread = keyed.where(valid & (~read | (F.col("type") == "Medication"))).select(
        bucket.alias("key"), "file", "line", "text")
    wanted = (keyed.where(valid & read & (F.col("type") != "Medication") & F.col("medication").isNotNull())
              .select(F.coalesce("patient", F.lit(NO_PATIENT)).alias("key"), "medication").distinct())
    medications = keyed.where(F.col("type") == "Medication").select("medication", "file", "line", "text")
    joined = wanted.join(medications, "medication").select("key", "file", "line", "text")
    rows = own.unionByName(spread).unionByName(joined)
    grouped = rows.repartition(partitions, "key").groupBy("key").agg(
        F.collect_list(F.struct("file", "line", "text")).alias("lines"))
    return grouped.rdd.map(_unit)  # grouped by Spark (JVM), handed to Python once


def _unit(row: Any) -> PatientUnit:
    return PatientUnit(row[0], tuple((int(f), int(n), str(text)) for f, n, text in row[1]))


def _patient_key(reference: Column) -> Column:
    """A reference as the converter keys patients: ``…/Patient/x[/_history/n]`` → ``Patient/x``, a ``urn:`` kept,
    anything else (a Group, a Practitioner) none."""
    from pyspark.sql import functions as F

    ref = F.trim(reference)
    parts = F.split(F.regexp_replace(F.split(ref, "/_history/").getItem(0), "/+$", ""), "/")
    return (F.when(reference.isNull(), F.lit(None))
            .when((F.size(parts) >= 2) & (F.element_at(parts, -2) == "Patient"),
                  F.concat(F.lit("Patient/"), F.element_at(parts, -1)))
            .when(ref.startswith("urn:"), ref))


def _last_two(reference: Column) -> Column:
    """``http://x/fhir/Medication/m1`` → ``Medication/m1``, as the converter looks a medication up."""
    from pyspark.sql import functions as F

    parts = F.split(F.regexp_replace(reference, "/+$", ""), "/")
    return F.when(F.size(parts) >= 2, F.concat_ws("/", F.slice(parts, -2, 2))).otherwise(reference)

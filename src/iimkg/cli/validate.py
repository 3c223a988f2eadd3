"""The ``iimkg validate`` command: the ontology quality gate, or treatment plans against the graph's statements."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from iimkg.cli import options
from iimkg.core.errors import IimkgError
from iimkg.core.kinds import Engine, InputFormat
from iimkg.shacl.findings import Severity
from iimkg.shacl.reports import ReportFormat

__all__ = ["register"]

EXIT_OK, EXIT_FINDINGS = 0, 1
PARQUET = "parquet"  # findings as Parquet files, written by Spark (--spark only)


def register(subparsers: Any) -> None:
    """Add ``validate`` to the ``iimkg`` command (called by :mod:`iimkg.cli.main`); imports nothing heavy."""
    validate = subparsers.add_parser(
        "validate", help="check treatment plans against the graph, or an ontology against the quality gate (SHACL)",
        description="With PLAN files: check treatment plans against shapes/treatment-plan.ttl, which reads what the "
                    "graph says about each drug, dose and duration (screening, prophylaxis, vaccination, bone "
                    "protection, monitoring, supportive care); a care-gap check, not a prescription. Without: check "
                    "the shipped ontology (or --qc FILE...) against shapes/ontology-qc.ttl, ROBOT's report checks "
                    "plus our own. Exit status: 0 nothing at or above --fail-on, 1 findings at or above it, 2 usage "
                    "or input error.")
    validate.add_argument("plans", nargs="*", type=Path, metavar="PLAN",
                          help="treatment plan files (Turtle, JSON-LD, N-Triples, RDF/XML), or HL7 FHIR R4 JSON "
                               "(Bundles, resources, Bulk Data NDJSON, or an export's manifest.json) converted to "
                               "plans first; one report for all")
    validate.add_argument("--qc", nargs="*", type=Path, metavar="FILE",
                          help="ontology files to run the quality gate on, each on its own "
                               "(default: the shipped ontology)")
    validate.add_argument("--shapes", action="append", type=Path, default=[], metavar="FILE",
                          help="a file of your own SHACL shapes, checked with the plan shapes (or the quality gate); "
                               "repeat for several")
    validate.add_argument("--input-format", metavar="FORMAT",
                          help="RDF syntax of the files when the extension does not tell "
                               f"({', '.join(f.value for f in InputFormat)})")
    validate.add_argument("--format", choices=[*(f.value for f in ReportFormat), PARQUET],
                          default=ReportFormat.TEXT.value,
                          help="report format (default: text); parquet (a folder of Parquet files of the findings, "
                               "one row each) only with --spark and --output DIR")
    validate.add_argument("--fail-on", choices=[s.value for s in Severity], default=Severity.VIOLATION.value,
                          help="lowest severity that makes the exit status 1 (default: violation)")
    validate.add_argument("--engine", choices=[e.value for e in Engine], default=Engine.OXIGRAPH.value,
                          help="oxigraph (default: plans checked with one query per rule for all plans) or rdflib "
                               "(plain pyshacl; same findings, far slower)")
    validate.add_argument("--workers", type=options.workers, metavar="N",
                          help="processes for checking many plan files (default: one per CPU for large inputs)")
    validate.add_argument("--strict", action="store_true",
                          help="FHIR input: report resources the converter could not map as violations, not warnings")
    validate.add_argument("--max-input-mb", type=options.input_mb, metavar="MB",
                          help="largest input file read, in MB (default: the input policy's, docs/security.md)")
    validate.add_argument("--max-depth", type=options.count, metavar="N",
                          help="deepest nesting of JSON (FHIR) or brackets read (default: the input policy's)")
    validate.add_argument("-o", "--output", type=Path, metavar="FILE",
                          help="write the report to FILE (complete or not at all) instead of standard output")
    validate.add_argument("--spark", metavar="MASTER",
                          help="check the plans on Apache Spark: local[N] or a cluster URL (spark://host:7077, yarn); "
                               "plan files and FHIR Bulk Data NDJSON (grouped by patient) are spread over the "
                               "executors, with the same findings as a local run; needs pip install 'iimkg[spark]'")
    validate.set_defaults(handler=run)


def run(ns: argparse.Namespace) -> int:
    """Validate, write the report, and say by the exit status whether anything reached ``--fail-on``."""
    from iimkg.core.atomic import open_atomically, refuse_output_over_input
    from iimkg.shacl.reports import write_report

    if ns.plans and ns.qc is not None:
        raise IimkgError("give plan files or --qc ontology files, not both: they are checked against different shapes")
    refuse_output_over_input(ns.output, [*ns.plans, *(ns.qc or []), *ns.shapes])
    options.apply_input_limits(ns)
    if ns.spark is not None or ns.format == PARQUET:
        from iimkg.spark.command import run_on_spark

        return run_on_spark(ns)
    if ns.plans:
        from iimkg.validation import validate_plans

        result = validate_plans(ns.plans, shapes=ns.shapes, input_format=ns.input_format, fail_on=ns.fail_on,
                                engine=ns.engine, workers=ns.workers, strict=ns.strict)
    else:
        from iimkg.validation import validate_ontology

        result = validate_ontology(ns.qc or None, shapes=ns.shapes, input_format=ns.input_format,
                                   fail_on=ns.fail_on, engine=ns.engine)
    try:
        if ns.output is not None:
            with open_atomically(ns.output) as out:  # every report is written a finding (or result) at a time
                write_report(result, ns.format, out)
        else:
            write_report(result, ns.format, sys.stdout)
        return EXIT_OK if result.conforms else EXIT_FINDINGS
    finally:
        result.close()  # findings spilled to disk (a large run): their files go now, not at exit

"""``iimkg validate --spark MASTER``: the command's Spark branch (the CLI hands over its parsed arguments).

Reports are the local run's (text, JSON, JUnit, SARIF, from the same findings); ``--format parquet`` has Spark write
the findings DataFrame to a folder instead, one row per finding, without collecting them on the driver.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from iimkg.core.errors import IimkgError
from iimkg.shacl.findings import Severity
from iimkg.spark.session import require_pyspark

if TYPE_CHECKING:
    from iimkg.spark.job import SparkRun

__all__ = ["run_on_spark"]

EXIT_OK, EXIT_FINDINGS = 0, 1
PARQUET = "parquet"


def run_on_spark(ns: argparse.Namespace) -> int:
    """Validate ``ns.plans`` on ``ns.spark``; write the report; exit status as a local run's."""
    _check_options(ns)
    require_pyspark()
    from iimkg.core.limits import current
    from iimkg.spark.job import SparkRun, validate_result
    from iimkg.spark.session import session

    with session(ns.spark) as (spark, log):
        if sys.stderr.isatty():
            print(f"iimkg: checking {len(ns.plans)} file(s) on Spark {ns.spark} (Spark's log: {log})",
                  file=sys.stderr)
        try:
            options = {"shapes": ns.shapes, "input_format": ns.input_format, "strict": ns.strict,
                       "limits": current()}
            if ns.format == PARQUET:
                run = SparkRun(spark, ns.plans, **options)
                _write_parquet(run, ns)
                failing = [s.value for s in Severity if s.at_least(Severity(ns.fail_on))]
                return EXIT_FINDINGS if run.findings.where(run.findings.severity.isin(failing)).limit(1).count() \
                    else EXIT_OK
            result = validate_result(spark, ns.plans, fail_on=ns.fail_on, **options)
        except IimkgError:
            raise
        except Exception as error:  # a Py4J or Spark error: its first line, and where the log is
            text = str(error).strip()
            raise IimkgError(f"Spark failed: {text.splitlines()[0] if text else type(error).__name__} "
                             f"(log: {log})") from None
    from iimkg.core.atomic import write_text_atomically
    from iimkg.shacl.reports import render_report

    text = render_report(result, ns.format)
    if ns.output is not None:
        write_text_atomically(ns.output, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK if result.conforms else EXIT_FINDINGS


def _check_options(ns: argparse.Namespace) -> None:
    if ns.spark is None:
        raise IimkgError("--format parquet is written by Spark: give --spark MASTER (local[2] on one machine)")
    if not ns.spark.strip():
        raise IimkgError("--spark takes a master: local[N], spark://host:port, yarn…")
    if ns.qc is not None or not ns.plans:
        raise IimkgError("--spark checks plan files: give PLAN files (the ontology gate runs locally)")
    if ns.engine != "oxigraph":
        raise IimkgError("--spark runs the oxigraph engine only; leave out --engine")
    if ns.workers is not None:
        raise IimkgError("--workers is for local runs; on Spark the master's cores decide (local[N])")
    if ns.format == "turtle":
        raise IimkgError("--format turtle (the SHACL report graph) is not made on Spark; use text, json, junit, "
                         "sarif or parquet")
    if ns.format == PARQUET and ns.output is None:
        raise IimkgError("--format parquet writes a folder: give --output DIR")


def _write_parquet(run: SparkRun, ns: argparse.Namespace) -> None:
    """The findings as Parquet files in ``--output``: Spark writes them beside, then the folder is moved into place,
    so the folder is whole or absent."""
    import os
    import shutil
    import tempfile

    target = os.path.abspath(ns.output)
    if os.path.exists(target) and not os.path.isdir(target):
        raise IimkgError(f"{ns.output}: exists and is not a folder; --format parquet writes a folder")
    staging = tempfile.mkdtemp(prefix=".iimkg-parquet-", dir=os.path.dirname(target) or ".")
    try:
        run.findings.write.mode("overwrite").parquet(os.path.join(staging, "findings"))
        if os.path.isdir(target):
            shutil.rmtree(target)
        os.replace(os.path.join(staging, "findings"), target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

"""The ``iimkg validate`` command: the ontology quality gate now, treatment plans later (their positional files)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from iimkg.errors import IimkgError

__all__ = ["register"]

EXIT_OK, EXIT_FINDINGS = 0, 1
REPORT_FORMATS = ("text", "json", "junit", "turtle")
SEVERITIES = ("violation", "warning", "info")


def register(subparsers: Any) -> None:
    """Add ``validate`` to the ``iimkg`` command (called by :mod:`iimkg.cli`); imports nothing heavy."""
    validate = subparsers.add_parser(
        "validate", help="check the ontology (or any ontology file) against the quality gate (SHACL)",
        description="Check an ontology against shapes/ontology-qc.ttl: ROBOT's report checks for our namespace, "
                    "plus a source and one evidence level on every clinical statement, cross-references of the "
                    "shape prefixes.tsv declares and a dated version IRI. Exit status: 0 nothing at or above "
                    "--fail-on, 1 findings at or above it, 2 usage or input error.")
    validate.add_argument("plans", nargs="*", type=Path, metavar="PLAN",
                          help="treatment plan files to check (not available yet: use --qc for ontology files)")
    validate.add_argument("--qc", nargs="*", type=Path, metavar="FILE",
                          help="ontology files to run the quality gate on, each on its own "
                               "(default: the shipped ontology)")
    validate.add_argument("--input-format", metavar="FORMAT",
                          help="RDF syntax of the files when the extension does not tell (turtle, rdfxml, nt, jsonld)")
    validate.add_argument("--format", choices=REPORT_FORMATS, default="text", help="report format (default: text)")
    validate.add_argument("--fail-on", choices=SEVERITIES, default="violation",
                          help="lowest severity that makes the exit status 1 (default: violation)")
    validate.add_argument("--output", type=Path, metavar="FILE",
                          help="write the report to FILE (complete or not at all) instead of standard output")
    validate.set_defaults(handler=run)


def run(ns: argparse.Namespace) -> int:
    """Validate, write the report, and say by the exit status whether anything reached ``--fail-on``."""
    if ns.plans:
        # Plan validation (shapes/treatment-plan.ttl) will take the positional files; until then, say so.
        raise IimkgError(
            f"plan validation is not available yet, so {ns.plans[0]} was not checked; "
            "use `iimkg validate --qc FILE` to run the ontology quality gate on an ontology file")
    from iimkg.atomic import write_text_atomically
    from iimkg.reports import render_report
    from iimkg.validate import validate_ontology

    result = validate_ontology(ns.qc or None, input_format=ns.input_format, fail_on=ns.fail_on)
    text = render_report(result, ns.format)
    if ns.output is not None:
        write_text_atomically(ns.output, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK if result.conforms else EXIT_FINDINGS

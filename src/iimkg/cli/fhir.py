"""The ``iimkg fhir`` command: convert HL7 FHIR R4 JSON into treatment plans that ``iimkg validate`` checks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]

EXIT_OK, EXIT_UNMAPPED = 0, 1


def register(subparsers: Any) -> None:
    """Add ``fhir`` to the ``iimkg`` command (called by :mod:`iimkg.cli.main`); imports nothing heavy."""
    fhir = subparsers.add_parser(
        "fhir", help="convert HL7 FHIR R4 JSON (Bundles, resources, Bulk Data NDJSON) into treatment plans",
        description="Work with HL7 FHIR R4 data: `iimkg fhir convert` turns patients' Conditions, medications, "
                    "immunizations, procedures and observations into treatment plans of the plan vocabulary "
                    "(docs/fhir.md). `iimkg validate FILE.json` converts and checks in one step.")
    commands = fhir.add_subparsers(title="commands", metavar="COMMAND")
    convert = commands.add_parser(
        "convert", help="write the treatment plans of FHIR files as Turtle",
        description="Convert FHIR R4 JSON files (a Bundle of any type, a single resource, or Bulk Data NDJSON with "
                    "one resource per line; all files together, as Bulk Data writes one file per resource type) "
                    "into one treatment plan per patient, written as Turtle. Codes resolve through the graph's "
                    "cross-references (ICD-10-CM, RxNorm, ATC, CVX, MONDO…), else display texts match its labels "
                    "and synonyms. Every resource that can't be read is listed on standard error. Exit status: "
                    "0 converted, 1 with --strict when something could not be read (nothing is written), "
                    "2 usage or input error (invalid JSON, not FHIR: with file, line and column).")
    convert.add_argument("files", nargs="+", type=Path, metavar="FILE",
                         help="FHIR JSON files: .json (Bundle or resource) or .ndjson/.jsonl (one resource a line)")
    convert.add_argument("-o", "--output", type=Path, metavar="FILE",
                         help="write the plans to FILE (complete or not at all) instead of standard output")
    convert.add_argument("--strict", action="store_true",
                         help="fail (exit 1, write nothing) if any resource or part of one could not be read")
    convert.set_defaults(handler=run_convert)
    fhir.set_defaults(handler=lambda ns: _usage(fhir))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run_convert(ns: argparse.Namespace) -> int:
    """Convert, write the plans, list what could not be read; exit 1 under ``--strict`` if anything was not."""
    from iimkg.core.atomic import write_text_atomically
    from iimkg.fhir import convert_files
    from iimkg.plans.notes import NoteKind
    from iimkg.plans.turtle import plan_turtle

    conversion = convert_files(ns.files)
    for note in conversion.notes:
        level = "error" if ns.strict and note.kind is NoteKind.UNMAPPED else note.severity
        print(f"{note.place}: {level}: {note.text}", file=sys.stderr)
    unmapped = conversion.unmapped()
    summary = _summary(conversion)
    if ns.strict and unmapped:
        print(f"iimkg fhir convert: {summary}; --strict: {len(unmapped)} could not be read, so nothing was written",
              file=sys.stderr)
        return EXIT_UNMAPPED
    text = plan_turtle(conversion)
    if ns.output is not None:
        write_text_atomically(ns.output, text)
        summary += f"; written to {ns.output}"
    else:
        sys.stdout.write(text)
    print(f"iimkg fhir convert: {summary}", file=sys.stderr)
    return EXIT_OK


def _summary(conversion: Any) -> str:
    from collections import Counter

    plans, files = len(conversion.plans), len(conversion.files)
    counts = Counter(note.kind.value for note in conversion.notes)
    parts = [f"{counts[kind]} {kind}" for kind in ("unmapped", "approximated", "excluded", "skipped") if counts[kind]]
    text = (f"{plans} plan{'' if plans == 1 else 's'} from {conversion.resources} resources in {files} "
            f"file{'' if files == 1 else 's'}")
    return text + (f" ({', '.join(parts)})" if parts else "")

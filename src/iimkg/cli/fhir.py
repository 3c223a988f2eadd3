"""The ``iimkg fhir`` command: convert HL7 FHIR R4 JSON into treatment plans that ``iimkg validate`` checks."""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from iimkg.cli import options

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
                         help="FHIR JSON files: .json (Bundle or resource) or .ndjson/.jsonl (one resource a line), "
                              "or a Bulk Data export's manifest.json, read as the files it lists")
    convert.add_argument("-o", "--output", type=Path, metavar="FILE",
                         help="write the plans to FILE (complete or not at all) instead of standard output")
    convert.add_argument("--strict", action="store_true",
                         help="fail (exit 1, write nothing) if any resource or part of one could not be read")
    convert.add_argument("--all-notes", action="store_true",
                         help="list every resource that could not be read, not the first "
                              "few of each kind and a count")
    convert.add_argument("--max-input-mb", type=options.input_mb, metavar="MB",
                         help="largest input file (an NDJSON line, for Bulk Data) read, in MB "
                              "(default: the input policy's, docs/security.md)")
    convert.add_argument("--max-depth", type=options.count, metavar="N",
                         help="deepest nesting of JSON read (default: the input policy's)")
    convert.set_defaults(handler=run_convert)
    fhir.set_defaults(handler=lambda ns: _usage(fhir))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


class _Discard(Exception):
    """Raised inside the output block to throw the output made so far away (--strict found something unread)."""


def run_convert(ns: argparse.Namespace) -> int:
    """Convert, write the plans, list what could not be read; exit 1 under ``--strict`` if anything was not.

    A Bulk Data export (every file NDJSON, or a Bundle larger than 16 MB) is streamed: read record by record,
    converted a batch of patients at a time and written as it goes, so that memory stays bounded however large the
    export (:mod:`iimkg.fhir.bulk`).
    What could not be read is listed for the first few of each kind, then counted (``--all-notes``: all)."""
    from iimkg.core.atomic import refuse_output_over_input
    from iimkg.fhir.bulk import BulkExport, is_bulk_export
    from iimkg.fhir.manifest import expand_manifests
    from iimkg.plans.model import Conversion

    options.apply_input_limits(ns)
    files = expand_manifests(list(dict.fromkeys(Path(p) for p in ns.files)))
    refuse_output_over_input(ns.output, [*ns.files, *files])
    progress = _Progress()
    conversions: Iterable[Conversion]
    if is_bulk_export(files):
        export = BulkExport(files, progress=progress if progress.shown else None).index()
        resources = export.resources
        conversions = itertools.chain(export.conversions(), [Conversion([], export.skipped_notes(), files, 0)])
    else:
        from iimkg.fhir import convert_files

        whole = convert_files(files)
        resources, conversions = whole.resources, [whole]
    notes = _NotePrinter(strict=ns.strict, every=ns.all_notes)
    plans = 0
    try:
        with _plans_output(ns.output, strict=ns.strict) as write:
            write(_HEADER.format(files=", ".join(map(str, files))))
            for conversion in conversions:
                for note in conversion.notes:
                    notes.show(note)
                if conversion.plans:
                    plans += len(conversion.plans)
                    write(_plan_blocks(conversion))
            unmapped = notes.unmapped
            if unmapped:
                write(f"\n# {unmapped:,} resource(s) or part(s) of resources could not be read; `iimkg fhir convert` "
                      "and `iimkg validate` list them.\n")
            progress.clear()
            summary = _summary(plans, resources, len(files), notes)
            if ns.strict and unmapped:
                raise _Discard(summary)
    except _Discard:
        notes.close()
        print(f"iimkg fhir convert: {summary}; --strict: {unmapped:,} could not be read, so nothing was written",
              file=sys.stderr)
        return EXIT_UNMAPPED
    finally:
        progress.clear()
    notes.close()
    if ns.output is not None:
        summary += f"; written to {ns.output}"
    print(f"iimkg fhir convert: {summary}", file=sys.stderr)
    return EXIT_OK


_HEADER = """# Treatment plans converted from HL7 FHIR R4 by `iimkg fhir convert` from {files}.
# Each node names the FHIR resource it comes from (dcterms:identifier); comments give labels and places.
# Check them with `iimkg validate` (shapes/treatment-plan.ttl). Not medical advice.
"""


def _plan_blocks(conversion: Any) -> str:
    """The plans of a batch as Turtle: the writer's text, whose prefixes every batch repeats (Turtle allows it)
    and whose header comment the output has once, at its start."""
    from iimkg.plans.turtle import plan_turtle

    text = plan_turtle(conversion)
    prefixes = text.index("\n@prefix ")
    return text[prefixes:]


@contextmanager
def _plans_output(output: Path | None, *, strict: bool) -> Iterator[Callable[[str], Any]]:
    """Where the plans go as they are made: a file that appears whole or not at all, standard output, or (for
    --strict to standard output, which may still be refused) a temporary file copied out at the end."""
    from iimkg.core.atomic import open_atomically

    if output is not None:
        with open_atomically(output) as handle:
            yield handle.write
    elif not strict:
        yield sys.stdout.write
    else:
        with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
            yield spool.write
            spool.seek(0)
            shutil.copyfileobj(spool, sys.stdout)


class _NotePrinter:
    """Lists notes on standard error as they come: the first few of each kind (all with ``every``), counted."""

    def __init__(self, *, strict: bool, every: bool) -> None:
        from iimkg.plans.notes import NoteTally

        self.tally = NoteTally()
        self.strict, self.every = strict, every

    def show(self, note: Any) -> None:
        from iimkg.plans.notes import NoteKind

        if self.tally.add(note) or self.every:
            level = "error" if self.strict and note.kind is NoteKind.UNMAPPED else note.severity
            print(f"{note.place}: {level}: {note.text}", file=sys.stderr)

    @property
    def unmapped(self) -> int:
        from iimkg.plans.notes import NoteKind

        return self.tally.counts[NoteKind.UNMAPPED]

    def close(self) -> None:
        """Say how many notes of each kind were counted but not listed."""
        if self.every:
            return
        for kind, count in self.tally.counts.items():
            left = self.tally.left_out(kind)
            if left:
                print(f"iimkg fhir convert: {left:,} more {kind.value} notes not listed ({count:,} in all; "
                      "--all-notes lists every one); the most frequent:", file=sys.stderr)
                for times, note in self.tally.most_frequent(kind):
                    print(f"  {times:,} x {note.message} (first: {note.resource} at {note.place})", file=sys.stderr)


class _Progress:
    """A line on standard error, rewritten as reading goes, when standard error is a terminal."""

    def __init__(self) -> None:
        self.shown = sys.stderr.isatty()
        self.written = False

    def __call__(self, text: str) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K" + text)
            sys.stderr.flush()
            self.written = True

    def clear(self) -> None:
        if self.written:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.written = False


def _summary(plans: int, resources: int, files: int, notes: _NotePrinter) -> str:
    text = (f"{plans:,} plan{'' if plans == 1 else 's'} from {resources:,} resources in {files} "
            f"file{'' if files == 1 else 's'}")
    counted = notes.tally.counted()
    return text + (f" ({counted})" if counted else "")

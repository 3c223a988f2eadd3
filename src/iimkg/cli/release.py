"""The ``iimkg release`` command: build the release artefacts into a folder (:mod:`iimkg.release.build`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``release`` to the ``iimkg`` command (called by :mod:`iimkg.cli.main`); imports nothing heavy."""
    release = subparsers.add_parser(
        "release", help="build the release artefacts (OWL, Turtle, JSON-LD, N-Triples, base, full, translations, "
                        "SSSOM, FHIR, triplestore files, docs); needs Java",
        description="Build a release of the ontology in DIR (needs Java: HermiT classifies iim-full.owl): iim.owl "
                    "(RDF/XML), iim.ttl, iim.jsonld with context.jsonld, iim.nt, iim-base.owl, iim-full.owl, all in "
                    "English with one label per term; per other language a Babelon table (iim-es.babelon.tsv) and a "
                    "translated edition (iim-es.owl); store/iimkg.nt, store/iimkg.nq and load scripts for a "
                    "triplestore; iim.sssom.tsv, fhir/, docs/index.html, terms.tsv, diff.tsv and CHANGELOG.md "
                    "against the releases committed under releases/, and SHA256SUMS. Same sources, same bytes. The "
                    "folder is built beside DIR and exchanged with it only when every file was written, so a "
                    "failure, Ctrl-C or SIGTERM leaves an earlier release in DIR as it was. A released version never "
                    "changes: a version committed under releases/ is built again only if its terms.tsv (and its "
                    "SHA256SUMS, if committed) come out byte for byte the same, and a new version must be dated "
                    "after the latest release. Exit status: 0 built, 2 nothing written (the message says why), "
                    "130 Ctrl-C, 143 SIGTERM.")
    release.add_argument("--version", metavar="YYYY-MM-DD",
                         help="the release date in the artefacts' version IRIs and owl:versionInfo "
                              "(default: the owl:versionInfo of ontology/iim.ttl, which is not changed); a date "
                              "after the latest release under releases/, or a released one to rebuild it unchanged")
    release.add_argument("--out", required=True, type=Path, metavar="DIR",
                         help="the release folder: new, empty, or an earlier release to replace")
    release.set_defaults(handler=run)


def run(ns: argparse.Namespace) -> int:
    """Build the release and list its files with their sizes on standard output."""
    def progress(step: str) -> None:
        print(f"iimkg release: {step}", file=sys.stderr, flush=True)

    from iimkg.release.build import build_release
    from iimkg.release.publish import ReleaseTerminated

    try:
        summary = build_release(ns.out, version=ns.version, progress=progress if sys.stderr.isatty() else None)
    except ReleaseTerminated:
        print(f"iimkg: release stopped by SIGTERM; {ns.out} is as it was", file=sys.stderr)
        return 143
    print(f"release {summary.version} written to {ns.out} in {summary.seconds:.1f} s:")
    width = max(len(name) for name in summary.sizes)
    for name, size in summary.sizes.items():
        print(f"  {name:<{width}}  {size:>9,} bytes")
    for warning in summary.warnings:
        print(f"iimkg: warning: {warning}", file=sys.stderr)
    return 0

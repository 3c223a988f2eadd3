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
        "release", help="build the release artefacts (OWL, Turtle, JSON-LD, N-Triples, base, full, SSSOM, docs)",
        description="Build a release of the ontology in DIR: iim.owl (RDF/XML), iim.ttl, iim.jsonld with "
                    "context.jsonld, iim.nt, iim-base.owl, iim-full.owl (classified by HermiT; needs Java), "
                    "iim.sssom.tsv, docs/index.html, terms.tsv, diff.tsv and CHANGELOG.md against the releases "
                    "committed under releases/, and SHA256SUMS. Same sources, same bytes. The folder is built "
                    "beside DIR and moved into place only when every file was written, so a failure leaves an "
                    "earlier release in DIR as it was. Exit status: 0 built, 2 nothing written.")
    release.add_argument("--version", metavar="YYYY-MM-DD",
                         help="the release date in the artefacts' version IRIs and owl:versionInfo "
                              "(default: the owl:versionInfo of ontology/iim.ttl, which is not changed)")
    release.add_argument("--out", required=True, type=Path, metavar="DIR",
                         help="the release folder: new, empty, or an earlier release to replace")
    release.set_defaults(handler=run)


def run(ns: argparse.Namespace) -> int:
    """Build the release and list its files with their sizes on standard output."""
    def progress(step: str) -> None:
        print(f"iimkg release: {step}", file=sys.stderr, flush=True)

    from iimkg.release.build import build_release

    summary = build_release(ns.out, version=ns.version, progress=progress if sys.stderr.isatty() else None)
    print(f"release {summary.version} written to {ns.out} in {summary.seconds:.1f} s:")
    width = max(len(name) for name in summary.sizes)
    for name, size in summary.sizes.items():
        print(f"  {name:<{width}}  {size:>9,} bytes")
    for warning in summary.warnings:
        print(f"iimkg: warning: {warning}", file=sys.stderr)
    return 0

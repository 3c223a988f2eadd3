"""``iimkg release``: build every release artefact from the shipped ontology, byte for byte the same each time,
and put the folder in place only when all of them were built."""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ARTEFACTS", "ReleaseFiles", "ReleaseSummary", "build_release", "register", "release_files"]

# The ontology artefacts, with the ontology IRI and dated version IRI each one declares (ODK's convention).
ARTEFACTS = ("iim.owl", "iim.ttl", "iim.jsonld", "iim.nt", "iim-base.owl", "iim-full.owl")
CHECKSUMS = "SHA256SUMS"
DOWNLOADS = (*ARTEFACTS, "context.jsonld", "iim.sssom.tsv", "terms.tsv", "diff.tsv", "CHANGELOG.md", CHECKSUMS)

Progress = Callable[[str], None]


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

    summary = build_release(ns.out, version=ns.version, progress=progress if sys.stderr.isatty() else None)
    print(f"release {summary.version} written to {ns.out} in {summary.seconds:.1f} s:")
    width = max(len(name) for name in summary.sizes)
    for name, size in summary.sizes.items():
        print(f"  {name:<{width}}  {size:>9,} bytes")
    for warning in summary.warnings:
        print(f"iimkg: warning: {warning}", file=sys.stderr)
    return 0


@dataclass
class ReleaseSummary:
    """What :func:`build_release` wrote: the version, each file's size in bytes, and how long it took."""

    version: str
    sizes: dict[str, int]
    seconds: float
    inferred_axioms: int
    warnings: list[str] = field(default_factory=list)


@dataclass
class ReleaseFiles:
    """Every file of a release, in memory, by its path inside the release folder."""

    version: str
    files: dict[str, bytes]
    warnings: list[str]
    inferred_axioms: int


def release_files(*, version: str | None = None, progress: Progress | None = None) -> ReleaseFiles:
    """Build every file of a release in memory; nothing is written.

    :raises ReleaseError: if the sources cannot be released (a released IRI is gone, HermiT finds the
        ontology inconsistent, a cross-reference has an unknown prefix, the version is not a date …).
    :raises ReasonerUnavailableError: if Java is missing (HermiT classifies ``iim-full.owl``).
    """
    import pyoxigraph as ox

    from iimkg.core.resources import data_dir, ontology_file
    from iimkg.graph.loading import shipped_quads
    from iimkg.release import serializers
    from iimkg.release.changes import changelog, check_stability, diff_terms, diff_tsv, release_history, terms_tsv
    from iimkg.release.classify import inferred_subclass_axioms
    from iimkg.release.graph import (
        DCTERMS,
        OWL_VERSION_INFO,
        ReleaseGraph,
        base_subset,
        canonical_triples,
        check_version,
        ontology_iri_of,
        version_iri_of,
        with_header,
    )
    from iimkg.release.htmldocs import documentation_page
    from iimkg.release.mapping_set import comment_labels, mapping_set_tsv, mappings

    step = progress or (lambda _: None)
    step("reading ontology/iim.ttl")
    source = canonical_triples(ox.Triple(q.subject, q.predicate, q.object) for q in shipped_quads())
    version = check_version(version or ReleaseGraph(source).header_value(OWL_VERSION_INFO))
    graph = ReleaseGraph(with_header(source, name="iim.owl", version=version))
    terms = graph.terms

    step("checking that every released IRI is still there")
    history = release_history(data_dir() / "releases")
    check_stability(terms, history)
    warnings = []
    same_version = next((r for r in history if r.version == version), None)
    changed = diff_terms(same_version.terms, terms) if same_version is not None else None
    if changed is not None and not changed.empty:
        warnings.append(f"the terms of this build differ from releases/{version}/terms.tsv ({len(changed.added)} "
                        f"added, {len(changed.relabelled)} relabelled, {len(changed.deprecated)} deprecated), but a "
                        "released version never changes: date a new release with --version, or in the header of "
                        "ontology/iim.ttl")

    files: dict[str, bytes] = {}
    title = graph.header_value(ox.NamedNode(DCTERMS + "title")) or "IIM treatment knowledge graph"

    def note(name: str) -> str:
        return (f"{name}: {title}, release {version} ({version_iri_of(version, name)}).\n"
                "Generated by `iimkg release` from ontology/iim.ttl: edit that file, not this one.")

    step("writing iim.owl, iim.ttl, iim.jsonld, iim.nt")
    files["iim.owl"] = serializers.rdfxml(graph.triples, header=ox.NamedNode(ontology_iri_of("iim.owl")))
    files["iim.ttl"] = serializers.turtle(with_header(source, name="iim.ttl", version=version),
                                          header=ox.NamedNode(ontology_iri_of("iim.ttl")), comment=note("iim.ttl"))
    files["iim.jsonld"] = serializers.jsonld(with_header(source, name="iim.jsonld", version=version))
    files["context.jsonld"] = _json({"@context": serializers.context()})
    files["iim.nt"] = serializers.ntriples(with_header(source, name="iim.nt", version=version))

    step("writing iim-base.owl")
    base = base_subset(with_header(source, name="iim-base.owl", version=version))
    files["iim-base.owl"] = serializers.rdfxml(base, header=ox.NamedNode(ontology_iri_of("iim-base.owl")))

    step("classifying with HermiT for iim-full.owl")
    inferred = inferred_subclass_axioms(graph.triples)
    full = with_header([*source, *inferred], name="iim-full.owl", version=version)
    files["iim-full.owl"] = serializers.rdfxml(full, header=ox.NamedNode(ontology_iri_of("iim-full.owl")))

    step("writing iim.sssom.tsv")
    labels = comment_labels(ontology_file().read_text(encoding="utf-8"))
    license_iri = graph.header_value(ox.NamedNode(DCTERMS + "license"))
    files["iim.sssom.tsv"] = mapping_set_tsv(mappings(graph, labels), version=version, license_iri=license_iri,
                                             title=title).encode("utf-8")

    step("writing terms.tsv, diff.tsv, CHANGELOG.md")
    earlier = [r for r in history if r.version < version]
    files["terms.tsv"] = terms_tsv(terms).encode("utf-8")
    files["diff.tsv"] = diff_tsv(diff_terms(earlier[-1].terms if earlier else (), terms)).encode("utf-8")
    files["CHANGELOG.md"] = changelog(version, terms, history).encode("utf-8")

    step("writing docs/index.html")
    files["docs/index.html"] = documentation_page(
        graph, version=version, version_iri=version_iri_of(version, "iim.owl"),
        downloads=DOWNLOADS, external_labels=labels).encode("utf-8")

    files[CHECKSUMS] = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n"
                               for name, data in sorted(files.items())).encode("utf-8")
    return ReleaseFiles(version, dict(sorted(files.items())), warnings, len(inferred))


def build_release(out: Path, *, version: str | None = None, progress: Progress | None = None) -> ReleaseSummary:
    """Build a release in ``out``: either every file is there, or ``out`` is as it was before.

    The files are written to a temporary folder beside ``out`` and moved into place at the end; an earlier
    release in ``out`` is replaced only then. A folder that holds anything but an earlier release is refused.

    :param version: the release date (``YYYY-MM-DD``); default: the ``owl:versionInfo`` of the shipped ontology.
    :param progress: called with the name of each step (the CLI prints them when standard error is a terminal).
    :raises OutputError: if ``out`` cannot be written (its folder is missing, it is a file, it holds other files).
    :raises ReleaseError: if the sources cannot be released (see :func:`release_files`).
    :raises ReasonerUnavailableError: if Java is missing.
    """
    from iimkg.core.errors import OutputError

    start = time.perf_counter()
    out = Path(out)
    parent = out.parent if str(out.parent) else Path(".")
    _check_target(out, parent)
    built = release_files(version=version, progress=progress)
    if progress:
        progress(f"moving the release into {out}")
    try:
        temporary = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
    except OSError as error:
        raise OutputError(f"can't write the release beside {out}: {error.strerror or error}") from None
    try:
        for name, data in built.files.items():
            path = temporary / name
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        for folder in [temporary, *(p for p in temporary.rglob("*") if p.is_dir())]:
            folder.chmod(0o755)
        _swap_into_place(temporary, out)
    except OSError as error:
        raise OutputError(f"can't write the release to {out}: {error.strerror or error}; nothing was changed there") \
            from None
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)
    return ReleaseSummary(built.version, {name: len(data) for name, data in built.files.items()},
                          time.perf_counter() - start, built.inferred_axioms, built.warnings)


def _check_target(out: Path, parent: Path) -> None:
    from iimkg.core.errors import OutputError

    if not parent.is_dir():
        raise OutputError(f"can't write the release to {out} because the folder {parent} does not exist")
    if out.exists() and not out.is_dir():
        raise OutputError(f"can't write the release to {out} because it is a file; name a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / CHECKSUMS).is_file():
        raise OutputError(f"{out} holds files that are not an iimkg release (it has no {CHECKSUMS}); "
                          "name a new or empty folder, or an earlier release to replace")


def _swap_into_place(temporary: Path, out: Path) -> None:
    """Rename ``temporary`` to ``out``; an earlier ``out`` is moved aside first and deleted only afterwards."""
    if not out.exists():
        os.rename(temporary, out)
        return
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()
        os.rename(temporary, out)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    aside.rmdir()
    os.rename(out, aside)
    try:
        os.rename(temporary, out)
    except OSError:
        os.rename(aside, out)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _json(value: object) -> bytes:
    import json

    return (json.dumps(value, ensure_ascii=False, indent=1) + "\n").encode("utf-8")

"""What changed between releases: the term list each release commits, the diff against the last one, the changelog.

Each release commits its term list (``releases/YYYY-MM-DD/terms.tsv``): the IRIs other ontologies may now
point at. A released IRI is never deleted, only deprecated (``owl:deprecated true`` with
``obo:IAO_0100001`` "term replaced by"), and :func:`check_stability` refuses a release that breaks that.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from iimkg.core.prefixes import compress
from iimkg.release.graph import KIND_ORDER, ReleaseError, Term, check_version, version_iri_of

__all__ = [
    "Release",
    "TermDiff",
    "changelog",
    "check_checksums",
    "check_release_date",
    "check_stability",
    "diff_terms",
    "diff_tsv",
    "plural",
    "previous_release",
    "read_terms",
    "release_history",
    "terms_tsv",
]

TERMS_FILE = "terms.tsv"
CHECKSUMS_FILE = "SHA256SUMS"
TERM_COLUMNS = ("iri", "kind", "label", "deprecated", "replaced_by")


def terms_tsv(terms: Sequence[Term]) -> str:
    """The term list of a release: one row per IRI, sorted, the columns of :data:`TERM_COLUMNS`."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(TERM_COLUMNS)
    for term in sorted(terms, key=lambda t: t.iri):
        writer.writerow((term.iri, term.kind, term.label, "true" if term.deprecated else "false", term.replaced_by))
    return out.getvalue()


def read_terms(path: Path) -> list[Term]:
    """Read a term list written by :func:`terms_tsv`.

    :raises ReleaseError: if the file is missing its header or a row has the wrong number of columns.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ReleaseError(f"{path}: can't read the term list: {error.strerror or error}") from None
    rows = list(csv.reader(io.StringIO(text), delimiter="\t"))
    if not rows or tuple(rows[0]) != TERM_COLUMNS:
        raise ReleaseError(f"{path}:1: a term list starts with the columns {', '.join(TERM_COLUMNS)}")
    terms = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(TERM_COLUMNS):
            raise ReleaseError(f"{path}:{number}: expected {len(TERM_COLUMNS)} tab-separated columns, found {len(row)}")
        terms.append(Term(row[0], row[1], row[2], row[3] == "true", row[4]))
    return terms


@dataclass(frozen=True)
class Release:
    """A release committed under ``releases/``: its date and the terms it published."""

    version: str
    terms: tuple[Term, ...]


def release_history(folder: Path) -> list[Release]:
    """The releases committed in ``folder`` (one sub-folder per date holding ``terms.tsv``), oldest first.

    :raises ReleaseError: if ``folder`` is missing (it ships with a source checkout, not with the wheel), or a
        dated sub-folder has no readable term list.
    """
    if not folder.is_dir():
        raise ReleaseError(f"can't find the release history {folder}: it is the releases/ folder of a source "
                           "checkout; run `iimkg release` from a checkout (pip install -e .)")
    found = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        try:
            check_version(sub.name)
        except ReleaseError:
            continue
        found.append(Release(sub.name, tuple(read_terms(sub / TERMS_FILE))))
    return found


@dataclass
class TermDiff:
    """Terms added, removed, relabelled (English label) and newly deprecated between two releases."""

    added: list[Term] = field(default_factory=list)
    removed: list[Term] = field(default_factory=list)
    relabelled: list[tuple[Term, Term]] = field(default_factory=list)
    deprecated: list[Term] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.relabelled or self.deprecated)


def diff_terms(old: Sequence[Term], new: Sequence[Term]) -> TermDiff:
    before = {t.iri: t for t in old}
    after = {t.iri: t for t in new}
    diff = TermDiff()
    diff.added = [after[i] for i in sorted(after.keys() - before.keys())]
    diff.removed = [before[i] for i in sorted(before.keys() - after.keys())]
    for iri in sorted(before.keys() & after.keys()):
        if before[iri].label != after[iri].label:
            diff.relabelled.append((before[iri], after[iri]))
        if after[iri].deprecated and not before[iri].deprecated:
            diff.deprecated.append(after[iri])
    return diff


def diff_tsv(diff: TermDiff) -> str:
    """The diff as TSV for programs: change, IRI, kind, label before, label after, replaced by."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow(("change", "iri", "kind", "old_label", "new_label", "replaced_by"))
    for term in diff.added:
        writer.writerow(("added", term.iri, term.kind, "", term.label, ""))
    for term in diff.removed:
        writer.writerow(("removed", term.iri, term.kind, term.label, "", ""))
    for old, new in diff.relabelled:
        writer.writerow(("relabelled", new.iri, new.kind, old.label, new.label, ""))
    for term in diff.deprecated:
        writer.writerow(("deprecated", term.iri, term.kind, term.label, term.label, term.replaced_by))
    return out.getvalue()


def check_stability(terms: Sequence[Term], history: Sequence[Release]) -> None:
    """Refuse a release that drops a released IRI or deprecates a term without saying what replaces it.

    :raises ReleaseError: naming the IRIs and the fix (deprecate, don't delete; add ``obo:IAO_0100001``).
    """
    current = {t.iri for t in terms}
    gone: dict[str, str] = {}
    for release in history:
        for term in release.terms:
            if term.iri not in current:
                gone.setdefault(term.iri, release.version)
    if gone:
        listed = "; ".join(f"{iri} (released {version})" for iri, version in sorted(gone.items())[:10])
        raise ReleaseError(f"{len(gone)} released IRIs are gone from the ontology: {listed}. A released term is "
                           "never deleted: put it back with owl:deprecated true and obo:IAO_0100001 (term replaced "
                           "by); see docs/releasing.md")
    missing = sorted(t.iri for t in terms if t.deprecated and not t.replaced_by)
    if missing:
        raise ReleaseError(f"deprecated terms need obo:IAO_0100001 (term replaced by) naming their replacement: "
                           f"{', '.join(missing[:10])}; see docs/releasing.md")
    live = sorted(t.iri for t in terms if t.replaced_by and not t.deprecated)
    if live:
        raise ReleaseError(f"terms with obo:IAO_0100001 (term replaced by) must be deprecated (owl:deprecated true): "
                           f"{', '.join(live[:10])}")


def previous_release(version: str, history: Sequence[Release]) -> Release | None:
    """The release a build of ``version`` is compared with: the latest committed release dated before it.

    A rebuild of a committed release is compared with the release before it, as that release was when it was cut,
    so the rebuild gives the same ``diff.tsv`` and ``CHANGELOG.md``.
    """
    earlier = [r for r in history if r.version < version]
    return earlier[-1] if earlier else None


def check_release_date(version: str, terms: Sequence[Term], history: Sequence[Release], folder: Path, *,
                       shown: str = "releases", origin: str = "") -> None:
    """Refuse to build ``version`` unless it is new and dated after every committed release, or a rebuild of the
    release committed under that date (its ``terms.tsv`` byte for byte): a published version never changes.

    :param folder: the committed releases (``releases/``); ``shown`` is how messages name it.
    :param origin: where the version came from, for the message (`` (the owl:versionInfo of ontology/iim.ttl)``).
    :raises ReleaseError: in one line: which committed file disagrees, what differs, and how to date a new release.
    """
    same = next((r for r in history if r.version == version), None)
    if same is not None:
        committed = folder / version / TERMS_FILE
        try:
            unchanged = committed.read_bytes() == terms_tsv(terms).encode("utf-8")
        except OSError as error:
            raise ReleaseError(f"{committed}: can't read the term list: {error.strerror or error}") from None
        if not unchanged:
            raise ReleaseError(f"can't release {version}{origin}: {shown}/{version}/{TERMS_FILE} published that "
                               f"version with other terms (this build: {_differences(same.terms, terms)}), and a "
                               f"released version never changes; {_redate(history)}")
        return
    latest = max((r.version for r in history), default="")
    if version < latest:
        raise ReleaseError(f"can't release {version}{origin}: it is older than the latest release {latest} "
                           f"({shown}/{latest}/{TERMS_FILE}), and versions only go forward; {_redate(history)}")


def check_checksums(version: str, checksums: bytes, history: Sequence[Release], folder: Path, *,
                    shown: str = "releases", origin: str = "") -> None:
    """Refuse a rebuild of ``version`` whose files are not byte for byte the ones whose ``SHA256SUMS`` was committed
    with the release (``releases/YYYY-MM-DD/SHA256SUMS``); without that file there is nothing to compare.

    :raises ReleaseError: naming the files that differ.
    """
    committed = folder / version / CHECKSUMS_FILE
    if not committed.is_file():
        return
    try:
        published = _sums(committed.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ReleaseError(f"{committed}: can't read the checksums: {getattr(error, 'strerror', None) or error}"
                           ) from None
    built = _sums(checksums.decode("utf-8"))
    differ = sorted(name for name in published.keys() | built.keys() if published.get(name) != built.get(name))
    if differ:
        listed = ", ".join(differ[:5]) + (f" and {len(differ) - 5} more" if len(differ) > 5 else "")
        raise ReleaseError(f"can't release {version}{origin}: {shown}/{version}/{CHECKSUMS_FILE} published that "
                           f"version with other bytes ({_files_differ(len(differ))}: {listed}), and a released version "
                           f"never changes; {_redate(history)}")


def _files_differ(count: int) -> str:
    return "1 file differs" if count == 1 else f"{count} files differ"


def _sums(text: str) -> dict[str, str]:
    return {name: digest for digest, _, name in (line.partition("  ") for line in text.splitlines() if line)}


def _differences(old: Sequence[Term], new: Sequence[Term]) -> str:
    """What a term list changes in a committed one, counted, with the first IRI that changed."""
    diff = diff_terms(old, new)
    before = {t.iri: t for t in old}
    named = {t.iri for t in diff.added} | {t.iri for t in diff.removed} | {n.iri for _, n in diff.relabelled} | {
        t.iri for t in diff.deprecated}
    other = sorted(t.iri for t in new if t.iri in before and t.iri not in named and before[t.iri] != t)
    counts = [(len(diff.added), "added", diff.added[0].iri if diff.added else ""),
              (len(diff.removed), "removed", diff.removed[0].iri if diff.removed else ""),
              (len(diff.relabelled), "relabelled", diff.relabelled[0][1].iri if diff.relabelled else ""),
              (len(diff.deprecated), "deprecated", diff.deprecated[0].iri if diff.deprecated else ""),
              (len(other), "with another kind or replacement", other[0] if other else "")]
    found = [(n, what, iri) for n, what, iri in counts if n]
    if not found:
        return "the same terms, written differently"
    first = found[0]
    return ", ".join(f"{n} {what}" for n, what, _ in found) + f"; first {first[1]}: {_curie(first[2])}"


def _redate(history: Sequence[Release]) -> str:
    """How to date a new release: after the latest committed one; today, if that is later."""
    latest = max((r.version for r in history), default="")
    suggested = date.today()
    if latest and suggested.isoformat() <= latest:
        suggested = date.fromisoformat(latest) + timedelta(days=1)
    after = f" after {latest}" if latest else ""
    return (f"date the new release{after} in the header of ontology/iim.ttl (owl:versionIRI and owl:versionInfo) or "
            f"with --version {suggested.isoformat()}")


def _curie(iri: str) -> str:
    return compress(iri) or iri


def _counts(terms: Sequence[Term]) -> str:
    counts = Counter(t.kind for t in terms)
    kinds = [k for k in KIND_ORDER if counts[k]] + sorted(k for k in counts if k not in KIND_ORDER)
    return ", ".join(f"{counts[k]} {k if counts[k] == 1 else plural(k)}" for k in kinds)


def plural(kind: str) -> str:
    """``class`` → ``classes``, ``object property`` → ``object properties``, ``statement`` → ``statements``."""
    if kind.endswith("ss"):
        return kind + "es"
    if kind.endswith("y"):
        return kind[:-1] + "ies"
    return kind + "s"


def _entry(version: str, terms: Sequence[Term], previous: Release | None) -> list[str]:
    lines = [f"## {version}", "", f"Version IRI: <{version_iri_of(version, 'iim.owl')}>. "
             f"{len(terms)} IRIs: {_counts(terms)}.", ""]
    if previous is None:
        lines += ["First release.", ""]
        return lines
    diff = diff_terms(previous.terms, terms)
    lines += [f"Compared with {previous.version}: {len(diff.added)} added, {len(diff.removed)} removed, "
              f"{len(diff.relabelled)} relabelled, {len(diff.deprecated)} deprecated.", ""]

    def shown(term: Term) -> str:
        return f"`{_curie(term.iri)}` {term.label or '(no label)'} ({term.kind})"

    def replaced(term: Term) -> str:
        return ", replaced by " + ", ".join(f"`{_curie(r)}`" for r in term.replaced_by.split())

    for title, items in (("Added", [shown(t) for t in diff.added]),
                         ("Removed", [shown(t) for t in diff.removed]),
                         ("Relabelled", [f"`{_curie(new.iri)}` \"{old.label}\" → \"{new.label}\""
                                         for old, new in diff.relabelled]),
                         ("Deprecated", [shown(t) + replaced(t) for t in diff.deprecated])):
        if items:
            lines += [f"### {title}", "", *(f"- {item}" for item in items), ""]
    return lines


def changelog(version: str, terms: Sequence[Term], history: Sequence[Release]) -> str:
    """The changelog up to ``version``, newest first: this release against the last earlier one, then each
    earlier committed release against the one before it.

    ``history`` may hold ``version`` itself when this is a rebuild of it; its entry is then this release's.

    :raises ReleaseError: if ``history`` holds ``version`` with other terms (a released version never changes).
    """
    same = next((r for r in history if r.version == version), None)
    if same is not None and sorted(same.terms, key=lambda t: t.iri) != sorted(terms, key=lambda t: t.iri):
        raise ReleaseError(f"can't write the changelog of {version}: release {version} was published with other "
                           f"terms ({_differences(same.terms, terms)}), and a released version never changes")
    earlier = [r for r in history if r.version < version]
    lines = ["# Changelog", "", "Terms of the IIM treatment ontology (https://w3id.org/iimkg/) added, removed, "
             "relabelled and deprecated in each release. Generated by `iimkg release` from the term lists "
             "committed under releases/.", ""]
    lines += _entry(version, terms, earlier[-1] if earlier else None)
    for index in range(len(earlier) - 1, -1, -1):
        lines += _entry(earlier[index].version, earlier[index].terms, earlier[index - 1] if index else None)
    return "\n".join(lines).rstrip("\n") + "\n"

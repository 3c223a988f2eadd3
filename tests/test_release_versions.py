"""A released version never changes: `iimkg release` refuses to reissue a committed version with other content, or
to date a release before the latest one, and a rebuild of a committed release gives it back byte for byte.

Two files under one version IRI must never be published (OBO: a versionIRI is immutable; docs/releasing.md).
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from iimkg.cli.main import main
from iimkg.release.build import CHECKSUMS, build_release
from iimkg.release.changes import Release, changelog, read_terms, release_history, terms_tsv
from iimkg.release.graph import ReleaseError, ReleaseGraph, Term, with_header

from conftest import IIM, ROOT

RELEASES = ROOT / "releases"
HISTORY = release_history(RELEASES)
FIRST = HISTORY[0].version
LATEST = HISTORY[-1].version
NEXT = (date.fromisoformat(LATEST) + timedelta(days=1)).isoformat()


def _day_before(version: str) -> str:
    return (date.fromisoformat(version) - timedelta(days=1)).isoformat()


def _needs_java() -> None:
    if shutil.which("java") is None:
        pytest.skip("no `java` on PATH: a release classifies iim-full.owl with HermiT, which needs Java")


def current_terms() -> list[Term]:
    """The terms a release of the shipped ontology publishes, without building one."""
    from iimkg.release.editions import shipped_editions

    editions, version = shipped_editions(NEXT)
    return ReleaseGraph(with_header(editions.english, name="iim.owl", version=version)).terms


def committed(tmp_path: Path, version: str, files: dict[str, bytes]) -> Path:
    """A copy of releases/ with ``files`` committed as the release ``version``."""
    folder = tmp_path / "releases"
    shutil.copytree(RELEASES, folder)
    (folder / version).mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / version / name).write_bytes(data)
    return folder


def nothing_beside(out: Path) -> bool:
    return not out.exists() and not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new release, dated the day after the latest committed one."""
    _needs_java()
    folder = tmp_path_factory.mktemp("versions") / "dist"
    build_release(folder, version=NEXT)
    return folder


# ── refused: a published version with other content, a date before the latest release ──


def test_reissuing_a_committed_version_with_other_terms_exits_2_naming_the_file_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    released = {t.iri for t in HISTORY[0].terms}
    assert {t.iri for t in current_terms()} - released, f"the ontology has terms that release {FIRST} did not have"
    out = tmp_path / "dist"
    assert main(["release", "--out", str(out), "--version", FIRST]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"can't release {FIRST}: releases/{FIRST}/terms.tsv published that version with other terms" in err
    assert " added" in err and "a released version never changes" in err and "--version " in err
    assert nothing_beside(out)


def test_the_default_version_from_the_ontology_header_is_refused_too_and_says_where_it_came_from(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from iimkg.release.editions import shipped_editions

    _, header = shipped_editions()
    terms = current_terms()
    relabelled = [Term(t.iri, t.kind, t.label + " (as released)", t.deprecated, t.replaced_by) if i == 0 else t
                  for i, t in enumerate(sorted(terms, key=lambda t: t.iri))]
    history = tmp_path / "releases"
    (history / header).mkdir(parents=True)
    (history / header / "terms.tsv").write_text(terms_tsv(relabelled), encoding="utf-8")
    # refused before HermiT runs: even without Java the message is about the version
    monkeypatch.setattr("iimkg.graph.reason.shutil.which", lambda name: None)
    out = tmp_path / "dist"
    with pytest.raises(ReleaseError) as caught:
        build_release(out, releases=history)
    message = str(caught.value)
    assert f"can't release {header} (the owl:versionInfo of ontology/iim.ttl): {history}/{header}/terms.tsv" in message
    assert "this build: 1 relabelled; first relabelled: " in message
    assert nothing_beside(out)


def test_a_version_dated_before_the_latest_release_is_refused(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dist"
    older = _day_before(FIRST)
    assert main(["release", "--out", str(out), "--version", older]) == 2
    err = capsys.readouterr().err
    assert f"can't release {older}: it is older than the latest release {LATEST} (releases/{LATEST}/terms.tsv)" in err
    assert nothing_beside(out)


def test_the_changelog_refuses_a_committed_version_with_other_terms() -> None:
    then = (Term(IIM + "IIM_0000004", "class", "clinically amyopathic dermatomyositis", False, ""),)
    now = [*then, Term(IIM + "IIM_0000016", "class", "cancer-associated myositis", False, "")]
    with pytest.raises(ReleaseError, match="1 added; first added: iim:IIM_0000016"):
        changelog("2026-11-25", now, [Release("2026-11-25", then)])


# ── a rebuild of a committed release is that release ──


def test_a_rebuild_is_compared_with_the_release_before_it_as_its_release_was() -> None:
    first = (Term(IIM + "IIM_0000004", "class", "clinically amyopathic dermatomyositis", False, ""),)
    second = (*first, Term(IIM + "IIM_0000016", "class", "cancer-associated myositis", False, ""))
    history = [Release("2026-11-25", first), Release("2026-12-01", second)]
    text = changelog("2026-12-01", list(second), history)
    assert text == changelog("2026-12-01", list(second), history[:1])
    assert text.count("## 2026-12-01") == 1
    assert "Compared with 2026-11-25: 1 added, 0 removed, 0 relabelled, 0 deprecated." in text


@pytest.mark.slow
def test_a_new_release_is_compared_with_the_latest_committed_release(fresh: Path) -> None:
    latest = {t.iri for t in HISTORY[-1].terms}
    added = [line.split("\t")[1] for line in (fresh / "diff.tsv").read_text(encoding="utf-8").splitlines()[1:]
             if line.startswith("added\t")]
    assert added and not latest & set(added)
    text = (fresh / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {NEXT}" in text and f"Compared with {LATEST}: {len(added)} added" in text
    assert text.index(f"## {NEXT}") < text.index(f"## {LATEST}")


@pytest.mark.slow
def test_rebuilding_a_committed_release_gives_the_same_bytes(fresh: Path, tmp_path: Path) -> None:
    history = committed(tmp_path, NEXT, {"terms.tsv": (fresh / "terms.tsv").read_bytes(),
                                         CHECKSUMS: (fresh / CHECKSUMS).read_bytes()})
    assert read_terms(history / NEXT / "terms.tsv")
    again = tmp_path / "again"
    assert build_release(again, version=NEXT, releases=history).version == NEXT
    names = sorted(str(p.relative_to(fresh)) for p in fresh.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(again)) for p in again.rglob("*") if p.is_file())
    for name in names:
        assert (again / name).read_bytes() == (fresh / name).read_bytes(), f"{name} differs in the rebuild"


@pytest.mark.slow
def test_a_rebuild_with_the_same_terms_but_other_files_is_refused_naming_them(fresh: Path, tmp_path: Path) -> None:
    sums = (fresh / CHECKSUMS).read_text(encoding="utf-8").splitlines()
    edited = [("0" * 64 + line[64:]) if line.endswith("  iim.owl") else line for line in sums]
    assert edited != sums
    history = committed(tmp_path, NEXT, {"terms.tsv": (fresh / "terms.tsv").read_bytes(),
                                         CHECKSUMS: ("\n".join(edited) + "\n").encode("utf-8")})
    out = tmp_path / "dist"
    with pytest.raises(ReleaseError, match=rf"can't release {NEXT}: .*/{NEXT}/SHA256SUMS published that version "
                                           r"with other bytes \(1 file differs: iim\.owl\)"):
        build_release(out, version=NEXT, releases=history)
    assert nothing_beside(out)

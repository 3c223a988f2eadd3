"""Releases others can link to: every artefact reloads as the same graph, consumers read them, IRIs stay and resolve."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.compare import isomorphic

from iimkg.cli.main import main
from iimkg.core.errors import OutputError
from iimkg.core.prefixes import expand
from iimkg.graph.loading import parse_rdf_file, shipped_quads
from iimkg.graph.mappings import mapping_quads, read_mappings
from iimkg.release.build import ARTEFACTS, CHECKSUMS, ReleaseSummary, build_release
from iimkg.release.changes import Release, changelog, check_stability, diff_terms, diff_tsv, read_terms, release_history
from iimkg.release.editions import label_sources, split_languages
from iimkg.release.graph import ReleaseError, ReleaseGraph, Term, base_subset, canonical_triples, with_header
from iimkg.release.mapping_set import mapping_set_tsv, mappings
from iimkg.release.publish import locked, recover
from iimkg.release.store import shipped_store_files

from conftest import IIM, RESOURCES, ROOT

OWL = rdflib.Namespace("http://www.w3.org/2002/07/owl#")
RDFS = rdflib.RDFS
DCTERMS = rdflib.DCTERMS
SKOS_EXACT_MATCH = rdflib.URIRef("http://www.w3.org/2004/02/skos/core#exactMatch")
RELEASES = ROOT / "releases"
HTACCESS = ROOT / "w3id" / ".htaccess"
FORMATS = {"iim.owl": "xml", "iim.ttl": "turtle", "iim.jsonld": "json-ld", "iim.nt": "nt",
           "iim-base.owl": "xml", "iim-full.owl": "xml"}
NORMALISED_ONTOLOGY = rdflib.URIRef(IIM + "iim.owl")
# A released version never changes, and the header of ontology/iim.ttl may still name the last release while the
# ontology has moved on: the builds here are new releases, dated after the latest committed one.
_LATEST = date.fromisoformat(release_history(RELEASES)[-1].version)
NEXT_VERSION = (_LATEST + timedelta(days=1)).isoformat()
LATER_VERSION = (_LATEST + timedelta(days=2)).isoformat()
# rdflib's own JSON-LD parser still builds a ConjunctiveGraph internally; the warning is about rdflib, not us.
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")


@dataclass
class Built:
    folder: Path
    summary: ReleaseSummary


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    if shutil.which("java") is None:
        pytest.skip("no `java` on PATH: a release classifies iim-full.owl with HermiT, which needs Java")
    folder = tmp_path_factory.mktemp("release") / "dist"
    return Built(folder, build_release(folder, version=NEXT_VERSION))


def shipped_triples() -> list[ox.Triple]:
    return [ox.Triple(q.subject, q.predicate, q.object) for q in shipped_quads()]


def normalised(graph: rdflib.Graph) -> rdflib.Graph:
    """The graph without the dated header values and with one ontology IRI, so artefacts compare with the source."""
    out = rdflib.Graph()
    ontologies = set(graph.subjects(rdflib.RDF.type, OWL.Ontology))
    assert len(ontologies) == 1, f"expected one owl:Ontology, found {ontologies}"
    for s, p, o in graph:
        if s in ontologies:
            if p in (OWL.versionIRI, OWL.versionInfo):
                continue
            s = NORMALISED_ONTOLOGY
        out.add((s, p, o))
    return out


def source_graph() -> rdflib.Graph:
    """The shipped ontology as this process read it (and released it), even if the file is edited meanwhile."""
    graph = rdflib.Graph()
    for q in shipped_quads():
        graph.add((_rdflib(q.subject), _rdflib(q.predicate), _rdflib(q.object)))
    return normalised(graph)


def english_graph() -> rdflib.Graph:
    """The shipped ontology as the English artefacts carry it: values in other languages are in the Babelon
    tables instead (test_the_english_artefacts_and_the_translation_tables_give_back_the_source)."""
    graph = source_graph()
    for s, p, o in list(graph):
        if isinstance(o, rdflib.Literal) and o.language and not o.language.lower().startswith("en"):
            graph.remove((s, p, o))
    return graph


def without_source_labels(artefact: rdflib.Graph) -> rdflib.Graph:
    """The artefact less the labels the release gives bibliographic sources that have none in the source (their
    citation: test_every_source_gets_its_citation_as_its_one_label)."""
    unlabelled = unlabelled_sources()
    for s in unlabelled:
        artefact.remove((s, RDFS.label, None))
    return artefact


def unlabelled_sources() -> set[rdflib.term.Node]:
    source = source_graph()
    return {s for s in source.subjects(rdflib.RDF.type, DCTERMS.BibliographicResource)
            if (s, RDFS.label, None) not in source}


def _rdflib(term: object) -> rdflib.term.Identifier:
    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    assert isinstance(term, ox.Literal)
    if term.language:
        return rdflib.Literal(term.value, lang=term.language)
    if term.datatype.value == str(rdflib.XSD.string):
        return rdflib.Literal(term.value)
    return rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value))


def load_artefact(built: Built, name: str) -> rdflib.Graph:
    return rdflib.Graph().parse(built.folder / name, format=FORMATS[name])


# ── Term stability ──


def test_no_released_iri_disappears_from_the_ontology() -> None:
    history = release_history(RELEASES)
    assert history, f"{RELEASES} holds no released term list: the first release's terms.tsv must be committed"
    current = {q.subject.value for q in shipped_quads() if isinstance(q.subject, ox.NamedNode)}
    gone = {f"{term.iri} (released {release.version})" for release in history for term in release.terms
            if term.iri not in current}
    assert not gone, ("released IRIs are gone from ontology/iim.ttl; never delete a released term, deprecate it "
                      "(owl:deprecated true, obo:IAO_0100001), see docs/releasing.md: " + "; ".join(sorted(gone)))


def test_every_deprecated_term_is_marked_and_says_what_replaces_it() -> None:
    graph = ReleaseGraph(shipped_triples())
    deprecated_values = {q.object for q in shipped_quads() if q.predicate.value == str(OWL.deprecated)}
    assert deprecated_values <= {ox.Literal("true", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#boolean"))}
    for term in graph.terms:
        if term.deprecated:
            assert term.replaced_by, f"{term.iri} is deprecated but has no obo:IAO_0100001 (term replaced by)"
            assert all(r in {t.iri for t in graph.terms} for r in term.replaced_by.split())
        else:
            assert not term.replaced_by, f"{term.iri} has obo:IAO_0100001 but is not owl:deprecated true"


def test_the_last_release_is_a_term_list_the_release_command_wrote() -> None:
    last = sorted(p for p in RELEASES.iterdir() if p.is_dir())[-1]
    terms = read_terms(last / "terms.tsv")
    assert len(terms) > 300 and len({t.iri for t in terms}) == len(terms)
    assert all(t.iri.startswith(IIM) for t in terms)
    assert {"class", "object property", "statement"} <= {t.kind for t in terms}


def test_a_build_that_drops_a_released_iri_is_refused_with_its_name() -> None:
    kept = Term(IIM + "IIM_0000001", "class", "idiopathic inflammatory myopathy", False, "")
    dropped = Term(IIM + "IIM_0000014", "class", "anti-MDA5 dermatomyositis", False, "")
    with pytest.raises(ReleaseError, match=r"IIM_0000014 \(released 2026-11-25\).*deprecated"):
        check_stability([kept], [Release("2026-11-25", (kept, dropped))])


def test_a_deprecated_term_needs_a_replacement_and_a_replacement_needs_deprecation() -> None:
    lone = Term(IIM + "IIM_0000014", "class", "obsolete x", True, "")
    with pytest.raises(ReleaseError, match="IAO_0100001"):
        check_stability([lone], [])
    live = Term(IIM + "IIM_0000014", "class", "x", False, IIM + "IIM_0000004")
    with pytest.raises(ReleaseError, match="must be deprecated"):
        check_stability([live], [])
    done = Term(IIM + "IIM_0000014", "class", "obsolete x", True, IIM + "IIM_0000004")
    check_stability([done], [Release("2026-11-25", (Term(IIM + "IIM_0000014", "class", "x", False, ""),))])


def test_the_changelog_and_diff_list_added_relabelled_and_deprecated_terms() -> None:
    first = (Term(IIM + "IIM_0000004", "class", "clinically amyopathic dermatomyositis", False, ""),
             Term(IIM + "IIM_0000014", "class", "anti-MDA5 dermatomyositis", False, ""))
    now = [first[0], Term(IIM + "IIM_0000014", "class", "obsolete anti-MDA5 dermatomyositis", True,
                          IIM + "IIM_0000004"),
           Term(IIM + "IIM_0000016", "class", "cancer-associated myositis", False, "")]
    diff = diff_terms(first, now)
    assert [t.iri for t in diff.added] == [IIM + "IIM_0000016"]
    assert [(old.label, new.label) for old, new in diff.relabelled] == [
        ("anti-MDA5 dermatomyositis", "obsolete anti-MDA5 dermatomyositis")]
    assert [t.iri for t in diff.deprecated] == [IIM + "IIM_0000014"] and not diff.removed
    rows = diff_tsv(diff).splitlines()
    assert rows[0].split("\t")[0] == "change" and {r.split("\t")[0] for r in rows[1:]} == {
        "added", "relabelled", "deprecated"}
    text = changelog("2026-12-01", now, [Release("2026-11-25", first)])
    assert text.index("## 2026-12-01") < text.index("## 2026-11-25")
    assert "Compared with 2026-11-25: 1 added, 0 removed, 1 relabelled, 1 deprecated." in text
    assert "- `iim:IIM_0000014` obsolete anti-MDA5 dermatomyositis (class), replaced by `iim:IIM_0000004`" in text
    assert "First release." in text.split("## 2026-11-25")[1]


# ── Deterministic, checksummed, atomic ──


def test_blank_node_names_do_not_depend_on_parse_order_or_hash_seed() -> None:
    triples = shipped_triples()
    once = canonical_triples(triples)
    reparsed = [*parse_rdf_file(ROOT / "ontology" / "iim.ttl"),  # new blank node names, mappings first
                *mapping_quads(read_mappings(ROOT / "ontology" / "mappings.sssom.tsv"))]
    again = canonical_triples(ox.Triple(q.subject, q.predicate, q.object) for q in reversed(reparsed))
    assert once == again
    assert len(once) == len(set(triples))
    assert any(isinstance(t.subject, ox.BlankNode) for t in once)


def test_blank_nodes_in_a_cycle_still_get_the_same_names_every_time() -> None:
    p = ox.NamedNode("https://example.org/p")

    def ring() -> list[ox.Triple]:
        a, b = ox.BlankNode(), ox.BlankNode()
        return [ox.Triple(a, p, b), ox.Triple(b, p, a), ox.Triple(ox.NamedNode("https://example.org/s"), p, a)]

    assert canonical_triples(ring()) == canonical_triples(ring())
    assert len(canonical_triples(ring())) == 3


@pytest.mark.slow
def test_two_builds_with_different_hash_seeds_give_byte_identical_files(built: Built, tmp_path: Path) -> None:
    sums = []
    for seed in ("1", "4242"):
        out = tmp_path / f"seed-{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-m", "iimkg.cli.main", "release", "--out", str(out),
                               "--version", NEXT_VERSION], env=env,
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        sums.append((out / CHECKSUMS).read_bytes())
        for name in _files(out):
            assert (out / name).read_bytes() == (built.folder / name).read_bytes(), f"{name} differs (seed {seed})"
    assert sums[0] == sums[1] == (built.folder / CHECKSUMS).read_bytes()


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.slow
def test_the_checksums_cover_every_file_and_match(built: Built) -> None:
    listed = {}
    for line in (built.folder / CHECKSUMS).read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    assert set(listed) == set(_files(built.folder)) - {CHECKSUMS}
    for name, digest in listed.items():
        assert hashlib.sha256((built.folder / name).read_bytes()).hexdigest() == digest, name
    assert set(listed) >= {*ARTEFACTS, "context.jsonld", "iim.sssom.tsv", "docs/index.html", "CHANGELOG.md",
                           "diff.tsv", "terms.tsv"}


@pytest.mark.slow
def test_the_release_lists_the_terms_the_last_committed_release_lists(built: Built) -> None:
    built_terms = {t.iri for t in read_terms(built.folder / "terms.tsv")}
    for release in release_history(RELEASES):
        assert {t.iri for t in release.terms} <= built_terms


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in _files(folder)}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}."))


@pytest.mark.slow
def test_a_refused_build_leaves_the_previous_release_untouched(built: Built, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "dist"
    shutil.copytree(built.folder, out)
    before = _snapshot(out)
    released = IIM + "IIM_0000001"
    kept = tuple(q for q in shipped_quads() if getattr(q.subject, "value", "") != released)
    monkeypatch.setattr("iimkg.graph.loading.shipped_quads", lambda: kept)
    with pytest.raises(ReleaseError, match="IIM_0000001"):
        build_release(out)
    assert _snapshot(out) == before and not _leftovers(out)


@pytest.mark.slow
def test_a_failure_while_moving_into_place_leaves_the_previous_release_and_no_temporary_folder(
        built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "dist"
    shutil.copytree(built.folder, out)
    before = _snapshot(out)

    def fail(temporary: Path, target: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("iimkg.release.publish._swap_into_place", fail)
    with pytest.raises(OutputError, match="No space left on device; nothing was changed"):
        build_release(out, version=LATER_VERSION)
    assert _snapshot(out) == before and not _leftovers(out)


@pytest.mark.slow
def test_a_new_release_replaces_an_earlier_one_whole(built: Built, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    shutil.copytree(built.folder, out)
    (out / "docs" / "stale.html").write_text("from an earlier release\n")
    build_release(out, version=LATER_VERSION)
    assert not (out / "docs" / "stale.html").exists() and not _leftovers(out)
    assert f"releases/{LATER_VERSION}/iim.owl" in (out / "iim.owl").read_text(encoding="utf-8")


# A child process that builds a release and stops at one moment of putting it in place (``point``), so that the
# test can kill it there.
_PAUSING_RELEASE = """
import sys, time
import iimkg.release.publish as publish

def pause(*args):
    print("paused", flush=True)
    time.sleep(600)

point = sys.argv[2]
if point == "between-renames":  # a system without renameat2: the old release is aside, the new one not yet in
    publish._exchange = lambda first, second: False
    publish._put_in_place = pause
elif point == "after-exchange":  # the new release is in place, the old one not yet deleted
    publish._discard = pause
elif point == "written":  # every file written in the temporary folder, nothing moved yet
    write = publish._write
    publish._write = lambda files, folder: (write(files, folder), pause())
from iimkg.cli.main import main
sys.exit(main(["release", "--out", sys.argv[1], "--version", sys.argv[3]]))
"""


def _release_stopped_at(out: Path, point: str, stop: signal.Signals) -> int:
    """Run a release into ``out`` that pauses at ``point``, send it ``stop`` there, and return its exit status."""
    child = subprocess.Popen([sys.executable, "-c", _PAUSING_RELEASE, str(out), point, LATER_VERSION],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if line != "paused\n":
            child.kill()
            _, err = child.communicate()
            raise AssertionError(f"the release did not reach {point}: {err}")
        child.send_signal(stop)
        return child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def _whole(folder: Path) -> str:
    """The version of the release in ``folder``, after checking every file against its SHA256SUMS."""
    listed = dict(reversed(line.split("  ", 1)) for line in (folder / CHECKSUMS).read_text().splitlines())
    assert set(listed) == set(_files(folder)) - {CHECKSUMS}, "files are missing or extra"
    for name, digest in listed.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, f"{name} is not whole"
    return re.search(r"releases/([0-9-]{10})/iim\.owl", (folder / "iim.owl").read_text(encoding="utf-8")).group(1)  # type: ignore[union-attr]


@pytest.mark.slow
def test_a_release_killed_after_the_exchange_leaves_the_new_release_whole_and_the_next_one_cleans_up(
        built: Built, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    shutil.copytree(built.folder, out)
    assert _release_stopped_at(out, "after-exchange", signal.SIGKILL) == -signal.SIGKILL
    assert _whole(out) == LATER_VERSION, "dist/ is the new release, whole"
    assert _leftovers(out), "the old release was still to be deleted"
    recover(out)
    assert not _leftovers(out) and _whole(out) == LATER_VERSION


@pytest.mark.slow
def test_a_release_killed_between_the_two_renames_is_recovered_by_the_next_release(
        built: Built, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    shutil.copytree(built.folder, out)
    before = _snapshot(out)
    assert _release_stopped_at(out, "between-renames", signal.SIGKILL) == -signal.SIGKILL
    aside = out.parent / ".dist.old"
    assert not out.exists() and _snapshot(aside) == before, "the old release waits whole beside dist/"
    recover(out)
    assert _snapshot(out) == before and not _leftovers(out), "recovery puts the old release back"
    shutil.rmtree(out)
    shutil.copytree(built.folder, out)
    assert _release_stopped_at(out, "between-renames", signal.SIGKILL) == -signal.SIGKILL
    assert main(["release", "--out", str(out), "--version", LATER_VERSION]) == 0
    assert _whole(out) == LATER_VERSION and not _leftovers(out)


@pytest.mark.slow
def test_sigterm_while_writing_leaves_the_old_release_and_no_temporary_folder(built: Built, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    shutil.copytree(built.folder, out)
    before = _snapshot(out)
    assert _release_stopped_at(out, "written", signal.SIGTERM) == 143
    assert _snapshot(out) == before and not _leftovers(out)


def test_recovery_removes_temporary_folders_and_keeps_a_release_in_place(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    out.mkdir()
    (out / CHECKSUMS).write_text("")
    (tmp_path / ".dist.tmp-abc").mkdir()
    (tmp_path / ".dist.tmp-abc" / "iim.owl").write_text("half")
    (tmp_path / ".dist.old").mkdir()
    (tmp_path / ".other.tmp-abc").mkdir()
    recover(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.tmp-abc", "dist"]
    assert (out / CHECKSUMS).exists()


def test_two_releases_into_one_folder_do_not_interleave(tmp_path: Path) -> None:
    with locked(tmp_path / "dist"), pytest.raises(OutputError, match="another iimkg release is writing"):
        build_release(tmp_path / "dist")


@pytest.mark.parametrize(("arguments", "message"), [
    (["--version", "2026-13-40"], "is not a calendar date"),
    (["--version", "25/11/2026"], "is not a date of the form YYYY-MM-DD"),
])
def test_a_bad_version_exits_2_with_a_message_and_writes_nothing(arguments: list[str], message: str, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["release", *arguments, "--out", str(tmp_path / "dist")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_folder_with_other_files_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    assert main(["release", "--out", str(tmp_path)]) == 2
    assert "holds files that are not an iimkg release" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_missing_parent_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["release", "--out", str(tmp_path / "no" / "such" / "dist")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_without_java_the_release_says_what_to_install_and_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("iimkg.graph.reason.shutil.which", lambda name: None)
    assert main(["release", "--out", str(tmp_path / "dist"), "--version", NEXT_VERSION]) == 2
    err = capsys.readouterr().err
    assert "Java" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_progress_goes_to_stderr_only_on_a_terminal(built: Built, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["release", "--out", str(tmp_path / "dist"), "--version", NEXT_VERSION]) == 0
    out, err = capsys.readouterr()
    assert "iim.owl" in out and "bytes" in out
    assert "iimkg release:" not in err  # pytest's captured stderr is not a terminal


# ── Every artefact is the same graph ──


@pytest.mark.parametrize("name", ["iim.owl", "iim.ttl", "iim.jsonld", "iim.nt"])
@pytest.mark.slow
def test_each_syntax_reloads_in_rdflib_as_the_source_graph(built: Built, name: str) -> None:
    assert isomorphic(without_source_labels(normalised(load_artefact(built, name))), english_graph())


@pytest.mark.parametrize("name", ARTEFACTS)
@pytest.mark.slow
def test_each_artefact_declares_its_own_ontology_iri_and_a_dated_version_iri(built: Built, name: str) -> None:
    graph = load_artefact(built, name)
    version = built.summary.version
    (ontology,) = set(graph.subjects(rdflib.RDF.type, OWL.Ontology))
    assert str(ontology) == IIM + name
    assert [str(v) for v in graph.objects(ontology, OWL.versionIRI)] == [f"{IIM}releases/{version}/{name}"]
    assert [str(v) for v in graph.objects(ontology, OWL.versionInfo)] == [version]


def test_the_version_option_dates_the_artefacts_and_leaves_the_source_alone(tmp_path: Path) -> None:
    source = (ROOT / "ontology" / "iim.ttl").read_bytes()
    triples = with_header(canonical_triples(shipped_triples()), name="iim-base.owl", version="2030-01-31")
    graph = ReleaseGraph(triples)
    assert graph.ontology.value == IIM + "iim-base.owl"
    assert graph.header_value(ox.NamedNode(str(OWL.versionIRI))) == IIM + "releases/2030-01-31/iim-base.owl"
    assert (ROOT / "ontology" / "iim.ttl").read_bytes() == source


@pytest.mark.slow
def test_the_full_artefact_is_the_source_plus_inferred_named_subclass_axioms(built: Built) -> None:
    full = without_source_labels(normalised(load_artefact(built, "iim-full.owl")))
    source = english_graph()
    extra = {(s, p, o) for s, p, o in full if p == RDFS.subClassOf and isinstance(s, rdflib.URIRef)
             and isinstance(o, rdflib.URIRef) and (s, p, o) not in source}
    assert len(extra) == built.summary.inferred_axioms
    for triple in extra:
        full.remove(triple)
    assert isomorphic(full, source)


@pytest.mark.slow
def test_classification_asserts_what_hermit_infers() -> None:
    if shutil.which("java") is None:
        pytest.skip("no `java` on PATH: HermiT needs Java")
    from iimkg.release.classify import inferred_subclass_axioms

    triples = [ox.Triple(q.subject, q.predicate, q.object)
               for q in ox.parse(path=str(RESOURCES / "release" / "defined-class.ttl"), format=ox.RdfFormat.TURTLE)]
    inferred = {(t.subject.value, t.object.value) for t in inferred_subclass_axioms(triples)}
    # Both edges follow from the definition of TreatedDisease; neither is asserted.
    assert inferred == {("https://example.org/t#SteroidTreatedDisease", "https://example.org/t#TreatedDisease"),
                        ("https://example.org/t#TreatedDisease", "https://example.org/t#Disease")}


@pytest.mark.slow
def test_the_base_holds_only_axioms_about_our_terms_and_all_of_them(built: Built) -> None:
    base = [ox.Triple(q.subject, q.predicate, q.object)
            for q in ox.parse(path=str(built.folder / "iim-base.owl"), format=ox.RdfFormat.RDF_XML)]
    base = canonical_triples(base)
    english = split_languages(label_sources(canonical_triples(shipped_triples()))).english
    main_graph = with_header(english, name="iim-base.owl", version=built.summary.version)
    assert set(base) <= set(main_graph), "the base adds triples that the ontology does not have"
    assert set(base) == set(base_subset(main_graph))
    declarations = {str(OWL[d]) for d in ("Class", "ObjectProperty", "DatatypeProperty", "AnnotationProperty")}
    for t in base:
        ours = isinstance(t.subject, ox.BlankNode) or t.subject.value.startswith(IIM)
        declaration = t.predicate.value == str(rdflib.RDF.type) and t.object.value in declarations
        assert ours or declaration, f"the base has an axiom about an external entity: {t}"
    own = {t for t in main_graph if isinstance(t.subject, ox.NamedNode) and t.subject.value.startswith(IIM)}
    assert own <= set(base)
    assert not any(t.subject.value.startswith("https://doi.org/") for t in base if isinstance(t.subject, ox.NamedNode))


# ── Others can use it ──


@pytest.mark.slow
def test_an_ontology_that_imports_iim_owl_loads_in_owlready2_and_hermit_finds_it_consistent(built: Built) -> None:
    owlready2 = pytest.importorskip("owlready2")
    world = _load_importer(owlready2, built, "importer.owl")
    try:
        assert [o.base_iri.rstrip("#") for o in world.get_ontology(
            "https://example.org/myositis-cohort.owl").imported_ontologies] == [IIM + "iim.owl"]
        with contextlib.redirect_stderr(io.StringIO()):
            owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0,
                                           ignore_unsupported_datatypes=True)
        assert [c for c in world.inconsistent_classes() if c.iri != str(OWL.Nothing)] == []
        cohort = world["https://example.org/myositis-cohort.owl#AntiMDA5PositiveDermatomyositis"]
        assert {IIM + "IIM_0000001", IIM + "IIM_0000002", IIM + "Disease"} <= {a.iri for a in cohort.ancestors()}
        assert len([c for c in world.classes() if c.iri.startswith(IIM)]) > 150
    finally:
        world.close()


@pytest.mark.slow
def test_the_imported_axioms_are_in_force_a_disease_that_is_a_drug_is_unsatisfiable(built: Built) -> None:
    owlready2 = pytest.importorskip("owlready2")
    world = _load_importer(owlready2, built, "contradiction.owl")
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0,
                                           ignore_unsupported_datatypes=True)
        assert "https://example.org/contradiction.owl#DiseaseThatIsADrug" in {
            c.iri for c in world.inconsistent_classes()}
    finally:
        world.close()


def _load_importer(owlready2: Any, built: Built, name: str) -> Any:
    """Load a test ontology whose owl:imports of iim.owl is resolved from the release folder, as a catalog would.

    Nothing touches the classes before HermiT runs: owlready2 0.51 then fails on the punned iim:Infection
    (statement S14 names the class as its infection, so HermiT types iim:Infection as an iim:Infection).
    """
    owlready2.onto_path.insert(0, str(built.folder))
    try:
        world = owlready2.World()
        with contextlib.redirect_stderr(io.StringIO()):
            world.get_ontology((RESOURCES / "release" / name).as_uri()).load()
    finally:
        owlready2.onto_path.remove(str(built.folder))
    return world


def test_the_released_mapping_set_is_the_curated_table_with_its_labels() -> None:
    """iim.sssom.tsv is written from ontology/mappings.sssom.tsv, labels included: nothing is scraped or lost."""
    text = mapping_set_tsv(mappings(ROOT / "ontology" / "iim.ttl"), version="2026-11-25",
                           license_iri="https://creativecommons.org/licenses/by/4.0/", title="IIM")
    released = [line.split("\t") for line in text.splitlines() if not line.startswith("#")]
    curated = [line.split("\t") for line in (ROOT / "ontology" / "mappings.sssom.tsv").read_text(encoding="utf-8")
               .splitlines() if not line.startswith("#")]
    keep = [curated[0].index(column) for column in released[0]]
    assert sorted(released[1:]) == sorted([row[i] for i in keep] for row in curated[1:])


def test_a_mapping_set_that_does_not_read_stops_the_release(tmp_path: Path) -> None:
    (tmp_path / "mappings.sssom.tsv").write_text("subject_id\tpredicate_id\n", encoding="utf-8")
    with pytest.raises(ReleaseError, match="object_id"):
        mappings(tmp_path / "iim.ttl")


@pytest.mark.filterwarnings("ignore:::sssom.util")  # sssom-py's own use of deprecated pandas arguments
@pytest.mark.slow
def test_the_sssom_package_reads_and_validates_the_mapping_set(built: Built) -> None:
    pytest.importorskip("sssom", reason="the sssom package (test extra) reads the mapping set as a consumer would")
    from sssom.parsers import parse_sssom_table
    from sssom.validators import DEFAULT_VALIDATION_TYPES, validate

    msdf = parse_sssom_table(built.folder / "iim.sssom.tsv")
    reports = validate(msdf, validation_types=DEFAULT_VALIDATION_TYPES, fail_on_error=True)
    assert all(not report.results for report in reports.values())
    assert msdf.metadata["mapping_set_id"] == IIM + "iim.sssom.tsv"
    assert msdf.metadata["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert msdf.metadata["mapping_set_version"] == built.summary.version
    frame = msdf.df
    assert set(frame["mapping_justification"]) == {"semapv:ManualMappingCuration"}
    skos = "http://www.w3.org/2004/02/skos/core#"
    expected = {(msdf.converter.compress(q.subject.value), "skos:" + q.predicate.value[len(skos):],
                 msdf.converter.compress(q.object.value))
                for q in shipped_quads() if q.predicate.value.startswith(skos) and q.predicate.value.endswith("Match")
                and q.subject.value.startswith(IIM)}
    assert set(zip(frame["subject_id"], frame["predicate_id"], frame["object_id"], strict=True)) == expected
    dermatomyositis = frame[(frame["subject_id"] == "iim:IIM_0000002") & (frame["object_id"] == "MONDO:0016367")]
    assert list(dermatomyositis["object_label"]) == ["dermatomyositis"]
    assert list(dermatomyositis["subject_label"]) == ["dermatomyositis"]


@pytest.mark.slow
def test_pyld_expands_the_json_ld_to_the_same_triples(built: Built) -> None:
    jsonld = pytest.importorskip("pyld.jsonld", reason="pyld (test extra) expands the JSON-LD as a consumer would")
    document = json.loads((built.folder / "iim.jsonld").read_text(encoding="utf-8"))
    context = json.loads((built.folder / "context.jsonld").read_text(encoding="utf-8"))
    assert document["@context"] == context["@context"]
    nquads = jsonld.to_rdf(document, {"format": "application/n-quads"})
    expanded = rdflib.Graph().parse(data=nquads, format="nt")
    assert isomorphic(without_source_labels(normalised(expanded)), english_graph())
    assert (rdflib.URIRef(IIM + "IIM_0000002"), SKOS_EXACT_MATCH, rdflib.URIRef(
        "http://purl.obolibrary.org/obo/MONDO_0016367")) in expanded



@pytest.mark.slow
def test_the_documentation_has_an_anchor_with_label_definition_and_uses_for_every_term(built: Built) -> None:
    page = (built.folder / "docs" / "index.html").read_text(encoding="utf-8")
    anchors = set(re.findall(r'<article id="([^"]+)"', page))
    terms = read_terms(built.folder / "terms.tsv")
    assert anchors == {t.iri[len(IIM):] for t in terms}
    assert set(re.findall(r'href="#([^"]+)"', page)) <= set(re.findall(r'id="([^"]+)"', page)), "dangling links"
    article = page.split('<article id="IIM_0000002">')[1].split("</article>")[0]
    assert "dermatomyositis" in article and "Definition" in article and "MONDO:0016367" in article
    assert "Used in" in article and 'href="#statement-' in article
    therapy = page.split('<article id="therapy">')[1].split("</article>")[0]
    assert "Used in" in therapy and "Domain" in therapy
    ltbi = page.split('<article id="IIM_0000401">')[1].split("</article>")[0]
    assert 'has causative agent</a> some <a href="#IIM_0000451">' in ltbi


# ── Resolvable IRIs ──


@dataclass
class Rule:
    pattern: re.Pattern[str]
    target: str
    flags: set[str]
    conditions: list[re.Pattern[str]]
    line: int


def parse_htaccess(text: str) -> list[Rule]:
    """The RewriteRules of an .htaccess, each with the Accept-header RewriteConds that guard it."""
    rules: list[Rule] = []
    pending: list[re.Pattern[str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#") or line in {"Options +FollowSymLinks", "RewriteEngine on"}:
            continue
        parts = line.split()
        if parts[0] == "RewriteCond":
            assert parts[1] == "%{HTTP_ACCEPT}" and parts[3:] == ["[NC]"], f"line {number}: unexpected condition"
            pending.append(re.compile(parts[2], re.IGNORECASE))
        elif parts[0] == "RewriteRule":
            assert len(parts) == 4, f"line {number}: RewriteRule PATTERN TARGET [FLAGS]"
            flags = set(parts[3].strip("[]").split(","))
            rules.append(Rule(re.compile(parts[1]), parts[2], flags, pending, number))
            pending = []
        else:
            raise AssertionError(f"line {number}: unexpected directive {parts[0]}")
    assert not pending, "a RewriteCond guards no rule"
    return rules


def resolve(rules: list[Rule], path: str, accept: str, used: set[int] | None = None) -> tuple[str, str] | None:
    """Apache's answer to GET https://w3id.org/iimkg/PATH: (status, Location), or None for 404."""
    for rule in rules:
        match = rule.pattern.search(path)
        if match and all(c.search(accept) for c in rule.conditions):
            if used is not None:
                used.add(rule.line)
            target = match.expand(re.sub(r"\$(\d)", r"\\g<\1>", rule.target))
            status = next(f[2:] for f in rule.flags if f.startswith("R="))
            return status, target
    return None


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
MACHINES = {"text/turtle": "iim.ttl", "application/rdf+xml": "iim.owl", "application/ld+json": "iim.jsonld",
            "application/n-triples": "iim.nt"}


@pytest.mark.slow
def test_every_w3id_rule_redirects_to_a_file_of_the_built_release(built: Built) -> None:
    rules = parse_htaccess(HTACCESS.read_text(encoding="utf-8"))
    bases = {re.match(r"^(https://[^ ]+?/)(releases/\$1/|current/)", r.target).group(1) for r in rules}  # type: ignore[union-attr]
    assert len(bases) == 1, f"every rule should point at one host: {bases}"
    (base,) = bases
    assert all(r.flags >= {"L"} and any(f.startswith("R=30") for f in r.flags) for r in rules)
    version = built.summary.version
    page = (built.folder / "docs" / "index.html").read_text(encoding="utf-8")
    anchors = set(re.findall(r'id="([^"]+)"', page))
    used: set[int] = set()
    top_level = {name for name in _files(built.folder) if "/" not in name}

    def lands_on_a_file(path: str, accept: str = "*/*") -> str:
        answer = resolve(rules, path, accept, used)
        assert answer is not None, f"https://w3id.org/iimkg/{path} ({accept}) matches no rule"
        status, location = answer
        # A term is not a file (httpRange-14): 303 See Other; a file's IRI: 302, as the latest release moves on.
        is_file = path in top_level or path.startswith(("releases/", "docs"))
        assert status == ("302" if is_file else "303"), (path, status)
        prefix = next(p for p in (f"{base}releases/{version}/", f"{base}current/") if location.startswith(p))
        relative, _, fragment = location[len(prefix):].partition("#")
        assert (built.folder / relative).is_file(), f"{path} → {location}: the release has no {relative}"
        assert not fragment or fragment in anchors, f"{path} → {location}: docs/index.html has no #{fragment}"
        return location[len(base):]

    for name in _files(built.folder):
        assert lands_on_a_file(f"releases/{version}/{name}") == f"releases/{version}/{name}"
        if "/" not in name:
            assert lands_on_a_file(name) == f"current/{name}", f"https://w3id.org/iimkg/{name} is not redirected"
    assert lands_on_a_file(f"releases/{version}/") == f"releases/{version}/docs/index.html"
    assert lands_on_a_file("docs/") == "current/docs/index.html"
    for accept, name in MACHINES.items():
        assert lands_on_a_file("", accept) == f"current/{name}"
        assert lands_on_a_file("IIM_0000002", f"{accept}, */*;q=0.1") == f"current/{name}"
    assert lands_on_a_file("", BROWSER) == "current/docs/index.html"
    for term in read_terms(built.folder / "terms.tsv"):
        local = term.iri[len(IIM):]
        assert lands_on_a_file(local, BROWSER) == f"current/docs/index.html#{local}"
        assert lands_on_a_file(local, "text/turtle") == "current/iim.ttl"
    assert used == {r.line for r in rules}, "some rules are never used"
    assert resolve(rules, "no.such.file", BROWSER) is None


# ── A triplestore loads it ──


@pytest.mark.slow
def test_the_store_files_hold_what_iimkg_queries_locally_by_named_graph(built: Built) -> None:
    version = built.summary.version
    quads = list(ox.parse(path=str(built.folder / "store" / "iimkg.nq"), format=ox.RdfFormat.N_QUADS))
    main_graph = ox.NamedNode(f"{IIM}releases/{version}/iim.owl")
    assert {q.graph_name for q in quads} == {main_graph} | {
        ox.NamedNode(f"{IIM}releases/{version}/{p.name[:-len('.babelon.tsv')]}.owl")
        for p in built.folder.glob("iim-*.babelon.tsv")}
    triples = [ox.Triple(q.subject, q.predicate, q.object)
               for q in ox.parse(path=str(built.folder / "store" / "iimkg.nt"), format=ox.RdfFormat.N_TRIPLES)]
    assert {ox.Triple(q.subject, q.predicate, q.object) for q in quads if q.graph_name == main_graph} == set(triples)
    # the union of the graphs is the graph iimkg queries locally, plus the labels the release gives sources
    local = set(with_header(canonical_triples(shipped_triples()), name="iim.owl", version=version))
    union = {ox.Triple(q.subject, q.predicate, q.object) for q in quads}
    unlabelled = {ox.NamedNode(str(s)) for s in unlabelled_sources()}
    added = {t for t in union - local if t.subject in unlabelled and t.predicate.value == str(RDFS.label)}
    assert len(added) == len(unlabelled)
    assert union - added == local
    # tests and benchmarks that load a store get the same files without building the release
    assert shipped_store_files(version) == {f"store/{p.name}": p.read_bytes()
                                            for p in (built.folder / "store").iterdir()}


@pytest.mark.slow
def test_the_oxigraph_load_script_loads_a_store_that_answers_in_every_language(built: Built, tmp_path: Path) -> None:
    if shutil.which("oxigraph") is None:
        pytest.skip("no `oxigraph` on PATH (pip install oxigraph, in the test extra)")
    location = tmp_path / "store"
    done = subprocess.run(["sh", str(built.folder / "store" / "load-oxigraph.sh"), str(location)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "oxigraph serve-read-only" in done.stderr
    store = ox.Store.read_only(str(location))
    labels = {b["l"] for b in store.query(  # type: ignore[union-attr]
        f"SELECT ?l WHERE {{ <{IIM}IIM_0000002> <{RDFS.label}> ?l }}", use_default_graph_as_union=True)}
    assert {ox.Literal("dermatomyositis", language="en"), ox.Literal("dermatomiositis", language="es")} <= labels
    wrong = subprocess.run(["sh", str(built.folder / "store" / "load-oxigraph.sh")], capture_output=True, text=True,
                           check=False)
    assert wrong.returncode == 2 and "usage" in wrong.stderr


def test_the_oxigraph_load_script_refuses_a_store_that_holds_an_earlier_release(tmp_path: Path) -> None:
    """Each release's graphs are named by its version: loaded over an earlier release, both would be served as one
    union. The script stops before oxigraph runs (no oxigraph needed here), and the store is left as it was."""
    from iimkg.release.store import shipped_store_files

    folder = tmp_path / "release"
    for name, content in shipped_store_files().items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    location = tmp_path / "store"
    location.mkdir()
    (location / "000001.sst").write_bytes(b"an earlier release")
    done = subprocess.run(["sh", str(folder / "store" / "load-oxigraph.sh"), str(location)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2 and "is not empty" in done.stderr, done.stderr
    assert [p.name for p in location.iterdir()] == ["000001.sst"]
    assert "A new release goes into a new store" in (folder / "store" / "README.md").read_text(encoding="utf-8")


# ── Languages ──


@pytest.mark.slow
def test_the_english_artefacts_and_the_translation_tables_give_back_the_source(built: Built) -> None:
    graph = without_source_labels(normalised(load_artefact(built, "iim.owl")))
    tables = sorted(built.folder.glob("iim-*.babelon.tsv"))
    assert {p.name for p in tables} >= {"iim-es.babelon.tsv", "iim-ca.babelon.tsv"}
    for table in tables:
        with table.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                subject, predicate = (rdflib.URIRef(expand(row[c]) or row[c]) for c in ("subject_id", "predicate_id"))
                value = rdflib.Literal(row["translation_value"], lang=row["translation_language"])
                assert (subject, predicate, value) not in graph
                graph.add((subject, predicate, value))
                if row["translation_type"] == "TRANSLATION":
                    assert (subject, predicate, rdflib.Literal(row["source_value"], lang="en")) in graph
    assert isomorphic(graph, source_graph())


@pytest.mark.slow
def test_every_source_gets_its_citation_as_its_one_label(built: Built) -> None:
    graph = load_artefact(built, "iim.owl")
    sources = set(graph.subjects(rdflib.RDF.type, DCTERMS.BibliographicResource))
    assert sources and unlabelled_sources() <= sources
    for source in sources:
        labels = list(graph.objects(source, RDFS.label))
        assert len(labels) == 1, source
        if source in unlabelled_sources():
            citation = str(graph.value(source, DCTERMS.bibliographicCitation))
            assert str(labels[0]).startswith(" ".join(citation.split())), source
    assert len({str(graph.value(s, RDFS.label)) for s in sources}) == len(sources), "two sources share a label"

"""OBO tools accept the release: ROBOT's own report queries, with its default profile, find no ERROR in any artefact.

The queries and the profile are ROBOT's files, copied into tests/resources/robot/ (its README says from which
commit, and how ROBOT applies them; this module does the same: the artefact alone, comment lines dropped, RDFS and
OWL entities skipped, every other row a violation at the query's level).
"""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pyoxigraph as ox
import pytest

from iimkg.core.prefixes import expand
from iimkg.release.build import CHECKSUMS, build_release
from iimkg.release.changes import release_history

from conftest import RESOURCES, ROOT

ROBOT = RESOURCES / "robot"
SYNTAX = {".owl": ox.RdfFormat.RDF_XML, ".ttl": ox.RdfFormat.TURTLE, ".nt": ox.RdfFormat.N_TRIPLES,
          ".jsonld": ox.RdfFormat.JSON_LD}


@dataclass(frozen=True)
class Violation:
    rule: str
    level: str
    entity: str
    value: str


def profile() -> list[tuple[str, str]]:
    """ROBOT's default profile: (level, rule) in its order."""
    rows = [line.split("\t") for line in (ROBOT / "report_profile.txt").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return [(level, rule) for level, rule in rows]


def query_text(rule: str) -> str:
    """The query with its comment lines removed, as ReportOperation.getReport does."""
    text = (ROBOT / "report_queries" / f"{rule}.rq").read_text(encoding="utf-8")
    return "\n".join(line for line in text.split("\n") if not line.startswith("#"))


def report(path: Path) -> list[Violation]:
    """Every violation ROBOT's default report finds in the RDF file at ``path``."""
    store = ox.Store()
    store.bulk_load(path=str(path), format=SYNTAX[path.suffix])
    found = []
    for level, rule in profile():
        for row in store.query(query_text(rule)):  # type: ignore[union-attr]
            entity = row["entity"]
            name = entity.value if entity is not None else ""
            if "/rdf-schema#" in name or "/owl#" in name:  # ROBOT skips RDFS and OWL terms
                continue
            value = row["value"]
            found.append(Violation(rule, level, name, value.value if value is not None else ""))
    return found


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("java") is None:
        pytest.skip("no `java` on PATH: a release classifies iim-full.owl with HermiT, which needs Java")
    folder = tmp_path_factory.mktemp("robot") / "dist"
    # a new release, dated after the latest committed one: the header of ontology/iim.ttl may name a released version
    latest = release_history(ROOT / "releases")[-1].version
    build_release(folder, version=(date.fromisoformat(latest) + timedelta(days=1)).isoformat())
    return folder


def rdf_artefacts(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in SYNTAX and p.name != "context.jsonld")


def test_the_fixtures_are_robots_queries_for_every_rule_of_its_default_profile() -> None:
    rules = [rule for _, rule in profile()]
    assert len(rules) == len(set(rules)) > 30
    assert {level for level, _ in profile()} == {"ERROR", "WARN", "INFO"}
    for rule in rules:
        assert "?entity" in query_text(rule), rule
    assert "multiple_labels" in rules and dict((r, lv) for lv, r in profile())["multiple_labels"] == "ERROR"


def test_the_report_finds_what_robot_finds_in_a_small_ontology(tmp_path: Path) -> None:
    """The runner is not blind: a term with two labels, one without, and a bad ontology header are caught."""
    path = tmp_path / "bad.ttl"
    path.write_text("""@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
<https://example.org/o> a owl:Ontology .
<https://example.org/A> a owl:Class ; rdfs:label "disease"@en , "enfermedad"@es .
<https://example.org/B> a owl:Class ; rdfs:subClassOf <https://example.org/A> .
<https://example.org/C> a owl:Class ; rdfs:label "disease"@en .
""", encoding="utf-8")
    errors = Counter(v.rule for v in report(path) if v.level == "ERROR")
    assert errors == {"multiple_labels": 2, "missing_label": 1, "duplicate_label": 2, "missing_ontology_title": 1,
                      "missing_ontology_license": 1, "missing_ontology_description": 1}


@pytest.mark.slow
def test_every_rdf_artefact_of_the_release_passes_robots_default_report(release: Path) -> None:
    artefacts = rdf_artefacts(release)
    names = {str(p.relative_to(release)) for p in artefacts}
    assert {"iim.owl", "iim.ttl", "iim.jsonld", "iim.nt", "iim-base.owl", "iim-full.owl", "iim-es.owl",
            "iim-ca.owl", "store/iimkg.nt"} <= names
    for path in artefacts:
        errors = [v for v in report(path) if v.level == "ERROR"]
        assert not errors, f"{path.name}: {len(errors)} ERROR rows, e.g. {errors[:5]}"


@pytest.mark.slow
def test_the_translations_are_published_as_babelon_tables_and_translated_editions(release: Path) -> None:
    """Spanish and Catalan names are not lost: each is a row of its Babelon table and the label of its edition."""
    for table in sorted(release.glob("iim-*.babelon.tsv")):
        language = table.name[len("iim-"):-len(".babelon.tsv")]
        with table.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        assert rows and {r["translation_language"] for r in rows} == {language}
        assert {r["source_language"] for r in rows} == {"en"}
        assert {r["translation_status"] for r in rows} <= {"NOT_TRANSLATED", "CANDIDATE", "UNDER_REVIEW", "OFFICIAL"}
        assert {r["translation_type"] for r in rows} <= {"TRANSLATION", "AUGMENTATION", "CORRECTION"}
        edition = ox.Store()
        edition.bulk_load(path=str(release / f"iim-{language}.owl"), format=ox.RdfFormat.RDF_XML)
        for row in rows:
            if row["predicate_id"] != "rdfs:label":
                continue
            labels = [b["l"] for b in edition.query(  # type: ignore[union-attr]
                f"SELECT ?l WHERE {{ <{expand(row['subject_id'])}> <http://www.w3.org/2000/01/rdf-schema#label> ?l }}")]
            assert labels == [ox.Literal(row["translation_value"], language=language)], row["subject_id"]
    assert {p.name for p in release.glob("iim-*.babelon.tsv")} >= {"iim-es.babelon.tsv", "iim-ca.babelon.tsv"}
    assert (release / CHECKSUMS).is_file()
    dermatomyositis = [r for r in csv.DictReader((release / "iim-es.babelon.tsv").open(encoding="utf-8"),
                                                 delimiter="\t")
                       if r["subject_id"] == "iim:IIM_0000002" and r["predicate_id"] == "rdfs:label"]
    assert [(r["source_value"], r["translation_value"]) for r in dermatomyositis] == [
        ("dermatomyositis", "dermatomiositis")]


@pytest.mark.slow
def test_the_babelon_tables_read_as_the_babelon_toolkit_reads_them(release: Path) -> None:
    """babelon's parse_babelon is ``pandas.read_csv(path, sep="\\t")``: header row first, no comment lines."""
    pandas = pytest.importorskip("pandas", reason="pandas (with the sssom test extra) reads tables as babelon does")
    for table in sorted(release.glob("iim-*.babelon.tsv")):
        frame = pandas.read_csv(table, sep="\t", keep_default_na=False)
        with table.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        assert list(frame.columns) == ["source_language", "translation_language", "subject_id", "predicate_id",
                                       "source_value", "translation_value", "translation_status", "translation_type",
                                       "source", "source_version"]
        assert frame.to_dict("records") == rows

"""The tables in docs/ that restate the shapes and the graph are the ones the command writes from them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import rdflib

from iimkg.core.resources import shapes_dir
from iimkg.core.vocab import IIM
from iimkg.graph.loading import load
from iimkg.release.doctables import COMMAND, DOCUMENTS, refreshed, rule_table, stale, term_table
from iimkg.shacl.findings import rules_of

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_the_generated_tables_of_the_docs_are_up_to_date(name: str) -> None:
    assert name not in stale(DOCS), f"docs/{name} restates the shapes or the graph as they were: run {COMMAND}"


def test_the_rule_table_has_one_row_per_plan_rule() -> None:
    shapes = rdflib.Graph().parse(shapes_dir() / "treatment-plan.ttl", format="turtle")
    rows = re.findall(r"^\| `(\w+)` \|", rule_table(), flags=re.MULTILINE)
    assert sorted(rows) == sorted(r.name for r in rules_of(shapes))


def test_the_term_list_has_one_row_per_class_of_ours() -> None:
    classes = {str(c).rsplit("/", 1)[-1] for c in load().subjects(rdflib.RDF.type, rdflib.OWL.Class)
               if str(c).startswith(IIM + "IIM_")}
    rows = re.findall(r"^\| (IIM_\d+) \|", term_table(), flags=re.MULTILINE)
    assert sorted(rows) == sorted(classes)


def test_a_document_without_the_markers_is_an_error() -> None:
    with pytest.raises(ValueError, match="generated: rules"):
        refreshed("# Treatment plans\n\nno table here\n", ["rules"])

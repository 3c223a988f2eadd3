"""Shared fixtures: the shipped graph in both engines, and where the reference files are."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib

from iimkg.graph.loading import load, shared_store

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = Path(__file__).resolve().parent / "resources"
SHARED = ROOT.parent / "shared"
IIM = "https://w3id.org/iimkg/"


@pytest.fixture(scope="session")
def store() -> ox.Store:
    return shared_store()


@pytest.fixture(scope="session")
def graph() -> rdflib.Graph:
    return load()


@pytest.fixture(scope="session")
def verified_xrefs() -> set[str]:
    """CURIEs marked verified in the shared reference table (the only IDs we may use)."""
    table = SHARED / "reference" / "xrefs.tsv"
    if not table.is_file():
        pytest.skip(f"{table} is not there: the cross-reference check needs ../shared beside the checkout")
    rows = [line.split("\t") for line in table.read_text(encoding="utf-8").splitlines()[1:]]
    return {row[2] for row in rows if len(row) > 5 and row[5].strip() == "verified"}

"""A Babelon translation table per language (``iim-es.babelon.tsv``), the form OBO translation tools read.

Babelon (https://github.com/monarch-initiative/babelon) is a plain TSV with a header row and one row per translated
value. There is no ``#`` metadata block as in SSSOM: the Babelon toolkit reads the table with
``pandas.read_csv(sep="\\t")`` and the Human Phenotype Ontology's ``hp-es.babelon.tsv`` has none, so the table's
metadata is in its own columns: ``source`` (the ontology IRI) and ``source_version`` (the release's version IRI) on
every row, as Babelon's schema defines them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from iimkg.core.prefixes import compact
from iimkg.release.editions import SOURCE_LANGUAGE, Translation

__all__ = ["COLUMNS", "TRANSLATION_STATUS", "babelon_tsv", "file_name"]

# Slots of Babelon's ``translation`` class (babelon/schema/babelon.yaml), in the order HPO's tables use.
COLUMNS = ("source_language", "translation_language", "subject_id", "predicate_id", "source_value",
           "translation_value", "translation_status", "translation_type", "source", "source_version")
# The translations are written by the project's curators into ontology/iim.ttl, reviewed with it and released
# with it: Babelon's OFFICIAL, "accepted by the core team managing the language profile".
TRANSLATION_STATUS = "OFFICIAL"


def file_name(language: str) -> str:
    """``iim-es.babelon.tsv`` for ``es``, as HPO names ``hp-es.babelon.tsv``."""
    return f"iim-{language}.babelon.tsv"


def _curie(iri: str) -> str:
    return compact(iri, strict=False) or iri


def babelon_tsv(rows: Iterable[Translation], *, source: str, source_version: str) -> str:
    """The table of ``rows`` (one language): a header row, then one row per value, sorted by term and property.

    Values are quoted the way ``csv`` and pandas read them back if they hold a tab, a quote or a line break.
    """
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for row in sorted(rows, key=lambda r: (_curie(r.subject), _curie(r.predicate), r.value)):
        writer.writerow((SOURCE_LANGUAGE, row.language, _curie(row.subject), _curie(row.predicate), row.source_value,
                         row.value, TRANSLATION_STATUS, row.kind.value, source, source_version))
    return out.getvalue()

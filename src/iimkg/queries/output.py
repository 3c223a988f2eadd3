"""Write query results: rows as an aligned table or a W3C SPARQL 1.1 results format, graphs as RDF.

The W3C formats keep every term whole: JSON, XML and TSV carry IRIs, language tags and datatypes (``"prednisona"@es``,
``"15"^^xsd:decimal``); CSV, as its specification says, carries plain strings. The JSON writer is ours (a
:class:`~iimkg.core.rdfterms.Term` knows its JSON form); XML, CSV and TSV, and every RDF syntax, are written by
pyoxigraph's serialisers, the same the endpoint answers with, so the CLI and the endpoint cannot drift apart.
"""

from __future__ import annotations

import enum
import json
import shutil
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING

from iimkg.core.errors import IimkgError
from iimkg.core.prefixes import compress, prefix_map

if TYPE_CHECKING:
    import pyoxigraph as ox

    from iimkg.core.rdfterms import Term
    from iimkg.queries.result import QueryResult

__all__ = ["OutputFormat", "OutputFormatError", "graph_bytes", "graph_prefixes", "render"]


class OutputFormat(str, enum.Enum):
    """How ``iimkg query`` and ``iimkg sparql`` write a result (``--format``).

    ``table`` is for people; ``json``, ``xml``, ``csv`` and ``tsv`` are the W3C SPARQL results formats of a
    SELECT or ASK; ``turtle``, ``nt``, ``jsonld`` and ``rdfxml`` the RDF syntaxes of a CONSTRUCT or DESCRIBE graph
    (for a graph, ``json`` means JSON-LD and ``xml`` RDF/XML, as the endpoint's ``?format=`` does).
    """

    TABLE = "table"
    CSV = "csv"
    TSV = "tsv"
    JSON = "json"
    XML = "xml"
    TURTLE = "turtle"
    NT = "nt"
    JSONLD = "jsonld"
    RDFXML = "rdfxml"

    @property
    def is_graph(self) -> bool:
        """Whether this is an RDF syntax (for CONSTRUCT and DESCRIBE results only)."""
        return self in _GRAPH_SYNTAXES


_GRAPH_SYNTAXES = {OutputFormat.TURTLE: "TURTLE", OutputFormat.NT: "N_TRIPLES", OutputFormat.JSONLD: "JSON_LD",
                   OutputFormat.RDFXML: "RDF_XML"}
# What a results-format name means for a graph (the endpoint's FORMAT_NAMES agree: json is JSON-LD, xml RDF/XML).
_FOR_GRAPHS = {OutputFormat.JSON: OutputFormat.JSONLD, OutputFormat.XML: OutputFormat.RDFXML}
_RESULTS = {OutputFormat.XML: "XML", OutputFormat.CSV: "CSV", OutputFormat.TSV: "TSV"}



@cache
def graph_prefixes() -> dict[str, str]:
    """The prefixes declared in Turtle and RDF/XML graphs (N-Triples and JSON-LD are written with full IRIs): a few
    from the one prefix map, as pyoxigraph declares every prefix it is given. The endpoint's graphs use them too."""
    return {name: prefix_map()[name] for name in ("rdf", "rdfs", "owl", "xsd", "skos", "dcterms", "obo", "oboInOwl",
                                                   "iim")}


class OutputFormatError(IimkgError):
    """A result cannot be written in the format asked for (rows as Turtle, a graph as CSV); exit 2."""


def render(result: QueryResult, fmt: OutputFormat | str | None = None, *, width: int | None = None) -> str:
    """The result as text in ``fmt``: by default a table for rows and an answer, Turtle for a graph.

    :raises OutputFormatError: for a graph in a rows-only format (CSV, TSV) or rows in an RDF syntax.
    """
    if result.graph:
        return _graph(result, OutputFormat(fmt) if fmt is not None else OutputFormat.TURTLE)
    fmt = OutputFormat(fmt) if fmt is not None else OutputFormat.TABLE
    if fmt.is_graph:
        kind = "an ASK query's answer is true or false" if result.boolean is not None else "a SELECT query's rows"
        raise OutputFormatError(f"--format {fmt.value} writes a graph (CONSTRUCT or DESCRIBE), but {kind}: "
                                "use table, json, xml, csv or tsv")
    if fmt is OutputFormat.JSON:
        return _json(result)
    if fmt is OutputFormat.TABLE:
        if result.boolean is not None and not result.columns:
            return ("true" if result.boolean else "false") + "\n"
        return _table(result, width or shutil.get_terminal_size((160, 24)).columns)
    if result.boolean is not None and not result.columns and fmt is not OutputFormat.XML:
        return ("true" if result.boolean else "false") + "\n"  # CSV and TSV have no boolean form: the answer itself
    return _w3c(result, fmt)


def _w3c(result: QueryResult, fmt: OutputFormat) -> str:
    """XML, CSV or TSV, written by pyoxigraph from our JSON (which carries every term whole)."""
    import pyoxigraph as ox

    parsed = ox.parse_query_results(_json(result), format=ox.QueryResultsFormat.JSON)
    written = parsed.serialize(format=getattr(ox.QueryResultsFormat, _RESULTS[fmt]))
    return (written or b"").decode("utf-8") + ("\n" if fmt is OutputFormat.XML else "")


def _graph(result: QueryResult, fmt: OutputFormat) -> str:
    fmt = _FOR_GRAPHS.get(fmt, fmt)
    if fmt is OutputFormat.TABLE:
        return _table(result, shutil.get_terminal_size((160, 24)).columns)
    if not fmt.is_graph:
        raise OutputFormatError(f"a CONSTRUCT or DESCRIBE query's answer is a graph, which {fmt.value.upper()} "
                                "can't hold: use --format turtle, nt, jsonld or rdfxml")
    return graph_bytes(result.triples(), fmt).decode("utf-8")


def graph_bytes(triples: Iterable[ox.Triple], fmt: OutputFormat) -> bytes:
    """Triples in an RDF syntax; Turtle and RDF/XML declare :func:`graph_prefixes`."""
    import pyoxigraph as ox

    syntax = getattr(ox.RdfFormat, _GRAPH_SYNTAXES[fmt])
    prefixes = graph_prefixes() if fmt in {OutputFormat.TURTLE, OutputFormat.RDFXML} else None
    return ox.serialize(list(triples), format=syntax, prefixes=prefixes) or b""


def _short(term: Term | None) -> str:
    if term is None:
        return ""
    if term.kind == "uri":
        return compress(term.value) or term.value
    return " ".join(term.value.split())


def _json(result: QueryResult) -> str:
    if result.boolean is not None and not result.columns:
        return json.dumps({"head": {}, "boolean": result.boolean}, indent=2) + "\n"
    bindings = [{c: t.to_json() for c in result.columns if (t := row[c]) is not None} for row in result.rows]
    return json.dumps({"head": {"vars": result.columns}, "results": {"bindings": bindings}},
                      indent=2, ensure_ascii=False) + "\n"


def _table(result: QueryResult, width: int) -> str:
    """Aligned columns for people: a term shows as its label (CURIE when it has none), so the ``…Label``
    columns fold into the column they label; long cells are cut with an ellipsis to fit the terminal."""
    shown = [c for c in result.columns if not (c.endswith("Label") and c[: -len("Label")] in result.columns)]
    empty = [c for c in shown if result.rows and all(row[c] is None for row in result.rows)]
    shown = [c for c in shown if c not in empty]
    cells = []
    for row in result.rows:
        line = []
        for column in shown:
            label = row.get(f"{column}Label") if f"{column}Label" in result.columns else None
            line.append(_short(label) if label is not None else _short(row[column]))
        cells.append(line)
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(shown)]
    gap = 2
    widths = _fit(widths, width - gap * (len(widths) - 1))
    lines = [_line(shown, widths, gap), _line(["─" * w for w in widths], widths, gap)]
    lines += [_line(r, widths, gap) for r in cells]
    note = f"; no value in: {', '.join(empty)}" if empty else ""
    lines.append(f"({len(cells)} row{'s' if len(cells) != 1 else ''}{note})")
    return "\n".join(lines) + "\n"


def _fit(natural: list[int], available: int, minimum: int = 8) -> list[int]:
    """Water-filling: narrow columns keep their width, wide ones share what is left equally."""
    if sum(natural) <= available or not natural:
        return natural
    fitted = list(natural)
    wide = set(range(len(natural)))
    budget = available
    while wide:
        share = max(budget // len(wide), minimum)
        narrow = {i for i in wide if natural[i] <= share}
        if not narrow:
            for i in wide:
                fitted[i] = share
            break
        for i in narrow:
            fitted[i] = natural[i]
            budget -= natural[i]
        wide -= narrow
    return fitted


def _line(values: list[str], widths: list[int], gap: int) -> str:
    out = []
    for value, w in zip(values, widths, strict=True):
        out.append(value if len(value) <= w else value[: max(w - 1, 0)] + "…")
        out[-1] = out[-1].ljust(w)
    return (" " * gap).join(out).rstrip()

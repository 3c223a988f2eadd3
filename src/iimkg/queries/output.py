"""Write query results as an aligned table, CSV, TSV or W3C SPARQL 1.1 Query Results JSON."""

from __future__ import annotations

import csv
import enum
import io
import json
import shutil
from typing import TYPE_CHECKING

from iimkg.core.prefixes import compress
from iimkg.core.rdfterms import Term

if TYPE_CHECKING:
    from iimkg.queries.run import QueryResult

__all__ = ["OutputFormat", "render"]


class OutputFormat(str, enum.Enum):
    """How ``iimkg query`` and ``iimkg sparql`` write rows (``--format``); the endpoint writes JSON, CSV and TSV."""

    TABLE = "table"
    CSV = "csv"
    TSV = "tsv"
    JSON = "json"


def render(result: QueryResult, fmt: OutputFormat | str = OutputFormat.TABLE, *, width: int | None = None) -> str:
    """The result as text in ``fmt``; CSV and TSV carry full IRIs, the table shows CURIEs."""
    fmt = OutputFormat(fmt)
    if fmt is OutputFormat.JSON:
        return _json(result)
    if result.boolean is not None and not result.columns:
        if fmt is OutputFormat.TABLE:
            return ("yes" if result.boolean else "no") + "\n"
        return str(result.boolean).lower() + "\n"
    if fmt is OutputFormat.TABLE:
        return _table(result, width or shutil.get_terminal_size((160, 24)).columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="," if fmt is OutputFormat.CSV else "\t", lineterminator="\n")
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow([_plain(row[c]) for c in result.columns])
    return buffer.getvalue()


def _plain(term: Term | None) -> str:
    if term is None:
        return ""
    return " ".join(term.value.split()) if term.kind == "literal" else term.value


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

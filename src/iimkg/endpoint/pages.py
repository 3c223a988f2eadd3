"""The HTML page at ``/``: a query form, its result table, the example questions and the downloads.

Plain HTML with no script, so any browser (and a headless one in the tests) can use it; the template is a
data file (``page.html``), and every value put into it is escaped here.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from string import Template
from urllib.parse import urlencode

import pyoxigraph as ox

from iimkg.core.prefixes import compress
from iimkg.core.rdfterms import Term, to_oxigraph
from iimkg.endpoint.jobs import Table

__all__ = ["Download", "Example", "render_error", "render_page", "render_table", "with_values"]


@dataclass(frozen=True)
class Example:
    """One named query as the page shows it: the question, the SPARQL with example values bound, its REST URL."""

    name: str
    question: str
    sparql: str
    rest_url: str


@dataclass(frozen=True)
class Download:
    name: str
    media_type: str
    description: str


def with_values(text: str, bindings: Mapping[str, Term]) -> str:
    """SPARQL text with one row of values for its variables as a trailing ``VALUES`` block, for people to read.

    Only for the page's examples, which show a named query with its example values as SPARQL a reader can edit
    and run; each value is written by pyoxigraph as an RDF term. Programs bind through ``/queries/NAME``.
    """
    text = text.rstrip("\n") + "\n"
    if not bindings:
        return text
    names = " ".join(f"?{ox.Variable(name).value}" for name in bindings)
    values = " ".join(str(to_oxigraph(term)) for term in bindings.values())
    return f"{text}VALUES ({names}) {{ ({values}) }}\n"


@cache
def _template() -> Template:
    return Template(files("iimkg.endpoint").joinpath("page.html").read_text(encoding="utf-8"))


def render_page(*, query: str, results: str, examples: Sequence[Example], downloads: Sequence[Download],
                endpoint: str, graphs: Sequence[str], version: str, version_iri: str, timeout: float,
                max_results: int) -> str:
    """The whole page; ``results`` is HTML already (from :func:`render_table` or :func:`render_error`)."""
    items = "\n".join(
        f'<li><a class="example" href="/?{html.escape(urlencode({"query": e.sparql}))}">{html.escape(e.name)}</a>: '
        f'{html.escape(e.question)} (<a href="{html.escape(e.rest_url)}">JSON</a>)</li>' for e in examples)
    files_ = "\n".join(
        f'<li><a href="/download/{html.escape(d.name)}" type="{html.escape(d.media_type)}">{html.escape(d.name)}</a>'
        f" ({html.escape(d.description)})</li>" for d in downloads)
    return _template().substitute(
        query=html.escape(query), results=results, examples=items, downloads=files_,
        endpoint=html.escape(endpoint), graphs=html.escape(", ".join(graphs)), version=html.escape(version),
        version_iri=html.escape(version_iri), timeout=f"{timeout:g}", max_results=str(max_results))


def render_error(status: int, message: str) -> str:
    return f'<h2>Result</h2>\n<p id="error" class="error">{status}: {html.escape(message)}</p>\n'


def render_table(table: Table, *, download: str | None = None) -> str:
    """A result as an HTML table (``id="results"``), or the answer of an ``ASK`` (``id="result-boolean"``)."""
    if table.boolean is not None and not table.columns:
        return f'<h2>Result</h2>\n<p id="result-boolean">{"true" if table.boolean else "false"}</p>\n'
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = "\n".join("<tr>" + "".join(f"<td>{_cell(t, table.labels)}</td>" for t in row) + "</tr>"
                     for row in table.rows)
    count = len(table.rows)
    links = ""
    if download:
        links = " Download as " + ", ".join(
            f'<a href="/sparql?{html.escape(urlencode({"query": download, "format": f}))}">{f.upper()}</a>'
            for f in (("turtle", "ntriples", "rdfxml", "jsonld") if table.graph else ("csv", "tsv", "json", "xml"))
        ) + "."
    return (f'<h2>Result</h2>\n<p id="result-count">{count} row{"s" if count != 1 else ""}.{links}</p>\n'
            f'<div class="scroll"><table id="results">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n'
            "</table></div>\n")


def _cell(term: Term | None, labels: Mapping[str, str]) -> str:
    """One result cell. An IRI with a label shows the label, its CURIE beside it (``<code class="curie">``) and
    the whole IRI on hover; one without shows its CURIE (or the IRI)."""
    if term is None:
        return ""
    if term.kind == "uri":
        curie = html.escape(compress(term.value) or term.value)
        label = labels.get(term.value)
        shown = f'<span class="label">{html.escape(label)}</span>' if label else curie
        # Only web IRIs become links: an IRI in the data may be javascript: or data:, which a link would run.
        if term.value.startswith(("http://", "https://")):
            name = f'<a href="{html.escape(term.value)}" title="{html.escape(term.value)}">{shown}</a>'
        else:
            name = f'<span title="{html.escape(term.value)}">{shown}</span>'
        return f'{name} <code class="curie">{curie}</code>' if label else name
    if term.kind == "bnode":
        return f"_:{html.escape(term.value)}"
    suffix = f' <small>@{html.escape(term.lang)}</small>' if term.lang else ""
    return html.escape(term.value) + suffix

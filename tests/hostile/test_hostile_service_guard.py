"""The SERVICE guard decides on the parsed query: every spelling of a federated call is refused (issue 15).

Hypothesis writes ``SERVICE`` clauses the way an attacker would: any letter case, a letter as a ``\\uXXXX``
escape, comments and line breaks between the tokens, a prefixed name with backslash escapes (``ex:a\\#b``, the
bypass of the old textual check), ``SILENT``, a variable, and the clause buried in nested groups, OPTIONAL,
UNION, MINUS, FILTER EXISTS, GRAPH and sub-selects. Every service IRI points at a local listener: the guard must
refuse each query, and running the guard and then pyoxigraph must leave the listener untouched.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iimkg.core.errors import QuerySyntaxError
from iimkg.core.sparql_guard import network_refusal

from conftest import ROOT
from hostile import Listener, assert_one_line_error, listener_fixture, run_cli  # noqa: F401 (the fixture)

LOCAL = "http://127.0.0.1:9/"  # the discard port: nothing listens, and nothing may try
CASES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def keyword(draw: st.DrawFn, word: str) -> str:
    """``word`` in random case, perhaps with one letter written as a SPARQL ``\\u`` escape."""
    letters = [c.upper() if draw(st.booleans()) else c.lower() for c in word]
    if draw(st.booleans()):
        at = draw(st.integers(0, len(letters) - 1))
        letters[at] = f"\\u{ord(letters[at]):04X}"
    return "".join(letters)


gap = st.sampled_from([" ", "  ", "\n", "\t", " #SERVICE is just a comment\n", "#c\n", "\r\n "])
local_name = st.sampled_from(["g", "a\\#b", "x\\.y", "a\\-b", "\\#", "s\\~x", "a\\%b", "p\\/q", "a.b"])


@st.composite
def target(draw: st.DrawFn, url: str) -> tuple[str, str]:
    """The service to call (at ``url``) and the PREFIX declarations it needs."""
    kind = draw(st.sampled_from(["iri", "prefixed", "empty-prefix", "variable"]))
    if kind == "iri":
        return f"<{url}>", ""
    if kind == "variable":
        return "?svc", ""
    name = draw(local_name)
    if kind == "empty-prefix":
        return f":{name}", f"PREFIX : <{url}>\n"
    prefix = draw(st.sampled_from(["ex", "x", "a.b", "svc", "e1"]))
    return f"{prefix}:{name}", f"PREFIX {prefix}: <{url}>\n"


@st.composite
def service_query(draw: st.DrawFn, url: str = LOCAL) -> str:
    """A query that calls the service at ``url`` (when run on pyoxigraph without the guard)."""
    svc, prologue = draw(target(url))
    clause = draw(keyword("SERVICE")) + draw(gap)
    if draw(st.booleans()):
        clause += draw(keyword("SILENT")) + draw(gap)
    clause += svc + draw(gap) + "{ ?s ?p ?o }"
    wrappers = [
        "{{ {} }}", "{{ ?a ?b ?c . {} }}", "OPTIONAL {{ {} }}", "{{ ?a ?b ?c }} UNION {{ {} }}",
        "MINUS {{ {} }}", "FILTER EXISTS {{ {} }}", "FILTER NOT EXISTS {{ {} }}", "GRAPH ?g {{ {} }}",
        "{{ SELECT * {{ {} }} }}", "?x ?y \"SERVICE\" . {}", "<urn:a> <urn:b> <urn:c> . {}",
        "z:a\\#b ?p ?o . {}", "?s z:\\#p ?o . {}", "z:a\\#b z:c\\#d z:e . {}",
    ]
    for _ in range(draw(st.integers(0, 4))):
        clause = draw(st.sampled_from(wrappers)).format(clause)
    if svc == "?svc":
        clause = f"BIND(<{url}> AS ?svc) " + clause
    form = draw(st.sampled_from(["SELECT * WHERE", "select *", "ASK", "CONSTRUCT { ?s ?p ?o } WHERE"]))
    return f"PREFIX z: <urn:z:>\n{prologue}{form} {{ {clause} }}"


@given(service_query())
@CASES
def test_every_spelling_of_service_is_refused(text: str) -> None:
    assert network_refusal(text) is not None, text


@given(data=st.data())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_generated_query_reaches_a_local_listener(listener: Listener, data: st.DataObject) -> None:
    """Guard, then engine, as the endpoint's worker does: the listener must see no connection."""
    text = data.draw(service_query(listener.url))
    if network_refusal(text) is None:
        with contextlib.suppress(SyntaxError, OSError, RuntimeError, ValueError):
            list(ox.Store().query(text))  # type: ignore[arg-type]
    assert listener.connections == 0, text


def test_the_listener_does_see_an_unguarded_service_call(listener: Listener) -> None:
    """The check above can fail: pyoxigraph, run without the guard, does connect to the listener."""
    with contextlib.suppress(OSError, RuntimeError, ValueError):
        list(ox.Store().query(f"SELECT * {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}"))  # type: ignore[arg-type]
    deadline = time.monotonic() + 5
    while listener.connections == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listener.connections == 1


# The word "service" where it is data, a name or a comment: the parsed query calls nobody, so no refusal.
@pytest.mark.parametrize("text", [
    'SELECT * { ?s ?p "a health service" }',
    "SELECT * { ?s ?p ?o } # SERVICE <http://127.0.0.1:9/> { }",
    "SELECT ?service { ?service ?p <http://example.org/SERVICE> }",
    "PREFIX ex: <http://example.org/> SELECT * { ?s ex:service ?o }",
    "PREFIX ex: <http://example.org/> SELECT * { ex:a\\#b ?p ?o } # SERVICE <http://127.0.0.1:9/> {}",
])
def test_service_as_data_is_not_refused(text: str) -> None:
    assert network_refusal(text) is None


def test_a_remote_from_is_refused_only_where_an_engine_would_fetch_it() -> None:
    text = f"SELECT * FROM <{LOCAL}> {{ ?s ?p ?o }}"
    assert network_refusal(text) is None  # the endpoint: pyoxigraph resolves FROM in its own dataset
    assert network_refusal(text, remote_from=True) is not None
    assert network_refusal(f"PREFIX e: <{LOCAL}> SELECT * FROM NAMED e:g {{ ?s ?p ?o }}", remote_from=True)
    assert network_refusal("SELECT * FROM <urn:iimkg:data:x.ttl> { ?s ?p ?o }", remote_from=True) is None


def test_ten_thousand_parentheses_are_a_syntax_error_not_a_crash() -> None:
    with pytest.raises(QuerySyntaxError, match="nests brackets"):
        network_refusal("SELECT * { FILTER(" + "(" * 10_000 + "1" + ")" * 10_000 + ") }")


# A user's shapes file whose query would call a host: a constraint, a rule, a FROM graph rdflib would load.
_USER_SHAPES = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix iim: <https://w3id.org/iimkg/> .
@prefix ex: <https://example.org/shapes/> .
ex:{name} a sh:NodeShape ;
    sh:targetClass iim:TreatmentPlan ;
    {body} .
"""
_REACHING = {
    "constraint": 'sh:sparql [ sh:message "x" ; sh:select """SELECT $this WHERE { $this a iim:TreatmentPlan . '
                  'SERVICE <URL> { ?s ?p ?o } }""" ]',
    "rule": 'sh:rule [ a sh:SPARQLRule ; sh:construct """CONSTRUCT { $this <urn:x> ?o } WHERE { '
            '$this a iim:TreatmentPlan . SeRvIcE SILENT <URL> { ?s ?p ?o } }""" ]',
    "from": 'sh:sparql [ sh:message "x" ; sh:select """SELECT $this FROM <URL> WHERE { $this ?p ?o }""" ]',
}


@pytest.mark.parametrize("case", sorted(_REACHING))
@pytest.mark.parametrize("engine", ["oxigraph", "rdflib"])
def test_a_users_shape_that_would_call_a_host_is_refused_before_any_engine_runs(
        tmp_path: Path, listener: Listener, case: str, engine: str) -> None:
    shapes = tmp_path / "clinic.ttl"
    shapes.write_text(_USER_SHAPES.replace("{name}", f"reaching_{case}").replace(
        "{body}", _REACHING[case].replace("URL", listener.url)), encoding="utf-8")
    plan = ROOT / "examples" / "plans" / "several-findings.ttl"
    output = tmp_path / "report.json"
    line = assert_one_line_error(run_cli("validate", str(plan), "--shapes", str(shapes), "--engine", engine,
                                         "--output", str(output)))
    assert "clinic.ttl" in line and f"reaching_{case}" in line and "refused" in line
    assert not output.exists()
    time.sleep(0.3)
    assert listener.connections == 0


def test_the_quality_gate_refuses_such_a_shape_too(tmp_path: Path, listener: Listener) -> None:
    shapes = tmp_path / "extra.ttl"
    shapes.write_text(_USER_SHAPES.replace("{name}", "reaching").replace(
        "{body}", _REACHING["constraint"].replace("URL", listener.url)), encoding="utf-8")
    assert "refused" in assert_one_line_error(run_cli("validate", "--qc", "--shapes", str(shapes)))
    assert listener.connections == 0

"""The named queries over HTTP give the CLI's rows; the OpenAPI document, downloads, CORS and the CLI command."""

from __future__ import annotations

import html
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pyoxigraph as ox
import pytest

from iimkg.graph.loading import shipped_quads
from iimkg.queries.named import list_queries, named_query
from iimkg.queries.output import render
from iimkg.queries.run import query

from serving import RESULTS_JSON, Server, running_server, stop


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("rest"), "--workers", "2") as running:
        yield running


def _params(name: str) -> dict[str, str]:
    """The first example value the query's header gives for each parameter."""
    return named_query(name).example_values()


def test_the_list_names_every_query_with_its_question_and_parameters(server: Server) -> None:
    reply = server.get("/queries")
    assert reply.status == 200
    listed = {q["name"]: q for q in reply.json()["queries"]}
    assert set(listed) == {q.name for q in list_queries()}
    drug = listed["adverse-effects"]["parameters"]
    examples = list(named_query("adverse-effects").parameters[0].examples)
    assert drug == [{"name": "drug", "description": drug[0]["description"], "required": True,
                     "kind": "https://w3id.org/iimkg/Drug", "example": examples[0], "examples": examples}]
    assert listed["adverse-effects"]["example"] == f"/queries/adverse-effects?drug={examples[0]}"
    assert listed["subtypes"]["question"].startswith("What are the subtypes")


def test_every_example_url_the_list_advertises_answers(server: Server) -> None:
    for listed in server.get("/queries").json()["queries"]:
        reply = server.get(listed["example"])
        assert reply.status == 200 and reply.json()["results"]["bindings"], listed["example"]


def test_every_example_on_the_page_runs_with_the_headers_values(server: Server) -> None:
    page = server.get("/").text
    links = [html.unescape(href) for href in re.findall(r'<a class="example" href="([^"]+)"', page)]
    assert len(links) == len(list_queries())
    for link in links:
        reply = server.get(link)
        assert reply.status == 200 and 'id="results"' in reply.text, link
        assert not re.search(r'id="result-count">0 rows', reply.text), f"{link}: the example answers nothing"


@pytest.mark.parametrize("name", [q.name for q in list_queries()])
def test_every_named_query_gives_the_clis_rows(server: Server, name: str) -> None:
    expected = query(name, **cast(Any, _params(name)))
    as_json = server.get(f"/queries/{name}", _params(name))
    assert as_json.status == 200 and as_json.media_type == RESULTS_JSON
    assert as_json.text == render(expected, "json")
    as_csv = server.get(f"/queries/{name}", _params(name), Accept="text/csv")
    assert as_csv.status == 200 and as_csv.media_type == "text/csv" and as_csv.text == render(expected, "csv")


def test_an_unknown_term_is_400_with_the_closest_matches(server: Server) -> None:
    reply = server.get("/queries/adverse-effects", {"drug": "predisone"})
    assert reply.status == 400
    body = reply.json()
    assert body["suggestions"][0] == "prednisone (iim:IIM_0000102)" and "matches no term" in body["error"]


def test_a_term_of_the_wrong_kind_says_what_it_is(server: Server) -> None:
    reply = server.get("/queries/adverse-effects", {"drug": "dermatomyositis"})
    assert reply.status == 400 and "is not a drug" in reply.json()["error"]


def test_an_unknown_query_is_404_with_a_suggestion(server: Server) -> None:
    reply = server.get("/queries/adverse-effect", {"drug": "prednisone"})
    assert reply.status == 404 and reply.json()["suggestions"][0] == "adverse-effects"


@pytest.mark.parametrize(("params", "message"), [
    ({}, "needs ?drug="),
    ({"drug": "prednisone", "dose": "5"}, "has no parameter dose"),
])
def test_missing_or_unknown_parameters_are_400(server: Server, params: dict[str, str], message: str) -> None:
    reply = server.get("/queries/adverse-effects", params)
    assert reply.status == 400 and message in reply.json()["error"]


def test_a_repeated_parameter_is_400(server: Server) -> None:
    reply = server.get("/queries/adverse-effects", [("drug", "prednisone"), ("drug", "methotrexate")])
    assert reply.status == 400 and "twice" in reply.json()["error"]


def test_named_results_in_a_format_we_do_not_write_is_406(server: Server) -> None:
    reply = server.get("/queries/subtypes", Accept="text/turtle")
    assert reply.status == 406 and "text/csv" in reply.json()["error"]


def test_the_openapi_document_is_valid_and_describes_each_query(server: Server) -> None:
    from openapi_spec_validator import validate

    reply = server.get("/openapi.json")
    assert reply.status == 200
    document = reply.json()
    validate(document)
    for named in list_queries():
        operation = document["paths"][f"/queries/{named.name}"]["get"]
        assert [p["name"] for p in operation["parameters"]] == [p.name for p in named.parameters]
        assert [[e["value"] for e in p.get("examples", {}).values()] for p in operation["parameters"]] == [
            list(p.examples) for p in named.parameters]
        assert operation["summary"] == named.question
    assert {"get", "post"} <= set(document["paths"]["/sparql"])


def _triples(body: bytes, fmt: ox.RdfFormat) -> set[tuple[str, str, str]]:
    # blank nodes are renamed by each syntax: compare them by position, as "_"
    return {(str(t.subject) if not isinstance(t.subject, ox.BlankNode) else "_", str(t.predicate),
             str(t.object) if not isinstance(t.object, ox.BlankNode) else "_") for t in ox.parse(body, format=fmt)}


@pytest.mark.parametrize(("name", "fmt"), [
    ("iim.owl", ox.RdfFormat.RDF_XML), ("iim.nt", ox.RdfFormat.N_TRIPLES), ("iim.jsonld", ox.RdfFormat.JSON_LD),
    ("iim.ttl", ox.RdfFormat.TURTLE),
])
def test_downloads_hold_the_shipped_graph(server: Server, name: str, fmt: ox.RdfFormat) -> None:
    """The shipped graph is ontology/iim.ttl plus the cross-references of ontology/mappings.sssom.tsv."""
    reply = server.get(f"/download/{name}")
    assert reply.status == 200 and reply.media_type == fmt.media_type
    shipped = _triples(ox.serialize(shipped_quads(), format=ox.RdfFormat.N_QUADS) or b"", ox.RdfFormat.N_QUADS)
    assert _triples(reply.body, fmt) == shipped
    assert len(list(ox.parse(reply.body, format=fmt))) == len(shipped_quads())


def test_a_download_name_cannot_leave_the_downloads(server: Server) -> None:
    assert server.get("/download/..%2Fpyproject.toml").status == 404


def test_cors_is_on_by_default(server: Server) -> None:
    reply = server.get("/sparql", {"query": "ASK {}"}, Origin="https://yasgui.example.org")
    assert reply.headers["access-control-allow-origin"] == "*"
    preflight = server.request("OPTIONS", "/sparql", headers={
        "Origin": "https://yasgui.example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.status == 200 and "POST" in preflight.headers["access-control-allow-methods"]


@pytest.mark.parametrize(("option", "expected"), [
    (["--cors", "https://yasgui.example.org"], "https://yasgui.example.org"),
    (["--no-cors"], None),
])
def test_cors_can_name_one_origin_or_be_off(tmp_path: Path, option: list[str], expected: str | None) -> None:
    with running_server(tmp_path, "--workers", "1", *option) as server:
        reply = server.get("/sparql", {"query": "ASK {}"}, Origin="https://yasgui.example.org")
        assert reply.status == 200 and reply.headers.get("access-control-allow-origin") == expected
        other = server.get("/sparql", {"query": "ASK {}"}, Origin="https://elsewhere.example.org")
        assert "access-control-allow-origin" not in other.headers


# ── the command ──

def _iimkg(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iimkg.cli.main", *args], capture_output=True, text=True,
                          check=False, timeout=timeout, stdin=subprocess.DEVNULL)


def test_serve_help_lists_its_options() -> None:
    done = _iimkg("serve", "--help")
    assert done.returncode == 0
    for option in ("--host", "--port", "--data", "--timeout", "--max-results", "--max-request-bytes", "--workers",
                   "--cors", "--no-cors"):
        assert option in done.stdout


def test_a_broken_data_file_stops_serve_with_its_line(tmp_path: Path) -> None:
    broken = tmp_path / "plan.ttl"
    broken.write_text('<urn:a> <urn:b> "unclosed .\n', encoding="utf-8")
    done = _iimkg("serve", "--port", "0", "--data", str(broken))
    assert done.returncode == 2 and f"{broken}:1:" in done.stderr and "Traceback" not in done.stderr
    assert "listening" not in done.stdout


def test_a_port_in_use_is_an_error_not_a_traceback(server: Server) -> None:
    done = _iimkg("serve", "--host", "127.0.0.1", "--port", str(server.port))
    assert done.returncode == 2 and f"can't listen on 127.0.0.1:{server.port}" in done.stderr
    assert "Traceback" not in done.stderr


def _running(pid: int) -> bool:
    """Whether a process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process table from /proc")
def test_sigterm_stops_the_server_and_its_workers(tmp_path: Path) -> None:
    with running_server(tmp_path, "--workers", "2") as server:
        pid = server.process.pid
        children = [int(c) for task in Path(f"/proc/{pid}/task").iterdir()
                    for c in (task / "children").read_text().split()]
        assert len(children) >= 2 and all(_running(c) for c in children)
        assert server.sparql("ASK {}").status == 200
        # uvicorn shuts down cleanly, then re-raises the signal, so the exit status says SIGTERM
        assert stop(server.process) in {0, -signal.SIGTERM}
    deadline = time.monotonic() + 15
    while any(_running(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [c for c in children if _running(c)]


def test_the_openapi_document_lists_the_media_types_each_path_really_sends(server: Server) -> None:
    """Each media type the document lists, sent as Accept, is answered with a Content-Type it says (x-sent-as)."""
    document = server.get("/openapi.json").json()
    queries = {"select": "SELECT ?s WHERE { ?s a <http://www.w3.org/2002/07/owl#Ontology> }",
               "ask": "ASK { ?s ?p ?o }", "graph": "CONSTRUCT WHERE { ?s a <http://www.w3.org/2002/07/owl#Ontology> }"}
    sparql = document["paths"]["/sparql"]["get"]["responses"]["200"]["content"]
    named = document["paths"]["/queries/subtypes"]["get"]["responses"]["200"]["content"]
    assert {"application/sparql-results+json", "text/csv", "text/turtle", "application/n-triples"} <= set(sparql)
    seen: set[str] = set()
    for media, entry in sparql.items():
        answers = []
        for form, text in queries.items():
            reply = server.get("/sparql", {"query": text}, Accept=media)
            if reply.status == 200:
                answers.append(reply.headers["content-type"])
                assert reply.headers["content-type"] in entry["x-sent-as"], (media, form)
            else:
                assert reply.status == 406, (media, form, reply.text)
        assert answers, media
        seen.update(answers)
    assert seen == {sent for entry in sparql.values() for sent in entry["x-sent-as"]}
    for media, entry in named.items():
        reply = server.get("/queries/subtypes", Accept=media)
        assert reply.status == 200 and [reply.headers["content-type"]] == entry["x-sent-as"], media

"""Plans split by plan, not by bytes: the same findings whatever the layout of the file, the chunk size, the memory
window and the number of workers (plans/units.py); bad input still fails with the file's line and column."""

from __future__ import annotations

import hashlib
import json
import pickle
import random
import re
from pathlib import Path
from typing import ClassVar

import pyoxigraph as ox
import pytest
import rdflib

from iimkg.core.errors import InputError
from iimkg.core.vocab import RDF_TYPE
from iimkg.graph import jsonld_pieces
from iimkg.plans import grouping
from iimkg.plans.reading import load_plan_file
from iimkg.plans.units import PlanUnit, check_units, split_plans
from iimkg.plans.validate import validate_plans
from iimkg.shacl.findings import Finding, Severity, ValidationResult
from iimkg.shacl.reports import render_report

from conftest import ROOT

EXAMPLES = sorted((ROOT / "examples" / "plans").glob("*.ttl"))
VOCABULARY = ("https://w3id.org/iimkg/", "http://www.w3.org/", "http://purl.org/")
COPIES = 2


def _cohort(blank: bool) -> list[list[str]]:
    """The example plans, each copied :data:`COPIES` times with its own IRIs (or blank nodes) and identifiers: per
    copy of a file, its N-Triples lines."""
    cohort = []
    for copy in range(COPIES):
        for path in EXAMPLES:
            quads = list(ox.parse(path=str(path), format=ox.RdfFormat.TURTLE, base_iri=path.resolve().as_uri()))
            names: dict[str, str] = {}
            described = {q.subject for q in quads} if blank else set()  # the plans and their resources

            def term(node: object, copy: int = copy, path: Path = path, names: dict[str, str] = names,
                     described: set[object] = described) -> str:
                if isinstance(node, ox.BlankNode) or node in described:
                    key = str(node)
                    return names.setdefault(key, f"_:c{copy}{path.stem.replace('-', '')}n{len(names)}")
                if isinstance(node, ox.NamedNode) and not node.value.startswith(VOCABULARY):
                    return f"<{node.value}-copy{copy}>"
                if isinstance(node, ox.Literal) and node.datatype.value.endswith("#string"):
                    return str(ox.Literal(f"{node.value}-copy{copy}"))
                return str(node)

            cohort.append([f"{term(q.subject)} {q.predicate} {term(q.object)} .\n" for q in quads])
    return cohort


def _plans(lines: list[str]) -> int:
    """The plans among ``lines``, counted from the data."""
    return sum(1 for line in lines if "#type> <https://w3id.org/iimkg/TreatmentPlan>" in line)


def _write(folder: Path, lines: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "plans.nt"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _report(result: object) -> str:
    """The JSON and text reports without the run time; blank-node labels (drawn at random when a file is read, in
    every layout) made equal."""
    text = render_report(result, "json") + render_report(result, "text")  # type: ignore[arg-type]
    text = re.sub(r'"seconds": [0-9.]+', "", text)
    text = re.sub(r" in [0-9.]+ s:", ":", text)
    return _blank(text)


def _blank(text: str) -> str:
    return re.sub(r"_:[0-9a-f]+", "_:b", text)


def _findings_of(path: Path, monkeypatch: pytest.MonkeyPatch, chunk_plans: int) -> str:
    """The JSON report of one file, run from its folder, without the run time and the file's name: what the same
    plans in another syntax must give too."""
    monkeypatch.chdir(path.parent)
    report = json.loads(render_report(validate_plans([Path(path.name)], workers=1, chunk_plans=chunk_plans), "json"))
    report["summary"].pop("seconds")
    for finding in report["findings"]:
        finding.pop("file")
    return _blank(json.dumps(report))


@pytest.fixture(autouse=True)
def _here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # reports name files relative to the working directory: the same in every layout


@pytest.mark.parametrize("blank", [False, True], ids=["iri-plans", "blank-node-plans"])
def test_interleaved_chunked_spilled_is_the_unchunked_contiguous_report(tmp_path: Path, blank: bool,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    cohort = _cohort(blank)
    contiguous = _write(tmp_path / "contiguous", [line for plan in cohort for line in plan])
    mixed = [line for plan in cohort for line in plan]
    random.Random(16).shuffle(mixed)  # plans interleaved, prescriptions before their plans
    interleaved = _write(tmp_path / "interleaved", mixed)

    monkeypatch.chdir(contiguous.parent)
    reference = validate_plans([Path("plans.nt")], workers=1, chunk_plans=10**9)
    assert reference.plans == _plans(mixed) and reference.findings
    expected = _report(reference)

    monkeypatch.chdir(interleaved.parent)
    assert _report(validate_plans([Path("plans.nt")], workers=1, chunk_plans=3)) == expected
    monkeypatch.setattr(grouping, "WINDOW_LINES", 150)  # spill most groups: late lines make the file read again
    assert _report(validate_plans([Path("plans.nt")], workers=1, chunk_plans=20)) == expected
    assert _report(validate_plans([Path("plans.nt")], workers=2, chunk_plans=8)) == expected


def test_each_unit_holds_whole_plans_whatever_the_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cohort = _cohort(blank=True)
    mixed = [line for plan in cohort for line in plan]
    random.Random(3).shuffle(mixed)
    path = _write(tmp_path, mixed)
    monkeypatch.setattr(grouping, "WINDOW_LINES", 25)
    units = list(split_plans(path))
    assert sum(u.plans for u in units) == _plans(mixed)
    assert sum(len(u.data.splitlines()) for u in units) == len(mixed)
    assert sorted(line for u in units for line in u.data.decode().splitlines(keepends=True)) == sorted(mixed)
    for unit in units:  # no blank node in two units
        labels = set(re.findall(r"_:\w+", unit.data.decode()))
        assert not any(labels & set(re.findall(r"_:\w+", other.data.decode())) for other in units if other is not unit)
    assert pickle.loads(pickle.dumps(units[0])) == units[0]


class _Counted(grouping.Grouper):
    """The splitter's grouper, each one made kept, to read how often it spilled."""

    made: ClassVar[list[grouping.Grouper]] = []

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        _Counted.made.append(self)


@pytest.mark.parametrize("blank", [False, True], ids=["iri-plans", "blank-node-plans"])
def test_a_sorted_file_is_split_exactly_in_rounds_of_half_a_window(tmp_path: Path, blank: bool,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines in the order of their subjects (``sort``, a triplestore's dump): each plan's lines are spread over the
    file and every group in memory is touched again and again. The window is still spilled only once per half window
    (it was spilled at every line once full, a scan of all groups each time), the optimistic split is given up as
    soon as the file shows scattered, and the joined groups come back a bucket at a time, whole."""
    from iimkg.plans import splitting

    def scattered(line: str) -> str:  # blank node labels as a store draws them, unrelated to the plan's
        return re.sub(r"_:(\w+)", lambda m: "_:b" + hashlib.sha1(m.group(1).encode()).hexdigest()[:16], line)

    lines = [scattered(line) for plan in _cohort(blank) for line in plan]
    contiguous = _write(tmp_path / "contiguous", lines)
    ordered = sorted(lines)
    path = _write(tmp_path / "sorted", ordered)
    monkeypatch.chdir(contiguous.parent)
    expected = _report(validate_plans([Path("plans.nt")], workers=1, chunk_plans=10**9))

    window = 60
    monkeypatch.setattr(grouping, "WINDOW_LINES", window)
    monkeypatch.setattr(grouping, "_SCATTERED", 5)
    monkeypatch.setattr(grouping, "BUCKET_BYTES", 2_000)
    monkeypatch.setattr(splitting, "Grouper", _Counted)
    _Counted.made.clear()
    vocabulary = splitting.plan_vocabulary(ROOT / "ontology" / "iim.ttl")
    items = list(splitting.split_file(path, None, vocabulary, optimistic=True))
    restart = next(i for i, item in enumerate(items) if isinstance(item, splitting.Restart))
    units = [item for item in items[restart + 1:] if isinstance(item, PlanUnit)]
    assert restart < len(units) / 2  # given up early, not after a whole first pass
    first, exact = _Counted.made
    assert first.scattered and not exact.late
    assert 0 < exact.rounds <= 2 * len(ordered) // window + 1
    assert sum(u.plans for u in units) == _plans(ordered)
    assert sorted(line for u in units for line in u.data.decode().splitlines(keepends=True)) == ordered
    for unit in units:  # no node described in two units
        subjects = {line.split(" ", 1)[0] for line in unit.data.decode().splitlines()}
        assert not any(subjects & {line.split(" ", 1)[0] for line in other.data.decode().splitlines()}
                       for other in units if other is not unit)

    monkeypatch.chdir(path.parent)
    assert _report(validate_plans([Path("plans.nt")], workers=1, chunk_plans=4)) == expected


_PLAN_TYPE, _TYPE = b"<https://w3id.org/iimkg/TreatmentPlan>", f"<{RDF_TYPE}>".encode()


def _grouper(link: bytes, window: int) -> grouping.Grouper:
    """A grouper for N-Triples lines whose plans link to their parts by ``link`` alone."""
    return grouping.Grouper(frozenset({link}), frozenset({_PLAN_TYPE}), _TYPE, window)


def test_a_window_of_scattered_plans_is_spilled_once_per_half_window() -> None:
    """The layout of a sorted dump: every plan's own lines first, then the lines of its prescriptions (blank nodes)
    in an order unrelated to the plans', so nearly every plan in memory is touched again within any half window, and
    the groups made for the prescriptions of plans already spilled are young. The window must still be spilled about
    once per half window: spilling only groups older than half a window freed a few lines at a time, and the window
    was spilled again (a scan of every group in memory) every few lines once full."""
    prescription = b"<https://w3id.org/iimkg/prescription>"
    plans = [b"<https://example.org/p%d>" % n for n in range(2000)]
    own, described = [], []
    for n, plan in enumerate(plans):
        own.append(b"%s %s %s .\n" % (plan, _TYPE, _PLAN_TYPE))
        for k in range(13):
            node = b"_:b" + hashlib.sha1(b"%d-%d" % (n, k)).hexdigest().encode()
            own.append(b"%s %s %s .\n" % (plan, prescription, node))
            described += [b'%s <https://w3id.org/iimkg/dailyDoseMg> "%d" .\n' % (node, d) for d in range(2)]
    lines = own + sorted(described)
    window = len(own) * 2 // 3  # spilled among the plans' own lines first, as a large file is
    grouper = _grouper(prescription, window)
    grouper.add(lines)
    groups = list(grouper.groups())
    assert grouper.rounds <= 2 * len(lines) // window + 1
    assert sorted(line for g in groups for piece in g.lines for line in piece.splitlines(keepends=True)) == \
        sorted(lines)
    assert sum(g.plans for g in groups) == len(plans) and all(g.plans == 1 for g in groups)


def test_a_plan_larger_than_the_window_stays_whole_and_spills_once_per_half_window() -> None:
    """One plan of far more lines than the window, between small ones: it is kept whole in memory (a plan is checked
    whole), and the others are still spilled about once per half window. Before, the window was full of the group
    being filled, nothing could be spilled, and every line spilled again, scanning all the plan's nodes: 56 s for
    60,000 lines and a window of 1,000, against 0.4 s."""
    link = b"<https://w3id.org/iimkg/coIntervention>"

    def small(n: int) -> list[bytes]:
        return [b"<https://example.org/p%d> %s %s .\n" % (n, _TYPE, _PLAN_TYPE),
                b"<https://example.org/p%d> %s _:s%d .\n" % (n, link, n), b'_:s%d <https://example.org/x> "1" .\n' % n]

    giant = [b"<https://example.org/big> %s %s .\n" % (_TYPE, _PLAN_TYPE)]
    for k in range(10_000):
        giant += [b"<https://example.org/big> %s _:g%d .\n" % (link, k), b'_:g%d <https://example.org/x> "1" .\n' % k]
    lines = [line for n in range(50) for line in small(n)] + giant + [line for n in range(50, 100) for line in small(n)]
    window = 1_000
    grouper = _grouper(link, window)
    grouper.add(lines)
    groups = list(grouper.groups())
    assert grouper.rounds <= 2 * len(lines) // window + 1
    sizes = sorted(sum(piece.count(b"\n") for piece in g.lines) for g in groups)
    assert sizes[-1] == len(giant) and len(groups) == 101 and all(g.plans == 1 for g in groups)


def test_turtle_and_n_triples_of_the_same_plans_give_the_same_findings(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [line for plan in _cohort(blank=False)[:len(EXAMPLES)] for line in plan]
    nt = _write(tmp_path / "nt", lines)
    ttl = tmp_path / "ttl" / "plans.ttl"
    ttl.parent.mkdir()
    ttl.write_bytes(ox.serialize(ox.parse(path=str(nt), format=ox.RdfFormat.N_TRIPLES),
                                 format=ox.RdfFormat.TURTLE) or b"")
    assert _findings_of(ttl, monkeypatch, 2) == _findings_of(nt, monkeypatch, 2)


@pytest.mark.parametrize("layout", ["graph", "list", "named-graph"])
def test_json_ld_is_split_by_plan_and_gives_the_n_triples_findings(tmp_path: Path, layout: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [line for plan in _cohort(blank=True) for line in plan]
    nt = _write(tmp_path / "nt", lines)
    listed = ox.serialize(ox.parse(path=str(nt), format=ox.RdfFormat.N_TRIPLES), format=ox.RdfFormat.JSON_LD)
    document = json.loads(listed or b"[]")  # pyoxigraph writes a top-level list; rdflib a context and a @graph
    jsonld = tmp_path / "jsonld" / "plans.jsonld"
    jsonld.parent.mkdir()
    layouts = {"list": document, "graph": {"@context": {}, "@graph": document},
               "named-graph": {"@id": "urn:cohort", "@graph": document}}  # read whole, into a named graph
    jsonld.write_text(json.dumps(layouts[layout], indent=1))
    monkeypatch.setattr(jsonld_pieces, "PIECE_CHARS", 3000)
    units = list(split_plans(jsonld))
    assert len(units) > 1 and sum(unit.plans for unit in units) == _plans(lines)  # whole plans, not the file
    assert _findings_of(jsonld, monkeypatch, 4) == _findings_of(nt, monkeypatch, 4)


@pytest.mark.parametrize("fmt", [ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG], ids=["n-quads", "trig"])
def test_a_plan_files_named_graphs_are_checked_as_one_graph(tmp_path: Path, fmt: ox.RdfFormat,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that keeps each plan in a named graph of its own: its plans are checked as if it had none. (They were
    not checked at all: "PASS" with every plan counted and nothing found.)"""
    cohort = _cohort(blank=False)
    nt = _write(tmp_path / "nt", [line for plan in cohort for line in plan])
    quads = [ox.Quad(q.subject, q.predicate, q.object, ox.NamedNode(f"urn:graph:{number}"))
             for number, plan in enumerate(cohort) for q in ox.parse("".join(plan), format=ox.RdfFormat.N_TRIPLES)]
    graphs = tmp_path / "graphs" / f"plans.{fmt.file_extension}"
    graphs.parent.mkdir()
    graphs.write_bytes(ox.serialize(quads, format=fmt) or b"")
    assert _findings_of(graphs, monkeypatch, 3) == _findings_of(nt, monkeypatch, 3)
    # the reference engine (pyshacl) reads each file from a graph of its own: all of the file is in it
    store, graph = ox.Store(), ox.NamedNode("urn:the-file")
    load_plan_file(store, graphs, graph, None)
    assert len(store) == len(list(store.quads_for_pattern(None, None, None, graph))) == len(quads)


def test_check_units_takes_units_from_anywhere(tmp_path: Path) -> None:
    lines = [line for plan in _cohort(blank=False)[:4] for line in plan]
    path = _write(tmp_path, lines)
    units = list(split_plans(path))
    result = check_units(reversed(units), chunk_plans=1, workers=1)
    reference = validate_plans([path], workers=1)
    assert result.plans == reference.plans == _plans(lines)
    assert result.findings == reference.findings


def test_a_plan_in_two_files_is_still_an_error(tmp_path: Path) -> None:
    lines = _cohort(blank=False)[0]
    one, two = _write(tmp_path / "a", lines), _write(tmp_path / "b", lines)
    with pytest.raises(InputError, match="also described in") as fast:
        validate_plans([one, two], workers=1)
    with pytest.raises(InputError) as reference:  # refused as the files are read, before pyshacl runs
        validate_plans([one, two], engine="rdflib")
    assert str(fast.value) == str(reference.value)  # the same words (the IRI in <>, as Spark says it too)


def test_a_syntax_error_deep_in_a_split_file_names_the_files_line(tmp_path: Path) -> None:
    lines = [line for plan in _cohort(blank=False) for line in plan]
    broken = len(lines) - 5
    lines[broken] = lines[broken].replace(" .\n", ' "unterminated .\n') if '"' not in lines[broken] else \
        lines[broken].replace('"', "", 1)
    path = _write(tmp_path, lines)
    with pytest.raises(InputError) as raised:
        validate_plans([path], workers=1, chunk_plans=2)
    assert raised.value.line == broken + 1
    assert raised.value.path is not None and Path(raised.value.path).name == "plans.nt"


def test_a_file_without_plans_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, ['<https://example.org/x> <https://w3id.org/iimkg/ageYears> "3" .\n'])
    with pytest.raises(InputError, match="no treatment plan"):
        list(split_plans(path))


def test_a_unit_is_plain_data() -> None:
    unit = PlanUnit("plans.nt", b"", ox.RdfFormat.N_TRIPLES.media_type, 0)
    assert ox.RdfFormat.from_media_type(unit.format) == ox.RdfFormat.N_TRIPLES


def test_the_json_report_written_a_finding_at_a_time_is_json_dumps_of_the_whole(tmp_path: Path) -> None:
    import io

    from iimkg.shacl.reports import _summary, write_report

    for files in ([ROOT / "examples" / "plans" / "several-findings.ttl"],
                  [ROOT / "examples" / "plans" / "conforming-dermatomyositis.ttl"]):
        result = validate_plans(files, workers=1)
        whole = json.dumps({"conforms": result.conforms, "findings": [f.to_json() for f in result.findings],
                            "summary": _summary(result)}, indent=2, ensure_ascii=False) + "\n"
        out = io.StringIO()
        write_report(result, "json", out)
        assert out.getvalue() == whole == render_report(result, "json")


@pytest.mark.parametrize("text", ['a "quoted" word', "back\\slash /", "tab\tnew\nline\rcr \x00 \x1f \x7f",
                                  "µg ≥ 20 mg, Müller, 日本語, 🙂", "line\u2028paragraph\u2029",
                                  "lone \ud800 surrogate", ""])
def test_a_findings_strings_are_written_as_json_dumps_writes_them(text: str) -> None:
    """The JSON report writes a finding's lines itself (json's pure-Python encoder, which indent needs, was its
    longest step): any string a message, a focus or a file name can hold comes out as json.dumps gives it."""
    import io

    from iimkg.shacl.reports import _summary, write_report

    findings = [Finding(severity=Severity.VIOLATION, rule="r", message=text, focus=text, file=text, source=None,
                        plan=text or None, value=text, statements=text),
                Finding(severity=Severity.INFO, rule=text, message="m", focus="f", file="x.ttl", source=text)]
    result = ValidationResult(files=["x.ttl", text], rules=[], findings=findings, fail_on=Severity.VIOLATION,
                              report=lambda: rdflib.Graph(), plans=2)
    whole = json.dumps({"conforms": result.conforms, "findings": [f.to_json() for f in result.findings],
                        "summary": _summary(result)}, indent=2, ensure_ascii=False) + "\n"
    out = io.StringIO()
    write_report(result, "json", out)
    assert out.getvalue() == whole


PREFIXES = "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n@prefix iim: <https://w3id.org/iimkg/> ."
# a plan written as a blank node, whose patient and prescription are blank nodes too
ANONYMOUS_PLAN = """
[ a iim:TreatmentPlan ;
    iim:planDate "2026-03-02"^^xsd:date ;
    iim:diagnosis iim:IIM_0000005 ;
    iim:patient [ iim:sex iim:Female ; iim:ageYears 49 ] ;
    iim:prescription [ iim:prescribedDrug iim:IIM_0000104 ; iim:dailyDoseMg 7.5 ;
                       iim:startDate "2026-03-02"^^xsd:date ; iim:plannedDurationDays 365 ] ] .
"""


def test_blank_nodes_are_named_the_same_in_every_run(tmp_path: Path) -> None:
    """A nightly job compares tonight's report with last night's: blank-node plans (N-Triples labels and Turtle's
    anonymous nodes) are named by what they describe, not by the labels a store draws at random. Two plans alike in
    every triple stay two plans."""
    cohort = _cohort(blank=True)
    lines = _write(tmp_path / "nt", [line for plan in cohort for line in plan])
    anonymous = tmp_path / "anonymous.ttl"
    anonymous.write_text(PREFIXES + ANONYMOUS_PLAN * 2, encoding="utf-8")
    runs = [validate_plans([lines, anonymous], workers=workers, chunk_plans=5) for workers in (1, 2, 1)]
    reports = [re.sub(r'"seconds": [0-9.]+', "", render_report(run, "json")) for run in runs]  # type: ignore[arg-type]
    assert reports[0] == reports[1] == reports[2]
    assert runs[0].plans == _plans([line for plan in cohort for line in plan]) + 2
    twins = [f for f in runs[0].findings if f.file.endswith("anonymous.ttl")]
    assert twins and len({f.plan for f in twins}) == 2, "the two plans alike are two plans"
    assert all(f.plan and f.plan.startswith("_:") for f in twins)
    once = validate_plans([anonymous], workers=1, chunk_plans=1)
    assert len(twins) == len(once.findings)


def test_blank_node_labels_do_not_depend_on_the_chunking(tmp_path: Path) -> None:
    """A plan's label is the same whatever chunk it is checked in (the chunk size, the workers; a Spark partition,
    in test_spark): it is made with where the plan is in its file, not with the chunk's number. Plans alike in every
    triple, in one chunk or in two, stay two plans."""
    cohort = _cohort(blank=True)
    lines = _write(tmp_path / "nt", [line for plan in cohort for line in plan])
    anonymous = tmp_path / "anonymous.ttl"
    anonymous.write_text(PREFIXES + ANONYMOUS_PLAN * 3, encoding="utf-8")
    runs = [validate_plans([lines, anonymous], workers=workers, chunk_plans=plans)
            for workers, plans in ((1, 1), (2, 2), (1, 7), (2, 1_000))]
    reports = [re.sub(r'"seconds": [0-9.]+', "", render_report(run, "json")) for run in runs]  # type: ignore[arg-type]
    assert reports[0] == reports[1] == reports[2] == reports[3]
    for run in runs:
        twins = [f for f in run.findings if f.file.endswith("anonymous.ttl")]
        assert len({f.plan for f in twins}) == 3, "three plans alike are three plans, in one chunk or in three"
        assert len(twins) == 3 * len({(f.rule, f.message) for f in twins})


def test_a_files_blank_node_labels_do_not_depend_on_the_files_checked_with_it(tmp_path: Path) -> None:
    """Two small files share a chunk, their blank-node plans alike in their own triples (not in their
    prescriptions): each file's findings, labels included, are those it has checked alone."""
    files = []
    for name, dose in (("a.nt", "7.5"), ("b.nt", "60")):
        quads = ox.parse((PREFIXES + ANONYMOUS_PLAN.replace("7.5", dose)).encode(), format=ox.RdfFormat.TURTLE)
        files.append(tmp_path / name)
        files[-1].write_bytes(ox.serialize(list(quads), format=ox.RdfFormat.N_TRIPLES) or b"")
    together = validate_plans(files, workers=1)
    alone = [finding for path in files for finding in validate_plans([path], workers=1).findings]
    assert sorted(map(repr, together.findings)) == sorted(map(repr, alone))
    assert len({f.file for f in together.findings}) == 2
    assert all(f.plan and f.plan.startswith("_:") for f in together.findings)


def test_plans_whose_place_is_not_known_keep_labels_of_their_chunk(tmp_path: Path) -> None:
    """Units made by a caller, not cut from a file's lines, do not say where they are in the file: plans alike in
    every triple, in two chunks, are still two plans, by the chunk's number in front of their labels."""
    quads = ox.parse((PREFIXES + ANONYMOUS_PLAN).encode(), format=ox.RdfFormat.TURTLE)
    data = ox.serialize(list(quads), format=ox.RdfFormat.N_TRIPLES) or b""
    units = [PlanUnit("made.nt", data.replace(b"_:", b"_:u%d" % n), ox.RdfFormat.N_TRIPLES.media_type, 1)
             for n in range(2)]
    result = check_units(units, workers=1, chunk_plans=1)
    plans = {f.plan for f in result.findings}
    assert result.plans == 2 and len(plans) == 2
    assert all(plan and plan.startswith("_:c") for plan in plans)


def test_chunks_are_cut_by_lines_not_by_the_lengths_of_blank_node_labels() -> None:
    """A unit parsed from Turtle carries labels drawn at random, of varying length; where a chunk ends must not
    vary with them, since the chunk's number is part of the labels findings give blank nodes whose place in the
    file is not known."""
    from iimkg.plans.units import chunked

    def units(seed: int) -> list[PlanUnit]:
        rng = random.Random(seed)
        made = []
        for _ in range(200):
            label = "a" * rng.choice((29, 30, 31, 32))
            data = "".join(f"_:{label} <https://example.org/p> {n} .\n" for n in range(50)).encode()
            made.append(PlanUnit("plans.ttl", data, ox.RdfFormat.N_TRIPLES.media_type, 1))
        return made

    def cuts(seed: int) -> list[int]:
        return [len(chunk) for chunk in chunked(units(seed), plans=10**9, lines=1_234) if isinstance(chunk, list)]

    assert cuts(1) == cuts(2) == cuts(3)
    assert cuts(1)[0] == 1_234 // 50

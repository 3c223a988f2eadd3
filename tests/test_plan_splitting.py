"""The splitter's fast reading of N-Triples and N-Quads lines (plans/grouping.py, plans/splitting.py): a line is
taken apart by its spaces only when that cannot be wrong; whatever a literal holds, however the lines end, wherever
a block of the file ends, a plan's lines are grouped as a parser would group them, and errors name the file's line."""

from __future__ import annotations

import itertools
from pathlib import Path

import pyoxigraph as ox
import pytest

from iimkg.core.errors import InputError
from iimkg.plans import grouping, splitting
from iimkg.plans.units import split_plans

PLAN = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/iimkg/TreatmentPlan>"
PRESCRIPTION = "<https://w3id.org/iimkg/prescription>"
DOSE = "<https://w3id.org/iimkg/dailyDoseMg>"
NOTE = "<http://www.w3.org/2000/01/rdf-schema#comment>"
# Literals that hold what the fast reading looks for: a space and "<", a blank node, the end of a triple, escapes.
TRICKY = ['"see <http://example.org/b> and _:b1 \\" ."', '"a \\" quote <x> \\" . _:b1"', '"tab\\there # not a comment"',
          '"ends with a backslash \\\\"', '"\\u00e9 <http://example.org/a>"@fr', '"x"^^<http://example.org/t>']


def _plans() -> dict[str, list[str]]:
    """Two plans, each with a blank-node prescription and notes holding the tricky literals (per plan, its lines)."""
    plans = {}
    for name in ("a", "b"):
        node, rx = f"<http://example.org/{name}>", f"_:rx{name}"
        plans[name] = [f"{node} {PLAN} .", f'{rx} {DOSE} "10"^^<http://www.w3.org/2001/XMLSchema#decimal> .',
                       f"{node} {PRESCRIPTION} {rx} .", *(f"{node} {NOTE} {literal} ." for literal in TRICKY),
                       f"{rx} {NOTE} {TRICKY[1]} ."]
    return plans


def _interleaved(plans: dict[str, list[str]]) -> list[str]:
    return [line for pair in itertools.zip_longest(plans["a"], plans["b"]) for line in pair if line is not None]


def _units(path: Path) -> list[set[str]]:
    """Each unit's triples, as a parser reads them (blank-node labels kept), and the triples must load."""
    return [{str(q.triple) for q in ox.parse(unit.data, format=ox.RdfFormat.from_media_type(unit.format))}
            for unit in split_plans(path)]


def _expected(plans: dict[str, list[str]], fmt: ox.RdfFormat = ox.RdfFormat.N_TRIPLES) -> list[set[str]]:
    return [{str(q.triple) for q in ox.parse("\n".join(lines).encode(), format=fmt)} for lines in plans.values()]


def test_literals_that_look_like_terms_do_not_join_plans(tmp_path: Path) -> None:
    plans = _plans()
    path = tmp_path / "plans.nt"
    path.write_text("\n".join(_interleaved(plans)) + "\n", encoding="utf-8")
    assert _units(path) == _expected(plans)


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_line_ends_comments_blank_lines_and_no_final_newline(tmp_path: Path, end: str) -> None:
    plans = _plans()
    lines = ["# a comment <http://example.org/a> _:rxb .", "", *_interleaved(plans), "   ", "# the end"]
    lines.append(lines.pop(-3))  # the last triple ends the file, without a line end
    path = tmp_path / "plans.nt"
    path.write_bytes(end.join(lines).encode())
    assert _units(path) == _expected(plans)


def test_block_edges_fall_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plans = _plans()
    path = tmp_path / "plans.nt"
    path.write_bytes("\r\n".join(_interleaved(plans)).encode())
    expected = [unit.data for unit in split_plans(path)]
    for size in (1, 7, 64):  # blocks shorter than a line, and cut inside a line end
        monkeypatch.setattr(splitting, "_BLOCK_BYTES", size)
        assert [unit.data for unit in split_plans(path)] == expected


def test_lines_written_otherwise_are_parsed(tmp_path: Path) -> None:
    """Tabs, several spaces, no space, escaped IRIs (the same node as unescaped), a blank node stuck to the dot:
    all valid N-Triples, grouped as a parser would."""
    plans = _plans()
    plans["a"] += [f"<http://example.org/\\u0061>\t{NOTE}\t\"tabbed\" .",
                   f"<http://example.org/a>  {PRESCRIPTION}  _:rxa2.",
                   f"_:rxa2{DOSE}\"5\".",
                   f"<http://example.org/b>{NOTE}\"no spaces\"."]
    plans["b"].append(plans["a"].pop())
    path = tmp_path / "plans.nt"
    path.write_text("\n".join(_interleaved(plans)) + "\n", encoding="utf-8")
    assert _units(path) == _expected(plans)


def test_n_quads_graph_terms(tmp_path: Path) -> None:
    plans = _plans()
    graph = "<http://example.org/g>"
    quads = {name: [line[:-2] + f" {graph} ." if i % 2 else line for i, line in enumerate(lines)]
             for name, lines in plans.items()}
    quads["b"].append(f"<http://example.org/b> {PRESCRIPTION} _:rxb2{graph} .")  # a blank node stuck to the graph
    quads["b"].append(f"_:rxb2 {DOSE} \"1\" _:g .")
    path = tmp_path / "plans.nq"
    path.write_text("\n".join(_interleaved(quads)) + "\n", encoding="utf-8")

    def triples(data: bytes, fmt: ox.RdfFormat) -> set[str]:
        return {f"{q.subject} {q.predicate} {q.object}" for q in ox.parse(data, format=fmt)}

    # each plan whole, as triples: a plan file is one graph, its named graphs merged (376b849: kept in their
    # graphs, the plans went unchecked)
    units = [triples(u.data, ox.RdfFormat.from_media_type(u.format)) for u in split_plans(path)]
    expected = [triples("\n".join(lines).encode(), ox.RdfFormat.N_QUADS) for lines in quads.values()]
    assert units == expected


def test_a_very_long_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(splitting, "_BLOCK_BYTES", 1 << 12)
    plans = _plans()
    plans["b"].append(f'<http://example.org/b> {NOTE} "{"x <y> _:z " * 10_000}" .')
    path = tmp_path / "plans.nt"
    path.write_text("\n".join(_interleaved(plans)) + "\n", encoding="utf-8")
    assert _units(path) == _expected(plans)


@pytest.mark.parametrize("window", [3, grouping.WINDOW_LINES])
def test_blank_node_plans_and_a_prescription_before_its_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             window: int) -> None:
    monkeypatch.setattr(grouping, "WINDOW_LINES", window)
    plans = {name: [line.replace(f"<http://example.org/{name}>", f"_:plan{name}") for line in lines]
             for name, lines in _plans().items()}
    for lines in plans.values():
        lines.reverse()  # the prescription's lines before the plan's
    path = tmp_path / "plans.nt"
    path.write_text("\n".join(plans["a"] + plans["b"]) + "\n", encoding="utf-8")
    assert _units(path) == _expected(plans)


def test_a_syntax_error_names_the_files_line_across_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(splitting, "_BLOCK_BYTES", 100)
    lines = _interleaved(_plans())
    lines.insert(9, "# a comment")
    lines.insert(17, f'<http://example.org/a> {NOTE}\t"unterminated .')
    path = tmp_path / "plans.nt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as raised:
        list(split_plans(path))
    assert raised.value.line == 18
    assert raised.value.column is not None


def test_turtle_is_split_as_its_n_triples(tmp_path: Path) -> None:
    plans = _plans()
    nt = tmp_path / "plans.nt"
    nt.write_text("\n".join(_interleaved(plans)) + "\n", encoding="utf-8")
    ttl = tmp_path / "plans.ttl"
    ttl.write_bytes(ox.serialize(ox.parse(path=str(nt)), format=ox.RdfFormat.TURTLE) or b"")
    assert [len(unit) for unit in _units(ttl)] == [len(unit) for unit in _expected(plans)]
    assert sum(unit.plans for unit in split_plans(ttl)) == len(plans)
    ttl.write_text(ttl.read_text(encoding="utf-8") + "\n<http://example.org/a> <p> .\n", encoding="utf-8")
    with pytest.raises(InputError) as raised:
        list(split_plans(ttl))
    assert raised.value.line == len(ttl.read_text(encoding="utf-8").splitlines())


def test_a_line_over_a_limit_smaller_than_a_read_is_refused_at_its_line(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The input policy may bound a line below the splitter's 1 MB reads (from Python, ``limits.configure``): a line
    over it is refused at its line even when it lies within one read."""
    from iimkg.core import limits

    lines = [line for plan in _plans().values() for line in plan]
    longest = max(len(line) for line in lines) + 1
    long_line = f'<http://example.org/a> {NOTE} "{"x" * (2 * longest)}" .'
    plain, path = tmp_path / "plain.nt", tmp_path / "plans.nt"
    plain.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.write_text("\n".join([*lines[:4], long_line, *lines[4:]]) + "\n", encoding="utf-8")
    monkeypatch.setattr(limits, "_current", limits.Limits(max_input_bytes=longest + 64))
    assert sum(unit.plans for unit in split_plans(plain)) == len(_plans())  # the other lines are within it
    with pytest.raises(InputError) as caught:
        list(split_plans(path))
    assert caught.value.line == 5 and "longer than the input limit" in str(caught.value)

"""The input policy's own checks (core/limits.py), each bounded whatever the input."""

from __future__ import annotations

import json

import pytest

from iimkg.core.errors import InputError
from iimkg.core.limits import Limits, check_json_depth, json_depth, nesting_depth


def test_json_depth_ignores_brackets_inside_strings() -> None:
    assert json_depth('{"a": ["[[[{{{", {"b": "\\\\\\"]]"}]}')[0] == 3


def test_json_nested_100000_deep_is_refused_with_its_place() -> None:
    text = '{"resourceType": "Bundle", "x":\n' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(InputError) as caught:
        check_json_depth(text, "deep.json", Limits(max_depth=64))
    assert caught.value.line == 2 and caught.value.column == 64
    with pytest.raises(RecursionError):  # what the check prevents
        json.loads(text)


def test_json_within_the_limit_passes() -> None:
    check_json_depth(json.dumps({"a": [[[[{"b": 1}]]]]}), "ok.json", Limits(max_depth=64))


def test_query_depth_counts_every_bracket_kind() -> None:
    assert nesting_depth("SELECT * { ?s ?p ( [ ?o ] ) }")[0] == 3

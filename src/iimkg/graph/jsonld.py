"""JSON-LD without the network: the shipped plan context is inlined where a document names it by its IRI, and any
other remote context is refused with a clear error (pyoxigraph would otherwise fail on its missing document loader,
and rdflib would fetch it).

Every entry point that reads JSON-LD (plan files, ``iimkg sparql --data``, ``iimkg serve --data``) goes through
:func:`jsonld_with_context`, so they accept and refuse the same documents.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from iimkg.core.errors import InputError
from iimkg.core.limits import check_json_depth, json_int
from iimkg.core.resources import data_dir
from iimkg.core.vocab import PLAN_CONTEXT_IRI

__all__ = ["check_contexts", "inline_context", "jsonld_with_context", "plan_context", "plan_context_file"]


def plan_context_file() -> Path:
    """The JSON-LD context for plans written as JSON (``ontology/plan-context.jsonld``)."""
    return data_dir() / "ontology" / "plan-context.jsonld"


@functools.cache
def plan_context() -> Any:
    """The value of the shipped context's ``@context``, which replaces :data:`PLAN_CONTEXT_IRI` in documents."""
    return json.loads(plan_context_file().read_text(encoding="utf-8"))["@context"]


def jsonld_with_context(path: Path) -> bytes:
    """A JSON-LD file with the iimkg context inlined where it is named by IRI (no network is used).

    The context goes in on the line where its IRI was, so line numbers in later errors stay those of the file.

    Bad input stops here with one line: not UTF-8, not JSON, nested deeper than the input policy allows
    (:mod:`iimkg.core.limits`), or naming a remote context other than the iimkg one.

    :raises InputError: naming the file (line and column where known).
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"the file is not UTF-8 text: {error.reason}", path=path) from None
    check_json_depth(text, path)  # json recurses: a document nested 100,000 deep is an error, not a traceback
    try:
        document = json.loads(text, parse_int=json_int)
    except json.JSONDecodeError as error:
        raise InputError(f"not valid JSON: {error.msg}", path=path, line=error.lineno, column=error.colno) from None
    check_contexts(document, path)
    return inline_context(text).encode("utf-8")


def check_contexts(document: Any, path: Path, line: int | None = None, column: int | None = None) -> None:
    """Refuse a document (or a part of one) that names a remote context other than the iimkg one.

    :raises InputError: naming the file (and the place of the part, if given) and the context.
    """
    for context in _contexts(document):
        if isinstance(context, str) and context != PLAN_CONTEXT_IRI:
            raise InputError(
                f"the JSON-LD context {context!r} is not one iimkg can load (it fetches nothing from the network); "
                f"use \"{PLAN_CONTEXT_IRI}\" or write the context in the file", path=path, line=line, column=column)


def inline_context(text: str) -> str:
    """``text`` with the shipped context written in where its IRI is (on the same line: later lines keep their
    numbers)."""
    inline = json.dumps(plan_context(), ensure_ascii=False, separators=(",", ":"))
    return _CONTEXT_IRI.sub(lambda _: inline, text)


_CONTEXT_IRI = re.compile(r'"' + re.escape(PLAN_CONTEXT_IRI) + r'"')


def _contexts(node: Any) -> Iterable[Any]:
    """Every ``@context`` value in a document, at any depth (scoped contexts included)."""
    if isinstance(node, dict):
        context = node.get("@context")
        if context is not None:
            yield from context if isinstance(context, list) else [context]
        for key, value in node.items():
            if key != "@context":
                yield from _contexts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _contexts(item)

"""Read FHIR R4 JSON (a Bundle, a single resource, or Bulk Data NDJSON) with the place of every resource."""

from __future__ import annotations

import bisect
import codecs
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from iimkg.core.errors import InputError, require_file
from iimkg.core.jsonstream import shifted
from iimkg.core.limits import check_json_depth, json_int
from iimkg.graph.loading import RDF_SUFFIXES
from iimkg.plans.model import Located

__all__ = ["NDJSON_SUFFIXES", "NO_RESOURCE", "file_head", "is_blank", "is_fhir_file", "is_ndjson",
           "no_resource_message", "read_bundle_entry", "read_fhir", "read_fhir_text", "read_ndjson_line"]

NDJSON_SUFFIXES = (".ndjson", ".jsonl")
NO_RESOURCE = "the Bundle holds no resource; nothing to convert or check"
_EMPTY_FILE = "the file is empty; expected a FHIR resource, a Bundle or NDJSON (one resource per line)"
_RESOURCE_TYPE_KEY = re.compile(r'"resourceType"\s*:')
_RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]+$")
# How far into a .json file we look for "resourceType" when telling FHIR from other JSON (JSON-LD plans).
_SNIFF_CHARS = 65536
# extensions that name a syntax: a file named so is never taken for NDJSON by its content
_NAMED_SYNTAX = RDF_SUFFIXES | {".json"}






def is_fhir_file(path: Path) -> bool:
    """Whether ``path`` is FHIR JSON: NDJSON (:func:`is_ndjson`), or a ``.json`` file whose top-level object has
    a ``resourceType`` before any ``@context`` (a JSON-LD plan has ``@context`` and no ``resourceType``).

    Only the start of the file is read; a file that cannot be read is not FHIR (the caller reports it as missing).
    """
    if is_ndjson(path):
        return True
    if path.suffix.lower() != ".json":
        return False
    head = file_head(path)
    if not head.lstrip().startswith("{"):
        return False
    kind = _RESOURCE_TYPE_KEY.search(head)
    context = head.find('"@context"')
    return kind is not None and (context < 0 or kind.start() < context)


def is_ndjson(path: Path) -> bool:
    """Whether ``path`` is FHIR NDJSON: by its extension (``.ndjson``, ``.jsonl``), or, for a name that says no JSON
    or RDF syntax, by its first line, a JSON object with a ``resourceType``. A Bulk Data client saves each file
    under the last segment of its URL, which need not end in .ndjson (``…/Binary/4f2a``, ``Patient.000``); the
    export's manifest says they are NDJSON (:mod:`iimkg.fhir.manifest`)."""
    suffix = path.suffix.lower()
    if suffix in NDJSON_SUFFIXES:
        return True
    if suffix in _NAMED_SYNTAX:
        return False
    return _ndjson_head(file_head(path))


def is_blank(path: Path) -> bool:
    """Whether a file holds nothing but whitespace (and a byte order mark): read until something else shows."""
    try:
        with path.open("rb") as handle:
            first = True
            while block := handle.read(65536):
                if first and block.startswith(codecs.BOM_UTF8):
                    block = block[len(codecs.BOM_UTF8):]
                first = False
                if block.strip():
                    return False
    except OSError:
        return False  # reading it says what is wrong
    return True


def no_resource_message(path: Path) -> str:
    """What is said of a FHIR file in which no resource was found.

    An NDJSON file that holds no resource, read with others, is an empty part of an export (a server may write one
    for a type it has nothing of, and a client that splits files may leave one empty): it is read as nothing. It is
    an input error only when no file of the run holds a resource, and then after any other error of the FHIR files,
    since they are all read first. Every reader follows this: the Bulk Data index, the whole-file reader and Spark.
    """
    try:
        empty = path.stat().st_size == 0
    except OSError:
        empty = False
    return _EMPTY_FILE if empty else "the file holds no FHIR resource"


def file_head(path: Path) -> str:
    """The start of a file as text (what is looked at to tell what it is); empty if it cannot be read."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as handle:
            return handle.read(_SNIFF_CHARS)
    except OSError:
        return ""


def _ndjson_head(head: str) -> bool:
    """Whether a text starting with ``head`` is NDJSON: its first line a JSON object with a ``resourceType``."""
    first = head.lstrip(" \t\r\n").split("\n", 1)
    if not first[0].startswith("{") or _RESOURCE_TYPE_KEY.search(first[0]) is None:
        return False
    if len(first) == 1 and len(head) >= _SNIFF_CHARS:
        return True  # a first line longer than what is looked at
    try:
        return isinstance(json.loads(first[0], parse_int=json_int), dict)
    except ValueError:
        return False


def read_fhir(path: Path) -> list[Located]:
    """Every resource of a FHIR JSON file, in file order: the entries of Bundles (nested ones too), a single
    resource, or one resource per line of an NDJSON file (``.ndjson``, ``.jsonl``, or a ``.json`` file holding
    several JSON documents one per line).

    Contained resources stay inside the resource that contains them. The whole file is read before anything is
    returned, so an error leaves nothing half-read.

    :raises InputError: if the file is missing or empty, is not JSON (with line and column), or is JSON but not
        FHIR (no ``resourceType``; with the place of the object and its JSON path).
    """
    path = Path(path)
    require_file(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"can't read the file as UTF-8 text: {error.reason}", path=path) from None
    except OSError as error:
        raise InputError(f"can't read the file: {error.strerror or error}", path=path) from None
    return read_fhir_text(text, path)


def read_fhir_text(text: str, path: Path) -> list[Located]:
    """:func:`read_fhir` on text already read; ``path`` names it in messages."""
    if not text.strip():
        raise InputError(_EMPTY_FILE, path=path)
    suffix = path.suffix.lower()
    if suffix in NDJSON_SUFFIXES or (suffix not in _NAMED_SYNTAX and _ndjson_head(text[:_SNIFF_CHARS])):
        return _read_ndjson(text, path)
    try:
        document = _loads(text, path)
    except json.JSONDecodeError as error:
        if error.msg == "Extra data" and text.lstrip().startswith("{"):
            return _read_ndjson(text, path)  # several JSON documents, one per line: NDJSON under a .json name
        raise _json_error(error, path, line_offset=0) from None
    lines = _LineIndex(text)
    places = _resource_places(text, document, lines)
    found = list(_resources(document, path, places, where="", full_url=None))
    if not found:
        raise InputError(NO_RESOURCE, path=path, line=1, column=1)
    return found


def read_bundle_entry(text: str, path: Path, line: int, column: int, number: int, *,
                      exact: bool = True) -> list[Located]:
    """The resources of entry ``number`` of a Bundle read entry by entry (:mod:`iimkg.fhir.bulk`): ``text`` is the
    entry's JSON, which starts in the file at ``line`` and ``column``. The same resources, full URLs, places and
    messages as :func:`read_fhir_text` gives from the whole Bundle.

    :raises InputError: as :func:`read_fhir_text` does.
    """
    try:
        entry = _loads(text, path, line_offset=line - 1, exact=exact)
    except json.JSONDecodeError as error:
        raise _json_error(error, path, line_offset=line - 1) from None
    within = _resource_places(text, entry, _LineIndex(text))  # places in the entry's text
    places = {key: shifted(line, column, *place) for key, place in within.items()}
    return list(_entry_resources(entry, f"entry[{number}]", path, places, line, column))


def _read_ndjson(text: str, path: Path) -> list[Located]:
    found: list[Located] = []
    for number, line in enumerate(text.splitlines(), start=1):
        found.extend(read_ndjson_line(line, path, number))
    if not found:
        raise InputError("the file holds no FHIR resource", path=path)
    return found


def read_ndjson_line(line: str, path: Path, number: int, *, exact: bool = True) -> list[Located]:
    """The resources of line ``number`` of an NDJSON file: one resource, or the entries of a Bundle; none for a
    blank line.

    :param exact: read decimals exactly (as the converter needs doses); False reads them as floats, faster, for a
        pass that only looks at types and references (:mod:`iimkg.fhir.bulk`).
    :raises InputError: if the line is not JSON, or not FHIR (with file, line and column).
    """
    if not line.strip():
        return []
    try:
        document = _loads(line, path, line_offset=number - 1, exact=exact)
    except json.JSONDecodeError as error:
        raise _json_error(error, path, line_offset=number - 1) from None
    column = len(line) - len(line.lstrip()) + 1
    places = {id(document): (number, column)} if isinstance(document, dict) else {}
    if isinstance(document, dict) and document.get("resourceType") == "Bundle":
        lines = _LineIndex(line)
        places = {key: (number, col) for key, (_, col) in _resource_places(line, document, lines).items()}
    return list(_resources(document, path, places, where=f"line {number}", full_url=None, line=number,
                           column=column))


def _loads(text: str, path: Path, *, line_offset: int = 0, exact: bool = True) -> Any:
    """Parse JSON with exact decimals; NaN and Infinity, which Python's parser accepts, are not JSON.

    The nesting depth is checked first (:func:`iimkg.core.limits.check_json_depth`): :mod:`json` recurses, and a
    document nested 100,000 deep would otherwise end in a RecursionError.
    """
    check_json_depth(text, path, line_offset=line_offset)
    try:
        return (_DECODER if exact else _FAST_DECODER).decode(text)
    except RecursionError:
        raise InputError("the JSON nests too deep to read (lower --max-depth)", path=path) from None
    except _NotJson as error:
        found = re.search(rf"(?<![\w\"]){re.escape(error.name)}(?![\w\"])", text)
        line, column = _LineIndex(text).place(found.start()) if found else (None, None)
        raise InputError(f"not valid JSON: {error.name} is not a JSON value", path=path,
                         line=line + line_offset if line is not None else None, column=column) from None


class _NotJson(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _reject_constant(name: str) -> Any:
    raise _NotJson(name)


_DECODER = json.JSONDecoder(parse_float=Decimal, parse_int=json_int, parse_constant=_reject_constant)
_FAST_DECODER = json.JSONDecoder(parse_int=json_int, parse_constant=_reject_constant)




def _json_error(error: json.JSONDecodeError, path: Path, *, line_offset: int) -> InputError:
    return InputError(f"not valid JSON: {error.msg}", path=path, line=error.lineno + line_offset, column=error.colno)


def _resources(document: Any, path: Path, places: dict[int, tuple[int, int]], *, where: str, full_url: str | None,
               line: int | None = None, column: int | None = None) -> Iterator[Located]:
    here = places.get(id(document))
    line, column = (here if here else (line, column))
    if not isinstance(document, dict):
        kind = "an array" if isinstance(document, list) else f"a JSON {type(document).__name__}"
        raise InputError(f"{_at(where)}{kind}, not a FHIR resource (a JSON object with a resourceType)",
                         path=path, line=line, column=column)
    resource_type = document.get("resourceType")
    if not isinstance(resource_type, str) or not _RESOURCE_TYPE.match(resource_type):
        detail = ("has no resourceType" if resource_type is None
                  else f"has resourceType {json.dumps(resource_type, default=str)}")
        raise InputError(f"{_at(where)}a JSON object that {detail}, so it is not a FHIR resource",
                         path=path, line=line, column=column)
    if resource_type != "Bundle":
        yield Located(document, path, line, column, full_url)
        return
    entries = document.get("entry", [])
    if not isinstance(entries, list):
        whose = f"{where} is a Bundle whose" if where else "the Bundle's"  # not "the document is the Bundle's…"
        raise InputError(f"{whose} entry is not an array", path=path, line=line, column=column)
    for number, entry in enumerate(entries):
        yield from _entry_resources(entry, f"{where + ' ' if where else ''}entry[{number}]", path, places, line,
                                    column)


def _entry_resources(entry: Any, where: str, path: Path, places: dict[int, tuple[int, int]], line: int | None,
                     column: int | None) -> Iterator[Located]:
    """The resources of one Bundle entry (``where`` names it: ``entry[3]``), whether the Bundle is read whole or
    entry by entry (:func:`read_bundle_entry`)."""
    if not isinstance(entry, dict):
        raise InputError(f"{where} of the Bundle is not an object", path=path, line=line, column=column)
    resource = entry.get("resource")
    if resource is None:
        return  # a response or search entry without a resource: nothing to read
    url = entry.get("fullUrl")
    yield from _resources(resource, path, places, where=f"{where}.resource",
                          full_url=url if isinstance(url, str) else None, line=line, column=column)


def _at(where: str) -> str:
    return f"{where} is " if where else "the document is "


class _LineIndex:
    """Line and column (1-based) of a character offset."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [match.end() for match in re.finditer("\n", text)]

    def place(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1


def _resource_places(text: str, document: Any, lines: _LineIndex) -> dict[int, tuple[int, int]]:
    """Where each object with a ``resourceType`` starts, by the object's ``id()``.

    The JSON parser keeps no positions, but object keys keep their order: walking the parsed document in key order
    meets the ``resourceType`` keys in the order they appear in the text. If the counts differ (a duplicate key, an
    escaped key), no places are given rather than wrong ones.
    """
    offsets = [m.start() for m in _RESOURCE_TYPE_KEY.finditer(text)]
    objects = list(_in_key_order(document))
    if len(offsets) != len(objects):
        return {}
    return {id(obj): lines.place(offset) for obj, offset in zip(objects, offsets, strict=True)}


def _in_key_order(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "resourceType":
                yield value
            else:
                yield from _in_key_order(item)
    elif isinstance(value, list):
        for item in value:
            yield from _in_key_order(item)

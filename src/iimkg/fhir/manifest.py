"""A FHIR Bulk Data export's manifest (its "complete status" response, saved as ``manifest.json`` beside the files)
read as the list of the export's files.

A Bulk Data client saves the export's NDJSON files in a folder and, often, the manifest with them (the SMART client,
``bulk-data-client --saveManifest``). ``iimkg validate export/manifest.json`` reads the files it lists, and
``iimkg validate export/*.ndjson export/manifest.json`` reads each file once, the manifest adding none that is
already named; before, the manifest was taken for a JSON-LD plan ("the file holds no triples") and stopped the run.
Each ``output`` file is looked for beside the manifest as the SMART client saves it: at ``destination`` when the
manifest gives one (``--addDestinationToManifest``), else under the last segment of its ``url``, else as
``<n>.<type>.ndjson`` (``--forceStandardFileNames``, n counting the files of that type from 1). A file the manifest
lists and the folder does not hold is an input error on the line of its entry: a partial export would give partial
plans.

The files are NDJSON whatever their names (:func:`iimkg.fhir.reading.is_ndjson` reads their first line). The
``error`` files (OperationOutcomes of what the server could not export; the SMART client saves them in ``error/``)
are read too: each error is a warning (``fhir_reported``), since the plans may lack what the server could not give
and a gap found may be one in the data only. A missing error file is an input error, as a missing output file is.
The ``deleted`` files (Bundles of resources deleted since ``_since``) hold no part of a plan and are not read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from iimkg.core.errors import InputError
from iimkg.core.jsonstream import JsonText
from iimkg.fhir.reading import file_head

__all__ = ["expand_manifests", "is_manifest"]

_KEY = re.compile(r'"(transactionTime|output|resourceType|@context)"\s*:')
_READ = ("output", "error")  # the manifest's lists of files that are read; "deleted" is not


def is_manifest(path: Path) -> bool:
    """Whether ``path`` is a Bulk Data manifest: a ``.json`` object with ``transactionTime`` and ``output`` among
    its keys and no ``resourceType`` or ``@context`` (a FHIR resource, a JSON-LD plan). Only its start is read."""
    if path.suffix.lower() != ".json":
        return False
    head = file_head(path)
    keys = set(_KEY.findall(head))
    return head.lstrip().startswith("{") and {"transactionTime", "output"} <= keys and not keys & {
        "resourceType", "@context"}


def expand_manifests(paths: Sequence[Path]) -> list[Path]:
    """``paths`` with each Bulk Data manifest replaced by the export files it lists that are not named already,
    in its order; other paths as given.

    :raises InputError: if a manifest is not valid JSON, its ``output`` is not a list of entries with a ``url`` or
        is empty, or a file it lists is not beside it (with file, line and column).
    """
    given = [Path(p) for p in paths]
    manifests = {p for p in given if is_manifest(p)}
    if not manifests:
        return given
    named = {_key(p) for p in given if p not in manifests}
    files: list[Path] = []
    for path in given:
        listed = _listed_files(path) if path in manifests else [path]
        for file in listed:
            key = _key(file)
            if file is path or key not in named:
                files.append(file)
                named.add(key)
    return list(dict.fromkeys(files))


def _key(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path


def _listed_files(manifest: Path) -> list[Path]:
    """The files of a manifest's ``output`` and ``error`` lists, found beside it; the whole manifest is read (and
    must be JSON) first."""
    folder = manifest.parent
    entries: list[tuple[str, object, int, int]] = []
    try:
        with manifest.open("rb") as handle:
            text = JsonText(manifest, handle)
            start = text.skip(0)
            output = None
            for key, at in text.object_members(start):
                if key == "output":
                    output = at
                if key not in _READ or text.char(at) != "[":
                    _, text.at = text.value(at)
                    continue
                entries += [(key, entry, *text.place(first)) for entry, first, _end, _last in text.members(at + 1)]
            text.end(text.skip(text.object_end(text.skip(text.at)) + 1))
            if output is None or text.char(output) != "[":
                raise text.error("a Bulk Data manifest's output is a list of the export's files", output or start)
            if not any(part == "output" for part, *_ in entries):
                raise text.error("the Bulk Data manifest lists no file (its output is empty): nothing to check",
                                 output)
    except OSError as error:
        raise InputError(f"can't read the file: {error.strerror or error}", path=manifest) from None
    files: list[Path] = []
    per_type: dict[str, int] = {}
    numbers: dict[str, int] = {}
    for part, entry, line, column in entries:
        numbers[part] = numbers.get(part, 0) + 1
        url = entry.get("url") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not isinstance(url, str) or not url:
            raise InputError(f"{part} {numbers[part]} of the Bulk Data manifest has no url", path=manifest,
                             line=line, column=column)
        kind = entry["type"] if isinstance(entry.get("type"), str) else ""
        per_type[kind] = per_type.get(kind, 0) + 1
        # the client saves an error file in error/ (a subfolder named after its list)
        folders = [folder] if part == "output" else [folder / part, folder]
        candidates = _candidates(folders, entry.get("destination"), url, kind, per_type[kind])
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            names = " or ".join(str(c) for c in candidates)
            what = f"{kind or 'output'} file" if part == "output" else \
                "error file (what the server could not export)"
            raise InputError(f"the export's {what} {url} is not beside the manifest (looked for {names}); name the "
                             "export's files themselves, or fetch the missing one", path=manifest, line=line,
                             column=column)
        files.append(found)
    return files


def _candidates(folders: list[Path], destination: object, url: str, kind: str, number: int) -> list[Path]:
    """Where the SMART Bulk Data client saves a file of the export: its destination (relative to the manifest's
    folder, the last of ``folders``), else in each folder the url's last segment, then ``<n>.<type>.ndjson``."""
    candidates = []
    if isinstance(destination, str) and destination:
        candidates.append(folders[-1] / destination)  # an absolute destination stays as it is
    name = PurePosixPath(unquote(urlsplit(url).path)).name
    for folder in folders:
        if name not in ("", ".", ".."):
            candidates.append(folder / name)
        if kind:
            candidates.append(folder / f"{number}.{kind}.ndjson")
    return list(dict.fromkeys(candidates))

"""FHIR Bulk Data NDJSON in bounded memory: index every line by its patient, then convert a few patients at a time.

A Bulk Data export is one file per resource type (Patient.ndjson, Condition.ndjson…, sometimes several per type),
so the resources of one patient are spread over every file; reading them all before converting took 3.9 GB for a
200 MB export. Here the first pass reads the files line by line (each line parsed, so that an input error stops the
run before anything is written) and keeps, per line, only its patient, file, byte offset, length and line number
(some 30 bytes a line); the second pass reads back the lines of one batch of patients at a time, in file order,
converts them with :func:`iimkg.fhir.convert.convert`, and hands the batch's plans on. Memory is the index plus
one batch, whatever the size of the export; time is linear (each line is read twice, parsed twice).

A FHIR JSON file larger than :data:`STREAM_BYTES` (one Bundle of a whole population, as some exports write) is read
the same way, entry by entry (:class:`iimkg.core.jsonstream.JsonText`): each entry of the Bundle is a record, as a
line is, and a reference to a patient by the ``fullUrl`` of its entry (``urn:uuid:…``) is joined to that patient
when the file has been read. Read whole, 5,000 patients in one 33 MB Bundle took 352 MB; memory grew with the file.
In a run with such a file, smaller JSON files are records of their own, read whole.

Medications (referenced by ``medicationReference``) belong to no patient and are kept in memory for every batch;
resource types no part of a plan comes from are counted, not indexed.
"""

from __future__ import annotations

import codecs
import gc
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

from iimkg.core.errors import InputError, require_file
from iimkg.core.jsonstream import JsonText
from iimkg.core.limits import current, line_too_long
from iimkg.fhir.convert import READ_TYPES, convert
from iimkg.fhir.reading import (
    NO_RESOURCE,
    is_fhir_file,
    is_ndjson,
    no_resource_message,
    read_bundle_entry,
    read_fhir,
    read_ndjson_line,
)
from iimkg.plans.codes import CodeMapper
from iimkg.plans.model import Conversion, Located
from iimkg.plans.notes import Note, NoteKind

__all__ = ["BATCH_BYTES", "STREAM_BYTES", "BulkExport", "decode_line", "is_bulk_export"]

# A batch of patients is read back and converted once its lines reach this many bytes (parsed, some ten times as
# much); a patient's resources are never split between batches. Converting the 200 MB export of bench/fhir.py
# peaked at 149 MiB with 4 MB batches and 83 MiB with 1 MB, in the same time (25 s): the converter's cost is per
# resource, not per batch.
BATCH_BYTES = 1_000_000
# A FHIR JSON file (not NDJSON) larger than this is indexed entry by entry, and makes the run a streamed one
STREAM_BYTES = 16 * 1_048_576
# what a record of the index is: an NDJSON line, an entry of a Bundle read entry by entry, a whole JSON file
_LINE, _ENTRY, _WHOLE = 0, 1, 2
_MEDICATION = "Medication"
_NO_PATIENT = ""  # the group of resources that name no patient: converted (into notes) in batches of their own
_SUBJECT_KEYS = ("subject", "patient")


def is_bulk_export(paths: Sequence[Path]) -> bool:
    """Whether the files are read as a Bulk Data export, streamed: every file is NDJSON
    (:func:`iimkg.fhir.reading.is_ndjson`), or every file is FHIR JSON and one is larger than :data:`STREAM_BYTES`
    (a Bundle of many patients). Otherwise Bundles and single resources (``.json``) are read whole, and so is FHIR
    given with plan files (``.ttl``, ``.nt``, ``.jsonld``…), which are never FHIR whatever their size."""
    files = [Path(p) for p in paths]
    if not files:
        return False
    if all(is_ndjson(p) for p in files):
        return True
    return all(is_fhir_file(p) for p in files) and any(not is_ndjson(p) and _size(p) > STREAM_BYTES for p in files)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # reading it says what is wrong


def patient_group(located: Located, local_urls: dict[str, str] | None = None) -> str | None:
    """The patient a resource belongs to, as the converter keys plans (``Patient/id``); ``""`` for a resource of
    a read type that names no patient; ``Medication`` for a medication; None for a type that is not read.

    The converter decides the same way (a reference ``…/Patient/id``, a ``urn:`` reference as it is, anything else
    no patient), so that every resource of a plan lands in the same batch."""
    kind = located.type
    if kind not in READ_TYPES:
        return None
    if kind == _MEDICATION:
        return _MEDICATION
    if kind == "Patient":
        return located.ref
    resource = located.resource
    reference = next((resource[key] for key in _SUBJECT_KEYS if isinstance(resource.get(key), dict)), None)
    ref = reference.get("reference") if reference is not None else None
    if not isinstance(ref, str) or not ref.strip():
        return _NO_PATIENT
    ref = ref.strip()
    if local_urls and ref in local_urls:
        return local_urls[ref]
    parts = ref.split("/_history/")[0].rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == "Patient":
        return f"Patient/{parts[-1]}"
    return ref if ref.startswith("urn:") else _NO_PATIENT


class BulkExport:
    """An NDJSON export, indexed by patient (:meth:`index`), then converted batch by batch (:meth:`conversions`).

    :param progress: called now and then with a line saying how far the reading has got (for a terminal).
    """

    def __init__(self, paths: Sequence[Path], *, mapper: CodeMapper | None = None,
                 progress: Callable[[str], None] | None = None) -> None:
        self.files = list(dict.fromkeys(Path(p) for p in paths))
        self.mapper = mapper or CodeMapper.shipped()
        self.progress = progress
        self.resources = 0
        self.plans = 0
        self.medications: list[Located] = []
        self.skipped: Counter[tuple[int, str]] = Counter()
        self._keys: dict[str, int] = {}
        self._key: array[int] = array("i")
        self._file: array[int] = array("i")
        self._offset: array[int] = array("q")
        self._length: array[int] = array("q")
        self._line: array[int] = array("i")
        self._column: array[int] = array("i")
        self._kind: array[int] = array("b")
        self._names: dict[int, str] = {}
        self._joined = 0

    # ── the first pass ──

    def index(self) -> BulkExport:
        """Read every file line by line: check each line is FHIR JSON, and note where each patient's lines are.

        :raises InputError: at the first line that is not JSON or not FHIR, or longer than the input limit (with
            file, line and column), or if no file holds a resource. An NDJSON file of none is an empty part of the
            export, as a server may write for a type it has nothing of (:func:`iimkg.fhir.reading.no_resource_message`).
        """
        for path in self.files:
            require_file(path)
        empty: Path | None = None
        for number, path in enumerate(self.files):
            before = self.resources
            self._index_file(number, path)
            if self.resources == before:
                if not is_ndjson(path):
                    raise InputError(no_resource_message(path), path=path)
                empty = empty or path  # an empty part of an export (no_resource_message)
        if empty is not None and not self.resources:
            raise InputError(no_resource_message(empty), path=empty)
        return self

    def _index_file(self, file_number: int, path: Path) -> None:
        if not is_ndjson(path):
            self._index_json(file_number, path)
            return
        limit = current().max_input_bytes
        try:
            with path.open("rb") as handle:
                offset, number = 0, 0
                while raw := handle.readline(limit + 1):
                    number += 1
                    length = len(raw)
                    if length > limit and not raw.endswith(b"\n"):
                        raise line_too_long(path, number, limit)
                    start = offset
                    if number == 1 and raw.startswith(codecs.BOM_UTF8):  # allowed on the first line only
                        raw, start = raw[len(codecs.BOM_UTF8):], offset + len(codecs.BOM_UTF8)
                    self._index_line(file_number, path, raw, start, number)
                    offset += length
                    if self.progress is not None and number % 50_000 == 0:
                        self.progress(f"reading {path.name}: line {number:,}")
        except OSError as error:
            raise InputError(f"can't read the file: {error.strerror or error}", path=path) from None

    def _index_json(self, file_number: int, path: Path) -> None:
        """A JSON file: a large Bundle entry by entry, anything else as one record, read whole."""
        try:
            with path.open("rb") as handle:
                text = JsonText(path, handle)
                entries = _bundle_entries(text) if _size(path) > STREAM_BYTES else None
                if entries is None:
                    self._index_record(file_number, path, _WHOLE, b"", 0, 1, 1)  # read again by its path
                    return
                patients: dict[str, str] = {}
                before = self.resources
                for number, (_, start, end, _last) in enumerate(text.members(entries)):
                    text.check_depth(start, end, 2)
                    line, column = text.place(start)
                    offset = text.byte_offset(start)
                    raw = text.buffer[start:end].encode("utf-8")
                    text.drop(end)
                    for located in self._index_record(file_number, path, _ENTRY, raw, offset, line, column, number):
                        if located.type == "Patient" and located.full_url:
                            patients[located.full_url] = located.ref
                    if self.progress is not None and number % 50_000 == 0 and number:
                        self.progress(f"reading {path.name}: entry {number:,}")
                text.end(text.skip(text.object_end(text.skip(text.at)) + 1))
                if self.resources == before:
                    raise InputError(NO_RESOURCE, path=path, line=1, column=1)  # as the whole Bundle says it
        except OSError as error:
            raise InputError(f"can't read the file: {error.strerror or error}", path=path) from None
        self._join(patients)

    def _join(self, patients: dict[str, str]) -> None:
        """Give the records filed under a patient's ``fullUrl`` (a ``urn:uuid:`` reference) to that patient."""
        moved = {self._keys[url]: self._keys.setdefault(ref, len(self._keys))
                 for url, ref in patients.items() if url in self._keys and url != ref}
        for place, key in enumerate(self._key if moved else ()):
            if key in moved:
                self._key[place] = moved[key]
        self._joined += len(moved)  # keys left without records

    def _index_line(self, file_number: int, path: Path, raw: bytes, offset: int, number: int) -> None:
        self._index_record(file_number, path, _LINE, raw, offset, number, 1)

    def _index_record(self, file_number: int, path: Path, kind: int, raw: bytes, offset: int, number: int,
                      column: int, entry: int = 0) -> list[Located]:
        """Note the patients of one record (a line, an entry, a file) and where it is; return its resources."""
        found = _read(kind, raw, path, number, column, entry, exact=False)
        self.resources += len(found)
        groups: set[str] = set()
        urls = {r.full_url: r.ref for r in found if r.full_url and r.type == "Patient"} if len(found) > 1 else None
        for located in found:
            group = patient_group(located, urls)
            if group is None:
                self.skipped[(file_number, located.type)] += 1
            else:
                groups.add(group)
        if _MEDICATION in groups:
            groups.discard(_MEDICATION)
            # read again with exact decimals: the converter reads strengths from it
            self.medications.extend(r for r in _read(kind, raw, path, number, column, entry)
                                    if r.type == _MEDICATION)
        for group in groups:
            key = self._keys.setdefault(group, len(self._keys))
            self._key.append(key)
            self._file.append(file_number)
            self._offset.append(offset)
            self._length.append(len(raw))
            self._line.append(number)
            self._column.append(column)
            self._kind.append(kind)
        return found

    # ── the second pass ──

    @property
    def patients(self) -> int:
        """How many patients (plan keys) the export names, the no-patient group aside."""
        return len(self._keys) - (_NO_PATIENT in self._keys) - self._joined

    def conversions(self) -> Iterator[Conversion]:
        """The export converted, one batch of patients at a time (in the order of their identifiers, resources
        that name no patient last); each batch's notes come with it. :meth:`skipped_notes` follow at the end."""
        self._names = {number: name for name, number in self._keys.items()}
        order = self._lines_by_patient()
        no_patient = self._keys.get(_NO_PATIENT, -1)
        handles: dict[int, IO[bytes]] = {}
        try:
            batch: list[int] = []
            size, done, previous = 0, 0, -1
            for line in order:
                key = self._key[line]
                if batch and size >= BATCH_BYTES and (key != previous or key == no_patient):
                    yield self._convert(batch, handles)
                    done += len(batch)
                    if self.progress is not None:
                        self.progress(f"converted {done:,} of {len(order):,} lines")
                    batch, size = [], 0
                batch.append(line)
                size += self._length[line]
                previous = key
            if batch:
                yield self._convert(batch, handles)
        finally:
            for handle in handles.values():
                handle.close()

    def _lines_by_patient(self) -> array[int]:
        """The index's lines ordered by patient identifier (those of no patient last), each patient's in the
        order read: a counting sort, 4 bytes a line, where sorting Python numbers took some 40."""
        ordered = sorted(self._keys, key=lambda name: (name == _NO_PATIENT, name))
        rank = array("i", bytes(4 * len(ordered)))
        for place, name in enumerate(ordered):
            rank[self._keys[name]] = place
        starts = array("q", bytes(8 * (len(ordered) + 1)))
        for key in self._key:
            starts[rank[key] + 1] += 1
        for place in range(1, len(starts)):
            starts[place] += starts[place - 1]
        order = array("i", bytes(4 * len(self._key)))
        for line, key in enumerate(self._key):
            place = rank[key]
            order[starts[place]] = line
            starts[place] += 1
        return order

    def _name_of(self, key: int) -> str:
        return self._names[key]

    def _convert(self, lines: list[int], handles: dict[int, IO[bytes]]) -> Conversion:
        """Read back the lines of a batch in file order and convert them (with every medication).

        The cyclic garbage collector is paused meanwhile: parsed JSON and plans hold no cycles, and its passes
        over each batch's new objects cost a quarter of the time (5.5 s -> 4.1 s for 10,000 patients)."""
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._read_and_convert(lines, handles)
        finally:
            if enabled:
                gc.enable()

    def _read_and_convert(self, lines: list[int], handles: dict[int, IO[bytes]]) -> Conversion:
        wanted = {self._name_of(self._key[line]) for line in lines}
        resources: list[Located] = []
        seen: set[tuple[int, int]] = set()
        for line in sorted(lines, key=lambda i: (self._file[i], self._offset[i])):
            where = (self._file[line], self._offset[line])
            if where in seen:
                continue  # a line of several patients' resources (a Bundle), indexed under each
            seen.add(where)
            path = self.files[self._file[line]]
            handle = handles.get(self._file[line])
            if handle is None:
                handle = handles[self._file[line]] = path.open("rb")
            handle.seek(self._offset[line])
            raw = handle.read(self._length[line])
            found = _read(self._kind[line], raw, path, self._line[line], self._column[line])
            if len(found) > 1:
                urls = {r.full_url: r.ref for r in found if r.full_url and r.type == "Patient"}
                found = [r for r in found if patient_group(r, urls) in wanted]
            resources.extend(found)
        conversion = convert([*self.medications, *resources], files=self.files, mapper=self.mapper)
        self.plans += len(conversion.plans)
        return conversion

    def skipped_notes(self) -> list[Note]:
        """One note per file and resource type that is not read (Encounter, Practitioner…), as the converter
        writes them."""
        notes = []
        for (file_number, kind), count in sorted(self.skipped.items()):
            noun = "resource" if count == 1 else "resources"
            notes.append(Note(NoteKind.SKIPPED, "info", kind,
                              f"{count} {noun} not read: no part of a treatment plan comes from {kind}",
                              self.files[file_number]))
        return notes


def _read(kind: int, raw: bytes, path: Path, number: int, column: int, entry: int = 0, *,
          exact: bool = True) -> list[Located]:
    """The resources of a record of the index (``exact``: decimals read exactly, as the converter needs)."""
    if kind == _ENTRY:
        return read_bundle_entry(raw.decode("utf-8"), path, number, column, entry, exact=exact)
    if kind == _WHOLE:
        return read_fhir(path)
    return read_ndjson_line(decode_line(raw, path, number), path, number, exact=exact)


def _bundle_entries(text: JsonText) -> int | None:
    """Where the ``entry`` list of a Bundle starts (after its bracket), if the file is a Bundle that names its
    ``resourceType`` before its entries; None for anything else, which is read whole."""
    start = text.skip(0)
    if text.char(start) != "{":
        return None
    bundle = False
    for key, at in text.object_members(start):
        if key == "entry":
            return at + 1 if bundle and text.char(at) == "[" else None
        value, text.at = text.value(at)
        bundle = bundle or (key == "resourceType" and value == "Bundle")
    return None


def decode_line(raw: bytes, path: Path, number: int) -> str:
    """One line as text, without its line break (NDJSON lines end at ``\\n``, optionally ``\\r\\n``)."""
    raw = raw.rstrip(b"\r\n")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"can't read the line as UTF-8 text: {error.reason}", path=path, line=number,
                         column=len(raw[:error.start].decode("utf-8", errors="replace")) + 1) from None


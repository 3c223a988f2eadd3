"""What a conversion could not read, or read only approximately: never dropped silently, always reported."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DISTINCT_MESSAGES", "SAMPLE_PER_KIND", "Note", "NoteKind", "NoteTally", "place_in_file"]


def place_in_file(path: Path, line: int | None, column: int | None) -> str:
    """``path:line:column``, as much of it as is known: how messages point at a resource."""
    place = str(path)
    if line is not None:
        place += f":{line}"
        if column is not None:
            place += f":{column}"
    return place


class NoteKind(str, enum.Enum):
    """Why a note was written. Only ``unmapped`` notes become errors under ``--strict``."""

    UNMAPPED = "unmapped"          # a resource, or a part of one the checks need, could not be read: not checked
    APPROXIMATED = "approximated"  # read, but less exactly than given (an ancestor code, a dose not converted)
    EXCLUDED = "excluded"          # read and left out on purpose (cancelled, entered in error, resolved)
    SKIPPED = "skipped"            # a resource type no part of a plan comes from (Encounter, Practitioner…)
    REPORTED = "reported"          # the source reported a problem (an OperationOutcome): the plans may lack data


@dataclass(frozen=True)
class Note:
    """One thing to tell the user about the conversion, tied to the resource and the place it was read.

    ``severity`` is ``warning`` or ``info`` (SHACL's sh:Warning, sh:Info); ``plan`` is the identifier of the plan the
    resource went into, when there is one.
    """

    kind: NoteKind
    severity: str
    resource: str
    message: str
    path: Path
    line: int | None = None
    column: int | None = None
    plan: str | None = None

    @property
    def text(self) -> str:
        """``MedicationRequest/123: drug code RXNORM:999999 not recognised; not checked``."""
        return f"{self.resource}: {self.message}"

    @property
    def place(self) -> str:
        return place_in_file(self.path, self.line, self.column)

    def sort_key(self) -> tuple[str, int, int, str]:
        return (str(self.path), self.line or 0, self.column or 0, self.text)


# How many notes of each kind are kept as examples when notes are summarised: a large export can give millions of
# notes (45 MB of them for 200 MB of Bulk Data), and a summary that kept them all would grow without bound.
SAMPLE_PER_KIND = 20
# How many distinct messages are counted one by one ("drug code RXNORM:29046 not recognised: 1,250 times"); past
# that, notes are still counted by kind. Messages name codes and doses, so an export has few distinct ones.
DISTINCT_MESSAGES = 1000


class NoteTally:
    """Notes counted per kind, with the first :data:`SAMPLE_PER_KIND` of each kept as examples: memory bounded
    however many notes a conversion gives. Whoever wants every note reads them as they are added (``on_note``)."""

    def __init__(self, sample: int = SAMPLE_PER_KIND) -> None:
        self.sample_size = sample
        self.counts: dict[NoteKind, int] = dict.fromkeys(NoteKind, 0)
        self.samples: dict[NoteKind, list[Note]] = {kind: [] for kind in NoteKind}
        self.messages: dict[tuple[NoteKind, str], list[Any]] = {}  # (kind, message) -> [count, first note]

    def add(self, note: Note) -> bool:
        """Count ``note``; True if it is kept as an example (one of the first of its kind)."""
        self.counts[note.kind] += 1
        counted = self.messages.get((note.kind, note.message))
        if counted is not None:
            counted[0] += 1
        elif len(self.messages) < DISTINCT_MESSAGES:
            self.messages[(note.kind, note.message)] = [1, note]
        kept = self.samples[note.kind]
        if len(kept) < self.sample_size:
            kept.append(note)
            return True
        return False

    def left_out(self, kind: NoteKind) -> int:
        """How many notes of ``kind`` were counted but not kept."""
        return self.counts[kind] - len(self.samples[kind])

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def most_frequent(self, kind: NoteKind, count: int = 5) -> list[tuple[int, Note]]:
        """The ``count`` messages of ``kind`` seen most often, with how often and the first note that gave each."""
        found = [(times, note) for (of, _), (times, note) in self.messages.items() if of is kind]
        return sorted(found, key=lambda item: (-item[0], item[1].message))[:count]

    def counted(self) -> str:
        """``12,345 unmapped, 3 approximated`` (kinds with no note left out)."""
        return ", ".join(f"{count:,} {kind.value}" for kind, count in self.counts.items() if count)

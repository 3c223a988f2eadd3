"""What a conversion could not read, or read only approximately: never dropped silently, always reported."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Note", "NoteKind", "place_in_file"]


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

"""How another input format joins plan validation: an adapter claims its files and hands back RDF plus notes.

Plan validation reads RDF (Turtle, JSON-LD, N-Triples…) itself. Any other format — FHIR R4 today — comes in through
an :class:`Adapter`, which converts its files into the plan vocabulary (Turtle, relative IRIs resolved against the
file) and reports what it could not read as findings of its own rules. Validation never imports an adapter: the
caller passes them (:func:`iimkg.validation.validate_plans` passes every adapter the package has).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from iimkg.shacl.findings import Finding, Rule

__all__ = ["Adapter", "Intake"]


@dataclass
class Intake:
    """An adapter's files, converted.

    ``turtle``: per file, its plans as Turtle in parts of whole plans (a part may be checked in another process;
    ``[b""]`` for a file that gives no plan of its own, such as a Bulk Data file of observations whose resources go
    to the plans of the patients' file); ``findings``: what could not be read; ``rules``: the adapter's rules, for
    reports that list every rule checked.
    """

    turtle: dict[Path, list[bytes]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)

    def joined(self) -> dict[str, bytes]:
        """Each file's plans as one Turtle document (Turtle documents concatenate)."""
        return {str(path): b"".join(parts) for path, parts in self.turtle.items()}


class Adapter(Protocol):
    """An input format other than RDF."""

    def claims(self, path: Path) -> bool:
        """Whether ``path`` is a file of this format (by extension and, if needed, a look inside)."""
        ...

    def read(self, paths: Sequence[Path], *, plans_per_part: int, strict: bool) -> Intake:
        """Convert ``paths`` together (an export may spread one patient over several files).

        :param plans_per_part: how many plans go in each part of a file's Turtle.
        :param strict: report what could not be read as violations, not warnings.
        :raises InputError: if a file is not of this format after all (with file, line and column).
        """
        ...

"""One error family, so the CLI can turn any expected failure into a message and an exit code."""

from __future__ import annotations

import itertools
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "AmbiguousTermError",
    "BroaderCodeError",
    "IimkgError",
    "InputError",
    "MissingParameterError",
    "OutputError",
    "QuerySyntaxError",
    "ReasonerUnavailableError",
    "ShapesError",
    "UnknownQueryError",
    "UnknownTermError",
    "require_file",
]


class IimkgError(Exception):
    """Base of every error a caller can act on; the CLI prints it and exits with :attr:`exit_code`."""

    exit_code = 2


class InputError(IimkgError):
    """A file could not be read or parsed; keeps the place so the message can point at it."""

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None,
                 column: int | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.line = line
        self.column = column
        self.detail = message
        super().__init__(self._format())

    def _format(self) -> str:
        place = ""
        if self.path is not None:
            place = str(self.path)
            if self.line is not None:
                place += f":{self.line}"
                if self.column is not None:
                    place += f":{self.column}"
            place += ": "
        return place + self.detail


class QuerySyntaxError(InputError):
    """A SPARQL query does not parse; line and column are those of the query text."""


class UnknownQueryError(IimkgError):
    """No named query has that name."""

    def __init__(self, name: str, suggestions: Sequence[str]) -> None:
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"no named query is called {name!r}{hint} (`iimkg query list` shows them all)")


class UnknownTermError(IimkgError):
    """A parameter value matches no term of the graph."""

    def __init__(self, value: str, parameter: str, suggestions: Sequence[str]) -> None:
        self.value = value
        self.suggestions = list(suggestions)
        hint = ("; closest matches: " + "; ".join(suggestions)) if suggestions else ""
        super().__init__(f"{parameter} {value!r} matches no term of the graph{hint}")


class BroaderCodeError(UnknownTermError):
    """A parameter value is a code broader than the terms that map to it (``skos:broadMatch``): an answer about
    them would not be an answer about everything the code covers, so it is not read as any of them."""

    def __init__(self, value: str, parameter: str, narrower: Sequence[str]) -> None:
        IimkgError.__init__(
            self, f"{parameter} {value!r} is broader than "
            + ("any term of the graph it maps to: " if len(narrower) > 1 else "the term of the graph it maps to, ")
            + "; ".join(narrower) + ", so it is not read as "
            + ("one of them" if len(narrower) > 1 else "it")
            + "; to ask about " + ("one" if len(narrower) > 1 else "that term") + ", give its ID")
        self.value = value
        self.suggestions = list(narrower)


class AmbiguousTermError(IimkgError):
    """A parameter value matches several terms; the caller must pick one."""

    def __init__(self, value: str, parameter: str, candidates: Sequence[str]) -> None:
        self.value = value
        self.candidates = list(candidates)
        super().__init__(
            f"{parameter} {value!r} matches {len(candidates)} terms; use one of their IDs: "
            + "; ".join(candidates)
        )


class MissingParameterError(IimkgError):
    """A named query needs a parameter that was not given."""


class ReasonerUnavailableError(IimkgError):
    """The OWL reasoner cannot run here, usually because Java is missing."""


class ShapesError(IimkgError):
    """A shapes graph could not be loaded or run by the SHACL engine (a broken shape, not a finding)."""


class OutputError(IimkgError):
    """A report could not be written where it was asked for; nothing was left behind."""


def require_file(path: Path) -> None:
    """Stop with a clear message if ``path`` is a folder, does not exist, or is no regular file (a device, a named
    pipe: read as a stream it has no size to check and can't be read again for a line and column), before anything
    reads it.

    :raises InputError: naming the path.
    """
    try:
        if path.is_dir():
            raise InputError(f"is a folder, not a file; {_folder_hint(path)}", path=path)
        if not path.exists():
            if path.is_symlink():
                raise InputError("is a symbolic link to nothing (a missing file, or a loop of links)", path=path)
            raise InputError("no such file", path=path)
        if not path.is_file():
            raise InputError("is not a regular file (a device, a named pipe or a socket); save the data to a file "
                             "and name that", path=path)
        with path.open("rb"):  # permission denied, or a name the file system refuses, stop here, not mid-read
            pass
    except OSError as error:
        raise InputError(f"can't be read: {error.strerror or error}", path=path) from None


def _folder_hint(folder: Path, look_at: int = 10_000) -> str:
    """What to name instead of a folder, from what it holds: a Bulk Data export's manifest where there is one, else
    its files by their most common extension (``export/*.ndjson``), else ``*.ttl``. Looks at ``look_at`` entries at
    most (a folder of millions of files answers as fast as a small one)."""
    suffixes: Counter[str] = Counter()
    manifest = False
    try:
        with os.scandir(folder) as entries:
            for entry in itertools.islice(entries, look_at):
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                manifest = manifest or entry.name == "manifest.json"
                suffix = Path(entry.name).suffix
                if suffix and entry.name != "manifest.json":
                    suffixes[suffix] += 1
    except OSError:
        pass
    common = min(suffixes, key=lambda s: (-suffixes[s], s)) if suffixes else ".ttl"
    files = f"the files in it (for example {folder / ('*' + common)})"
    return f"name its Bulk Data manifest ({folder / 'manifest.json'}) or {files}" if manifest else f"name {files}"

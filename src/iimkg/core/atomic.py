"""Write a file so that it is either complete or absent: a reader never sees half a report."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from iimkg.core.errors import OutputError

__all__ = ["open_atomically", "refuse_output_over_input", "write_text_atomically"]


def _mode_for(path: Path) -> int:
    """The permission bits of the file at ``path``, or those of a new file under the current umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file in the same folder, then rename it into place.

    Either the whole file is written, or nothing is: on any failure the temporary file is removed and a file
    already at ``path`` is left as it was.

    :raises OutputError: if the folder is missing or not writable, or ``path`` is a folder.
    """
    with open_atomically(path) as handle:
        handle.write(text)


def refuse_output_over_input(output: Path | None, inputs: Iterable[Path | str]) -> None:
    """Stop before any work if ``output`` is one of the files the command reads (the same file by any name): the
    report or the plans would replace the data they were made from.

    :raises OutputError: naming both.
    """
    if output is None:
        return
    try:
        if not Path(output).exists():
            return
        for given in inputs:
            if Path(given).exists() and os.path.samefile(output, given):
                same = "" if str(given) == str(output) else f" ({given})"
                raise OutputError(f"can't write to {output}: it is one of the input files{same}; name another file")
    except OSError:
        return  # an input that can't be read is reported as such by the reading itself


@contextmanager
def open_atomically(path: Path) -> Iterator[IO[str]]:
    """A text file (UTF-8) to write bit by bit, that appears at ``path`` whole when the block ends without an
    exception, and not at all otherwise: output written as it is made (a streamed conversion) is never half there.
    A path that exists and is no regular file (``/dev/null``, a named pipe), or is a symbolic link
    (``/dev/stdout``), is written in place, through the link: renaming a file over it would replace the device or
    the link itself.

    :raises OutputError: as :func:`write_text_atomically`, or if writing fails (a full disk or device).
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        if path.is_dir():
            raise OutputError(f"can't write the report to {path} because it is a folder; name a file")
        if not folder.is_dir():
            raise OutputError(f"can't write the report to {path} because the folder {folder} does not exist")
        in_place = path.is_symlink() or (path.exists() and not path.is_file())
    except OSError as error:  # a name too long, a loop of links in the folder's path
        raise OutputError(f"can't write the report to {path}: {error.strerror or error}") from None
    if in_place:
        with _open_stream(path) as stream:
            yield stream
        return
    temporary: str | None = None
    try:
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, prefix=f".{path.name}.",
                                         suffix=".tmp", delete=False) as handle:
            temporary = handle.name
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # the temporary file is created 0600; the written file gets the mode any new file gets here (0666 less
        # the umask), or keeps the mode of the file it replaces
        os.chmod(temporary, _mode_for(path))
        os.replace(temporary, path)
        temporary = None
    except OSError as error:
        raise OutputError(f"can't write the report to {path}: {error.strerror or error}") from None
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)


@contextmanager
def _open_stream(path: Path) -> Iterator[IO[str]]:
    """A path that is no regular file (``/dev/null``, a named pipe, a terminal) or a link (``/dev/stdout``) written
    in place: a stream has no "whole or absent", and a temporary file renamed over it would replace the device or
    the link itself (run as root, ``--output /dev/null`` had turned /dev/null into a regular file)."""
    try:
        with open(path, "w", encoding="utf-8") as handle:
            yield handle
    except OSError as error:
        raise OutputError(f"can't write the report to {path}: {error.strerror or error}") from None

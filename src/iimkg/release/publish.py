"""Put a release folder in place whole: the old release or the new one is there, whatever stops the process.

The files are written into a temporary folder beside the target and made durable (``fsync``); the two folders
are then exchanged in one step (Linux ``renameat2(RENAME_EXCHANGE)``), so the target is never missing, and the old
release, now in the temporary folder, is deleted. Where the exchange is not available (another system, a file
system without it), the old release is renamed aside to ``.NAME.old`` first and the new one renamed in; a process
killed between those two renames leaves ``.NAME.old``, which the next release (or :func:`recover`) renames back.

Leftover temporary folders of killed releases are deleted by the next release into the same folder. While a
release writes, SIGTERM and Ctrl-C are held back during the exchange and otherwise stop it after its temporary
folder was deleted (:class:`ReleaseTerminated`); a lock on the parent folder keeps two releases from interleaving.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import FrameType

from iimkg.core.errors import OutputError
from iimkg.core.signals import stops_held

__all__ = ["ReleaseTerminated", "locked", "publish", "recover", "stopping_on_sigterm"]

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class ReleaseTerminated(BaseException):
    """SIGTERM arrived while a release was written; its temporary folder is gone and the target is as it was."""


def _temporary_prefix(out: Path) -> str:
    return f".{out.name}.tmp-"


def _aside(out: Path) -> Path:
    return out.parent / f".{out.name}.old"


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``out``'s parent folder, so that one release at a time writes there.

    :raises OutputError: if another release holds it.
    """
    parent = out.parent if str(out.parent) else Path(".")
    try:
        fd = os.open(parent, os.O_RDONLY)
    except OSError as error:
        raise OutputError(f"can't write the release to {out}: {error.strerror or error}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise OutputError(f"another iimkg release is writing into {parent}; wait for it to finish") from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


def recover(out: Path) -> None:
    """Finish what a killed release left beside ``out``: put a release set aside back, delete temporary folders.

    Call it holding :func:`locked`.
    """
    aside = _aside(out)
    if aside.is_dir():
        if out.exists():
            shutil.rmtree(aside, ignore_errors=True)  # the new release was in place: the old one was to go
        else:
            os.rename(aside, out)  # killed between the two renames: the old release comes back
    parent = out.parent if str(out.parent) else Path(".")
    for leftover in parent.glob(f"{_temporary_prefix(out)}*"):
        shutil.rmtree(leftover, ignore_errors=True)


def publish(files: Mapping[str, bytes], out: Path) -> None:
    """Write ``files`` (path inside the release → bytes) as the folder ``out``, replacing a release there whole.

    Call it holding :func:`locked`, after :func:`recover`, and inside :func:`stopping_on_sigterm`.

    :raises OutputError: if the files cannot be written; ``out`` is then as it was.
    """
    parent = out.parent if str(out.parent) else Path(".")
    try:
        temporary = Path(tempfile.mkdtemp(prefix=_temporary_prefix(out), dir=parent))
    except OSError as error:
        raise OutputError(f"can't write the release beside {out}: {error.strerror or error}") from None
    try:
        _write(files, temporary)
        with stops_held():
            _swap_into_place(temporary, out)
    except OSError as error:
        raise OutputError(f"can't write the release to {out}: {error.strerror or error}; nothing was changed "
                          "there") from None
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)


def _write(files: Mapping[str, bytes], folder: Path) -> None:
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    folders = [folder, *sorted({p for p in folder.rglob("*") if p.is_dir()}, reverse=True)]
    for each in folders:
        each.chmod(0o755)
        _fsync_folder(each)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap_into_place(temporary: Path, out: Path) -> None:
    """Make ``temporary`` the folder ``out``; an earlier ``out`` ends up in ``temporary`` or aside, then goes."""
    if not out.exists():
        os.rename(temporary, out)
    elif out.is_dir() and not any(out.iterdir()):
        out.rmdir()
        os.rename(temporary, out)
    elif _exchange(temporary, out):
        _discard(temporary)  # the old release, now in the temporary folder
    else:
        aside = _aside(out)
        _set_aside(out, aside)
        _put_in_place(temporary, out)
        _discard(aside)
    _fsync_folder(out.parent if str(out.parent) else Path("."))


def _set_aside(out: Path, aside: Path) -> None:
    os.rename(out, aside)


def _put_in_place(temporary: Path, out: Path) -> None:
    aside = _aside(out)
    try:
        os.rename(temporary, out)
    except OSError:
        os.rename(aside, out)
        raise


def _discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def _exchange(first: Path, second: Path) -> bool:
    """Exchange two paths in one step (Linux ``renameat2``); False where the system or file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    done = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code))


@contextlib.contextmanager
def stopping_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into :class:`ReleaseTerminated`, so that ``finally`` blocks delete temporary folders (the
    release's, HermiT's) before the process ends; in the main thread only, where Python runs signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        raise ReleaseTerminated

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)



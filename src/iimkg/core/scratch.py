"""Scratch space on disk for what a run cannot hold in memory (the splitter's spilled groups, findings sorted in
runs): where it goes, and a folder that goes away with the run.

``IIMKG_TMPDIR`` names the place (a large disk for a large input); else the system's temporary folder.

A process killed by SIGKILL (the kernel's out-of-memory killer, a job scheduler's hard limit) runs no clean-up, and
a nightly job's spilled findings can be gigabytes. So each folder holds a lock (``flock``) for as long as its
process, or a worker forked from it, lives: the kernel lets go of it however the process ends. The first folder a
process makes sweeps away the folders of ours whose lock nobody holds any more. A lock says more than a process
ID: containers that share a temporary folder see one another's locks, not one another's processes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import weakref
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock, so folders are neither locked nor swept
    fcntl = None  # type: ignore[assignment]

__all__ = ["SpillFolder", "spill_dir", "sweep_stale"]

_LOCK = ".iimkg-lock"  # in every folder this module makes, and only there: what a sweep looks for
_swept = False  # this process has swept once


def spill_dir() -> str | None:
    """Where spill files go: ``IIMKG_TMPDIR`` if set, else the system's temporary folder."""
    return os.environ.get("IIMKG_TMPDIR") or None


class SpillFolder:
    """A temporary folder of spill files, removed by :meth:`close`, when garbage-collected, or at exit; only by the
    process that made it (worker processes forked while it exists hold a copy of this object). If the process is
    killed, the next run's :func:`sweep_stale` removes it (``prefix`` starts with ``iimkg-``, which a sweep looks
    at)."""

    def __init__(self, prefix: str = "iimkg-spill-") -> None:
        global _swept
        if not _swept:
            _swept = True
            sweep_stale()
        self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=spill_dir()))
        self._lock = _hold_lock(self.path)
        self._count = 0
        self._remove = weakref.finalize(self, _remove, self.path, os.getpid(), self._lock)

    def new_file(self, stem: str) -> Path:
        self._count += 1
        return self.path / f"{stem}-{self._count}.bin"

    def close(self) -> None:
        self._remove()

    def close_if_empty(self) -> None:
        """Remove the folder now if nothing was left in it. A run that spilled nothing then leaves no folder behind
        even in a process that ends without running finalizers: a multiprocessing or Spark worker ends by
        ``os._exit``, and each validation run in one left an empty folder in the temporary folder."""
        if self.path.is_dir() and not any(p.name != _LOCK for p in self.path.iterdir()):
            self.close()


def sweep_stale(directory: str | None = None) -> list[Path]:
    """Remove the scratch folders in ``directory`` (default :func:`spill_dir`) that a process of this user made and
    that no live process holds the lock of: left by a process that was killed. Returns those removed.

    Only folders named ``iimkg-…`` that hold this module's lock file are looked at, whatever prefix their caller
    gave; one without the lock file (an earlier iimkg's, one still being made, another iimkg folder such as Spark's
    log) is left alone, as is anything not this user's or that cannot be locked (a file system without
    ``flock``)."""
    removed: list[Path] = []
    if fcntl is None:
        return removed
    base = Path(directory or spill_dir() or tempfile.gettempdir())
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith("iimkg-"):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
            fd = os.open(os.path.join(entry.path, _LOCK), os.O_RDWR | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its process lives (or flock is not supported here)
            os.close(fd)
            continue
        try:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
        finally:
            os.close(fd)
    return removed


def _hold_lock(folder: Path) -> int | None:
    """Lock a new lock file of ``folder`` and keep it open. It is locked under another name and then renamed, so that
    a sweep never finds the lock file before it is locked. ``None`` where ``flock`` is not supported."""
    if fcntl is None:
        return None
    fd, name = tempfile.mkstemp(prefix=".lock-", dir=folder)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        os.unlink(name)
        return None
    os.rename(name, folder / _LOCK)
    return fd


def _remove(path: Path, owner: int, lock: int | None) -> None:
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)
        if lock is not None:
            with contextlib.suppress(OSError):
                os.close(lock)

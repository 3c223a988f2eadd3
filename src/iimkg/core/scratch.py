"""Scratch space on disk for what a run cannot hold in memory (the splitter's spilled groups, findings sorted in
runs): where it goes, and a folder that goes away with the run.

``IIMKG_TMPDIR`` names the place (a large disk for a large input); else the system's temporary folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from pathlib import Path

__all__ = ["SpillFolder", "spill_dir"]


def spill_dir() -> str | None:
    """Where spill files go: ``IIMKG_TMPDIR`` if set, else the system's temporary folder."""
    return os.environ.get("IIMKG_TMPDIR") or None


class SpillFolder:
    """A temporary folder of spill files, removed by :meth:`close`, when garbage-collected, or at exit; only by the
    process that made it (worker processes forked while it exists hold a copy of this object)."""

    def __init__(self, prefix: str = "iimkg-spill-") -> None:
        self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=spill_dir()))
        self._count = 0
        self._remove = weakref.finalize(self, _remove, self.path, os.getpid())

    def new_file(self, stem: str) -> Path:
        self._count += 1
        return self.path / f"{stem}-{self._count}.bin"

    def close(self) -> None:
        self._remove()

    def close_if_empty(self) -> None:
        """Remove the folder now if nothing was left in it. A run that spilled nothing then leaves no folder behind
        even in a process that ends without running finalizers: a multiprocessing or Spark worker ends by
        ``os._exit``, and each validation run in one left an empty folder in the temporary folder."""
        if self.path.is_dir() and not any(self.path.iterdir()):
            self.close()


def _remove(path: Path, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)

"""Scratch folders of killed runs are swept away by the next run; those of live runs, and anything not ours, stay.

A run killed by SIGKILL (the out-of-memory killer, a scheduler's hard limit) leaves its spilled findings on disk;
each folder holds a lock for as long as its process lives (iimkg.core.scratch).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# a run that spilled something, then waits to be killed: prints its folder
_RUN = """
import sys, time
from iimkg.core.scratch import SpillFolder
folder = SpillFolder("iimkg-validate-")
folder.new_file("results").write_bytes(b"x" * 100_000)
print(folder.path, flush=True)
time.sleep(120)
"""


def _start(scratch: Path) -> tuple[subprocess.Popen[str], Path]:
    process = subprocess.Popen([sys.executable, "-c", _RUN], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "IIMKG_TMPDIR": str(scratch)})
    assert process.stdout is not None
    folder = Path(process.stdout.readline().strip())
    assert folder.parent == scratch and folder.is_dir()
    return process, folder


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "scratch"
    folder.mkdir()
    yield folder


def _killed(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def test_the_folder_of_a_killed_run_goes_with_the_next_run(scratch: Path) -> None:
    """A run killed by SIGKILL leaves its folder; the next run's first scratch folder sweeps it away."""
    process, folder = _start(scratch)
    _killed(process)
    assert folder.is_dir(), "nothing can remove it at the kill"
    later, own = _start(scratch)
    try:
        assert not folder.exists()
        assert own.is_dir()
    finally:
        _killed(later)


def test_the_folder_of_a_live_run_stays(scratch: Path) -> None:
    from iimkg.core.scratch import sweep_stale

    process, folder = _start(scratch)
    try:
        assert sweep_stale(str(scratch)) == []
        assert (folder / "results-1.bin").stat().st_size == 100_000
    finally:
        _killed(process)
    assert sweep_stale(str(scratch)) == [folder]
    assert not folder.exists()


def test_only_our_locked_folders_are_swept(scratch: Path) -> None:
    """A folder of ours without the lock file (an earlier iimkg, or one being made) and a folder of another name
    with one are left as they are."""
    from iimkg.core.scratch import sweep_stale

    unlocked = scratch / "iimkg-validate-old"
    unlocked.mkdir()
    (unlocked / "results-1.bin").write_bytes(b"x")
    other = scratch / "someone-else"
    other.mkdir()
    (other / ".iimkg-lock").write_bytes(b"")
    assert sweep_stale(str(scratch)) == []
    assert unlocked.is_dir() and other.is_dir()

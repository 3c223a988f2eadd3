"""Helpers of the hostile-input tests: a local listener that records any connection, and a bounded CLI run.

The ``listener`` fixture lives here, not in a ``conftest.py``: the suite's tests import ``conftest`` by name, and
a second one would shadow it. Test modules import the fixture (``from hostile import listener_fixture``).

No test here may reach the network: every URL a hostile input names points at :class:`Listener`, a socket on
127.0.0.1 that only counts who connects, so a test can assert that nothing did.
"""

from __future__ import annotations

import resource
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

MEMORY_CAP = 3 * 1024**3  # address space of a CLI run under test: far above real use, far below an expansion


@dataclass
class Listener:
    """A TCP socket on 127.0.0.1 that accepts and counts connections (and answers nothing)."""

    sock: socket.socket
    connections: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/"

    def serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()




def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def as_a_foreground_job() -> None:
    """For ``preexec_fn``: Ctrl-C handled as in a terminal's foreground job. A job started in the background by a
    non-interactive shell (a CI script's ``… &``) inherits SIGINT ignored, and Python then installs no handler for
    it, rightly; a test that sends Ctrl-C sets it back."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``iimkg ARGS`` in a child with a memory cap and a time limit (the test fails, not hangs, past either)."""
    return subprocess.run([sys.executable, "-m", "iimkg.cli.main", *args], capture_output=True, text=True,
                          check=False, timeout=timeout, preexec_fn=_cap_memory)


# Runs the CLI in this child and, when it ends, writes the peak resident memory (MiB) of the child and of any
# worker processes it waited for to the file named by the first argument.
# The run's own peak is VmHWM, not ru_maxrss: Linux carries a process's ru_maxrss over exec, so a child of a large
# pytest process reported that process's size (185 MiB for a 130 MiB run, after a few hundred tests).
_MEASURED = """
import resource, sys
from iimkg.cli.main import main
def own_peak():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
try:
    status = main(sys.argv[2:])
finally:
    peak = max(own_peak(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    with open(sys.argv[1], "w") as handle:
        handle.write(str(peak / 1024))
sys.exit(status)
"""


def run_cli_peak(*args: str, peak_file: Path, timeout: float = 60) -> tuple[subprocess.CompletedProcess[str], float]:
    """:func:`run_cli`, and the peak resident memory (MiB) of the run (its VmHWM and its children's ru_maxrss, read
    in the child so that other tests' children do not count)."""
    done = subprocess.run([sys.executable, "-c", _MEASURED, str(peak_file), *args], capture_output=True, text=True,
                          check=False, timeout=timeout, preexec_fn=_cap_memory)
    return done, float(peak_file.read_text(encoding="ascii"))


def assert_one_line_error(done: subprocess.CompletedProcess[str], *, code: int = 2) -> str:
    """Exit ``code``, one line on stderr that starts ``iimkg: error:``, no traceback, nothing on stdout."""
    assert done.returncode == code, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("iimkg: error:"), done.stderr[-2000:]
    assert done.stdout == ""
    return lines[0]


@pytest.fixture(name="listener")
def listener_fixture() -> Iterator[Listener]:
    """A :class:`Listener` for one test, closed after it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    spy = Listener(sock)
    thread = threading.Thread(target=spy.serve, daemon=True)
    thread.start()
    yield spy
    spy.stop.set()
    thread.join(2)
    sock.close()

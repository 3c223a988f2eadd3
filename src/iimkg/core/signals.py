"""The signals that stop a command (Ctrl-C and SIGTERM), and holding them back around work that must not be cut.

One place for what three did alike: the validation pool forks its workers with them held (a worker forked with
them open could take one before it ignores them, and die with a traceback), the query process is started so too,
and a release exchanges its folders with them held (a release is whole or absent).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["STOP_SIGNALS", "stops_held"]

STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


@contextmanager
def stops_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM held back in this thread while the block runs; one that came meanwhile arrives when it
    ends. Outside the main thread (where Python runs no signal handler) or without ``pthread_sigmask``, the block
    runs as it is."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

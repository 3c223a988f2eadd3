"""Checking chunks of plan units over worker processes, in order, with a bounded number of chunks in flight.

Each worker builds one :class:`~iimkg.plans.engines.UnitChecker` (shapes compiled, ontology parsed) when it starts
and checks the chunks it is sent; outcomes come back in the order the chunks were given, so a run gives the same
result whatever the number of workers. At most two chunks per worker are queued: the splitter (in this process)
stays just ahead of the workers, and memory stays that of a few chunks however long the input.
"""

from __future__ import annotations

import itertools
import os
import signal
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

from iimkg.core.errors import IimkgError
from iimkg.core.signals import STOP_SIGNALS, stops_held
from iimkg.plans.engines import UnitChecker
from iimkg.plans.results import Outcome
from iimkg.plans.splitting import PlanUnit, Restart

__all__ = ["check_chunks"]

_checker: UnitChecker | None = None  # the worker process's engine


def check_chunks(chunks: Iterable[list[PlanUnit] | Restart], shapes_text: str, ontology: Path,
                 workers: int | None) -> Iterator[Outcome]:
    """The outcome of each chunk, in order: in this process when ``workers`` is 1 or the input makes one chunk,
    else over ``workers`` processes (default: one per CPU). A :class:`Restart` comes back in its place, as an
    outcome whose ``restart`` names the file."""
    chunks = iter(chunks)
    head = list(itertools.islice(chunks, 2))
    count = workers if workers is not None else (os.cpu_count() or 1)
    if count <= 1 or len(head) <= 1:
        checker = UnitChecker(shapes_text, ontology)
        for chunk in itertools.chain(head, chunks):
            yield Outcome(restart=chunk.source) if isinstance(chunk, Restart) else checker.check(chunk)
        return
    context = get_context("fork") if "fork" in get_all_start_methods() else get_context("spawn")
    with ProcessPoolExecutor(max_workers=count, mp_context=context, initializer=_start,
                             initargs=(shapes_text, ontology)) as pool:
        pending: deque[Future[Outcome]] = deque()
        try:
            for chunk in itertools.chain(head, chunks):
                if isinstance(chunk, Restart):
                    marker: Future[Outcome] = Future()
                    marker.set_result(Outcome(restart=chunk.source))
                    pending.append(marker)
                else:
                    with stops_held():  # the first submit forks the workers: see _start
                        pending.append(pool.submit(_check, chunk))
                while len(pending) > 2 * count or (pending and pending[0].done()):
                    yield _result(pending.popleft(), pool)
            while pending:
                yield _result(pending.popleft(), pool)
        finally:
            for future in pending:
                future.cancel()


def _result(future: Future[Outcome], pool: ProcessPoolExecutor) -> Outcome:
    """A chunk's outcome; a worker that died (killed for memory, say) is one line, not a traceback."""
    try:
        return future.result()
    except BrokenProcessPool:
        _kill_workers(pool)
        raise IimkgError("a worker process stopped before it finished its plans (it may have been killed for "
                         "memory); run again with fewer workers (--workers), or on a machine with more memory"
                         ) from None


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """End the workers still running in a broken pool. The executor terminates them (SIGTERM) because "the queues or
    their locks may be in a dirty state and block forever" (CPython's concurrent/futures/process.py), then waits for
    them to end; ours ignore SIGTERM (:func:`_start`), so a worker left blocked (on the call queue's lock, held by the
    worker that was killed mid-read, say) would keep the command from ever exiting. Once in a CI run the
    killed-worker test's command did not exit within 60 s; that was not reproduced here (21 tries with the code
    before, 9 after)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):  # CPython's executor keeps them there
        process.kill()


def _start(shapes_text: str, ontology: Path) -> None:
    """A worker's start: its engine, and Ctrl-C and SIGTERM left to the parent. The terminal sends Ctrl-C to every
    process of the group (``timeout`` sends SIGTERM so too); a worker that took it died mid-chunk, and the parent
    then met a broken pool (a traceback, exit 1) before its own KeyboardInterrupt (exit 130; SIGTERM, which the
    command turns into one, 143). The parent stops the pool."""
    global _checker
    for stop in STOP_SIGNALS:
        signal.signal(stop, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # forked while the parent held them back
    _checker = UnitChecker(shapes_text, ontology)


def _check(chunk: list[PlanUnit]) -> Outcome:
    assert _checker is not None
    return _checker.check(chunk)

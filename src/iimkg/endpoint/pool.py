"""The query workers: a fixed number of processes, each job under a timeout, a dead or stuck worker replaced.

How the timeout is enforced: a job is sent to an idle worker over a pipe, and a thread of the HTTP process
waits for the answer with ``Connection.poll(timeout)``. If none comes in time, the worker is killed
(SIGKILL: a pyoxigraph query can't be interrupted any other way) and a new one is started in the
background; the client gets a 500 saying the query ran out of time. A worker that dies (a crash, the
memory cap) is replaced the same way. Waiting for a free worker is bounded by the same timeout (then 503).

Runaway queries must not stall everyone else (issue 15: two cartesian products held both workers, and every
other client waited for their timeout). A job that finds no worker free within ``overflow_after`` seconds
starts a spare worker (at most ``spare`` beyond ``size``); a spare is stopped again when it comes back and
nobody is waiting, so the pool returns to ``size`` once the runaways have been stopped.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from iimkg.endpoint.jobs import Failure, Ready, Reply, WorkerSetup

__all__ = ["Busy", "PoolError", "WorkerDied", "WorkerPool", "WorkerTimedOut"]

log = logging.getLogger("iimkg.cli.serve")


class PoolError(Exception):
    """A job got no answer: the message says why, for the client."""


class Busy(PoolError):
    """No worker became free within the timeout."""


class WorkerTimedOut(PoolError):
    """The worker did not answer within the timeout and was killed."""


class WorkerDied(PoolError):
    """The worker process ended while running the job (a crash, or the memory cap)."""


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    conn: Connection
    isolated: bool

    def roundtrip(self, job: Any, timeout: float) -> Reply:
        """Send ``job``, wait at most ``timeout`` seconds for the answer (runs in a thread)."""
        try:
            self.conn.send(job)
            if not self.conn.poll(timeout):
                raise WorkerTimedOut(f"the query ran longer than {timeout:g} s (the --timeout limit) and was "
                                     "stopped; add LIMIT or narrow the query")
            reply: Reply = self.conn.recv()
            return reply
        except (EOFError, OSError):
            raise WorkerDied("the query worker stopped while running the query (it may have needed more memory "
                             "than a query may use here); narrow the query") from None

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()


class WorkerPool:
    """``size`` worker processes holding the dataset; :meth:`run` answers one job on one of them."""

    def __init__(self, setup: WorkerSetup, *, size: int, timeout: float, start_timeout: float = 120.0,
                 spare: int | None = None, overflow_after: float = 0.5) -> None:
        self.setup = setup
        self.size = size
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.spare = size if spare is None else spare
        self.overflow_after = overflow_after
        self.isolated = False
        self._context = multiprocessing.get_context("spawn")
        # a thread per running job, per worker starting, and a few for stopping them
        self._threads = ThreadPoolExecutor(max_workers=2 * (size + self.spare) + 2, thread_name_prefix="iimkg-pool")
        self._starting = 0
        self._waiting = 0
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._all: set[_Worker] = set()
        self._background: set[asyncio.Future[Any]] = set()
        self._closed = False

    async def start(self) -> None:
        """Start every worker and wait until each holds the dataset.

        :raises RuntimeError: if a worker does not start.
        """
        loop = asyncio.get_running_loop()
        workers = await asyncio.gather(*(loop.run_in_executor(self._threads, self._spawn) for _ in range(self.size)))
        for worker in workers:
            self._all.add(worker)
            self._idle.put_nowait(worker)
        self.isolated = all(w.isolated for w in workers)

    async def run(self, job: Any) -> Reply:
        """The reply to ``job``.

        :raises Busy: if no worker became free within the timeout.
        :raises WorkerTimedOut: if the job ran longer than the timeout (its worker is replaced).
        :raises WorkerDied: if the worker ended while running it (it is replaced).
        """
        worker = await self._next_worker()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._threads, worker.roundtrip, job, self.timeout)
        try:
            reply = await asyncio.shield(future)
        except asyncio.CancelledError:  # the client went away: the worker comes back when its job ends
            future.add_done_callback(lambda done: self._release(worker, done))
            raise
        except PoolError:
            self._replace(worker)
            raise
        self._give_back(worker)
        return reply

    async def _next_worker(self) -> _Worker:
        """An idle worker; past ``overflow_after`` seconds of waiting, a spare is started for this job.

        :raises Busy: if none became free within the timeout.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        self._waiting += 1
        try:
            try:
                return await asyncio.wait_for(self._idle.get(), min(self.overflow_after, self.timeout))
            except asyncio.TimeoutError:
                self._grow()
            try:
                return await asyncio.wait_for(self._idle.get(), max(deadline - loop.time(), 0.001))
            except asyncio.TimeoutError:
                raise Busy(f"every query worker stayed busy for {self.timeout:g} s; try again shortly") from None
        finally:
            self._waiting -= 1

    def _grow(self) -> None:
        """Start one spare worker in the background, unless the pool is at ``size + spare`` already."""
        if self._closed or len(self._all) + self._starting >= self.size + self.spare:
            return
        self._starting += 1
        task = asyncio.get_running_loop().run_in_executor(self._threads, self._spawn_logged)
        self._background.add(task)

        def started(done: asyncio.Future[Any]) -> None:
            self._starting -= 1
            self._started(done)

        task.add_done_callback(started)

    def _spawn_logged(self) -> _Worker | None:
        try:
            return self._spawn()
        except RuntimeError as error:
            log.error("iimkg serve: a spare query worker did not start: %s", error)
            return None

    def _give_back(self, worker: _Worker) -> None:
        """An idle worker goes back to the queue; a spare beyond ``size`` is stopped if nobody waits for one."""
        if len(self._all) > self.size and self._waiting == 0 and not self._closed:
            self._all.discard(worker)
            asyncio.get_running_loop().run_in_executor(self._threads, worker.stop)
            return
        self._idle.put_nowait(worker)

    def _release(self, worker: _Worker, done: asyncio.Future[Any]) -> None:
        if done.cancelled() or done.exception() is not None:
            self._replace(worker)
        else:
            self._give_back(worker)

    def _replace(self, worker: _Worker) -> None:
        self._all.discard(worker)
        if self._closed:
            worker.stop()
            return
        loop = asyncio.get_running_loop()
        task = loop.run_in_executor(self._threads, self._restart, worker)
        self._background.add(task)
        task.add_done_callback(self._started)

    def _restart(self, old: _Worker) -> _Worker | None:
        old.stop()
        for attempt in range(3):
            try:
                return self._spawn()
            except RuntimeError as error:
                log.error("iimkg serve: a query worker did not start (attempt %d of 3): %s", attempt + 1, error)
                time.sleep(1)
        return None

    def _started(self, task: asyncio.Future[Any]) -> None:
        self._background.discard(task)
        worker = None if task.cancelled() or task.exception() else task.result()
        if worker is None:
            return
        if self._closed:
            worker.stop()
            return
        self._all.add(worker)
        self._idle.put_nowait(worker)

    def _spawn(self) -> _Worker:
        from iimkg.endpoint.worker import main

        parent, child = self._context.Pipe()
        process = self._context.Process(target=main, args=(child, self.setup), name="iimkg-query-worker",
                                        daemon=True)
        process.start()
        child.close()
        try:
            if not parent.poll(self.start_timeout):
                raise RuntimeError(f"no answer within {self.start_timeout:g} s")
            ready = parent.recv()
        except (EOFError, OSError) as error:
            process.kill()
            process.join(5)
            parent.close()
            raise RuntimeError(f"the worker ended while starting (exit code {process.exitcode})") from error
        except RuntimeError:
            process.kill()
            process.join(5)
            parent.close()
            raise
        if isinstance(ready, Failure) or not isinstance(ready, Ready):
            process.kill()
            parent.close()
            raise RuntimeError(f"the worker could not load the dataset: {ready}")
        return _Worker(process, parent, ready.isolated)

    async def close(self) -> None:
        """Stop every worker (and those still starting); the pool answers nothing afterwards."""
        self._closed = True
        for task in list(self._background):
            await asyncio.wait([task], timeout=self.start_timeout)
        for worker in list(self._all):
            worker.stop()
        self._all.clear()
        self._threads.shutdown(wait=False, cancel_futures=True)

"""What keeps ``iimkg serve`` answering under slow clients and a stalled log reader (issue 15).

Two threats, each met here:

- **Slow connections** (slowloris): a client opens many connections and sends each request head a byte at a
  time, or nothing at all. uvicorn reads a head for as long as it takes, and once ``limit_concurrency``
  connections are open every other client gets 503. :class:`GuardedH11Protocol` gives a connection
  ``head_timeout`` seconds to deliver a whole request head, and lets each client address hold at most
  ``per_client_waiting`` connections that wait for one: a new connection over that cap closes the client's
  oldest waiting one. A client that sends its request at once (every real client) is never the oldest waiting,
  so it is served while a thousand slow connections from the same address are opened.
- **A stalled log reader** (``iimkg serve 2>&1 | less``, a log collector that stops): a synchronous write to
  a full pipe blocks the event loop, so nothing is served and SIGTERM is never handled. Every log record of the
  server goes through :class:`DroppingQueueHandler` into a bounded queue; one daemon thread writes them out.
  When the queue is full, records are dropped and counted (the count is written once the reader is back),
  and serving never waits for the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from typing import IO, ClassVar

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["DroppingQueueHandler", "GuardedH11Protocol", "LogDrain"]


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for the request head and a per-client cap on waiting connections."""

    head_timeout: ClassVar[float] = 10.0
    per_client_waiting: ClassVar[int] = 64
    # connections waiting for a request head, per client address, oldest first (one server per process)
    _waiting: ClassVar[dict[str, dict[GuardedH11Protocol, None]]] = {}

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._wait()

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        super().data_received(data)
        if self.cycle is not before:
            self._served()

    def on_response_complete(self) -> None:
        before = self.cycle
        if not self.transport.is_closing():
            self._wait()
        super().on_response_complete()
        if self.cycle is not before:  # a pipelined request was already there
            self._served()

    def connection_lost(self, exc: Exception | None) -> None:
        self._served()
        super().connection_lost(exc)

    def _key(self) -> str:
        return self.client[0] if self.client else "-"

    def _wait(self) -> None:
        """The connection now waits for a request head: start its deadline; close the client's oldest waiting
        connection if it holds too many."""
        waiting = self._waiting.setdefault(self._key(), {})
        while len(waiting) >= self.per_client_waiting:
            next(iter(waiting))._drop()
        waiting[self] = None
        self._cancel_timer()
        self._head_timer = self.loop.call_later(self.head_timeout, self._drop)

    def _served(self) -> None:
        """A request head arrived (or the connection ended): it waits no more."""
        self._cancel_timer()
        waiting = self._waiting.get(self._key())
        if waiting is not None:
            waiting.pop(self, None)
            if not waiting:
                self._waiting.pop(self._key(), None)

    def _cancel_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _drop(self) -> None:
        """Close a connection that took too long to send a request head, or was pushed out by the cap."""
        self._served()
        if not self.transport.is_closing():
            self.transport.close()


class DroppingQueueHandler(logging.Handler):
    """Put records on a bounded queue without ever blocking; count those dropped when it is full."""

    def __init__(self, records: queue.Queue[logging.LogRecord | None]) -> None:
        super().__init__()
        self.records = records
        self.dropped = 0
        self._lock_dropped = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            record.msg = self.format(record)  # formatted here: the writer thread only writes
            record.args = None
            record.exc_info = record.exc_text = None
            self.records.put_nowait(record)
        except queue.Full:
            with self._lock_dropped:
                self.dropped += 1

    def take_dropped(self) -> int:
        with self._lock_dropped:
            count, self.dropped = self.dropped, 0
        return count


class LogDrain:
    """The one thread that writes queued log records to a stream (stderr); it alone may block on a slow reader.

    :param capacity: records held while the reader is slow; more are dropped and counted.
    """

    def __init__(self, stream: IO[str], capacity: int = 10_000) -> None:
        self.stream = stream
        self.records: queue.Queue[logging.LogRecord | None] = queue.Queue(maxsize=capacity)
        self.handler = DroppingQueueHandler(self.records)
        self._thread = threading.Thread(target=self._run, name="iimkg-log", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while True:
            record = self.records.get()
            if record is None:
                return
            try:
                self.stream.write(f"{record.msg}\n")
                dropped = self.handler.take_dropped()
                if dropped:
                    self.stream.write(f"iimkg serve: {dropped} log lines were dropped while the log was not read\n")
                self.stream.flush()
            except (OSError, ValueError):
                continue  # a closed or broken stream: the server goes on without its log

    def stop(self, timeout: float = 2.0) -> None:
        """Let the writer finish what is queued, waiting at most ``timeout`` seconds (it may be stuck in a write
        to a reader that never reads: it is a daemon thread and ends with the process)."""
        with contextlib.suppress(queue.Full):
            self.records.put_nowait(None)
        self._thread.join(timeout)

    def attach(self, *loggers: logging.Logger | str, formatter: logging.Formatter | None = None) -> None:
        """Route these loggers through the queue only (their own handlers removed, not propagated)."""
        if formatter is not None:
            self.handler.setFormatter(formatter)
        for item in loggers:
            logger = item if isinstance(item, logging.Logger) else logging.getLogger(item)
            for old in list(logger.handlers):
                logger.removeHandler(old)
            logger.addHandler(self.handler)
            logger.propagate = False


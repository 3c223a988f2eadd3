"""The listener fixture of the hostile-input tests (see :mod:`hostile`)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from hostile import Listener


@pytest.fixture
def listener() -> Iterator[Listener]:
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

"""Start a real ``iimkg serve`` on 127.0.0.1 (a free port) for the endpoint tests, talk to it, stop it.

The server runs as its own process, as a user starts it, with ``--port 0``: it prints the address it got.
Every wait is bounded: starting (60 s), each request (60 s), stopping (15 s, then SIGKILL).
"""

from __future__ import annotations

import http.client
import json
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

START_SECONDS = 60.0
REQUEST_SECONDS = 60.0
_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:(\d+)/)")

RESULTS_JSON = "application/sparql-results+json"
RESULTS_XML = "application/sparql-results+xml"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    banner: str

    def request(self, method: str, path: str, *, body: bytes | None = None,
                headers: Mapping[str, str] | None = None, timeout: float = REQUEST_SECONDS) -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def get(self, path: str, params: Mapping[str, str] | list[tuple[str, str]] | None = None,
            **headers: str) -> Reply:
        query = f"?{urlencode(params)}" if params else ""
        return self.request("GET", path + query, headers=_headers(headers))

    def post(self, path: str, body: bytes, content_type: str | None = None, **headers: str) -> Reply:
        all_headers = _headers(headers)
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        return self.request("POST", path, body=body, headers=all_headers)

    def sparql(self, query: str, accept: str = RESULTS_JSON) -> Reply:
        return self.get("/sparql", {"query": query}, Accept=accept)

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def _headers(given: Mapping[str, str]) -> dict[str, str]:
    return {k.replace("_", "-"): v for k, v in given.items()}


@contextmanager
def running_server(folder: Path, *args: str) -> Iterator[Server]:
    """``iimkg serve --host 127.0.0.1 --port 0 ARGS`` until the block ends; its log goes to ``folder``."""
    log = folder / f"serve-{time.monotonic_ns()}.log"
    command = [sys.executable, "-m", "iimkg.cli.main", "serve", "--host", "127.0.0.1", "--port", "0", *args]
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log_file, stdin=subprocess.DEVNULL,
                                   cwd=folder)
    try:
        banner = _banner(process, log)
        match = _LISTENING.search(banner)
        assert match, banner
        yield Server(match.group(1).rstrip("/"), int(match.group(2)), process, log, banner)
    finally:
        stop(process)


def _banner(process: subprocess.Popen[bytes], log: Path) -> str:
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + START_SECONDS
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or process.poll() is not None:
            raise AssertionError(f"iimkg serve did not start: {log.read_text(errors='replace')[-3000:]}")
        if selector.select(timeout=min(left, 1.0)):
            chunk = process.stdout.read1(4096)  # type: ignore[attr-defined]
            if not chunk:
                continue
            line += chunk
    selector.close()
    return line.decode("utf-8")


def stop(process: subprocess.Popen[bytes]) -> int | None:
    """SIGTERM, then SIGKILL after 15 s: the server's exit code (None if it had to be killed)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)
            return None
    if process.stdout is not None:
        process.stdout.close()
    return process.returncode

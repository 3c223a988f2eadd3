"""Throughput and latency of ``iimkg serve`` for every named query at 1, 8 and 32 concurrent clients.

Starts the server on 127.0.0.1 (a free port), sends each named query (with its header's first example value
per parameter) through the REST API from N client threads with keep-alive connections, stops the server,
prints a table.
Every loop is bounded: a fixed number of requests per client, and a time limit per measurement.
Target (2-core machine): p50 under 20 ms for every named query at 1 client.

Run: python bench/serve.py [--requests N] [--workers N] [--clients 1,8,32]
"""

from __future__ import annotations

import argparse
import http.client
import re
import selectors
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

from iimkg.queries.named import list_queries

TARGET_P50_MS = 20.0
LIMIT_SECONDS = 120.0


def start(workers: int | None) -> tuple[subprocess.Popen[bytes], int]:
    """``iimkg serve --port 0`` and the port it printed (60 s at most)."""
    command = [sys.executable, "-m", "iimkg.cli.main", "serve", "--host", "127.0.0.1", "--port", "0"]
    if workers:
        command += ["--workers", str(workers)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline, line = time.monotonic() + 60, b""
    while not line.endswith(b"\n"):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise SystemExit("iimkg serve did not start")
        if selector.select(timeout=1):
            line += process.stdout.read1(4096)  # type: ignore[attr-defined]
    found = re.search(rb"127\.0\.0\.1:(\d+)/", line)
    assert found, line
    return process, int(found.group(1))


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(15)


def measure(port: int, path: str, clients: int, per_client: int) -> tuple[float, float, float]:
    """(queries per second, p50 ms, p99 ms) for ``clients`` threads each sending ``per_client`` requests."""
    deadline = time.monotonic() + LIMIT_SECONDS

    def client(_: int) -> list[float]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        times = []
        try:
            for _ in range(per_client):
                if time.monotonic() > deadline:
                    break
                begin = time.perf_counter()
                connection.request("GET", path, headers={"Accept": "application/sparql-results+json"})
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"{path}: HTTP {response.status}")
                times.append((time.perf_counter() - begin) * 1000)
        finally:
            connection.close()
        return times

    begin = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        latencies = sorted(t for times in pool.map(client, range(clients)) for t in times)
    elapsed = time.perf_counter() - begin
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return len(latencies) / elapsed, statistics.median(latencies), p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="requests per measurement (default: 200)")
    parser.add_argument("--workers", type=int, default=None, help="query workers (default: the server's)")
    parser.add_argument("--clients", default="1,8,32", help="concurrency levels (default: 1,8,32)")
    ns = parser.parse_args()
    levels = [int(c) for c in ns.clients.split(",")]
    process, port = start(ns.workers)
    try:
        header = f"{'query':<27}" + "".join(f"{f'{c} client' + ('s' if c > 1 else ''):>30}" for c in levels)
        print(header)
        print(f"{'':<27}" + "".join(f"{'q/s':>10}{'p50 ms':>10}{'p99 ms':>10}" for _ in levels))
        worst = 0.0
        for named in list_queries():
            params = named.example_values()  # the first example its header gives for each parameter
            path = f"/queries/{named.name}" + (f"?{urlencode(params)}" if params else "")
            measure(port, path, 1, 5)  # warm-up
            cells = []
            for clients in levels:
                rate, p50, p99 = measure(port, path, clients, max(1, ns.requests // clients))
                cells.append(f"{rate:>10.0f}{p50:>10.1f}{p99:>10.1f}")
                if clients == 1:
                    worst = max(worst, p50)
            print(f"{named.name:<27}" + "".join(cells), flush=True)
        verdict = "met" if worst < TARGET_P50_MS else "NOT met"
        print(f"\nslowest p50 at 1 client: {worst:.1f} ms (target < {TARGET_P50_MS:.0f} ms: {verdict})")
    finally:
        stop(process)


if __name__ == "__main__":
    main()

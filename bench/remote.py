"""Time every named query on a SPARQL server holding the release, next to the local engine (medians of runs).

The release's ``iim.nt`` is loaded, as a user would, into an Oxigraph server (``oxigraph load`` +
``oxigraph serve-read-only``, from ``pip install oxigraph``) and, with ``--virtuoso``, into a private Virtuoso
instance (Debian's ``virtuoso-opensource``: ``virtuoso-t`` and ``isql-vt``, started on free ports in a temporary
folder, bulk-loaded with ``ld_dir`` + ``rdf_loader_run``). Each named query runs with the first example of its
header: in-process on pyoxigraph, and through ``iimkg.query(..., endpoint=URL)`` (the same term resolution and
binding as ``iimkg query NAME --endpoint URL``, HTTP and parsing included). The ``same`` column says whether the
rows are identical to the local ones.

Run: python bench/remote.py [--runs N] [--virtuoso] [--endpoint NAME=URL …]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pyoxigraph as ox

from iimkg.core.errors import IimkgError
from iimkg.graph.loading import shipped_quads
from iimkg.queries.run import list_queries, query
from iimkg.release import serializers
from iimkg.release.graph import OWL_VERSION_INFO, ReleaseGraph, canonical_triples, with_header

START_SECONDS = 60.0
GRAPH = "https://w3id.org/iimkg/iim.nt"  # the named graph Virtuoso loads into (it queries all graphs by default)


def release_ntriples(folder: Path) -> Path:
    """``iim.nt`` as ``iimkg release`` writes it, in ``folder``."""
    source = canonical_triples(ox.Triple(q.subject, q.predicate, q.object) for q in shipped_quads())
    version = ReleaseGraph(source).header_value(OWL_VERSION_INFO) or "2000-01-01"
    path = folder / "iim.nt"
    path.write_bytes(serializers.ntriples(with_header(source, name="iim.nt", version=version)))
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            with urllib.request.urlopen(f"{url}?query=ASK%7B%7D", timeout=2):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server behind {url} did not start") from None
            time.sleep(0.2)


@contextmanager
def running(command: list[str], url: str) -> Iterator[str]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@contextmanager
def oxigraph_server(data: Path, folder: Path) -> Iterator[str]:
    """An Oxigraph server with ``data`` in its default graph."""
    oxigraph = shutil.which("oxigraph") or str(Path(sys.executable).with_name("oxigraph"))
    start = time.perf_counter()
    subprocess.run([oxigraph, "load", "--location", str(folder / "oxigraph"), "--file", str(data)], check=True,
                   capture_output=True)
    print(f"oxigraph: loaded in {time.perf_counter() - start:.2f} s", file=sys.stderr)
    port = free_port()
    with running([oxigraph, "serve-read-only", "--location", str(folder / "oxigraph"), "--bind",
                  f"127.0.0.1:{port}"], f"http://127.0.0.1:{port}/query") as url:
        yield url


VIRTUOSO_INI = """[Database]
DatabaseFile = {db}/virtuoso.db
ErrorLogFile = {db}/virtuoso.log
LockFile = {db}/virtuoso.lck
TransactionFile = {db}/virtuoso.trx
xa_persistent_file = {db}/virtuoso.pxa
[TempDatabase]
DatabaseFile = {db}/virtuoso-temp.db
TransactionFile = {db}/virtuoso-temp.trx
[Parameters]
ServerPort = {sql}
DirsAllowed = ., {data}
NumberOfBuffers = 170000
MaxDirtyBuffers = 130000
[HTTPServer]
ServerPort = {http}
ServerThreads = 4
[SPARQL]
ResultSetMaxRows = 100000
MaxQueryExecutionTime = 60
"""


@contextmanager
def virtuoso_server(data: Path, folder: Path) -> Iterator[str]:
    """A private Virtuoso with ``data`` bulk-loaded into the graph :data:`GRAPH`."""
    db = folder / "virtuoso"
    db.mkdir()
    sql, http = free_port(), free_port()
    ini = db / "virtuoso.ini"
    ini.write_text(VIRTUOSO_INI.format(db=db, sql=sql, http=http, data=data.parent))
    command = ["virtuoso-t", "+configfile", str(ini), "+foreground"]
    url = f"http://127.0.0.1:{http}/sparql"
    with running(command, url):
        start = time.perf_counter()
        subprocess.run(["isql-vt", str(sql), "dba", "dba",
                        f"exec=ld_dir('{data.parent}', '{data.name}', '{GRAPH}'); rdf_loader_run(); checkpoint;"],
                       check=True, capture_output=True, timeout=300)
        print(f"virtuoso: loaded in {time.perf_counter() - start:.2f} s", file=sys.stderr)
    # Served from a fresh start, as after any load: queried in the process that has just bulk-loaded, Virtuoso 7.2.5
    # gave wrong rows for the rdfs:subClassOf* paths of subtypes and pregnancy (6 rows of 51), right ones after.
    with running(command, url):
        yield url


def p50_ms(name: str, values: dict[str, str], endpoint: str | None, runs: int) -> float:
    """Median milliseconds of ``query(name, endpoint=endpoint, **values)`` (None: the local engine)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        query(name, endpoint=endpoint, **values)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="runs per query and store (after one warm-up)")
    parser.add_argument("--virtuoso", action="store_true", help="also start and load a private Virtuoso")
    parser.add_argument("--endpoint", action="append", default=[], metavar="NAME=URL",
                        help="also time an endpoint that already holds the release (e.g. qlever=http://…)")
    ns = parser.parse_args()
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="iimkg-bench-remote-")))
        data = release_ntriples(folder)
        stores = {"oxigraph-server": stack.enter_context(oxigraph_server(data, folder))}
        if ns.virtuoso:
            if shutil.which("virtuoso-t") is None:
                raise SystemExit("--virtuoso: virtuoso-t is not installed (apt-get install virtuoso-opensource)")
            stores["virtuoso"] = stack.enter_context(virtuoso_server(data, folder))
        for item in ns.endpoint:
            name, _, url = item.partition("=")
            stores[name] = url
        header = f"{'query':<27} {'rows':>5} {'local p50':>10}"
        for name in stores:
            header += f" {name + ' p50':>22} {'same':>5}"
        print(header)
        identical = dict.fromkeys(stores, 0)
        queries = list_queries()
        for named in queries:
            values = named.example_values()
            local = query(named.name, **values)
            line = f"{named.name:<27} {len(local):>5} {p50_ms(named.name, values, None, ns.runs):>7.1f} ms"
            for name, url in stores.items():
                try:
                    remote = query(named.name, endpoint=url, **values)
                except IimkgError as error:
                    line += f" {'error':>22} {'-':>5}"
                    print(f"  {named.name} on {url}: {error}"[:300], file=sys.stderr)
                    continue
                same = remote.columns == local.columns and remote.rows == local.rows
                identical[name] += same
                remote_ms = p50_ms(named.name, values, url, ns.runs)
                line += f" {remote_ms:>19.1f} ms {'yes' if same else 'NO':>5}"
            print(line, flush=True)
        print("\nidentical rows: " + ", ".join(f"{name} {count} of {len(queries)} named queries"
                                             for name, count in identical.items()))


if __name__ == "__main__":
    main()

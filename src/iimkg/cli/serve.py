"""``iimkg serve``: a read-only SPARQL endpoint over the graph, for clients that never install this package.

This module only declares the command; the server (:mod:`iimkg.endpoint`, on Starlette and uvicorn) is
imported when the command runs, so ``iimkg --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register"]


# The most the size options take: beyond these one request or result could take all the machine's memory before
# the limit is checked (the number of workers is bounded by iimkg.cli.options.MAX_WORKERS).
MAX_RESULTS = 10_000_000
MAX_REQUEST_BYTES = 256 * 1_048_576


def register(subparsers: Any) -> None:
    """Add ``serve`` to the ``iimkg`` command."""
    from iimkg.cli import options
    from iimkg.core.limits import Limits

    parser = subparsers.add_parser(
        "serve", help="serve the graph as a read-only SPARQL 1.1 endpoint, with the named queries and a web page",
        description="Serve the graph (plus --data files) over the SPARQL 1.1 Protocol at /sparql, the named queries "
                    "at /queries/NAME (OpenAPI at /openapi.json) and a query page at /. Read-only: updates, LOAD "
                    "and SERVICE are refused. Each --data file is the named graph urn:iimkg:data:FILENAME and the "
                    "shipped graph is https://w3id.org/iimkg/iim.owl; the default graph is their merge. "
                    "Stop with Ctrl-C.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=options.port, default=7878, help="port (default: 7878; 0 takes a free one)")
    parser.add_argument("--data", nargs="+", type=Path, default=[], metavar="FILE",
                        help="RDF files to serve with the graph (Turtle, N-Triples, N-Quads, TriG, JSON-LD, RDF/XML)")
    parser.add_argument("--input-format", metavar="FORMAT",
                        help="RDF syntax of the --data files when the extension does not tell")
    parser.add_argument("--max-input-mb", type=options.input_mb, default=None, metavar="MB",
                        help="largest --data file read (default: 512; see docs/security.md)")
    parser.add_argument("--max-depth", type=options.count, default=None, metavar="N",
                        help=f"deepest bracket nesting of a query the workers parse (default: {Limits().max_depth}; "
                             "see docs/security.md)")
    parser.add_argument("--timeout", type=options.seconds, default=10.0, metavar="SECONDS",
                        help="longest a query may run; then its worker is stopped (default: 10)")
    parser.add_argument("--request-timeout", type=options.seconds, default=10.0, metavar="SECONDS",
                        help="longest a client may take to send a request's head, and then its body; then the "
                             "connection is closed (default: 10)")
    parser.add_argument("--max-results", type=options.counts_to(MAX_RESULTS), default=100_000, metavar="N",
                        help="most rows (or triples) a query may return; more is refused (default: 100000; at most "
                             f"{MAX_RESULTS:,})")
    parser.add_argument("--max-request-bytes", type=options.counts_to(MAX_REQUEST_BYTES), default=1_048_576,
                        metavar="N",
                        help="largest request body or URL query string read (default: 1048576; at most "
                             f"{MAX_REQUEST_BYTES:,})")
    parser.add_argument("--workers", type=options.workers, default=None, metavar="N",
                        help=f"query worker processes, i.e. queries run at once (1 to {options.MAX_WORKERS}; "
                             "default: the number of CPUs, at most 8)")
    parser.add_argument("--worker-memory", type=options.memory_mb, default=2048, metavar="MB",
                        help="address space each query worker may use; a query that needs more is stopped "
                             f"(default: 2048; from {options.MIN_MEMORY_MB}, which lets a worker start)")
    cors = parser.add_mutually_exclusive_group()
    cors.add_argument("--cors", default="*", metavar="ORIGIN",
                      help="origin allowed to call the endpoint from a browser page (default: *, any)")
    cors.add_argument("--no-cors", dest="cors", action="store_const", const=None,
                      help="send no CORS headers (only same-origin pages may call the endpoint)")
    # SIGTERM stays uvicorn's (a graceful shutdown, then the signal raised again), not the other commands' exit 143
    parser.set_defaults(handler=_serve, own_sigterm=True)


def _serve(ns: argparse.Namespace) -> int:
    from iimkg.cli.options import apply_input_limits
    from iimkg.endpoint.app import ServeConfig, serve

    # the HTTP process reads the --data files; the workers get --max-depth through ServeConfig (spawned processes
    # start with the defaults)
    apply_input_limits(ns)
    options: dict[str, Any] = {}
    if ns.workers is not None:
        options["workers"] = ns.workers
    serve(ServeConfig(host=ns.host, port=ns.port, data=tuple(ns.data), timeout=ns.timeout,
                      max_results=ns.max_results, max_request_bytes=ns.max_request_bytes, cors=ns.cors,
                      worker_memory_mb=ns.worker_memory, input_format=ns.input_format,
                      request_timeout=ns.request_timeout, max_depth=ns.max_depth, **options))
    return 0

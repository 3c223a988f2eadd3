"""The ``iimkg`` command: one place that turns errors into messages and exit codes, never tracebacks."""

from __future__ import annotations

import argparse
import enum
import signal
import sys
import textwrap
from collections.abc import Callable, Sequence
from contextlib import suppress as _suppress
from importlib import import_module
from pathlib import Path
from typing import Any, NoReturn

from iimkg.cli.options import apply_input_limits, count, input_mb, memory_mb, seconds
from iimkg.core.errors import IimkgError
from iimkg.core.messages import one_line
from iimkg.core.signals import STOP_SIGNALS

__all__ = ["main"]

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
COMMAND_MODULES: tuple[str, ...] = ("iimkg.cli.sparql", "iimkg.cli.validate", "iimkg.cli.serve", "iimkg.cli.release",
                                    "iimkg.cli.fhir", "iimkg.cli.completion")


EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # 128 + SIGINT, 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is, as Ctrl-C raises KeyboardInterrupt; a subclass of it, so that every
    path that cleans up after Ctrl-C (temporary outputs removed, spill folders removed, the query process and the
    pool's workers stopped) cleans up after SIGTERM too. Left unhandled, SIGTERM ended the process at once and left
    a half-written ``.NAME.XXXX.tmp`` beside the output and the spill folder in the temporary folder."""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    _quiet_library_warnings()
    previous = _sigterm_as_interrupt()
    try:
        if args and args[0] == "query":
            return _query_command(args[1:])
        parser = _parser()
        ns = parser.parse_args(args)
        if not getattr(ns, "handler", None):
            parser.print_help()
            return EXIT_ERROR
        if getattr(ns, "own_sigterm", False) and previous is not None:
            signal.signal(signal.SIGTERM, previous)  # iimkg serve: uvicorn's graceful shutdown
        return int(ns.handler(ns))
    except IimkgError as error:
        print(one_line(f"iimkg: error: {error}"), file=sys.stderr)
        return error.exit_code
    except Terminated:
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _sigterm_as_interrupt() -> Any:
    """Make SIGTERM raise :class:`Terminated` in this process; the handler it replaces (None: nothing replaced,
    outside the main thread, or SIGTERM ignored, as a process started with it ignored should keep it)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        return None
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    return signal.SIG_DFL if previous is None else previous  # None: set outside Python, i.e. the default


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


LIBRARY_LOGGERS = ("rdflib", "pyshacl")


def _quiet_library_warnings() -> None:
    """Let the libraries' warnings through only from ERROR up. rdflib warns, with a traceback, for every literal it
    cannot turn into a Python value (an age of 6,000 digits, a date like ``99999-13-45``); the rules report such a
    value as a finding on its plan, which is what the user needs, and the command's stderr stays one line an error.
    Set here, in the command, not on import: a program that uses iimkg as a library keeps its own logging."""
    import logging

    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.ERROR:
            logger.setLevel(logging.ERROR)


class _OneLineParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, ``iimkg: error: …``, exit 2, like every other error (argparse
    printed its usage synopsis first, seven lines for ``iimkg sparql``); ``--help`` still shows the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, one_line(f"iimkg: error: {self.prog}: {message} (see {self.prog} --help)") + "\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="iimkg",
        description="The IIM treatment knowledge graph: ask treatment questions, check its quality, reason over it. "
                    "Not medical advice.")
    parser.add_argument("--version", action="version", version=f"iimkg {_version()}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    info = sub.add_parser("info", help="version, triple count and counts by kind")
    info.set_defaults(handler=_info)

    reason = sub.add_parser("reason", help="run HermiT: consistency and unsatisfiable classes (needs Java)")
    reason.add_argument("ontology", nargs="?", type=Path, help="an ontology file (default: the shipped one)")
    reason.set_defaults(handler=_reason)

    sub.add_parser("query", help="run a named competency query (`iimkg query list` shows them)")

    # Commands that live in their own module: each module has `register(subparsers)`, which adds its
    # parser and handler; its heavy imports stay inside the handler so that `iimkg --help` stays fast.
    for module in COMMAND_MODULES:
        import_module(module).register(sub)

    return parser


def _output_options(parser: argparse.ArgumentParser) -> None:
    """``--format``, ``--engine`` (choices: the values of the enums that ``render`` and ``query`` take) and
    ``--endpoint``, where the query runs instead of a local engine."""
    from iimkg.core.kinds import Engine
    from iimkg.queries.output import OutputFormat

    parser.add_argument("--format", type=OutputFormat, choices=list(OutputFormat), default=None,
                        metavar=f"{{{_choices(OutputFormat, ',')}}}",
                        help=f"output format (default: {OutputFormat.TABLE.value}; {OutputFormat.TURTLE.value} for "
                             "a CONSTRUCT or DESCRIBE graph); json, xml, csv, tsv are the W3C SPARQL results formats")
    parser.add_argument("--engine", type=Engine, choices=list(Engine), default=None,
                        metavar=f"{{{_choices(Engine, ',')}}}",
                        help=f"local SPARQL engine (default: {Engine.OXIGRAPH.value})")
    parser.add_argument("--endpoint", metavar="URL", type=_endpoint_url,
                        help="run on this SPARQL 1.1 endpoint holding the iimkg release (an Oxigraph server, "
                             "Virtuoso, QLever…) instead of the local graph; names resolve here as for a local run, "
                             "and --timeout bounds the wait; a store that asks for a password gets it from the URL "
                             "(http://USER:PASSWORD@host/…) or IIMKG_ENDPOINT_PASSWORD (see docs/scale.md)")


def _endpoint_url(text: str) -> str:
    import urllib.parse

    from iimkg.core.errors import IimkgError
    from iimkg.queries.remote import check_endpoint_url

    try:
        port = urllib.parse.urlsplit(text).port
    except ValueError:  # said "connection refused" for a port that cannot exist
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError("the URL's port is not a port: a number from 1 to 65535")
    try:
        return check_endpoint_url(text)
    except IimkgError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _engine_or_endpoint(ns: argparse.Namespace) -> None:
    from iimkg.core.errors import InputError

    if ns.endpoint is not None and ns.engine is not None:
        raise InputError(f"--engine {ns.engine.value} chooses a local engine, but with --endpoint the query runs on "
                         "the endpoint: give one of them")


DEFAULT_TIMEOUT = 30.0
DEFAULT_MEMORY_MB = 4096


def _limit_options(parser: argparse.ArgumentParser, *, inputs: bool = True) -> None:
    """``--timeout`` and the input policy's flags (:mod:`iimkg.core.limits`), which raise its defaults."""
    from iimkg.core.limits import Limits

    defaults = Limits()
    parser.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"stop the query after this long, exit 2 (default: {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--max-memory-mb", type=memory_mb, default=DEFAULT_MEMORY_MB, metavar="MB",
                        help=f"address space the query may use; past it the query is stopped, exit 2 "
                             f"(default: {DEFAULT_MEMORY_MB})")
    parser.add_argument("--max-depth", type=count, default=None, metavar="N",
                        help=f"deepest bracket nesting of a query (default: {defaults.max_depth})")
    if inputs:
        parser.add_argument("--max-input-mb", type=input_mb, default=None, metavar="MB",
                            help=f"largest --data file (default: {defaults.max_input_bytes // 1_048_576})")


def _bounded(work: Callable[[], str], timeout: float, memory_mb: int | None = None) -> int:
    """Run ``work`` in a child process and print what it returns; stop it at ``timeout`` or on Ctrl-C, and cap
    its address space at ``memory_mb`` (a CONSTRUCT that multiplies triples grows by ~90 MB/s otherwise).

    A query runs inside Rust (pyoxigraph) or deep in rdflib, where neither a timer nor Ctrl-C can stop it; a
    child process can always be killed. The child ignores Ctrl-C (the terminal sends it to both) and SIGTERM
    (``timeout`` sends it to both): the parent kills it and exits 130 (SIGTERM: 143). Its errors come back as one
    line and an exit code, never a traceback; no output is written until the whole result is there.
    """
    import multiprocessing

    if sys.platform == "win32" or "fork" not in multiprocessing.get_all_start_methods():
        sys.stdout.write(work())
        return EXIT_OK
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    def child() -> None:
        for stop in STOP_SIGNALS:
            signal.signal(stop, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked by the parent around the fork
        _silence_stderr()  # the child answers through the pipe; what a runtime prints as it fails goes nowhere
        if memory_mb is not None:
            _cap_address_space(memory_mb * 1_048_576)
        try:
            reply: tuple[int, str] = (EXIT_OK, work())
        except IimkgError as error:
            reply = (error.exit_code, one_line(f"iimkg: error: {error}"))
        except MemoryError:
            reply = (EXIT_ERROR, "iimkg: error: the query needs more memory than --max-memory-mb allows")
        except RecursionError:
            reply = (EXIT_ERROR, "iimkg: error: the query is nested too deeply to evaluate (see --max-depth)")
        except Exception as error:  # a bug: one line, not a traceback
            reply = (EXIT_ERROR, one_line(f"iimkg: error: internal error: {type(error).__name__}: {str(error)[:300]}"))
        sender.send(reply)

    process = context.Process(target=child, name="iimkg-query", daemon=True)
    # Ctrl-C (and SIGTERM) is held back while the child starts: arriving between the fork and the child's SIG_IGN
    # it would stop the child half-started, and arriving in the parent inside start() it left a running child no one
    # kills (the command had exited 130 but the child kept the terminal's pipes open until its query ended).
    # Unblocked, a pending Ctrl-C is raised in the parent inside the try below, which kills the child.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        sender.close()
        if not receiver.poll(timeout):
            print(f"iimkg: error: the query ran longer than {timeout:g} s and was stopped "
                  "(raise the limit with --timeout SECONDS)", file=sys.stderr)
            return EXIT_ERROR
        try:
            code, text = receiver.recv()
        except EOFError:
            process.join(5)
            print(f"iimkg: error: the query stopped without an answer (exit {process.exitcode}); it may have needed "
                  "more memory than --max-memory-mb allows", file=sys.stderr)
            return EXIT_ERROR
    finally:
        if process.pid is not None:
            if process.is_alive():
                process.kill()
            process.join(5)
    if code == EXIT_OK:
        sys.stdout.write(text)
    else:
        print(text, file=sys.stderr)
    return int(code)


def _silence_stderr() -> None:
    """Point this process's file descriptor 2 at the null device. A query process past its memory cap died in the
    Rust runtime, which wrote ``memory allocation of 320 bytes failed`` and ``stack backtrace:`` to stderr before
    the parent's one line; the parent says what happened."""
    import os

    with _suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)


def _cap_address_space(limit: int) -> None:
    """Lower this process's address-space limit to ``limit`` bytes (never raise it above the hard limit)."""
    import resource

    with _suppress(ValueError, OSError):
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))


def _choices(kind: type[enum.Enum], separator: str = "|") -> str:
    return separator.join(str(member.value) for member in kind)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("iimkg")
    except PackageNotFoundError:
        return "unknown"


def _info(_: argparse.Namespace) -> int:
    from iimkg.graph.info import graph_info, render_info

    sys.stdout.write(render_info(graph_info()))
    return EXIT_OK


def _reason(ns: argparse.Namespace) -> int:
    from iimkg.graph.reason import reason

    report = reason(ns.ontology)
    if not report.consistent:
        print(f"inconsistent (HermiT, {report.seconds:.1f} s): {report.message}")
        return EXIT_FINDINGS
    if report.unsatisfiable:
        print(f"consistent, but {len(report.unsatisfiable)} unsatisfiable classes (HermiT, {report.seconds:.1f} s):")
        for iri in report.unsatisfiable:
            print(f"  {iri}")
        return EXIT_FINDINGS
    print(f"consistent; no unsatisfiable classes (HermiT via owlready2, {report.seconds:.1f} s; {report.java})")
    return EXIT_OK


def _query_command(args: list[str]) -> int:
    from iimkg.queries.run import list_queries, named_query

    if not args or args[0] in {"-h", "--help"}:
        from iimkg.core.kinds import Engine
        from iimkg.queries.output import OutputFormat

        print(f"usage: iimkg query list | iimkg query NAME [--PARAM VALUE …] [--format {_choices(OutputFormat)}] "
              f"[--engine {_choices(Engine)} | --endpoint URL]\n\nnamed queries:")
        _print_query_list(list_queries())
        return EXIT_OK if args else EXIT_ERROR
    if args[0] == "list":
        _print_query_list(list_queries())
        return EXIT_OK
    named = named_query(args[0])
    parser = _OneLineParser(
        prog=f"iimkg query {named.name}",
        description=f"{named.question}\n\n" + textwrap.fill(named.description, 88),
        epilog=f"answers seed statements: {named.answers}" if named.answers else None,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    for parameter in named.parameters:
        parser.add_argument(f"--{parameter.name}", required=not parameter.optional, metavar="TERM",
                            help=parameter.description + (" (optional)" if parameter.optional else ""))
    _output_options(parser)
    _limit_options(parser, inputs=False)
    ns = parser.parse_args(args[1:])
    apply_input_limits(ns)
    _engine_or_endpoint(ns)
    from iimkg.core.kinds import Engine
    from iimkg.queries.output import render
    from iimkg.queries.run import query

    values = {p.name: getattr(ns, p.name) for p in named.parameters}
    from iimkg.queries.remote import Endpoint

    engine = ns.engine or Engine.OXIGRAPH
    endpoint = Endpoint(ns.endpoint, ns.timeout) if ns.endpoint else None
    return _bounded(lambda: render(query(named.name, engine=engine, endpoint=endpoint, **values), ns.format),
                    ns.timeout, ns.max_memory_mb)


def _print_query_list(queries: Sequence[object]) -> None:
    from iimkg.queries.run import NamedQuery

    width = max((len(q.name) for q in queries if isinstance(q, NamedQuery)), default=10)
    for q in queries:
        assert isinstance(q, NamedQuery)
        params = " ".join(f"[--{p.name}]" if p.optional else f"--{p.name}" for p in q.parameters)
        print(f"  {q.name:<{width}}  {q.question}" + (f"  ({params})" if params else ""))


if __name__ == "__main__":
    sys.exit(main())

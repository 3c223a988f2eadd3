"""The ``iimkg`` command: one place that turns errors into messages and exit codes, never tracebacks."""

from __future__ import annotations

import argparse
import enum
import sys
import textwrap
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path

from iimkg.core.errors import IimkgError

__all__ = ["main"]

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
COMMAND_MODULES: tuple[str, ...] = ("iimkg.cli.validate", "iimkg.cli.serve", "iimkg.cli.release", "iimkg.cli.fhir")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] == "query":
            return _query_command(args[1:])
        parser = _parser()
        ns = parser.parse_args(args)
        if not getattr(ns, "handler", None):
            parser.print_help()
            return EXIT_ERROR
        return int(ns.handler(ns))
    except IimkgError as error:
        print(f"iimkg: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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

    sparql = sub.add_parser("sparql", help="run any SPARQL query over the graph (plus optional data files)")
    sparql.add_argument("query", help="the query text, or a file that holds it")
    sparql.add_argument("--data", nargs="+", type=Path, default=[], metavar="FILE",
                        help="RDF files to add to the graph (Turtle, N-Triples, JSON-LD, RDF/XML by extension)")
    _output_options(sparql)
    sparql.set_defaults(handler=_sparql)

    # Commands that live in their own module: each module has `register(subparsers)`, which adds its
    # parser and handler; its heavy imports stay inside the handler so that `iimkg --help` stays fast.
    for module in COMMAND_MODULES:
        import_module(module).register(sub)

    return parser


def _output_options(parser: argparse.ArgumentParser) -> None:
    """``--format`` and ``--engine``, whose choices are the values of the enums that ``render`` and ``query`` take."""
    from iimkg.core.kinds import Engine
    from iimkg.queries.output import OutputFormat

    parser.add_argument("--format", type=OutputFormat, choices=list(OutputFormat), default=OutputFormat.TABLE,
                        metavar=f"{{{_choices(OutputFormat, ',')}}}",
                        help=f"output format (default: {OutputFormat.TABLE.value})")
    parser.add_argument("--engine", type=Engine, choices=list(Engine), default=Engine.OXIGRAPH,
                        metavar=f"{{{_choices(Engine, ',')}}}",
                        help=f"SPARQL engine (default: {Engine.OXIGRAPH.value})")


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


def _sparql(ns: argparse.Namespace) -> int:
    from iimkg.core.errors import InputError
    from iimkg.core.kinds import Engine
    from iimkg.graph.loading import load, oxigraph_store
    from iimkg.queries.output import render
    from iimkg.queries.run import run_sparql

    text = ns.query
    candidate = Path(text)
    if "\n" not in text and len(text) < 4096 and candidate.suffix in {".rq", ".sparql"}:
        if not candidate.is_file():
            raise InputError("no such query file", path=candidate)
        text = candidate.read_text(encoding="utf-8")
    engine: Engine = ns.engine
    try:
        if engine is Engine.OXIGRAPH:
            result = run_sparql(text, engine=engine, store=oxigraph_store(ns.data) if ns.data else None)
        else:
            result = run_sparql(text, engine=engine, graph=load(ns.data) if ns.data else None)
    except InputError as error:
        if str(error.path) == "<query>" and candidate.suffix in {".rq", ".sparql"}:
            raise InputError(error.detail, path=candidate, line=error.line, column=error.column) from None
        raise
    sys.stdout.write(render(result, ns.format))
    return EXIT_OK


def _query_command(args: list[str]) -> int:
    from iimkg.queries.run import list_queries, named_query

    if not args or args[0] in {"-h", "--help"}:
        from iimkg.core.kinds import Engine
        from iimkg.queries.output import OutputFormat

        print(f"usage: iimkg query list | iimkg query NAME [--PARAM VALUE …] [--format {_choices(OutputFormat)}] "
              f"[--engine {_choices(Engine)}]\n\nnamed queries:")
        _print_query_list(list_queries())
        return EXIT_OK if args else EXIT_ERROR
    if args[0] == "list":
        _print_query_list(list_queries())
        return EXIT_OK
    named = named_query(args[0])
    parser = argparse.ArgumentParser(
        prog=f"iimkg query {named.name}",
        description=f"{named.question}\n\n" + textwrap.fill(named.description, 88),
        epilog=f"answers seed statements: {named.answers}" if named.answers else None,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    for parameter in named.parameters:
        parser.add_argument(f"--{parameter.name}", required=not parameter.optional, metavar="TERM",
                            help=parameter.description + (" (optional)" if parameter.optional else ""))
    _output_options(parser)
    ns = parser.parse_args(args[1:])
    from iimkg.queries.output import render
    from iimkg.queries.run import query

    values = {p.name: getattr(ns, p.name) for p in named.parameters}
    result = query(named.name, engine=ns.engine, **values)
    sys.stdout.write(render(result, ns.format))
    return EXIT_OK


def _print_query_list(queries: Sequence[object]) -> None:
    from iimkg.queries.run import NamedQuery

    width = max((len(q.name) for q in queries if isinstance(q, NamedQuery)), default=10)
    for q in queries:
        assert isinstance(q, NamedQuery)
        params = " ".join(f"[--{p.name}]" if p.optional else f"--{p.name}" for p in q.parameters)
        print(f"  {q.name:<{width}}  {q.question}" + (f"  ({params})" if params else ""))


if __name__ == "__main__":
    sys.exit(main())

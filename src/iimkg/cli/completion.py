"""``iimkg completion bash|zsh|fish``: a shell completion script, generated from the command's own parser.

The script is written by ``shtab`` from the argparse parser that ``iimkg`` itself parses with, so a new command,
flag or named query completes without anyone editing a script. ``iimkg query`` parses its own arguments (one
parser per named query), so for completion it gets one subcommand per ``queries/*.rq`` with that query's
``--PARAMETER`` flags; file arguments (``type=Path``) complete file names.
"""

from __future__ import annotations

import argparse
import enum
import sys
from pathlib import Path
from typing import Any

__all__ = ["Shell", "completion_parser", "register", "script"]


class Shell(str, enum.Enum):
    """The shells a script is written for (``shtab`` also knows tcsh and PowerShell; these three are tested)."""

    BASH = "bash"
    ZSH = "zsh"
    FISH = "fish"


_INSTALL = {
    Shell.BASH: "iimkg completion bash > ~/.local/share/bash-completion/completions/iimkg",
    Shell.ZSH: "iimkg completion zsh > ~/.zfunc/_iimkg   # with fpath+=(~/.zfunc) before compinit in ~/.zshrc",
    Shell.FISH: "iimkg completion fish > ~/.config/fish/completions/iimkg.fish",
}


def register(subparsers: Any) -> None:
    """Add ``completion`` to the ``iimkg`` command; shtab is imported only when a script is written."""
    parser = subparsers.add_parser(
        "completion", help="print a shell completion script (bash, zsh or fish)",
        description="Print a completion script for SHELL, generated from iimkg's own parser (commands, flags, "
                    "named queries and their parameters, file arguments). Install it with:\n  "
                    + "\n  ".join(_INSTALL.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shell", type=Shell, choices=list(Shell), metavar="{" + ",".join(s.value for s in Shell) + "}",
                        help="the shell to write the script for")
    parser.set_defaults(handler=_completion)


def _completion(ns: argparse.Namespace) -> int:
    sys.stdout.write(script(ns.shell))
    return 0


def script(shell: Shell) -> str:
    """The completion script of ``iimkg`` for ``shell``."""
    import shtab

    return str(shtab.complete(completion_parser(), shell=shell.value))


def completion_parser() -> argparse.ArgumentParser:
    """``iimkg``'s parser, with ``query`` given a subcommand per named query and file arguments marked as files.

    The parser is built afresh (never the one parsing this very command line), and only for completion: the
    ``query`` subcommands mirror what :func:`iimkg.cli.main._query_command` parses for each named query.
    """
    import shtab

    from iimkg.cli import main
    from iimkg.queries.run import list_queries

    parser = main._parser()
    query = _subparser(parser, "query")
    names = query.add_subparsers(title="named queries", metavar="NAME")
    names.add_parser("list", help="list the named queries")
    for named in list_queries():
        one = names.add_parser(named.name, help=named.question)
        for parameter in named.parameters:
            one.add_argument(f"--{parameter.name}", required=not parameter.optional, metavar="TERM",
                             help=parameter.description)
        main._output_options(one)
        main._limit_options(one, inputs=False)
    for each in _all_parsers(parser):
        for action in each._actions:
            if action.type is Path:
                action.complete = shtab.FILE  # type: ignore[attr-defined]
            if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
                # enum choices are offered as users type them (`json`), not as `OutputFormat.JSON`
                action.choices = [c.value if isinstance(c, enum.Enum) else c for c in action.choices]
    return parser


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            found: argparse.ArgumentParser = action.choices[name]
            return found
    raise KeyError(name)


def _all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and every subparser under it, depth first."""
    out = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                out += _all_parsers(child)
    return out

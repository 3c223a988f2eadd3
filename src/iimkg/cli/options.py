"""The value types of the commands' numeric options, one per kind of limit, shared by every command.

Each parses an option's text when argparse reads it, so that a value out of range is one usage line (exit 2) before
anything starts: a timer overflowed past a day of seconds, setrlimit past 2**63 bytes, and ``serve --workers
100000`` started processes until it was killed. Before, ``iimkg validate`` and ``iimkg fhir convert`` read their
limits as plain ints and checked them after parsing, with no upper bound, and ``iimkg serve`` had a parser of its
own.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["MAX_INPUT_MB", "MAX_MEMORY_MB", "MAX_SECONDS", "MAX_WORKERS", "MIN_MEMORY_MB", "apply_input_limits",
           "count", "counts_to", "input_mb", "memory_mb", "port", "seconds", "workers"]

MAX_SECONDS = 86_400  # a day: past it a timer overflowed (OverflowError from 1e10, inf, 1e308)
MIN_MEMORY_MB = 128  # the smallest measured to run a named query was 90 MB (rdflib), a serve worker 75 MB
MAX_MEMORY_MB = 1_048_576  # 1 TiB of address space; past 2**63 bytes setrlimit overflowed
MAX_INPUT_MB = 1_048_576
MAX_WORKERS = 64  # processes: beyond it a typo starts thousands, each with its own memory


def seconds(text: str) -> float:
    """A time limit: finite, above 0, at most :data:`MAX_SECONDS` (NaN and infinity made a server whose every
    query failed, and a timer that overflowed)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_SECONDS):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0 and at most {MAX_SECONDS}")
    return value


def _whole(text: str, least: int, most: int | None) -> int | None:
    """``text`` as a whole number written in ASCII digits from ``least`` to ``most``, else None (each type says
    what it takes)."""
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if least <= value and (most is None or value <= most) else None


def count(text: str, most: int | None = None) -> int:
    """A whole number above 0 (and at most ``most``), written in ASCII digits."""
    value = _whole(text, 1, most)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0"
                                         + (f" and at most {most:,}" if most is not None else ""))
    return value


def counts_to(most: int) -> Callable[[str], int]:
    """The type of a count option with an upper bound."""
    def parse(text: str) -> int:
        return count(text, most)

    return parse


input_mb = counts_to(MAX_INPUT_MB)
workers = counts_to(MAX_WORKERS)


def memory_mb(text: str) -> int:
    """An address-space cap in MB, from :data:`MIN_MEMORY_MB` (below it the process can't load its libraries: a
    failed ImportError, a Rust allocation failure) to :data:`MAX_MEMORY_MB`."""
    value = _whole(text, MIN_MEMORY_MB, MAX_MEMORY_MB)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of MB from {MIN_MEMORY_MB} (the least a query "
                                         f"process needs to start) to {MAX_MEMORY_MB}")
    return value


def port(text: str) -> int:
    """A TCP port to listen on; 0 takes a free one."""
    value = _whole(text, 0, 65535)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0-65535; 0 takes a free one)")
    return value


def apply_input_limits(ns: argparse.Namespace) -> None:
    """Set the input policy (:mod:`iimkg.core.limits`) from a command's ``--max-input-mb`` and ``--max-depth``,
    where it has them; what a command leaves unset keeps the policy's default."""
    from iimkg.core.limits import configure

    mb = getattr(ns, "max_input_mb", None)
    configure(max_depth=getattr(ns, "max_depth", None), max_input_bytes=mb * 1_048_576 if mb else None)

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

__all__ = ["MAX_INPUT_MB", "MAX_MEMORY_MB", "MAX_SECONDS", "MAX_WORKERS", "MIN_MEMORY_MB", "count", "counts_to",
           "input_mb", "memory_mb", "port", "seconds", "workers"]

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


def count(text: str, most: int | None = None) -> int:
    """A whole number above 0 (and at most ``most``), written in ASCII digits."""
    if not (text.isascii() and text.isdigit()) or int(text) == 0 or (most is not None and int(text) > most):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0"
                                         + (f" and at most {most:,}" if most is not None else ""))
    return int(text)


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
    if not (text.isascii() and text.isdigit()) or not MIN_MEMORY_MB <= int(text) <= MAX_MEMORY_MB:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of MB from {MIN_MEMORY_MB} (the least a query "
                                         f"process needs to start) to {MAX_MEMORY_MB}")
    return int(text)


def port(text: str) -> int:
    """A TCP port to listen on; 0 takes a free one."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0-65535; 0 takes a free one)")
    return int(text)

"""The memory of a process and all its descendants, as the benchmarks sample it (Linux /proc).

Two sums: resident (RSS) and proportional (PSS). `iimkg validate` forks its workers, which share the parent's pages
(the ontology, the compiled shapes, the imported libraries) until they write them: a sum of resident sets counts
those pages once per process, while PSS divides each shared page among the processes that map it, so the PSS sum
is the memory the whole tree really takes from the machine. Both are printed; PSS is the one to plan capacity with.

Sampling must not take the CPU it measures: reading a process's PSS (smaps_rollup) makes the kernel walk its page
tables, some 9 ms of CPU for a 600 MB process on the project's VM. The benches read it every 20 ms until 2026-12-07:
a third of a core taken from the 2-core machine under test, and `bench/validate.py`'s wall times came out a third
above `farm-bench`'s for the same command. :class:`PeakSampler` reads RSS (a counter: microseconds) at every sample
and PSS at most every half second, or a tenth of a second when RSS has reached a new peak.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from typing import NamedTuple

PAGE = os.sysconf("SC_PAGE_SIZE")


class Memory(NamedTuple):
    rss: int  # bytes, summed resident sets
    pss: int  # bytes, summed proportional sets (RSS when the kernel does not give smaps_rollup)

    def peak(self, other: Memory) -> Memory:
        return Memory(max(self.rss, other.rss), max(self.pss, other.pss))


class PeakSampler:
    """The peak memory of ``root``'s process tree, sampled by calling :meth:`sample` (every 20-50 ms); ``cpu``: the
    seconds of CPU the sampling took, to print beside the figures it may have disturbed."""

    def __init__(self, root: int, pss_every: float = 0.5, pss_at_peak: float = 0.1) -> None:
        self.root, self.pss_every, self.pss_at_peak = root, pss_every, pss_at_peak
        self.peak = Memory(0, 0)
        self.cpu = 0.0
        self._pss_read = float("-inf")

    def sample(self) -> None:
        began = time.thread_time()
        pids = tree_pids(self.root)
        rss = sum(_resident(pid) for pid in pids)
        since = time.monotonic() - self._pss_read
        if since >= self.pss_every or (rss > self.peak.rss and since >= self.pss_at_peak):
            self._pss_read = time.monotonic()
            self.peak = self.peak.peak(Memory(rss, sum(_proportional(pid) for pid in pids)))
        else:
            self.peak = Memory(max(self.peak.rss, rss), self.peak.pss)
        self.cpu += time.thread_time() - began


def tree_pids(root: int) -> list[int]:
    """``root`` and every process below it: from each thread's ``children`` file (a worker may be forked by any
    thread), which costs some µs a process; a scan of every process on the machine where the kernel has no such file
    (1.6 ms a sample with 72 processes)."""
    if not os.path.exists(f"/proc/{root}/task/{root}/children"):
        return _scanned_tree(root)
    pids, stack = [], [root]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as handle:
                    stack.extend(int(child) for child in handle.read().split())
        except (OSError, ValueError):
            continue
    return pids


def _scanned_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                    children[int(handle.read().rsplit(")", 1)[1].split()[1])].append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    pids, stack = [], [root]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        stack.extend(children.get(pid, ()))
    return pids


def _resident(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _proportional(pid: int) -> int:
    """``pid``'s PSS; its RSS where the kernel gives no smaps_rollup."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return _resident(pid)

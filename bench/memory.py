"""The memory of a process and all its descendants, as the benchmarks sample it (Linux /proc).

Two sums: resident (RSS) and proportional (PSS). `iimkg validate` forks its workers, which share the parent's pages
(the ontology, the compiled shapes, the imported libraries) until they write them: a sum of resident sets counts
those pages once per process, while PSS divides each shared page among the processes that map it, so the PSS sum
is the memory the whole tree really takes from the machine. Both are printed; PSS is the one to plan capacity with.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import NamedTuple


class Memory(NamedTuple):
    rss: int  # bytes, summed resident sets
    pss: int  # bytes, summed proportional sets (RSS when the kernel does not give smaps_rollup)

    def peak(self, other: Memory) -> Memory:
        return Memory(max(self.rss, other.rss), max(self.pss, other.pss))


def tree_memory(root: int) -> Memory:
    """The summed RSS and PSS of ``root`` and every process below it."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                    children[int(handle.read().rsplit(")", 1)[1].split()[1])].append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    rss = pss = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, ()))
        one_rss, one_pss = _process_memory(pid)
        rss += one_rss
        pss += one_pss
    return Memory(rss, pss)


def _process_memory(pid: int) -> tuple[int, int]:
    rss = pss = None
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1]) * 1024
    except OSError:
        pass
    if rss is None:
        try:
            with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
                rss = next((int(line.split()[1]) * 1024 for line in handle if line.startswith("VmRSS:")), 0)
        except OSError:
            rss = 0
    return rss, pss if pss is not None else rss

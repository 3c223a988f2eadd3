"""bench/memory.py: the benches' memory figures are only as good as the sampler. It must find every process of the
tree (a worker forked by any thread) and see their memory, at a small cost of CPU."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time

from conftest import ROOT

# bench/ is not put on sys.path: its fhir.py would then be the `fhir` that fhir.resources is looked up in
_spec = importlib.util.spec_from_file_location("iimkg_bench_memory", ROOT / "bench" / "memory.py")
assert _spec is not None and _spec.loader is not None
memory = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = memory  # dataclasses and NamedTuples look their module up by name
_spec.loader.exec_module(memory)
PeakSampler, _scanned_tree, tree_pids = memory.PeakSampler, memory._scanned_tree, memory.tree_pids

# A parent that forks two workers from a thread, each writing to MEGABYTES of its own, then waits.
MEGABYTES = 64
TREE = f"""
import multiprocessing, threading, time
def work():
    block = bytearray({MEGABYTES} * 2**20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    time.sleep(60)
def start():
    for _ in range(2):
        multiprocessing.get_context("fork").Process(target=work, daemon=True).start()
threading.Thread(target=start).start()
time.sleep(60)
"""


def test_the_sampler_finds_the_whole_tree_and_its_memory() -> None:
    process = subprocess.Popen([sys.executable, "-c", TREE])
    try:
        deadline = time.monotonic() + 30
        sampler = PeakSampler(process.pid)
        while time.monotonic() < deadline and len(tree_pids(process.pid)) < 3:
            time.sleep(0.05)
        time.sleep(1.0)  # the workers write their blocks
        assert sorted(tree_pids(process.pid)) == sorted(_scanned_tree(process.pid))
        assert len(tree_pids(process.pid)) == 3, "the parent and the two workers forked by its thread"
        for _ in range(20):
            sampler.sample()
            time.sleep(0.02)
        assert sampler.peak.rss >= 2 * MEGABYTES * 2**20
        assert 2 * MEGABYTES * 2**20 <= sampler.peak.pss <= sampler.peak.rss
        assert 0 < sampler.cpu < 1.0
    finally:
        process.kill()
        process.wait()

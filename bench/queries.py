"""Time every named query in-process on both engines and from the CLI end to end (medians of several runs).

Targets (2-core machine): in-process p50 under 5 ms; a named query from the CLI under 0.3 s.
Run: python bench/queries.py [--runs N] [--cli-runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from iimkg.queries.named import named_query
from iimkg.queries.run import Engine, list_queries, query


def in_process(name: str, engine: Engine, runs: int) -> tuple[float, float, int]:
    """(median ms, p99 ms, rows) after one warm-up run, which also builds the caches.

    Each parameter is bound to the first example value the query's header gives.
    """
    args = named_query(name).example_values()
    rows = len(query(name, engine=engine, **args))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        query(name, engine=engine, **args)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))], rows


def cli(name: str, runs: int) -> float:
    """Median seconds of `iimkg query NAME …` as a new process, start-up included."""
    args = [f"--{k}={v}" for k, v in named_query(name).example_values().items()]
    exe = Path(sys.executable).with_name("iimkg")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "iimkg.cli.main"]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([*command, "query", name, *args, "--format", "csv"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50, help="in-process runs per query and engine")
    parser.add_argument("--cli-runs", type=int, default=7, help="CLI runs per query")
    ns = parser.parse_args()
    print(f"{'query':<27} {'rows':>5} {'oxigraph p50':>13} {'p99':>8} {'rdflib p50':>11} {'p99':>8} {'CLI p50':>9}")
    worst = {"oxigraph": 0.0, "rdflib": 0.0, "cli": 0.0}
    for named in list_queries():
        ox_p50, ox_p99, rows = in_process(named.name, Engine.OXIGRAPH, ns.runs)
        rl_p50, rl_p99, rl_rows = in_process(named.name, Engine.RDFLIB, max(5, ns.runs // 5))
        assert rows == rl_rows, f"{named.name}: {rows} rows on oxigraph, {rl_rows} on rdflib"
        cli_s = cli(named.name, ns.cli_runs)
        worst = {"oxigraph": max(worst["oxigraph"], ox_p50), "rdflib": max(worst["rdflib"], rl_p50),
                 "cli": max(worst["cli"], cli_s)}
        print(f"{named.name:<27} {rows:>5} {ox_p50:>10.2f} ms {ox_p99:>5.2f} ms {rl_p50:>8.1f} ms {rl_p99:>5.1f} ms "
              f"{cli_s:>7.3f} s")
    print(f"\nslowest in-process p50: oxigraph {worst['oxigraph']:.2f} ms (target < 5 ms), "
          f"rdflib {worst['rdflib']:.1f} ms; slowest CLI p50: {worst['cli']:.3f} s (target < 0.3 s)")


if __name__ == "__main__":
    main()

"""bench/rules.py runs and prints its split: a benchmark nobody runs in CI rots unseen. Figures are not checked
(timings are the bench's job), only that each part of the report is there for the plans it was given."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import ROOT


def test_the_rules_bench_prints_each_step_the_split_and_the_growth() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "rules.py"), "--plans", "300", "--chunk-plans", "100", "--repeat", "1",
         "--growth", "3", "--top", "5"], capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("# 300 plans in 3 chunks (at most 100 plans"), lines[0]
    steps = [line for line in lines if re.match(r"^\S.* (rule|check)( \d+)?\s+\d+\.\d%\s", line)]
    assert len(steps) == 5, run.stdout
    assert any(line.startswith("evaluation: ") and "fixed per chunk" in line for line in lines), run.stdout
    assert any(line.startswith("growth: chunks of 300 plans against 100: ") for line in lines), run.stdout


def test_the_rules_bench_counts_each_steps_rows_on_the_first_chunk() -> None:
    """--rows: each step's rows from ``oxigraph query --explain --stats`` (the oxigraph command of the test extra), one
    column, and their sum over the first chunk's plans."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "rules.py"), "--plans", "120", "--chunk-plans", "50", "--repeat", "1",
         "--growth", "0", "--rows"], capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert not any(line.startswith("# --rows:") for line in lines), run.stdout
    header = next(line for line in lines if line.startswith("step "))
    assert header.rstrip().endswith("rows, chunk 1"), header
    steps = [line for line in lines if re.match(r"^\S.* (rule|check)( \d+)?\s+\d+\.\d%\s", line)]
    rows = [int(line.split()[-1].replace(",", "")) for line in steps]
    total = next(line for line in lines if line.startswith("rows: "))
    assert total.startswith(f"rows: {sum(rows):,} for the 50 plans of the first chunk"), (total, rows)
    assert sum(rows) > 0

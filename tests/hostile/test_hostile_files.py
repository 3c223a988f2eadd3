"""Files iimkg writes are whole or absent, and readable as any new file is (issue 15: reports were written 0600); an
output that is a device, a named pipe or a link is written in place, never replaced; an input that is one is refused
in one line."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from iimkg.core.atomic import write_text_atomically

from conftest import ROOT
from hostile import assert_one_line_error, run_cli


def test_a_new_report_gets_the_mode_of_any_new_file(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_text_atomically(tmp_path / "report.txt", "ok\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "report.txt").stat().st_mode) == 0o644


def test_a_replaced_report_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o640)
    write_text_atomically(target, "new\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640 and target.read_text(encoding="utf-8") == "new\n"


PLAN = ROOT / "examples" / "plans" / "several-findings.ttl"  # a plan with findings: a report of some length


def test_a_report_to_a_symbolic_link_is_written_through_it_and_the_link_stays(tmp_path: Path) -> None:
    target, link = tmp_path / "report.txt", tmp_path / "latest.txt"
    target.write_text("an older report\n", encoding="utf-8")
    link.symlink_to(target)
    done = run_cli("validate", str(PLAN), "--output", str(link))
    assert done.returncode == 1 and done.stderr == "", done.stderr[-2000:]
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert "DM-2026-021" in target.read_text(encoding="utf-8")


def test_a_report_to_a_named_pipe_reaches_its_reader_and_the_pipe_stays(tmp_path: Path) -> None:
    pipe = tmp_path / "report.fifo"
    os.mkfifo(pipe)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text(encoding="utf-8")), daemon=True)
    reader.start()
    done = run_cli("validate", str(PLAN), "--output", str(pipe))
    reader.join(timeout=30)
    assert done.returncode == 1 and done.stderr == "", done.stderr[-2000:]
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert received and "DM-2026-021" in received[0]


def test_a_full_device_is_one_line_and_stays_a_device() -> None:
    full = Path("/dev/full")
    if not (full.exists() and stat.S_ISCHR(full.stat().st_mode)):
        pytest.skip("no /dev/full here")
    fhir = ROOT / "examples" / "fhir" / "ibm-azathioprine.json"
    for args in (["validate", str(PLAN)], ["fhir", "convert", str(fhir)]):
        line = assert_one_line_error(run_cli(*args, "--output", str(full)))
        assert "can't write" in line and "/dev/full" in line and "No space left" in line
        assert stat.S_ISCHR(full.stat().st_mode), "the device was replaced by a file"


def test_a_device_or_a_pipe_as_input_is_one_line_that_says_so(tmp_path: Path) -> None:
    pipe = tmp_path / "plans.ttl"
    os.mkfifo(pipe)
    for given in (pipe, Path("/dev/zero")):
        if given.exists():
            line = assert_one_line_error(run_cli("validate", str(given)))
            assert "not a regular file" in line and str(given) in line

"""Files iimkg writes are whole or absent, and readable as any new file is (issue 15: reports were written 0600)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from iimkg.core.atomic import write_text_atomically


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

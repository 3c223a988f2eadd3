"""``iimkg completion``: the scripts shtab writes from the parser parse in their shell and complete real commands.

bash is always here; zsh and fish are checked when installed (``.ci/run`` installs them with apt-get) and the
tests say so when they are skipped. Each completion is asked of the shell itself, as it asks on a TAB.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from iimkg.queries.run import list_queries

SECONDS = 60


def _script(shell: str, folder: Path) -> Path:
    """``iimkg completion SHELL`` run as a user runs it, written to a file."""
    done = subprocess.run([sys.executable, "-m", "iimkg.cli.main", "completion", shell], capture_output=True,
                          text=True, timeout=SECONDS, check=False)
    assert done.returncode == 0, done.stderr
    path = folder / f"iimkg.{shell}"
    path.write_text(done.stdout, encoding="utf-8")
    return path


def _shell(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (.ci/run installs it with apt-get); its script is not checked")
    return found


def _bash_completes(script: Path, *words: str) -> list[str]:
    """What bash offers for ``words`` (the last one being completed), through the function the script binds."""
    line = " ".join(f"'{w}'" for w in words)
    program = (f"source '{script}'\n"
               f"COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}\n"
               "fn=$(complete -p iimkg | sed -E 's/.* -F ([^ ]+) .*/\\1/')\n"
               '"$fn" iimkg; printf "%s\\n" "${COMPREPLY[@]}"\n')
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], capture_output=True, text=True,
                          timeout=SECONDS, check=False)
    assert done.returncode == 0, done.stderr
    return [w.strip() for w in done.stdout.splitlines() if w.strip()]


def test_the_bash_script_parses_and_completes_commands_flags_and_named_queries(tmp_path: Path) -> None:
    script = _script("bash", tmp_path)
    checked = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=SECONDS,
                             check=False)
    assert checked.returncode == 0, checked.stderr
    assert _bash_completes(script, "iimkg", "se") == ["serve"]
    assert "completion" in _bash_completes(script, "iimkg", "")
    assert _bash_completes(script, "iimkg", "completion", "") == ["bash", "zsh", "fish"]
    names = sorted(q.name for q in list_queries())
    assert sorted(_bash_completes(script, "iimkg", "query", "")) == sorted(["list", *names])
    first = next(q for q in list_queries() if q.parameters)
    assert f"--{first.parameters[0].name}" in _bash_completes(script, "iimkg", "query", first.name, "--")
    assert {"csv", "json"} <= set(_bash_completes(script, "iimkg", "sparql", "x", "--format", ""))
    assert "--max-depth" in _bash_completes(script, "iimkg", "serve", "--max-d")


def test_the_fish_script_parses_and_completes(tmp_path: Path) -> None:
    fish = _shell("fish")
    script = _script("fish", tmp_path)
    checked = subprocess.run([fish, "--no-config", "-n", str(script)], capture_output=True, text=True,
                             timeout=SECONDS, check=False)
    assert checked.returncode == 0, checked.stderr
    done = subprocess.run([fish, "--no-config", "-c", f"source '{script}'; complete -C'iimkg se'; "
                                                      "complete -C'iimkg validate --for'"],
                          capture_output=True, text=True, timeout=SECONDS, check=False)
    assert done.returncode == 0, done.stderr
    offered = [line.split("\t")[0] for line in done.stdout.splitlines()]
    assert "serve" in offered and "--format" in offered, offered


def test_the_zsh_script_parses_and_defines_its_function(tmp_path: Path) -> None:
    zsh = _shell("zsh")
    script = _script("zsh", tmp_path)
    checked = subprocess.run([zsh, "-n", str(script)], capture_output=True, text=True, timeout=SECONDS, check=False)
    assert checked.returncode == 0, checked.stderr
    # installed as the help says: a file _iimkg in a folder on fpath, found by compinit
    functions = tmp_path / "zfunc"
    functions.mkdir()
    (functions / "_iimkg").write_text(script.read_text(encoding="utf-8"), encoding="utf-8")
    done = subprocess.run([zsh, "-f", "-c", f"fpath=('{functions}' $fpath); autoload -U compinit; "
                                            f"compinit -u -d '{tmp_path}/zcompdump'; print -r -- ${{_comps[iimkg]}}"],
                          capture_output=True, text=True, timeout=SECONDS, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["_iimkg"], done.stdout

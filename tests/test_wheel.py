"""`pip install` alone is enough: the wheel carries the ontology, shapes and queries."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
                   check=True, capture_output=True)
    return next(out.glob("iimkg-*.whl"))


@pytest.mark.slow
def test_the_wheel_carries_the_data_files(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "iimkg/data/ontology/iim.ttl" in names
    assert "iimkg/data/ontology/prefixes.tsv" in names
    assert "iimkg/data/queries/treatments.rq" in names
    assert "iimkg/sparql/term-index.rq" in names
    assert "iimkg/py.typed" in names


@pytest.mark.slow
def test_the_wheel_installs_into_a_fresh_venv_and_answers_a_question(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True)
    probe = ("import iimkg, iimkg.core.resources as r; g = iimkg.load(); "
             "print(r.data_dir()); print(len(g) > 1000); "
             "print(iimkg.query('mappings', term='MONDO:0016367').values('termLabel')[0])")
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True, cwd=tmp_path)
    data_dir, big, label = done.stdout.splitlines()
    assert str(ROOT) not in data_dir and data_dir.endswith("iimkg/data")
    assert big == "True" and label == "dermatomyositis"
    cli = subprocess.run([str(env_dir / "bin" / "iimkg"), "info"], capture_output=True, text=True, check=True,
                         cwd=tmp_path)
    assert "clinical statements:" in cli.stdout

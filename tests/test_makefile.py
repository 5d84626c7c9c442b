"""The Makefile's choice of Python for the venv, with fake interpreters on PATH that report a version:
mediapipe==0.10.21 has no wheel for 3.13, the `python3` of current distributions."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # starts make


def make_dry_run(tmp_path: Path, pythons: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`make -n ARGS` in a copy of the Makefile whose PATH holds only fake interpreters (name -> version)."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, version in pythons.items():
        (bin_dir / name).write_text(f"#!/bin/sh\necho {version}\n")
        (bin_dir / name).chmod(0o755)
    make = shutil.which("make")
    return subprocess.run([make, "-n", *args], cwd=tmp_path, env={"PATH": str(bin_dir)}, capture_output=True, text=True)


def test_picks_a_supported_python_over_python3_313(tmp_path):
    result = make_dry_run(tmp_path, {"python3": "3.13", "python3.11": "3.11"}, "demo")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "python3.11 -m venv .venv"


def test_prefers_the_newest_supported_and_takes_python3_when_it_fits(tmp_path):
    (tmp_path / "a").mkdir()
    newest = make_dry_run(tmp_path / "a", {"python3": "3.11", "python3.10": "3.10", "python3.12": "3.12"}, "setup")
    assert newest.stdout.splitlines()[0] == "python3.12 -m venv .venv"
    (tmp_path / "b").mkdir()
    plain = make_dry_run(tmp_path / "b", {"python3": "3.10"}, "test")
    assert plain.stdout.splitlines()[0] == "python3 -m venv .venv"


def test_only_python_313_stops_with_one_line(tmp_path):
    result = make_dry_run(tmp_path, {"python3": "3.13"}, "demo")
    assert result.returncode != 0 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert "python3 is 3.13 and there is no python3.12, python3.11 or python3.10" in result.stderr
    assert "Python 3.10-3.12 (its pinned mediapipe==0.10.21 has wheels for those only)" in result.stderr


def test_python_variable_is_used_and_checked(tmp_path):
    (tmp_path / "a").mkdir()
    chosen = make_dry_run(tmp_path / "a", {"python3": "3.13", "python3.11": "3.11", "py312": "3.12"}, "setup", "PYTHON=py312")
    assert chosen.stdout.splitlines()[0] == "py312 -m venv .venv"
    (tmp_path / "b").mkdir()
    refused = make_dry_run(tmp_path / "b", {"python3.11": "3.11", "py313": "3.13"}, "setup", "PYTHON=py313")
    assert refused.returncode != 0 and "PYTHON=py313 is 3.13: slt needs Python 3.10-3.12" in refused.stderr


def fake_venv(folder: Path, version: str) -> None:
    (folder / ".venv" / "bin").mkdir(parents=True)
    (folder / ".venv" / "bin" / "python").write_text(f"#!/bin/sh\necho {version}\n")
    (folder / ".venv" / "bin" / "python").chmod(0o755)


def test_an_existing_venv_is_kept(tmp_path):
    """Only a missing venv is created: `make setup` after a change of pyproject.toml just reinstalls."""
    fake_venv(tmp_path, "3.11")
    result = make_dry_run(tmp_path, {}, "setup")
    assert result.returncode == 0, result.stderr
    assert "-m venv" not in result.stdout and "pip install" in result.stdout


def test_a_venv_of_an_unsupported_python_is_named(tmp_path):
    """The venv an earlier `make` made with python3 3.13, whose pip install then failed."""
    fake_venv(tmp_path, "3.13")
    result = make_dry_run(tmp_path, {"python3": "3.13", "python3.11": "3.11"}, "setup")
    assert result.returncode != 0 and len(result.stderr.splitlines()) == 1
    assert ".venv was made with Python 3.13; slt needs 3.10-3.12" in result.stderr and "rm -rf .venv, then make setup" in result.stderr

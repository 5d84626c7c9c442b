"""`slt` itself: its version and shell completion, through the installed `slt` entry point as a shell runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from helpers import slt

SLT = Path(sys.executable).with_name("slt")  # the console script `pip install` made


def run_slt(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([SLT, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


def test_version_is_pyprojects():
    result = slt("--version")
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert result.exit_code == 0 and result.stdout == f"slt {pyproject['project']['version']}\n"


@pytest.mark.slow
def test_shell_completion_completes_commands_and_options(tmp_path):
    commands = run_slt(_SLT_COMPLETE="complete_bash", COMP_WORDS="slt tra", COMP_CWORD="1")
    assert commands.returncode == 0 and commands.stdout.split() == ["train", "translate"]
    options = run_slt(_SLT_COMPLETE="complete_bash", COMP_WORDS="slt train --report", COMP_CWORD="2")
    assert options.stdout.split() == ["--report-to"]

    installed = run_slt("--install-completion", "bash", HOME=str(tmp_path))
    assert installed.returncode == 0, installed.stderr
    script = tmp_path / ".bash_completions" / "slt.sh"
    assert "_SLT_COMPLETE=complete_bash" in script.read_text()
    assert str(script) in (tmp_path / ".bashrc").read_text()

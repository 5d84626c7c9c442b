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


@pytest.mark.parametrize("terminal", [False, True])
def test_progress_bars_only_on_a_terminal(tiny_corpus, tmp_path, monkeypatch, terminal):
    """Output to a file or pipe gets the messages, not a bar's last frame; TTY_COMPATIBLE=1 (Rich's) asks for bars."""
    if terminal:
        monkeypatch.setenv("TTY_COMPATIBLE", "1")
    synth = slt("synth", tmp_path / "corpus", "--train", 8, "--dev", 2, "--test", 2, "--signers", 1)
    llm = slt("make-llm", tmp_path / "llm", "--corpus", tiny_corpus / "annotations.csv", "--steps", 2, "--dim", 32, "--layers", 1)
    train = slt("train", "--data", tiny_corpus / "keypoints", "--annotations", tiny_corpus / "annotations.csv",
                "--out", tmp_path / "run", "--config", tiny_corpus / "tiny.yaml", "--epochs", 1)  # fmt: skip
    for result, bar in ((synth, "synthesizing"), (llm, "pre-training causal"), (train, "epoch 1/1")):  # each bar's label
        assert result.exit_code == 0, result.output
        assert (bar in result.output) == terminal, result.output
    assert "epoch 1:" in train.stderr and "wrote a causal LLM" in llm.stdout

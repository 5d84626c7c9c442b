"""What several test modules use to run `slt` as a user would: in this process (`slt`) or in a fresh one
(`slt_process`, single-threaded: on a busy 2-core machine, thread synchronization would cost more than the
tiny test models compute), and `folder_contents` to see that a command left a folder as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from slt.cli import app

def slt(*args):
    """Run the command in this process; returns Click's Result (exit_code, output, stdout, stderr)."""
    return CliRunner().invoke(app, [str(a) for a in args])


def slt_process(
    *args, launcher: tuple[str, ...] = (sys.executable, "-m"), cwd: Path | None = None, wait: bool = True, timeout: float = 300
):
    """Run the command line in a new process (`launcher`: e.g. torchrun's), as a user would: the finished
    process, or with `wait=False` the running one (its stderr piped)."""
    command = [*launcher, "slt.cli", *map(str, args)]
    # This process's environment as it is now: a Ray started by a test sets what its clients need there.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    if not wait:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def folder_contents(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden temp files included) with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

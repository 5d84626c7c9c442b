"""What the benchmarks share: the machine's description, a command's wall time and peak memory, profiles."""

from __future__ import annotations

import os
import platform
import re
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil


# The real signing clip (../shared/testdata/signing/README.md); SLT_TEST_DATA overrides where, as in the tests.
SIGNING_CLIP = Path(os.environ.get("SLT_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "testdata")) / "signing" / "webcam_signer.mp4"


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cores() -> int:
    """CPU cores this process may run on (what a container or `taskset` grants, not the host's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def load() -> float:
    """Load average over the last minute: how busy the machine was while a benchmark ran."""
    return os.getloadavg()[0]


@dataclass
class Measured:
    """A finished command: wall seconds, peak resident memory of it and its children, its stdout, and
    the CPU seconds it and the children it waited for used."""

    seconds: float
    peak_rss: int
    stdout: str
    cpu_seconds: float


def run_measured(argv: list[str]) -> Measured:
    """Run `argv` to completion, summing the resident memory of the process tree every 50 ms."""
    process = psutil.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                tree = [process, *process.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:  # a child exited between listing and reading
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    cpu_before = children_cpu_seconds()
    start = time.perf_counter()
    sampler.start()
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv[:4]))} ... failed:\n{stderr}")
    return Measured(seconds, peak, stdout, children_cpu_seconds() - cpu_before)


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def slt_command(*args: str) -> list[str]:
    """The `slt` command line as a user runs it, with this interpreter."""
    return [sys.executable, "-m", "slt.cli", *args]


# Call plumbing that only repeats the frame below it: `Module.__call__` and `torch.no_grad` wrappers.
WRAPPERS = re.compile(r".*(torch/nn/modules/module\.py|torch/utils/_contextlib\.py|transformers/utils/deprecation\.py)$")


def without_wrappers(frame, options):
    """A pyinstrument processor: splice the `WRAPPERS` frames out of the tree, keeping their children."""
    from pyinstrument.processors import delete_frame_from_tree

    if frame is None:
        return None
    for child in frame.children:
        without_wrappers(child, options)
        if child.file_path and WRAPPERS.match(child.file_path):
            delete_frame_from_tree(child, replace_with="children")
    return frame


def profiled(fn: Callable[[], Any]) -> tuple[Any, str]:
    """Run `fn()` under pyinstrument: (its result, the call tree of the frames over 3% of the time).

    Library internals are folded into one line each, so the tree shows which of slt's calls cost what.
    """
    from pyinstrument import Profiler
    from pyinstrument.renderers import ConsoleRenderer

    profiler = Profiler(interval=0.005)
    with profiler:
        result = fn()
    renderer = ConsoleRenderer(unicode=True, processor_options={"filter_threshold": 0.03})
    renderer.processors.insert(0, without_wrappers)
    session = profiler.last_session
    text = renderer.render(session).splitlines()
    tree = text[next(i for i, line in enumerate(text) if line.startswith("Profile at")) + 2 :]  # no banner
    summary = f"wall {session.duration:.1f} s, CPU time of this process {session.cpu_time:.1f} s"
    return result, "\n".join([summary, *tree]).rstrip()


def code_block(text: str) -> str:
    return f"```\n{text}\n```"

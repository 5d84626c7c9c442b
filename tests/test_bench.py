"""The benchmarks' figures: `run_measured` sees the peak and CPU time of a child process tree, and
`graph_profile` reads MediaPipe's profile of the extraction graph."""

from __future__ import annotations

import sys

import pytest

from bench.measure import run_measured
from bench.preprocess import graph_profile

pytestmark = pytest.mark.slow  # left out of `make test-fast` (see pyproject.toml)

# A parent holding 100 MiB starts a child that holds 200 MiB and computes for 0.3 s of CPU time, then both exit.
CHILD = """
import time
held = bytearray(200 * 2**20)
start = time.process_time()
while time.process_time() - start < 0.3:
    pass
time.sleep(0.5)
print('child')
"""
PARENT = f"""
import subprocess, sys
held = bytearray(100 * 2**20)
subprocess.run([sys.executable, "-c", {CHILD!r}], check=True)
print('parent')
"""


def test_run_measured_sums_the_process_tree():
    measured = run_measured([sys.executable, "-c", PARENT])
    assert measured.stdout.split() == ["child", "parent"]
    assert 300 * 2**20 < measured.peak_rss < 400 * 2**20
    assert measured.seconds >= 0.8
    assert measured.cpu_seconds >= 0.3


def test_graph_profile_covers_every_frame_and_finds_the_models(signing_clip):
    """MediaPipe's own profile of slt's graph on real signing: `graph_profile` checks that it covers every
    frame; the pose and hand landmark models lead, and pose detection runs only until a person is tracked."""
    milliseconds = graph_profile(signing_clip)
    ranked = sorted(milliseconds, key=milliseconds.get, reverse=True)
    assert set(ranked[:2]) == {"pose landmark model", "hand landmark model, both hands"}
    assert 0 < milliseconds["pose detection model (when tracking is lost)"] < milliseconds["pose landmark model"] / 10

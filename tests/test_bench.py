"""The benchmarks' memory figures: `run_measured` sees the peak of a child process tree."""

from __future__ import annotations

import sys

from bench.measure import run_measured

# A parent holding 100 MiB starts a child that holds 200 MiB, then both exit.
PARENT = """
import subprocess, sys
held = bytearray(100 * 2**20)
subprocess.run([sys.executable, "-c", "import time; held = bytearray(200 * 2**20); time.sleep(0.5); print('child')"], check=True)
print('parent')
"""


def test_run_measured_sums_the_process_tree():
    measured = run_measured([sys.executable, "-c", PARENT])
    assert measured.stdout.split() == ["child", "parent"]
    assert 300 * 2**20 < measured.peak_rss < 400 * 2**20
    assert measured.seconds >= 0.5

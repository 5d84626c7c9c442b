"""The benchmarks' memory and CPU figures: `run_measured` sees the peak and CPU time of a child process tree."""

from __future__ import annotations

import sys

from bench.measure import run_measured

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

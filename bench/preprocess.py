"""Preprocessing speed and memory (issue 3: ratio >= 1.8 on 2 cores, peak RSS < 1 GB).

In one run, on the same synthetic clips (jittered real photographs, so MediaPipe finds a person):
- a plain sequential loop: one MediaPipe Holistic, the videos one after another, decoded the same way
  (OpenCV), landmarks collected per frame;
- `slt preprocess` as a user runs it (a fresh process, default workers = cores), timed end to end;
and the peak resident memory of `slt preprocess` (main process plus workers, sampled) on a synthetic
long video, next to a video a tenth as long: streaming means the two peaks are about the same.

    python -m bench.preprocess [--clips 8] [--frames 100] [--long-minutes 10] [--long-fps 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import matplotlib
import numpy as np
import psutil
from rich.console import Console
from rich.table import Table
from skimage import data

from slt.keypoints.frames import ClipSource, FrameReader


def photos(size: tuple[int, int]) -> list[np.ndarray]:
    """Grace Hopper (matplotlib) and the astronaut (scikit-image), BGR, resized to (width, height)."""
    hopper = cv2.imread(os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg"))[:512]
    astronaut = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    return [cv2.resize(p, size, interpolation=cv2.INTER_AREA) for p in (hopper, astronaut)]


def write_clip(path: Path, photo: np.ndarray, frames: int, fps: float, seed: int) -> None:
    """`frames` frames of `photo` moving like a handheld camera."""
    rng = np.random.default_rng(seed)
    height, width = photo.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for _ in range(frames):
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), rng.uniform(-3, 3), rng.uniform(0.96, 1.04))
        matrix[:, 2] += rng.uniform(-8, 8, 2)
        writer.write(cv2.warpAffine(photo, matrix, (width, height), borderMode=cv2.BORDER_REFLECT))
    writer.release()


def sequential_loop(videos: list[Path]) -> int:
    """The baseline: one Holistic graph, one video after another. Returns the frames processed."""
    import mediapipe as mp

    frames = 0
    with mp.solutions.holistic.Holistic(model_complexity=1) as holistic:
        for video in videos:
            landmarks = []
            for frame in FrameReader(ClipSource(video)):
                results = holistic.process(frame)
                landmarks.append(results.pose_landmarks)
            frames += len(landmarks)
            holistic.reset()
    return frames


def run_preprocess(args: list[str]) -> tuple[float, int]:
    """Run `slt preprocess` in a fresh process: (wall seconds, peak RSS in bytes of it and its workers)."""
    process = psutil.Popen(
        [sys.executable, "-m", "slt.cli", "preprocess", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                tree = [process, *process.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:  # a worker exited between listing and reading
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    start = time.perf_counter()
    sampler.start()
    _, stderr = process.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"slt preprocess failed:\n{stderr.decode()}")
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8, help="clips for the speed comparison")
    parser.add_argument("--frames", type=int, default=100, help="frames per clip (25 fps)")
    parser.add_argument("--long-minutes", type=float, default=10.0, help="length of the long video")
    parser.add_argument("--long-fps", type=float, default=2.0, help="its frame rate (keeps the run short)")
    args = parser.parse_args()
    console = Console()
    cores = len(os.sched_getaffinity(0))
    load_before = os.getloadavg()[0]

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clips = tmp / "clips"
        clips.mkdir()
        pictures = photos((320, 320))
        videos = []
        for i in range(args.clips):
            videos.append(clips / f"clip{i:02d}.mp4")
            write_clip(videos[-1], pictures[i % 2], args.frames, 25.0, seed=i)

        start, cpu = time.perf_counter(), time.process_time()
        frames = sequential_loop(videos)
        loop_seconds = time.perf_counter() - start
        loop_rate, loop_cores = frames / loop_seconds, (time.process_time() - cpu) / loop_seconds
        seconds, _ = run_preprocess([str(clips), "--out", str(tmp / "out")])
        slt_rate = frames / seconds

        long_frames = round(args.long_minutes * 60 * args.long_fps)
        peaks = {}
        for frames_in_video in (long_frames // 10, long_frames):
            video = tmp / f"long{frames_in_video}.mp4"
            write_clip(video, photos((320, 240))[0], frames_in_video, args.long_fps, seed=0)
            _, peaks[frames_in_video] = run_preprocess([str(video), "--out", str(tmp / "long-out"), "--workers", "1"])

    table = Table(title=f"Preprocessing ({cores} cores, {platform.processor() or platform.machine()})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(f"sequential loop, {args.clips} clips x {args.frames} frames", f"{loop_rate:.1f} frames/s")
    table.add_row("cores kept busy by the sequential loop (CPU time / wall time)", f"{loop_cores:.2f}")
    table.add_row(f"slt preprocess, {cores} workers, end to end", f"{slt_rate:.1f} frames/s")
    table.add_row("ratio (target >= 1.8 on 2 cores)", f"{slt_rate / loop_rate:.2f}")
    for n, peak in peaks.items():
        minutes = n / args.long_fps / 60
        table.add_row(f"peak RSS, {minutes:g}-minute video ({n} frames)", f"{peak / 2**20:.0f} MiB")
    table.add_row("load average before / after (1 min)", f"{load_before:.1f} / {os.getloadavg()[0]:.1f}")
    console.print(table)


if __name__ == "__main__":
    main()

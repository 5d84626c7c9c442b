"""The two extractors of `slt preprocess` side by side on the real signing clip (issue 21): the legacy
Holistic graph (`--extractor holistic`) and MediaPipe Tasks' HolisticLandmarker (`--extractor tasks`) with
a bundle assembled from the mediapipe wheel's own models (bench/tasks_bundle.py): frames/s, frames in
which each part was found, and how far the Tasks landmarks lie from the legacy ones.

Both run in this process, in turn, `--rounds` times, each extracting the whole clip as a worker of
`slt preprocess` does (decoding included, and for Tasks the landmarker it makes for each clip); frames/s
is the median over the rounds. Results go to BENCHMARKS.md, section "## Extractors: legacy Holistic vs Tasks".

    python -m bench.extractors [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from bench.measure import SIGNING_CLIP, cores, cpu_model, load
from bench.report import write_section
from bench.tasks_bundle import build_bundle
from slt.keypoints.extract import HolisticExtractor
from slt.keypoints.io import Keypoints
from slt.keypoints.tasks import TasksExtractor

SECTION = "## Extractors: legacy Holistic vs Tasks"


def found(kp: Keypoints, part: str) -> np.ndarray:
    """`[T]`: the frames in which `part` was found."""
    return np.isfinite(kp.part(part)).all(axis=(1, 2))


def distances(a: Keypoints, b: Keypoints, part: str) -> np.ndarray:
    """x, y distances (image units) between the points of `part` in the frames where both found it."""
    both = found(a, part) & found(b, part)
    return np.linalg.norm(a.part(part)[both, :, :2] - b.part(part)[both, :, :2], axis=-1).ravel()


def run(report: Path, rounds: int) -> None:
    load_before = load()
    with tempfile.TemporaryDirectory() as tmp:
        bundle = build_bundle(Path(tmp) / "holistic_landmarker.task")
        start = time.perf_counter()
        legacy = HolisticExtractor()
        startup = {"legacy": time.perf_counter() - start}
        start = time.perf_counter()
        tasks = TasksExtractor(bundle)  # makes (and closes) one landmarker, as it does for every clip
        startup["tasks"] = time.perf_counter() - start
        seconds: dict[str, list[float]] = {"legacy": [], "tasks": []}
        keypoints = {}
        for _ in range(rounds):
            for name, extractor in (("legacy", legacy), ("tasks", tasks)):
                start = time.perf_counter()
                keypoints[name] = extractor(SIGNING_CLIP)
                seconds[name].append(time.perf_counter() - start)
        legacy.close()
    frames = keypoints["legacy"].num_frames
    speed = {name: frames / statistics.median(values) for name, values in seconds.items()}
    rows = []
    for part in keypoints["legacy"].parts:
        distance = distances(keypoints["tasks"], keypoints["legacy"], part)
        agreement = f"{np.median(distance):.4f} | {np.percentile(distance, 90):.4f}" if distance.size else "- | -"
        counts = " | ".join(f"{found(keypoints[name], part).sum()} / {frames}" for name in ("legacy", "tasks"))
        rows.append(f"| {part} | {counts} | {agreement} |")
    table = "\n".join(rows)
    text = f"""{SECTION}

`python -m bench.extractors --rounds {rounds}` (bench/extractors.py), mediapipe {version("mediapipe")}, on the real
signing clip ({SIGNING_CLIP.name}, {frames} frames): the legacy Holistic graph (model complexity 1) and the Tasks
HolisticLandmarker with a `holistic_landmarker.task` assembled from the same wheel's models
(bench/tasks_bundle.py), each extracting the whole clip as a `slt preprocess` worker does (decoding included;
Tasks makes a landmarker per clip), in turn, {rounds} rounds, in one process. {cores()} cores ({cpu_model()});
load average {load_before:.1f} before, {load():.1f} after (other jobs shared the machine).

| extractor | frames/s (median of {rounds}) | each round (s) | start-up (s) |
|---|---:|---|---:|
| legacy Holistic | {speed["legacy"]:.1f} | {", ".join(f"{s:.2f}" for s in seconds["legacy"])} | {startup["legacy"]:.2f} |
| Tasks HolisticLandmarker | {speed["tasks"]:.1f} | {", ".join(f"{s:.2f}" for s in seconds["tasks"])} | {startup["tasks"]:.2f} |

Tasks / legacy speed: {speed["tasks"] / speed["legacy"]:.2f}. Start-up: making the extractor (the legacy graph,
which a clip reuses after a reset; one Tasks landmarker, which every clip makes anew, so a Tasks clip's time
includes it).

| part | frames found, legacy | frames found, Tasks | Tasks vs legacy distance where both found: median | 90th percentile |
|---|---:|---:|---:|---:|
{table}

Distances are in image units (x, y normalized to the frame's width and height).
"""
    write_section(report, SECTION, text)
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--report", type=Path, default=Path("BENCHMARKS.md"))
    args = parser.parse_args()
    run(args.report, args.rounds)


if __name__ == "__main__":
    main()

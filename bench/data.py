"""Data loading against training: can the loader feed stage 1? (issue 4: loading >= 10x the step rate)

Writes a corpus of synthetic keypoint clips (PHOENIX-2014T-like lengths) to a temporary folder, then
measures in one run, as clips per second:
- packing: the first load of the split (Parquet -> normalized, memory-mapped cache);
- Parquet per epoch: reading and normalizing every clip, what an epoch would cost without the cache;
- loading: a full epoch of augmented, padded, length-bucketed batches from `make_loader`, in the main
  process and with DataLoader workers;
- a stage-1 training step (forward, backward, AdamW step) of the default translator on those batches,
  on the GPU when there is one.
Results go to BENCHMARKS.md, section "## Data loading".

    python -m bench.data [--clips 600] [--batch-size 16] [--steps 4]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from itertools import islice
from pathlib import Path

import numpy as np
import torch

from bench.measure import load
from bench.report import write_section
from bench.training import train_steps
from slt.data.annotations import Sample, keypoint_path
from slt.data.augment import AugmentConfig
from slt.data.dataset import KeypointDataset, make_loader
from slt.data.normalize import PARTS, Normalizer
from slt.data.tokenizer import train_tokenizer
from slt.keypoints import schema
from slt.keypoints.io import Keypoints, read_parquet, write_parquet

SECTION = "## Data loading"
WORDS = "regen sonne wind morgen heute nacht norden süden wolken grad schnee gewitter freundlich kalt warm".split()


def write_corpus(folder: Path, clips: int, seed: int = 0) -> list[Sample]:
    """Random-walk clips of 50-250 frames (PHOENIX-2014T averages ~115) with hands lost 10% of the time."""
    rng = np.random.default_rng(seed)
    joints = sum(schema.part_sizes(PARTS).values())
    samples = []
    for i in range(clips):
        frames = int(rng.integers(50, 250))
        points = 0.5 + 0.1 * rng.normal(size=(1, joints, 3)) + np.cumsum(rng.normal(0, 0.003, (frames, joints, 3)), axis=0)
        hands = points[:, len(schema.POSE) :]
        hands[rng.random(frames) < 0.1] = np.nan
        name = f"clip{i:05d}"
        write_parquet(Keypoints(points, fps=25.0, parts=PARTS, width=210, height=260), keypoint_path(folder, name))
        samples.append(Sample(name, " ".join(rng.choice(WORDS, int(rng.integers(6, 16)))), "train"))
    return samples


def clips_per_second(clips: int, fn) -> float:
    start = time.perf_counter()
    fn()
    return clips / (time.perf_counter() - start)


def epoch(loader) -> None:
    for _ in loader:
        pass


def step_rate(samples: list[Sample], dataset: KeypointDataset, batch_size: int, steps: int, device: torch.device) -> float:
    """Clips per second of stage-1 training steps of the default translator (`RunConfig()` defaults)."""
    from slt.config import RunConfig
    from slt.run import build_stage1

    torch.manual_seed(0)
    model = build_stage1(RunConfig(), train_tokenizer([s.text for s in samples], vocab_size=200)).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batches = iter(make_loader(dataset, batch_size, shuffle=True, seed=1))
    train_steps(model, islice(batches, 1), optimizer, device)  # warm-up: first-call allocations
    start = time.perf_counter()
    clips = train_steps(model, islice(batches, steps), optimizer, device)
    return clips / (time.perf_counter() - start)


def run(report: Path, clips: int = 600, batch_size: int = 16, steps: int = 4, workers: int = 2) -> None:
    """Measure everything in the module docstring and rewrite the report's section."""
    load_before = load()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "keypoints"
        samples = write_corpus(data, clips)
        normalizer = Normalizer()
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        results = {}
        results["packing, first load of the split (Parquet -> memory-mapped cache)"] = clips_per_second(
            clips, lambda: KeypointDataset(data, samples, normalizer)
        )
        results["Parquet read + normalize per clip (what each epoch would cost without the cache)"] = clips_per_second(
            clips, lambda: [normalizer(read_parquet(keypoint_path(data, s.name), PARTS)) for s in samples]
        )
        dataset = KeypointDataset(data, samples, normalizer, augment=AugmentConfig())
        for count in (0, workers):
            loader = make_loader(dataset, batch_size, shuffle=True, num_workers=count)
            epoch(loader)  # starts the workers and warms the page cache
            results[f"loading augmented, padded, bucketed batches, {count} workers"] = clips_per_second(clips, lambda: epoch(loader))
        step = step_rate(samples, dataset, batch_size, steps, device)

    loading = max(v for k, v in results.items() if k.startswith("loading"))
    rows = "\n".join(f"| {what} | {rate:,.1f} |" for what, rate in results.items())
    text = f"""{SECTION}

`python -m bench.data --clips {clips}` (bench/data.py): {clips} synthetic keypoint clips of 50-250 frames
(PHOENIX-2014T-like lengths, hands lost 10% of the time), default `NormalizeConfig` (65 joints,
5 channels) and `AugmentConfig`, batches of {batch_size}, against training steps (forward, backward, AdamW)
of the default stage-1 translator (`RunConfig()`: ST-GCN encoder 64-64-128, Light-T base) on {device},
{torch.get_num_threads()} torch threads, all in one run; load average {load_before:.1f} before, {load():.1f} after.
Issue 4's target: loading at least 10x the training step rate.

| what | clips/s |
|---|---:|
{rows}
| stage-1 training step, batch {batch_size}, {device} | {step:,.1f} |

**Loading runs {loading / step:,.0f}x the training step rate** (target >= 10x), and later epochs, which read
only the memory map, skip the Parquet reading and normalizing of the second row. For a GPU, whose steps are
much faster: one loader process feeds about {results[f"loading augmented, padded, bucketed batches, 0 workers"]:,.0f} clips/s
here (augmentation, features, padding), and `num_workers` multiplies that by the cores given to it.
Packing a split of 500 clips or more reads Parquet in parallel, one process per core (at most 8).
"""
    write_section(report, SECTION, text)
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=4, help="training steps timed (after one warm-up)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--report", type=Path, default=Path("BENCHMARKS.md"))
    args = parser.parse_args()
    run(args.report, args.clips, args.batch_size, args.steps, args.workers)


if __name__ == "__main__":
    main()

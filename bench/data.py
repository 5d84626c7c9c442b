"""Data loading against training: can the loader feed stage 1? (issue 4: loading >= 10x the step rate)

Writes a corpus of synthetic keypoint clips (PHOENIX-2014T-like lengths) to a temporary folder, then
measures in one run, as clips per second:
- packing: the first load of the split (Parquet -> normalized, memory-mapped cache);
- Parquet per epoch: reading and normalizing every clip, what an epoch would cost without the cache;
- loading: a full epoch of augmented, padded, length-bucketed batches from `make_loader`, in the main
  process and with DataLoader workers;
- a stage-1 training step (forward, backward, AdamW step) of the default translator on those batches,
  on the GPU when there is one.

    python -m bench.data [--clips 400] [--batch-size 16] [--steps 4]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from slt.keypoints import schema
from slt.keypoints.io import Keypoints, read_parquet, write_parquet
from slt.preprocess.annotations import Sample, keypoint_path
from slt.preprocess.augment import AugmentConfig
from slt.preprocess.dataset import KeypointDataset, make_loader
from slt.preprocess.normalize import PARTS, Normalizer
from slt.preprocess.tokenizer import train_tokenizer

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
    from slt.stage1 import build_model

    torch.manual_seed(0)
    model = build_model(RunConfig(), train_tokenizer([s.text for s in samples], vocab_size=200)).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batches = iter(make_loader(dataset, batch_size, shuffle=True, seed=1))

    def train_step() -> int:
        batch = next(batches)
        batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        model(batch).backward()
        optimizer.step()
        optimizer.zero_grad()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return len(batch["name"])

    train_step()  # warm-up: first-call allocations
    start = time.perf_counter()
    clips = sum(train_step() for _ in range(steps))
    return clips / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=4, help="training steps timed (after one warm-up)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    console = Console()

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "keypoints"
        samples = write_corpus(data, args.clips)
        normalizer = Normalizer()
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        results = {}
        results["packing (first load, Parquet -> cache)"] = clips_per_second(
            args.clips, lambda: KeypointDataset(data, samples, normalizer)
        )
        results["Parquet read + normalize per clip (no cache)"] = clips_per_second(
            args.clips, lambda: [normalizer(read_parquet(keypoint_path(data, s.name), PARTS)) for s in samples]
        )
        dataset = KeypointDataset(data, samples, normalizer, augment=AugmentConfig())
        for workers in (0, args.workers):
            loader = make_loader(dataset, args.batch_size, shuffle=True, num_workers=workers)
            epoch(loader)  # starts the workers and warms the page cache
            results[f"loading, augmented batches, {workers} workers"] = clips_per_second(args.clips, lambda: epoch(loader))
        step = step_rate(samples, dataset, args.batch_size, args.steps, device)
        results[f"stage-1 training step (batch {args.batch_size}, {device})"] = step

    table = Table(title=f"Data loading vs stage-1 training, {args.clips} clips, {torch.get_num_threads()} torch threads")
    table.add_column("what")
    table.add_column("clips/s", justify="right")
    for what, clips_per_s in results.items():
        table.add_row(what, f"{clips_per_s:,.1f}")
    console.print(table)
    loading = max(v for k, v in results.items() if k.startswith("loading"))
    console.print(f"loading / step rate: {loading / step:,.0f}x (target >= 10x)")


if __name__ == "__main__":
    main()

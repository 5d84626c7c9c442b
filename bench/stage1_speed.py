"""Stage-1 training speed on realistic clips: slt's keypoint encoder against a plain baseline, side by side.

Every model trains on the same batches (the realistic style of `slt synth`, PHOENIX-2014T-like lengths of
about 100 frames, batch 16) with Light-T tiny behind it, so the encoder is all that differs:

- `ST-GCN, stride 1`: `configs/stage1_cpu.yaml`'s encoder with its graph blocks at every frame;
- `ST-GCN, stride 2` and `stride 4` (the config's): the same with two or four frames folded into one before
  the graph blocks (`encoder.stride`);
- `plain baseline`: a linear map of each frame's joints and two stride-2 convolutions in time
  (`PlainEncoder`): about the least a translator can read keypoints with.

Each model runs one untimed warm-up step, then `--steps` timed forward, backward and AdamW steps; the models
take turns for `--rounds` rounds and each keeps its median, so a busy spell of a shared machine falls on all
of them. Results go to BENCHMARKS.md, section "## Stage-1 training speed".

    python -m bench.stage1_speed [--steps 20 --rounds 3]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from bench.measure import cores, load
from bench.report import write_section

SECTION = "## Stage-1 training speed"


class PlainEncoder(nn.Module):
    """Each frame's joints -> linear -> ReLU, then two stride-2 Conv1d (4x fewer steps in time)."""

    def __init__(self, num_joints: int, channels: int, dim: int):
        super().__init__()
        self.frame = nn.Linear(num_joints * channels, dim)
        self.convs = nn.ModuleList(nn.Conv1d(dim, dim, 5, stride=2, padding=2) for _ in range(2))

    def encode(self, batch: dict):
        from slt.model.encoder import EncoderOutput

        features, mask = batch["features"], batch["frame_mask"]
        x = F.relu(self.frame(features.flatten(2))) * mask[..., None]
        x = x.transpose(1, 2)
        for conv in self.convs:
            mask = mask[:, ::2]
            x = F.relu(conv(x)) * mask[:, None]
        x = x.transpose(1, 2)
        return EncoderOutput(x, mask, x, mask)


def models(config, tokenizer) -> dict[str, nn.Module]:
    from slt.run import build_stage1
    from slt.data.normalize import Normalizer

    out = {}
    for name, stride in ((f"ST-GCN, stride {stride}", stride) for stride in (1, 2, 4)):
        variant = copy.deepcopy(config)
        variant.model.encoder.stride = stride
        torch.manual_seed(0)
        out[name] = build_stage1(variant, tokenizer)
    normalizer = Normalizer(config.data.normalize)
    torch.manual_seed(0)
    plain = build_stage1(config, tokenizer)
    plain.encoder = PlainEncoder(normalizer.num_joints, normalizer.num_channels, config.model.encoder.dim)
    out["plain baseline"] = plain
    return out


def step_seconds(model: nn.Module, batches: list[dict], steps: int) -> float:
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
    model.train()

    def step(batch: dict) -> None:
        model(batch).backward()
        optimizer.step()
        optimizer.zero_grad()

    step(batches[0])  # warm-up: first-call allocations
    start = time.perf_counter()
    for i in range(steps):
        step(batches[i % len(batches)])
    return (time.perf_counter() - start) / steps


def run(report: Path, steps: int, rounds: int) -> None:
    """Time every model in turn for `rounds` rounds and rewrite the report's section."""
    from slt.run import dataset, load_samples
    from slt.config import resolve
    from slt import synth
    from slt.data.dataset import make_loader
    from slt.data.tokenizer import train_tokenizer

    load_before, threads = load(), torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        clips = synth.toy_clips(64, 0, 0, signers=4, seed=0)
        # Toy sentences of PHOENIX-2014T's length in signs (7.8 on average) give its clip lengths.
        clips = [synth.Clip(c.name, c.text, c.split, c.signer, f"{c.gloss} {clips[i - 1].gloss}") for i, c in enumerate(clips)]
        synth.write_corpus(tmp, clips, style="realistic")
        config = resolve("configs/stage1_cpu.yaml", {"data.data": f"{tmp}/keypoints", "data.annotations": [f"{tmp}/annotations.csv"]})
        samples = load_samples(config)
        loader = make_loader(dataset(config, samples, train=True), config.optim.batch_size, True, config.seed)
        batches = list(loader)
        frames = sum(int(b["frame_mask"].sum()) for b in batches) / len(samples)
        tokenizer = train_tokenizer([s.text for s in samples], config.data.vocab_size)
        candidates = models(config, tokenizer)
        seconds = {name: [] for name in candidates}
        for _ in range(rounds):
            for name, model in candidates.items():
                seconds[name].append(step_seconds(model, batches, steps))
    batch = config.optim.batch_size
    median = {name: statistics.median(values) for name, values in seconds.items()}
    baseline = median["plain baseline"]
    rows = "\n".join(
        f"| {name} | {sum(p.numel() for p in candidates[name].encoder.parameters()) / 1e6:.2f} | {median[name] * 1000:.0f} | "
        f"{batch / median[name]:.1f} | {median[name] / baseline:.2f} |"
        for name in candidates
    )
    text = f"""{SECTION}

`python -m bench.stage1_speed --steps {steps} --rounds {rounds}` (bench/stage1_speed.py), CPU, {threads} torch
thread(s), {cores()} cores; load average {load_before:.1f} before, {load():.1f} after. Batches of {batch} clips of
the realistic style of `slt synth` ({frames:.0f} frames per clip on average, as PHOENIX-2014T's 114), one
warm-up step, then {steps} timed forward, backward and AdamW steps per model and round, the models in turn,
median of {rounds} rounds. Every model has Light-T tiny behind its encoder (`configs/stage1_cpu.yaml`).

| encoder | encoder parameters (M) | ms per step | clips/s | time vs plain baseline |
|---|---:|---:|---:|---:|
{rows}

Folding two or four frames into one before the graph blocks (stride 2, 4) takes {median["ST-GCN, stride 2"] / median["ST-GCN, stride 1"]:.2f}
and {median["ST-GCN, stride 4"] / median["ST-GCN, stride 1"]:.2f} of the unfolded encoder's time per step; the plain baseline shows how much of a
step the ST-GCN still costs.
"""
    write_section(report, SECTION, text)
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per model and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--report", type=Path, default=Path("BENCHMARKS.md"))
    args = parser.parse_args()
    run(args.report, args.steps, args.rounds)


if __name__ == "__main__":
    main()

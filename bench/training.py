"""Training throughput of stage 1 and stage 2 on CPU, and how an epoch's time grows with the training set.

For each size N: the first N training clips of the built-in toy corpus, a fresh model (stage 1:
`configs/stage1_cpu.yaml`; stage 2: that run's encoder, frozen, an MLP adapter and a made seq2seq LLM with
LoRA), its packed dataset and bucketed loader, and one timed epoch of forward, backward and AdamW steps,
loading included, after one untimed warm-up step; every size twice, the sizes forwards then backwards,
averaged. The time should grow linearly with N. Then the
pyinstrument profiles of the shared stage-1 and stage-2 runs (`bench.workspace`: one epoch each, then
evaluation by beam search) show where a training run's time goes. Results go to BENCHMARKS.md, section
"## Training".

    python -m bench.training [--sizes 100 200 400]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import torch

from bench.measure import code_block, cores, load
from bench.report import write_section
from bench.workspace import EVAL_CLIPS, Workspace

SECTION = "## Training"


def train_steps(model: torch.nn.Module, batches: Iterable[dict], optimizer: torch.optim.Optimizer, device: torch.device) -> int:
    """Forward, backward and optimizer step on every batch; returns the clips trained on."""
    clips = 0
    for batch in batches:
        batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        model(batch).backward()
        optimizer.step()
        optimizer.zero_grad()
        if device.type == "cuda":
            torch.cuda.synchronize()
        clips += len(batch["name"])
    return clips


def epoch_time(workspace: Workspace, stage: int, clips: int) -> tuple[float, float]:
    """(seconds to pack the training set, seconds of one training epoch) of a fresh model on `clips` clips."""
    from accelerate.utils import set_seed

    from slt import run, stage2
    from slt.data.dataset import make_loader
    from slt.data.tokenizer import train_tokenizer
    from slt.train import make_optimizer

    config = workspace.stage2_config(clips) if stage == 2 else workspace.config(clips)
    if stage == 2:
        stage2.resolve_stage2(config)
    samples = run.split(run.load_samples(config), config.data.train_split)
    set_seed(config.seed)
    if stage == 2:
        model = stage2.build_model(config)
    else:
        model = run.build_stage1(config, train_tokenizer([s.text for s in samples], config.data.vocab_size))
    model.train()
    start = time.perf_counter()
    loader = make_loader(run.dataset(config, samples, train=True), config.optim.batch_size, True, config.seed)
    packing = time.perf_counter() - start
    optimizer = make_optimizer([{"params": [p for p in model.parameters() if p.requires_grad]}], config.optim)
    device = torch.device("cpu")
    train_steps(model, [next(iter(loader))], optimizer, device)  # warm-up: first-call allocations
    start = time.perf_counter()
    train_steps(model, loader, optimizer, device)
    return packing, time.perf_counter() - start


def run(report: Path, workspace: Workspace, sizes: list[int]) -> None:
    """Measure both stages at every size, profile the workspace's runs, rewrite the report's section."""
    load_before = load()
    threads = torch.get_num_threads()
    rows, per_clip = [], {}
    for stage in (1, 2):
        # Every size twice, the sizes forwards then backwards, so that neither a busy spell of a shared
        # machine nor this process warming up (allocator, caches) falls on some sizes only.
        measured = {clips: [] for clips in sizes}
        for clips in sizes + sizes[::-1]:
            measured[clips].append(epoch_time(workspace, stage, clips))
        for clips in sizes:
            (packing, first), (_, second) = measured[clips]  # the second epoch reads the packed cache
            seconds = (first + second) / 2
            per_clip.setdefault(stage, seconds / clips)
            growth = seconds / clips / per_clip[stage]
            rows.append(f"| {stage} | {clips} | {threads} | {packing:.1f} | {seconds:.1f} | {clips / seconds:.1f} | {growth:.2f} |")
    # The same smallest stage-1 epoch with the other thread count: one thread per core loses badly when
    # other jobs share the cores.
    other = 1 if threads > 1 else cores()
    torch.set_num_threads(other)
    try:
        packing, seconds = epoch_time(workspace, 1, sizes[0])
    finally:
        torch.set_num_threads(threads)
    rows.append(f"| 1 | {sizes[0]} | {other} | {packing:.1f} | {seconds:.1f} | {sizes[0] / seconds:.1f} | - |")
    workspace.stage2_run  # profiled while built (with the stage-1 run it starts from)
    config = workspace.config(workspace.run_clips)
    text = f"""{SECTION}

`python -m bench.training --sizes {' '.join(map(str, sizes))}` (bench/training.py), CPU, {threads} torch
threads; load average {load_before:.1f} before, {load():.1f} after. For each size: the first N training
clips of the built-in toy corpus (`slt synth`), a fresh model, its packed dataset and bucketed loader
(batch {config.optim.batch_size}, augmentation on), and one timed epoch of forward, backward and AdamW steps,
loading included, after one untimed warm-up step; every size twice (the sizes forwards, then backwards),
the epoch time the mean of the two. Stage 1: `configs/stage1_cpu.yaml` (Light-T
{config.model.preset}, ST-GCN channels {list(config.model.encoder.channels)}, {config.model.encoder.downsample}x
downsampling). Stage 2: that encoder frozen, an MLP adapter, and an LLM made by `slt make-llm --arch seq2seq`
(as `make demo`) with LoRA. Issue 7 asks for the epoch time to grow linearly with the data: the last column
is seconds per clip relative to the smallest size (1.00 = linear). The last row repeats the smallest stage-1
epoch with {other} torch thread(s) instead of {threads}. Stage 2 reuses the packed cache of stage 1.

| stage | clips | torch threads | packing s | epoch s | clips/s | s/clip vs smallest |
|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

Where a whole training run's time goes: pyinstrument profiles of `stage1.train` and `stage2.train` as
`slt train` runs them, one epoch on {workspace.run_clips} clips, then dev and test evaluation (beam search, {EVAL_CLIPS} clips each).

Stage 1:

{code_block(workspace.profiles["stage 1"])}

Stage 2:

{code_block(workspace.profiles["stage 2"])}
"""
    write_section(report, SECTION, text)
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 400], help="training clips per measurement")
    parser.add_argument("--run-clips", type=int, default=100, help="clips of the profiled training runs")
    parser.add_argument("--llm-steps", type=int, default=300, help="pre-training steps of the made LLM")
    parser.add_argument("--report", type=Path, default=Path("BENCHMARKS.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(args.report, Workspace(Path(tmp), max(args.sizes), args.run_clips, args.llm_steps), args.sizes)


if __name__ == "__main__":
    main()

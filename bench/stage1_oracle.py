"""Stage 1 (keypoints -> Light-T) against the gloss oracle (glosses -> the same Light-T), same budget.

The oracle reads the glosses the clips were signed from, so its score is the ceiling a pose model can
reach with this translator; issue 5 asks the pose model for at least 90% of the oracle's test BLEU-4.
Both runs use the same config (preset, epochs, batch, learning rate, seed) and differ only in
`--input`; they train at the same time in two processes, each with half the cores (or sharing the GPU),
their output in OUT/gloss.log and OUT/keypoints.log. Results go to BENCHMARKS.md, one section per corpus
("## Stage 1 vs gloss oracle: CORPUS", CORPUS the folder's name).

    python -m bench.stage1_oracle --corpus data/synth --config configs/stage1_cpu.yaml
    python -m bench.stage1_oracle --corpus data/phoenix --set model.encoder.stride=4
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import torch
import yaml

from bench.report import write_section
from slt import stage1
from slt.config import RunConfig, resolve
from slt.metrics import Scores

SECTION = "## Stage 1 vs gloss oracle"  # + ": CORPUS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="`slt synth` output folder (keypoints/, annotations.csv)")
    parser.add_argument("--config", type=Path, default=Path("configs/stage1_cpu.yaml"))
    parser.add_argument("--out", type=Path, default=Path("runs/bench_stage1"))
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides, values in YAML")
    parser.add_argument("--report", type=Path, default=Path("BENCHMARKS.md"))
    args = parser.parse_args()

    configs = {}
    for source in ("gloss", "keypoints"):
        overrides = {
            "data.data": str(args.corpus / "keypoints"),
            "data.annotations": [str(args.corpus / "annotations.csv")],
            "model.input": source,
            "optim.epochs": args.epochs,
            # Each run packs its own cache: two processes must not write the same cache file at once.
            "data.cache_dir": str(args.out / "cache" / source),
        }
        overrides.update((key, yaml.safe_load(value)) for key, value in (item.split("=", 1) for item in args.set))
        configs[source] = resolve(args.config, overrides)
    threads = max(1, torch.get_num_threads() // len(configs))
    print(f"Training {', '.join(configs)} at the same time ({threads} torch thread(s) each); logs in {args.out}/*.log")
    with ProcessPoolExecutor(len(configs), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {source: pool.submit(train_one, config, args.out, source, threads) for source, config in configs.items()}
        results = {}
        for source, future in futures.items():
            metrics, seconds = future.result()
            results[source] = (metrics["test"], metrics["dev"]["epoch"], seconds, configs[source])
    write_report(args, results)


def train_one(config: RunConfig, out: Path, source: str, threads: int) -> tuple[dict, float]:
    """Train one stage-1 run in this (child) process, its console output in OUT/SOURCE.log."""
    torch.set_num_threads(threads)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(out / f"{source}.log", "w") as log, redirect_stdout(log), redirect_stderr(log):
        metrics = stage1.train(config, out / source)
    return metrics, time.perf_counter() - start


def write_report(args: argparse.Namespace, results: dict) -> None:
    scores = {source: Scores.from_dict(metrics) for source, (metrics, *_) in results.items()}
    oracle, pose = scores["gloss"], scores["keypoints"]
    config = results["keypoints"][3]
    ratio = pose.bleu4 / oracle.bleu4 if oracle.bleu4 else float("nan")
    rows = "\n".join(
        f"| {source} | {s.bleu1:.2f} | {s.bleu2:.2f} | {s.bleu3:.2f} | {s.bleu4:.2f} | {s.rouge_l:.2f} | {s.chrf:.2f} "
        f"| {results[source][0]['distinct_hypotheses']} | {results[source][1]} | {results[source][2] / 60:.1f} |"
        for source, s in scores.items()
    )
    command = f"python -m bench.stage1_oracle --corpus {args.corpus} --config {args.config}"
    command += f" --epochs {args.epochs}" * bool(args.epochs) + "".join(f" --set {item}" for item in args.set)
    text = f"""{SECTION}: {args.corpus.name}

`{command}` (bench/stage1_oracle.py):
the stage-1 translator trained twice with the same config, once on keypoints, once on the corpus's
glosses (the oracle: the ceiling for a pose model with this translator). Light-T {config.model.preset}
(pre-trained on the sentences for {config.model.pretrain_steps} steps), encoder channels
{list(config.model.encoder.channels)}, stride {config.model.encoder.stride}, {config.optim.epochs} epochs, batch
{config.optim.batch_size}, {config.optim.optimizer} lr {config.optim.lr:g}, seed {config.seed}; test
scores of the best dev checkpoint, beam {config.eval.num_beams}; sacrebleu `{pose.signature}`.

Machine: {platform.machine()}, {os.cpu_count()} CPU cores, {torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"},
torch {torch.__version__}. The two runs train at the same time; wall time includes dev evaluations.

| input | BLEU-1 | BLEU-2 | BLEU-3 | BLEU-4 | ROUGE-L | chrF | distinct test sentences | best epoch | minutes |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
{rows}

Pose -> text reaches {100 * ratio:.1f}% of the oracle's test BLEU-4 (the bar: 90%), with
{results["keypoints"][0]["distinct_hypotheses"]} distinct sentences for {results["keypoints"][0]["clips"]} test clips ({results["keypoints"][0]["distinct_references"]} distinct references).
"""
    write_section(args.report, f"{SECTION}: {args.corpus.name}", text)
    print(text)


if __name__ == "__main__":
    main()

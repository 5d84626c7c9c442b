"""Signers never seen in training, left-handed ones among them: normalization settings side by side.

Trains stage 1 once per setting of `data.normalize` (mirroring left-handed clips off and on, hand offsets in
units of the hand's size) with the same held-out signers (`--holdout-signers`: their clips form the test
split, training and dev never see them), the runs at the same time in separate processes, and writes each
signer's test BLEU-4 against the seen signers' (macro average) to BENCHMARKS.md, section "## Unseen and
left-handed signers". The realistic style of `slt synth` has a left-handed signer (signer04 of 8):

    slt synth data/hands --style realistic
    python -m bench.signers --corpus data/hands --holdout signer04,signer02 --epochs 20
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from bench.report import write_section
from bench.stage1_oracle import train_one
from slt.config import resolve

SECTION = "## Unseen and left-handed signers"
SETTINGS = {
    "mirroring off": {"mirror_left_handed": False},
    "mirroring on (the default)": {},
    "mirroring on, hand offsets in hand sizes": {"hand_scale": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="`slt synth` output folder (keypoints/, annotations.csv)")
    parser.add_argument("--holdout", required=True, help="comma-separated signers to hold out of training and dev")
    parser.add_argument("--config", type=Path, default=Path("configs/stage1_cpu.yaml"))
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("runs/bench_signers"))
    parser.add_argument("--report", type=Path, default=Path("BENCHMARKS.md"))
    args = parser.parse_args()

    holdout = args.holdout.split(",")
    configs = {
        name: resolve(args.config, {
            "data.data": str(args.corpus / "keypoints"),
            "data.annotations": [str(args.corpus / "annotations.csv")],
            "data.holdout_signers": holdout,
            "data.normalize": settings,
            "data.cache_dir": str(args.out / "cache" / str(i)),  # one writer per cache
            "optim.epochs": args.epochs,
        })
        for i, (name, settings) in enumerate(SETTINGS.items())
    }  # fmt: skip
    threads = max(1, torch.get_num_threads() // len(configs))
    print(f"Training {len(configs)} runs at the same time ({threads} torch thread(s) each); logs in {args.out}/*.log")
    with ProcessPoolExecutor(len(configs), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {name: pool.submit(train_one, config, args.out, str(i), threads) for i, (name, config) in enumerate(configs.items())}
        results = {name: future.result() for name, future in futures.items()}
    write_report(args, holdout, results)


def write_report(args: argparse.Namespace, holdout: list[str], results: dict) -> None:
    rows = []
    for name, (metrics, seconds) in results.items():
        test, groups = metrics["test"], metrics["test"]["by_signer"]["groups"]
        seen = [g["bleu4"] for signer, g in groups.items() if signer not in holdout]
        seen_bleu = sum(seen) / len(seen)
        unseen = " | ".join(
            f"{groups[s]['bleu4']:.2f} ({100 * groups[s]['bleu4'] / seen_bleu:.0f}%)" if s in groups else "–" for s in holdout
        )
        rows.append(
            f"| {name} | {test['bleu4']:.2f} | {test['distinct_hypotheses']} | {seen_bleu:.2f} | {unseen} | "
            f"{metrics['dev']['bleu4']:.2f} | {metrics['dev']['epoch']} | {seconds / 60:.1f} |"
        )
    first = next(iter(results.values()))[0]
    epochs = args.epochs or resolve(args.config).optim.epochs
    text = f"""{SECTION}

`python -m bench.signers --corpus {args.corpus} --holdout {args.holdout} --config {args.config}{f" --epochs {args.epochs}" if args.epochs else ""}`
(bench/signers.py): stage 1 trained once per normalization setting, {epochs} epochs, the held-out signers'
clips ({", ".join(holdout)}) forming the test split with the seen signers' test clips ({first["test"]["clips"]}
clips in all); training and dev never see them. Test BLEU-4 of the best dev checkpoint, per signer from
`metrics.json` (`by_signer`); "seen" is the macro average over the signers seen in training, each held-out
signer's score also as a share of it. Machine: {platform.machine()}, {os.cpu_count()} CPU cores,
torch {torch.__version__}; the runs train at the same time, minutes include dev evaluations.

| setting | test BLEU-4 | distinct test sentences | seen signers | {" | ".join(f"held out: {s}" for s in holdout)} | dev BLEU-4 | best epoch | minutes |
|---|---:|---:|---:|{"---:|" * len(holdout)}---:|---:|---:|
{chr(10).join(rows)}
"""
    write_section(args.report, SECTION, text)
    print(text)


if __name__ == "__main__":
    main()

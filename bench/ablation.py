"""Factorized vs joint learning (paper Tables 4-5) on a `slt synth` corpus, in one command.

Four runs with the same data, config and seed, scored on test with the best dev checkpoint:
1. stage 1 only: keypoint encoder + Light-T;
2. stage 2 (factorized, the paper's method): the stage-1 encoder frozen, MLP adapter, made LLM;
3. joint: encoder, adapter and the same LLM trained together from scratch, no stage 1 (Table 4);
4. stage 2 without stage 1: a randomly initialized frozen encoder, adapter and LLM (Table 5).
The LLM is built first with `slt make-llm` from the corpus's training sentences, plus the corpus's
text.txt when `slt synth --text N` wrote one (N more sentences of the toy language, none a dev or test one):
a real LLM knows far more language than a signed corpus holds, which is where the paper's stage 2 gains.
Results go to BENCHMARKS.md, section "## Ablation: factorized vs joint".

    python -m bench.ablation --corpus data/synth --config configs/stage1_cpu.yaml
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

from bench.report import write_section
from slt import stage1, stage2
from slt.config import resolve
from slt.metrics import Scores
from slt.model.make_llm import MakeLLMConfig, make_llm, read_corpus

SECTION = "## Ablation: factorized vs joint"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="`slt synth` output folder (keypoints/, annotations.csv)")
    parser.add_argument("--config", type=Path, default=Path("configs/stage1_cpu.yaml"))
    parser.add_argument("--out", type=Path, default=Path("runs/bench_ablation"))
    parser.add_argument("--arch", default="seq2seq", help="made LLM: seq2seq (mBART-style, as the paper) or causal")
    parser.add_argument("--finetune", default="lora", help="stage 2 LLM fine-tuning: lora, full or frozen")
    parser.add_argument("--lr-llm", type=float, default=None)
    parser.add_argument("--stage1-epochs", type=int, default=None, help="default: the config's")
    parser.add_argument("--stage2-epochs", type=int, default=None, help="default: the config's")
    parser.add_argument("--llm-steps", type=int, default=MakeLLMConfig.steps)
    parser.add_argument("--report", type=Path, default=Path("BENCHMARKS.md"))
    args = parser.parse_args()

    annotations = str(args.corpus / "annotations.csv")
    data = {"data.data": str(args.corpus / "keypoints"), "data.annotations": [annotations]}
    start = time.perf_counter()
    llm = args.out / f"llm-{args.arch}"
    more = args.corpus / "text.txt"
    texts = read_corpus([annotations, *([more] if more.is_file() else [])])
    summary = make_llm(llm, texts, MakeLLMConfig(arch=args.arch, steps=args.llm_steps))
    llm_minutes = (time.perf_counter() - start) / 60

    llm_settings = {"stage2.llm": str(llm), "stage2.finetune": args.finetune, "stage2.lr_llm": args.lr_llm}
    runs = {
        "stage 1 only (Light-T)": (stage1, {"optim.epochs": args.stage1_epochs}),
        "stage 2, factorized (stage-1 encoder frozen)": (stage2, {"stage2.init": str(args.out / "stage1"), "optim.epochs": args.stage2_epochs, **llm_settings}),
        "joint (no stage 1, all trained together)": (stage2, {"stage2.joint": True, "optim.epochs": args.stage1_epochs, **llm_settings}),
        "stage 2 only (random frozen encoder)": (stage2, {"optim.epochs": args.stage2_epochs, **llm_settings}),
    }
    folders = ["stage1", "stage2", "joint", "stage2_only"]
    results = {}
    for (name, (module, overrides)), folder in zip(runs.items(), folders):
        config = resolve(args.config, {**data, **overrides})
        start = time.perf_counter()
        metrics = module.train(config, args.out / folder)
        results[name] = (Scores.from_dict(metrics["test"]), config.optim.epochs, metrics["dev"]["epoch"], (time.perf_counter() - start) / 60)
    write_report(args, summary, llm_minutes, results, len(texts) - len(read_corpus([annotations])))


def write_report(args: argparse.Namespace, llm: dict, llm_minutes: float, results: dict, more: int) -> None:
    rows = "\n".join(
        f"| {name} | {s.bleu4:.2f} | {s.rouge_l:.2f} | {s.bleu1:.2f} | {s.chrf:.2f} | {epochs} ({best}) | {minutes:.1f} |"
        for name, (s, epochs, best, minutes) in results.items()
    )
    signature = next(iter(results.values()))[0].signature
    more = f" and its text.txt ({more} more sentences of the toy language, none a dev or test one)," if more else ""
    text = f"""{SECTION}

`python -m bench.ablation {" ".join(sys.argv[1:])}`
(bench/ablation.py): the paper's Tables 4-5 on the built-in corpus. Same data, config ({args.config}) and seed
for every run; test scores of the best dev checkpoint, beam search; sacrebleu `{signature}`.
The LLM is a {args.arch} model built by `slt make-llm` from the corpus's training sentences{more}
({llm['parameters'] / 1e6:.1f}M parameters, held-out perplexity {llm['perplexity_before']:.0f} -> {llm['perplexity_after']:.1f},
{llm_minutes:.1f} min), fine-tuned with {args.finetune} in stage 2.

Machine: {platform.machine()}, {os.cpu_count()} CPU cores, {"GPU" if torch.cuda.is_available() else "no GPU"},
torch {torch.__version__}. Minutes include dev evaluations.

| run | BLEU-4 | ROUGE-L | BLEU-1 | chrF | epochs (best) | minutes |
|---|---:|---:|---:|---:|---:|---:|
{rows}
"""
    write_section(args.report, SECTION, text)
    print(text)


if __name__ == "__main__":
    main()

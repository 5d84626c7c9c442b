"""How soon stage 1 starts to read its input: a quick probe for changes meant to stop it from ignoring the keypoints.

Trains a fresh stage-1 model for `--steps` optimizer steps on a corpus (the realistic one from PHOENIX-2014T's
tables is the hard case: `slt synth data/phoenix --from-table ...`) and every `--every` steps prints the
teacher-forced loss on the first `--dev` dev clips with the keypoints and with them blanked
(`slt.train.input_reliance`): a model that reads has a clearly lower loss with them. At the end it decodes
those clips greedily and prints how many distinct sentences it wrote. Minutes instead of the hour of a full
run, and the same mechanism a full run's reading check uses.

    python -m bench.stage1_reading --corpus data/phoenix --steps 600 --set model.pretrain_steps=0 model.label_smoothing=0.1
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import torch
import yaml


def main() -> None:
    from accelerate.utils import set_seed

    from slt import run
    from slt.config import resolve
    from slt.model.make_llm import MakeLLMConfig, pretrain
    from slt.data.dataset import make_loader
    from slt.data.tokenizer import train_tokenizer
    from slt.train import evaluate, input_reliance, make_accelerator, make_optimizer, make_scheduler

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="`slt synth` output folder (keypoints/, annotations.csv)")
    parser.add_argument("--config", type=Path, default=Path("configs/stage1_cpu.yaml"))
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides, values in YAML")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--dev", type=int, default=200, help="dev clips to measure on")
    args = parser.parse_args()

    overrides = {"data.data": str(args.corpus / "keypoints"), "data.annotations": [str(args.corpus / "annotations.csv")]}
    overrides.update((key, yaml.safe_load(value)) for key, value in (item.split("=", 1) for item in args.set))
    config = resolve(args.config, overrides)
    samples = run.load_samples(config)
    train, dev = run.split(samples, config.data.train_split), run.split(samples, config.data.dev_split)[: args.dev]
    tokenizer = train_tokenizer([s.text for s in train], config.data.vocab_size, config.data.char_level)
    set_seed(config.seed)
    model = run.build_stage1(config, tokenizer)
    if config.model.pretrain_steps:
        settings = MakeLLMConfig(arch="seq2seq", steps=config.model.pretrain_steps, seed=config.seed)
        pretrain(model.lm.model, tokenizer, [s.text for s in train], settings, random.Random(config.seed), False)
    train_loader = make_loader(run.dataset(config, train, train=True), config.optim.batch_size, True, config.seed)
    dev_loader = make_loader(run.dataset(config, dev, train=False), config.eval.batch_size, False)
    accelerator = make_accelerator(False)
    optimizer = make_optimizer([{"params": list(model.parameters())}], config.optim)
    scheduler = make_scheduler(optimizer, args.steps, config.optim.warmup)
    print(f"{args.set or 'config as is'}: {len(train)} train clips, {len(dev)} dev clips, {torch.get_num_threads()} thread(s)")

    step, epoch, start = 0, 0, time.perf_counter()
    while step < args.steps:
        train_loader.batch_sampler.epoch, epoch = epoch, epoch + 1
        for batch in train_loader:
            model.train()
            loss = model(batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.optim.grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            if step % args.every == 0 or step == args.steps:
                r = input_reliance(model, dev_loader, accelerator)
                gain = r["blank_loss"] - r["loss"]
                print(f"step {step} (epoch {epoch}): train loss {loss.item():.3f}, dev loss {r['loss']:.3f}, blanked "
                      f"{r['blank_loss']:.3f}, saved by the keypoints {gain:.3f}; {time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
            if step == args.steps:
                break
    config.eval.num_beams = 1
    scores, rows = evaluate(model, dev_loader, accelerator, config.eval)
    print(f"greedy dev decoding: BLEU-4 {scores.bleu4:.2f}, {len({r['hypothesis'] for r in rows})} distinct sentences "
          f"for {len(rows)} clips ({len({r['reference'] for r in rows})} distinct references)")  # fmt: skip


if __name__ == "__main__":
    main()

"""Stage 1 of FLa-LLM ("visual initialing"): the keypoint encoder and Light-T, trained end to end.

`train(config, run_dir)` builds the data, the tokenizer and the model, runs `slt.train.fit`, then scores
the best checkpoint on the test split. With `model.input = "gloss"` the same translator reads gloss tokens
instead of keypoints: the gloss oracle. The run folder and its model are `slt.run`'s.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

from accelerate.utils import set_seed
from transformers import AutoTokenizer

from slt import run
from slt.config import RunConfig
from slt.data.tokenizer import train_tokenizer
from slt.files import write_into
from slt.model.llm import load_tokenizer
from slt.model.make_llm import MakeLLMConfig, pretrain
from slt.train import fit, make_accelerator

logger = logging.getLogger(__name__)


def train(config: RunConfig, run_dir: str | Path, resume: bool = False, overwrite: bool = False) -> dict:
    """Train stage 1 into `run_dir` (`overwrite`: replacing the run there), then score the best checkpoint
    on the test split; returns metrics.json."""
    run_dir = Path(run_dir)
    samples, train_samples, dev_samples = run.prepare_run(config, run_dir, resume, overwrite)

    accelerator = make_accelerator(config.optim.mixed_precision, config.optim.report_to, run_dir)
    if resume:
        tokenizer = AutoTokenizer.from_pretrained(run_dir)
    elif config.data.tokenizer:
        tokenizer = load_tokenizer(config.data.tokenizer)
    else:
        tokenizer = train_tokenizer([s.text for s in train_samples], config.data.vocab_size, config.data.char_level)
    glosses = None
    if config.model.input == "gloss":
        glosses = sorted({g for s in train_samples for g in (s.gloss or "").split()})
        if not glosses:
            raise ValueError("--input gloss needs a gloss column in the training annotations")
    set_seed(config.seed)  # the same initial weights on every process and every run
    model = run.build_stage1(config, tokenizer, glosses)
    if config.model.pretrain_steps and not resume:  # a resumed run loads its weights instead
        # Every process pre-trains the same way from the same seed (DDP also broadcasts rank 0's weights).
        texts = [s.text for s in train_samples]
        settings = MakeLLMConfig(arch="seq2seq", steps=config.model.pretrain_steps, seed=config.seed)
        light_t_model = model.lm.model.to(accelerator.device)
        pretrain(light_t_model, tokenizer, texts, settings, random.Random(config.seed), accelerator.is_main_process)

    train_loader, dev_loader = run.loaders(config, model, train_samples, dev_samples)
    if accelerator.is_main_process:
        run.open_run_folder(run_dir, config, resume, train_samples)
        write_into(run_dir, tokenizer.save_pretrained)  # before any checkpoint: --resume reads it
        parameters = sum(p.numel() for p in model.parameters())
        logger.info(
            f"Stage 1 ({config.model.input} -> Light-T {config.model.preset}, {parameters / 1e6:.1f}M parameters): "
            f"{len(train_samples)} train / {len(dev_samples)} dev clips, {accelerator.num_processes} process(es) on {accelerator.device}"
        )
    accelerator.wait_for_everyone()

    fit(
        model,
        [{"params": [p for p in model.parameters() if p.requires_grad]}],
        train_loader,
        dev_loader,
        config.optim,
        config.eval,
        config.seed,
        run_dir,
        lambda m, folder: run.save_model(m, config, folder),
        accelerator,
        resume=resume,
        config=config.to_dict(),
    )

    best, _ = run.load_model(run_dir)
    return run.score_best(best, samples, config, run_dir, accelerator)

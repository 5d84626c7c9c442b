"""Stage 2 of FLa-LLM ("LLM fine-tuning"): the stage-1 encoder, frozen, feeds a pretrained LLM through an adapter.

`train(config, run_dir)` loads the encoder of a stage-1 run (`stage2.init`), freezes the parts the config
names (paper Table 9), puts a one-hidden-layer MLP adapter between the encoder's features (frame-wise,
sign-wise or the Light-T encoder's hidden states: paper Table 8) and any Hugging Face LLM (`load_llm`:
LoRA, full or frozen), and trains with the same loop as stage 1 (`slt.train.fit`). Ablations: `joint`
trains encoder, adapter and LLM together from scratch (paper Table 4); no `init` gives stage 2 alone on a
randomly initialized frozen encoder (paper Table 5). The run folder and its model are `slt.run`'s.
"""

from __future__ import annotations

import logging
from pathlib import Path

from accelerate.utils import set_seed

from slt import run
from slt.config import RunConfig
from slt.files import write_into
from slt.model.llm import VisualLM, load_llm
from slt.model.translator import LightTEncoderStates, Stage2Translator
from slt.train import fit, make_accelerator

logger = logging.getLogger(__name__)


def resolve_stage2(config: RunConfig) -> None:
    """Check the stage-2 settings and complete them in place: defaults that depend on other settings,
    absolute paths (so the saved run loads from anywhere), and the `init` run's encoder settings."""
    s2 = config.stage2
    config.stage = 2
    if not s2.llm:
        raise ValueError("stage 2 needs a language model: --llm HUB_ID_OR_FOLDER (`slt make-llm` builds a small one)")
    if s2.joint and s2.init:
        raise ValueError("--joint trains from scratch; it cannot start from a stage-1 run (--init)")
    if s2.adapter_input == "hidden" and not s2.init:
        raise ValueError("--adapter-input hidden reads the Light-T encoder of a stage-1 run: pass --init RUN_DIR")
    if s2.joint:
        s2.freeze = "none"
    if s2.lr_llm is None:
        s2.lr_llm = 1e-5 if s2.finetune == "full" else 2e-4
    if Path(s2.llm).expanduser().exists():
        s2.llm = str(Path(s2.llm).expanduser().resolve())
    if s2.init:
        s2.init = str(Path(s2.init).resolve())
        first = run.load_config(s2.init)
        if first.stage != 1 or first.model.input != "keypoints":
            raise ValueError(f"--init {s2.init} is not a stage-1 keypoint run")
        # The encoder only works with the data layout and settings it was trained with.
        config.model = first.model
        config.data.normalize = first.data.normalize
        config.data.data = config.data.data or first.data.data
        config.data.annotations = config.data.annotations or first.data.annotations


def build_model(config: RunConfig) -> Stage2Translator:
    """The stage-2 translator of a resolved config: the `init` run's encoder (or a fresh one), a fresh
    adapter, and the LLM (`load_llm`). Seed first for a reproducible adapter and LoRA initialization."""
    s2 = config.stage2
    lm = load_llm(s2.llm, s2.finetune, s2.prompt, s2.lora_rank, s2.lora_alpha, s2.lora_dropout, s2.lora_targets or None)
    if not s2.init:
        return run.assemble_stage2(config, run.keypoint_encoder(config), config.model.encoder.dim, lm)
    first, _ = run.load_model(s2.init)
    if s2.adapter_input != "hidden":
        return run.assemble_stage2(config, first.encoder, config.model.encoder.dim, lm)
    light_t = first.lm.model.get_encoder()
    encoder = LightTEncoderStates(first.encoder, first.adapter, light_t, config.model.feature)
    return run.assemble_stage2(config, encoder, light_t.config.d_model, lm)


def train(config: RunConfig, run_dir: str | Path, resume: bool = False, overwrite: bool = False) -> dict:
    """Train stage 2 into `run_dir` (`overwrite`: replacing the run there), then score the best checkpoint
    on the test split; returns metrics.json."""
    run_dir = Path(run_dir)
    resolve_stage2(config)
    s2 = config.stage2
    samples, train_samples, dev_samples = run.prepare_run(config, run_dir, resume, overwrite)

    accelerator = make_accelerator(config.optim.mixed_precision, config.optim.report_to, run_dir)
    set_seed(config.seed)  # the same adapter, LoRA and (joint / no init) encoder initialization every run
    model = build_model(config)

    llm_params = [p for p in model.lm.parameters() if p.requires_grad]
    visual_params = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("lm.")]
    train_loader, dev_loader = run.loaders(config, model, train_samples, dev_samples)
    if accelerator.is_main_process:
        run.open_run_folder(run_dir, config, resume, train_samples)
        origin = "joint, from scratch" if s2.joint else f"encoder from {s2.init}" if s2.init else "random encoder"
        logger.info(
            f"Stage 2 ({origin}; frozen: {s2.freeze}; {s2.adapter_input} features -> MLP -> {s2.llm} [{s2.finetune}]): "
            f"{sum(p.numel() for p in visual_params) / 1e6:.2f}M visual + {sum(p.numel() for p in llm_params) / 1e6:.2f}M LLM "
            f"trainable parameters; {len(train_samples)} train / {len(dev_samples)} dev clips"
        )
    accelerator.wait_for_everyone()

    groups = [{"params": visual_params, "lr": s2.lr_adapter}] + ([{"params": llm_params, "lr": s2.lr_llm}] if llm_params else [])
    save = lambda m, folder: run.save_model(m, config, folder)  # noqa: E731
    fit(
        model, groups, train_loader, dev_loader, config.optim, config.eval, config.seed, run_dir, save, accelerator,
        resume=resume, config=config.to_dict(),
    )

    best, _ = run.load_model(run_dir)
    if s2.merge and s2.finetune == "lora":
        # The LLM folder becomes a full model: the run no longer needs the base model. Every process
        # merges, so that all of them score the test split with the same weights; rank 0 writes.
        best.lm = VisualLM(best.lm.model.merge_and_unload(), best.lm.tokenizer, best.lm.prompt, {**best.lm.source, "finetune": "full"})
        if accelerator.is_main_process:
            write_into(run_dir, lambda folder: run.save_model(best, config, folder))
    return run.score_best(best, samples, config, run_dir, accelerator)

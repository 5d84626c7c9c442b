"""Stage 2 of FLa-LLM ("LLM fine-tuning"): the stage-1 encoder, frozen, feeds a pretrained LLM through an adapter.

`train(config, run_dir)` loads the encoder of a stage-1 run (`stage2.init`), freezes the parts the config
names (paper Table 9), puts a one-hidden-layer MLP adapter between the encoder's features (frame-wise,
sign-wise or the Light-T encoder's hidden states: paper Table 8) and any Hugging Face LLM (`load_llm`:
LoRA, full or frozen), and trains with the same loop as stage 1 (`slt.train.fit`). Ablations: `joint`
trains encoder, adapter and LLM together from scratch (paper Table 4); no `init` gives stage 2 alone on a
randomly initialized frozen encoder (paper Table 5).

A stage-2 model folder stands alone:
    config.json                 the resolved `RunConfig` (stage 2; `model` describes the encoder)
    visual.safetensors          encoder and adapter weights (all of them, frozen ones included)
    light_t.json                the Light-T config, for `adapter_input = "hidden"` only
    llm/                        `VisualLM.save_pretrained`: tokenizer, base model id or path, LoRA weights
                                (or the whole model for full fine-tuning and `merge`)
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from accelerate.utils import set_seed
from safetensors.torch import save_file
from torch import nn
from transformers import BartConfig
from transformers.models.bart.modeling_bart import BartEncoder

from slt import stage1
from slt.config import RunConfig
from slt.model.encoder import EncoderOutput, KeypointEncoder
from slt.model.llm import VisualLM, load_llm
from slt.model.translator import SignTranslator, load_weights
from slt.data.augment import AugmentConfig
from slt.data.dataset import make_loader
from slt.data.normalize import NormalizeConfig, Normalizer
from slt.files import write_into
from slt.train import console, fit, make_accelerator

VISUAL_WEIGHTS = "visual.safetensors"
LIGHT_T_CONFIG = "light_t.json"
LLM_FOLDER = "llm"


class LightTEncoderStates(nn.Module):
    """The stage-1 pipeline up to Light-T's encoder; its hidden states are the "hidden" adapter input.

    `encode(batch)` returns them in the `sign` slot of an `EncoderOutput`, so `SignTranslator` reads them
    like any other feature.
    """

    def __init__(self, keypoints: KeypointEncoder, projection: nn.Module, light_t: nn.Module, feature: str):
        super().__init__()
        self.keypoints, self.projection, self.light_t, self.feature = keypoints, projection, light_t, feature

    def encode(self, batch: dict) -> EncoderOutput:
        out = self.keypoints.encode(batch)
        x, mask = (out.sign, out.sign_mask) if self.feature == "sign" else (out.frame, out.frame_mask)
        hidden = self.light_t(inputs_embeds=self.projection(x), attention_mask=mask.long()).last_hidden_state
        return EncoderOutput(out.frame, out.frame_mask, hidden, mask)


class Stage2Translator(SignTranslator):
    """A `SignTranslator` whose frozen encoder parts never change: no gradients, and always in eval mode,
    so that BatchNorm statistics and dropout stay as in stage 1 while the rest trains."""

    def __init__(self, encoder: nn.Module, adapter: nn.Module, lm: VisualLM, feature: str, label_smoothing: float, frozen: list[nn.Module]):
        super().__init__(encoder, adapter, lm, feature, label_smoothing)
        self.frozen = frozen  # a plain list: these modules are registered once, under `encoder`
        for module in frozen:
            module.requires_grad_(False)

    def train(self, mode: bool = True) -> Stage2Translator:
        super().train(mode)
        for module in self.frozen:
            module.eval()
        return self


def frozen_parts(encoder: nn.Module, freeze: str) -> list[nn.Module]:
    """The encoder modules that `freeze` names (paper Table 9: the backbone, then the local temporal module).

    With Light-T hidden states as adapter input, Light-T's encoder sits above the temporal module and is
    frozen with it.
    """
    keypoints = encoder.keypoints if isinstance(encoder, LightTEncoderStates) else encoder
    parts = []
    if freeze in ("backbone", "backbone+temporal"):
        parts += [keypoints.input_norm, keypoints.blocks, keypoints.frame_projection]
    if freeze == "backbone+temporal":
        parts.append(keypoints.local_temporal)
        if isinstance(encoder, LightTEncoderStates):
            parts += [encoder.projection, encoder.light_t]
    return parts


def mlp_adapter(in_dim: int, out_dim: int) -> nn.Module:
    """The visual-language adapter: an MLP with one hidden layer of the LLM's width."""
    return nn.Sequential(nn.Linear(in_dim, out_dim), nn.GELU(), nn.Linear(out_dim, out_dim))


def assemble(config: RunConfig, encoder: nn.Module, feature_dim: int, lm: VisualLM) -> Stage2Translator:
    s2 = config.stage2
    feature = "frame" if s2.adapter_input == "frame" else "sign"  # "hidden" arrives in the sign slot
    return Stage2Translator(
        encoder, mlp_adapter(feature_dim, lm.hidden_size), lm, feature, config.model.label_smoothing, frozen_parts(encoder, s2.freeze)
    )


def fresh_keypoint_encoder(config: RunConfig) -> KeypointEncoder:
    normalizer = Normalizer(NormalizeConfig(**config.data.normalize))
    return KeypointEncoder(config.model.encoder, normalizer.num_joints, normalizer.num_channels, normalizer.edges())


def save_model(model: Stage2Translator, config: RunConfig, folder: Path) -> None:
    """Write a stage-2 model folder (see the module docstring) into `folder`."""
    config.save(folder / "config.json")
    # Cloned: safetensors refuses tensors that share memory.
    visual = {k: v.detach().cpu().clone() for k, v in model.state_dict().items() if not k.startswith("lm.")}
    save_file(visual, str(folder / VISUAL_WEIGHTS))
    if isinstance(model.encoder, LightTEncoderStates):
        (folder / LIGHT_T_CONFIG).write_text(model.encoder.light_t.config.to_json_string())
    model.lm.save_pretrained(folder / LLM_FOLDER)


def load_model(run_dir: str | Path) -> tuple[Stage2Translator, RunConfig]:
    """The trained translator of a stage-2 run folder (no pickle: weights come from safetensors)."""
    run_dir = Path(run_dir)
    config = stage1.load_config(run_dir)
    if not (run_dir / VISUAL_WEIGHTS).is_file():
        raise FileNotFoundError(f"{run_dir} has no {VISUAL_WEIGHTS} yet (no evaluation finished)")
    lm = VisualLM.from_pretrained(run_dir / LLM_FOLDER)
    encoder, feature_dim = fresh_keypoint_encoder(config), config.model.encoder.dim
    if config.stage2.adapter_input == "hidden":
        light_t = BartConfig.from_json_file(run_dir / LIGHT_T_CONFIG)
        encoder = LightTEncoderStates(encoder, nn.Linear(feature_dim, light_t.d_model), BartEncoder(light_t), config.model.feature)
        feature_dim = light_t.d_model
    model = assemble(config, encoder, feature_dim, lm)
    load_weights(model, run_dir / VISUAL_WEIGHTS, optional="lm.")  # the LLM's weights are in llm/
    return model.eval(), config


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
        first = stage1.load_config(s2.init)
        if first.stage != 1 or first.model.input != "keypoints":
            raise ValueError(f"--init {s2.init} is not a stage-1 keypoint run")
        # The encoder only works with the data layout and settings it was trained with.
        config.model = first.model
        config.data.normalize = first.data.normalize
        config.data.data = config.data.data or first.data.data
        config.data.annotations = config.data.annotations or first.data.annotations
    config.data.normalize = asdict(NormalizeConfig(**config.data.normalize))
    if config.data.augment is not None:
        config.data.augment = asdict(AugmentConfig(**config.data.augment))


def build_model(config: RunConfig) -> Stage2Translator:
    """The stage-2 translator of a resolved config: the `init` run's encoder (or a fresh one), a fresh
    adapter, and the LLM (`load_llm`). Seed first for a reproducible adapter and LoRA initialization."""
    s2 = config.stage2
    lm = load_llm(s2.llm, s2.finetune, s2.prompt, s2.lora_rank, s2.lora_alpha, s2.lora_dropout, s2.lora_targets or None)
    if not s2.init:
        return assemble(config, fresh_keypoint_encoder(config), config.model.encoder.dim, lm)
    first, _ = stage1.load_model(s2.init)
    if s2.adapter_input != "hidden":
        return assemble(config, first.encoder, config.model.encoder.dim, lm)
    light_t = first.lm.model.get_encoder()
    encoder = LightTEncoderStates(first.encoder, first.adapter, light_t, config.model.feature)
    return assemble(config, encoder, light_t.config.d_model, lm)


def train(config: RunConfig, run_dir: str | Path, resume: bool = False, overwrite: bool = False) -> dict:
    """Train stage 2 into `run_dir` (`overwrite`: replacing the run there), then score the best checkpoint
    on the test split; returns metrics.json."""
    run_dir = Path(run_dir)
    resolve_stage2(config)
    s2 = config.stage2
    samples, train_samples, dev_samples = stage1.prepare_run(config, run_dir, resume, overwrite)

    accelerator = make_accelerator(config.optim.mixed_precision)
    set_seed(config.seed)  # the same adapter, LoRA and (joint / no init) encoder initialization every run
    model = build_model(config)

    llm_params = [p for p in model.lm.parameters() if p.requires_grad]
    visual_params = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("lm.")]
    max_frames = model.max_frames(config.eval.max_new_tokens)  # longer clips: left out of training, cut for scoring
    train_set, dev_set = stage1.dataset(config, train_samples, train=True), stage1.dataset(config, dev_samples, train=False)
    train_loader = make_loader(train_set, config.optim.batch_size, True, config.seed, config.data.num_workers, max_frames)
    dev_loader = make_loader(dev_set, config.eval.batch_size, False, config.seed, config.data.num_workers, max_frames)
    if accelerator.is_main_process:
        stage1.open_run_folder(run_dir, config, resume)
        origin = "joint, from scratch" if s2.joint else f"encoder from {s2.init}" if s2.init else "random encoder"
        console.print(
            f"Stage 2 ({origin}; frozen: {s2.freeze}; {s2.adapter_input} features -> MLP -> {s2.llm} [{s2.finetune}]): "
            f"{sum(p.numel() for p in visual_params) / 1e6:.2f}M visual + {sum(p.numel() for p in llm_params) / 1e6:.2f}M LLM "
            f"trainable parameters; {len(train_samples)} train / {len(dev_samples)} dev clips"
        )
    accelerator.wait_for_everyone()

    groups = [{"params": visual_params, "lr": s2.lr_adapter}] + ([{"params": llm_params, "lr": s2.lr_llm}] if llm_params else [])
    save = lambda m, folder: save_model(m, config, folder)  # noqa: E731
    fit(model, groups, train_loader, dev_loader, config.optim, config.eval, config.seed, run_dir, save, accelerator, resume=resume)

    best, _ = load_model(run_dir)
    if s2.merge and s2.finetune == "lora":
        # The LLM folder becomes a full model: the run no longer needs the base model. Every process
        # merges, so that all of them score the test split with the same weights; rank 0 writes.
        best.lm = VisualLM(best.lm.model.merge_and_unload(), best.lm.tokenizer, best.lm.prompt, {**best.lm.source, "finetune": "full"})
        if accelerator.is_main_process:
            write_into(run_dir, lambda folder: save_model(best, config, folder))
    return stage1.score_best(best, samples, config, run_dir, accelerator)

"""Run configuration: documented dataclasses, resolved as defaults < `--config FILE.yaml` < command-line flags.

A YAML file mirrors the nesting of `RunConfig`, e.g.

    model:
      preset: tiny
      encoder: {channels: [32, 64], downsample: 4}
    optim: {lr: 1.0e-3, epochs: 40, batch_size: 16}

Flags arrive as dotted keys (`{"optim.lr": 1e-3}`). The resolved config is saved in the run folder as
`config.json`, which is all that is needed to rebuild the model and to resume.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from slt.choices import AdapterInput, Feature, Finetune, Freeze, Input, Optimizer, Preset, Tokenize, Tracker
from slt.data.augment import AugmentConfig
from slt.data.normalize import NormalizeConfig
from slt.model.encoder import EncoderConfig


@dataclass
class DataConfig:
    """Where the clips are and how they become batches."""

    data: str = ""  # keypoint folder: `slt preprocess` output or OUT/keypoints of `slt synth`
    annotations: list[str] = field(default_factory=list)  # annotation tables (CSV/TSV, PHOENIX, CSL-Daily, How2Sign)
    train_split: str = "train"
    dev_split: str = "dev"
    test_split: str = "test"  # evaluated with the best checkpoint at the end; skipped when absent
    skip_missing: bool = False  # go on without clips whose keypoint file is missing (else: error)
    # The signer-independent protocol: every clip of these signers is moved to the test split, whatever the
    # annotations say, so training and dev never see them (`slt.data.annotations.hold_out`).
    holdout_signers: list[str] = field(default_factory=list)
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)  # how keypoints become features
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)  # training clips only; null turns it off
    # Stage-1 text tokenizer: "" trains a BPE on the training sentences; a hub id or model folder uses that
    # model's tokenizer (the paper uses its LLM's, so stage 1 and stage 2 share one vocabulary).
    tokenizer: str = ""
    vocab_size: int = 4000  # target-text BPE vocabulary (smaller when the corpus has fewer subwords)
    char_level: bool = False  # one token per character (Chinese)
    num_workers: int = 0  # DataLoader worker processes
    cache_dir: str | None = None  # packed keypoint cache; default: a `.slt_cache` folder inside `data`

    def __post_init__(self):
        if isinstance(self.annotations, str):  # one file, as a YAML scalar
            self.annotations = [self.annotations]
        if not isinstance(self.annotations, list) or not all(isinstance(a, str) and a for a in self.annotations):
            raise ValueError(f"data.annotations must be a list of annotation file paths, got {self.annotations!r}")
        for key in ("train_split", "dev_split", "test_split"):
            _check(f"data.{key}", getattr(self, key), bool(getattr(self, key)), "a split name")
        if not isinstance(self.holdout_signers, list) or not all(isinstance(x, str) and x for x in self.holdout_signers):
            raise ValueError(f"data.holdout_signers must be a list of signer names, got {self.holdout_signers!r}")
        _check("data.vocab_size", self.vocab_size, self.vocab_size >= 8, "at least 8 (4 special tokens and some subwords)")
        _check("data.num_workers", self.num_workers, self.num_workers >= 0, "0 or more")


@dataclass
class ModelConfig:
    """The stage-1 translator: visual encoder -> linear adapter -> Light-T."""

    input: Input = "keypoints"  # "keypoints", or "gloss": the gloss oracle (the same translator reading glosses)
    preset: Preset = "base"  # Light-T size (paper Table 7): tiny, small, base (the paper's), large
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    feature: Feature = "sign"  # encoder output the translator reads: "sign" (downsampled, paper) or "frame"
    dropout: float = 0.1  # Light-T dropout
    label_smoothing: float = 0.2  # paper: 0.2
    # Denoising pre-training of Light-T on the training sentences before stage 1 (as `slt make-llm` does),
    # in steps of 32 sentences. 0 is the paper's random initialization. On small corpora a randomly
    # initialized Light-T settles on a language model that ignores its input; pre-trained, it already
    # writes the language and reads content from its encoder, so the visual features get used at once.
    pretrain_steps: int = 0

    def __post_init__(self):
        _check_choice("model.input", self.input, Input)
        _check_choice("model.preset", self.preset, Preset)
        _check_choice("model.feature", self.feature, Feature)
        _check("model.dropout", self.dropout, 0 <= self.dropout < 1, "in [0, 1)")
        _check("model.label_smoothing", self.label_smoothing, 0 <= self.label_smoothing < 1, "in [0, 1)")
        _check("model.pretrain_steps", self.pretrain_steps, self.pretrain_steps >= 0, "0 or more")


@dataclass
class OptimConfig:
    """Optimization. `batch_size` is the global batch: the same numbers on 1 or 8 devices."""

    optimizer: Optimizer = "adamw"  # "adamw", or "sgd" with momentum (the paper's stage 1: lr 1e-2)
    lr: float = 5e-4
    weight_decay: float = 0.01
    momentum: float = 0.9  # SGD only
    epochs: int = 100
    batch_size: int = 16  # clips per optimizer step, over all devices and accumulation steps
    accumulation: int = 1  # micro-steps per optimizer step: per-device batch = batch_size / (devices * accumulation)
    warmup: float = 0.05  # fraction of the steps with a linear warm-up, then cosine decay to 0
    grad_clip: float = 1.0  # max gradient norm; 0 turns clipping off
    mixed_precision: bool = True  # bf16 autocast on GPU; CPU always runs in float32
    # Experiment trackers that get the losses, learning rate, dev scores and sentences, and this config:
    # "tensorboard" (written into RUN/logs/), "wandb", "mlflow", "trackio" (these follow their own settings,
    # e.g. WANDB_MODE=offline, MLFLOW_TRACKING_URI).
    report_to: list[Tracker] = field(default_factory=list)

    def __post_init__(self):
        if isinstance(self.report_to, str):  # one tracker, as a YAML scalar
            self.report_to = [self.report_to]
        trackers = typing.get_args(Tracker)
        ok = isinstance(self.report_to, list) and all(t in trackers for t in self.report_to)
        _check("optim.report_to", self.report_to, ok, f"a list of trackers out of {list(trackers)}")
        _check_choice("optim.optimizer", self.optimizer, Optimizer)
        _check("optim.lr", self.lr, 0 < self.lr < math.inf, "a positive number")
        _check("optim.weight_decay", self.weight_decay, 0 <= self.weight_decay < math.inf, "0 or more")
        _check("optim.momentum", self.momentum, 0 <= self.momentum < 1, "in [0, 1)")
        for key in ("epochs", "batch_size", "accumulation"):
            _check(f"optim.{key}", getattr(self, key), getattr(self, key) >= 1, "at least 1")
        _check("optim.warmup", self.warmup, 0 <= self.warmup <= 1, "a fraction of the steps in [0, 1]")
        _check("optim.grad_clip", self.grad_clip, 0 <= self.grad_clip < math.inf, "0 (off) or a positive gradient norm")


@dataclass
class EvalConfig:
    """Dev evaluation during training (and `slt evaluate`): decoding, never teacher forcing."""

    every: int = 1  # evaluate on dev every N epochs (and after the last)
    num_beams: int = 5  # paper: 5
    length_penalty: float = 1.0
    max_new_tokens: int = 64
    batch_size: int = 32
    patience: int = 10  # stop after this many evaluations without a better dev BLEU-4; 0 never stops
    tokenize: Tokenize = "auto"  # sacrebleu tokenization: "13a", "zh" (Chinese), or "auto" from the references

    def __post_init__(self):
        for key in ("every", "num_beams", "max_new_tokens", "batch_size"):
            _check(f"eval.{key}", getattr(self, key), getattr(self, key) >= 1, "at least 1")
        _check("eval.length_penalty", self.length_penalty, abs(self.length_penalty) < math.inf, "a finite number")
        _check("eval.patience", self.patience, self.patience >= 0, "0 (never stop early) or more")
        _check_choice("eval.tokenize", self.tokenize, Tokenize)


@dataclass
class Stage2Config:
    """Stage 2: encoder -> MLP adapter -> pretrained LLM (`slt train --stage 2`). `model` then describes the
    encoder (copied from the `init` run); the optimizer groups take `lr_adapter` and `lr_llm`, not `optim.lr`."""

    init: str = ""  # stage-1 run folder whose encoder is loaded; "" = a randomly initialized encoder
    joint: bool = False  # no stage 1: encoder, adapter and LLM trained together from scratch (paper Table 4)
    freeze: Freeze = "backbone+temporal"  # encoder parts kept fixed: "none", "backbone", "backbone+temporal" (Table 9)
    adapter_input: AdapterInput = "sign"  # "frame", "sign" or "hidden" (the stage-1 Light-T encoder's states; Table 8)
    llm: str = ""  # Hugging Face hub id or local model folder (`slt make-llm` builds one)
    prompt: str = ""  # decoder-only LLMs: text placed before the visual prefix
    finetune: Finetune = "lora"  # "lora", "full" (the paper's) or "frozen" (only the adapter trains)
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: list[str] = field(default_factory=list)  # module names; empty = peft's default for the architecture
    lr_adapter: float = 1e-3  # paper; also for encoder parts that are not frozen
    # Paper: 1e-5 for full fine-tuning of a 680M mBART. LoRA's low-rank updates start from zero and
    # need a larger step (peft's examples use 1e-4 to 3e-4); None picks 1e-5 for full, 2e-4 for LoRA.
    lr_llm: float | None = None
    merge: bool = False  # save the LLM with the LoRA weights merged in (a standalone model)

    def __post_init__(self):
        _check_choice("stage2.freeze", self.freeze, Freeze)
        _check_choice("stage2.adapter_input", self.adapter_input, AdapterInput)
        _check_choice("stage2.finetune", self.finetune, Finetune)
        _check("stage2.lora_rank", self.lora_rank, self.lora_rank >= 1, "at least 1")
        _check("stage2.lora_alpha", self.lora_alpha, self.lora_alpha >= 1, "at least 1")
        _check("stage2.lora_dropout", self.lora_dropout, 0 <= self.lora_dropout < 1, "in [0, 1)")
        targets = self.lora_targets
        _check("stage2.lora_targets", targets, isinstance(targets, list) and all(isinstance(t, str) and t for t in targets), "a list of module names")
        _check("stage2.lr_adapter", self.lr_adapter, 0 < self.lr_adapter < math.inf, "a positive number")
        _check("stage2.lr_llm", self.lr_llm, self.lr_llm is None or 0 < self.lr_llm < math.inf, "a positive number (or null: the default)")


@dataclass
class RunConfig:
    stage: int = 1
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    stage2: Stage2Config = field(default_factory=Stage2Config)

    def __post_init__(self):
        _check_choice("stage", self.stage, (1, 2))
        _check("seed", self.seed, 0 <= self.seed < 2**32, "in [0, 2**32)")

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: str | Path) -> None:
        from slt.files import atomic_write

        atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(self.to_dict(), indent=2) + "\n"))


def _check_choice(key: str, value: Any, choices: Any) -> None:
    """`choices`: a tuple, or a `Literal` type of `slt.choices`."""
    choices = typing.get_args(choices) or choices
    if value not in choices:
        raise ValueError(f"{key} must be one of {list(choices)}, got {value!r}")


def _check(key: str, value: Any, ok: bool, allowed: str) -> None:
    """One line naming the key and what it may be, for a value found out of range where the config is built."""
    if not ok:
        raise ValueError(f"{key} must be {allowed}, got {value!r}")


def from_dict(cls: type, values: dict, where: str = "") -> Any:
    """Build dataclass `cls` from nested `values`, naming any unknown key or ill-typed value (ValueError)."""
    if not isinstance(values, dict):
        raise ValueError(f"{where.rstrip('.') or 'config'} must be a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown config key(s) {[where + k for k in unknown]}; known: {sorted(names)}")
    kwargs = {}
    for name, value in values.items():
        nested = _dataclass_of(hints[name])
        if nested is not None and not (value is None and nested is not hints[name]):  # `X | None` takes None
            kwargs[name] = from_dict(nested, value, f"{where}{name}.")
        else:
            kwargs[name] = _coerce(value, hints[name], where + name)
    return cls(**kwargs)


def _dataclass_of(hint: Any) -> type | None:
    """The dataclass a field holds (`X` or `X | None`), or None for a plain value."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    return next((t for t in options if dataclasses.is_dataclass(t)), None)


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """`value` as the simple type `hint` asks for (YAML reads 1e-3 as a string, for one)."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    simple = [t for t in options if t in (int, float, bool, str)]
    if value is None or not simple or isinstance(value, tuple(simple)) and not (isinstance(value, bool) and bool not in simple):
        return value
    kind = simple[0]
    try:
        if kind is bool:
            if str(value).lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return str(value).lower() in ("true", "1")
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"config key {key} must be {kind.__name__}, got {value!r}") from None


def resolve(
    config_file: str | Path | None = None, overrides: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
) -> RunConfig:
    """Defaults, then the YAML or JSON file, then `settings` (dotted keys: `slt train --set`), then
    `overrides` (dotted keys of flags; None values, flags not given, are ignored)."""
    values: dict = {}
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise ValueError(f"config file {path} does not exist")
        try:
            values = yaml.safe_load(path.read_text()) or {}  # YAML is a superset of JSON
        except yaml.YAMLError as error:
            raise ValueError(f"config file {path} is not valid YAML: {str(error).splitlines()[0]}") from None
        if not isinstance(values, dict):
            raise ValueError(f"config file {path} must hold a mapping of sections (data, model, optim, eval)")
    given = [*(settings or {}).items(), *((k, v) for k, v in (overrides or {}).items() if v is not None)]
    for key, value in given:
        *sections, name = key.split(".")
        node = values
        for i, section in enumerate(sections):
            node = node.setdefault(section, {})
            if not isinstance(node, dict):
                raise ValueError(f"config key {key}: {'.'.join(sections[: i + 1])} is {node!r}, not a section")
        node[name] = value
    return from_dict(RunConfig, values)


def differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested config dicts."""
    keys = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            keys += differences(x, y, f"{prefix}{key}.")
        elif x != y:
            keys.append(prefix + key)
    return keys

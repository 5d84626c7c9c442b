"""Stage 1 of FLa-LLM ("visual initialing"): the keypoint encoder and Light-T, trained end to end.

`train(config, run_dir)` builds the data, the tokenizer and the model, runs `slt.train.fit`, then scores
the best checkpoint on the test split. `load_model(run_dir)` gives the trained `SignTranslator` back
(for `slt evaluate`, `slt translate` and stage 2). With `model.input = "gloss"` the same translator
reads gloss tokens instead of keypoints: the gloss oracle.

A stage-1 model folder: `config.json` (the resolved `RunConfig`), `model.safetensors` (all weights),
the tokenizer files, and `glosses.txt` (the oracle's gloss vocabulary) for gloss runs.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, fields
from pathlib import Path

from accelerate.utils import set_seed
from safetensors.torch import save_model as save_weights
from torch import nn
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from slt.config import RunConfig, differences, from_dict
from slt.files import atomic_write, check_output_folder
from slt.model.encoder import GlossEncoder, KeypointEncoder
from slt.model.llm import light_t, load_tokenizer
from slt.model.make_llm import MakeLLMConfig, pretrain
from slt.model.translator import SignTranslator, load_weights
from slt.data.annotations import Sample, check_keypoints, read_annotations
from slt.data.augment import AugmentConfig
from slt.data.dataset import KeypointDataset, make_loader
from slt.data.normalize import NormalizeConfig, Normalizer
from slt.data.tokenizer import train_tokenizer
from slt.metrics import Scores
from slt.files import write_into
from slt.train import console, evaluate, fit, make_accelerator, scores_table, write_results

GLOSSES_FILE = "glosses.txt"


def build_model(config: RunConfig, tokenizer: PreTrainedTokenizerBase, glosses: list[str] | None = None) -> SignTranslator:
    """A freshly initialized stage-1 translator for `config` (`glosses`: the oracle's vocabulary)."""
    lm = light_t(config.model.preset, tokenizer, dropout=config.model.dropout)
    if config.model.input == "gloss":
        encoder = GlossEncoder(glosses or [], config.model.encoder.dim)
    else:
        normalizer = Normalizer(NormalizeConfig(**config.data.normalize))
        encoder = KeypointEncoder(config.model.encoder, normalizer.num_joints, normalizer.num_channels, normalizer.edges())
    adapter = nn.Linear(config.model.encoder.dim, lm.hidden_size)
    return SignTranslator(encoder, adapter, lm, config.model.feature, config.model.label_smoothing)


def save_model(model: SignTranslator, config: RunConfig, folder: Path) -> None:
    """Write a stage-1 model folder (see the module docstring) into `folder`."""
    config.save(folder / "config.json")
    save_weights(model, str(folder / "model.safetensors"))
    model.lm.tokenizer.save_pretrained(folder)
    if isinstance(model.encoder, GlossEncoder):
        (folder / GLOSSES_FILE).write_text("".join(f"{g}\n" for g in model.encoder.vocabulary))


def load_config(run_dir: str | Path) -> RunConfig:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no config.json)")
    try:
        return from_dict(RunConfig, json.loads(path.read_text()))
    except ValueError as error:  # JSON's own errors are ValueErrors too
        raise ValueError(f"{path} is damaged or not an slt run config: {error}") from None


def load_model(run_dir: str | Path) -> tuple[SignTranslator, RunConfig]:
    """The trained translator of a stage-1 run folder (no pickle: weights come from safetensors)."""
    run_dir = Path(run_dir)
    config = load_config(run_dir)
    if config.stage == 2:  # so that `slt evaluate` and `slt translate` take runs of either stage
        from slt import stage2

        return stage2.load_model(run_dir)
    if not (run_dir / "model.safetensors").is_file():
        raise FileNotFoundError(f"{run_dir} has no model.safetensors yet (no evaluation finished)")
    tokenizer = AutoTokenizer.from_pretrained(run_dir)
    glosses = (run_dir / GLOSSES_FILE).read_text().split() if config.model.input == "gloss" else None
    model = build_model(config, tokenizer, glosses)
    load_weights(model, run_dir / "model.safetensors")
    return model.eval(), config


def load_samples(config: RunConfig) -> list[Sample]:
    """The annotated clips whose keypoint files exist (missing ones raise, unless `skip_missing`)."""
    if not config.data.annotations:
        raise ValueError("no annotation file given (--annotations FILE...)")
    if not config.data.data or not Path(config.data.data).is_dir():
        raise FileNotFoundError(f"keypoint folder {config.data.data!r} does not exist (--data DIR)")
    for path in config.data.annotations:
        if not Path(path).is_file():
            raise FileNotFoundError(f"annotation file {path} does not exist")
    present, missing = check_keypoints(config.data.data, read_annotations(config.data.annotations), config.data.skip_missing)
    if missing:
        console.print(f"[yellow]Skipping {len(missing)} clip(s) without a keypoint file[/]")
    return present


def dataset(config: RunConfig, samples: list[Sample], train: bool) -> KeypointDataset:
    augment = AugmentConfig(**config.data.augment) if train and config.data.augment is not None else None
    normalizer = Normalizer(NormalizeConfig(**config.data.normalize))
    return KeypointDataset(config.data.data, samples, normalizer, augment, config.seed, config.data.cache_dir)


def split(samples: list[Sample], name: str) -> list[Sample]:
    return [s for s in samples if s.split == name]


def is_run(folder: Path) -> bool:
    """Whether `folder` is a run folder of `slt train`: its config.json holds every section of a `RunConfig`."""
    try:
        values = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(values, dict) and set(values) == {f.name for f in fields(RunConfig)}


def open_run_folder(run_dir: Path, config: RunConfig, resume: bool) -> None:
    """Write config.json into the run being resumed, or start a new run folder (a temp folder renamed to
    `run_dir`, replacing what `prepare_run` found may go)."""
    if resume:
        config.save(run_dir / "config.json")
    else:
        atomic_write(run_dir, lambda tmp: config.save(Path(tmp) / "config.json"), folder=True)


def prepare_run(
    config: RunConfig, run_dir: Path, resume: bool, overwrite: bool = False
) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """Check that `run_dir` can start (or, with `resume`, continue; with `overwrite`, replace) a run of
    `config`, and load its clips: (all samples, train split, dev split). Shared by both stages; raises with
    one line on any problem. A folder that is not a run is never written into, unless it is empty."""
    if resume and overwrite:
        raise ValueError("--resume continues the run in --out and --overwrite replaces it: pass one of them")
    if resume:
        if not (run_dir / "config.json").is_file():
            raise FileNotFoundError(f"{run_dir} holds no run to resume (no config.json); drop --resume to start one")
        saved = load_config(run_dir)
        changed = differences(json.loads(json.dumps(saved.to_dict())), json.loads(json.dumps(config.to_dict())))
        if changed:
            raise ValueError(f"{run_dir} was started with a different config ({', '.join(changed)}); resume it with the same flags")
    elif is_run(run_dir) and not overwrite:
        raise FileExistsError(f"{run_dir} already holds a run; pass --resume to continue it, --overwrite to replace it, or choose another --out")
    else:
        check_output_folder(run_dir, "an slt run", is_run, overwrite)

    samples = load_samples(config)
    train_samples, dev_samples = split(samples, config.data.train_split), split(samples, config.data.dev_split)
    for name, part in ((config.data.train_split, train_samples), (config.data.dev_split, dev_samples)):
        if not part:
            raise ValueError(f"no {name!r} clips in {', '.join(config.data.annotations)}")
    if config.optim.batch_size % config.optim.accumulation:
        raise ValueError(f"batch size {config.optim.batch_size} is not a multiple of accumulation {config.optim.accumulation}")
    return samples, train_samples, dev_samples


def train(config: RunConfig, run_dir: str | Path, resume: bool = False, overwrite: bool = False) -> dict:
    """Train stage 1 into `run_dir` (`overwrite`: replacing the run there), then score the best checkpoint
    on the test split; returns metrics.json."""
    run_dir = Path(run_dir)
    # Resolve the sub-configs that other modules own, so config.json records every setting.
    config.data.normalize = asdict(NormalizeConfig(**config.data.normalize))
    if config.data.augment is not None:
        config.data.augment = asdict(AugmentConfig(**config.data.augment))
    samples, train_samples, dev_samples = prepare_run(config, run_dir, resume, overwrite)

    accelerator = make_accelerator(config.optim.mixed_precision)
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
    model = build_model(config, tokenizer, glosses)
    if config.model.pretrain_steps and not resume:  # a resumed run loads its weights instead
        # Every process pre-trains the same way from the same seed (DDP also broadcasts rank 0's weights).
        texts = [s.text for s in train_samples]
        settings = MakeLLMConfig(arch="seq2seq", steps=config.model.pretrain_steps, seed=config.seed)
        light_t_model = model.lm.model.to(accelerator.device)
        pretrain(light_t_model, tokenizer, texts, settings, random.Random(config.seed), accelerator.is_main_process)

    train_set = dataset(config, train_samples, train=True)
    dev_set = dataset(config, dev_samples, train=False)
    max_frames = model.max_frames(config.eval.max_new_tokens)  # longer clips: left out of training, cut for scoring
    train_loader = make_loader(train_set, config.optim.batch_size, True, config.seed, config.data.num_workers, max_frames)
    dev_loader = make_loader(dev_set, config.eval.batch_size, False, config.seed, config.data.num_workers, max_frames)
    if accelerator.is_main_process:
        open_run_folder(run_dir, config, resume)
        write_into(run_dir, tokenizer.save_pretrained)  # before any checkpoint: --resume reads it
        parameters = sum(p.numel() for p in model.parameters())
        console.print(
            f"Stage 1 ({config.model.input} -> Light-T {config.model.preset}, {parameters / 1e6:.1f}M parameters): "
            f"{len(train_set)} train / {len(dev_set)} dev clips, {accelerator.num_processes} process(es) on {accelerator.device}"
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
        lambda m, folder: save_model(m, config, folder),
        accelerator,
        resume=resume,
    )

    best, _ = load_model(run_dir)
    return score_best(best, samples, config, run_dir, accelerator)


def score_best(best: nn.Module, samples: list[Sample], config: RunConfig, run_dir: Path, accelerator) -> dict:
    """Score the best checkpoint on test (when the split exists), print every split's scores, return them."""
    test_samples = split(samples, config.data.test_split)
    if test_samples:
        max_frames = best.max_frames(config.eval.max_new_tokens)
        loader = make_loader(dataset(config, test_samples, train=False), config.eval.batch_size, shuffle=False, max_frames=max_frames)
        scores, rows = evaluate(best.to(accelerator.device), loader, accelerator, config.eval)
        if accelerator.is_main_process:
            write_results(run_dir, config.data.test_split, scores, rows)
    accelerator.wait_for_everyone()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    if accelerator.is_main_process:
        table = {name: Scores.from_dict(values) for name, values in metrics.items()}
        console.print(scores_table(f"Best checkpoint (epoch {metrics['dev']['epoch']})", table))
    return metrics


def evaluate_run(
    run_dir: str | Path,
    split_name: str | None = None,
    annotations: list[str] | None = None,
    data: str | None = None,
    num_beams: int | None = None,
) -> tuple[str, Scores]:
    """Decode and score a split of the run's data, or the clips of other annotation files (all of them,
    or those of `split_name`); writes `metrics.json[name]` and `{name}.hypotheses.tsv` in the run folder.
    Returns (name, scores); the name is the split, or the first annotation file's stem.
    """
    run_dir = Path(run_dir)
    model, config = load_model(run_dir)
    if data is not None:
        config.data.data = data
    if num_beams is not None:
        config.eval.num_beams = num_beams
    if annotations:
        config.data.annotations = list(annotations)
        name = split_name or Path(annotations[0]).stem
    else:
        name = split_name or config.data.test_split
    samples = load_samples(config)
    if split_name is not None or not annotations:
        samples = split(samples, name)
    if not samples:
        raise ValueError(f"no {name!r} clips in {', '.join(config.data.annotations)}")
    accelerator = make_accelerator(config.optim.mixed_precision)
    max_frames = model.max_frames(config.eval.max_new_tokens)
    loader = make_loader(dataset(config, samples, train=False), config.eval.batch_size, shuffle=False, max_frames=max_frames)
    scores, rows = evaluate(model.to(accelerator.device), loader, accelerator, config.eval)
    if accelerator.is_main_process:
        write_results(run_dir, name, scores, rows)
        console.print(f"sacrebleu: {scores.signature}")
        console.print(scores_table(f"{run_dir}: {len(rows)} {name} clips", {name: scores}))
    return name, scores

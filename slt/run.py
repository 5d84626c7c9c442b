"""A run folder of `slt train`, of either stage: its config, its model, its data, its scores.

Everything that reads or writes a run folder lives here, so that training (`slt.stage1`, `slt.stage2`),
`slt evaluate` and `slt translate` see one format. `load_model(run_dir)` rebuilds the trained model of
either stage from `config.stage`; the stage modules only build and train theirs.

A stage-1 folder: `config.json` (the resolved `RunConfig`), `model.safetensors` (all weights), the
tokenizer files, and `glosses.txt` (the oracle's gloss vocabulary) for gloss runs.

Both stages also write `keypoints.json`: what the training keypoints were made with (`keypoint_origin`),
so that `slt translate` can warn about an input made with another extractor, whose landmarks differ.

A stage-2 folder stands alone:
    config.json                 the resolved `RunConfig` (stage 2; `model` describes the encoder)
    visual.safetensors          encoder and adapter weights (all of them, frozen ones included)
    light_t.json                the Light-T config, for `adapter_input = "hidden"` only
    llm/                        `VisualLM.save_pretrained`: tokenizer, base model hub id, LoRA weights
                                (or the whole model for full fine-tuning and `merge`); a base model
                                given as a local folder is copied into llm/base/, so the run moves whole

Both also hold what training writes (`slt.train`): metrics.json, hypotheses, log.jsonl, training.json, resume/.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import asdict, fields
from pathlib import Path

from safetensors.torch import save_file, save_model as save_weights
from torch import nn
from transformers import AutoTokenizer, BartConfig, PreTrainedTokenizerBase
from transformers.models.bart.modeling_bart import BartEncoder

from slt.config import RunConfig, differences, from_dict
from slt.data.annotations import Sample, check_keypoints, hold_out, keypoint_path, read_annotations
from slt.data.dataset import KeypointDataset, make_loader
from slt.data.normalize import Normalizer
from slt.files import atomic_write, check_output_folder, write_into
from slt.keypoints.formats import read_keypoints
from slt.metrics import Scores, score_groups
from slt.model.encoder import GlossEncoder, KeypointEncoder
from slt.model.llm import VisualLM, light_t
from slt.model.translator import LightTEncoderStates, SignTranslator, Stage2Translator, frozen_parts, load_weights, mlp_adapter
from slt.train import evaluate, make_accelerator, scores_table, write_results

logger = logging.getLogger(__name__)

GLOSSES_FILE = "glosses.txt"
KEYPOINTS_INFO = "keypoints.json"
VISUAL_WEIGHTS = "visual.safetensors"
LIGHT_T_CONFIG = "light_t.json"
LLM_FOLDER = "llm"


# --- the model of a config ---------------------------------------------------------------------------


def keypoint_encoder(config: RunConfig) -> KeypointEncoder:
    """A freshly initialized keypoint encoder for the run's normalization and encoder settings (both stages)."""
    normalizer = Normalizer(config.data.normalize)
    return KeypointEncoder(config.model.encoder, normalizer.num_joints, normalizer.num_channels, normalizer.edges())


def build_stage1(config: RunConfig, tokenizer: PreTrainedTokenizerBase, glosses: list[str] | None = None) -> SignTranslator:
    """A freshly initialized stage-1 translator for `config` (`glosses`: the oracle's vocabulary)."""
    lm = light_t(config.model.preset, tokenizer, dropout=config.model.dropout)
    if config.model.input == "gloss":
        encoder = GlossEncoder(glosses or [], config.model.encoder.dim)
    else:
        encoder = keypoint_encoder(config)
    adapter = nn.Linear(config.model.encoder.dim, lm.hidden_size)
    return SignTranslator(encoder, adapter, lm, config.model.feature, config.model.label_smoothing)


def assemble_stage2(config: RunConfig, encoder: nn.Module, feature_dim: int, lm: VisualLM) -> Stage2Translator:
    """The stage-2 translator around `encoder` (features of `feature_dim`) and `lm`, with a fresh adapter."""
    s2 = config.stage2
    feature = "frame" if s2.adapter_input == "frame" else "sign"  # "hidden" arrives in the sign slot
    return Stage2Translator(
        encoder, mlp_adapter(feature_dim, lm.hidden_size), lm, feature, config.model.label_smoothing, frozen_parts(encoder, s2.freeze)
    )


def save_model(model: SignTranslator, config: RunConfig, folder: Path) -> None:
    """Write the model files of a run of `config.stage` (see the module docstring) into `folder`."""
    config.save(folder / "config.json")
    if config.stage == 1:
        save_weights(model, str(folder / "model.safetensors"))
        model.lm.tokenizer.save_pretrained(folder)
        if isinstance(model.encoder, GlossEncoder):
            (folder / GLOSSES_FILE).write_text("".join(f"{g}\n" for g in model.encoder.vocabulary))
        return
    # Cloned: safetensors refuses tensors that share memory.
    visual = {k: v.detach().cpu().clone() for k, v in model.state_dict().items() if not k.startswith("lm.")}
    save_file(visual, str(folder / VISUAL_WEIGHTS))
    if isinstance(model.encoder, LightTEncoderStates):
        (folder / LIGHT_T_CONFIG).write_text(model.encoder.light_t.config.to_json_string())
    model.lm.save_pretrained(folder / LLM_FOLDER)


def load_config(run_dir: str | Path) -> RunConfig:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no config.json)")
    try:
        saved = json.loads(path.read_text())
        normalize = saved.get("data", {}).get("normalize")
        if isinstance(normalize, dict):  # saved before mirroring existed, so trained without it
            normalize.setdefault("mirror_left_handed", False)
        return from_dict(RunConfig, saved)
    except ValueError as error:  # JSON's own errors are ValueErrors too
        raise ValueError(f"{path} is damaged or not an slt run config: {error}") from None


def load_model(run_dir: str | Path) -> tuple[SignTranslator, RunConfig]:
    """The trained translator of a run folder of either stage (no pickle: weights come from safetensors)."""
    run_dir = Path(run_dir)
    config = load_config(run_dir)
    weights = run_dir / ("model.safetensors" if config.stage == 1 else VISUAL_WEIGHTS)
    if not weights.is_file():
        raise FileNotFoundError(f"{run_dir} has no {weights.name} yet (no evaluation finished)")
    if config.stage == 1:
        tokenizer = AutoTokenizer.from_pretrained(run_dir)
        glosses = (run_dir / GLOSSES_FILE).read_text().split() if config.model.input == "gloss" else None
        model = build_stage1(config, tokenizer, glosses)
        load_weights(model, weights)
        return model.eval(), config
    lm = VisualLM.from_pretrained(run_dir / LLM_FOLDER)
    encoder, feature_dim = keypoint_encoder(config), config.model.encoder.dim
    if config.stage2.adapter_input == "hidden":
        settings = BartConfig.from_json_file(run_dir / LIGHT_T_CONFIG)
        encoder = LightTEncoderStates(encoder, nn.Linear(feature_dim, settings.d_model), BartEncoder(settings), config.model.feature)
        feature_dim = settings.d_model
    model = assemble_stage2(config, encoder, feature_dim, lm)
    load_weights(model, weights, optional="lm.")  # the LLM's weights are in llm/
    return model.eval(), config


# --- the data of a config ----------------------------------------------------------------------------


def load_samples(config: RunConfig) -> list[Sample]:
    """The annotated clips whose keypoint files exist (missing ones raise, unless `skip_missing`), with the
    held-out signers' clips in the test split."""
    if not config.data.annotations:
        raise ValueError("no annotation file given (--annotations FILE...)")
    if not config.data.data or not Path(config.data.data).is_dir():
        raise FileNotFoundError(f"keypoint folder {config.data.data!r} does not exist (--data DIR)")
    for path in config.data.annotations:
        if not Path(path).is_file():
            raise FileNotFoundError(f"annotation file {path} does not exist")
    present, missing = check_keypoints(config.data.data, read_annotations(config.data.annotations), config.data.skip_missing)
    if missing:
        logger.warning("skipping %d clip(s) without a keypoint file", len(missing))
    return hold_out(present, config.data.holdout_signers, config.data.test_split)


def dataset(config: RunConfig, samples: list[Sample], train: bool) -> KeypointDataset:
    """The clips of `samples`, normalized as the run says and, for training, augmented."""
    augment = config.data.augment if train else None
    return KeypointDataset(config.data.data, samples, Normalizer(config.data.normalize), augment, config.seed, config.data.cache_dir)


def split(samples: list[Sample], name: str) -> list[Sample]:
    return [s for s in samples if s.split == name]


def loaders(config: RunConfig, model: SignTranslator, train_samples: list[Sample], dev_samples: list[Sample]):
    """The training and dev loaders of a run: clips longer than `model` reads are left out of training and
    cut for scoring."""
    max_frames = model.max_frames(config.eval.max_new_tokens)
    train_set, dev_set = dataset(config, train_samples, train=True), dataset(config, dev_samples, train=False)
    train_loader = make_loader(train_set, config.optim.batch_size, True, config.seed, config.data.num_workers, max_frames)
    dev_loader = make_loader(dev_set, config.eval.batch_size, False, config.seed, config.data.num_workers, max_frames)
    return train_loader, dev_loader


# --- starting, scoring and evaluating a run ----------------------------------------------------------


def is_run(folder: Path) -> bool:
    """Whether `folder` is a run folder of `slt train`: its config.json holds every section of a `RunConfig`."""
    try:
        values = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(values, dict) and set(values) == {f.name for f in fields(RunConfig)}


def keypoint_origin(info: dict) -> dict:
    """What made a clip's keypoints, from its header (`Keypoints.info`): the extractor (or generator), its
    version and model complexity; empty values where the header does not say."""
    return {
        "extractor": info.get("extractor") or info.get("generator"),
        "extractor_version": info.get("extractor_version"),
        "model_complexity": (info.get("settings") or {}).get("model_complexity"),
    }


def training_keypoints_info(config: RunConfig, train_samples: list[Sample]) -> dict:
    """`keypoints.json`: the origin of the first training clip's keypoints (a corpus is extracted with one
    tool), and how they were normalized (frame rates are kept as they are: the model reads frames)."""
    kp = read_keypoints(keypoint_path(config.data.data, train_samples[0].name))
    return {**keypoint_origin(kp.info), "fps": kp.fps or None, "normalize": asdict(config.data.normalize)}


def read_keypoints_info(run_dir: str | Path) -> dict:
    """The run's `keypoints.json`, or {} for a run trained before runs recorded it."""
    path = Path(run_dir) / KEYPOINTS_INFO
    return json.loads(path.read_text()) if path.is_file() else {}


def open_run_folder(run_dir: Path, config: RunConfig, resume: bool, train_samples: list[Sample]) -> None:
    """Write config.json and keypoints.json into the run being resumed, or start a new run folder with
    them (a temp folder renamed to `run_dir`, replacing what `prepare_run` found may go)."""
    keypoints = json.dumps(training_keypoints_info(config, train_samples), indent=2)

    def write(folder: Path) -> None:
        config.save(folder / "config.json")
        (folder / KEYPOINTS_INFO).write_text(keypoints)

    if resume:
        write_into(run_dir, write)
    else:
        atomic_write(run_dir, lambda tmp: write(Path(tmp)), folder=True)


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


def signer_scores(rows: list[dict], samples: list[Sample], tokenize: str) -> dict:
    """`{"by_signer": ...}` (`slt.metrics.score_groups`) when the annotations name the clips' signers, else
    nothing: a model must hold for every signer, and the corpus score alone does not say whether it does."""
    if not any(s.signer for s in samples):
        return {}
    return {"by_signer": score_groups(rows, {s.name: s.signer or "(unnamed)" for s in samples}, tokenize)}


def score_best(best: nn.Module, samples: list[Sample], config: RunConfig, run_dir: Path, accelerator) -> dict:
    """Score the best checkpoint on test (when the split exists), print every split's scores, return them."""
    test_samples = split(samples, config.data.test_split)
    if test_samples:
        max_frames = best.max_frames(config.eval.max_new_tokens)
        loader = make_loader(dataset(config, test_samples, train=False), config.eval.batch_size, shuffle=False, max_frames=max_frames)
        scores, rows = evaluate(best.to(accelerator.device), loader, accelerator, config.eval)
        if accelerator.is_main_process:
            write_results(run_dir, config.data.test_split, scores, rows, signer_scores(rows, test_samples, config.eval.tokenize))
    accelerator.wait_for_everyone()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    if accelerator.is_main_process:
        table = {name: Scores.from_dict(values) for name, values in metrics.items()}
        logger.info(scores_table(f"Best checkpoint (epoch {metrics['dev']['epoch']})", table))
    return metrics


def evaluate_run(
    run_dir: str | Path,
    split_name: str | None = None,
    annotations: list[str] | None = None,
    data: str | None = None,
    num_beams: int | None = None,
    loaded: tuple[SignTranslator, RunConfig] | None = None,
    by_signer: bool = False,
) -> tuple[str, Scores]:
    """Decode and score a split of the run's data, or the clips of other annotation files (all of them,
    or those of `split_name`); writes `metrics.json[name]` (with scores per signer when the annotations
    name signers; `by_signer` prints them too) and `{name}.hypotheses.tsv` in the run folder.
    Returns (name, scores); the name is the split, or the first annotation file's stem. `loaded`: the run's
    (model, config) when already loaded (`slt.translate.Translator`); the config is not changed.
    """
    run_dir = Path(run_dir)
    model, config = loaded or load_model(run_dir)
    config = copy.deepcopy(config)
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
    if by_signer and not any(s.signer for s in samples):
        raise ValueError(f"the {name!r} clips of {', '.join(config.data.annotations)} name no signers (a `signer` column): nothing to score by signer")
    accelerator = make_accelerator(config.optim.mixed_precision)
    max_frames = model.max_frames(config.eval.max_new_tokens)
    loader = make_loader(dataset(config, samples, train=False), config.eval.batch_size, shuffle=False, max_frames=max_frames)
    scores, rows = evaluate(model.to(accelerator.device), loader, accelerator, config.eval)
    if accelerator.is_main_process:
        by = signer_scores(rows, samples, config.eval.tokenize)
        write_results(run_dir, name, scores, rows, by)
        logger.info("sacrebleu: %s", scores.signature)
        logger.info(scores_table(f"{run_dir}: {len(rows)} {name} clips", {name: scores}))
        if by_signer:
            groups = by["by_signer"]
            table = {f"{signer} ({g['clips']})": g for signer, g in groups["groups"].items()} | {"macro average": groups["macro"]}
            table = {label: Scores.from_dict({**values, "signature": scores.signature}) for label, values in table.items()}
            logger.info(scores_table(f"{name} by signer; worst: {groups['worst']}", table, "signer (clips)"))
    return name, scores

"""The `slt` command line: one command per job."""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand

from slt.choices import AdapterInput, Arch, By, Cut, Extractor, Finetune, Freeze, Input, Optimizer, Preset, Style

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)


def print_version(value: bool) -> None:
    """`slt --version`: the installed package's version, which pyproject.toml sets."""
    if value:
        from importlib.metadata import version

        typer.echo(f"slt {version('slt')}")
        raise typer.Exit()


class ConsoleLog(logging.Handler):
    """slt's log records on stderr as the command line shows them: the message alone, and a warning or error
    named as such, in yellow. Installed by the command line only: a Python user of the library decides
    where its records go (`logging.getLogger("slt")`)."""

    def __init__(self):
        from rich.console import Console

        super().__init__(logging.INFO)
        self.console = Console(stderr=True)  # stderr as it is when a record comes: a progress bar's, a test's

    def emit(self, record: logging.LogRecord) -> None:
        warning = record.levelno >= logging.WARNING
        message = f"{record.levelname.lower()}: {record.getMessage()}" if warning else record.getMessage()
        self.console.print(message, style="yellow" if warning else None, markup=False, highlight=False, soft_wrap=True)


def show_logs() -> None:
    """Send the library's records (INFO and up) to the console, once per process."""
    logger = logging.getLogger("slt")
    logger.setLevel(logging.INFO)
    if not any(isinstance(handler, ConsoleLog) for handler in logger.handlers):
        logger.addHandler(ConsoleLog())


@app.callback()
def options(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=print_version, help="Print slt's version and exit."),
):
    """Gloss-free sign language translation from body keypoints (FLa-LLM).

    Shell completion: slt --install-completion (then open a new shell).
    """
    show_logs()


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one clear line on stderr and return the exit to raise: `raise fail("...")`."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@app.command()
def synth(
    out: Path = typer.Argument(..., help="Folder to write keypoints/ and annotations.csv into."),
    train: int = typer.Option(2000, help="Training sentences."),
    dev: int = typer.Option(200, help="Development sentences."),
    test: int = typer.Option(200, help="Test sentences (new combinations of signs seen in training)."),
    signers: int = typer.Option(8, help="Distinct synthetic signers."),
    seed: int = typer.Option(0, help="Same seed, byte-identical output."),
    from_table: list[Path] = typer.Option(
        None, metavar="FILE", help="Synthesize this gloss/text table (repeatable) instead of the toy language."
    ),
    style: Style = typer.Option(
        None, help="clean: citation-form signs (the toy corpus's default); realistic: coarticulation, signer habits, "
        "per-clip framing, left-handed signers, noise (the default with --from-table)."
    ),
    text: int = typer.Option(
        0, help="Also write OUT/text.txt: this many more toy-language sentences (none a dev or test one), text "
        "for `slt make-llm --corpus` to learn more language than the signed sentences hold."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if an earlier `slt synth` wrote it."),
):
    """Write the built-in example corpus: synthetic signers signing a toy sign language.

    Example: slt synth data/synth   (then train on data/synth/keypoints with data/synth/annotations.csv)
    """
    import time

    from slt.files import atomic_write, check_output_folder
    from slt import synth as synthesis

    start = time.perf_counter()
    try:
        if min(train, dev, test, text) < 0 or signers < 1:
            raise ValueError("--train, --dev, --test and --text must be >= 0 and --signers >= 1")
        if text and from_table:
            raise ValueError("--text writes sentences of the toy language; give a table's own monolingual text to `slt make-llm --corpus` instead")
        check_output_folder(out, "a corpus written by `slt synth`", is_synth_corpus, overwrite)
        if from_table:
            clips = [clip for path in from_table for clip in synthesis.table_clips(path, signers)]
        else:
            clips = synthesis.toy_clips(train, dev, test, signers, seed)
        style = style or ("realistic" if from_table else "clean")
        texts = synthesis.toy_text(text, clips, seed)

        def write(tmp: Path) -> synthesis.Summary:
            if texts:
                (Path(tmp) / "text.txt").write_text("".join(f"{t}\n" for t in texts), encoding="utf-8")
            return synthesis.write_corpus(tmp, clips, seed=seed, progress=True, style=style)

        summary = atomic_write(out, write, folder=True)  # a temp folder, renamed to OUT once complete
    except (OSError, ValueError) as e:
        raise fail(str(e))
    counts = ", ".join(f"{n} {split}" for split, n in summary.clips.items())
    typer.echo(
        f"wrote {counts} clips ({summary.frames / synthesis.FPS / 60:.1f} min at {synthesis.FPS:g} fps), "
        f"{summary.signs} signs, {summary.signers} signers ({summary.left_handed} left-handed)"
        + (f" and {len(texts)} more sentences to text.txt" if texts else "")
        + f" to {out} in {time.perf_counter() - start:.0f} s"
    )


def is_synth_corpus(folder: Path) -> bool:
    """`slt synth`'s output: annotations.csv and keypoints/, nothing else (the training cache hides inside keypoints/)."""
    return {p.name for p in folder.iterdir()} == {"annotations.csv", "keypoints"}


@app.command()
def render(
    file: Path = typer.Argument(..., help="A keypoint .parquet file."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write: .mp4 or .gif."),
    video: Path = typer.Option(None, help="Draw over this video (the one the keypoints came from)."),
    width: int = typer.Option(None, help="Output width in pixels (default: the source's; GIFs at most 480)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the output file if it exists."),
):
    """Draw a keypoint file as a skeleton video, on a blank canvas or over its source video.

    Example: slt render data/synth/keypoints/dev/dev-00000.parquet -o clip.mp4
    """
    from slt.keypoints.io import read_parquet
    from slt.keypoints.render import FORMATS, render as render_video

    if output.suffix.lower() not in FORMATS:
        raise fail(f"cannot write {output}: the output must end in {' or '.join(FORMATS)}")
    if not file.is_file():
        raise fail(f"no keypoint file {file}")
    if video is not None and not video.is_file():
        raise fail(f"no video file {video}")
    if video is not None and output.exists() and output.samefile(video):
        raise fail(f"{output} is the video drawn over; write the drawing to another file")
    if output.exists() and not overwrite:  # a file of any origin: the user says whether it may go
        raise fail(f"{output} exists; pass --overwrite to replace it, or choose another output file")
    try:
        kp = read_parquet(file)
    except Exception as e:  # pyarrow raises several types for files that are not keypoint Parquet
        raise fail(f"cannot read {file} as a keypoint Parquet file ({e})")
    try:
        frames = render_video(kp, output, video=video, width=width)
    except (OSError, ValueError) as e:
        raise fail(str(e))
    typer.echo(f"wrote {output} ({frames} frames, {frames / (kp.fps or 25):.1f} s)")


# `slt train`'s flags that set a config key (parameter -> dotted key); any other key is `--set KEY=VALUE`.
TRAIN_FLAGS = {
    "seed": "seed",
    "data": "data.data",
    "annotations": "data.annotations",
    "skip_missing": "data.skip_missing",
    "holdout_signers": "data.holdout_signers",
    "tokenizer": "data.tokenizer",
    "preset": "model.preset",
    "input": "model.input",
    "downsample": "model.encoder.downsample",
    "pretrain_steps": "model.pretrain_steps",
    "epochs": "optim.epochs",
    "batch_size": "optim.batch_size",
    "lr": "optim.lr",
    "optimizer": "optim.optimizer",
    "report_to": "optim.report_to",
    "init": "stage2.init",
    "llm": "stage2.llm",
    "freeze": "stage2.freeze",
    "adapter_input": "stage2.adapter_input",
    "finetune": "stage2.finetune",
    "lora_rank": "stage2.lora_rank",
    "lora_alpha": "stage2.lora_alpha",
    "lora_dropout": "stage2.lora_dropout",
    "lora_targets": "stage2.lora_targets",
    "lr_adapter": "stage2.lr_adapter",
    "lr_llm": "stage2.lr_llm",
    "prompt": "stage2.prompt",
    "joint": "stage2.joint",
    "merge": "stage2.merge",
}


def train_defaults() -> dict[str, Any]:
    """The default of each `slt train` flag that sets a config key: slt/config.py's."""
    from slt.config import RunConfig

    values = RunConfig().to_dict()
    out = {}
    for name, key in TRAIN_FLAGS.items():
        node = values
        for part in key.split("."):
            node = node[part]
        out[name] = node
    return out


def make_llm_defaults() -> dict[str, Any]:
    from slt.model.make_llm import MakeLLMConfig

    return asdict(MakeLLMConfig())


def config_defaults(defaults: Callable[[], dict[str, Any]]) -> type[TyperCommand]:
    """A command whose `--help` shows, for each option left unset (None) that a config dataclass fills in,
    the dataclass's default (`defaults()`: option name -> value). Read only when help is asked for: the
    configs import torch, which the start of every command should not wait for."""

    class Command(TyperCommand):
        def format_help(self, ctx, formatter) -> None:
            values = defaults()
            for param in self.params:
                value = values.get(param.name)
                if param.default is None and value not in (None, "", [], ()) and param.help and "config default" not in param.help:
                    param.help += f" \\[config default: {value}]"  # escaped: the help is Rich markup
            super().format_help(ctx, formatter)

    return Command


def config_settings(items: list[str]) -> dict[str, Any]:
    """`--set SECTION.KEY=VALUE` items as dotted keys and values (YAML: numbers, true/false, null, [lists])."""
    import yaml

    flags = {key: name for name, key in TRAIN_FLAGS.items()}
    settings = {}
    for item in items:
        key, equals, text = item.partition("=")
        key = key.strip()
        if not equals or not key:
            raise ValueError(f"--set takes SECTION.KEY=VALUE, got {item!r}")
        if key in flags or key == "stage":
            raise ValueError(f"--set {key}: use its own flag, --{(flags.get(key) or key).replace('_', '-')}")
        try:
            settings[key] = yaml.safe_load(text)
        except yaml.YAMLError:
            raise ValueError(f"--set {key}: {text!r} is not a YAML value") from None
    return settings


@app.command(cls=config_defaults(train_defaults))
def train(
    stage: int = typer.Option(1, help="1: keypoint encoder + Light-T (visual initialing); 2: encoder -> adapter -> LLM."),
    data: Path = typer.Option(None, help="Keypoint folder (`slt preprocess` output, or OUT/keypoints of `slt synth`)."),
    annotations: list[Path] = typer.Option(None, help="Annotation table; repeat the flag for several files."),
    out: Path = typer.Option(..., help="Run folder: checkpoint, config, metrics, logs."),
    config: Path = typer.Option(None, help="YAML config (see slt/config.py); --set and flags override it."),
    settings: list[str] = typer.Option(
        None, "--set", metavar="SECTION.KEY=VALUE", help="Any config key without a flag of its own (repeatable; "
        "YAML values), e.g. --set optim.accumulation=2 --set eval.patience=0 --set data.augment=null."
    ),
    preset: Preset = typer.Option(None, help="Light-T size (paper Table 7)."),
    epochs: int = typer.Option(None, help="Training epochs."),
    batch_size: int = typer.Option(None, help="Global batch size (the same on any number of devices)."),
    lr: float = typer.Option(None, help="Peak learning rate."),
    seed: int = typer.Option(None, help="Random seed (data order, augmentation, initialization)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out after an interruption."),
    report_to: list[str] = typer.Option(
        None, metavar="TRACKER", help="Experiment tracker for losses, learning rate, dev scores and sentences, and the config "
        "(repeatable): tensorboard (into OUT/logs: tensorboard --logdir OUT/logs), wandb, mlflow, trackio."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the run in --out (never a folder that is not a run)."),
    input: Input = typer.Option(None, help="What stage 1 reads; gloss: the gloss oracle, the ceiling for keypoints."),
    optimizer: Optimizer = typer.Option(None, help="sgd: with momentum, the paper's stage 1."),
    downsample: int = typer.Option(None, help="Temporal downsampling of the sign-wise features: 1, 2, 4 or 8."),
    pretrain_steps: int = typer.Option(
        None, help="Stage 1: denoising pre-training steps of Light-T on the training sentences first (0: the paper's random init)."
    ),
    skip_missing: bool = typer.Option(None, "--skip-missing", help="Go on without clips whose keypoint file is missing."),
    holdout_signers: str = typer.Option(
        None, metavar="S1,S2", help="Comma-separated signers whose clips all go to the test split: scores on people never seen in training."
    ),
    tokenizer: str = typer.Option(
        None, help="Stage 1: use this hub id's or model folder's tokenizer (e.g. the stage-2 LLM's, as the paper) "
        "instead of training a BPE on the sentences."
    ),
    init: Path = typer.Option(None, help="Stage 2: the stage-1 run whose encoder is loaded (default data and annotations too)."),
    llm: str = typer.Option(None, help="Stage 2: Hugging Face hub id or local model folder (`slt make-llm`)."),
    freeze: Freeze = typer.Option(None, help="Stage 2: the encoder parts kept fixed (paper Table 9)."),
    adapter_input: AdapterInput = typer.Option(None, help="Stage 2: the features the adapter reads; hidden: Light-T's encoder states."),
    finetune: Finetune = typer.Option(None, help="Stage 2: how the LLM trains; full is the paper's."),
    lora_rank: int = typer.Option(None, help="Stage 2: LoRA rank."),
    lora_alpha: int = typer.Option(None, help="Stage 2: LoRA alpha."),
    lora_dropout: float = typer.Option(None, help="Stage 2: LoRA dropout."),
    lora_targets: str = typer.Option(None, help="Stage 2: comma-separated module names for LoRA (unset: peft's per architecture)."),
    lr_adapter: float = typer.Option(None, help="Stage 2: adapter (and unfrozen encoder) learning rate."),
    lr_llm: float = typer.Option(None, help="Stage 2: LLM learning rate (unset: one for --finetune, see slt/config.py)."),
    prompt: str = typer.Option(None, help="Stage 2, decoder-only LLMs: text placed before the visual prefix."),
    joint: bool = typer.Option(None, "--joint", help="Stage 2 ablation: no stage 1; encoder and LLM trained together."),
    merge: bool = typer.Option(None, "--merge", help="Stage 2: save the LLM with LoRA merged in (standalone)."),
):
    """Train a translator. Stage 1: keypoint encoder + Light-T, scored on dev (and test) by beam search.

    Example: slt train --stage 1 --data data/synth/keypoints --annotations data/synth/annotations.csv --out runs/s1
    Stage 2: slt train --stage 2 --init runs/s1 --llm llms/synth --out runs/s2
    Several devices: accelerate launch -m slt.cli train --stage 1 ... (the same --batch-size gives the same run).
    """
    given = {name: value for name, value in locals().items() if name in TRAIN_FLAGS}
    from slt.config import resolve

    if stage not in (1, 2):
        raise fail(f"--stage must be 1 or 2, got {stage}")
    given["lora_targets"] = lora_targets.split(",") if lora_targets else None
    given["holdout_signers"] = [s.strip() for s in holdout_signers.split(",")] if holdout_signers else None
    overrides = {"stage": stage, **{TRAIN_FLAGS[name]: as_config_value(value) for name, value in given.items()}}
    try:
        from slt import stage1, stage2

        run_config = resolve(config, overrides, config_settings(settings or []))
        (stage2 if stage == 2 else stage1).train(run_config, out, resume=resume, overwrite=overwrite)
    except (OSError, ValueError) as e:  # slt.model.llm.LLMUnavailableError is an OSError
        raise fail(str(e))


def as_config_value(value: Any) -> Any:
    """A flag's value as config.json holds it: paths as strings."""
    if isinstance(value, list):
        return [as_config_value(v) for v in value] or None
    return str(value) if isinstance(value, Path) else value


@app.command()
def evaluate(
    run: Path = typer.Argument(..., help="A run folder written by `slt train`."),
    split: str = typer.Option(None, help="Split to score (default: test; with --annotations: every clip)."),
    annotations: list[Path] = typer.Option(None, help="Score the clips of these annotation tables instead."),
    data: Path = typer.Option(None, help="Keypoint folder for --annotations (default: the run's)."),
    beams: int = typer.Option(None, help="Beam size (unset: the run's eval.num_beams)."),
    json_output: bool = typer.Option(False, "--json", help="Also print the scores as JSON on stdout, for scripts."),
    by: By = typer.Option(None, help="Also score each signer: BLEU-1..4, ROUGE-L, chrF, clips, the macro average and the worst."),
):
    """Decode a split with a trained run and score it (BLEU-1..4, ROUGE-L, chrF); writes hypotheses and scores.

    Example: slt evaluate runs/s1 --split test   (writes runs/s1/test.hypotheses.tsv and runs/s1/metrics.json)
    """
    import json

    if beams is not None and beams < 1:
        raise fail(f"--beams must be at least 1, got {beams}")
    try:
        from slt.translate import Translator

        translator = Translator.from_pretrained(run)
        name, scores = translator.evaluate(split, [str(a) for a in annotations or []], str(data) if data else None, beams, by == "signer")
    except (OSError, ValueError) as e:
        raise fail(str(e))
    if json_output:
        typer.echo(json.dumps({"split": name, **json.loads((run / "metrics.json").read_text())[name]}, indent=2))


@app.command()
def preprocess(
    inputs: list[Path] = typer.Argument(..., help="Video files, folders (searched recursively) and frame folders."),
    out: Path = typer.Option(..., help="Output folder: one .parquet per clip, mirroring the inputs' relative paths."),
    segments: Path = typer.Option(None, help="CSV/TSV of clips to cut from the videos: name, video, start, end (s)."),
    fps: float = typer.Option(25.0, help="Frame rate of frame-folder clips (videos carry their own)."),
    face: bool = typer.Option(False, "--face", help="Also keep MediaPipe's 468 face points."),
    model_complexity: int = typer.Option(1, help="MediaPipe Holistic model complexity (only 1 ships offline)."),
    extractor: Extractor = typer.Option(
        "holistic", help="holistic: MediaPipe's legacy Holistic graph; tasks: its Tasks HolisticLandmarker (needs --model-asset)."
    ),
    model_asset: Path = typer.Option(None, help="The Tasks landmarker's model bundle, holistic_landmarker.task (--extractor tasks)."),
    workers: int = typer.Option(None, help="Worker processes, or Ray actors (default: the number of cores, or Ray's CPUs)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo clips whose output file already exists."),
    allow_failures: bool = typer.Option(False, "--allow-failures", help="Exit 0 even if some clips failed."),
    ray: str = typer.Option(
        None, metavar="ADDRESS", help="Extract on Ray (the slt ray extra): local (start Ray here with --workers "
        "CPUs), or a cluster: auto, host:port. Inputs and --out must be on storage all nodes share."
    ),
):
    """Extract MediaPipe Holistic keypoints from videos into one Parquet file per clip.

    Safe to rerun: finished clips are skipped. Writes OUT/manifest.csv and OUT/errors.csv.

    Example: slt preprocess videos/ --out keypoints/ --workers 4
    With MediaPipe Tasks: slt preprocess videos/ --out keypoints/ --extractor tasks --model-asset holistic_landmarker.task
    On a Ray cluster: slt preprocess /shared/videos/ --out /shared/keypoints/ --ray auto
    """
    from slt.keypoints.schema import check_extractor, check_model_complexity
    from slt.preprocess.extract_batch import plan_jobs, run_batch
    from slt.preprocess.worker import ExtractorSettings

    if not fps > 0:
        raise fail(f"--fps must be positive, got {fps:g}")
    if workers is not None and workers < 1:
        raise fail(f"--workers must be at least 1, got {workers}")
    if segments is not None and not segments.is_file():
        raise fail(f"no segments table {segments}")
    if (extractor == "tasks") != (model_asset is not None):
        raise fail("--extractor tasks and --model-asset holistic_landmarker.task go together: give both or neither")
    if face and extractor == "tasks":
        raise fail("--face works with the legacy extractor only: drop --face or --extractor tasks (docs/mediapipe-tasks.md)")
    try:
        check_extractor(tasks=extractor == "tasks")
        check_model_complexity(model_complexity)
        if model_asset is not None:  # loaded once here, so that a bad bundle is said before any worker starts
            from slt.keypoints.tasks import check_model_asset

            check_model_asset(model_asset)
        jobs, failures = plan_jobs(inputs, segments, fps)
    except ValueError as e:
        raise fail(str(e))
    if not jobs and not failures:
        raise fail(f"no video or frame folder found in {', '.join(map(str, inputs))}")
    try:
        summary = run_batch(
            jobs,
            out,
            failures=failures,
            extractor=ExtractorSettings(face, model_complexity, model_asset),
            workers=workers,
            overwrite=overwrite,
            ray=ray,
        )
    except (OSError, ValueError) as e:  # an --out that cannot be used, a Ray cluster that cannot be used
        raise fail(str(e))
    if summary.failures and not allow_failures:
        raise typer.Exit(1)


@app.command()
def inspect(
    files: list[Path] = typer.Argument(..., help="Keypoint files: .parquet (any supported layout) or .pose."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON (one object per clip) for scripts."),
):
    """Show frames, frame rate, duration and per-part detection rates of keypoint files.

    Example: slt inspect keypoints/train/clip001.parquet --json
    """
    import json

    import pyarrow.parquet as pq

    from slt.keypoints.formats import is_wide, read_fingerspelling, read_keypoints

    rows = []
    for file in files:
        if not file.is_file():
            raise fail(f"no keypoint file {file}")
        try:
            if file.suffix == ".parquet" and is_wide(pq.read_schema(file).names):  # many clips per file
                clips = {f"{file}#{sid}": kp for sid, kp in read_fingerspelling(file).items()}
            else:
                clips = {str(file): read_keypoints(file)}
        except Exception as e:  # pyarrow and pose-format raise several types for foreign files
            raise fail(f"cannot read {file} as keypoints ({e})")
        for name, kp in clips.items():
            rates = kp.detection_rates()
            rows.append({"file": name, "frames": kp.num_frames, "fps": kp.fps, "duration": kp.duration, "detected": rates})
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        rates = ", ".join(f"{part} {rate:.0%}" for part, rate in row["detected"].items())
        fps = f"{row['fps']:g} fps, {row['duration']:.2f} s" if row["fps"] else "fps unknown"
        typer.echo(f"{row['file']}: {row['frames']} frames, {fps}; detected: {rates}")


@app.command()
def convert(
    source: Path = typer.Argument(..., help="A keypoint file (.parquet or .pose), or a folder of them (searched recursively)."),
    target: Path = typer.Argument(..., help="The file to write (.pose for a .parquet, .parquet for a .pose), or for a folder the folder to mirror it into."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace output files that exist."),
):
    """Convert keypoint files between Parquet and pose-format .pose, each into the other format, keeping
    every point, which were detected, the frame rate and the image size.

    Example: slt convert keypoints/ keypoints-pose/   (then train with --data keypoints-pose)
    """
    import time

    from rich.console import Console
    from rich.progress import track

    from slt.keypoints.formats import conversions, convert as convert_file

    start = time.perf_counter()
    try:
        pairs = conversions(source, target, overwrite)
    except (OSError, ValueError) as e:
        raise fail(str(e))
    console = Console(stderr=True)
    failed = 0
    for input_file, output in track(pairs, description="converting", console=console, disable=len(pairs) == 1 or not console.is_terminal):
        try:
            convert_file(input_file, output)
        except ImportError as e:  # pose-format is an extra
            raise fail(str(e))
        except Exception as e:  # pyarrow and pose-format raise several types for foreign files
            if len(pairs) == 1:
                raise fail(f"cannot convert {input_file} ({e})")
            typer.echo(f"error: {input_file}: cannot convert ({e})", err=True)
            failed += 1
    typer.echo(f"converted {len(pairs) - failed} of {len(pairs)} keypoint file(s) into {target} in {time.perf_counter() - start:.1f} s")
    if failed:
        raise typer.Exit(1)


@app.command("make-llm", cls=config_defaults(make_llm_defaults))
def make_llm(
    out: Path = typer.Argument(..., help="Folder to write the model and tokenizer into (a new one, or an earlier make-llm's)."),
    corpus: list[Path] = typer.Option(..., metavar="FILE", help="Text file (one sentence a line) or annotation table (train split); repeatable."),
    arch: Arch = typer.Option("causal", help="causal: Llama-style, decoder-only; seq2seq: mBART-style, denoising."),
    steps: int = typer.Option(None, help="Pre-training steps."),
    dim: int = typer.Option(None, help="Hidden size."),
    layers: int = typer.Option(None, help="Transformer layers (per side for seq2seq)."),
    seed: int = typer.Option(0, help="Random seed."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if an earlier `slt make-llm` wrote it."),
):
    """Build a small LLM from scratch for stage 2 when no pretrained one can be downloaded.

    Trains a tokenizer on the sentences, then pre-trains the model on them (next-token prediction, or
    denoising for seq2seq). The folder loads with `--llm OUT` or `AutoModel*.from_pretrained(OUT)`.

    Example: slt make-llm llms/synth --corpus data/synth/annotations.csv --arch seq2seq
    """
    from slt.model import make_llm as builder

    given = {"steps": steps, "dim": dim, "layers": layers}
    try:
        config = builder.MakeLLMConfig(arch=arch, seed=seed, **{k: v for k, v in given.items() if v is not None})
        sentences = builder.read_corpus(corpus)
        builder.check_out(out, overwrite)
    except (OSError, ValueError) as e:
        raise fail(str(e))
    summary = builder.make_llm(out, sentences, config)
    typer.echo(
        f"wrote a {config.arch} LLM ({summary['parameters'] / 1e6:.1f}M parameters, vocabulary {summary['vocab_size']}) "
        f"to {out}: held-out perplexity {summary['perplexity_before']:.1f} -> {summary['perplexity_after']:.1f} "
        f"({summary['train_sentences']} train / {summary['held_out_sentences']} held-out sentences, {config.steps} steps)"
    )


@app.command("translate")
def translate_command(
    inputs: list[Path] = typer.Argument(..., help="Videos, frame folders or keypoint files (.parquet, .pose)."),
    model: Path = typer.Option(..., help="A run folder of either stage (`slt train`)."),
    beams: int = typer.Option(None, help="Beam size (unset: the run's eval.num_beams)."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON with per-stage timings (extraction, encoder, generation)."),
):
    """Translate sign language clips into sentences: one line per input (prefixed by the input when several).

    Inputs that cannot be used get one error line each on stderr and a non-zero exit; the rest are translated.

    Example: slt translate clip.mp4 frames/ keypoints/clip.parquet --model runs/s2 --json
    """
    import json

    from slt.translate import as_json, translate

    if beams is not None and beams < 1:
        raise fail(f"--beams must be at least 1, got {beams}")
    try:
        results, timings = translate(inputs, model, beams)
    except (OSError, ValueError) as e:  # slt.model.llm.LLMUnavailableError is an OSError
        raise fail(f"cannot use the model {model}: {e}")
    if json_output:
        typer.echo(json.dumps(as_json(results, timings), indent=2, ensure_ascii=False))
    for result in results:
        if result.warning:
            typer.echo(f"warning: {result.input}: {result.warning}", err=True)
        if result.error:
            typer.echo(f"error: {result.input}: {result.error}", err=True)
        elif not json_output:
            typer.echo(f"{result.input}: {result.text}" if len(results) > 1 else result.text)
    if any(result.error for result in results):
        raise typer.Exit(1)


@app.command()
def push(
    run: Path = typer.Argument(..., help="A run folder written by `slt train`."),
    repo: str = typer.Option(..., metavar="USER/NAME", help="The Hugging Face Hub model repo (created if new)."),
    private: bool = typer.Option(False, "--private", help="Create the repo private."),
    dataset: list[str] = typer.Option(None, help="Hub id of a dataset the run was trained on, for the card (repeatable)."),
):
    """Upload a run to the Hugging Face Hub with a model card (written into the run as README.md).

    Uses your Hugging Face login (`hf auth login` or HF_TOKEN). Load it back with
    `Translator.from_pretrained("USER/NAME")` or `slt translate clip.mp4 --model USER/NAME`.

    Example: slt push runs/s2 --repo me/slt-phoenix --private
    """
    from slt.hub import push as upload

    try:
        url = upload(run, repo, private, dataset or None)
    except (OSError, ValueError) as e:  # huggingface_hub's HTTP errors are OSErrors
        raise fail(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
    typer.echo(f"uploaded {run} to {url}")


@app.command()
def serve(
    model: Path = typer.Option(..., help="A run folder of either stage, or a hub id that `slt push` uploaded."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on: 127.0.0.1 is this machine only; 0.0.0.0 opens it to the network."),
    port: int = typer.Option(8000, help="Port to listen on."),
    max_upload_mb: float = typer.Option(100.0, help="Refuse uploads larger than this (HTTP 413)."),
    max_seconds: float = typer.Option(60.0, help="Refuse clips longer than this, in seconds (HTTP 422)."),
):
    """Serve a web page and an HTTP API that translate uploaded clips, with the model loaded once.

    The page is at /, the API at POST /translate (see /docs) and GET /health. Ctrl-C stops it.

    Example: slt serve --model runs/s2 --port 8000
    """
    import uvicorn

    from slt.serve import make_app
    from slt.translate import Translator

    if not 0 <= port <= 65535:
        raise fail(f"--port must be 0-65535, got {port}")
    if max_upload_mb <= 0 or max_seconds <= 0:
        raise fail("--max-upload-mb and --max-seconds must be positive")
    try:
        translator = Translator.from_pretrained(model)
    except (OSError, ValueError) as e:  # slt.model.llm.LLMUnavailableError is an OSError
        raise fail(f"cannot use the model {model}: {e}")
    typer.echo(f"translating with {model} at http://{host}:{port}/ (API docs at /docs); Ctrl-C stops", err=True)
    uvicorn.run(make_app(translator, max_upload_mb, max_seconds), host=host, port=port, log_level="warning")


@app.command()
def live(
    source: str = typer.Argument("0", help="A camera index, a stream URL OpenCV can open, or a video file."),
    model: Path = typer.Option(..., help="A run folder of either stage, or a hub id that `slt push` uploaded."),
    realtime: bool = typer.Option(False, "--realtime", help="Play a video file at its real pace, as a camera would give it."),
    cut: Cut = typer.Option("pause", help="pause: a sentence ends where both hands rest; window: fixed windows."),
    pause: float = typer.Option(0.32, help="Seconds both hands rest that end a sentence (--cut pause)."),
    window: float = typer.Option(4.0, help="Seconds of each window (--cut window)."),
    overlap: float = typer.Option(0.0, help="Seconds each window shares with the one before (--cut window)."),
    beams: int = typer.Option(None, help="Beam size (unset: the run's eval.num_beams)."),
    json_output: bool = typer.Option(False, "--json", help="One JSON line per sentence: start, end, text, seconds, delay."),
):
    """Translate a camera, a stream or a video as it plays: each sentence printed with its start and end time
    (seconds of the stream) as soon as it is decoded, and a summary at the end on stderr.

    Frames that come while the one before is still being processed are dropped (counted in the summary).
    Ctrl-C stops.

    Example: slt live --model runs/s2 0          (the first camera)
             slt live --model runs/s2 clip.mp4 --realtime --json
    """
    import json

    from slt.live import FrameSource, LiveConfig, LiveSession, run
    from slt.translate import Translator

    if beams is not None and beams < 1:
        raise fail(f"--beams must be at least 1, got {beams}")
    try:
        config = LiveConfig(cut=cut, pause=pause, margin=min(pause, LiveConfig.margin), window=window, overlap=overlap)
    except ValueError as e:
        raise fail(f"{e} (see `slt live --help`)")
    try:
        frames = FrameSource(source, realtime)  # first: a bad source is said before the model loads
    except ValueError as e:
        raise fail(str(e))
    try:
        session = LiveSession(Translator.from_pretrained(model), config, beams)
    except (OSError, ValueError) as e:  # slt.model.llm.LLMUnavailableError is an OSError
        frames.close()
        raise fail(f"cannot use the model {model}: {e}")

    def show(sentence) -> None:
        line = json.dumps(sentence.as_dict(), ensure_ascii=False) if json_output else f"[{sentence.start:7.2f} - {sentence.end:7.2f}] {sentence.text}"
        typer.echo(line)

    summary = run(frames, session, show)
    typer.echo(summary.line(), err=True)


def main() -> None:
    """Console entry point: a usage mistake (unknown option, bad value) gets one line, not Click's usage box,
    and so does any other failure: the traceback is for `--debug` (anywhere on the line) or SLT_DEBUG=1."""
    debug = "--debug" in sys.argv[1:] or os.environ.get("SLT_DEBUG", "0").lower() in ("1", "true", "yes")
    sys.argv = [sys.argv[0], *(arg for arg in sys.argv[1:] if arg != "--debug")]
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as error:  # Click's usage errors, as Typer ships Click
        if not sys.argv[1:]:  # `slt` alone: its help, as Click shows it
            error.show()
            code = 0
        else:
            ctx = getattr(error, "ctx", None)
            command = ctx.command_path if ctx else "slt"
            typer.echo(f"error: {error.format_message()} (see `{command} --help`)", err=True)
            code = error.exit_code
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        code = 130
    except Exception as error:
        if debug:
            raise
        message = next(iter(str(error).strip().splitlines()), "") or "no message"
        typer.echo(f"error: {type(error).__name__}: {message} (rerun with --debug for the traceback)", err=True)
        code = 1
    # The process ends here. The interpreter's collections at exit would walk every object still alive,
    # torch's and transformers' included: 1 s after a command that loaded a model, 0.2 s with them frozen.
    gc.freeze()
    sys.exit(code or 0)


if __name__ == "__main__":
    main()

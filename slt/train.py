"""The training loop shared by both stages, and decoding-based evaluation.

`fit` trains any module with `forward(batch) -> loss` and `translate(batch, ...) -> list[str]` on the
batches of `slt.data.dataset.make_loader`. It runs unchanged on a CPU, one GPU, or several
processes (`accelerate launch` / `torchrun`, DDP), because every optimizer step sees the same global
batch: the loader yields `batch_size` clips, which are cut into `accumulation * processes` pieces, each
process taking its own. Each piece's loss is weighted by its share of the clips, so the gradient is the
same however the batch was cut (up to BatchNorm statistics, which are per piece).

A run folder holds (rank 0 writes, every write atomic):
    config.json, model.safetensors, tokenizer files   the best checkpoint by dev BLEU-4 (`save_model`)
    metrics.json, dev.hypotheses.tsv                    its dev scores and sentences (test ones added later)
    log.jsonl, training.png                             one line per step and per evaluation; the curves
    logs/slt/                                           TensorBoard's events (`optim.report_to`)
    resume/epoch-NNNN/, resume/latest                   state after the last finished epoch: weights,
                                                        optimizer, scheduler, counters, every RNG
`fit(..., resume=True)` continues from `resume/latest` exactly as if never stopped: data order and
augmentation are seeded by (seed, epoch) in the loader, dropout by the restored RNG states.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import platform
import random
import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator, DistributedDataParallelKwargs
from accelerate.tracking import get_available_trackers
from accelerate.utils import ProjectConfiguration, gather_object, set_seed
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from safetensors.torch import save_model
from torch import nn
from torch.utils.data import DataLoader

from slt.config import EvalConfig, OptimConfig
from slt.files import atomic_write, write_into
from slt.metrics import Scores, score
from slt.model.translator import load_weights

logger = logging.getLogger(__name__)
console = Console(stderr=True)  # the progress bar's; messages go to `log`
# `reading_check`: below these, dev outputs say the model ignores its input.
MIN_DISTINCT = 0.1  # distinct hypotheses per distinct reference
MIN_INPUT_GAIN = 0.02  # teacher-forced loss (nats per token) saved by the real input over a blanked one
TRACKING_PROJECT = "slt"  # the trackers' project; TensorBoard's events go to RUN/logs/slt/
SAMPLE_SENTENCES = 8  # dev sentences sent to the trackers at each evaluation


@dataclass
class TrainState:
    """Counters that, with the weights, optimizer, scheduler and RNGs, let a run resume exactly."""

    epoch: int = 0  # finished epochs
    step: int = 0  # optimizer steps
    best_score: float = -1.0  # best dev BLEU-4
    best_epoch: int = 0
    stale: int = 0  # evaluations since the best one
    stopped: bool = False  # early stopping fired
    history: list[dict] = field(default_factory=list)  # one entry per epoch: loss, lr, dev scores
    seconds: float = 0.0  # wall time spent training, over every call that resumed the run


def make_accelerator(mixed_precision: bool = True, report_to: Sequence[str] = (), run_dir: Path | None = None) -> Accelerator:
    """One Accelerator for CPU, one GPU or DDP; bf16 autocast only on GPU. `report_to`: the experiment
    trackers `fit` logs to, TensorBoard into `run_dir`/logs; one that is not installed is an error here,
    before training, where Accelerate would only leave it out."""
    available = [str(t) for t in get_available_trackers()]
    for tracker in report_to:
        if tracker not in available:
            raise ValueError(f"optim.report_to: {tracker} is not installed; pip install {tracker}, or report to another tracker")
    cuda = torch.cuda.is_available()
    return Accelerator(
        cpu=not cuda,
        mixed_precision="bf16" if cuda and mixed_precision else "no",
        log_with=list(report_to) or None,
        project_config=ProjectConfiguration(project_dir=str(run_dir), logging_dir=str(Path(run_dir) / "logs")) if report_to else None,
        # Some parameters get no gradient in some runs (the sign-wise module when the adapter reads
        # frame-wise features); DDP must be told to expect that.
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )


def make_optimizer(param_groups: list[dict], optim: OptimConfig) -> torch.optim.Optimizer:
    """AdamW, or SGD with momentum (the paper's stage 1); groups may carry their own "lr"."""
    groups = [{"lr": optim.lr, **group} for group in param_groups]
    if optim.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=optim.lr, momentum=optim.momentum, weight_decay=optim.weight_decay)
    return torch.optim.AdamW(groups, lr=optim.lr, weight_decay=optim.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, total_steps: int, warmup: float) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over a `warmup` fraction of the steps, then cosine decay to 0."""
    warmup_steps = max(1, round(warmup * total_steps))

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def select(batch: dict, rows: list[int]) -> dict:
    """The given rows of a batch, trimmed in time to the longest of them."""
    out = {key: [value[i] for i in rows] if isinstance(value, list) else value[rows] for key, value in batch.items()}
    if "frame_mask" in out:
        length = int(out["frame_mask"].any(0).nonzero().max()) + 1
        out["features"], out["frame_mask"] = out["features"][:, :length], out["frame_mask"][:, :length]
    return out


def pieces(size: int, accumulation: int, rank: int, world: int) -> list[tuple[list[int], float]]:
    """This process's micro-batches of a global batch of `size` clips: (rows, weight) per micro-step.

    The batch is cut into `accumulation * world` contiguous pieces; micro-step a of process r takes
    piece a * world + r. A weight is the piece's share of the batch times `world`, since DDP averages
    gradients over processes. A piece left empty (batch smaller than the pieces) reuses one clip with
    weight 0, so that every process still runs a backward pass.
    """
    count = accumulation * world
    out = []
    for a in range(accumulation):
        p = a * world + rank
        rows = list(range(p * size // count, (p + 1) * size // count))
        out.append((rows, len(rows) / size * world) if rows else ([size - 1], 0.0))
    return out


def to_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def decode(model: nn.Module, loader: DataLoader, accelerator: Accelerator, config: EvalConfig) -> list[dict]:
    """Beam-search every clip of `loader`: rows of name, reference, hypothesis, sorted by name.

    Processes decode alternate batches and gather the sentences, so every process gets all rows.
    """
    module = accelerator.unwrap_model(model)
    was_training = module.training
    module.eval()
    rows = []
    for i, batch in enumerate(loader):
        if i % accelerator.num_processes != accelerator.process_index:
            continue
        with accelerator.autocast():
            hypotheses = module.translate(
                to_device(batch, accelerator.device),
                num_beams=config.num_beams,
                max_new_tokens=config.max_new_tokens,
                length_penalty=config.length_penalty,
            )
        rows += [{"name": n, "reference": r, "hypothesis": h} for n, r, h in zip(batch["name"], batch["text"], hypotheses)]
    module.train(was_training)
    return sorted(gather_object(rows), key=lambda row: row["name"])


def evaluate(model: nn.Module, loader: DataLoader, accelerator: Accelerator, config: EvalConfig) -> tuple[Scores, list[dict]]:
    """Decode `loader` and score the sentences: (scores, rows)."""
    rows = decode(model, loader, accelerator, config)
    return score([r["hypothesis"] for r in rows], [r["reference"] for r in rows], config.tokenize), rows


def blanked(batch: dict) -> dict:
    """`batch` with its visual input taken away (keypoints zeroed, glosses emptied), lengths kept."""
    out = {**batch, "gloss": [""] * len(batch["text"])}
    if "features" in out:
        out["features"] = torch.zeros_like(out["features"])
    return out


@torch.no_grad()
def input_reliance(model: nn.Module, loader: DataLoader, accelerator: Accelerator) -> dict:
    """Teacher-forced loss over `loader` with the real input and with it blanked (`blanked`).

    A translator that reads its input has a clearly lower loss than the same model fed nothing; one that
    has collapsed into a language model of the sentences has the same loss either way.
    """
    module = accelerator.unwrap_model(model)
    was_training = module.training
    module.eval()
    totals = torch.zeros(3, device=accelerator.device)  # clips, loss sum, blank loss sum
    for i, batch in enumerate(loader):
        if i % accelerator.num_processes != accelerator.process_index:
            continue
        batch = to_device(batch, accelerator.device)
        size = len(batch["text"])
        with accelerator.autocast():
            totals += torch.stack([torch.tensor(float(size), device=accelerator.device), module(batch) * size, module(blanked(batch)) * size])
    module.train(was_training)
    clips, loss, blank = accelerator.reduce(totals, "sum").tolist()
    return {"loss": round(loss / clips, 4), "blank_loss": round(blank / clips, 4)}


def reading_check(rows: list[dict], reliance: dict) -> str | None:
    """One line when dev outputs show that the model ignores its input, else None.

    Two signs: far fewer distinct hypotheses than distinct references (every clip gets the same few
    sentences), or a loss no lower with the real input than with it blanked.
    """
    hypotheses, references = len({r["hypothesis"] for r in rows}), len({r["reference"] for r in rows})
    gain = reliance["blank_loss"] - reliance["loss"]
    if hypotheses >= max(2, MIN_DISTINCT * references) and gain >= MIN_INPUT_GAIN:
        return None
    return (
        f"dev outputs: {hypotheses} distinct sentence{'s' * (hypotheses != 1)} for {len(rows)} clips ({references} distinct "
        f"references); loss {reliance['loss']:.3f} with the input vs {reliance['blank_loss']:.3f} blanked: the model "
        "is not reading the keypoints"
    )


def write_results(run_dir: Path, split: str, scores: Scores, rows: list[dict], extra: dict | None = None) -> None:
    """Scores into `metrics.json` (one entry per split, with how many distinct sentences the model wrote
    against how many the references hold) and sentences into `{split}.hypotheses.tsv`."""
    metrics_path = run_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    metrics[split] = {
        **scores.as_dict(),
        "clips": len(rows),
        "distinct_hypotheses": len({r["hypothesis"] for r in rows}),
        "distinct_references": len({r["reference"] for r in rows}),
        **(extra or {}),
    }
    atomic_write(metrics_path, lambda tmp: Path(tmp).write_text(json.dumps(metrics, indent=2) + "\n"))
    text = io.StringIO()
    writer = csv.DictWriter(text, ["name", "reference", "hypothesis"], delimiter="\t", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(run_dir / f"{split}.hypotheses.tsv", lambda tmp: Path(tmp).write_text(text.getvalue()))


def text_table(title: str, rows: list[list[str]]) -> str:
    """A plain-text table for the log, which may be a file: the title line, then aligned rows (the first
    column to the left, numbers to the right)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))) for row in rows]
    return "\n".join([title, *lines])


def scores_table(title: str, results: dict[str, Scores], label: str = "split") -> str:
    header = [label, "BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "chrF"]
    rows = [[split, *(f"{v:.2f}" for v in (s.bleu1, s.bleu2, s.bleu3, s.bleu4, s.rouge_l, s.chrf))] for split, s in results.items()]
    return text_table(title, [header, *rows])


# --- resume state ---------------------------------------------------------------------------------


def rng_state() -> dict:
    """This process's random generators, in types `torch.load(weights_only=True)` reads back."""
    version, mt, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": [version, list(mt), gauss],
        "numpy": [name, keys.tolist(), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    version, mt, gauss = state["python"]
    random.setstate((version, tuple(mt), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


def save_resume(run_dir: Path, model: nn.Module, optimizer, scheduler, state: TrainState, accelerator: Accelerator) -> None:
    """Write `resume/epoch-NNNN/` in full, then point `resume/latest` at it (all processes call this)."""
    rngs = gather_object([rng_state()])
    if accelerator.is_main_process:
        resume = run_dir / "resume"
        resume.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{state.epoch:04d}"

        def write(tmp: str) -> None:
            save_model(accelerator.unwrap_model(model), str(Path(tmp) / "model.safetensors"))
            torch.save(
                {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "state": asdict(state), "rng": rngs},
                Path(tmp) / "state.pt",
            )

        atomic_write(resume / name, write, folder=True)
        atomic_write(resume / "latest", lambda t: Path(t).write_text(name))
        for old in resume.iterdir():  # older states, and leftovers of an interrupted save
            if old.name not in (name, "latest"):
                shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def load_resume(run_dir: Path, model: nn.Module, optimizer, scheduler, accelerator: Accelerator) -> TrainState:
    latest = run_dir / "resume" / "latest"
    if not latest.is_file():
        raise FileNotFoundError(f"{run_dir} has no resume state (resume/latest): nothing to resume")
    folder = run_dir / "resume" / latest.read_text().strip()
    # Read on the CPU and copied into the parameters wherever they are (safetensors rejects some device
    # names, e.g. "cpu:0" of CPU processes under `accelerate launch`).
    load_weights(accelerator.unwrap_model(model), folder / "model.safetensors")
    try:
        saved = torch.load(folder / "state.pt", weights_only=True, map_location="cpu")
    except Exception as error:  # torch raises several types for a truncated or foreign file
        raise ValueError(f"{folder / 'state.pt'} is damaged ({error}); start the run again with --overwrite") from None
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    rngs = saved["rng"]
    if len(rngs) != accelerator.num_processes:
        raise ValueError(f"the run was saved by {len(rngs)} process(es); resume it with as many, not {accelerator.num_processes}")
    set_rng_state(rngs[accelerator.process_index])
    return TrainState(**saved["state"])


# --- logging ----------------------------------------------------------------------------------------


class RunLog:
    """`log.jsonl` (appended by rank 0) and `training.png`."""

    def __init__(self, run_dir: Path, enabled: bool, resume_step: int | None):
        self.path = run_dir / "log.jsonl"
        self.enabled = enabled
        if enabled and resume_step is not None and self.path.exists():
            # Lines written after the resume point were never part of the resumed run.
            kept = [line for line in self.path.read_text().splitlines() if json.loads(line)["step"] <= resume_step]
            atomic_write(self.path, lambda tmp: Path(tmp).write_text("".join(f"{line}\n" for line in kept)))
        elif enabled:
            self.path.unlink(missing_ok=True)

    def write(self, **entry) -> None:
        if self.enabled:
            with self.path.open("a") as f:
                f.write(json.dumps(entry) + "\n")

    def plot(self, history: list[dict]) -> None:
        if not self.enabled or not history:
            return
        # A bare Figure, not pyplot: no GUI backend chosen for the caller's process, nothing to close.
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7, 4))
        loss_axis = fig.subplots()
        loss_axis.plot([h["epoch"] for h in history], [h["loss"] for h in history], color="tab:blue", label="train loss")
        loss_axis.set_xlabel("epoch")
        loss_axis.set_ylabel("train loss", color="tab:blue")
        evaluated = [h for h in history if "dev" in h]
        bleu_axis = loss_axis.twinx()
        bleu_axis.plot([h["epoch"] for h in evaluated], [h["dev"]["bleu4"] for h in evaluated], "o-", color="tab:red")
        bleu_axis.set_ylabel("dev BLEU-4", color="tab:red")
        fig.tight_layout()
        atomic_write(self.path.with_name("training.png"), lambda tmp: fig.savefig(tmp, format="png", dpi=100))


def hyperparameters(config: dict, prefix: str = "") -> dict:
    """A nested config as the flat values trackers take: dotted keys, lists and None as text."""
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(hyperparameters(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value if isinstance(value, (bool, int, float, str)) else str(value)
    return out


def sample_table(rows: list[dict]) -> str:
    """The first dev sentences as a Markdown table, which TensorBoard's text tab renders."""
    lines = ["| clip | reference | hypothesis |", "|---|---|---|"]
    for row in rows[:SAMPLE_SENTENCES]:
        cells = (row[key].replace("|", "\\|").replace("\n", " ") for key in ("name", "reference", "hypothesis"))
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def write_training(run_dir: Path, state: TrainState, accelerator: Accelerator, train_clips: int, dev_clips: int) -> None:
    """`training.json`: how long the run trained, on what and on how much, for its model card. Kept out of
    `metrics.json`, which an exactly resumed run reproduces to the byte."""
    device = accelerator.device
    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({platform.machine()}, {os.cpu_count()} cores)"
    record = {
        "seconds": round(state.seconds, 1),
        "epochs": state.epoch,
        "steps": state.step,
        "train_clips": train_clips,
        "dev_clips": dev_clips,
        "processes": accelerator.num_processes,
        "hardware": hardware,
        "torch": torch.__version__,
    }
    atomic_write(run_dir / "training.json", lambda tmp: Path(tmp).write_text(json.dumps(record, indent=2) + "\n"))


# --- the loop ---------------------------------------------------------------------------------------


def fit(
    model: nn.Module,
    param_groups: list[dict],
    train_loader: DataLoader,
    dev_loader: DataLoader,
    optim: OptimConfig,
    evaluation: EvalConfig,
    seed: int,
    run_dir: str | Path,
    save: Callable[[nn.Module, Path], None],
    accelerator: Accelerator,
    resume: bool = False,
    config: dict | None = None,
) -> TrainState:
    """Train `model`, evaluating on dev by decoding and keeping the best checkpoint by BLEU-4.

    `param_groups`: torch optimizer groups (a group may set its own "lr"; frozen weights are simply left
    out). `train_loader` yields global batches of `optim.batch_size` clips and has a batch sampler with
    an `epoch` attribute (`make_loader`'s). `save(model, folder)` writes the model's files (weights,
    config, tokenizer) into an empty folder; they are moved into `run_dir` when dev BLEU-4 improves.
    The trackers of `accelerator` (`make_accelerator`) get `config` as hyperparameters, the loss and
    learning rate of each step, and the dev scores and sentences of each evaluation.
    """
    run_dir = Path(run_dir)
    main = accelerator.is_main_process
    set_seed(seed, device_specific=True)
    steps_per_epoch = len(train_loader)
    optimizer = make_optimizer(param_groups, optim)
    scheduler = make_scheduler(optimizer, optim.epochs * steps_per_epoch, optim.warmup)
    model, optimizer = accelerator.prepare(model, optimizer)
    state = load_resume(run_dir, model, optimizer, scheduler, accelerator) if resume else TrainState()
    log = RunLog(run_dir, main, state.step if resume else None)
    # A resumed run appends to the same TensorBoard folder; purge_step hides what the interrupted run
    # logged after its resume point. The config went in when the run started.
    accelerator.init_trackers(
        TRACKING_PROJECT, None if resume else hyperparameters(config or {}), {"tensorboard": {"purge_step": state.step + 1}}
    )
    world, rank = accelerator.num_processes, accelerator.process_index
    if main and resume:
        logger.info("Resuming %s after epoch %d (step %d)", run_dir, state.epoch, state.step)

    progress = Progress(
        TextColumn("[bold]epoch {task.fields[epoch]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not main or not console.is_terminal,  # a log file gets the epoch lines, not a bar's last frame
    )
    task = progress.add_task("train", total=steps_per_epoch, epoch=state.epoch + 1, info="")
    started, clips_seen, signature_shown = time.perf_counter(), 0, False
    seconds_before = state.seconds
    with progress:
        while state.epoch < optim.epochs and not state.stopped:
            train_loader.batch_sampler.epoch = state.epoch  # data order and augmentation follow (seed, epoch)
            model.train()
            progress.reset(task, total=steps_per_epoch, epoch=f"{state.epoch + 1}/{optim.epochs}", info="")
            epoch_loss, epoch_clips = 0.0, 0
            for batch in train_loader:
                tick, size = time.perf_counter(), len(batch["text"])
                loss = torch.zeros((), device=accelerator.device)
                micro = pieces(size, optim.accumulation, rank, world)
                for i, (rows, weight) in enumerate(micro):
                    # Gradients are averaged over processes only on the last micro-step.
                    with accelerator.no_sync(model) if i < len(micro) - 1 else nullcontext():
                        piece_loss = model(to_device(select(batch, rows), accelerator.device))
                        accelerator.backward(piece_loss * weight)
                    loss += piece_loss.detach() * weight / world
                if optim.grad_clip > 0:
                    accelerator.clip_grad_norm_(model.parameters(), optim.grad_clip)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                loss = accelerator.reduce(loss, "sum").item()
                state.step += 1
                lr = scheduler.get_last_lr()[0]
                clips_per_s = size / (time.perf_counter() - tick)
                epoch_loss, epoch_clips = epoch_loss + loss * size, epoch_clips + size
                clips_seen += size
                log.write(step=state.step, epoch=state.epoch + 1, loss=round(loss, 5), lr=lr, clips_per_s=round(clips_per_s, 1))
                accelerator.log({"train/loss": loss, "train/lr": lr}, step=state.step)
                progress.update(task, advance=1, info=f"step {state.step}  loss {loss:.3f}  lr {lr:.2e}  {clips_per_s:.1f} clips/s")

            state.epoch += 1
            entry = {"epoch": state.epoch, "step": state.step, "loss": epoch_loss / max(1, epoch_clips), "lr": lr}
            if state.epoch % evaluation.every == 0 or state.epoch == optim.epochs:
                scores, rows = evaluate(model, dev_loader, accelerator, evaluation)
                reliance = input_reliance(model, dev_loader, accelerator)
                entry["dev"] = {**scores.as_dict(), **reliance, "distinct_hypotheses": len({r["hypothesis"] for r in rows})}
                improved = scores.bleu4 > state.best_score
                if improved:
                    state.best_score, state.best_epoch, state.stale = scores.bleu4, state.epoch, 0
                else:
                    state.stale += 1
                state.stopped = 0 < evaluation.patience <= state.stale
                if main:
                    if not signature_shown:
                        signature_shown = True
                        logger.info("sacrebleu: %s", scores.signature)
                    logger.info(
                        f"epoch {state.epoch}: loss {entry['loss']:.3f}  dev BLEU-4 {scores.bleu4:.2f}  ROUGE-L "
                        f"{scores.rouge_l:.2f}  chrF {scores.chrf:.2f}  {entry['dev']['distinct_hypotheses']} distinct "
                        f"sentences  dev loss {reliance['loss']:.3f} ({reliance['blank_loss']:.3f} blanked)"
                        + ("  (best)" if improved else "")
                    )
                    warning = reading_check(rows, reliance)
                    if warning:
                        logger.warning(warning)
                    if improved:
                        write_into(run_dir, lambda folder: save(accelerator.unwrap_model(model), folder))
                        write_results(run_dir, "dev", scores, rows, {"epoch": state.epoch, **reliance})
                    if state.stopped:
                        logger.info("Early stopping: no better dev BLEU-4 in %d evaluations", evaluation.patience)
                log.write(step=state.step, epoch=state.epoch, dev=entry["dev"])
                dev = {f"dev/{key}": value for key, value in entry["dev"].items() if key != "signature"}
                accelerator.log({**dev, "train/epoch_loss": entry["loss"], "dev/sentences": sample_table(rows)}, step=state.step)
            state.history.append(entry)
            if "dev" in entry:
                log.plot(state.history)
            state.seconds = seconds_before + time.perf_counter() - started
            save_resume(run_dir, model, optimizer, scheduler, state, accelerator)

    if main:
        elapsed = time.perf_counter() - started
        rows = [
            ["epochs", f"{state.epoch}" + (" (early stop)" if state.stopped else "")],
            ["optimizer steps", str(state.step)],
            ["processes", str(world)],
            ["last train loss", f"{state.history[-1]['loss']:.3f}" if state.history else "-"],
            ["best dev BLEU-4", f"{state.best_score:.2f} (epoch {state.best_epoch})"],
            ["time this call", f"{elapsed:.0f} s, {clips_seen / max(elapsed, 1e-9):.1f} clips/s"],
        ]
        logger.info(text_table(f"Training {run_dir}", rows))
        write_training(run_dir, state, accelerator, len(train_loader.dataset), len(dev_loader.dataset))
    for tracker in accelerator.trackers:  # not `end_training`, which would end DDP before the test split is scored
        tracker.finish()
    accelerator.wait_for_everyone()
    return state

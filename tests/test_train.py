"""Stage-1 training end to end on a tiny synthetic corpus: overfitting, exact resume, two processes,
`slt evaluate`, and one-line errors. Subprocesses run single-threaded (OMP_NUM_THREADS=1): on a busy
2-core machine, thread synchronization would cost more than these tiny models compute."""

from __future__ import annotations

import csv
import json
import signal
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file


from helpers import slt, slt_process
from slt.config import resolve

def train_args(tiny_corpus: Path, out: Path, *extra: str) -> list[str]:
    data, annotations = tiny_corpus / "keypoints", tiny_corpus / "annotations.csv"
    return ["train", "--stage", "1", "--data", data, "--annotations", annotations, "--out", out, "--config", tiny_corpus / "tiny.yaml", *extra]


def losses(run: Path) -> list[float]:
    return [e["loss"] for e in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if "loss" in e]


def test_overfits_a_few_clips(tiny_corpus, tmp_path):
    from slt import stage1
    from slt.run import evaluate_run

    rows = list(csv.DictReader((tiny_corpus / "annotations.csv").open()))
    table = tmp_path / "four.csv"
    with table.open("w", newline="") as f:
        writer = csv.DictWriter(f, rows[0].keys())
        writer.writeheader()
        writer.writerows([r for r in rows if r["split"] == "train"][:4] + [r for r in rows if r["split"] == "dev"][:1])
    overrides = {"data.data": str(tiny_corpus / "keypoints"), "data.annotations": [str(table)], "optim.epochs": 40,
                 "optim.batch_size": 4, "eval.every": 100}  # fmt: skip
    stage1.train(resolve(tiny_corpus / "tiny.yaml", overrides), tmp_path / "run")
    _, scores = evaluate_run(tmp_path / "run", "train")
    hypotheses = list(csv.DictReader((tmp_path / "run" / "train.hypotheses.tsv").open(), delimiter="\t"))
    assert [h["hypothesis"] for h in hypotheses] == [h["reference"] for h in hypotheses]
    assert scores.bleu4 == 100.0


@pytest.mark.slow
def test_resume_after_kill_gives_the_same_run(tiny_corpus, tmp_path):
    # With Light-T pre-training, which a resumed run must not redo (its weights come from the checkpoint).
    args = ("--epochs", "4", "--batch-size", "4", "--pretrain-steps", "10")
    assert slt(*train_args(tiny_corpus, tmp_path / "straight", *args)).exit_code == 0

    # The killed run also reports to TensorBoard: once resumed, its events hold each step once.
    killed, report = tmp_path / "killed", ("--report-to", "tensorboard")
    process = slt_process(*train_args(tiny_corpus, killed, *args, *report), wait=False)
    latest, log = killed / "resume" / "latest", killed / "log.jsonl"
    # Killed once it has logged a step of epoch 2, after the resume point: the resumed run logs it again.
    while not (latest.exists() and latest.read_text() == "epoch-0001" and '"epoch": 2, "loss"' in log.read_text()):
        if process.poll() is not None:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "training ended before it could be killed"

    resumed = slt(*train_args(tiny_corpus, killed, *args, *report, "--resume"))
    assert resumed.exit_code == 0, resumed.stderr
    assert losses(killed) == losses(tmp_path / "straight")
    logged = event_scalars(killed / "logs" / "slt")["train/loss"]
    assert [step for step, _ in logged] == list(range(1, len(losses(killed)) + 1))
    assert [loss for _, loss in logged] == pytest.approx(losses(killed), abs=1e-4)
    assert json.loads((killed / "metrics.json").read_text()) == json.loads((tmp_path / "straight" / "metrics.json").read_text())
    # training.json counts the steps once and the time of both calls (the killed one's, up to its last saved epoch)
    trained, straight = (json.loads((run / "training.json").read_text()) for run in (killed, tmp_path / "straight"))
    assert (trained["steps"], trained["epochs"]) == (straight["steps"], straight["epochs"]) and trained["seconds"] > 0
    weights, expected = load_file(killed / "model.safetensors"), load_file(tmp_path / "straight" / "model.safetensors")
    assert all(torch.equal(weights[k], expected[k]) for k in expected)


@pytest.mark.slow
def test_two_processes_match_one_with_the_same_global_batch(tiny_corpus, tmp_path):
    args = ("--epochs", "2", "--batch-size", "8")
    two = slt_process(*train_args(tiny_corpus, tmp_path / "two", *args), launcher=(sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m"))
    assert two.returncode == 0, two.stderr
    # One process cutting each batch the same way (2 accumulation steps) computes the same gradients.
    (tmp_path / "acc.yaml").write_text((tiny_corpus / "tiny.yaml").read_text().replace("warmup: 0.1", "warmup: 0.1, accumulation: 2"))
    one = slt(*train_args(tiny_corpus, tmp_path / "one", *args, "--config", tmp_path / "acc.yaml"))
    assert one.exit_code == 0, one.stderr
    assert losses(tmp_path / "two") == pytest.approx(losses(tmp_path / "one"), rel=1e-5)
    # Uncut batches differ only through BatchNorm statistics and per-piece loss weighting (4.2% at most, measured).
    plain = slt(*train_args(tiny_corpus, tmp_path / "plain", *args))
    assert plain.exit_code == 0, plain.stderr
    assert losses(tmp_path / "two") == pytest.approx(losses(tmp_path / "plain"), rel=0.05)
    # Written once: rank 0 alone writes the log (one line per step) and the folder (the same files).
    assert len(losses(tmp_path / "two")) == 4  # 16 clips / 8 per step, 2 epochs
    files = lambda run: sorted(p.relative_to(run).as_posix() for p in run.rglob("*"))  # noqa: E731
    assert files(tmp_path / "two") == files(tmp_path / "one")


def test_run_folder_and_evaluate(tiny_corpus, tmp_path):
    run = tmp_path / "run"
    result = slt(*train_args(tiny_corpus, run, "--epochs", "1", "--input", "gloss"))
    assert result.exit_code == 0, result.stderr
    for name in ("config.json", "model.safetensors", "tokenizer.json", "glosses.txt", "metrics.json", "log.jsonl",
                 "training.png", "dev.hypotheses.tsv", "test.hypotheses.tsv", "resume/latest"):  # fmt: skip
        assert (run / name).is_file(), name
    assert (run / "training.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["input"] == "gloss" and config["optim"]["epochs"] == 1
    (run / "test.hypotheses.tsv").unlink()
    metrics = json.loads((run / "metrics.json").read_text())

    result = slt("evaluate", run, "--split", "test")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader((run / "test.hypotheses.tsv").open(), delimiter="\t"))
    assert len(rows) == 4 and all(r["reference"] for r in rows)
    assert json.loads((run / "metrics.json").read_text())["test"] == metrics["test"]  # same decoding as training's


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--downsample", "3"), "downsample must be 1, 2, 4 or 8"),
        (("--resume",), "no run to resume"),
        (("--set", "optim.acumulation=2"), "unknown config key(s) ['optim.acumulation']"),
        (("--set", "eval.patience=-1"), "eval.patience must be 0 (never stop early) or more"),
        (("--set", "data.augment.rotation=5"), "data.augment is None, not a section"),
        (("--set", "optim.epochs=3"), "--set optim.epochs: use its own flag, --epochs"),
        (("--set", "optim.lr"), "--set takes SECTION.KEY=VALUE"),
        (("--holdout-signers", "signer01,nobody"), "data.holdout_signers: no clips of nobody; the annotations name signer01, signer02"),
        (("--report-to", "tb"), "optim.report_to must be a list of trackers out of ['tensorboard', 'wandb', 'mlflow', 'trackio']"),
    ],
)
def test_bad_flags_give_one_line(tiny_corpus, tmp_path, extra, message):
    result = slt(*train_args(tiny_corpus, tmp_path / "run", *extra))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ") and message in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("flag, value, choices", [("--optimizer", "adam", "'adamw', 'sgd'"), ("--input", "video", "'keypoints', 'gloss'")])
def test_a_wrong_choice_is_one_usage_line(tiny_corpus, tmp_path, flag, value, choices):
    """Choice flags are typed: `--help` lists the choices and Typer refuses another value, in one line."""
    result = slt_process(*train_args(tiny_corpus, tmp_path / "run", flag, value))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and not (tmp_path / "run").exists()
    assert result.stderr.startswith(f"error: Invalid value for '{flag}'") and f"'{value}' is not one of {choices}" in result.stderr
    assert f"<{choices.replace(chr(39), '').replace(', ', '|')}>" in slt("train", "--help").stdout


def test_holdout_signers_form_the_test_split(tiny_corpus, tmp_path):
    """--holdout-signers: training and dev never see the held-out signer; all their clips are scored, beside
    the seen signers' test clips, and metrics.json scores each signer."""
    run = tmp_path / "run"
    result = slt(*train_args(tiny_corpus, run, "--epochs", "1", "--input", "gloss", "--holdout-signers", "signer02"))
    assert result.exit_code == 0, result.stderr
    clips = list(csv.DictReader((tiny_corpus / "annotations.csv").open()))
    held = {c["name"] for c in clips if c["signer"] == "signer02"}
    seen_test = {c["name"] for c in clips if c["signer"] != "signer02" and c["split"] == "test"}
    train = [c for c in clips if c["signer"] != "signer02" and c["split"] == "train"]
    assert f"{len(train)} train /" in " ".join(result.stderr.split()) and 0 < len(train) < 16
    dev = {r["name"] for r in csv.DictReader((run / "dev.hypotheses.tsv").open(), delimiter="\t")}
    test = {r["name"] for r in csv.DictReader((run / "test.hypotheses.tsv").open(), delimiter="\t")}
    assert not dev & held and test == held | seen_test
    groups = json.loads((run / "metrics.json").read_text())["test"]["by_signer"]["groups"]
    assert groups["signer02"]["clips"] == len(held) and groups["signer01"]["clips"] == len(seen_test)
    assert json.loads((run / "config.json").read_text())["data"]["holdout_signers"] == ["signer02"]


def test_a_folder_of_pose_files_trains_as_its_parquet_originals(tiny_corpus, stage1_run, tmp_path):
    """`slt convert` to pose-format, then the same stage-1 run on the .pose folder: the same dev and test
    scores and sentences as `stage1_run`, trained on the Parquet files."""
    converted = slt("convert", tiny_corpus / "keypoints", tmp_path / "pose")
    assert converted.exit_code == 0 and converted.stdout.startswith("converted 24 of 24 keypoint file(s)"), converted.output
    assert not list((tmp_path / "pose").rglob("*.parquet"))
    args = train_args(tiny_corpus, tmp_path / "run")
    args[args.index(tiny_corpus / "keypoints")] = tmp_path / "pose"
    result = slt(*args)
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "pose" / ".slt_cache").glob("*.points.npy"))  # packed like Parquet clips
    mine, theirs = (json.loads((run / "metrics.json").read_text()) for run in (tmp_path / "run", stage1_run))
    for split in ("dev", "test"):
        for key in ("bleu1", "bleu4", "rouge_l", "chrf", "clips"):
            assert mine[split][key] == theirs[split][key], (split, key)
    assert (tmp_path / "run" / "dev.hypotheses.tsv").read_text() == (stage1_run / "dev.hypotheses.tsv").read_text()


def test_set_reaches_keys_without_a_flag(tiny_corpus, tmp_path):
    """`--set` takes YAML values for any key without a flag of its own; config.json records them."""
    run = tmp_path / "run"
    result = slt(*train_args(tiny_corpus, run, "--epochs", "1", "--set", "optim.accumulation=2", "--set", "data.augment=null",
                              "--set", "model.encoder.channels=[8, 8]"))  # fmt: skip
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())
    assert config["optim"]["accumulation"] == 2 and config["data"]["augment"] is None
    assert config["model"]["encoder"]["channels"] == [8, 8] and config["optim"]["epochs"] == 1


def test_missing_data_gives_one_line(tiny_corpus, tmp_path):
    cases = [
        (["train", "--data", tmp_path / "nowhere", "--annotations", tiny_corpus / "annotations.csv", "--out", tmp_path / "a"], "does not exist"),
        (["train", "--data", tiny_corpus / "keypoints", "--annotations", tmp_path / "none.csv", "--out", tmp_path / "b"], "does not exist"),
        (["evaluate", tmp_path / "not-a-run"], "not a run folder"),
    ]
    for args, message in cases:
        result = slt(*args)
        assert result.exit_code == 1 and result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def event_scalars(logdir: Path) -> dict[str, list[tuple[int, float]]]:
    """(step, value) of each scalar in a TensorBoard folder, as TensorBoard reads it (purged steps dropped)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(logdir)).Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_report_to_tensorboard(tiny_corpus, tmp_path):
    """Losses and learning rates of every step, dev scores and sentences of every evaluation, and the config."""
    import yaml
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    result = slt(*train_args(tiny_corpus, run, "--epochs", "2", "--report-to", "tensorboard"))
    assert result.exit_code == 0, result.stderr
    entries = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    steps, evaluations = [e for e in entries if "loss" in e], [e for e in entries if "dev" in e]
    assert len(steps) == 4 and len(evaluations) == 2  # 16 clips in batches of 8, for 2 epochs
    scalars = event_scalars(run / "logs" / "slt")
    assert [s for s, _ in scalars["train/loss"]] == [1, 2, 3, 4]
    assert [v for _, v in scalars["train/loss"]] == pytest.approx([e["loss"] for e in steps], abs=1e-4)
    assert [v for _, v in scalars["train/lr"]] == pytest.approx([e["lr"] for e in steps])
    assert scalars["dev/bleu4"] == [(e["step"], pytest.approx(e["dev"]["bleu4"])) for e in evaluations]
    assert [s for s, _ in scalars["dev/chrf"]] == [2, 4]
    text = EventAccumulator(str(run / "logs" / "slt")).Reload().Tensors("dev/sentences/text_summary")
    assert [t.step for t in text] == [2, 4]
    hypotheses = list(csv.DictReader((run / "dev.hypotheses.tsv").open(), delimiter="\t"))
    assert f"| {hypotheses[0]['name']} | {hypotheses[0]['reference']} |" in text[-1].tensor_proto.string_val[0].decode()
    [hparams] = (run / "logs" / "slt").glob("*/hparams.yml")
    config = yaml.safe_load(hparams.read_text())
    assert config["optim.lr"] == 3e-3 and config["optim.report_to"] == "['tensorboard']" and config["stage"] == 1


@pytest.mark.slow
def test_the_tensorboard_command_reads_the_log(tiny_corpus, tmp_path):
    import subprocess

    run = tmp_path / "run"
    assert slt(*train_args(tiny_corpus, run, "--epochs", "1", "--report-to", "tensorboard")).exit_code == 0
    tensorboard = Path(sys.executable).with_name("tensorboard")
    result = subprocess.run([tensorboard, "--inspect", "--logdir", run / "logs"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "train/loss" in result.stdout and "dev/bleu4" in result.stdout and "dev/sentences/text_summary" in result.stdout


def test_an_uninstalled_tracker_says_what_to_install(tiny_corpus, tmp_path):
    import importlib.util

    missing = next((t for t in ("wandb", "mlflow", "trackio") if importlib.util.find_spec(t) is None), None)
    if missing is None:
        pytest.skip("wandb, mlflow and trackio are all installed")
    result = slt(*train_args(tiny_corpus, tmp_path / "run", "--report-to", missing))
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and not (tmp_path / "run").exists()
    assert f"{missing} is not installed; pip install {missing}" in result.stderr


def test_sample_sentences_stay_a_table():
    """A "|" or a line break in a sentence would split TensorBoard's Markdown table."""
    from slt.train import SAMPLE_SENTENCES, sample_table

    rows = [{"name": f"dev-{i}", "reference": "yes | no", "hypothesis": "one\ntwo"} for i in range(SAMPLE_SENTENCES + 2)]
    lines = sample_table(rows).splitlines()
    assert len(lines) == 2 + SAMPLE_SENTENCES
    assert lines[2] == "| dev-0 | yes \\| no | one two |"

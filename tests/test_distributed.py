"""Stage 2 under several processes, as on a multi-GPU machine but on CPU with 2 gloo processes: killed and
resumed under `torchrun` then `accelerate launch`, it gives the run of one process with the same global
batch and writes the run folder once; in one process, `--resume` after SIGKILL gives the uninterrupted run.
(Stage 1's two-process and resume tests are in test_train.py.)

The runs use the made decoder-only LLM with `--lora-dropout 0` (Llama has no dropout of its own) and the
frozen encoder in eval mode: nothing random is drawn per process, so the processes must agree with one
process to float rounding. Subprocesses run single-threaded (OMP_NUM_THREADS=1), like test_train.py's.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
from safetensors.torch import load_file

from helpers import slt, slt_process

pytestmark = pytest.mark.slow  # left out of `make test-fast` (see pyproject.toml)

# --standalone and port 0: a free port, so that concurrent runs on one machine do not meet.
TORCHRUN = (sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m")
# On a machine without GPUs, `--multi_gpu` is what makes accelerate start N gloo processes on the CPU
# (`--cpu --num_processes 2` starts one, unless MPI is set up).
ACCELERATE = (sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--main_process_port", "0", "-m")
EPOCHS, BATCH = 2, 8  # 16 train clips: 2 optimizer steps per epoch


def stage2_args(stage1_run: Path, llm: Path, config: Path, out: Path, *extra) -> list[str]:
    return ["train", "--stage", "2", "--init", stage1_run, "--llm", llm, "--config", config, "--out", out,
            "--epochs", EPOCHS, "--batch-size", BATCH, "--lora-dropout", "0", *extra]  # fmt: skip


def kill_after_first_epoch(process: subprocess.Popen, run: Path) -> None:
    """SIGKILL the launched process and every process it started, once epoch 1's resume state is saved."""
    latest = run / "resume" / "latest"
    while not (latest.exists() and latest.read_text() == "epoch-0001") and process.poll() is None:
        time.sleep(0.02)
    # torchrun starts its workers in sessions of their own: each is killed by its id. (Popen, not psutil,
    # reaps the launcher, so that its exit status is read.)
    workers = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGKILL)
    for worker in workers:
        worker.send_signal(signal.SIGKILL)
    psutil.wait_procs(workers, timeout=30)
    assert process.wait() == -signal.SIGKILL, "training ended before it could be killed"


def log(run: Path) -> list[dict]:
    """`log.jsonl` without its timings."""
    entries = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in entry.items() if k != "clips_per_s"} for entry in entries]


def losses(run: Path) -> list[float]:
    return [entry["loss"] for entry in log(run) if "loss" in entry]


def files(run: Path) -> list[str]:
    return sorted(p.relative_to(run).as_posix() for p in run.rglob("*"))


@pytest.fixture(scope="module")
def runs(tiny_corpus, stage1_run, made_llms, tmp_path_factory) -> dict:
    """The settings both tests share, and the uninterrupted one-process run that cuts each global batch
    in two (accumulation 2) as two processes do."""
    root = tmp_path_factory.mktemp("distributed")
    accumulate = root / "accumulate.yaml"
    accumulate.write_text((tiny_corpus / "tiny.yaml").read_text().replace("warmup: 0.1", "warmup: 0.1, accumulation: 2"))
    straight = root / "straight"
    result = slt(*stage2_args(stage1_run, made_llms["causal"], accumulate, straight))
    assert result.exit_code == 0, result.output
    return {"root": root, "stage1": stage1_run, "llm": made_llms["causal"], "tiny": tiny_corpus / "tiny.yaml",
            "accumulate": accumulate, "straight": straight}  # fmt: skip


def test_stage2_resume_after_kill_gives_the_same_run(runs):
    killed = runs["root"] / "killed"
    args = stage2_args(runs["stage1"], runs["llm"], runs["accumulate"], killed)
    kill_after_first_epoch(slt_process(*args, wait=False), killed)
    assert not (killed / "test.hypotheses.tsv").exists()

    resumed = slt(*args, "--resume")
    assert resumed.exit_code == 0, resumed.output
    straight = runs["straight"]
    assert log(killed) == log(straight)  # every step's loss and learning rate, every evaluation
    assert json.loads((killed / "metrics.json").read_text()) == json.loads((straight / "metrics.json").read_text())
    for weights in ("visual.safetensors", "llm/adapter_model.safetensors"):
        got, expected = load_file(killed / weights), load_file(straight / weights)
        assert got.keys() == expected.keys() and all(torch.equal(got[k], expected[k]) for k in expected), weights


def test_stage2_two_processes_killed_and_resumed_match_one_process(runs):
    two = runs["root"] / "two"
    args = stage2_args(runs["stage1"], runs["llm"], runs["tiny"], two)  # no accumulation: the 2 processes cut the batch
    kill_after_first_epoch(slt_process(*args, launcher=TORCHRUN, wait=False), two)
    resumed = slt_process(*args, "--resume", launcher=ACCELERATE)
    assert resumed.returncode == 0, resumed.stderr

    straight = runs["straight"]
    assert losses(two) == pytest.approx(losses(straight), rel=1e-5)
    metrics, expected = json.loads((two / "metrics.json").read_text()), json.loads((straight / "metrics.json").read_text())
    assert metrics == expected  # the same sentences decoded, dev and test
    # Written once: rank 0 alone writes the folder, the log and the console.
    assert files(two) == files(straight) and "resume/epoch-0002" in files(two)
    assert [e["step"] for e in log(two)] == [e["step"] for e in log(straight)]  # no line twice
    for line in ("Resuming ", "epoch 2: ", "Training "):
        assert resumed.stderr.count(line) == 1, line

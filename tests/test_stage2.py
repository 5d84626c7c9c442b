"""Stage 2 and `slt make-llm` on a tiny synthetic corpus: what trains and what stays frozen, training and
evaluation through the command line for a decoder-only and a seq2seq made LLM, save/load, merge, errors."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

from helpers import slt
from slt import stage2
from slt.config import resolve
from slt.data.dataset import make_loader
from slt.model.make_llm import MakeLLMConfig, make_llm
from slt.run import dataset, load_model, load_samples, save_model, split
from slt.synth import language
from slt.train import make_optimizer




def stage2_config(tiny_corpus: Path, **settings):
    overrides = {f"stage2.{k}": v for k, v in settings.items()}
    config = resolve(tiny_corpus / "tiny.yaml", {"data.data": str(tiny_corpus / "keypoints"), **overrides})
    config.data.annotations = [str(tiny_corpus / "annotations.csv")]
    stage2.resolve_stage2(config)
    return config


def train_batch(config) -> dict:
    samples = split(load_samples(config), "train")
    return next(iter(make_loader(dataset(config, samples, train=True), 8, shuffle=True)))


def one_step(model, config, batch) -> dict[str, torch.Tensor]:
    """The state dict after one AdamW step with the stage-2 learning rates; returns the one before."""
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer([{"params": trainable, "lr": config.stage2.lr_adapter}], config.optim)
    model.train()
    model(batch).backward()
    optimizer.step()
    return before


def changed(model, before) -> set[str]:
    return {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}


@pytest.mark.parametrize("arch", ["causal", "seq2seq"])
def test_step_changes_only_adapter_and_lora_and_save_load_is_exact(arch, tiny_corpus, stage1_run, made_llms, tmp_path):
    config = stage2_config(tiny_corpus, init=str(stage1_run), llm=str(made_llms[arch]))
    torch.manual_seed(0)
    model = stage2.build_model(config)
    batch = train_batch(config)
    before = one_step(model, config, batch)

    moved = changed(model, before)
    assert moved and all(k.startswith("adapter.") or "lora_" in k for k in moved), sorted(moved)[:5]
    assert any(k.startswith("adapter.") for k in moved) and any("lora_B" in k for k in moved)
    # The frozen encoder is the stage-1 one, bit for bit, BatchNorm running statistics included.
    first = load_file(str(stage1_run / "model.safetensors"))
    encoder = {k: v for k, v in model.state_dict().items() if k.startswith("encoder.")}
    assert encoder and all(torch.equal(v, first[k]) for k, v in encoder.items())

    save_model(model, config, tmp_path)
    loaded, _ = load_model(tmp_path)
    model.eval()
    with torch.no_grad():
        assert torch.equal(loaded(batch), model(batch))
        assert loaded.translate(batch, num_beams=2, max_new_tokens=12) == model.translate(batch, num_beams=2, max_new_tokens=12)


@pytest.mark.parametrize(
    "settings, trains",
    [
        ({"freeze": "backbone", "finetune": "full"}, {"adapter", "temporal", "llm"}),
        ({"joint": True, "init": "", "finetune": "frozen"}, {"adapter", "backbone", "temporal"}),
        ({"init": "", "finetune": "frozen"}, {"adapter"}),  # stage 2 alone: a random encoder, frozen
        ({"adapter_input": "hidden", "finetune": "frozen"}, {"adapter"}),
    ],
)
def test_freeze_joint_and_adapter_input_choices(settings, trains, tiny_corpus, stage1_run, made_llms, tmp_path):
    config = stage2_config(tiny_corpus, **{"init": str(stage1_run), "llm": str(made_llms["causal"]), **settings})
    torch.manual_seed(0)
    model = stage2.build_model(config)
    batch = train_batch(config)
    moved = changed(model, one_step(model, config, batch))
    part = lambda k: (  # noqa: E731
        "adapter" if k.startswith("adapter.") else "llm" if k.startswith("lm.")
        else "temporal" if "local_temporal" in k else "backbone"
    )
    assert {part(k) for k in moved} == trains

    save_model(model, config, tmp_path)
    loaded, _ = load_model(tmp_path)
    model.eval()
    with torch.no_grad():
        assert torch.equal(loaded(batch), model(batch))


@pytest.mark.parametrize("arch", ["causal", "seq2seq"])
def test_train_evaluate_and_merge_through_the_command_line(arch, tiny_corpus, stage1_run, made_llms, tmp_path):
    base = shutil.copytree(made_llms[arch], tmp_path / "llm")  # deleted below: a merged run needs no base model
    run = tmp_path / "run"
    result = slt("train", "--stage", "2", "--init", stage1_run, "--llm", base, "--out", run, "--config", tiny_corpus / "tiny.yaml",
                 "--epochs", "1", "--lr-llm", "1e-3", "--merge")
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"dev", "test"} <= set(metrics) and metrics["test"]["clips"] == 4
    saved = json.loads((run / "config.json").read_text())
    assert saved["stage"] == 2 and saved["stage2"]["init"] == str(stage1_run.resolve())

    shutil.rmtree(base)
    result = slt("evaluate", run, "--split", "test")
    assert result.exit_code == 0, result.output
    assert json.loads((run / "metrics.json").read_text())["test"] == metrics["test"]


def test_stage1_can_use_the_llms_tokenizer(tiny_corpus, made_llms, tmp_path):
    """The paper's choice: stage 1 decodes with the stage-2 LLM's vocabulary, saved with the run."""
    run = tmp_path / "run"
    result = slt("train", "--stage", "1", "--data", tiny_corpus / "keypoints", "--annotations", tiny_corpus / "annotations.csv",
                 "--config", tiny_corpus / "tiny.yaml", "--epochs", "1", "--tokenizer", made_llms["seq2seq"], "--out", run)
    assert result.exit_code == 0, result.output
    llm_vocab = AutoTokenizer.from_pretrained(made_llms["seq2seq"]).get_vocab()
    assert AutoTokenizer.from_pretrained(run).get_vocab() == llm_vocab
    model, _ = load_model(run)
    assert model.lm.model.config.vocab_size == len(llm_vocab)

    result = slt("train", "--stage", "1", "--data", tiny_corpus / "keypoints", "--annotations", tiny_corpus / "annotations.csv",
                 "--tokenizer", tmp_path / "nowhere", "--out", tmp_path / "run2")
    assert result.exit_code == 1 and result.output.count("\n") == 1 and "nowhere" in result.output


def test_unreachable_llm_fails_fast_with_one_line(tiny_corpus, stage1_run, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    result = slt("train", "--stage", "2", "--init", stage1_run, "--llm", "no-such-org/no-such-llm", "--out", tmp_path / "run")
    assert time.monotonic() - start < 20
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "no-such-org/no-such-llm" in result.stderr and "make-llm" in result.stderr


@pytest.mark.parametrize("arch, auto", [("causal", AutoModelForCausalLM), ("seq2seq", AutoModelForSeq2SeqLM)])
def test_made_llm_learns_the_language_and_loads_with_plain_transformers(arch, auto, tmp_path):
    rng = np.random.default_rng(0)
    sentences = [language.sentence(rng)[1] for _ in range(300)]
    config = MakeLLMConfig(arch=arch, dim=32, layers=1, heads=2, ffn=64, steps=60, warmup=5, batch_size=16, lr=3e-3)
    summary = make_llm(tmp_path / "llm", sentences, config, show_progress=False)
    assert summary["perplexity_after"] < summary["perplexity_before"] / 2  # on sentences it never saw

    model = auto.from_pretrained(tmp_path / "llm")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "llm")
    assert model.get_input_embeddings().num_embeddings == len(tokenizer)
    ids = tokenizer("I am smart now.", add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == "I am smart now."


def test_make_llm_command(tmp_path):
    corpus = tmp_path / "sentences.txt"
    corpus.write_text("the cat sleeps.\nthe dog runs.\na cat runs home.\nthe dog sleeps now.\n")
    out = tmp_path / "llm"
    result = slt("make-llm", out, "--corpus", corpus, "--arch", "seq2seq", "--steps", "3", "--dim", "16", "--layers", "1")
    assert result.exit_code == 0, result.output
    assert "perplexity" in result.stdout and (out / "config.json").is_file() and not list(tmp_path.glob(".llm.*"))
    result = slt("make-llm", out, "--corpus", tmp_path / "missing.txt")
    assert result.exit_code == 1 and "missing.txt" in result.stderr

"""Every YAML file in configs/ resolves into a valid `RunConfig`; its stage-1 model builds and computes a
loss on real clips, and its stage-2 recipe (the flags its comments give) resolves against a stage-1 run.
A model trained on a GPU saves and loads back."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from slt import stage2
from slt.config import resolve
from slt.data.dataset import make_loader
from slt.data.tokenizer import train_tokenizer
from slt.run import build_stage1, dataset, load_model, load_samples, save_model, split

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
CONFIGS = sorted(CONFIG_DIR.glob("*.yaml"))
STAGE2_FLAGS = {"optim.optimizer": "adamw", "optim.batch_size": 16, "optim.epochs": 40}  # as the files' comments say


def test_the_paper_recipes_are_there():
    assert {"phoenix2014t.yaml", "csl_daily.yaml", "how2sign.yaml"} <= {path.name for path in CONFIGS}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_config_builds_a_model_that_computes_a_loss(path, tiny_corpus, stage1_run):
    config = resolve(path, {"data.data": str(tiny_corpus / "keypoints"), "data.annotations": [str(tiny_corpus / "annotations.csv")]})
    samples = split(load_samples(config), "train")
    tokenizer = train_tokenizer([s.text for s in samples], config.data.vocab_size, config.data.char_level)
    torch.manual_seed(0)
    model = build_stage1(config, tokenizer)
    batch = next(iter(make_loader(dataset(config, samples[:2], train=True), 2, shuffle=False)))
    assert math.isfinite(model(batch).item())

    if config.stage2.llm:  # a paper recipe (PAPER.md): its settings, and its stage-2 command resolves
        assert (config.model.preset, config.model.encoder.downsample, config.model.label_smoothing) == ("base", 4, 0.2)
        assert (config.optim.optimizer, config.optim.lr, config.eval.num_beams) == ("sgd", 1e-2, 5)
        second = resolve(path, {"stage": 2, "stage2.init": str(stage1_run), **STAGE2_FLAGS})
        stage2.resolve_stage2(second)
        assert (second.stage2.finetune, second.stage2.lr_adapter, second.stage2.lr_llm) == ("full", 1e-3, 1e-5)


def test_a_model_moved_to_a_device_saves_and_loads_into_a_fresh_one(tmp_path):
    """`.to(device)` converts each buffer on its own, unsharing tensors the ST-GCN blocks share; a GPU-trained
    checkpoint of the paper's several-block encoder once failed to load for that. A dtype round trip unshares
    them the same way on a CPU."""
    config = resolve(CONFIG_DIR / "phoenix2014t.yaml", {"model.preset": "tiny"})
    tokenizer = train_tokenizer(["ein zwei drei", "vier fünf"], 100, False)
    model = build_stage1(config, tokenizer).to(torch.float64).to(torch.float32)
    save_model(model, config, tmp_path)
    loaded, _ = load_model(tmp_path)
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in model.state_dict().items())

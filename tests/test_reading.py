"""Training says when a model does not read its input: distinct dev sentences and the loss with the
keypoints blanked, in the log, in metrics.json, and as a one-line warning."""

from __future__ import annotations

import json
import shutil

import numpy as np

from helpers import slt
from slt.keypoints.io import read_parquet, write_parquet
from slt.train import reading_check


def train(corpus, out, *extra):
    args = ["train", "--stage", "1", "--data", corpus / "keypoints", "--annotations", corpus / "annotations.csv",
            "--out", out, "--config", corpus / "tiny.yaml", "--epochs", "2", *extra]  # fmt: skip
    return slt(*args)


def test_a_model_fed_blank_keypoints_is_reported(tiny_corpus, tmp_path):
    blank = tmp_path / "blank"
    shutil.copytree(tiny_corpus, blank, ignore=shutil.ignore_patterns(".slt_cache"))
    for path in (blank / "keypoints").rglob("*.parquet"):  # nobody in view in any frame
        kp = read_parquet(path)
        kp.points[:] = np.nan
        write_parquet(kp, path)

    result = train(blank, tmp_path / "run")
    assert result.exit_code == 0, result.stderr
    assert "warning: dev outputs: 1 distinct sentence for 4 clips (4 distinct references)" in result.stderr
    assert "the model is not reading the keypoints" in result.stderr
    dev = json.loads((tmp_path / "run" / "metrics.json").read_text())["dev"]
    assert dev["distinct_hypotheses"] == 1 and dev["distinct_references"] == 4
    assert dev["blank_loss"] == dev["loss"]  # blanking changes nothing: there was nothing to read
    logged = [json.loads(line)["dev"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines() if "dev" in line]
    assert len(logged) == 2 and all(entry["distinct_hypotheses"] == 1 for entry in logged)


def test_reading_check_needs_both_signs():
    rows = [{"hypothesis": f"h{i % n}", "reference": f"r{i}"} for n in (20,) for i in range(100)]
    assert reading_check(rows, {"loss": 2.0, "blank_loss": 3.0}) is None
    assert "not reading" in reading_check(rows, {"loss": 2.0, "blank_loss": 2.01})  # no gain from the input
    same = [{**row, "hypothesis": "h"} for row in rows]
    assert reading_check(same, {"loss": 2.0, "blank_loss": 3.0}).startswith("dev outputs: 1 distinct sentence for 100 clips")

"""The corpus and trained runs that the training and translation benchmarks share, each built once, on first use.

Everything is the built-in toy language (`slt synth`) with `configs/stage1_cpu.yaml`: a stage-1 run, an
LLM made by `slt make-llm` (seq2seq, as `make demo`), and a stage-2 run on that LLM, each trained one
epoch, since the benchmarks time these models rather than score them. The two training runs are
profiled with pyinstrument while they are built (`profiles`).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import pandas as pd

from bench.measure import profiled
from slt.config import RunConfig, resolve

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "stage1_cpu.yaml"
EVAL_CLIPS = 8  # dev and test clips: enough to run the evaluation the training runs end with


class Workspace:
    """`train_clips` training clips of the toy language under `root`; runs train on the first `run_clips`."""

    def __init__(self, root: Path, train_clips: int, run_clips: int, llm_steps: int):
        self.root, self.train_clips, self.run_clips, self.llm_steps = root, train_clips, run_clips, llm_steps
        self.profiles: dict[str, str] = {}

    @cached_property
    def corpus(self) -> Path:
        from slt import synth

        folder = self.root / "corpus"
        synth.write_corpus(folder, synth.toy_clips(self.train_clips, EVAL_CLIPS, EVAL_CLIPS, signers=8, seed=0))
        return folder

    def annotations(self, train_clips: int) -> Path:
        """An annotation table with the corpus's first `train_clips` training clips, and all dev and test ones."""
        path = self.root / f"annotations-{train_clips}.csv"
        if not path.exists():
            table = pd.read_csv(self.corpus / "annotations.csv")
            train = table[table["split"] == "train"].head(train_clips)
            pd.concat([train, table[table["split"] != "train"]]).to_csv(path, index=False)
        return path

    def config(self, train_clips: int, **overrides) -> RunConfig:
        """`configs/stage1_cpu.yaml` on `train_clips` clips, one epoch, with dotted-key `overrides`."""
        data = {"data.data": str(self.corpus / "keypoints"), "data.annotations": [str(self.annotations(train_clips))]}
        return resolve(CONFIG, {**data, "optim.epochs": 1, **overrides})

    @cached_property
    def stage1_run(self) -> Path:
        from slt import stage1

        run, config = self.root / "stage1", self.config(self.run_clips)  # writes the corpus first, unprofiled
        _, self.profiles["stage 1"] = profiled(lambda: stage1.train(config, run))
        return run

    @cached_property
    def llm(self) -> Path:
        from slt.model.make_llm import MakeLLMConfig, make_llm, read_corpus

        folder = self.root / "llm"
        make_llm(folder, read_corpus([self.annotations(self.train_clips)]), MakeLLMConfig(arch="seq2seq", steps=self.llm_steps))
        return folder

    def stage2_config(self, train_clips: int) -> RunConfig:
        return self.config(train_clips, **{"stage": 2, "stage2.init": str(self.stage1_run), "stage2.llm": str(self.llm)})

    @cached_property
    def stage2_run(self) -> Path:
        from slt import stage2

        run, config = self.root / "stage2", self.stage2_config(self.run_clips)  # builds what it starts from first
        _, self.profiles["stage 2"] = profiled(lambda: stage2.train(config, run))
        return run

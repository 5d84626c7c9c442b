"""The values that choice settings take, as `Literal` types: one list each for the config's checks
(`slt.config`) and the command line's options, whose `--help` lists them and which Typer checks.

Kept apart from `slt.config` because the command line imports this module to describe its options,
and the config imports torch (through the encoder's settings).
"""

from typing import Literal

Input = Literal["keypoints", "gloss"]  # what stage 1 reads: keypoints, or the glosses (the oracle)
Preset = Literal["tiny", "small", "base", "large"]  # Light-T sizes (paper Table 7): `slt.model.llm.LIGHT_T_PRESETS`
Feature = Literal["sign", "frame"]  # which encoder output the adapter reads
Optimizer = Literal["adamw", "sgd"]
Tokenize = Literal["auto", "13a", "zh"]  # sacrebleu tokenization; "auto" picks from the references
Freeze = Literal["none", "backbone", "backbone+temporal"]  # stage 2 (paper Table 9)
AdapterInput = Literal["frame", "sign", "hidden"]  # stage 2 (paper Table 8)
Finetune = Literal["lora", "full", "frozen"]  # stage 2's LLM
Arch = Literal["causal", "seq2seq"]  # `slt make-llm`: `slt.model.make_llm.ARCHITECTURES`
Style = Literal["clean", "realistic"]  # `slt synth`: `slt.synth.STYLES`
Tracker = Literal["tensorboard", "wandb", "mlflow", "trackio"]  # `slt train --report-to`: Accelerate's trackers
Cut = Literal["pause", "window"]  # `slt live`: where sentences are cut from a stream (`slt.live.Segmenter`)
Extractor = Literal["holistic", "tasks"]  # `slt preprocess`: the legacy Holistic graph, or MediaPipe Tasks' landmarker
By = Literal["signer"]  # `slt evaluate --by`: what to score separately

"""Translating clips with a trained run of either stage: videos, frame folders or keypoint files in, sentences out.

Videos and frame folders go through the same MediaPipe Holistic extraction as `slt preprocess` (pose and
both hands, model complexity 1: the landmarks the run's normalizer reads), a long clip in stretches on
every core at once; keypoint files are read as they are. Then the run's own normalization, the encoder
and beam search, in batches. An input that cannot be used (unreadable, no frames, nobody in view) gets
an error of its own; the others are still translated.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from slt.keypoints.frames import is_video
from slt.keypoints.io import Keypoints
from slt.preprocess.dataset import collate
from slt.preprocess.normalize import PARTS, NormalizeConfig, Normalizer

KEYPOINT_SUFFIXES = (".parquet", ".pose")


@dataclass
class Translation:
    """One input's result: `text`, or `error` (one line saying what is wrong)."""

    input: str
    text: str | None = None
    error: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # extraction / reading, encoder, generation


class ClipReader:
    """Keypoints of any supported input; one MediaPipe graph is created on first need and reused."""

    def __init__(self):
        self._extractor = None

    def __call__(self, path: Path) -> Keypoints:
        if path.suffix.lower() in KEYPOINT_SUFFIXES:
            from slt.keypoints.formats import read_keypoints

            try:
                return read_keypoints(path)
            except (KeyError, ValueError, OSError) as error:  # not Parquet, a part missing, foreign layout
                raise ValueError(f"unreadable keypoint file ({error.args[0] if error.args else error})") from error
        if not (path.is_dir() or is_video(path)):
            raise ValueError("not a video, frame folder or keypoint file (.parquet, .pose)")
        if self._extractor is None:
            from slt.keypoints.extract import HolisticExtractor
            from slt.preprocess.extract_batch import default_workers

            # A clip's stretches on every core (at most 8: each graph holds ~150 MB): one clip's latency
            # is what a user of translate waits for.
            self._extractor = HolisticExtractor(threads=min(default_workers(), 8))
        return self._extractor(path)

    def close(self) -> None:
        if self._extractor is not None:
            self._extractor.close()


def translate(inputs: list[str | Path], run_dir: str | Path, num_beams: int | None = None) -> tuple[list[Translation], dict]:
    """Translate every input with the run in `run_dir`; returns (one `Translation` per input, in order,
    and the run-wide timings in seconds: model loading and each stage summed over the inputs)."""
    from slt.stage1 import load_model

    start = time.perf_counter()
    model, config = load_model(run_dir)
    if config.model.input != "keypoints":
        raise ValueError(f"{run_dir} is a gloss-oracle run: it reads glosses, not clips")
    normalizer = Normalizer(NormalizeConfig(**config.data.normalize))
    beams = num_beams or config.eval.num_beams
    timings = {"load_model": time.perf_counter() - start, "extraction": 0.0, "encoder": 0.0, "generation": 0.0}

    results = [Translation(str(path)) for path in inputs]
    items, reader = [], ClipReader()
    try:
        for result in results:
            tick = time.perf_counter()
            try:
                features = read_features(Path(result.input), reader, normalizer)
                items.append((result, {"features": torch.from_numpy(features), "text": "", "gloss": "", "name": result.input}))
            except ValueError as error:
                result.error = str(error)
            result.seconds["extraction"] = time.perf_counter() - tick
            timings["extraction"] += result.seconds["extraction"]
    finally:
        reader.close()

    for first in range(0, len(items), config.eval.batch_size):
        chunk = items[first : first + config.eval.batch_size]
        batch = collate([item for _, item in chunk])
        with torch.no_grad():
            tick = time.perf_counter()
            embeds, mask = model.embed(batch)
            encoded = time.perf_counter()
            sentences = model.lm.generate(
                embeds, mask, num_beams=beams, max_new_tokens=config.eval.max_new_tokens, length_penalty=config.eval.length_penalty
            )
            generated = time.perf_counter()
        for (result, _), sentence in zip(chunk, sentences):
            result.text = sentence
            # A batch's time is shared evenly among its clips.
            result.seconds["encoder"] = (encoded - tick) / len(chunk)
            result.seconds["generation"] = (generated - encoded) / len(chunk)
        timings["encoder"] += encoded - tick
        timings["generation"] += generated - encoded
    return results, timings


def read_features(path: Path, reader: ClipReader, normalizer: Normalizer):
    """Model input `[T, J', C]` of one input; ValueError with a one-line reason when it cannot be used."""
    if not path.exists():
        raise ValueError("no such file or folder")
    kp = reader(path)
    if kp.num_frames == 0:
        raise ValueError("the clip has no frames")
    missing = [p for p in PARTS if p not in kp.parts]
    if missing:
        raise ValueError(f"the keypoints lack {missing} (slt needs pose and both hands)")
    if kp.detection_rates()["pose"] == 0:
        raise ValueError("no person detected in any frame")
    return normalizer(kp)


def as_json(results: list[Translation], timings: dict) -> dict:
    """The `--json` document: every input's result and the run-wide timings, in seconds."""
    rounded = lambda seconds: {k: round(v, 4) for k, v in seconds.items()}  # noqa: E731
    return {
        "translations": [{**asdict(r), "seconds": rounded(r.seconds)} for r in results],
        "seconds": rounded(timings),
    }

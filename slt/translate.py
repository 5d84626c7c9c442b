"""Translating clips with a trained run of either stage: videos, frame folders or keypoint files in, sentences out.

Videos and frame folders go through the same MediaPipe Holistic extraction as `slt preprocess` (pose and
both hands, model complexity 1: the landmarks the run's normalizer reads), a long clip in stretches on
every core at once; keypoint files are read as they are. The clips are read in a child process while this
one loads the model: loading means importing torch and transformers, which on a small machine takes as
long as extracting a few seconds of video, and in a thread of this process the imports would hold the GIL
the extraction needs. Then the run's own normalization, the encoder and beam search, in batches. An input
that cannot be used (unreadable, no frames, nobody in view) gets an error of its own; the others are
still translated. A clip longer than the model's positions allow is translated in consecutive parts that
each fit (`windows`), and their sentences are joined, with a warning.

torch is imported inside `translate`, not here, so that the child process does not import it.
"""

from __future__ import annotations

import gc
import multiprocessing
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from slt.data.normalize import PARTS, Normalizer
from slt.keypoints.frames import is_video
from slt.keypoints.io import Keypoints

KEYPOINT_SUFFIXES = (".parquet", ".pose")


@dataclass
class Translation:
    """One input's result: `text`, or `error` (one line saying what is wrong)."""

    input: str
    text: str | None = None
    error: str | None = None
    warning: str | None = None  # translated, but with a caveat (a clip too long to read at once)
    seconds: dict[str, float] = field(default_factory=dict)  # extraction / reading, encoder, generation


class ClipReader:
    """Keypoints of any supported input; the MediaPipe graphs are created on first need and reused."""

    def __init__(self):
        self._extractor = None

    def __call__(self, path: Path) -> Keypoints:
        """The input's keypoints; ValueError with a one-line reason when it cannot be used."""
        if not path.exists():
            raise ValueError("no such file or folder")
        if path.suffix.lower() in KEYPOINT_SUFFIXES:
            from slt.keypoints.formats import read_keypoints

            try:
                kp = read_keypoints(path)
            except (KeyError, ValueError, OSError) as error:  # not Parquet, a part missing, foreign layout
                raise ValueError(f"unreadable keypoint file ({error.args[0] if error.args else error})") from error
        elif path.is_dir() or is_video(path):
            kp = self._extract(path)
        else:
            raise ValueError("not a video, frame folder or keypoint file (.parquet, .pose)")
        if kp.num_frames == 0:
            raise ValueError("the clip has no frames")
        missing = [p for p in PARTS if p not in kp.parts]
        if missing:
            raise ValueError(f"the keypoints lack {missing} (slt needs pose and both hands)")
        if kp.detection_rates()["pose"] == 0:
            raise ValueError("no person detected in any frame")
        return kp

    def _extract(self, path: Path) -> Keypoints:
        if self._extractor is None:
            from slt.keypoints.extract import HolisticExtractor
            from slt.preprocess.worker import default_workers

            # A clip's stretches on every core (at most 8: each graph holds ~150 MB): one clip's latency
            # is what a user of translate waits for.
            self._extractor = HolisticExtractor(threads=min(default_workers(), 8))
        return self._extractor(path)

    def close(self) -> None:
        if self._extractor is not None:
            self._extractor.close()


ClipOutcome = tuple[Keypoints | None, str | None, float]  # (keypoints, or the reason there are none; seconds)


def read_clips(inputs: list[str]) -> list[ClipOutcome]:
    """Every input's keypoints, or the one-line reason it cannot be used, and the seconds it took."""
    reader, outcomes = ClipReader(), []
    try:
        for path in inputs:
            tick = time.perf_counter()
            try:
                outcomes.append((reader(Path(path)), None, time.perf_counter() - tick))
            except ValueError as error:
                outcomes.append((None, str(error), time.perf_counter() - tick))
    finally:
        reader.close()
    return outcomes


def _send_clips(inputs: list[str], connection) -> None:
    """The child process of `clips_read_in_child`."""
    from slt.keypoints.extract import silence_native_logs

    silence_native_logs()  # every failure that matters comes back as an outcome
    connection.send(read_clips(inputs))


@contextmanager
def clips_read_in_child(inputs: list[str]) -> Iterator[Callable[[], list[ClipOutcome]]]:
    """`read_clips(inputs)` started in a child process; yields the function that waits for its outcomes.

    Leaving the block kills the child, so that nobody waits for an extraction whose results are not wanted.
    """
    context = multiprocessing.get_context("spawn")  # not forked: this process may run threads (torch's)
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_send_clips, args=(inputs, sender), daemon=True)
    child.start()
    sender.close()  # this process's end of it: receiving then fails, instead of waiting forever, if the child dies

    def outcomes() -> list[ClipOutcome]:
        try:
            return receiver.recv()
        except EOFError:  # the child died before sending: MediaPipe crashed on one of the inputs
            child.join()
            reason = (
                f"the extraction crashed (exit code {child.exitcode}) on this input or another one; "
                "translate them one at a time to find the one at fault"
            )
            return [(None, reason, 0.0)] * len(inputs)

    try:
        yield outcomes
    finally:
        child.kill()  # done or not wanted; what is left of its work is closing its graphs
        child.join()
        receiver.close()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's garbage collector, for loading the model: torch, transformers and the model make
    millions of objects that live on, and every collection that their allocations set off during loading
    would walk them again (0.3-1.1 s of a 5-s load on 2 cores)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def translate(inputs: list[str | Path], run_dir: str | Path, num_beams: int | None = None) -> tuple[list[Translation], dict]:
    """Translate every input with the run in `run_dir`; returns (one `Translation` per input, in order,
    and the run-wide timings in seconds: `total`, and model loading and each stage summed over the
    inputs; extraction runs alongside model loading, so the parts add up to more than the total)."""
    start = time.perf_counter()
    # `load_run` would say this too, but only after importing torch; this way, before the child starts.
    if not (Path(run_dir) / "config.json").is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no config.json)")
    results = [Translation(str(path)) for path in inputs]
    with clips_read_in_child([result.input for result in results]) as outcomes:
        with collector_paused():
            model, config = load_run(run_dir)
        loaded = time.perf_counter()
        clips = []
        for result, (kp, error, seconds) in zip(results, outcomes()):
            result.error, result.seconds["extraction"] = error, seconds
            clips.append(kp)

    import torch

    from slt.data.dataset import collate

    timings = {
        "load_model": loaded - start,  # the clips were read meanwhile
        "extraction": sum(result.seconds["extraction"] for result in results),
        "encoder": 0.0,
        "generation": 0.0,
    }
    normalizer = Normalizer(config.data.normalize)
    max_frames = model.max_frames(config.eval.max_new_tokens)
    items = []  # (result, one part of its clip)
    for result, kp in zip(results, clips):
        if kp is None:
            continue
        parts = windows(kp.num_frames, max_frames)
        if len(parts) > 1:
            result.warning = (
                f"{kp.num_frames} frames, more than the {max_frames} the model reads at once: "
                f"translated in {len(parts)} consecutive parts, their sentences joined"
            )
        features = torch.from_numpy(normalizer(kp))
        items += [(result, {"features": features[a:b], "text": "", "gloss": "", "name": result.input}) for a, b in parts]
        result.text, result.seconds["encoder"], result.seconds["generation"] = "", 0.0, 0.0
    beams = num_beams or config.eval.num_beams
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
            result.text = f"{result.text} {sentence}".strip()
            # A batch's time is shared evenly among its clips' parts.
            result.seconds["encoder"] += (encoded - tick) / len(chunk)
            result.seconds["generation"] += (generated - encoded) / len(chunk)
        timings["encoder"] += encoded - tick
        timings["generation"] += generated - encoded
    timings["total"] = time.perf_counter() - start
    return results, timings


def windows(frames: int, max_frames: int | None) -> list[tuple[int, int]]:
    """[start, stop) of the fewest consecutive, equally long parts of a clip of `frames` frames that each fit
    `max_frames` (one part when it fits, or there is no limit). Consecutive, not overlapping: overlapping
    parts would translate the signs they share twice."""
    count = 1 if max_frames is None else -(-frames // max_frames)
    bounds = [round(i * frames / count) for i in range(count + 1)]
    return list(zip(bounds, bounds[1:]))


def load_run(run_dir: str | Path):
    """(model, config) of a run that reads clips (torch and transformers are imported here)."""
    from slt.run import load_model

    model, config = load_model(run_dir)
    if config.model.input != "keypoints":
        raise ValueError(f"{run_dir} is a gloss-oracle run: it reads glosses, not clips")
    return model, config


def as_json(results: list[Translation], timings: dict) -> dict:
    """The `--json` document: every input's result and the run-wide timings, in seconds."""
    rounded = lambda seconds: {k: round(v, 4) for k, v in seconds.items()}  # noqa: E731
    return {
        "translations": [{**asdict(r), "seconds": rounded(r.seconds)} for r in results],
        "seconds": rounded(timings),
    }

"""Translating clips with a trained run of either stage: videos, frame folders or keypoint files in, sentences out.

`Translator` is the Python API: `Translator.from_pretrained(RUN)` loads a run once, and each call
translates clips with it, reusing the model and the MediaPipe graphs (made on the first video). Videos and
frame folders go through the same MediaPipe Holistic extraction as `slt preprocess` (pose and both hands,
model complexity 1: the landmarks the run's normalizer reads), a long clip in stretches on every core at
once; keypoint files are read as they are. Then the run's own normalization, the encoder and beam search,
in batches. An input that cannot be used (unreadable, no frames, nobody in view) gets an error of its own;
the others are still translated. A clip longer than the model's positions allow is translated in
consecutive parts that each fit (`windows`), and their sentences are joined, with a warning.

`translate`, the command's function, is a layer over it for a process that translates once: there the
clips are read in a child process while this one loads the model. Loading means importing torch and
transformers, which on a small machine takes as long as extracting a few seconds of video, and in a
thread of this process the imports would hold the GIL the extraction needs; the child also turns a
MediaPipe crash into an error of the inputs instead of the end of the command. A `Translator` that lives
on loads once, so it extracts in its own process.

torch is imported inside functions, not here, so that the child process does not import it.
"""

from __future__ import annotations

import gc
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from slt.data.normalize import PARTS, Normalizer
from slt.keypoints.formats import KEYPOINT_SUFFIXES
from slt.keypoints.frames import is_video, silence_native_logs
from slt.keypoints.io import Keypoints
from slt.keypoints.schema import DEFAULT_PARTS, check_extractor


@dataclass
class Translation:
    """One input's result: `text`, or `error` (one line saying what is wrong)."""

    input: str
    text: str | None = None
    error: str | None = None
    warning: str | None = None  # translated, but with a caveat (a clip too long to read at once, another extractor)
    seconds: dict[str, float] = field(default_factory=dict)  # extraction / reading, encoder, generation
    detected: dict[str, float] = field(default_factory=dict)  # fraction of frames in which each part was found
    keypoints: Keypoints | None = field(default=None, repr=False)  # what the model read, e.g. to draw the skeleton

    def as_dict(self) -> dict:
        """The JSON-ready result: every field but `keypoints`, the seconds rounded."""
        result = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "keypoints"}
        return {**result, "seconds": {k: round(v, 4) for k, v in self.seconds.items()}}


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
        return check_clip(kp)

    def _extract(self, path: Path) -> Keypoints:
        if self._extractor is None:
            check_extractor()  # the keypoint-only install has no MediaPipe
            from slt.keypoints.extract import HolisticExtractor
            from slt.preprocess.worker import default_workers

            # A clip's stretches on every core (at most 8: each graph holds ~150 MB): one clip's latency
            # is what a user of translate waits for.
            self._extractor = HolisticExtractor(threads=min(default_workers(), 8))
        return self._extractor(path)

    def close(self) -> None:
        if self._extractor is not None:
            self._extractor.close()


def check_clip(kp: Keypoints) -> Keypoints:
    """`kp`, if a run can read it; ValueError with a one-line reason if not."""
    if kp.num_frames == 0:
        raise ValueError("the clip has no frames")
    missing = [p for p in PARTS if p not in kp.parts]
    if missing:
        raise ValueError(f"the keypoints lack {missing} (slt needs pose and both hands)")
    if kp.detection_rates()["pose"] == 0:
        raise ValueError("no person detected in any frame")
    return kp


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


class Translator:
    """A trained run of either stage, loaded once, that translates clips:

        translator = Translator.from_pretrained("runs/s2")
        translator("clip.mp4").text
        translator(["a.mp4", "frames/", "b.parquet"], beams=1)   # one `Translation` per input
        translator(points, fps=25)                               # a [frames, joints, 3] array, or `Keypoints`

    A single input that cannot be used raises ValueError; in a list, it gets its `Translation.error` and
    the others are translated. Calls from several threads are safe and run one at a time (a lock): the
    model and the MediaPipe graphs are one each, and torch already spreads one call over the cores.
    """

    def __init__(self, model, config, run_dir: Path, device: str):
        from slt.run import read_keypoints_info

        self.model, self.config, self.run_dir, self.device = model, config, run_dir, device
        self.keypoints_info = read_keypoints_info(run_dir)  # what the training keypoints were made with
        self._reader = ClipReader()
        self._lock = threading.Lock()

    @classmethod
    def from_pretrained(cls, run: str | Path, device: str = "cpu") -> Translator:
        """Load the run of either stage `run` (a folder, or a hub id that `slt push` uploaded: through the Hub
        cache) onto `device`: "cpu", "cuda" or "auto" (a GPU if any)."""
        import torch

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device not in ("cpu", "cuda"):
            raise ValueError(f"device must be cpu, cuda or auto, got {device!r}")
        if device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device cuda asked for, but torch sees no GPU; use device='cpu' or 'auto'")
        from slt.hub import run_folder
        from slt.run import load_model

        run = run_folder(run)
        with collector_paused():
            model, config = load_model(run)
        return cls(model.to(device), config, run, device)

    def __call__(
        self,
        inputs: str | Path | Keypoints | np.ndarray | list,
        fps: float | None = None,
        beams: int | None = None,
        max_new_tokens: int | None = None,
    ) -> Translation | list[Translation]:
        """Translate a video, frame folder, keypoint file, `Keypoints` or `[frames, joints, 3]` array (with
        its `fps`), or a list of them; `beams` and `max_new_tokens` default to the run's."""
        single = not isinstance(inputs, (list, tuple))
        items = [inputs] if single else list(inputs)
        with self._lock:
            results = [Translation(input_name(item)) for item in items]
            clips = [self._read(item, fps) for item in items]
            self._decode(results, clips, beams, max_new_tokens, [from_file(item) for item in items])
        if single and results[0].error:
            raise ValueError(f"{results[0].input}: {results[0].error}")
        return results[0] if single else results

    def evaluate(
        self,
        split: str | None = None,
        annotations: list[str] | None = None,
        data: str | None = None,
        beams: int | None = None,
        by_signer: bool = False,
    ):
        """Decode and score a split of the run's data, or other annotation tables: `slt.run.evaluate_run`
        with this model; returns (name, `Scores`)."""
        from slt.run import evaluate_run

        with self._lock:
            return evaluate_run(self.run_dir, split, annotations, data, beams, loaded=(self.model, self.config), by_signer=by_signer)

    def close(self) -> None:
        """Close the MediaPipe graphs now rather than when the translator is collected."""
        with self._lock:
            self._reader.close()

    def _read(self, item, fps: float | None) -> ClipOutcome:
        tick = time.perf_counter()
        try:
            if isinstance(item, np.ndarray):
                if not fps:
                    raise ValueError("an array of keypoints needs its frame rate: fps=...")
                item = Keypoints(item, fps, DEFAULT_PARTS)
            kp = check_clip(item) if isinstance(item, Keypoints) else self._reader(Path(item))
            return kp, None, time.perf_counter() - tick
        except ValueError as error:
            return None, str(error), time.perf_counter() - tick

    def _decode(
        self, results: list[Translation], outcomes: list[ClipOutcome], beams: int | None, max_new_tokens: int | None, files: list[bool]
    ) -> None:
        """Fill in `results` from the clips' outcomes (`files`: whether each clip came from a keypoint file,
        whose extractor is compared with the run's)."""
        import torch

        from slt.data.dataset import collate
        from slt.run import keypoint_origin
        from slt.train import to_device

        config = self.config
        if config.model.input != "keypoints":  # it loads, for `evaluate`
            raise ValueError(f"{self.run_dir} is a gloss-oracle run: it reads glosses, not clips")
        max_new_tokens = max_new_tokens or config.eval.max_new_tokens
        normalizer = Normalizer(config.data.normalize)
        max_frames = self.model.max_frames(max_new_tokens)
        trained_with = self.keypoints_info.get("extractor")
        items = []  # (result, one part of its clip)
        for result, (kp, error, seconds), from_keypoint_file in zip(results, outcomes, files):
            result.error, result.seconds["extraction"] = error, seconds
            if kp is None:
                continue
            warnings = []
            made_with = keypoint_origin(kp.info)["extractor"]
            if from_keypoint_file and trained_with and made_with and made_with != trained_with:
                warnings.append(
                    f"its keypoints were made with {made_with}, the model's training keypoints with {trained_with}; "
                    "expect worse translations (extract the video with `slt preprocess` instead)"
                )
            parts = windows(kp.num_frames, max_frames)
            if len(parts) > 1:
                warnings.append(
                    f"{kp.num_frames} frames, more than the {max_frames} the model reads at once: "
                    f"translated in {len(parts)} consecutive parts, their sentences joined"
                )
            result.warning = "; ".join(warnings) or None
            result.detected, result.keypoints = kp.detection_rates(), kp
            features = torch.from_numpy(normalizer(kp))
            items += [(result, {"features": features[a:b], "text": "", "gloss": "", "name": result.input}) for a, b in parts]
            result.text, result.seconds["encoder"], result.seconds["generation"] = "", 0.0, 0.0
        for first in range(0, len(items), config.eval.batch_size):
            chunk = items[first : first + config.eval.batch_size]
            batch = to_device(collate([item for _, item in chunk]), torch.device(self.device))
            with torch.no_grad():
                tick = time.perf_counter()
                embeds, mask = self.model.embed(batch)
                encoded = time.perf_counter()
                sentences = self.model.lm.generate(
                    embeds, mask, num_beams=beams or config.eval.num_beams, max_new_tokens=max_new_tokens,
                    length_penalty=config.eval.length_penalty,
                )
                generated = time.perf_counter()
            for (result, _), sentence in zip(chunk, sentences):
                result.text = f"{result.text} {sentence}".strip()
                # A batch's time is shared evenly among its clips' parts.
                result.seconds["encoder"] += (encoded - tick) / len(chunk)
                result.seconds["generation"] += (generated - encoded) / len(chunk)


def input_name(item) -> str:
    """How a `Translation` names its input: the path, or what kind of object it was."""
    return str(item) if isinstance(item, (str, Path)) else type(item).__name__


def from_file(item) -> bool:
    """Whether `item` carries keypoints made elsewhere: a keypoint file, or `Keypoints` read from one."""
    return isinstance(item, Keypoints) or isinstance(item, (str, Path)) and Path(item).suffix.lower() in KEYPOINT_SUFFIXES


def translate(inputs: list[str | Path], run_dir: str | Path, num_beams: int | None = None) -> tuple[list[Translation], dict]:
    """`slt translate`: every input with the run in `run_dir`, the clips read in a child process while this
    one loads the model (see the module docstring). Returns (one `Translation` per input, in order, and the
    run-wide timings in seconds: `total`, and model loading and each stage summed over the inputs;
    extraction runs alongside model loading, so the parts add up to more than the total)."""
    from slt.hub import run_folder

    start = time.perf_counter()
    run_dir = run_folder(run_dir)
    # `load_model` would say this too, but only after importing torch; this way, before the child starts.
    if not (Path(run_dir) / "config.json").is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no config.json)")
    results = [Translation(str(path)) for path in inputs]
    with clips_read_in_child([result.input for result in results]) as outcomes:
        translator = Translator.from_pretrained(run_dir)
        loaded = time.perf_counter()
        clips = outcomes()
    translator._decode(results, clips, num_beams, None, [from_file(path) for path in inputs])
    stage = lambda name: sum(result.seconds.get(name, 0.0) for result in results)  # noqa: E731
    timings = {"load_model": loaded - start, "extraction": stage("extraction"), "encoder": stage("encoder"), "generation": stage("generation")}
    timings["total"] = time.perf_counter() - start
    return results, timings


def windows(frames: int, max_frames: int | None) -> list[tuple[int, int]]:
    """[start, stop) of the fewest consecutive, equally long parts of a clip of `frames` frames that each fit
    `max_frames` (one part when it fits, or there is no limit). Consecutive, not overlapping: overlapping
    parts would translate the signs they share twice."""
    count = 1 if max_frames is None else -(-frames // max_frames)
    bounds = [round(i * frames / count) for i in range(count + 1)]
    return list(zip(bounds, bounds[1:]))


def as_json(results: list[Translation], timings: dict) -> dict:
    """The `--json` document: every input's result and the run-wide timings, in seconds."""
    return {"translations": [r.as_dict() for r in results], "seconds": {k: round(v, 4) for k, v in timings.items()}}

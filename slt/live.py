"""Live translation: frames of a camera, stream or video in, sentences out as soon as each is decoded.

`LiveSession` is one stream: each frame's landmarks come from one MediaPipe Holistic graph that tracks from
frame to frame (as `slt preprocess` extracts a clip), are resampled to the run's frame rate (`Resampler`),
and a `Segmenter` cuts sentences out of the stream; each is translated by the `Translator` at once. It
serves `slt live` (`run`, with `FrameSource` reading the frames) and the web page's live mode (`slt serve`).

Cutting: by default a sentence ends where both hands have rested for `pause` seconds, the wrists low by the
body, as the clips a run is trained on start and end; a sentence that goes on is cut at `max_sentence`.
The other way, fixed windows (optionally overlapping), cuts through signs and, when windows overlap,
translates the signs they share twice: on the built-in corpus it scores far lower (BENCHMARKS.md, "Live
translation"). With pauses, a sentence is also decoded while its signer rests, when there is time to spare.

Keeping up: MediaPipe takes about as long as a frame of a 25-fps stream lasts (40-60 ms on 2 busy cores),
and decoding a sentence takes a while more, so frames that come while the one before is being processed
are dropped (`FrameSource` keeps the newest only) and counted; the resampler fills the gaps by interpolating
between the frames kept. On the built-in corpus, keeping 40 % of the frames costs 2 BLEU-4.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from slt.choices import Cut
from slt.data.normalize import LEFT_SHOULDER, LEFT_WRIST, RIGHT_SHOULDER, RIGHT_WRIST
from slt.keypoints.frames import is_video
from slt.translate import Translator

# A wrist this many shoulder widths below the shoulder line is down, at rest: the built-in corpus's rest pose
# is at 1.6, nearly all of its signs above 0.9 (a few two-handed ones as low as the rest pose, briefly).
REST_DEPTH = 1.2
DEFAULT_FPS = 25.0  # the run's frame rate when its keypoints.json does not say (the built-in corpus's)


@dataclass
class LiveConfig:
    """How sentences are cut from a stream; seconds throughout."""

    cut: Cut = "pause"
    # Both hands at rest this long end a sentence. Two clips of the built-in corpus meet with 0.32-0.6 s of
    # rest, and a few of its two-handed signs are made as low as the rest pose for 0.2-0.7 s: 0.24 s cuts
    # twice as many sentences in two, 0.4 s misses boundaries (BENCHMARKS.md, "Live translation").
    pause: float = 0.32
    margin: float = 0.16  # rest kept before and after a sentence's signing, as the training clips have
    max_sentence: float = 10.0  # a sentence is cut here (or at the model's longest input, if shorter)
    window: float = 4.0  # cut "window": each window's length
    overlap: float = 0.0  # cut "window": how much of the previous window each one repeats

    def __post_init__(self):
        if self.cut not in ("pause", "window"):
            raise ValueError(f"cut must be pause or window, got {self.cut!r}")
        if not min(self.pause, self.window, self.max_sentence) > 0:
            raise ValueError(f"pause, window and max_sentence must be positive, got {self.pause}, {self.window}, {self.max_sentence}")
        if not 0 < self.margin <= self.pause:
            raise ValueError(f"margin must be positive and at most pause ({self.pause}), got {self.margin}")
        if not 0 <= self.overlap < self.window:
            raise ValueError(f"overlap must be at least 0 and less than window ({self.window}), got {self.overlap}")


@dataclass
class Sentence:
    """One sentence of the stream: `start` and `end` in seconds of the stream, and the seconds decoding took."""

    start: float
    end: float
    text: str
    seconds: float
    delay: float | None = None  # from the stream's reaching `end` to the text, for a stream played in real time

    def as_dict(self) -> dict:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


def resting(points: np.ndarray) -> bool:
    """Whether both hands rest in a frame's `[J, 3]` landmarks: both wrists low, or nobody in view (a wrist out
    of the picture is still placed by the pose model, below it)."""
    shoulders = points[[LEFT_SHOULDER, RIGHT_SHOULDER], :2]
    width = np.linalg.norm(shoulders[0] - shoulders[1])
    if not width > 0:  # no pose: nobody in view
        return True
    depth = (points[[LEFT_WRIST, RIGHT_WRIST], 1] - shoulders[:, 1].mean()) / width
    return bool(np.all(depth > REST_DEPTH))


class Resampler:
    """Frames at the times they were kept (some dropped) -> frames every 1/`fps` s from the first one, each
    interpolated between the two kept frames around it (the nearer one where a part is missing in either)."""

    def __init__(self, fps: float):
        self.fps, self.first, self.made, self.previous = fps, None, 0, None

    def __call__(self, t: float, points: np.ndarray) -> list[np.ndarray]:
        if self.previous is None:
            self.first, self.previous = t, (t, points)
        made = []
        before, last = self.previous
        while (due := self.first + self.made / self.fps) <= t:
            w = (due - before) / (t - before) if t > before else 1.0
            mixed = (1 - w) * last + w * points
            nearer = last if w < 0.5 else points
            made.append(np.where(np.isnan(mixed), nearer, mixed).astype(np.float32))
            self.made += 1
        self.previous = (t, points)
        return made

    def time(self, frame: int) -> float:
        """Stream time of resampled frame `frame`."""
        return (self.first or 0.0) + frame / self.fps


class Segmenter:
    """Cuts a stream of frames at `fps` into sentences, one frame at a time: `push` says whether the frame
    rests and returns the [start, stop) frame ranges this frame ends; `flush` ends the stream."""

    def __init__(self, config: LiveConfig, fps: float, max_frames: int | None = None):
        frames = lambda seconds: max(1, round(seconds * fps))  # noqa: E731
        self.config, self.pause, self.margin = config, frames(config.pause), frames(config.margin)
        self.max_frames = min(frames(config.max_sentence), max_frames or math.inf)
        self.window, self.stride = frames(config.window), frames(config.window - config.overlap)
        self.frames = self.cut = 0  # frames pushed so far; the end of the latest range
        self.start = self.last_active = None  # "pause": the current sentence's first and latest signing frames
        self.next_window, self.active_at = 0, []  # "window": the next window's start; the signing frames' indices

    @property
    def keep_from(self) -> int:
        """The first frame a later range may start at: the ones before it can be let go."""
        if self.config.cut == "window":
            return self.next_window
        return max(self.cut, (self.frames if self.start is None else self.start) - self.margin)

    def push(self, rests: bool) -> list[tuple[int, int]]:
        i, self.frames = self.frames, self.frames + 1
        if self.config.cut == "window":
            if not rests:
                self.active_at.append(i)
            return self._window(self.frames) if self.frames == self.next_window + self.window else []
        if not rests:
            self.start = i if self.start is None else self.start
            self.last_active = i
            if self.frames - max(self.cut, self.start - self.margin) >= self.max_frames:  # too long: cut here, it goes on
                return [self._sentence(self.frames)]
        elif self.start is not None and i - self.last_active >= self.pause:
            return [self._sentence(self.last_active + 1 + self.margin)]
        return []

    def flush(self) -> list[tuple[int, int]]:
        if self.config.cut == "window":
            return self._window(self.frames) if self.frames > self.cut else []
        return [self._sentence(min(self.frames, self.last_active + 1 + self.margin))] if self.start is not None else []

    def _sentence(self, stop: int) -> tuple[int, int]:
        span = (max(self.cut, self.start - self.margin), stop)
        self.start, self.cut = None, stop
        return span

    def _window(self, stop: int) -> list[tuple[int, int]]:
        """The window from `next_window` to `stop`, unless nobody signs in it (translating rest makes up sentences)."""
        start, signing = self.next_window, bool(self.active_at)
        self.next_window, self.cut = start + self.stride, stop
        self.active_at = [i for i in self.active_at if i >= self.next_window]
        return [(start, stop)] if signing else []


class LiveSession:
    """One stream translated as it comes: `frame(t, image)` or `keypoints(t, points)` for each frame kept, at
    stream time `t` in seconds, then `finish()`; each returns the sentences decoded meanwhile."""

    def __init__(self, translator: Translator, config: LiveConfig | None = None, beams: int | None = None, extract: bool = True):
        """`extract`: make the MediaPipe graph now (for `frame`), and warm it up on a blank frame: its first
        frame takes half a second, which would otherwise drop the stream's first frames."""
        if translator.config.model.input != "keypoints":
            raise ValueError(f"{translator.run_dir} is a gloss-oracle run: it reads glosses, not video")
        self.translator, self.config, self.beams = translator, config or LiveConfig(), beams
        self.fps = float(translator.keypoints_info.get("fps") or DEFAULT_FPS)
        self.resampler = Resampler(self.fps)
        self.segmenter = Segmenter(self.config, self.fps, translator.model.max_frames(translator.config.eval.max_new_tokens))
        self.frames: list[np.ndarray] = []  # resampled, from frame `self.first` on
        self.first = 0
        self._graph = None
        if extract:
            from slt.keypoints.extract import HolisticGraph
            from slt.keypoints.schema import SUPPORTED_MODEL_COMPLEXITY

            self._graph = HolisticGraph(face=False, model_complexity=SUPPORTED_MODEL_COMPLEXITY)
            self._graph.frame(np.zeros((64, 64, 3), np.uint8))  # nobody in it: nothing to track from

    def frame(self, t: float, image: np.ndarray) -> list[Sentence]:
        """Extract one RGB frame's landmarks and go on as `keypoints`."""
        return self.keypoints(t, self._graph.frame(image))

    def keypoints(self, t: float, points: np.ndarray) -> list[Sentence]:
        spans = []
        for frame in self.resampler(t, points):
            self.frames.append(frame)
            spans += self.segmenter.push(resting(frame))
        sentences = self._translate(spans)
        drop = self.segmenter.keep_from - self.first
        if drop > 0:
            del self.frames[:drop]
            self.first += drop
        return sentences

    def finish(self) -> list[Sentence]:
        """The sentence still open when the stream ends, if any; closes the MediaPipe graph."""
        self.close()
        return self._translate(self.segmenter.flush())

    def close(self) -> None:
        if self._graph is not None:
            self._graph.close()
            self._graph = None

    def _translate(self, spans: list[tuple[int, int]]) -> list[Sentence]:
        sentences = []
        for start, stop in spans:
            points = np.stack(self.frames[start - self.first : stop - self.first])
            if np.isnan(points[:, 0]).all():  # nobody in view in any of its frames (a window's)
                continue
            tick = time.perf_counter()
            result = self.translator(points, fps=self.fps, beams=self.beams)
            start_time, end_time = self.resampler.time(start), self.resampler.time(stop)
            sentences.append(Sentence(start_time, end_time, result.text, time.perf_counter() - tick))
        return sentences


class FrameSource:
    """The frames of a camera index, a stream URL or a video file, read in a thread of their own as they come;
    `next()` gives the newest one (time in seconds, RGB image), and a frame replaced by a newer one before it
    was taken counts as `dropped`. A file is read at its real pace with `realtime`, else every frame in turn.

    Opening checks that the source gives a frame: ValueError with one line if not.
    """

    def __init__(self, source: str, realtime: bool = False):
        self.file = not source.isdigit() and "://" not in source
        if self.file and not Path(source).is_file():
            raise ValueError(f"{source}: no such file (a camera is a number, e.g. 0; a stream a URL)")
        # OpenCV's and FFmpeg's own warnings about a source they cannot open: the ValueError below says it.
        cv2.setLogLevel(0)
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
        self.capture = cv2.VideoCapture(int(source) if source.isdigit() else source)
        ok, first = self.capture.read() if self.capture.isOpened() else (False, None)
        if not ok:
            self.capture.release()
            what = "camera" if source.isdigit() else "video" if self.file and is_video(Path(source)) else "source"
            raise ValueError(f"cannot read a frame from {what} {source} (no such device, unreachable, or not a video)")
        self.fps = self.capture.get(cv2.CAP_PROP_FPS) if self.file else 0.0
        if self.file and not self.fps > 0:
            raise ValueError(f"{source}: the video has no frame rate")
        self.paced = realtime or not self.file  # a camera or stream comes at its own pace
        self.seen = self.dropped = 0
        self._newest, self._done = None, False
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(first,), daemon=True)

    def start(self) -> None:
        """Start reading: the stream's clock starts now."""
        self._start = time.monotonic()
        self._thread.start()

    def _read(self, frame) -> None:
        while frame is not None:
            t = self.seen / self.fps if self.file else time.monotonic() - self._start
            if self.file and self.paced:
                time.sleep(max(0.0, self._start + t - time.monotonic()))
            with self._ready:
                if not self.paced:  # every frame in turn: wait until the previous one was taken
                    self._ready.wait_for(lambda: self._newest is None or self._done)
                self.dropped += self._newest is not None
                self._newest, self.seen = (t, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)), self.seen + 1
                self._ready.notify_all()
                if self._done:
                    break
            ok, frame = self.capture.read()
            frame = frame if ok else None
        with self._ready:
            self._done = True
            self._ready.notify_all()
        self.capture.release()

    def next(self) -> tuple[float, np.ndarray] | None:
        """The newest frame not yet taken, waiting for one; None once the source has ended."""
        with self._ready:
            self._ready.wait_for(lambda: self._newest is not None or self._done)
            frame, self._newest = self._newest, None
            self._ready.notify_all()
            return frame

    def clock(self) -> float:
        """Seconds since the source was opened: the stream time now, for a source played in real time."""
        return time.monotonic() - self._start

    def close(self) -> None:
        with self._ready:
            self._done = True
            self._ready.notify_all()
        if self._thread.is_alive():
            self._thread.join()
        else:
            self.capture.release()


@dataclass
class Summary:
    """What a live run did: frames the source gave, processed and dropped, sentences, the stream's length,
    the seconds spent processing, and their ratio (under 1: it keeps up)."""

    frames: int
    processed: int
    dropped: int
    sentences: int
    stream_seconds: float
    processing_seconds: float

    @property
    def realtime_factor(self) -> float:
        return self.processing_seconds / self.stream_seconds if self.stream_seconds else 0.0

    def line(self) -> str:
        return (
            f"{self.frames} frames ({self.stream_seconds:.1f} s), {self.processed} processed, {self.dropped} dropped "
            f"to keep up; {self.sentences} sentences; real-time factor {self.realtime_factor:.2f}"
        )


def run(source: FrameSource, session: LiveSession, on_sentence) -> Summary:
    """Translate `source` until it ends or Ctrl-C stops it, calling `on_sentence(sentence)` as each is decoded."""
    processed = sentences = 0
    busy = 0.0

    def done(decoded: list[Sentence]) -> None:
        nonlocal sentences
        for sentence in decoded:
            sentence.delay = source.clock() - sentence.end if source.paced else None
            on_sentence(sentence)
            sentences += 1

    source.start()
    try:
        try:
            while (frame := source.next()) is not None:
                tick = time.perf_counter()
                decoded = session.frame(*frame)
                processed, busy = processed + 1, busy + time.perf_counter() - tick
                done(decoded)
        except KeyboardInterrupt:  # how a camera's stream ends: the sentence being signed is still decoded
            pass
        stream = source.seen / source.fps if source.file else source.clock()
        tick = time.perf_counter()
        decoded = session.finish()
        busy += time.perf_counter() - tick
        done(decoded)
    finally:
        source.close()
        session.close()
    return Summary(source.seen, processed, source.dropped, sentences, stream, busy)

"""Reading a clip's frames, one at a time: video files (OpenCV), segments of them, and frame folders.

Frames are decoded as they are consumed, so memory does not grow with the clip's length. A clip that
cannot be read raises `UnreadableClip` whose message says why, ready for a one-line error report.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


class UnreadableClip(ValueError):
    """The input cannot be read as a clip; the message says why."""


@dataclass(frozen=True)
class ClipSource:
    """Where one clip's frames come from.

    `path` is a video file or a folder of frame images; `start`/`end` (seconds) cut a segment out of it.
    For a frame folder, `fps` is the frame rate (folders do not record one).
    """

    path: Path
    start: float | None = None
    end: float | None = None
    fps: float = 25.0


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def frame_images(folder: Path) -> list[Path]:
    """The frame images directly inside `folder`, in natural order (frame2 before frame10)."""
    images = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")]
    return sorted(images, key=lambda p: [int(s) if s.isdigit() else s for s in re.split(r"(\d+)", p.name)])


class FrameReader:
    """Opens a clip and checks it can be read; iterating yields its frames as RGB uint8 `[H, W, 3]`.

    `fps`, `width`, `height` describe the clip, `expected_frames` is the container's frame count
    (an estimate for some videos) and `warnings` lists anything adjusted, like a clamped segment end.
    """

    def __init__(self, source: ClipSource):
        self.source = source
        self.warnings: list[str] = []
        path = source.path
        if path.is_dir():
            self._images = frame_images(path)
            if not self._images:
                raise UnreadableClip(f"no {'/'.join(IMAGE_EXTENSIONS)} frame images in folder")
            first = self._read_image(self._images[0])
            self.fps, self.height, self.width = float(source.fps), first.shape[0], first.shape[1]
            if source.start is not None:
                start, stop = self._segment_frames(source.start, source.end, len(self._images))
                self._images = self._images[start:stop]
            self.expected_frames = len(self._images)
            return
        self._images = None
        if path.stat().st_size == 0:
            raise UnreadableClip("empty file")
        capture = cv2.VideoCapture(str(path))
        try:
            if not capture.isOpened():
                raise UnreadableClip("cannot be opened as a video (corrupt, or not a video file)")
            self.fps = capture.get(cv2.CAP_PROP_FPS)
            self.width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
            self.height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
            total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        finally:
            capture.release()
        if not self.fps > 0 or self.width <= 0 or self.height <= 0:
            raise UnreadableClip("video stream has no frame rate or size (corrupt, or not a video file)")
        self._first, self._stop = 0, None
        if source.start is not None:
            self._first, self._stop = self._segment_frames(source.start, source.end, total)
        self.expected_frames = (self._stop if self._stop is not None else total) - self._first

    def _segment_frames(self, start: float, end: float | None, total: int) -> tuple[int, int]:
        """Frame range [first, stop) of the segment start..end seconds, the end clamped to the video."""
        first = round(start * self.fps)
        stop = total if end is None else round(end * self.fps)
        if first >= total:
            raise UnreadableClip(f"segment starts at {start:g}s, after the video's end ({total / self.fps:.2f}s)")
        if stop > total:
            self.warnings.append(f"segment end {end:g}s is past the video's end; clamped to {total / self.fps:.2f}s")
            stop = total
        if stop <= first:
            raise UnreadableClip(f"segment {start:g}s-{end:g}s holds no frame")
        return first, stop

    @staticmethod
    def _read_image(path: Path) -> np.ndarray:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise UnreadableClip(f"unreadable frame image {path.name}")
        return image

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._images is not None:
            for path in self._images:
                yield cv2.cvtColor(self._read_image(path), cv2.COLOR_BGR2RGB)
            return
        capture = cv2.VideoCapture(str(self.source.path))
        try:
            if self._first:
                # The FFmpeg backend seeks to the preceding key frame and decodes forward: frame exact,
                # and no re-encoding of the segment.
                capture.set(cv2.CAP_PROP_POS_FRAMES, self._first)
            index, decoded = self._first, 0
            while self._stop is None or index < self._stop:
                ok, frame = capture.read()
                if not ok:
                    break
                decoded += 1
                index += 1
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            if decoded == 0:
                raise UnreadableClip("no frame could be decoded (corrupt or empty video)")
        finally:
            capture.release()


def silence_native_logs() -> None:
    """Send what MediaPipe, TFLite and FFmpeg log from C++ (straight to file descriptor 2) to /dev/null:
    for processes that extract for another one and report every failure that matters to it."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


@contextmanager
def native_logs_silenced() -> Iterator[None]:
    """`silence_native_logs` for a while, in a process that shows its own messages on stderr."""
    saved = os.dup(2)
    silence_native_logs()
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)

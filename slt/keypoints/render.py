"""Draw keypoints as a skeleton video: bones from `schema.edges`, joints as dots, face points as dots.

The canvas is blank (sized from the clip's width and height) or the source video itself, frame i of the
keypoints drawn on frame i of the video. Missing (NaN) joints and the bones touching them are not drawn.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from slt.keypoints import schema
from slt.files import atomic_write
from slt.keypoints.io import Keypoints

FORMATS = (".mp4", ".gif")
DEFAULT_SIZE = (640, 480)
GIF_WIDTH = 480
BACKGROUND = (24, 24, 24)
COLORS = {"pose": (210, 210, 210), "left_hand": (40, 170, 255), "right_hand": (255, 150, 40), "face": (150, 150, 150)}  # BGR


def draw(frame: np.ndarray, points: np.ndarray, parts: tuple[str, ...]) -> np.ndarray:
    """Draw one frame's `[J, 3]` normalized points onto `frame` (BGR, modified in place and returned)."""
    height, width = frame.shape[:2]
    thickness = max(1, round(width / 400))
    xy = points[:, :2] * (width, height)
    seen = np.isfinite(xy).all(axis=1)
    pixel = np.where(seen[:, None], xy, 0).round().astype(np.int32)
    owner = np.concatenate([[p] * n for p, n in schema.part_sizes(parts).items()])
    for a, b in schema.edges(parts):
        if seen[a] and seen[b]:
            cv2.line(frame, tuple(pixel[a]), tuple(pixel[b]), COLORS[owner[b]], thickness, cv2.LINE_AA)
    for j in np.flatnonzero(seen):
        radius = thickness if owner[j] == "face" else 2 * thickness
        cv2.circle(frame, tuple(pixel[j]), radius, COLORS[owner[j]], -1, cv2.LINE_AA)
    return frame


def render(kp: Keypoints, path: str | Path, video: str | Path | None = None, width: int | None = None) -> int:
    """Write `kp` as an `.mp4` (OpenCV's mp4v codec) or `.gif` to `path`; returns the frames written.

    `video`: draw over this video instead of a blank canvas; it must have a frame for every keypoint
    frame. `width`: output width in pixels, height following the aspect ratio; by default the source
    size, at most `GIF_WIDTH` for a GIF (every GIF frame is held in memory and GIFs are for sharing).
    """
    path = Path(path)
    gif = path.suffix.lower() == ".gif"
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"cannot write {path.name}: the output must end in {' or '.join(FORMATS)}")
    if kp.num_frames == 0:
        raise ValueError("the keypoint file has no frames to draw")
    capture = None
    if video is not None:
        capture = cv2.VideoCapture(str(video))
        if not capture.isOpened():
            raise ValueError(f"cannot read video {video}")
        size = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    else:
        size = (kp.width, kp.height) if kp.width and kp.height else DEFAULT_SIZE
    width = width or (min(size[0], GIF_WIDTH) if gif else size[0])
    size = (width, max(1, round(size[1] * width / size[0])))
    fps = kp.fps or 25.0

    def frames():
        for i, points in enumerate(kp.points):
            if capture is None:
                canvas = np.full((size[1], size[0], 3), BACKGROUND, dtype=np.uint8)
            else:
                ok, canvas = capture.read()
                if not ok:
                    raise ValueError(f"video {video} has {i} frames but the keypoints have {kp.num_frames}")
                if canvas.shape[1::-1] != size:
                    canvas = cv2.resize(canvas, size, interpolation=cv2.INTER_AREA)
            yield draw(canvas, points, kp.parts)

    def write_gif(tmp: str) -> None:
        images = [Image.fromarray(cv2.cvtColor(f, cv2.COLOR_BGR2RGB)) for f in frames()]
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)

    def write_mp4(tmp: str) -> None:
        named = f"{tmp}.mp4"  # OpenCV picks the container from the file extension
        writer = cv2.VideoWriter(named, cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        try:
            if not writer.isOpened():
                raise OSError(f"OpenCV cannot write {path}")
            for frame in frames():
                writer.write(frame)
            writer.release()
            os.replace(named, tmp)
        finally:
            writer.release()
            Path(named).unlink(missing_ok=True)

    try:
        atomic_write(path, write_gif if gif else write_mp4)
    finally:
        if capture is not None:
            capture.release()
    return kp.num_frames

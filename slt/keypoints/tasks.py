"""Landmark extraction with MediaPipe Tasks' `HolisticLandmarker`, from a `holistic_landmarker.task` file.

MediaPipe's replacement for the legacy `mp.solutions.holistic` graph (`slt.keypoints.extract`), which
mediapipe 0.10.30 removed. Its model is a `.task` bundle that no wheel ships: the user gives it
(`slt preprocess --extractor tasks --model-asset FILE`), and each file's header records its name and
sha256 next to the extractor's. The keypoints follow the same schema as the legacy extractor's default
(pose and both hands); this module imports nothing of the legacy API, so it runs on mediapipe 1.x as well.
Face points are left out: with the only bundle that can be tested here (docs/mediapipe-tasks.md), the
landmarker's face mesh does not match the legacy one's, so its face output is unverified.

As with the legacy extractor, frames are stamped from their index at 30 per second (never from the
container), and every clip gets a landmarker of its own (0.5-1.5 s to make here), since a landmarker
cannot be reset: each clip's landmarks depend only on its own frames.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import mediapipe as mp
import numpy as np
from mediapipe.tasks.python import BaseOptions
from mediapipe.tasks.python.vision import HolisticLandmarker, HolisticLandmarkerOptions, RunningMode

from slt.keypoints import schema
from slt.keypoints.frames import ClipSource, FrameReader, native_logs_silenced
from slt.keypoints.io import Keypoints

EXTRACTOR = "mediapipe-tasks-holistic"
# Whether `HolisticLandmarker.detect_for_video` survives a frame without a hand: not in the Python wrapper of
# 0.10.21 and before (see `detect`); yes where the landmarker is MediaPipe's C API underneath (0.10.33 on,
# tested with 1.2.3). 0.10.30 to 0.10.32 have no HolisticLandmarker.
PUBLIC_DETECT_WORKS = schema.mediapipe_version() >= (0, 10, 30)
FRAME_MS = 1000 / 30  # the legacy graph's frame stamps, in milliseconds
# `HolisticLandmarkerResult`'s field (and the graph's output stream) for each landmark part.
RESULT_FIELDS = {"pose": "pose_landmarks", "left_hand": "left_hand_landmarks", "right_hand": "right_hand_landmarks"}


class TasksExtractor:
    """MediaPipe Tasks' HolisticLandmarker that turns clips into `Keypoints`, with the interface of
    `HolisticExtractor`. ValueError, one line, if `model_asset` is not a holistic landmarker bundle."""

    def __init__(self, model_asset: Path):
        try:
            model = Path(model_asset).read_bytes()
        except OSError as error:
            raise ValueError(f"cannot read --model-asset {model_asset}: {error.strerror or error}") from None
        self._options = HolisticLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=model), running_mode=RunningMode.VIDEO
        )
        try:  # made here once, so that a bad bundle is said before any clip
            HolisticLandmarker.create_from_options(self._options).close()
        except (RuntimeError, ValueError) as error:
            raise ValueError(
                f"--model-asset {model_asset} is not a MediaPipe holistic landmarker bundle "
                f"({str(error).strip().splitlines()[0]}); "
                "give holistic_landmarker.task from MediaPipe's Holistic landmarker page"
            ) from None
        self.parts = schema.DEFAULT_PARTS
        self.settings = {
            "model_asset": Path(model_asset).name,
            "model_asset_sha256": hashlib.sha256(model).hexdigest(),
            **{f.name: getattr(self._options, f.name) for f in dataclasses.fields(self._options) if f.name.startswith("min_")},
        }
        self._sizes = schema.part_sizes(self.parts)

    def __call__(
        self, clip: FrameReader | ClipSource | str | Path, on_frame: Callable[[], None] | None = None
    ) -> Keypoints:
        """Extract the landmarks of one clip; `on_frame()` is called after each frame (for progress)."""
        if not isinstance(clip, FrameReader):
            clip = FrameReader(clip if isinstance(clip, ClipSource) else ClipSource(Path(clip)))
        frames = []
        with HolisticLandmarker.create_from_options(self._options) as landmarker:
            for index, frame in enumerate(clip):
                image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame))
                found = detect(landmarker, image, round(index * FRAME_MS))
                frames.append(np.concatenate([self._rows(found[part], size) for part, size in self._sizes.items()]))
                if on_frame:
                    on_frame()
        joints = sum(self._sizes.values())
        points = np.stack(frames) if frames else np.empty((0, joints, 3), np.float32)
        info = {
            "source": str(clip.source.path),
            "extractor": EXTRACTOR,
            "extractor_version": version("mediapipe"),
            "settings": dict(self.settings),
        }
        if clip.source.start is not None:
            info["segment"] = {"start": clip.source.start, "end": clip.source.end}
        return Keypoints(points, clip.fps, self.parts, clip.width, clip.height, info)

    @staticmethod
    def _rows(landmarks, size: int) -> np.ndarray:
        """One part's `[size, 3]` landmarks, NaN where the landmarker did not find it."""
        if not landmarks:
            return np.full((size, 3), np.nan, np.float32)
        return np.array([(p.x, p.y, p.z) for p in landmarks[:size]], np.float32)

    def close(self) -> None:
        """Nothing to give back: each clip's landmarker is closed with it (the interface of `HolisticExtractor`)."""

    def __enter__(self) -> TasksExtractor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_model_asset(model_asset: Path) -> None:
    """ValueError, one line, unless `model_asset` loads as a holistic landmarker bundle; MediaPipe's own
    log lines are kept off stderr meanwhile."""
    with native_logs_silenced():
        TasksExtractor(model_asset).close()


def detect(landmarker: HolisticLandmarker, image: mp.Image, timestamp_ms: int) -> dict[str, list]:
    """Each part's landmarks in one video frame (an empty list where not found)."""
    if PUBLIC_DETECT_WORKS:
        result = landmarker.detect_for_video(image, timestamp_ms)
        return {part: getattr(result, field) for part, field in RESULT_FIELDS.items()}
    # mediapipe 0.10.21's `detect_for_video` checks only the face packet for emptiness and then reads every
    # other one: the process aborts (a failed C++ CHECK, not an exception) on the first frame without a hand,
    # and a frame without a face loses its pose and hands too. So read each output packet ourselves, through
    # the private method `detect_for_video` itself calls.
    from mediapipe.framework.formats import landmark_pb2
    from mediapipe.python import packet_creator, packet_getter

    packets = landmarker._process_video_data({"image_in": packet_creator.create_image(image).at(timestamp_ms * 1000)})
    found = {}
    for part, stream in RESULT_FIELDS.items():
        landmarks = landmark_pb2.NormalizedLandmarkList()
        if not packets[stream].is_empty():
            landmarks.MergeFrom(packet_getter.get_proto(packets[stream]))
        found[part] = landmarks.landmark
    return found

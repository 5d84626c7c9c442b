"""Landmark extraction with MediaPipe Holistic (the legacy `mp.solutions.holistic` graph).

Only `model_complexity=1` is supported: its pose model is the one whose weights ship inside the
mediapipe wheel, so extraction never downloads anything. The legacy graph stamps the i-th frame it is
given at i x 33,333 µs, so timestamps come from the frame index, never from the container; the graph
is reset before every clip, which makes each clip's landmarks depend only on its own frames: the same
clip gives the same numbers whatever was processed before it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import mediapipe as mp
import numpy as np

from slt.keypoints import schema
from slt.keypoints.frames import ClipSource, FrameReader
from slt.keypoints.io import Keypoints

EXTRACTOR = "mediapipe-holistic"
SUPPORTED_MODEL_COMPLEXITY = 1

# Holistic's result field for each landmark part.
RESULT_FIELDS = {
    "pose": "pose_landmarks",
    "left_hand": "left_hand_landmarks",
    "right_hand": "right_hand_landmarks",
    "face": "face_landmarks",
}


def check_model_complexity(model_complexity: int) -> None:
    if model_complexity != SUPPORTED_MODEL_COMPLEXITY:
        raise ValueError(
            f"model complexity {model_complexity} is not supported: only {SUPPORTED_MODEL_COMPLEXITY} works offline "
            "(mediapipe 0.10.21 ships only its weights; 0 and 2 would be downloaded at run time)"
        )


class HolisticExtractor:
    """One MediaPipe Holistic graph that turns clips into `Keypoints`, one clip after another.

    `face=True` adds the 468 face-mesh points after the pose and hand points.
    """

    def __init__(self, face: bool = False, model_complexity: int = SUPPORTED_MODEL_COMPLEXITY):
        check_model_complexity(model_complexity)
        self.parts = schema.DEFAULT_PARTS + (("face",) if face else ())
        self.settings = {
            "model_complexity": model_complexity,
            "smooth_landmarks": True,
            "refine_face_landmarks": False,
            "min_detection_confidence": 0.5,
            "min_tracking_confidence": 0.5,
        }
        self._holistic = mp.solutions.holistic.Holistic(static_image_mode=False, **self.settings)
        self._sizes = schema.part_sizes(self.parts)

    def __call__(
        self, clip: FrameReader | ClipSource | str | Path, on_frame: Callable[[], None] | None = None
    ) -> Keypoints:
        """Extract the landmarks of one clip; `on_frame()` is called after each frame (for progress).

        Pass an open `FrameReader` to see its `warnings`; a path or `ClipSource` is opened here.
        """
        reader = clip if isinstance(clip, FrameReader) else FrameReader(as_source(clip))
        source = reader.source
        self._holistic.reset()  # no tracking state from the previous clip
        frames = []
        for frame in reader:
            frames.append(self._landmarks(self._holistic.process(frame)))
            if on_frame:
                on_frame()
        joints = sum(self._sizes.values())
        points = np.stack(frames) if frames else np.empty((0, joints, 3), np.float32)
        info = {
            "source": str(source.path),
            "extractor": EXTRACTOR,
            "extractor_version": mp.__version__,
            "settings": dict(self.settings),
        }
        if source.start is not None:
            info["segment"] = {"start": source.start, "end": source.end}
        return Keypoints(points, reader.fps, self.parts, reader.width, reader.height, info)

    def _landmarks(self, results) -> np.ndarray:
        """One frame's `[J, 3]` landmarks, NaN for every part Holistic did not find."""
        rows = []
        for part, size in self._sizes.items():
            found = getattr(results, RESULT_FIELDS[part])
            if found is None:
                rows.append(np.full((size, 3), np.nan, np.float32))
            else:
                rows.append(np.array([(p.x, p.y, p.z) for p in found.landmark[:size]], np.float32))
        return np.concatenate(rows)

    def close(self) -> None:
        self._holistic.close()

    def __enter__(self) -> HolisticExtractor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def as_source(clip: ClipSource | str | Path) -> ClipSource:
    return clip if isinstance(clip, ClipSource) else ClipSource(Path(clip))


def extract(source: ClipSource | str | Path, face: bool = False, model_complexity: int = 1) -> Keypoints:
    """Extract one clip's landmarks with a fresh Holistic graph (for many clips keep a `HolisticExtractor`)."""
    with HolisticExtractor(face, model_complexity) as extractor:
        return extractor(source)

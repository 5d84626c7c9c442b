"""The landmark schema: which joints exist, their order, their skeleton and the on-disk columns.

Every array in `slt` follows one shape convention, `[frames, joints, coords]` with coords = (x, y, z)
as MediaPipe gives them: x and y normalized to the image width and height, z relative depth. Joints are
laid out part by part in `PARTS` order; a part that was not detected in a frame is NaN there.
"""

from __future__ import annotations

import importlib.util
import re
from importlib.metadata import version

import numpy as np

FORMAT_VERSION = 1

POSE = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)  # fmt: skip
HAND = (
    "wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_finger_mcp", "index_finger_pip", "index_finger_dip", "index_finger_tip",
    "middle_finger_mcp", "middle_finger_pip", "middle_finger_dip", "middle_finger_tip",
    "ring_finger_mcp", "ring_finger_pip", "ring_finger_dip", "ring_finger_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)  # fmt: skip
FACE_SIZE = 468  # MediaPipe face mesh without iris refinement

# Bones as pairs of landmark indices within a part (MediaPipe's POSE_CONNECTIONS / HAND_CONNECTIONS).
POSE_EDGES = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13),
    (13, 15), (15, 17), (15, 19), (15, 21), (17, 19), (12, 14), (14, 16), (16, 18), (16, 20), (16, 22),
    (18, 20), (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28), (27, 29), (28, 30),
    (29, 31), (30, 32), (27, 31), (28, 32),
)  # fmt: skip
HAND_EDGES = (
    (0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11),
    (11, 12), (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19), (19, 20),
)  # fmt: skip

# Part name -> (landmark names, bones). The face mesh has no bones here: its 2,700 tessellation
# edges add nothing a graph over the body and hands needs, so face points are drawn as dots.
PART_SPECS: dict[str, tuple[tuple[str, ...], tuple[tuple[int, int], ...]]] = {
    "pose": (POSE, POSE_EDGES),
    "left_hand": (HAND, HAND_EDGES),
    "right_hand": (HAND, HAND_EDGES),
    "face": (tuple(f"face_{i}" for i in range(FACE_SIZE)), ()),
}
PARTS = tuple(PART_SPECS)  # canonical order on disk and in memory
DEFAULT_PARTS = ("pose", "left_hand", "right_hand")

# Pose joints that hand off to the hand parts: MediaPipe's pose wrist and the hand's own wrist
# (hand landmark 0) are the same body point.
POSE_WRIST = {"left_hand": POSE.index("left_wrist"), "right_hand": POSE.index("right_wrist")}

# Columns of a keypoint Parquet file (the long layout of Kaggle's ISLR landmark files).
COLUMNS = ("frame", "type", "landmark_index", "x", "y", "z")
METADATA_KEY = b"slt"

# MediaPipe Holistic's pose model size: only 1 has its weights inside the mediapipe wheel. Checked here,
# without importing MediaPipe, so that `slt preprocess` can refuse another before it starts any worker.
SUPPORTED_MODEL_COMPLEXITY = 1


def check_parts(parts: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Return `parts` in canonical order, raising ValueError on an unknown or repeated name."""
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(f"unknown landmark part(s) {unknown}; known parts are {list(PARTS)}")
    if len(set(parts)) != len(parts):
        raise ValueError(f"landmark parts repeated in {list(parts)}")
    return tuple(p for p in PARTS if p in parts)


def mediapipe_version() -> tuple[int, ...]:
    """The installed mediapipe's release, as (major, minor, patch), read without importing it."""
    return tuple(int(n) for n in re.findall(r"\d+", version("mediapipe"))[:3])


def check_extractor(tasks: bool = False) -> None:
    """ValueError, one line, where MediaPipe is not installed (the keypoint-only install) or, unless `tasks`
    (the Tasks extractor), is a release without the legacy Holistic graph: said before any video is
    opened, without importing it."""
    if importlib.util.find_spec("mediapipe") is None:
        raise ValueError(
            "keypoints from videos and frames need MediaPipe, which is not installed: pip install 'slt[extract]' "
            "(Python 3.10-3.12); keypoint files (.parquet, .pose) need nothing more"
        )
    if not tasks and mediapipe_version() >= (0, 10, 30):
        raise ValueError(
            f"mediapipe {version('mediapipe')} has no legacy Holistic graph (0.10.30 removed it): pip install "
            "'slt[extract]' for mediapipe 0.10.21, or extract with slt preprocess --extractor tasks --model-asset "
            "holistic_landmarker.task"
        )


def check_model_complexity(model_complexity: int) -> None:
    if model_complexity != SUPPORTED_MODEL_COMPLEXITY:
        raise ValueError(
            f"model complexity {model_complexity} is not supported: only {SUPPORTED_MODEL_COMPLEXITY} works offline "
            "(mediapipe 0.10.21 ships only its weights; 0 and 2 would be downloaded at run time)"
        )


def part_sizes(parts: tuple[str, ...]) -> dict[str, int]:
    return {p: len(PART_SPECS[p][0]) for p in parts}


def part_slices(parts: tuple[str, ...]) -> dict[str, slice]:
    """Where each part's joints sit along the joint axis of a `[T, J, 3]` array."""
    slices, start = {}, 0
    for p, n in part_sizes(parts).items():
        slices[p] = slice(start, start + n)
        start += n
    return slices


def joint_names(parts: tuple[str, ...]) -> list[str]:
    return [f"{p}.{name}" for p in parts for name in PART_SPECS[p][0]]


def edges(parts: tuple[str, ...]) -> np.ndarray:
    """Skeleton bones over the joint axis of `parts`, as an `[E, 2]` int array.

    The hands are attached to the pose wrists when both are present, so the graph is connected.
    """
    slices = part_slices(parts)
    pairs = [(slices[p].start + a, slices[p].start + b) for p in parts for a, b in PART_SPECS[p][1]]
    if "pose" in slices:
        for hand, wrist in POSE_WRIST.items():
            if hand in slices:
                pairs.append((slices["pose"].start + wrist, slices[hand].start))
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)

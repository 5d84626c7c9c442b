"""Plausible synthetic MediaPipe clips for the data tests: a signer from the waist up moving both hands."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from slt.keypoints import schema
from slt.keypoints.io import Keypoints, write_parquet

# Rest pose in image coordinates (x right, y down), a signer centred in a portrait frame.
# A right-handed signer at rest: the right arm held higher (slt.data.normalize.left_handed).
POSE_REST = {
    "nose": (0.50, 0.20), "left_eye_inner": (0.48, 0.18), "left_eye": (0.47, 0.18), "left_eye_outer": (0.46, 0.18),
    "right_eye_inner": (0.52, 0.18), "right_eye": (0.53, 0.18), "right_eye_outer": (0.54, 0.18),
    "left_ear": (0.44, 0.19), "right_ear": (0.56, 0.19), "mouth_left": (0.48, 0.23), "mouth_right": (0.52, 0.23),
    "left_shoulder": (0.38, 0.35), "right_shoulder": (0.62, 0.35), "left_elbow": (0.34, 0.50),
    "right_elbow": (0.66, 0.44), "left_wrist": (0.40, 0.62), "right_wrist": (0.60, 0.50),
    "left_pinky": (0.41, 0.66), "right_pinky": (0.59, 0.54), "left_index": (0.42, 0.66), "right_index": (0.58, 0.54),
    "left_thumb": (0.43, 0.64), "right_thumb": (0.57, 0.52), "left_hip": (0.42, 0.80), "right_hip": (0.58, 0.80),
    "left_knee": (0.42, 1.05), "right_knee": (0.58, 1.05), "left_ankle": (0.42, 1.30), "right_ankle": (0.58, 1.30),
    "left_heel": (0.42, 1.33), "right_heel": (0.58, 1.33), "left_foot_index": (0.42, 1.36), "right_foot_index": (0.58, 1.36),
}  # fmt: skip


def hand_shape(rng: np.random.Generator) -> np.ndarray:
    """`[21, 3]` offsets of a hand's landmarks from its wrist: five fingers fanning upwards."""
    offsets = np.zeros((21, 3), np.float32)
    for finger in range(5):
        angle = np.deg2rad(-60 + 30 * finger) + rng.normal(0, 0.1)
        for joint in range(4):
            reach = 0.025 * (joint + 1) + 0.01
            offsets[1 + 4 * finger + joint] = (reach * np.sin(angle), -reach * np.cos(angle), -0.01 * joint)
    return offsets


def synthetic_clip(frames: int, seed: int = 0, hand_dropout: float = 0.1) -> np.ndarray:
    """`[frames, 75, 3]` float32 points (pose, left hand, right hand) with NaN where a hand is lost."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None]
    pose = np.zeros((frames, len(schema.POSE), 3), np.float32)
    pose[:, :, :2] = [POSE_REST[name] for name in schema.POSE]
    pose[:, :, 2] = rng.normal(0, 0.05, len(schema.POSE))
    for side, phase in (("left", 0.0), ("right", 1.5)):
        motion = 0.08 * np.hstack([np.sin(t / 7 + phase), np.cos(t / 5 + phase)])
        for joint in ("wrist", "pinky", "index", "thumb"):
            pose[:, schema.POSE.index(f"{side}_{joint}"), :2] += motion
        pose[:, schema.POSE.index(f"{side}_elbow"), :2] += motion / 2
    pose += rng.normal(0, 0.002, pose.shape).astype(np.float32)
    hands = []
    for side in ("left", "right"):
        wrist = pose[:, schema.POSE.index(f"{side}_wrist")]
        hand = wrist[:, None, :] + hand_shape(rng)[None] + rng.normal(0, 0.002, (frames, 21, 3)).astype(np.float32)
        hand[:, :, 2] = hand[:, :, 2] - wrist[:, None, 2]  # MediaPipe hand depth is relative to the wrist
        hand[rng.random(frames) < hand_dropout] = np.nan
        hands.append(hand)
    return np.concatenate([pose, *hands], axis=1).astype(np.float32)


def write_clip(path: Path, frames: int, seed: int = 0, with_face: bool = False) -> Keypoints:
    """Write a synthetic clip (optionally with a face mesh) to `path` as keypoint Parquet."""
    points = synthetic_clip(frames, seed)
    parts = schema.DEFAULT_PARTS
    if with_face:
        face = np.random.default_rng(seed).uniform(0.45, 0.55, (frames, schema.FACE_SIZE, 3)).astype(np.float32)
        points, parts = np.concatenate([points, face], axis=1), schema.PARTS
    kp = Keypoints(points, fps=25.0, parts=parts, width=720, height=1280)
    write_parquet(kp, path)
    return kp

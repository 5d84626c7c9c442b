"""Train-time augmentation of keypoint clips; the dataset applies it only when given a config.

It works on the body-frame coordinates of `Normalizer.transform` (origin at the shoulder midpoint,
one unit = one shoulder width, NaN = not detected), after normalization and before the feature
channels are built. Before normalization, scaling and translating would be undone by it; here they
model what normalization cannot remove (a misplaced shoulder reference, a signer closer to the
camera), rotation turns about the shoulders rather than an image corner, and the hand offsets and
mask channels are derived afterwards, so they always agree with the augmented points.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass
class AugmentConfig:
    """Ranges of the random transforms; 0 turns a transform off."""

    rotation: float = 15.0  # degrees, in the image plane, uniform in [-r, r]
    scale: float = 0.15  # factor uniform in [1 - s, 1 + s]
    shear: float = 0.15  # x += k * y and y += k' * x, k and k' uniform in [-s, s]
    translation: float = 0.1  # shoulder widths, per axis uniform in [-t, t]
    speed: float = 0.2  # playback speed uniform in [1 - s, 1 + s], by resampling frames
    frame_drop: float = 0.05  # probability that each frame is dropped
    joint_noise: float = 0.01  # standard deviation of per-point noise, in shoulder widths
    hand_drop: float = 0.2  # probability, per hand, that it goes missing for a stretch of frames
    hand_drop_frames: int = 8  # longest such stretch

    def __post_init__(self):
        # (key, lowest, highest, highest allowed): checked when a config is read, not at the first batch.
        inf = float("inf")
        ranges = [("rotation", 0, 180, True), ("scale", 0, 1, False), ("shear", 0, inf, False), ("translation", 0, inf, False),
                  ("speed", 0, 1, False), ("frame_drop", 0, 1, False), ("joint_noise", 0, inf, False), ("hand_drop", 0, 1, True),
                  ("hand_drop_frames", 0, inf, False)]  # fmt: skip
        for key, low, high, closed in ranges:
            value = getattr(self, key)
            number = isinstance(value, int if key == "hand_drop_frames" else (int, float)) and not isinstance(value, bool)
            if not number or not (low <= value <= high if closed else low <= value < high):
                kind = "an integer" if key == "hand_drop_frames" else "a number"
                raise ValueError(f"data.augment.{key} must be {kind} in [{low}, {high}{']' if closed else ')'}, got {value!r}")


def augment(body: np.ndarray, config: AugmentConfig, rng: np.random.Generator, hands: Iterable[np.ndarray]) -> np.ndarray:
    """A randomly transformed copy of `body` `[T, J, D]` (D = 2 or 3; NaN = missing).

    `hands` lists the joint indices of each hand, for the hand dropouts. The clip length may change
    (speed, frame drop) but never reaches 0 frames.
    """
    # Time first: speed change by nearest-frame resampling (keeps every frame a real detection),
    # then random frame drop.
    frames = len(body)
    speed = rng.uniform(1 - config.speed, 1 + config.speed)
    index = np.round(np.linspace(0, frames - 1, max(1, round(frames / speed)))).astype(int)
    kept = index[rng.random(len(index)) >= config.frame_drop]
    body = body[kept if len(kept) else index[:1]].copy()

    # Space: one affine map of the image plane for the whole clip, then independent joint noise.
    angle = np.deg2rad(rng.uniform(-config.rotation, config.rotation))
    rotate = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shear = np.array([[1.0, rng.uniform(-config.shear, config.shear)], [rng.uniform(-config.shear, config.shear), 1.0]])
    linear = rotate @ shear * rng.uniform(1 - config.scale, 1 + config.scale)
    shift = rng.uniform(-config.translation, config.translation, size=2)
    body[..., :2] = body[..., :2] @ linear.T.astype(np.float32) + shift.astype(np.float32)
    body += rng.normal(0.0, config.joint_noise, size=body.shape).astype(np.float32)

    # A hand that the detector loses for a few frames, as MediaPipe does in fast motion.
    for joints in hands:
        if config.hand_drop_frames > 0 and rng.random() < config.hand_drop:
            span = rng.integers(1, config.hand_drop_frames + 1)
            start = rng.integers(0, max(1, len(body) - span + 1))
            body[start : start + span, joints] = np.nan
    return body

"""Keypoint normalization: from MediaPipe image coordinates to the model's input features.

Two steps, kept apart so the dataset can cache the first and augment between them:

1. `Normalizer.transform`: `[T, 75, 3]` image coordinates (NaN = not detected) -> `[T, J', D]` body
   frame: origin at the shoulder midpoint, one unit = one shoulder width, only the kept joints,
   NaN kept.
2. `Normalizer.features`: body frame -> `[T, J', C]` model input: the body-frame coordinates, for hand
   joints also their offset from the hand's own wrist (handshape apart from where the hand is; with
   `hand_scale`, in units of the hand's size), and a mask channel (1 = detected); missing points are 0.

The shoulder reference is one per clip, the median over the frames where both shoulders were
detected, not one per frame: a per-frame reference would cancel the signer's own body movement
(leaning, turning, shrugging are part of signing), pass shoulder jitter on to every joint of the
frame, and leave frames without a pose with no reference at all. The camera does not move within a
clip, so one reference loses nothing, and the median ignores the odd frame where a shoulder is
misplaced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slt.keypoints import schema
from slt.keypoints.io import Keypoints

PARTS = schema.DEFAULT_PARTS
LEFT_SHOULDER = schema.POSE.index("left_shoulder")
RIGHT_SHOULDER = schema.POSE.index("right_shoulder")
LEFT_WRIST = schema.POSE.index("left_wrist")
RIGHT_WRIST = schema.POSE.index("right_wrist")
MIDDLE_KNUCKLE = schema.HAND.index("middle_finger_mcp")
FIRST_LOWER_BODY = schema.POSE.index("left_hip")  # pose joints from here on are hips and legs
# Used only when a clip never shows both shoulders: a signer filmed from the waist up is about this
# many image heights wide at the shoulders.
FALLBACK_SHOULDER_WIDTH = 0.3


@dataclass
class NormalizeConfig:
    """How keypoints become features; saved with a run so inference normalizes identically."""

    upper_body: bool = True  # drop the hip and leg joints, rarely visible and never meaningful in signing
    hand_offsets: bool = True  # add each hand joint's offset from its wrist as extra channels
    # Measure those offsets in units of the hand's own size (`hand_size`) rather than of shoulder width:
    # a handshape then reads the same for a small and a large hand.
    hand_scale: bool = False
    # MediaPipe's z is a monocular depth guess, far noisier than x and y, so it is left out unless
    # asked for; then pose depth is taken from the shoulder midpoint, hand depth from the hand's wrist.
    use_z: bool = False
    # Mirror a clip whose left hand leads (`left_handed`): swap left and right and flip x, so that a
    # left-handed signer's signs look like a right-handed signer's. Runs saved before this existed load
    # with it off (`slt.run.load_config`), as they were trained.
    mirror_left_handed: bool = True

    def __post_init__(self):
        for key, value in vars(self).items():
            if not isinstance(value, bool):
                raise ValueError(f"data.normalize.{key} must be true or false, got {value!r}")


class Normalizer:
    """Turns `[T, 75, 3]` MediaPipe points (pose, left hand, right hand) into `[T, J', C]` features.

    `joints`: the input joints kept, in output order; `hands`: each hand's positions in the output,
    wrist first; `dims`: coordinates per point (2, or 3 with `use_z`). Channels are the `dims`
    body-frame coordinates, then (with `hand_offsets`) the `dims` offsets from the wrist, then the mask.
    """

    def __init__(self, config: NormalizeConfig | None = None):
        self.config = config or NormalizeConfig()
        slices = schema.part_slices(PARTS)
        pose_kept = FIRST_LOWER_BODY if self.config.upper_body else len(schema.POSE)
        self.joints = np.r_[np.arange(pose_kept), np.arange(slices["left_hand"].start, slices["right_hand"].stop)]
        # Positions of each hand's joints and wrist among the kept joints (they follow the pose).
        hand_size = len(schema.HAND)
        self.hands = {
            hand: np.arange(pose_kept + i * hand_size, pose_kept + (i + 1) * hand_size)
            for i, hand in enumerate(("left_hand", "right_hand"))
        }
        self.dims = 3 if self.config.use_z else 2
        # The kept joints in mirrored order: each pose joint's left/right twin, and the two hands swapped.
        pose = schema.POSE[:pose_kept]
        twin = {"left": "right", "right": "left"}
        swapped = ["_".join(twin.get(word, word) for word in name.split("_")) for name in pose]
        self.mirrored = np.r_[[pose.index(name) for name in swapped], self.hands["right_hand"], self.hands["left_hand"]]

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def num_channels(self) -> int:
        return self.dims * (2 if self.config.hand_offsets else 1) + 1

    def edges(self) -> np.ndarray:
        """Skeleton bones over the kept joints, `[E, 2]` int64 (hands attached to the pose wrists)."""
        new_index = np.full(sum(schema.part_sizes(PARTS).values()), -1)
        new_index[self.joints] = np.arange(self.num_joints)
        pairs = new_index[schema.edges(PARTS)]
        return pairs[(pairs >= 0).all(axis=1)]

    def __call__(self, points: np.ndarray | Keypoints, aspect: float = 1.0) -> np.ndarray:
        """Features `[T, J', C]` float32 of one clip: `points` `[T, 75, 3]` or a `Keypoints` clip.

        `aspect` is the video's width / height (taken from a `Keypoints` clip when known): MediaPipe
        scales x by the width and y by the height, so without it a rotation would shear.
        """
        if isinstance(points, Keypoints):
            aspect = clip_aspect(points)
            points = points.select(PARTS).points
        return self.features(self.transform(points, aspect))

    def transform(self, points: np.ndarray, aspect: float = 1.0) -> np.ndarray:
        """Body-frame coordinates `[T, J', D]` float32 of the kept joints; NaN where not detected."""
        expected = sum(schema.part_sizes(PARTS).values())
        if points.ndim != 3 or points.shape[1:] != (expected, 3):
            raise ValueError(f"expected points [frames, {expected}, 3] for parts {PARTS}, got {points.shape}")
        # Image units -> units of the image height on every axis (MediaPipe's z follows x's scale).
        points = points[:, self.joints, : self.dims] * np.array([aspect, 1.0, aspect][: self.dims], np.float32)
        center, width = self._reference(points)
        origin = np.tile(center, (self.num_joints, 1))
        if self.config.use_z:
            hands = np.concatenate(list(self.hands.values()))
            origin[hands, 2] = 0  # MediaPipe measures a hand's depth from its own wrist already
        body = ((points - origin) / width).astype(np.float32)
        if self.config.mirror_left_handed and left_handed(body):
            body = body[:, self.mirrored] * np.array([-1, 1, 1][: self.dims], np.float32)
        return body

    def _reference(self, points: np.ndarray) -> tuple[np.ndarray, float]:
        """The clip's shoulder midpoint `[D]` and shoulder width (see the module docstring)."""
        left, right = points[:, LEFT_SHOULDER], points[:, RIGHT_SHOULDER]
        both = np.isfinite(left).all(axis=1) & np.isfinite(right).all(axis=1)
        if both.any():
            center = np.median((left[both] + right[both]) / 2, axis=0)
            width = float(np.median(np.linalg.norm((left[both] - right[both])[:, :2], axis=1)))
            if width > 0:
                return center, width
        detected = points[np.isfinite(points).all(axis=2)]
        center = np.median(detected, axis=0) if len(detected) else np.zeros(self.dims)
        return center, FALLBACK_SHOULDER_WIDTH

    def features(self, body: np.ndarray) -> np.ndarray:
        """Model input `[T, J', C]` float32 from body-frame coordinates `[T, J', D]` (NaN = missing)."""
        detected = np.isfinite(body).all(axis=2, keepdims=True)
        channels = [body]
        if self.config.hand_offsets:
            offsets = np.full_like(body, np.nan)
            for joints in self.hands.values():
                offsets[:, joints] = body[:, joints] - body[:, joints[:1]]
                if self.config.hand_scale:
                    offsets[:, joints] /= hand_size(offsets[:, joints])
            channels.append(offsets)
        channels.append(detected.astype(np.float32))
        out = np.concatenate(channels, axis=2)
        return np.where(np.isfinite(out) & detected, out, 0.0).astype(np.float32)


def hand_size(offsets: np.ndarray) -> float:
    """A hand's size in a clip, from its joints' offsets from the wrist `[T, 21, D]` (NaN = not detected): the
    90th percentile of the wrist-to-middle-knuckle length in the image plane, since a palm turned away from
    the camera looks shorter, never longer. 1.0 when the hand is never seen."""
    lengths = np.linalg.norm(offsets[:, MIDDLE_KNUCKLE, :2], axis=1)
    lengths = lengths[np.isfinite(lengths) & (lengths > 0)]
    return float(np.percentile(lengths, 90)) if len(lengths) else 1.0


def left_handed(body: np.ndarray) -> bool:
    """Whether a clip's signer leads with the left hand (body frame `[T, J', D]`, y pointing down): its left
    wrist is held higher on average. The dominant hand signs in front of the chest while the other rests
    or serves as a base lower down; how far each wrist travels does not tell them apart, since two-handed
    signs move both (on the realistic built-in corpus, 396 of 400 clips right by height, 293 by travel)."""
    left, right = body[:, LEFT_WRIST, 1], body[:, RIGHT_WRIST, 1]
    if not (np.isfinite(left).any() and np.isfinite(right).any()):  # a wrist never seen: nothing to compare
        return False
    return bool(np.nanmean(left) < np.nanmean(right))


def clip_aspect(kp: Keypoints) -> float:
    """Width / height of the clip's video, 1.0 when unknown."""
    return kp.width / kp.height if kp.width and kp.height else 1.0

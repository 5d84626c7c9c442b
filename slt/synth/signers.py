"""The signers: synthetic people who perform sign motions and are rendered as MediaPipe landmarks.

A clip chains signs with eased transitions between rest poses (cross-faded into each other in the
`realistic` `Style`); each `Signer` has their own body size, framing, speed, jitter and habits, a `Camera`
may frame each clip anew, and hand detections drop out for a few frames now and then, as MediaPipe's do.
Points are MediaPipe's normalized image coordinates at `FPS`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from slt.keypoints import schema
from slt.synth.motion import FLEX, POS, REST, ROT, SPREAD, SignMotion

FPS = 25.0

# Where each pose landmark sits in body units; arms and hand-linked points are overwritten per frame.
POSE_TEMPLATE = np.array([
    (0, -0.55, -0.3), (0.05, -0.63, -0.28), (0.09, -0.64, -0.28), (0.13, -0.63, -0.27), (-0.05, -0.63, -0.28),
    (-0.09, -0.64, -0.28), (-0.13, -0.63, -0.27), (0.19, -0.6, -0.1), (-0.19, -0.6, -0.1), (0.06, -0.45, -0.27),
    (-0.06, -0.45, -0.27), (0.5, 0, 0), (-0.5, 0, 0), (0.6, 0.7, 0), (-0.6, 0.7, 0), (0.6, 1.3, 0),
    (-0.6, 1.3, 0), (0.6, 1.4, 0), (-0.6, 1.4, 0), (0.6, 1.4, 0), (-0.6, 1.4, 0), (0.6, 1.4, 0),
    (-0.6, 1.4, 0), (0.3, 1.35, 0), (-0.3, 1.35, 0), (0.32, 2.3, 0), (-0.32, 2.3, 0), (0.33, 3.2, 0.1),
    (-0.33, 3.2, 0.1), (0.35, 3.28, 0.15), (-0.35, 3.28, 0.15), (0.3, 3.35, -0.15), (-0.3, 3.35, -0.15),
])  # fmt: skip
FACE_JOINTS = slice(0, 11)
NECK = np.array([0.0, -0.25, 0.0])

# Hand geometry for a right hand, fingers up, palm to the camera, wrist at 0, palm length 1:
# knuckle position, spread direction, and three segment lengths per finger; the thumb starts at its CMC.
FINGERS = (
    ((0.22, -0.25, -0.05), 0.9, (0.4, 0.33, 0.3)),  # thumb
    ((0.3, -0.95, 0), 0.25, (0.45, 0.28, 0.22)),
    ((0.1, -1.0, 0), 0.05, (0.5, 0.3, 0.23)),
    ((-0.1, -0.95, 0), -0.15, (0.47, 0.29, 0.22)),
    ((-0.28, -0.85, 0), -0.35, (0.37, 0.22, 0.2)),
)
BEND = np.radians([(35, 35, 40), (85, 95, 60), (85, 95, 60), (85, 95, 60), (85, 95, 60)])


def _rotation(euler: np.ndarray) -> np.ndarray:
    """`[T, 3]` (yaw, pitch, roll) -> `[T, 3, 3]` rotation matrices R_y @ R_x @ R_z."""
    (cy, cx, cz), (sy, sx, sz) = np.cos(euler).T, np.sin(euler).T
    one, zero = np.ones_like(cy), np.zeros_like(cy)
    ry = np.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], 1).reshape(-1, 3, 3)
    rx = np.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], 1).reshape(-1, 3, 3)
    rz = np.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], 1).reshape(-1, 3, 3)
    return ry @ rx @ rz


def hand_points(states: np.ndarray, palm: float) -> np.ndarray:
    """Forward kinematics: `[T, 12]` hand states -> `[T, 21, 3]` landmarks in body units (own side)."""
    frames = len(states)
    local = np.zeros((frames, 21, 3))
    palm_normal = np.array([0.0, 0.0, -1.0])  # fingers curl toward the palm, i.e. toward the camera
    for f, (knuckle, spread, lengths) in enumerate(FINGERS):
        angle = spread * (0.3 + 0.7 * states[:, SPREAD]) if f == 0 else spread * states[:, SPREAD]
        straight = np.stack([np.sin(angle), -np.cos(angle), np.zeros(frames)], 1)
        curl = palm_normal if f else np.array([-0.6, -0.1, -0.8])
        point = np.tile(np.asarray(knuckle, dtype=np.float64), (frames, 1))
        local[:, 1 + 4 * f] = point
        theta = np.zeros(frames)
        for k, length in enumerate(lengths):
            theta = theta + states[:, FLEX.start + f] * BEND[f, k]
            direction = np.cos(theta)[:, None] * straight + np.sin(theta)[:, None] * curl
            point = point + length * direction / np.linalg.norm(direction, axis=1, keepdims=True)
            local[:, 2 + 4 * f + k] = point
    rotated = np.einsum("tij,tnj->tni", _rotation(states[:, ROT]), local)
    return states[:, None, POS] + palm * rotated


def _elbow(shoulder: np.ndarray, wrist: np.ndarray, length: float, side: float) -> np.ndarray:
    """Two-bone inverse kinematics: the elbow of an arm with equal upper arm and forearm `length`,
    bent down, out to `side` and back, as a relaxed arm is."""
    reach = wrist - shoulder
    dist = np.linalg.norm(reach, axis=1, keepdims=True)
    along = reach / np.maximum(dist, 1e-6)
    half = np.minimum(dist / 2, length * 0.999)
    prefer = np.array([0.6 * side, 1.0, 0.4])
    bend = prefer - (along @ prefer)[:, None] * along
    bend /= np.linalg.norm(bend, axis=1, keepdims=True)
    return shoulder + along * half + bend * np.sqrt(length**2 - half**2)


@dataclass(frozen=True)
class Style:
    """How far a corpus departs from citation-form signing by one careful signer.

    `clean` (the toy corpus's default): every sign is made as listed, with eased transitions between signs,
    and signers differ only in size, framing, speed and jitter. `realistic` (`--from-table`'s default) adds
    what makes real corpora hard for a recognizer: coarticulation (signs shortened and cross-faded into
    their neighbours), per-signer habits (lax or biased handshapes, a shifted and scaled signing space,
    turned palms, a wider range of speeds and body proportions), a camera framed anew for each clip
    (distance, position, roll), left-handed signers, more landmark noise and more hand dropouts.
    """

    coarticulation: float = 0.0  # fraction of each sign cross-faded with its neighbour; signs shortened up to it
    habits: float = 0.0  # scale of each signer's own biases (handshape, location, orientation, signing space)
    framing: float = 0.0  # scale of the per-clip camera changes (distance, position, roll)
    left_handed_every: int = 0  # the 4th, 14th, ... signer (in name order) is left-handed when 10; 0: none
    noise: float = 1.0  # landmark jitter multiplier
    dropouts: float = 1.0  # hand-dropout multiplier


STYLES = {
    "clean": Style(),
    "realistic": Style(coarticulation=0.35, habits=1.0, framing=1.0, left_handed_every=10, noise=2.0, dropouts=2.5),
}


@dataclass(frozen=True)
class Signer:
    """One synthetic person in front of one camera."""

    name: str
    width: int
    height: int
    center: tuple[float, float]  # shoulder midpoint, pixels
    shoulder_width: float  # pixels
    palm: float  # palm length / shoulder width
    arm: float  # upper arm (= forearm) length / shoulder width
    head: float  # head size factor
    speed: float  # > 1 signs faster
    jitter: float  # landmark noise, in normalized image units
    dropouts: float  # expected hand-detection gaps per hand per clip
    # Habits (realistic style; zero in the clean one): added to every hand state, in the dominant hand's terms.
    left_handed: bool = False
    flex_bias: tuple[float, ...] = (0.0,) * 5  # finger flexion offsets (thumb..pinky)
    lax: float = 0.0  # pull of every flexion towards half-bent
    location_bias: tuple[float, float, float] = (0.0, 0.0, 0.0)  # body units
    rotation_bias: tuple[float, float, float] = (0.0, 0.0, 0.0)  # radians (yaw, pitch, roll)
    space: float = 1.0  # size of the signing space: movement amplitude factor

    @classmethod
    def random(cls, name: str, rng: np.random.Generator, style: Style = STYLES["clean"], left_handed: bool = False) -> Signer:
        width, height = [(1280, 720), (1920, 1080), (960, 720), (640, 480)][rng.integers(4)]
        shoulder = height * rng.uniform(0.28, 0.4)
        signer = cls(
            name, width, height,
            center=(width * rng.uniform(0.42, 0.58), height * rng.uniform(0.36, 0.45)),
            shoulder_width=float(shoulder), palm=float(rng.uniform(0.21, 0.26)), arm=float(rng.uniform(0.7, 0.8)),
            head=float(rng.uniform(0.9, 1.1)), speed=float(rng.uniform(0.85, 1.2)),
            jitter=float(rng.uniform(0.001, 0.003)) * style.noise, dropouts=float(rng.uniform(0.2, 0.8)) * style.dropouts,
            left_handed=left_handed,
        )  # fmt: skip
        if not style.habits:  # drawn after the clean fields, so a clean corpus is the same as ever
            return signer
        h = style.habits
        return dataclasses.replace(
            signer,
            palm=signer.palm * float(rng.uniform(1 - 0.15 * h, 1 + 0.15 * h)),
            arm=signer.arm * float(rng.uniform(1 - 0.1 * h, 1 + 0.1 * h)),
            speed=signer.speed * float(rng.uniform(1 - 0.15 * h, 1 + 0.15 * h)),
            flex_bias=tuple(rng.normal(0.0, 0.12 * h, 5).round(4)),
            lax=float(rng.uniform(0.0, 0.25 * h)),
            location_bias=tuple(rng.normal(0.0, 0.08 * h, 3).round(4)),
            rotation_bias=tuple(rng.normal(0.0, 0.15 * h, 3).round(4)),
            space=float(rng.uniform(1 - 0.2 * h, 1 + 0.2 * h)),
        )

    def habitual(self, states: np.ndarray) -> np.ndarray:
        """Hand states `[T, 2, 12]` as this signer makes them: biases added, the dominant hand on its side."""
        if self.lax or any(self.flex_bias) or any(self.location_bias) or any(self.rotation_bias):
            states = states.copy()
            states[..., POS] += self.location_bias
            states[..., ROT] += self.rotation_bias
            flex = (1 - self.lax) * states[..., FLEX] + self.lax * 0.5 + np.asarray(self.flex_bias)
            states[..., FLEX] = np.clip(flex, 0.0, 1.0)
        # Each hand's state is in its own side's coordinates, so swapping the hands mirrors the signing.
        return states[:, ::-1] if self.left_handed else states


def perform(signs: list[SignMotion], signer: Signer, rng: np.random.Generator, style: Style = STYLES["clean"],
            habits: np.random.Generator | None = None) -> np.ndarray:  # fmt: skip
    """A clip of `signer` signing `signs` from rest to rest: `[T, 2, 12]` hand states per frame.

    `habits` draws the realistic style's per-sign variation (shortening, cross-fade), apart from `rng`, so
    that a clean clip is the same as ever.
    """

    def rest() -> np.ndarray:
        frames = int(rng.integers(3, 7)) + (int(habits.integers(5, 16)) if style.coarticulation else 0)
        return np.tile(np.stack([REST, REST]), (frames, 1, 1))

    def sign(motion: SignMotion) -> np.ndarray:
        n = motion.frames * rng.uniform(0.9, 1.1) / signer.speed
        if style.coarticulation:  # signs in running signing are shorter than citation forms
            n *= habits.uniform(1 - style.coarticulation, 1.0)
        amplitude = rng.uniform(0.85, 1.15) * signer.space
        states = motion.states(max(5, round(n)), amplitude=amplitude, offset=rng.normal(0.0, 0.03, 3))
        if style.coarticulation:  # the sign's final posture is held a moment (movement-hold phonology)
            states = np.concatenate([states, np.repeat(states[-1:], habits.integers(2, 8), axis=0)])
        return states

    segments = [rest()]
    for target in [*(sign(m) for m in signs), rest()]:
        steps = max(3, round(rng.integers(4, 7) / signer.speed))
        if style.coarticulation:
            # The end of the previous segment and the start of this one are made at once: a cross-fade
            # over a share of both replaces the transition through the space between them.
            previous = segments.pop()
            overlap = min(len(previous) // 2, len(target) // 2, max(1, round(habits.uniform(0.5, 1.0) * style.coarticulation * len(target))))
            w = np.linspace(0, 1, overlap + 2)[1:-1, None, None]
            w = w * w * (3 - 2 * w)
            segments += [previous[:-overlap], (1 - w) * previous[-overlap:] + w * target[:overlap], target[overlap:]]
            continue
        w = np.linspace(0, 1, steps + 2)[1:-1, None, None]
        w = w * w * (3 - 2 * w)  # ease in and out of the transition
        segments += [(1 - w) * segments[-1][-1] + w * target[0], target]
    return signer.habitual(np.concatenate(segments))


@dataclass(frozen=True)
class Camera:
    """How one clip is framed, relative to the signer's usual framing."""

    distance: float = 1.0  # > 1: the signer looks larger
    shift: tuple[float, float] = (0.0, 0.0)  # of the shoulder midpoint, in image widths and heights
    roll: float = 0.0  # radians

    @classmethod
    def random(cls, rng: np.random.Generator, style: Style) -> Camera:
        f = style.framing
        return cls(float(rng.uniform(1 - 0.15 * f, 1 + 0.15 * f)), tuple(rng.normal(0.0, 0.04 * f, 2)), float(rng.normal(0.0, 0.05 * f)))


def render_signer(states: np.ndarray, signer: Signer, rng: np.random.Generator, camera: Camera = Camera()) -> np.ndarray:
    """Hand states `[T, 2, 12]` -> landmarks `[T, 75, 3]` (pose, left hand, right hand) in MediaPipe's
    normalized image coordinates, with jitter and hand-detection dropouts."""
    frames = len(states)
    right = hand_points(states[:, 0], signer.palm)
    left = hand_points(states[:, 1], signer.palm) * np.array([-1.0, 1.0, 1.0])
    pose = np.tile(POSE_TEMPLATE, (frames, 1, 1))
    pose[:, FACE_JOINTS] = NECK + signer.head * (pose[:, FACE_JOINTS] - NECK)
    for hand, side, (shoulder, elbow, wrist, pinky, index, thumb) in (
        (left, 1.0, (11, 13, 15, 17, 19, 21)),
        (right, -1.0, (12, 14, 16, 18, 20, 22)),
    ):
        pose[:, elbow] = _elbow(pose[:, shoulder], hand[:, 0], signer.arm, side)
        pose[:, wrist], pose[:, pinky], pose[:, index], pose[:, thumb] = hand[:, 0], hand[:, 17], hand[:, 5], hand[:, 2]
    body = np.concatenate([pose, left, right], axis=1)
    t = np.arange(frames) / FPS
    sway = 0.02 * np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * t + rng.uniform(0, 2 * np.pi))
    body[:, :, 0] += sway[:, None]
    if camera.roll:
        c, s = np.cos(camera.roll), np.sin(camera.roll)
        body[..., :2] = body[..., :2] @ np.array([[c, s], [-s, c]])

    scale = signer.shoulder_width * camera.distance
    center_x = signer.center[0] + camera.shift[0] * signer.width
    center_y = signer.center[1] + camera.shift[1] * signer.height
    points = np.empty_like(body)
    points[..., 0] = (center_x + scale * body[..., 0]) / signer.width
    points[..., 1] = (center_y + scale * body[..., 1]) / signer.height
    points[..., 2] = scale * body[..., 2] / signer.width
    slices = schema.part_slices(schema.DEFAULT_PARTS)
    for part in ("left_hand", "right_hand"):  # MediaPipe gives hand depth relative to the wrist
        points[:, slices[part], 2] -= points[:, slices[part].start, None, 2]
    points += rng.normal(0.0, signer.jitter, points.shape)
    for part in ("left_hand", "right_hand"):
        hand = points[:, slices[part]]
        lost = ~((hand[..., :2] > 0) & (hand[..., :2] < 1)).all(axis=(1, 2))  # out of frame
        for _ in range(rng.poisson(signer.dropouts)):
            start = rng.integers(frames)
            lost[start : start + rng.integers(2, 7)] = True
        hand[lost] = np.nan
    return points.astype(np.float32)

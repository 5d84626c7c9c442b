"""The signs: each gloss gets a deterministic motion from its SHA-256: a handshape (flexion of the five
fingers), a palm orientation, a location on or in front of the body, a movement, and a hand mode (one hand,
two symmetric, two alternating, or a passive base hand)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

# Finger flexion (thumb, index, middle, ring, pinky; 0 straight, 1 curled) and finger spread.
HANDSHAPES = {
    "A": ((0.0, 1, 1, 1, 1), 0.0), "S": ((0.9, 1, 1, 1, 1), 0.0), "B": ((0.8, 0, 0, 0, 0), 0.0),
    "5": ((0.0, 0, 0, 0, 0), 1.0), "1": ((0.9, 0, 1, 1, 1), 0.0), "V": ((0.9, 0, 0, 1, 1), 1.0),
    "W": ((0.9, 0, 0, 0, 1), 0.8), "Y": ((0.0, 1, 1, 1, 0), 0.8), "L": ((0.0, 0, 1, 1, 1), 0.5),
    "C": ((0.3, 0.45, 0.45, 0.45, 0.45), 0.2), "O": ((0.6, 0.75, 0.75, 0.75, 0.75), 0.0),
    "I": ((0.9, 1, 1, 1, 0), 0.0), "3": ((0.0, 0, 0, 1, 1), 0.8), "horns": ((0.9, 0, 1, 1, 0), 0.8),
}  # fmt: skip
# Palm orientation as (yaw, pitch, roll) of a hand that starts fingers up, palm to the camera.
ORIENTATIONS = {
    "palm_out": (0.0, 0.0, 0.0), "palm_in": (np.pi, 0.0, 0.0), "palm_side": (1.4, 0.0, 0.0),
    "palm_down": (0.0, 1.4, 0.0), "palm_up": (0.0, -1.4, np.pi), "fingers_across": (0.0, 0.0, 1.4),
}  # fmt: skip
# Where the dominant (right) wrist is, in body units on its own side (see the module docstring).
LOCATIONS = {
    "neutral": (-0.25, 0.55, -0.45), "neutral_high": (-0.2, 0.05, -0.5), "side": (-0.7, 0.5, -0.3),
    "chest": (-0.05, 0.4, -0.2), "stomach": (-0.05, 0.9, -0.2), "chin": (-0.02, -0.3, -0.4),
    "mouth": (0.0, -0.42, -0.42), "forehead": (-0.05, -0.75, -0.4), "cheek": (-0.2, -0.45, -0.35),
    "temple": (-0.3, -0.68, -0.25), "shoulder": (-0.45, 0.1, -0.2), "other_shoulder": (0.35, 0.15, -0.25),
}  # fmt: skip
# Wrist paths over the sign's time u in [0, 1] (e: u eased in and out), for an amplitude of 0.3 body units.
PATHS = {
    "hold": lambda u, e: (0, 0.1 * np.sin(2 * np.pi * u), 0),
    "down": lambda u, e: (0, e, 0),
    "up": lambda u, e: (0, -e, 0),
    "forward": lambda u, e: (0, 0, -e),
    "across": lambda u, e: (1.3 * e, 0, 0),
    "arc": lambda u, e: (e, -0.6 * np.sin(np.pi * u), 0),
    "circle": lambda u, e: (0.5 * np.cos(2 * np.pi * u) - 0.5, 0.5 * np.sin(2 * np.pi * u), 0),
    "circle_front": lambda u, e: (0, 0.5 * np.sin(2 * np.pi * u), 0.5 - 0.5 * np.cos(2 * np.pi * u)),
    "tap": lambda u, e: (0, 0, -0.4 * np.abs(np.sin(4 * np.pi * u))),
    "shake": lambda u, e: (0.3 * np.sin(6 * np.pi * u), 0, 0),
}
MOVEMENTS = (*PATHS, "twist", "open", "close")  # the last three turn the wrist or change the handshape
HAND_MODES = ("one", "symmetric", "alternating", "base")

# A hand's state: wrist position (3), orientation (3), finger flexion (5), spread (1).
POS, ROT, FLEX, SPREAD = slice(0, 3), slice(3, 6), slice(6, 11), 11
REST = np.array([-0.3, 1.2, -0.15, np.pi, 0.3, 1.2, 0.3, 0.3, 0.35, 0.4, 0.45, 0.2])
BASE = np.array([0.05, 0.7, -0.45, *ORIENTATIONS["palm_up"], *HANDSHAPES["B"][0], 0.0])


def _state(location: str, orientation: str, handshape: str) -> np.ndarray:
    flex, spread = HANDSHAPES[handshape]
    return np.array([*LOCATIONS[location], *ORIENTATIONS[orientation], *flex, spread], dtype=np.float64)


@dataclass(frozen=True)
class SignMotion:
    """How one sign is made; `frames` is its length at normal speed."""

    handshape: str
    orientation: str
    location: str
    movement: str
    hands: str
    frames: int

    def states(self, n: int, amplitude: float = 1.0, offset: np.ndarray | None = None) -> np.ndarray:
        """The sign's hand states over `n` frames: `[n, 2, 12]` (dominant right hand, then left)."""
        start = _state(self.location, self.orientation, self.handshape)
        if offset is not None:
            start[POS] += offset
        u = np.linspace(0.0, 1.0, n)
        right = self._moved(start, u, amplitude)
        left = {
            "one": np.tile(REST, (n, 1)),
            "symmetric": right,
            "alternating": self._moved(start, 1.0 - u, amplitude),
            "base": np.tile(BASE, (n, 1)),
        }[self.hands]
        return np.stack([right, left], axis=1)

    def _moved(self, start: np.ndarray, u: np.ndarray, amplitude: float) -> np.ndarray:
        states = np.tile(start, (len(u), 1))
        ease = u * u * (3 - 2 * u)
        if self.movement in PATHS:
            states[:, POS] += 0.3 * amplitude * np.stack(np.broadcast_arrays(*PATHS[self.movement](u, ease)), 1)
        elif self.movement == "twist":
            states[:, ROT.start + 2] += 1.5 * ease
        else:  # "open" starts from a fist, "close" ends in one
            fist = np.array(HANDSHAPES["S"][0])
            w = (1 - ease if self.movement == "open" else ease)[:, None]
            states[:, FLEX] = (1 - w) * start[FLEX] + w * fist
        return states


def sign_motions(glosses) -> dict[str, SignMotion]:
    """A distinct motion for each gloss, derived from its SHA-256: the same gloss string gets the same sign
    whichever table it comes from, unless another gloss of the table hashed to the same form first (in
    sorted order), in which case it takes the next free form."""
    sizes = (len(HANDSHAPES), len(ORIENTATIONS), len(LOCATIONS), len(MOVEMENTS), len(HAND_MODES))
    space = int(np.prod(sizes))
    taken, motions = set(), {}
    for gloss in sorted(set(glosses)):
        digest = int.from_bytes(hashlib.sha256(gloss.encode()).digest()[:8], "big")
        index = digest % space
        while index in taken:
            index = (index + 1) % space
        taken.add(index)
        code = []
        for size in sizes:
            index, part = divmod(index, size)
            code.append(part)
        h, o, loc, m, mode = code
        motions[gloss] = SignMotion(
            list(HANDSHAPES)[h], list(ORIENTATIONS)[o], list(LOCATIONS)[loc], MOVEMENTS[m], HAND_MODES[mode],
            frames=8 + (digest >> 40) % 8,
        )
    return motions

"""`write_corpus`: every clip synthesized into a keypoint file, and the annotation table beside them."""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich import get_console
from rich.progress import track

from slt.files import atomic_write
from slt.keypoints.io import Keypoints, write_parquet
from slt.synth.clips import SPLITS, Clip
from slt.synth.motion import sign_motions
from slt.synth.signers import FPS, STYLES, Camera, Signer, perform, render_signer

@dataclass(frozen=True)
class Summary:
    clips: dict[str, int]  # per split
    signs: int
    signers: int
    frames: int
    left_handed: int = 0  # signers


def write_corpus(out: str | Path, clips: list[Clip], seed: int = 0, progress: bool = False, style: str = "clean") -> Summary:
    """Synthesize every clip into OUT/keypoints/<name>.parquet and write OUT/annotations.csv.

    `style` names one of `STYLES`. Each clip's randomness comes from (seed, clip number) and each signer's
    from (seed, signer name), so the output is byte-identical for a seed.
    """
    out = Path(out)
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {list(STYLES)}")
    look = STYLES[style]
    twice = sorted(name for name, n in Counter(clip.name for clip in clips).items() if n > 1)
    if twice:
        raise ValueError(f"clip names occur more than once ({', '.join(twice[:3])}); give each clip its own name")
    motions = sign_motions(sign for clip in clips for sign in clip.gloss.split())
    names = sorted({clip.signer for clip in clips})
    signers = {
        name: Signer.random(
            name,
            np.random.default_rng([seed, 1, *hashlib.sha256(name.encode()).digest()[:8]]),
            look,
            left_handed=bool(look.left_handed_every) and i % look.left_handed_every == 3,
        )
        for i, name in enumerate(names)
    }
    frames = 0
    for i, clip in enumerate(track(clips, description="synthesizing", disable=not progress or not get_console().is_terminal)):
        rng, habits = np.random.default_rng([seed, 2, i]), np.random.default_rng([seed, 3, i])
        signer = signers[clip.signer]
        states = perform([motions[s] for s in clip.gloss.split()], signer, rng, look, habits)
        camera = Camera.random(habits, look) if look.framing else Camera()
        info = {"source": "synthetic", "generator": "slt synth", "seed": seed, "signer": clip.signer, "gloss": clip.gloss}
        if style != "clean":
            info["style"] = style
        kp = Keypoints(render_signer(states, signer, rng, camera), FPS, width=signer.width, height=signer.height, info=info)
        write_parquet(kp, out / "keypoints" / f"{clip.name}.parquet")
        frames += kp.num_frames
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["name", "text", "split", "signer", "gloss"])
    writer.writerows((c.name, c.text, c.split, c.signer, c.gloss) for c in clips)
    atomic_write(out / "annotations.csv", lambda tmp: Path(tmp).write_text(table.getvalue(), encoding="utf-8"))
    counts = {split: sum(c.split == split for c in clips) for split in SPLITS}
    left = sum(s.left_handed for s in signers.values())
    return Summary(counts, len(motions), len(signers), frames, left)

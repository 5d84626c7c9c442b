"""`Keypoints`, the one in-memory clip structure, and its Parquet file format.

On disk a clip is one Parquet file in the long layout of Kaggle's ISLR landmark files: one row per
(frame, part, landmark) with columns `frame`, `type`, `landmark_index`, `x`, `y`, `z`, ordered by
frame, then part, then index, every frame holding every row (NaN where nothing was detected).
The key-value metadata key `slt` holds a JSON header (see `Keypoints.header`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from slt.files import atomic_write
from slt.keypoints import schema


@dataclass
class Keypoints:
    """A clip's landmarks: `points` is float32 `[frames, joints, 3]`, joints laid out part by part."""

    points: np.ndarray
    fps: float
    parts: tuple[str, ...] = schema.DEFAULT_PARTS
    width: int | None = None
    height: int | None = None
    # Where the clip came from and how it was extracted (source path, extractor name, version, settings).
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.parts = schema.check_parts(self.parts)
        self.points = np.asarray(self.points, dtype=np.float32)
        joints = sum(schema.part_sizes(self.parts).values())
        if self.points.ndim != 3 or self.points.shape[1:] != (joints, 3):
            raise ValueError(f"points must be [frames, {joints}, 3] for parts {self.parts}, got {self.points.shape}")

    @property
    def num_frames(self) -> int:
        return self.points.shape[0]

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps if self.fps else 0.0

    def part(self, name: str) -> np.ndarray:
        """The `[frames, part_joints, 3]` view of one part."""
        return self.points[:, schema.part_slices(self.parts)[name]]

    def select(self, parts: tuple[str, ...]) -> Keypoints:
        """The same clip restricted to `parts` (missing parts raise KeyError)."""
        parts = schema.check_parts(parts)
        missing = [p for p in parts if p not in self.parts]
        if missing:
            raise KeyError(f"clip has no {missing} landmarks (it has {list(self.parts)})")
        points = np.concatenate([self.part(p) for p in parts], axis=1)
        return Keypoints(points, self.fps, parts, self.width, self.height, dict(self.info))

    def detection_rates(self) -> dict[str, float]:
        """Fraction of frames in which each part was detected."""
        if self.num_frames == 0:
            return {p: 0.0 for p in self.parts}
        return {p: float(np.isfinite(self.part(p)).all(axis=(1, 2)).mean()) for p in self.parts}

    def header(self) -> dict:
        return {
            "format_version": schema.FORMAT_VERSION,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "frames": self.num_frames,
            "parts": list(self.parts),
            **self.info,
        }


def clip_name_problem(name: str) -> str | None:
    """Why `name` cannot be a clip name, or None. A clip name comes from a table and is data, not a path: it
    may name a subfolder (`train/clip01`) but never leaves the folder it is read from or written to."""
    if not name or name.lower() in ("nan", "none", "null"):  # pandas turns an empty cell into "nan"
        return f"empty clip name {name!r}"
    if any(ord(c) < 32 or c == "\x7f" for c in name) or "\\" in name:
        return f"clip name {name!r} holds a control character or a backslash"
    if name.startswith("/"):
        return f"clip name {name!r} is an absolute path; names are relative to the keypoint folder"
    if any(part in ("", ".", "..") or part.startswith(".") for part in name.split("/")):
        return f"clip name {name!r} has an empty, '..' or hidden ('.') part; names stay inside the keypoint folder"
    return None


def to_table(kp: Keypoints) -> pa.Table:
    frames, joints = kp.num_frames, kp.points.shape[1]
    types, indices = [], []
    for part, n in schema.part_sizes(kp.parts).items():
        types += [part] * n
        indices += range(n)
    type_codes = np.array([kp.parts.index(t) for t in types], dtype=np.int8)
    flat = kp.points.reshape(frames * joints, 3)
    table = pa.table(
        {
            "frame": pa.array(np.repeat(np.arange(frames, dtype=np.int32), joints)),
            "type": pa.DictionaryArray.from_arrays(np.tile(type_codes, frames), pa.array(kp.parts, pa.string())),
            "landmark_index": pa.array(np.tile(np.asarray(indices, dtype=np.int16), frames)),
            "x": pa.array(flat[:, 0]),
            "y": pa.array(flat[:, 1]),
            "z": pa.array(flat[:, 2]),
        }
    )
    return table.replace_schema_metadata({schema.METADATA_KEY: json.dumps(kp.header()).encode()})


def write_parquet(kp: Keypoints, path: str | Path) -> None:
    """Write `kp` to `path` atomically (temp file, then rename)."""
    table = to_table(kp)
    atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def from_long_table(table: pa.Table, parts: tuple[str, ...] | None = None, fps: float | None = None) -> Keypoints:
    """Build `Keypoints` from any long-layout landmark table: this project's files or Kaggle ISLR's.

    Accepts float64 coordinates, extra columns (`row_id`), parts in any row order and frame numbers
    that do not start at 0 (frames are renumbered from 0 in sorted order).
    """
    missing = [c for c in schema.COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"not a long-layout landmark table: missing column(s) {missing}")
    header = json.loads((table.schema.metadata or {}).get(schema.METADATA_KEY, b"{}"))
    frame = table["frame"].to_numpy().astype(np.int64)
    kind = table["type"].combine_chunks()
    if isinstance(kind, pa.DictionaryArray):
        kind = kind.dictionary_decode()
    kind = np.asarray(kind.to_numpy(zero_copy_only=False), dtype=object)
    index = table["landmark_index"].to_numpy().astype(np.int64)
    xyz = np.stack([table[c].to_numpy().astype(np.float32) for c in "xyz"], axis=1)

    present = schema.check_parts(tuple(set(kind.tolist()) & set(schema.PARTS)))
    parts = present if parts is None else schema.check_parts(parts)
    absent = [p for p in parts if p not in present]
    if absent:
        raise KeyError(f"file has no {absent} landmarks (it has {list(present)})")
    frames, frame_row = np.unique(frame, return_inverse=True)
    slices = schema.part_slices(parts)
    points = np.full((len(frames), sum(schema.part_sizes(parts).values()), 3), np.nan, dtype=np.float32)
    for part, sl in slices.items():
        rows = (kind == part) & (index >= 0) & (index < sl.stop - sl.start)
        points[frame_row[rows], sl.start + index[rows]] = xyz[rows]

    info = {k: v for k, v in header.items() if k not in ("format_version", "fps", "width", "height", "frames", "parts")}
    return Keypoints(
        points,
        fps=float(fps or header.get("fps") or 0.0),
        parts=parts,
        width=header.get("width"),
        height=header.get("height"),
        info=info,
    )


def read_parquet(path: str | Path, parts: tuple[str, ...] | None = None) -> Keypoints:
    """Read a keypoint Parquet file; `parts=None` keeps every part the file has."""
    return from_long_table(pq.read_table(path), parts)

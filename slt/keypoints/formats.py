"""Reading keypoints in the layouts people already have, and writing pose-format `.pose` files.

`read_keypoints(path)` is the one way to load a clip, whatever its layout:

- this project's Parquet files and Kaggle ISLR landmark files as published (long layout, `io.py`);
- Kaggle ASL-Fingerspelling files (wide layout: `x_right_hand_0` ... columns, many clips per file
  keyed by `sequence_id`; pick one with `sequence_id=`, or read them all with `read_fingerspelling`);
- pose-format `.pose` files (needs the optional `pose-format` package: `pip install slt[pose]`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from slt.keypoints import schema
from slt.files import atomic_write
from slt.keypoints.io import Keypoints, from_long_table, write_parquet

KEYPOINT_SUFFIXES = (".parquet", ".pose")  # the keypoint file types; a clip name resolves to the first that exists
WIDE_COLUMN = re.compile(r"^([xyz])_(pose|left_hand|right_hand|face)_(\d+)$")

# pose-format's names for MediaPipe Holistic's components, in the order its holistic files use.
POSE_FORMAT_COMPONENTS = {
    "pose": "POSE_LANDMARKS",
    "face": "FACE_LANDMARKS",
    "left_hand": "LEFT_HAND_LANDMARKS",
    "right_hand": "RIGHT_HAND_LANDMARKS",
}


def read_keypoints(
    path: str | Path, parts: tuple[str, ...] | None = None, fps: float | None = None, sequence_id: int | None = None
) -> Keypoints:
    """Read one clip from a `.parquet` (long or wide layout) or `.pose` file.

    `parts=None` keeps every part the file has. `fps` sets the rate of files that do not record one
    (Kaggle's); `sequence_id` picks the clip in a multi-clip fingerspelling file.
    """
    path = Path(path)
    if path.suffix == ".pose":
        return read_pose(path, parts)
    if path.suffix != ".parquet":
        raise ValueError(f"{path}: unknown keypoint file type {path.suffix!r}; expected .parquet or .pose")
    names = pq.read_schema(path).names
    if not is_wide(names):
        return from_long_table(pq.read_table(path), parts, fps)
    if sequence_id is None:
        ids = sequence_ids(path)
        if len(ids) != 1:
            raise ValueError(f"{path} holds {len(ids)} clips; pass sequence_id= (one of {ids[:5]}...)")
        sequence_id = ids[0]
    filters = [("sequence_id", "=", sequence_id)] if "sequence_id" in names else None
    table = pq.read_table(path, filters=filters)
    if table.num_rows == 0:
        raise KeyError(f"{path} has no clip with sequence_id {sequence_id}")
    return _from_wide(table, parts, fps, f"{path}#{sequence_id}")


def is_wide(column_names: list[str]) -> bool:
    """Whether a table is in the fingerspelling wide layout (one `x_<part>_<index>` column per coordinate)."""
    return any(WIDE_COLUMN.match(c) for c in column_names)


def sequence_ids(path: str | Path) -> list[int]:
    """The clip keys of a fingerspelling file, in file order (one unnamed clip when it has no key column)."""
    if "sequence_id" not in pq.read_schema(path).names:
        return [0]
    ids = pq.read_table(path, columns=["sequence_id"])["sequence_id"]
    return pc.unique(ids).to_pylist()


def read_fingerspelling(
    path: str | Path, parts: tuple[str, ...] | None = None, fps: float | None = None
) -> dict[int, Keypoints]:
    """Every clip of a Kaggle ASL-Fingerspelling file, keyed by `sequence_id`."""
    table = pq.read_table(path)
    if "sequence_id" not in table.column_names:
        return {0: _from_wide(table, parts, fps, str(path))}
    ids = table["sequence_id"]
    return {
        int(sid): _from_wide(table.filter(pc.equal(ids, sid)), parts, fps, f"{path}#{sid}")
        for sid in pc.unique(ids).to_pylist()
    }


def _from_wide(table, parts: tuple[str, ...] | None, fps: float | None, source: str) -> Keypoints:
    columns = {}
    for name in table.column_names:
        match = WIDE_COLUMN.match(name)
        if match:
            axis, part, index = match.groups()
            columns[part, int(index), "xyz".index(axis)] = name
    present = schema.check_parts(tuple({part for part, _, _ in columns}))
    parts = present if parts is None else schema.check_parts(parts)
    absent = [p for p in parts if p not in present]
    if absent:
        raise KeyError(f"{source} has no {absent} landmarks (it has {list(present)})")
    if "frame" in table.column_names:
        table = table.sort_by("frame")
    slices = schema.part_slices(parts)
    points = np.full((table.num_rows, sum(schema.part_sizes(parts).values()), 3), np.nan, np.float32)
    for (part, index, axis), name in columns.items():
        if part in slices and index < slices[part].stop - slices[part].start:
            points[:, slices[part].start + index, axis] = table[name].to_numpy(zero_copy_only=False)
    return Keypoints(points, float(fps or 0.0), parts, info={"source": source})


def _pose_format():
    try:
        import pose_format
    except ImportError as error:
        raise ImportError("reading and writing .pose files needs pose-format: pip install 'slt[pose]'") from error
    return pose_format


def read_pose(path: str | Path, parts: tuple[str, ...] | None = None) -> Keypoints:
    """Read a pose-format `.pose` file of MediaPipe Holistic landmarks (first person only).

    Pixel coordinates are divided by the header's width and height back to MediaPipe's normalized
    ones; points with zero confidence (pose-format's "not detected") become NaN.
    """
    pose_format = _pose_format()
    pose = pose_format.Pose.read(Path(path).read_bytes())
    components = {c.name: c for c in pose.header.components}
    present = tuple(p for p, name in POSE_FORMAT_COMPONENTS.items() if name in components)
    if not present:
        raise ValueError(f"{path}: not a MediaPipe Holistic .pose file (components {list(components)})")
    parts = schema.check_parts(present if parts is None else parts)
    absent = [p for p in parts if p not in present]
    if absent:
        raise KeyError(f"{path} has no {absent} landmarks (it has {list(schema.check_parts(present))})")

    width, height = pose.header.dimensions.width, pose.header.dimensions.height
    data = np.asarray(pose.body.data.data[:, 0], np.float32)  # [T, points, dims], first person
    confidence = np.asarray(pose.body.confidence[:, 0])
    starts, offset = {}, 0
    for component in pose.header.components:
        starts[component.name] = offset
        offset += len(component.points)
    chunks = []
    for part, size in schema.part_sizes(parts).items():
        start = starts[POSE_FORMAT_COMPONENTS[part]]
        xyz = data[:, start : start + size, :3] / np.array([width, height, 1], np.float32)
        xyz[confidence[:, start : start + size] <= 0] = np.nan
        chunks.append(xyz)
    return Keypoints(np.concatenate(chunks, axis=1), float(pose.body.fps), parts, width, height, {"source": str(path)})


def write_pose(kp: Keypoints, path: str | Path) -> None:
    """Write `kp` as a pose-format `.pose` file in the layout of pose-format's own Holistic files.

    Coordinates are stored in pixels (x times width, y times height; width = height = 1 when the clip
    has no size), undetected points with zero confidence.
    """
    pose_format = _pose_format()
    from pose_format.numpy import NumPyPoseBody
    from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions

    width, height = kp.width or 1, kp.height or 1
    order = [p for p in POSE_FORMAT_COMPONENTS if p in kp.parts]
    components = [
        PoseHeaderComponent(
            name=POSE_FORMAT_COMPONENTS[p],
            points=[name.upper() if p != "face" else name.removeprefix("face_") for name in schema.PART_SPECS[p][0]],
            limbs=list(schema.PART_SPECS[p][1]),
            colors=[(255, 0, 0)],
            point_format="XYZC",
        )
        for p in order
    ]
    header = PoseHeader(version=0.2, dimensions=PoseHeaderDimensions(width, height, 0), components=components)
    points = np.concatenate([kp.part(p) for p in order], axis=1)
    detected = np.isfinite(points).all(axis=-1)
    pixels = np.where(detected[..., None], points * np.array([width, height, 1], np.float32), 0.0)
    body = NumPyPoseBody(
        fps=kp.fps,
        data=np.ma.masked_array(pixels[:, None], mask=~np.repeat(detected[:, None, :, None], 3, axis=-1)),
        confidence=detected[:, None].astype(np.float32),
    )

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            pose_format.Pose(header, body).write(f)

    atomic_write(path, write)


def convert(source: str | Path, target: str | Path) -> Keypoints:
    """Rewrite the clip `source` in `target`'s format (.parquet or .pose), atomically, its folder made if
    need be: every frame and
    point, the frame rate, the image size and which points were detected (NaN in Parquet, zero
    confidence in .pose). A .pose file has no header for the rest of `Keypoints.info` (its extractor)."""
    kp = read_keypoints(source)
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    if Path(target).suffix == ".pose":
        write_pose(kp, target)
    elif Path(target).suffix == ".parquet":
        write_parquet(kp, target)
    else:
        raise ValueError(f"{target}: unknown keypoint file type {Path(target).suffix!r}; expected .parquet or .pose")
    return kp


def conversions(source: Path, target: Path, overwrite: bool = False) -> list[tuple[Path, Path]]:
    """The (input, output) pairs of `slt convert SOURCE TARGET`: a keypoint file to TARGET, which must
    end in the other format's suffix, or every keypoint file under the folder SOURCE (hidden ones left
    out: caches, temp files) to the same relative path under the folder TARGET, in the other format.
    ValueError, one line, before anything is written: no input, TARGET inside SOURCE, or an output that
    exists without `overwrite` (the user says whether a file may go; slt cannot tell who wrote it)."""
    if source.is_file():
        if source.suffix not in KEYPOINT_SUFFIXES:
            raise ValueError(f"{source} is not a keypoint file (.parquet or .pose)")
        wanted = other_suffix(source)
        if target.suffix != wanted:
            raise ValueError(f"{target}: the conversion of {source} is a {wanted} file; name it so")
        pairs = [(source, target)]
    elif source.is_dir():
        if target.exists() and not target.is_dir():
            raise ValueError(f"{target} is a file; the conversion of the folder {source} is a folder")
        if target.resolve().is_relative_to(source.resolve()):
            raise ValueError(f"{target} is inside {source}; choose an output folder outside it")
        files = sorted(
            path for path in source.rglob("*")
            if path.suffix in KEYPOINT_SUFFIXES and path.is_file() and not any(part.startswith(".") for part in path.relative_to(source).parts)
        )
        if not files:
            raise ValueError(f"no .parquet or .pose files in {source}")
        pairs = [(path, (target / path.relative_to(source)).with_suffix(other_suffix(path))) for path in files]
    else:
        raise ValueError(f"no file or folder {source}")
    existing = [output for _, output in pairs if output.exists()]
    if any(output.is_dir() for output in existing):
        raise ValueError(f"{next(o for o in existing if o.is_dir())} is a folder; it cannot be replaced by a keypoint file")
    if existing and not overwrite:
        first = ", ".join(map(str, existing[:3])) + (", ..." if len(existing) > 3 else "")
        raise ValueError(f"{len(existing)} output file(s) exist ({first}); pass --overwrite to replace them, or choose another output")
    return pairs


def other_suffix(path: Path) -> str:
    return ".pose" if path.suffix == ".parquet" else ".parquet"

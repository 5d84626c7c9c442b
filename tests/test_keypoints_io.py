"""The keypoint file formats: own Parquet, Kaggle ISLR and fingerspelling files, pose-format `.pose`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from slt.cli import app
from slt.keypoints import schema
from slt.keypoints.formats import read_fingerspelling, read_keypoints, read_pose, sequence_ids, write_pose
from slt.keypoints.io import Keypoints, read_parquet, write_parquet

ALL_PARTS = ("pose", "left_hand", "right_hand", "face")


def random_clip(frames: int = 6, parts=ALL_PARTS, seed: int = 0) -> Keypoints:
    rng = np.random.default_rng(seed)
    joints = sum(schema.part_sizes(schema.check_parts(parts)).values())
    points = rng.random((frames, joints, 3)).astype(np.float32)
    points[1, 33:54] = np.nan  # left hand lost in frame 1
    points[-1, 54:75] = np.nan  # right hand lost in the last frame
    return Keypoints(points, 29.97, parts, 640, 480, {"source": "clip.mp4", "extractor": "test"})


def test_parquet_round_trip_keeps_points_nan_and_header(tmp_path):
    kp = random_clip()
    write_parquet(kp, tmp_path / "clip.parquet")
    back = read_parquet(tmp_path / "clip.parquet")
    np.testing.assert_array_equal(back.points, kp.points)  # NaN positions included
    assert (back.fps, back.parts, back.width, back.height) == (29.97, ALL_PARTS, 640, 480)
    assert back.info == kp.info
    assert back.select(("pose",)).points.shape == (6, 33, 3)


def test_parquet_layout_is_kaggle_long_table(tmp_path):
    kp = random_clip(frames=4, parts=schema.DEFAULT_PARTS)
    write_parquet(kp, tmp_path / "clip.parquet")
    table = pq.read_table(tmp_path / "clip.parquet")
    assert table.column_names == list(schema.COLUMNS)
    assert table.schema.field("frame").type == pa.int32()
    assert table.schema.field("landmark_index").type == pa.int16()
    assert pa.types.is_dictionary(table.schema.field("type").type)
    assert all(table.schema.field(c).type == pa.float32() for c in "xyz")
    df = table.to_pandas()
    assert len(df) == 4 * 75  # every frame has every row, NaN included
    keys = list(zip(df["frame"], df["type"].astype(str).map(schema.PARTS.index), df["landmark_index"]))
    assert keys == sorted(keys)  # ordered by frame, then part, then landmark index
    header = json.loads(table.schema.metadata[b"slt"])
    assert header["frames"] == 4 and header["fps"] == 29.97 and header["format_version"] == schema.FORMAT_VERSION


def kaggle_islr_table(kp: Keypoints, first_frame: int) -> pd.DataFrame:
    """A clip as Google's ISLR competition publishes it: float64, row_id, face first, frames not from 0."""
    rows = []
    for t in range(kp.num_frames):
        for part in ("face", "left_hand", "pose", "right_hand"):
            for i, (x, y, z) in enumerate(kp.part(part)[t]):
                frame = first_frame + t
                rows.append((frame, f"{frame}-{part}-{i}", part, i, float(x), float(y), float(z)))
    return pd.DataFrame(rows, columns=["frame", "row_id", "type", "landmark_index", "x", "y", "z"]).astype(
        {"frame": "int16", "landmark_index": "int16"}
    )


def test_reads_kaggle_islr_file_as_published(tmp_path):
    kp = random_clip(frames=4)
    kaggle_islr_table(kp, first_frame=17).to_parquet(tmp_path / "1000035562.parquet")
    back = read_keypoints(tmp_path / "1000035562.parquet", fps=30)
    assert back.parts == ALL_PARTS and back.fps == 30
    np.testing.assert_array_equal(back.points, kp.points)
    hands = read_keypoints(tmp_path / "1000035562.parquet", parts=("left_hand", "right_hand"))
    np.testing.assert_array_equal(hands.points, kp.select(("left_hand", "right_hand")).points)


def fingerspelling_table(clips: dict[int, Keypoints]) -> pd.DataFrame:
    """Kaggle ASL-Fingerspelling's wide layout: one row per frame, `x_right_hand_0`... columns."""
    frames = []
    for sid, kp in clips.items():
        columns = {"frame": np.arange(kp.num_frames)}
        for axis, name in enumerate("xyz"):
            for part in ("face", "left_hand", "pose", "right_hand"):
                for i in range(schema.part_sizes((part,))[part]):
                    columns[f"{name}_{part}_{i}"] = kp.part(part)[:, i, axis]
        frames.append(pd.DataFrame(columns, index=pd.Index([sid] * kp.num_frames, name="sequence_id")))
    return pd.concat(frames)


def test_reads_kaggle_fingerspelling_file_with_many_clips(tmp_path):
    clips = {1816796431: random_clip(frames=5, seed=1), 1816825349: random_clip(frames=3, seed=2)}
    fingerspelling_table(clips).to_parquet(tmp_path / "5414471.parquet")
    path = tmp_path / "5414471.parquet"
    assert sequence_ids(path) == list(clips)
    every = read_fingerspelling(path)
    for sid, kp in clips.items():
        np.testing.assert_array_equal(every[sid].points, kp.points)
    one = read_keypoints(path, sequence_id=1816825349, parts=("pose", "right_hand"))
    np.testing.assert_array_equal(one.points, clips[1816825349].select(("pose", "right_hand")).points)
    with pytest.raises(ValueError, match="holds 2 clips"):
        read_keypoints(path)


def test_pose_format_round_trip(tmp_path):
    from pose_format import Pose
    from pose_format.utils.generic import detect_known_pose_format

    kp = random_clip()
    write_pose(kp, tmp_path / "clip.pose")
    back = read_keypoints(tmp_path / "clip.pose")
    assert back.parts == ALL_PARTS and back.fps == pytest.approx(29.97) and (back.width, back.height) == (640, 480)
    np.testing.assert_array_equal(np.isnan(back.points), np.isnan(kp.points))
    np.testing.assert_allclose(back.points, kp.points, atol=1e-6)
    pose = Pose.read((tmp_path / "clip.pose").read_bytes())
    assert detect_known_pose_format(pose) == "holistic"  # pose-format's own tools recognize the file


def test_convert_a_folder_to_pose_and_back_keeps_points_mask_and_fps(tmp_path):
    clips = {"a": random_clip(seed=0), "sub/b": random_clip(frames=9, parts=("pose", "left_hand", "right_hand"), seed=1)}
    for name, kp in clips.items():
        path = tmp_path / "parquet" / f"{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_parquet(kp, path)
    (tmp_path / "parquet" / ".slt_cache").mkdir()
    (tmp_path / "parquet" / ".slt_cache" / "hidden.parquet").write_bytes(b"not looked at")
    for source, target in (("parquet", "pose"), ("pose", "back")):
        result = CliRunner().invoke(app, ["convert", str(tmp_path / source), str(tmp_path / target)])
        assert result.exit_code == 0 and result.stdout.startswith("converted 2 of 2 keypoint file(s)"), result.output
    assert sorted(p.relative_to(tmp_path / "pose").as_posix() for p in (tmp_path / "pose").rglob("*")) == ["a.pose", "sub", "sub/b.pose"]
    for name, kp in clips.items():
        back = read_parquet(tmp_path / "back" / f"{name}.parquet")
        assert back.parts == kp.parts and back.fps == pytest.approx(kp.fps) and (back.width, back.height) == (640, 480)
        np.testing.assert_array_equal(np.isnan(back.points), np.isnan(kp.points))
        np.testing.assert_allclose(back.points, kp.points, rtol=1e-6)


def test_convert_a_folder_goes_past_a_corrupt_file_and_says_which(tmp_path):
    (tmp_path / "in").mkdir()
    write_parquet(random_clip(), tmp_path / "in" / "good.parquet")
    (tmp_path / "in" / "bad.parquet").write_bytes(b"PAR1 not really")
    result = CliRunner().invoke(app, ["convert", str(tmp_path / "in"), str(tmp_path / "out")])
    assert result.exit_code == 1 and result.stdout.startswith("converted 1 of 2 keypoint file(s)")
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: {tmp_path / 'in' / 'bad.parquet'}: cannot convert")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.pose"]


def test_convert_never_replaces_a_file_unasked_and_says_why_in_one_line(tmp_path):
    write_parquet(random_clip(), tmp_path / "clip.parquet")
    (tmp_path / "clip.pose").write_bytes(b"someone's file")
    (tmp_path / "notes.txt").write_text("not keypoints")
    for args, message in (
        (["clip.parquet", "clip.pose"], "1 output file(s) exist (" + str(tmp_path / "clip.pose") + "); pass --overwrite"),
        (["clip.parquet", "clip.parquet2"], "the conversion of " + str(tmp_path / "clip.parquet") + " is a .pose file"),
        (["notes.txt", "notes.pose"], "is not a keypoint file (.parquet or .pose)"),
        ([".", "out"], "is inside"),
        (["missing", "out"], "no file or folder"),
    ):
        result = CliRunner().invoke(app, ["convert", *(str(tmp_path / a) for a in args)])
        assert result.exit_code == 1 and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.output
        assert message in result.stderr, result.stderr
    assert (tmp_path / "clip.pose").read_bytes() == b"someone's file"
    assert CliRunner().invoke(app, ["convert", str(tmp_path / "clip.parquet"), str(tmp_path / "clip.pose"), "--overwrite"]).exit_code == 0
    np.testing.assert_array_equal(np.isnan(read_keypoints(tmp_path / "clip.pose").points), np.isnan(random_clip().points))


def test_reads_pose_format_own_holistic_layout(tmp_path):
    """A file laid out as pose-format's MediaPipe extractor writes it (with world landmarks, pixels)."""
    from pose_format import Pose
    from pose_format.numpy import NumPyPoseBody
    from pose_format.pose_header import PoseHeader, PoseHeaderDimensions
    from pose_format.utils.holistic import holistic_components

    components = holistic_components()
    sizes = [len(c.points) for c in components]  # pose 33, face 468, hands 21, 21, world 33
    rng = np.random.default_rng(0)
    data = rng.random((4, 1, sum(sizes), 3)).astype(np.float32) * [320, 240, 1]
    confidence = np.ones((4, 1, sum(sizes)), np.float32)
    confidence[2, 0, 33 + 468 : 33 + 468 + 21] = 0  # left hand missing in frame 2
    header = PoseHeader(0.2, PoseHeaderDimensions(320, 240), components)
    with open(tmp_path / "holistic.pose", "wb") as f:
        Pose(header, NumPyPoseBody(25, data, confidence)).write(f)

    kp = read_pose(tmp_path / "holistic.pose", parts=("pose", "left_hand"))
    np.testing.assert_allclose(kp.part("pose")[0, :, 0], data[0, 0, :33, 0] / 320, rtol=1e-6)
    np.testing.assert_allclose(kp.part("left_hand")[0, :, 1], data[0, 0, 501:522, 1] / 240, rtol=1e-6)
    assert np.isnan(kp.part("left_hand")[2]).all() and np.isfinite(kp.part("left_hand")[1]).all()


def test_inspect_prints_frames_rates_and_json(tmp_path):
    kp = random_clip(frames=6, parts=schema.DEFAULT_PARTS)
    write_parquet(kp, tmp_path / "clip.parquet")
    result = CliRunner().invoke(app, ["inspect", str(tmp_path / "clip.parquet"), "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["frames"] == 6 and row["duration"] == pytest.approx(6 / 29.97)
    assert row["detected"] == {"pose": 1.0, "left_hand": pytest.approx(5 / 6), "right_hand": pytest.approx(5 / 6)}

    clips = {7: random_clip(frames=2, seed=3), 8: random_clip(frames=3, seed=4)}
    fingerspelling_table(clips).to_parquet(tmp_path / "fs.parquet")
    result = CliRunner().invoke(app, ["inspect", str(tmp_path / "clip.parquet"), str(tmp_path / "fs.parquet")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and "6 frames" in lines[0] and "fs.parquet#8: 3 frames" in lines[2]


def test_inspect_rejects_missing_and_foreign_files_in_one_line(tmp_path):
    (tmp_path / "table.parquet").write_bytes(b"PAR1 not really")
    for path in (tmp_path / "missing.parquet", tmp_path / "table.parquet"):
        result = CliRunner().invoke(app, ["inspect", str(path)])
        assert result.exit_code == 1
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: ")

"""`slt render`: skeleton videos and GIFs of keypoint files, blank or over the source video."""

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from slt import synth
from slt.cli import app
from slt.keypoints.io import Keypoints, write_parquet
from slt.keypoints.render import BACKGROUND, render
from slt.synth import motion, signers


@pytest.fixture(scope="module")
def clip():
    """A synthetic clip of three signs between rest poses."""
    rng = np.random.default_rng(0)
    signer = signers.Signer.random("signer01", rng)
    motions = motion.sign_motions(["HELLO", "FRIEND", "QUESTION"])
    points = signers.render_signer(signers.perform(list(motions.values()), signer, rng), signer, rng)
    return Keypoints(points, synth.FPS, width=320, height=240)


def read_video(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while (frame := capture.read())[0]:
        frames.append(frame[1])
    capture.release()
    return np.stack(frames)


def test_mp4_has_a_drawn_frame_for_every_keypoint_frame(clip, tmp_path):
    write_parquet(clip, tmp_path / "clip.parquet")
    result = CliRunner().invoke(app, ["render", str(tmp_path / "clip.parquet"), "-o", str(tmp_path / "clip.mp4")])
    assert result.exit_code == 0, result.output
    frames = read_video(tmp_path / "clip.mp4")
    assert frames.shape == (clip.num_frames, 240, 320, 3)
    drawn = (np.abs(frames.astype(int) - BACKGROUND).max(axis=-1) > 60).mean(axis=(1, 2))
    assert (drawn > 0.005).all()  # every frame shows a skeleton


def test_gif_and_width(clip, tmp_path):
    assert render(clip, tmp_path / "clip.gif", width=160) == clip.num_frames
    with Image.open(tmp_path / "clip.gif") as gif:
        assert gif.n_frames == clip.num_frames and gif.size == (160, 120)
        assert len(np.unique(np.asarray(gif.convert("RGB")))) > 2


def test_missing_joints_are_not_drawn(clip, tmp_path):
    points = clip.points.copy()
    points[: clip.num_frames // 2] = np.nan
    render(Keypoints(points, clip.fps, width=320, height=240), tmp_path / "half.mp4")
    frames = read_video(tmp_path / "half.mp4").astype(int)
    changed = np.abs(frames - BACKGROUND).max(axis=-1) > 60
    assert not changed[: clip.num_frames // 2].any() and changed[clip.num_frames // 2 :].any(axis=(1, 2)).all()


def test_drawn_over_the_source_video_frame_by_frame(clip, tmp_path):
    source = tmp_path / "source.mp4"
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*"mp4v"), clip.fps, (640, 480))
    for i in range(clip.num_frames):  # frame i shows a white square at x = 10 i in the top band
        frame = np.full((480, 640, 3), 90, dtype=np.uint8)
        frame[:10, 10 * i : 10 * i + 10] = 255
        writer.write(frame)
    writer.release()
    render(clip, tmp_path / "over.mp4", video=source)
    frames = read_video(tmp_path / "over.mp4")
    assert frames.shape[:3] == (clip.num_frames, 480, 640)
    square_at = frames[:, :10].mean(axis=(1, 3)).argmax(axis=1) // 10
    assert (square_at == np.arange(clip.num_frames)).all()
    assert np.abs(np.median(frames, axis=(1, 2, 3)) - 90).max() < 8  # drawn over the video, not a blank canvas

    short = clip.points[: clip.num_frames // 2]
    with pytest.raises(ValueError, match="frames"):
        render(Keypoints(np.concatenate([clip.points, short]), clip.fps), tmp_path / "x.mp4", video=source)
    assert not (tmp_path / "x.mp4").exists() and not list(tmp_path.glob(".x.mp4*"))


def test_bad_input_fails_with_one_line(clip, tmp_path):
    write_parquet(clip, tmp_path / "clip.parquet")
    (tmp_path / "notes.txt").write_text("not parquet")
    for args in (
        [str(tmp_path / "missing.parquet"), "-o", str(tmp_path / "a.mp4")],
        [str(tmp_path / "clip.parquet"), "-o", str(tmp_path / "a.avi")],
        [str(tmp_path / "notes.txt"), "-o", str(tmp_path / "a.mp4")],
        [str(tmp_path / "clip.parquet"), "-o", str(tmp_path / "a.mp4"), "--video", str(tmp_path / "none.mp4")],
    ):
        result = CliRunner().invoke(app, ["render", *args])
        assert result.exit_code == 1 and result.output.startswith("error: ") and result.output.count("\n") == 1, args


def test_face_points_are_dots_on_a_default_canvas_when_the_size_is_unknown(tmp_path):
    parts = ("pose", "left_hand", "right_hand", "face")
    points = np.full((3, 75 + 468, 3), np.nan, dtype=np.float32)
    points[:, 75:, :2] = np.random.default_rng(0).uniform(0.4, 0.6, (3, 468, 2))  # only a face, centered
    render(Keypoints(points, 25.0, parts), tmp_path / "face.mp4")
    frames = read_video(tmp_path / "face.mp4").astype(int)
    assert frames.shape == (3, 480, 640, 3)
    changed = np.abs(frames - BACKGROUND).max(axis=-1) > 60
    assert changed[:, 200:280, 260:380].mean() > 0.3 and not changed[:, :180].any()

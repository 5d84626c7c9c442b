"""MediaPipe Holistic extraction and frame reading on real images and a real signing clip."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from slt.keypoints import schema
from slt.keypoints.extract import HolisticExtractor, extract
from slt.keypoints.frames import ClipSource, FrameReader, UnreadableClip
from slt.keypoints.io import read_parquet

pytestmark = pytest.mark.slow  # left out of `make test-fast` (see pyproject.toml)

NOSE, LEFT_SHOULDER, RIGHT_SHOULDER = (schema.POSE.index(n) for n in ("nose", "left_shoulder", "right_shoulder"))


@pytest.fixture(scope="module")
def photo_keypoints(photo_video):
    return extract(photo_video, face=True)


def test_pose_found_in_photo_video_and_anatomically_sane(photo_keypoints, photo_video):
    kp = photo_keypoints
    assert kp.points.shape == (24, 33 + 21 + 21 + 468, 3) and kp.parts == schema.PARTS
    assert (kp.fps, kp.width, kp.height) == (25.0, 256, 256)
    rates = kp.detection_rates()
    assert rates["pose"] >= 0.9 and rates["face"] >= 0.9
    pose = kp.part("pose")
    found = np.isfinite(pose).all(axis=(1, 2))
    nose, left, right = pose[found, NOSE], pose[found, LEFT_SHOULDER], pose[found, RIGHT_SHOULDER]
    assert (nose[:, 1] < np.minimum(left[:, 1], right[:, 1])).all()  # image y grows downwards
    # Facing the camera, the subject's left shoulder appears on the image's right.
    assert (left[:, 0] > right[:, 0]).all()
    head_and_shoulders = pose[found, : RIGHT_SHOULDER + 1, :2]  # in the picture; feet are extrapolated
    assert ((head_and_shoulders > 0) & (head_and_shoulders < 1)).all()
    assert kp.info["source"] == str(photo_video) and kp.info["extractor"] == "mediapipe-holistic"
    assert kp.info["extractor_version"] == "0.10.21" and kp.info["settings"]["model_complexity"] == 1


def test_face_points_sit_around_the_nose(photo_keypoints):
    kp = photo_keypoints
    frame = int(np.flatnonzero(np.isfinite(kp.part("face")).all(axis=(1, 2)))[0])
    face, nose = kp.part("face")[frame, :, :2], kp.part("pose")[frame, NOSE, :2]
    assert face.min(axis=0)[0] < nose[0] < face.max(axis=0)[0]
    assert face.min(axis=0)[1] < nose[1] < face.max(axis=0)[1]


def test_hands_found_as_often_as_plain_mediapipe(batch, signing_clip):
    """`slt preprocess` finds the signer's hands in as many frames as MediaPipe on its own."""
    import mediapipe as mp

    out, _, _ = batch
    kp = read_parquet(out / "nested" / "signer.parquet")
    plain = {"left_hand": 0, "right_hand": 0}
    capture = cv2.VideoCapture(str(signing_clip))
    with mp.solutions.holistic.Holistic(model_complexity=1) as holistic:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            results = holistic.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            plain["left_hand"] += results.left_hand_landmarks is not None
            plain["right_hand"] += results.right_hand_landmarks is not None
    found = {hand: int(np.isfinite(kp.part(hand)).all(axis=(1, 2)).sum()) for hand in plain}
    assert kp.num_frames == 58
    assert sum(plain.values()) >= 10, "plain MediaPipe should find the signer's hands"
    for hand in plain:
        assert abs(found[hand] - plain[hand]) <= 2, (found, plain)
    # A detected hand's wrist is where the pose model puts that wrist.
    hand = max(found, key=found.get)
    both = np.isfinite(kp.part(hand)).all(axis=(1, 2)) & np.isfinite(kp.part("pose")).all(axis=(1, 2))
    wrist_gap = kp.part(hand)[both, 0, :2] - kp.part("pose")[both, schema.POSE_WRIST[hand], :2]
    assert np.median(np.linalg.norm(wrist_gap, axis=1)) < 0.05


def test_default_graph_without_face_gives_holistic_own_pose_and_hands(signing_clip):
    """Dropping the face branch (the default) changes no pose or hand number MediaPipe's Holistic gives."""
    import mediapipe as mp

    kp = extract(signing_clip)
    assert kp.parts == schema.DEFAULT_PARTS
    stock = []
    with mp.solutions.holistic.Holistic(model_complexity=1) as holistic:
        for frame in FrameReader(ClipSource(Path(signing_clip))):
            results = holistic.process(frame)
            rows = []
            for found, size in ((results.pose_landmarks, 33), (results.left_hand_landmarks, 21), (results.right_hand_landmarks, 21)):
                rows.append(np.full((size, 3), np.nan) if found is None else [(p.x, p.y, p.z) for p in found.landmark])
            stock.append(np.concatenate(rows).astype(np.float32))
    assert np.isfinite(kp.part("left_hand")).any() or np.isfinite(kp.part("right_hand")).any()
    np.testing.assert_array_equal(kp.points, np.stack(stock))


def test_threads_extract_a_clip_in_stretches_at_once(signing_clip, monkeypatch):
    """Two graphs, one per half of the clip: the first half is exactly one graph's, the second tracks the
    same signer after detecting them afresh."""
    from slt.keypoints import extract as extract_module

    monkeypatch.setattr(extract_module, "MIN_STRETCH_FRAMES", 20)
    whole = extract(signing_clip)
    with HolisticExtractor(threads=2) as extractor:
        halves = extractor(signing_clip)
    half = whole.num_frames // 2
    assert halves.points.shape == whole.points.shape == (58, 75, 3)
    np.testing.assert_array_equal(halves.points[:half], whole.points[:half])
    upper_body = slice(0, 25)  # the legs are out of view, guessed
    gap = np.abs(halves.part("pose")[half:, upper_body, :2] - whole.part("pose")[half:, upper_body, :2])
    assert np.median(gap) < 0.01
    for hand in ("left_hand", "right_hand"):
        found = [np.isfinite(kp.part(hand)[half:]).all(axis=(1, 2)).sum() for kp in (halves, whole)]
        assert abs(found[0] - found[1]) <= 2, (hand, found)


def test_stretches_past_an_overstated_frame_count_are_empty(signing_clip, monkeypatch):
    """A container that claims twice its frames: the stretch cut past the real end adds nothing."""
    from slt.keypoints import extract as extract_module

    class Overstating(FrameReader):
        def __init__(self, source):
            super().__init__(source)
            if source.start is None:
                self.expected_frames *= 2

    whole = extract(signing_clip)
    monkeypatch.setattr(extract_module, "MIN_STRETCH_FRAMES", 20)
    with HolisticExtractor(threads=2) as extractor:
        kp = extractor(Overstating(ClipSource(Path(signing_clip))))
    np.testing.assert_array_equal(kp.points, whole.points)


def test_extraction_is_deterministic_across_clips(photo_video, signing_clip):
    """The graph is reset per clip: a clip's landmarks do not depend on what came before it."""
    segment = ClipSource(Path(signing_clip), start=0.5, end=0.8)
    with HolisticExtractor() as extractor:
        alone = extractor(segment)
    with HolisticExtractor() as extractor:
        extractor(ClipSource(photo_video, start=0.0, end=0.2))
        after_other = extractor(segment)
    np.testing.assert_array_equal(alone.points, after_other.points)
    assert alone.num_frames == 9 and alone.info["segment"] == {"start": 0.5, "end": 0.8}


def test_segment_frames_are_exact_and_end_is_clamped(signing_clip):
    full = list(FrameReader(ClipSource(Path(signing_clip))))
    reader = FrameReader(ClipSource(Path(signing_clip), start=0.5, end=1.2))
    segment = list(reader)
    first = round(0.5 * reader.fps)
    assert len(segment) == round(1.2 * reader.fps) - first
    for got, expected in zip(segment, full[first:]):
        np.testing.assert_array_equal(got, expected)
    clamped = FrameReader(ClipSource(Path(signing_clip), start=1.5, end=60.0))
    assert len(list(clamped)) == len(full) - round(1.5 * clamped.fps)
    assert "past the video's end" in clamped.warnings[0]
    with pytest.raises(UnreadableClip, match="after the video's end"):
        FrameReader(ClipSource(Path(signing_clip), start=60.0, end=61.0))


def test_frame_folder_in_natural_order(tmp_path):
    for i in (1, 2, 10):  # lexical order would put 10 before 2
        cv2.imwrite(str(tmp_path / f"frame{i}.png"), np.full((8, 12, 3), i, np.uint8))
    reader = FrameReader(ClipSource(tmp_path, fps=12.5))
    assert (reader.fps, reader.width, reader.height, reader.expected_frames) == (12.5, 12, 8, 3)
    assert [int(frame[0, 0, 0]) for frame in reader] == [1, 2, 10]
    segment = FrameReader(ClipSource(tmp_path, start=1 / 12.5, end=3 / 12.5, fps=12.5))
    assert segment.expected_frames == 2 and [int(frame[0, 0, 0]) for frame in segment] == [2, 10]


def test_other_model_complexities_are_rejected():
    with pytest.raises(ValueError, match="only 1 works offline"):
        HolisticExtractor(model_complexity=2)

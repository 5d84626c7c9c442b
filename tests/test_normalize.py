from dataclasses import replace

import numpy as np
import pytest
from keypoint_fixtures import synthetic_clip, write_clip

from slt.data.augment import AugmentConfig, augment
from slt.data.normalize import LEFT_SHOULDER, RIGHT_SHOULDER, NormalizeConfig, Normalizer, left_handed
from slt.keypoints import schema
from slt.keypoints.io import read_parquet

HANDS_START = len(schema.POSE)  # where the hands begin in the 75-joint input


def rotate_xy(points, degrees, center=(0.5, 0.5)):
    angle = np.deg2rad(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
    out = points.copy()
    out[..., :2] = (points[..., :2] - center) @ rotation.T + center
    return out


def test_shapes_and_edges():
    default = Normalizer()
    assert (default.num_joints, default.num_channels) == (23 + 42, 5)
    assert Normalizer(NormalizeConfig(use_z=True)).num_channels == 7
    assert Normalizer(NormalizeConfig(hand_offsets=False)).num_channels == 3
    assert Normalizer(NormalizeConfig(upper_body=False)).num_joints == 75
    features = default(synthetic_clip(30))
    assert features.shape == (30, 65, 5) and features.dtype == np.float32

    edges = default.edges()
    assert edges.min() >= 0 and edges.max() < default.num_joints
    # Every bone of the full skeleton that does not touch a hip or leg joint is kept, remapped.
    full = schema.edges(schema.DEFAULT_PARTS)
    upper = full[(full < schema.POSE.index("left_hip")).all(1) | (full >= HANDS_START).all(1)]
    assert len(edges) == len(upper) + 2  # + the two pose-wrist -> hand-wrist links
    # The hands hang off the pose wrists, so the graph convolution can pass messages between them.
    for hand, wrist in schema.POSE_WRIST.items():
        assert [wrist, default.hands[hand][0]] in edges.tolist()


@pytest.mark.parametrize("use_z", [False, True])
def test_invariant_to_translation_and_scale(use_z):
    normalizer = Normalizer(NormalizeConfig(use_z=use_z))
    points = synthetic_clip(40, seed=1)
    moved = points * 0.6 + np.array([0.13, -0.07, 0.0], np.float32)
    # Pose depth has its own origin; hand depth is measured from the hand's wrist, so it must not move.
    moved[:, :HANDS_START, 2] += 0.02
    np.testing.assert_allclose(normalizer(moved), normalizer(points), atol=1e-5)


def test_rotation_changes_features_and_rotates_positions():
    normalizer = Normalizer()
    points = synthetic_clip(40, seed=2)
    original, rotated = normalizer(points), normalizer(rotate_xy(points, 20))
    assert np.abs(rotated - original).max() > 0.1
    # The reference moves with the body, so the normalized positions are the original ones rotated
    # (up to the per-axis median of the reference, which does not commute exactly with a rotation).
    np.testing.assert_allclose(rotated[..., :2], rotate_xy(original[..., :2], 20, center=(0, 0)), atol=3e-3)


def test_missing_points_are_zero_with_mask_zero():
    normalizer = Normalizer()
    points = synthetic_clip(20, seed=3, hand_dropout=0.0)
    points[5:8, HANDS_START + 21 :] = np.nan  # right hand lost for three frames
    points[10, schema.POSE.index("left_elbow")] = np.nan
    features = normalizer(points)
    assert np.isfinite(features).all()
    right_hand = normalizer.hands["right_hand"]
    assert (features[5:8, right_hand] == 0).all()
    elbow = schema.POSE.index("left_elbow")
    assert (features[10, elbow] == 0).all()
    mask = features[..., -1]
    assert mask.sum() == mask.size - 3 * 21 - 1
    # Hand joints carry their offset from the wrist; pose joints have none.
    wrist = right_hand[0]
    np.testing.assert_allclose(features[0, right_hand, 2:4], features[0, right_hand, :2] - features[0, wrist, :2], atol=1e-6)
    assert (features[:, : normalizer.hands["left_hand"][0], 2:4] == 0).all()


def test_reference_is_per_clip_and_robust():
    normalizer = Normalizer()
    points = synthetic_clip(20, seed=4)
    points[:, [LEFT_SHOULDER, RIGHT_SHOULDER]] = points[0, [LEFT_SHOULDER, RIGHT_SHOULDER]]  # a still torso
    reference = normalizer(points)
    # Frames without a pose and one frame with misplaced shoulders leave the other frames unchanged.
    damaged = points.copy()
    damaged[:6, :HANDS_START] = np.nan
    damaged[12, LEFT_SHOULDER] += 0.2
    output = normalizer(damaged)
    keep = [f for f in range(20) if f >= 6 and f != 12]
    np.testing.assert_allclose(output[keep], reference[keep], atol=1e-6)
    # The hands of the pose-less frames are still placed in the body frame.
    assert output[:6, normalizer.hands["left_hand"], -1].any()


def test_clip_without_shoulders_stays_finite():
    points = synthetic_clip(10, seed=5, hand_dropout=0.0)
    points[:, :HANDS_START] = np.nan
    features = Normalizer()(points)
    assert np.isfinite(features).all() and features[..., -1].sum() == 10 * 42


def test_keypoints_with_face_and_aspect(tmp_path):
    write_clip(tmp_path / "c.parquet", 15, seed=6, with_face=True)
    kp = read_parquet(tmp_path / "c.parquet")
    assert "face" in kp.parts
    normalizer = Normalizer()
    expected = normalizer(kp.select(schema.DEFAULT_PARTS).points, aspect=720 / 1280)
    np.testing.assert_array_equal(normalizer(kp), expected)
    # Without the aspect ratio, x would be stretched relative to y.
    assert not np.allclose(normalizer(kp.select(schema.DEFAULT_PARTS).points), expected)


def test_augment_deterministic_and_varied():
    normalizer = Normalizer()
    body = normalizer.transform(synthetic_clip(50, seed=7))
    hands = list(normalizer.hands.values())
    config = AugmentConfig(hand_drop=1.0)
    first = augment(body, config, np.random.default_rng(1), hands)
    again = augment(body, config, np.random.default_rng(1), hands)
    other = augment(body, config, np.random.default_rng(2), hands)
    np.testing.assert_array_equal(first, again)
    assert first.shape != other.shape or not np.allclose(first, other, equal_nan=True)
    assert 50 * 0.75 <= len(first) <= 50 * 1.25 + 1
    # Hand drop (here certain) removes whole hands for a stretch of frames and nothing else.
    same_length = augment(body, replace(config, speed=0, frame_drop=0), np.random.default_rng(3), hands)
    lost = np.isnan(same_length).any(axis=2) & ~np.isnan(body).any(axis=2)  # [T, J] newly missing
    assert lost.any() and not lost[:, : hands[0][0]].any()
    for joints in hands:
        frames_lost = lost[:, joints]
        assert (frames_lost.all(axis=1) | ~frames_lost.any(axis=1) | np.isnan(body[:, joints]).any(axis=(1, 2))).all()
        assert frames_lost.any(axis=1).sum() <= config.hand_drop_frames

def test_augment_off_is_identity():
    normalizer = Normalizer()
    body = normalizer.transform(synthetic_clip(30, seed=8))
    off = AugmentConfig(rotation=0, scale=0, shear=0, translation=0, speed=0, frame_drop=0, joint_noise=0, hand_drop=0)
    np.testing.assert_array_equal(augment(body, off, np.random.default_rng(0), normalizer.hands.values()), body)


def test_mirroring_reads_a_left_handed_clip_like_its_right_handed_twin(tiny_corpus):
    """A clip's mirror image (left and right swapped, x flipped: the same signing by a left-handed signer)
    gives the clip's own features once mirrored back; a right-handed clip is left as it is."""
    pose, slices = schema.POSE, schema.part_slices(schema.DEFAULT_PARTS)
    twin = [pose.index(name.replace("left", "@").replace("right", "left").replace("@", "right")) for name in pose]
    order = np.r_[twin, np.arange(slices["right_hand"].start, slices["right_hand"].stop), np.arange(slices["left_hand"].start, slices["left_hand"].stop)]
    on, off = Normalizer(), Normalizer(NormalizeConfig(mirror_left_handed=False))
    for path in sorted((tiny_corpus / "keypoints" / "train").glob("*.parquet"))[:4]:
        points = read_parquet(path).select(schema.DEFAULT_PARTS).points
        flipped = points[:, order].copy()
        flipped[..., 0] = 1 - flipped[..., 0]
        assert left_handed(off.transform(flipped)) and not left_handed(off.transform(points))
        np.testing.assert_allclose(on(flipped), on(points), atol=1e-5)
        np.testing.assert_array_equal(on(points), off(points))
        assert not np.allclose(off(flipped), off(points))


def test_hand_scale_reads_a_larger_hand_like_a_smaller_one():
    """With `hand_scale`, the hand offsets are in units of the hand's own size: a hand twice as large (each
    joint twice as far from its wrist) gives the same offsets, where shoulder-width units double them."""
    points = synthetic_clip(30, seed=8, hand_dropout=0.0)
    large = points.copy()
    right = slice(HANDS_START + 21, HANDS_START + 42)
    large[:, right, :2] = points[:, right.start : right.start + 1, :2] + 2 * (points[:, right, :2] - points[:, right.start : right.start + 1, :2])
    scaled, plain = Normalizer(NormalizeConfig(hand_scale=True)), Normalizer()
    joints, offsets = scaled.hands["right_hand"], slice(2, 4)
    np.testing.assert_allclose(scaled(large)[:, joints, offsets], scaled(points)[:, joints, offsets], atol=1e-4)
    np.testing.assert_allclose(plain(large)[:, joints, offsets], 2 * plain(points)[:, joints, offsets], atol=1e-4)
    assert np.abs(scaled(points)[:, joints, offsets]).max() > 1  # a hand's extent is about its size, not a fraction of the shoulders

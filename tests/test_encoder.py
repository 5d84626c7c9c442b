"""The keypoint encoder: shapes, short clips, clips without hands, padding, and the skeleton graph."""

import numpy as np
import pytest
import torch

from slt.data.normalize import Normalizer
from slt.model.encoder import EncoderConfig, GlossEncoder, KeypointEncoder, partitioned_adjacency

NORMALIZER = Normalizer()



def encoder(**config) -> KeypointEncoder:
    torch.manual_seed(0)
    defaults = dict(channels=(8, 16), dim=32, temporal_kernel=3)
    return KeypointEncoder(EncoderConfig(**{**defaults, **config}), NORMALIZER.num_joints, NORMALIZER.num_channels, NORMALIZER.edges())


def batch(lengths: list[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(len(lengths), max(lengths), NORMALIZER.num_joints, NORMALIZER.num_channels, generator=generator)
    mask = torch.arange(max(lengths))[None] < torch.tensor(lengths)[:, None]
    return features * mask[:, :, None, None], mask


@pytest.mark.parametrize("downsample", [1, 2, 4, 8])
def test_shapes_and_short_clips(downsample):
    lengths = [17, 3, 1, downsample + 1]
    out = encoder(downsample=downsample)(*batch(lengths))
    assert out.frame.shape == (4, 17, 32)
    assert out.sign.shape == (4, -(-17 // downsample), 32)
    # Every clip, even one shorter than the downsampling, keeps ceil(T / downsample) sign steps.
    assert out.sign_mask.sum(1).tolist() == [-(-n // downsample) for n in lengths]
    assert torch.isfinite(out.sign).all()
    out.sign.sum().backward()  # differentiable end to end


def test_clip_without_hands():
    features, mask = batch([12, 12])
    hands = np.concatenate(list(NORMALIZER.hands.values()))
    features[1, :, hands] = 0.0  # what the normalizer gives for never-detected hands: zeros, mask channel 0
    model = encoder()
    out = model(features, mask)
    assert torch.isfinite(out.sign).all() and out.sign_mask.all()
    model.eval()
    alone = model(features[1:], mask[1:])
    assert torch.isfinite(alone.sign).all()


def test_padding_does_not_change_a_clip():
    model = encoder().eval()
    features, mask = batch([20, 7])
    together = model(features, mask)
    alone = model(features[1:, :7], mask[1:, :7])
    torch.testing.assert_close(together.sign[1, :2], alone.sign[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(together.frame[1, :7], alone.frame[0], atol=1e-5, rtol=1e-5)
    assert (together.frame[1, 7:] == 0).all()


def test_partitioned_adjacency():
    # A path 0 - 1 - 2 rooted at 0: joint 1's neighbour 0 is closer to the root, 2 is farther.
    a = partitioned_adjacency(3, np.array([[0, 1], [1, 2]]))
    assert a.shape == (3, 3, 3)
    torch.testing.assert_close(a.sum(dim=(0, 1)), torch.ones(3))  # each joint averages over itself and neighbours
    assert a[1, 0, 1] > 0 and a[2, 2, 1] > 0 and a[0, 1, 1] > 0
    assert a[2, 0, 1] == 0 and a[1, 2, 1] == 0


def test_gloss_encoder():
    model = GlossEncoder(["ME", "SMART", "NOW"], dim=8)
    out = model(["NOW ME SMART", "UNSEEN"])
    assert out.sign.shape == (2, 3, 8)
    assert out.sign_mask.tolist() == [[True, True, True], [True, False, False]]
    torch.testing.assert_close(out.sign[1, 0], model.embedding.weight[1])  # unknown gloss -> the <unk> row


def test_config_rejects_bad_downsampling():
    with pytest.raises(ValueError, match="downsample"):
        EncoderConfig(downsample=3)

"""Visual encoders: the paper's "backbone + local temporal module", on keypoints instead of RGB frames.

`KeypointEncoder` reads normalized keypoints `[B, T, J, C]`:
0. with `stride` s > 1, each s consecutive frames are folded into one frame of s * C channels
   (`[B, T / s, J, s * C]`): the graph blocks, the costly part, then run at 1/s of the frame rate
   without losing a frame;
1. backbone: ST-GCN blocks (Yan et al., AAAI 2018): a graph convolution over the skeleton, with the
   neighbours of each joint split into partitions (itself, towards the root, away from it) and a
   learnable correction of the adjacency (as in 2s-AGCN), then a temporal convolution; residual
   connections and BatchNorm throughout;
2. the joints of each frame are projected to one "frame-wise" feature `[B, T / s, D]`;
3. the local temporal module (Conv1d-BatchNorm-ReLU blocks with max-pooling) shrinks time by the rest of
   `downsample` and gives the "sign-wise" features `[B, ceil(T / downsample), D]` (paper Table 6: 4x is best).

`GlossEncoder` is the oracle: it embeds gloss tokens and gives the same output, so the translator can be
trained on glosses to measure the ceiling a pose model can reach.

Padded frames are kept at zero after every block, so a clip encodes the same whether it is batched
with longer clips or not (in eval mode).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class EncoderConfig:
    """Keypoint encoder sizes; defaults are a CPU-friendly model."""

    channels: tuple[int, ...] = (64, 64, 128)  # one ST-GCN block per entry: its output channels
    temporal_kernel: int = 9  # frames seen by each ST-GCN temporal convolution
    dim: int = 256  # width D of the frame-wise and sign-wise features
    downsample: int = 4  # time reduction of the sign-wise features: 1, 2, 4 or 8
    stride: int = 1  # frames folded into one before the graph blocks (a divisor of downsample): 2 halves their cost
    local_kernel: int = 5  # kernel of the local temporal module's Conv1d
    dropout: float = 0.1

    def __post_init__(self):
        # Checked here, where a config file is read, not deep inside the model after an epoch of training.
        def positive(value) -> bool:
            return isinstance(value, int) and not isinstance(value, bool) and value > 0

        if not isinstance(self.channels, (list, tuple)) or not self.channels or not all(map(positive, self.channels)):
            raise ValueError(f"model.encoder.channels must be a non-empty list of positive integers (one per ST-GCN block), got {self.channels!r}")
        self.channels = tuple(self.channels)
        if self.downsample not in (1, 2, 4, 8):
            raise ValueError(f"model.encoder.downsample must be 1, 2, 4 or 8, got {self.downsample!r}")
        for key in ("temporal_kernel", "local_kernel"):
            value = getattr(self, key)
            if not positive(value) or value % 2 == 0:  # an even kernel would change the clip's length
                raise ValueError(f"model.encoder.{key} must be a positive odd integer, got {value!r}")
        if not positive(self.dim):
            raise ValueError(f"model.encoder.dim must be a positive integer, got {self.dim!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"model.encoder.dropout must be in [0, 1), got {self.dropout!r}")
        if not positive(self.stride) or self.downsample % self.stride:
            raise ValueError(f"model.encoder.stride must be a positive divisor of downsample ({self.downsample}), got {self.stride!r}")


@dataclass
class EncoderOutput:
    frame: torch.Tensor  # [B, T / stride, D] frame-wise features
    frame_mask: torch.Tensor  # [B, T / stride] True on real (folded) frames
    sign: torch.Tensor  # [B, T', D] sign-wise features, T' = ceil(T / downsample)
    sign_mask: torch.Tensor  # [B, T']


def partitioned_adjacency(num_joints: int, edges: np.ndarray, root: int = 0) -> torch.Tensor:
    """ST-GCN's spatial partitioning, `[3, J, J]`: (self and same-depth neighbours, neighbours closer to
    `root`, neighbours farther from it), each column-normalized by the joint's degree.

    Depth is the hop distance to `root`; joints not connected to it count as depth 0 of their own.
    """
    neighbours = [[] for _ in range(num_joints)]
    for a, b in np.asarray(edges).reshape(-1, 2):
        neighbours[a].append(b)
        neighbours[b].append(a)
    depth = np.full(num_joints, -1)
    for start in [root, *range(num_joints)]:  # breadth-first from the root, then from any unreached joint
        if depth[start] >= 0:
            continue
        depth[start] = 0
        queue = deque([start])
        while queue:
            i = queue.popleft()
            for j in neighbours[i]:
                if depth[j] < 0:
                    depth[j] = depth[i] + 1
                    queue.append(j)
    adjacency = np.zeros((3, num_joints, num_joints), dtype=np.float32)
    for i in range(num_joints):
        adjacency[0, i, i] = 1
        for j in neighbours[i]:
            adjacency[0 if depth[j] == depth[i] else 1 if depth[j] < depth[i] else 2, j, i] = 1
    degree = adjacency.sum(axis=(0, 1))  # every joint's in-degree, self loop included
    return torch.from_numpy(adjacency / degree)


class GraphConv(nn.Module):
    """Spatial graph convolution: a 1x1 convolution per partition, summed over the partition's neighbours."""

    def __init__(self, in_channels: int, out_channels: int, adjacency: torch.Tensor):
        super().__init__()
        # Not saved: it is the skeleton's, rebuilt from the config. All blocks share one tensor, which
        # `.to(device)` unshares, so a saved copy made a GPU-trained checkpoint unloadable into a fresh model.
        self.register_buffer("adjacency", adjacency, persistent=False)
        # Learned correction of the skeleton graph, starting from the skeleton itself.
        self.adjacency_delta = nn.Parameter(torch.zeros_like(adjacency))
        self.conv = nn.Conv2d(in_channels, out_channels * len(adjacency), kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, C, T, J] -> [N, C', T, J]
        n, _, t, j = x.shape
        k = len(self.adjacency)
        # One matrix product over (partition, joint) pairs: [N C' T, K J] @ [K J, J] (an einsum over the
        # partitions ran as K batched products and was the encoder's costliest step).
        x = self.conv(x).view(n, k, -1, t, j).permute(0, 2, 3, 1, 4).reshape(-1, k * j)
        return (x @ (self.adjacency + self.adjacency_delta).reshape(k * j, j)).view(n, -1, t, j)


class STGCNBlock(nn.Module):
    """Graph convolution, then temporal convolution, each with BatchNorm; residual; ReLU."""

    def __init__(self, in_channels: int, out_channels: int, adjacency: torch.Tensor, kernel: int, dropout: float):
        super().__init__()
        self.gcn = nn.Sequential(GraphConv(in_channels, out_channels, adjacency), nn.BatchNorm2d(out_channels), nn.ReLU())
        self.tcn = nn.Sequential(
            nn.Conv2d(out_channels, out_channels, (kernel, 1), padding=(kernel // 2, 0)),
            nn.BatchNorm2d(out_channels),
            nn.Dropout(dropout),
        )
        if in_channels == out_channels:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # mask [N, 1, T, 1]
        # Masking before the temporal convolution keeps padded frames out of real frames' receptive field.
        return F.relu(self.tcn(self.gcn(x) * mask) + self.residual(x)) * mask


class LocalTemporalModule(nn.Module):
    """Conv1d-BatchNorm-ReLU blocks, each but the last followed by 2x max-pooling in time."""

    def __init__(self, dim: int, downsample: int, kernel: int):
        super().__init__()
        self.pools = int(math.log2(downsample))
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(dim, dim, kernel, padding=kernel // 2), nn.BatchNorm1d(dim), nn.ReLU())
            for _ in range(max(1, self.pools))
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, D, T], [B, T] -> [B, D, T'], [B, T'] with T' = ceil(T / downsample)."""
        for i, block in enumerate(self.blocks):
            x = block(x) * mask[:, None]
            if i < self.pools:
                # ceil_mode keeps a last, partial window, so even a 1-frame clip gives one sign step; features
                # are >= 0 after ReLU, so the zeros of padded frames never win the max.
                x = F.max_pool1d(x, 2, ceil_mode=True)
                mask = F.max_pool1d(mask[:, None].float(), 2, ceil_mode=True)[:, 0].bool()
        return x, mask


class KeypointEncoder(nn.Module):
    """ST-GCN backbone + joint projection + local temporal module (see the module docstring)."""

    def __init__(self, config: EncoderConfig, num_joints: int, in_channels: int, edges: np.ndarray):
        super().__init__()
        self.config = config
        adjacency = partitioned_adjacency(num_joints, edges)
        in_channels *= config.stride
        self.input_norm = nn.BatchNorm1d(num_joints * in_channels)  # per joint and coordinate, as in ST-GCN
        widths = (in_channels, *config.channels)
        self.blocks = nn.ModuleList(
            STGCNBlock(a, b, adjacency, config.temporal_kernel, config.dropout) for a, b in zip(widths, widths[1:])
        )
        # A projection of all joints (rather than their mean) keeps track of which joint moved where.
        self.frame_projection = nn.Linear(num_joints * widths[-1], config.dim)
        self.local_temporal = LocalTemporalModule(config.dim, config.downsample // config.stride, config.local_kernel)

    def forward(self, features: torch.Tensor, frame_mask: torch.Tensor) -> EncoderOutput:
        """features `[B, T, J, C]`, frame_mask `[B, T]` (True on real frames)."""
        if self.config.stride > 1:
            features, frame_mask = fold(features, frame_mask, self.config.stride)
        b, t, j, c = features.shape
        keep = frame_mask[:, None, :, None].to(features.dtype)
        x = self.input_norm(features.reshape(b, t, j * c).transpose(1, 2)).view(b, j, c, t)
        x = x.permute(0, 2, 3, 1) * keep  # [B, C, T, J]
        for block in self.blocks:
            x = block(x, keep)
        frame = F.relu(self.frame_projection(x.permute(0, 2, 3, 1).reshape(b, t, -1))) * keep[:, 0]
        sign, sign_mask = self.local_temporal(frame.transpose(1, 2), frame_mask)
        return EncoderOutput(frame, frame_mask, sign.transpose(1, 2), sign_mask)

    def encode(self, batch: dict) -> EncoderOutput:
        """Encode a data batch (its "features" and "frame_mask")."""
        return self(batch["features"], batch["frame_mask"])


def fold(features: torch.Tensor, frame_mask: torch.Tensor, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`[B, T, J, C]`, `[B, T]` -> `[B, ceil(T / stride), J, stride * C]` and its mask: each `stride` frames
    side by side as one (zero-padded at the end; a folded frame is real when its first frame is)."""
    b, t, j, c = features.shape
    pad = -t % stride
    features = F.pad(features, (0, 0, 0, 0, 0, pad)).view(b, -1, stride, j, c)
    features = features.permute(0, 1, 3, 2, 4).reshape(b, -1, j, stride * c)
    return features, F.pad(frame_mask, (0, pad))[:, ::stride]


class GlossEncoder(nn.Module):
    """The gloss oracle: one learned embedding per gloss of the training vocabulary (0 pads, 1 is unknown)."""

    def __init__(self, vocabulary: list[str], dim: int):
        super().__init__()
        self.vocabulary = list(vocabulary)
        self.index = {gloss: i + 2 for i, gloss in enumerate(self.vocabulary)}
        self.embedding = nn.Embedding(len(self.vocabulary) + 2, dim, padding_idx=0)

    def forward(self, glosses: list[str]) -> EncoderOutput:
        ids = [[self.index.get(g, 1) for g in text.split()] or [1] for text in glosses]
        length = max(len(i) for i in ids)
        device = self.embedding.weight.device
        tokens = torch.zeros(len(ids), length, dtype=torch.long, device=device)
        for row, seq in enumerate(ids):
            tokens[row, : len(seq)] = torch.tensor(seq, device=device)
        mask = tokens != 0
        embeds = self.embedding(tokens)
        return EncoderOutput(embeds, mask, embeds, mask)

    def encode(self, batch: dict) -> EncoderOutput:
        """Encode a data batch (its "gloss" strings)."""
        return self(batch["gloss"])

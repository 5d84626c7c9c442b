"""The full translator: visual encoder -> adapter -> language model.

The same class serves both stages of the factorized learning: in stage 1 the adapter is a linear map and
the language model is Light-T, trained together with the encoder; in stage 2 the adapter is an MLP and
the language model a pretrained LLM, with the encoder frozen.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_model
from torch import nn

from slt.model.encoder import EncoderConfig
from slt.model.llm import VisualLM


class SignTranslator(nn.Module):
    """`forward(batch) -> loss` and `translate(batch) -> sentences` for the batches of `make_loader`.

    `encoder` is any module with `encode(batch) -> EncoderOutput` (`KeypointEncoder`, `GlossEncoder`);
    `feature` picks which of its outputs the adapter reads: "sign" (downsampled) or "frame".
    """

    def __init__(self, encoder: nn.Module, adapter: nn.Module, lm: VisualLM, feature: str = "sign", label_smoothing: float = 0.0):
        super().__init__()
        if feature not in ("sign", "frame"):
            raise ValueError(f"feature must be 'sign' or 'frame', got {feature!r}")
        self.encoder = encoder
        self.adapter = adapter
        self.lm = lm
        self.feature = feature
        self.label_smoothing = label_smoothing

    def max_frames(self, text_tokens: int) -> int | None:
        """The longest clip, in frames, whose visual embeddings fit the language model's positions (and those
        of stage 2's Light-T encoder, when it reads its states), leaving `text_tokens` positions for the
        sentence of a decoder-only model. None: no limit, or an encoder that does not read frames (glosses)."""
        keypoints = getattr(self.encoder, "keypoints", self.encoder)  # stage 2's Light-T states wrap the encoder
        if not isinstance(getattr(keypoints, "config", None), EncoderConfig):
            return None
        limits = [self.lm.input_positions(text_tokens)]
        if hasattr(self.encoder, "light_t"):
            limits.append(self.encoder.light_t.config.max_position_embeddings)
        limits = [limit for limit in limits if limit is not None]
        feature = getattr(self.encoder, "feature", self.feature)
        return min(limits) * (keypoints.config.downsample if feature == "sign" else 1) if limits else None

    def embed(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Visual embeddings for the language model: `[B, N, lm.hidden_size]` and their mask `[B, N]`."""
        out = self.encoder.encode(batch)
        features, mask = (out.sign, out.sign_mask) if self.feature == "sign" else (out.frame, out.frame_mask)
        return self.adapter(features), mask

    def forward(self, batch: dict) -> torch.Tensor:
        """Label-smoothed cross-entropy of the batch's "text" given its clips."""
        embeds, mask = self.embed(batch)
        return self.lm(embeds, mask, batch["text"], label_smoothing=self.label_smoothing)

    @torch.no_grad()
    def translate(self, batch: dict, num_beams: int = 5, max_new_tokens: int = 64, length_penalty: float = 1.0) -> list[str]:
        """Beam-search one sentence per clip of the batch."""
        embeds, mask = self.embed(batch)
        return self.lm.generate(embeds, mask, num_beams=num_beams, max_new_tokens=max_new_tokens, length_penalty=length_penalty)


def load_weights(model: nn.Module, path: str | Path, optional: str = "") -> None:
    """Load a run's safetensors file into `model` (no pickle). A file that is damaged, foreign or does not
    match the model its config.json builds is one ValueError naming it; weights whose names start with
    `optional` (and only those) may be absent from the file."""
    try:
        missing, unexpected = load_model(model, str(path), strict=False)
    except RuntimeError as error:  # torch's "size mismatch for ...", one line of a longer report
        detail = next((line.strip() for line in str(error).splitlines()[1:] if line.strip()), str(error))
        raise ValueError(f"{path} does not match the model its config.json describes ({detail})") from None
    except Exception as error:  # safetensors' own error type, for a truncated or foreign file
        raise ValueError(f"{path} is damaged or not a safetensors file ({error})") from None
    missing = [name for name in missing if not (optional and name.startswith(optional))]
    if missing or unexpected:
        found = [f"{len(names)} weight(s) {kind} (e.g. {names[0]})" for kind, names in (("missing", missing), ("unexpected", unexpected)) if names]
        raise ValueError(f"{path} does not match the model its config.json describes: {', '.join(found)}")

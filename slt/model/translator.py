"""The full translator: visual encoder -> adapter -> language model.

The same class serves both stages of the factorized learning: in stage 1 the adapter is a linear map and
the language model is Light-T, trained together with the encoder; in stage 2 (`Stage2Translator`) the
adapter is an MLP (`mlp_adapter`) and the language model a pretrained LLM, with the encoder parts that
`frozen_parts` names kept fixed, and the encoder may end in stage 1's Light-T encoder (`LightTEncoderStates`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_model
from torch import nn

from slt.model.encoder import EncoderConfig, EncoderOutput, KeypointEncoder
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


class LightTEncoderStates(nn.Module):
    """The stage-1 pipeline up to Light-T's encoder; its hidden states are the "hidden" adapter input.

    `encode(batch)` returns them in the `sign` slot of an `EncoderOutput`, so `SignTranslator` reads them
    like any other feature.
    """

    def __init__(self, keypoints: KeypointEncoder, projection: nn.Module, light_t: nn.Module, feature: str):
        super().__init__()
        self.keypoints, self.projection, self.light_t, self.feature = keypoints, projection, light_t, feature

    def encode(self, batch: dict) -> EncoderOutput:
        out = self.keypoints.encode(batch)
        x, mask = (out.sign, out.sign_mask) if self.feature == "sign" else (out.frame, out.frame_mask)
        hidden = self.light_t(inputs_embeds=self.projection(x), attention_mask=mask.long()).last_hidden_state
        return EncoderOutput(out.frame, out.frame_mask, hidden, mask)


class Stage2Translator(SignTranslator):
    """A `SignTranslator` whose frozen encoder parts never change: no gradients, and always in eval mode,
    so that BatchNorm statistics and dropout stay as in stage 1 while the rest trains."""

    def __init__(self, encoder: nn.Module, adapter: nn.Module, lm: VisualLM, feature: str, label_smoothing: float, frozen: list[nn.Module]):
        super().__init__(encoder, adapter, lm, feature, label_smoothing)
        self.frozen = frozen  # a plain list: these modules are registered once, under `encoder`
        for module in frozen:
            module.requires_grad_(False)

    def train(self, mode: bool = True) -> Stage2Translator:
        super().train(mode)
        for module in self.frozen:
            module.eval()
        return self


def frozen_parts(encoder: nn.Module, freeze: str) -> list[nn.Module]:
    """The encoder modules that `freeze` names (paper Table 9: the backbone, then the local temporal module).

    With Light-T hidden states as adapter input, Light-T's encoder sits above the temporal module and is
    frozen with it.
    """
    keypoints = encoder.keypoints if isinstance(encoder, LightTEncoderStates) else encoder
    parts = []
    if freeze in ("backbone", "backbone+temporal"):
        parts += [keypoints.input_norm, keypoints.blocks, keypoints.frame_projection]
    if freeze == "backbone+temporal":
        parts.append(keypoints.local_temporal)
        if isinstance(encoder, LightTEncoderStates):
            parts += [encoder.projection, encoder.light_t]
    return parts


def mlp_adapter(in_dim: int, out_dim: int) -> nn.Module:
    """The visual-language adapter: an MLP with one hidden layer of the LLM's width."""
    return nn.Sequential(nn.Linear(in_dim, out_dim), nn.GELU(), nn.Linear(out_dim, out_dim))


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

"""Language models that read visual embeddings: Light-T (stage 1) and any Hugging Face LLM (stage 2).

`VisualLM` wraps a Hugging Face model and its tokenizer so that a sequence of visual embeddings
`[B, N, D]` takes the place of text input:

- sequence-to-sequence models (BART, mBART, T5, mT5): the embeddings replace the encoder's input
  embeddings, and the decoder writes the sentence;
- decoder-only models (Qwen, Llama, Gemma, GPT-2...): a text prompt, then the visual prefix, then the
  sentence; the loss covers the sentence only. Prefixes are left-padded so that every sentence starts at
  the same position, which is also the layout `generate` expects.

Decoding is Hugging Face's own beam search (`generate(inputs_embeds=...)`).
"""

from __future__ import annotations

import json
import os
import socket
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import torch
import torch.nn.functional as F
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    BartConfig,
    BartForConditionalGeneration,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging as transformers_logging

from slt.files import copy_folder

# Light-T sizes from the paper's Table 7: (layers per side, heads, d_model, feed-forward).
LIGHT_T_PRESETS = {
    "tiny": (1, 4, 256, 1024),
    "small": (2, 4, 512, 2048),
    "base": (3, 8, 512, 2048),  # the paper's choice
    "large": (4, 8, 1024, 4096),
}

FINETUNE_MODES = ("lora", "full", "frozen")
CONFIG_NAME = "visual_lm.json"
BASE_FOLDER = "base"  # a local base model's copy inside a saved folder
LOCAL_BASE = "./" + BASE_FOLDER  # how the saved config names that copy: relative to the folder


class LLMUnavailableError(OSError):
    """The language model could not be found locally nor downloaded (an OSError, as transformers' own are)."""


class VisualLM(nn.Module):
    """A Hugging Face seq2seq or causal LM that reads visual embeddings instead of (or before) text."""

    def __init__(self, model: nn.Module, tokenizer: PreTrainedTokenizerBase, prompt: str = "", source: dict | None = None):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.prompt = prompt
        # How to rebuild the model (base id or path, fine-tuning mode, LoRA settings); saved with it.
        self.source = source or {}
        self.is_encoder_decoder = bool(model.config.is_encoder_decoder)
        if tokenizer.pad_token_id is None:  # Llama-style tokenizers ship without one
            tokenizer.pad_token = tokenizer.eos_token

    @property
    def hidden_size(self) -> int:
        return self.model.get_input_embeddings().embedding_dim

    def input_positions(self, text_tokens: int) -> int | None:
        """How many visual embeddings fit the model's positions (None: no fixed limit); a decoder-only
        model keeps room for the prompt and `text_tokens` of the sentence."""
        config = self.model.config
        limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        if limit is None or self.is_encoder_decoder:
            return limit
        return limit - len(self.tokenizer(self.prompt, add_special_tokens=False)["input_ids"]) - text_tokens

    def _target_ids(self, texts: list[str]) -> list[list[int]]:
        # Special tokens are added by hand: tokenizers disagree on whether they append EOS themselves.
        ids = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [seq + [self.tokenizer.eos_token_id] for seq in ids]

    def _causal_prefix(self, embeds: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompt + visual embeddings, left-padded: returns (embeds [B, P, D], mask [B, P])."""
        batch, _, dim = embeds.shape
        prompt_ids = self.tokenizer(self.prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
        prompt = self.model.get_input_embeddings()(prompt_ids.to(embeds.device))[0].to(embeds.dtype)
        parts = [torch.cat([prompt, embeds[i][mask[i]]]) for i in range(batch)]
        length = max(len(p) for p in parts)
        prefix = embeds.new_zeros(batch, length, dim)
        prefix_mask = torch.zeros(batch, length, dtype=torch.bool, device=embeds.device)
        for i, p in enumerate(parts):
            prefix[i, length - len(p) :] = p
            prefix_mask[i, length - len(p) :] = True
        return prefix, prefix_mask

    def forward(self, embeds: torch.Tensor, mask: torch.Tensor, texts: list[str], label_smoothing: float = 0.0) -> torch.Tensor:
        """Mean token cross-entropy of `texts` given the visual embeddings `[B, N, D]` (mask True = real)."""
        targets = self._target_ids(texts)
        length = max(len(t) for t in targets)
        labels = torch.full((len(targets), length), -100, dtype=torch.long, device=embeds.device)
        for i, t in enumerate(targets):
            labels[i, : len(t)] = torch.tensor(t, device=embeds.device)

        if self.is_encoder_decoder:
            decoder_ids = self.model.prepare_decoder_input_ids_from_labels(
                labels=labels.masked_fill(labels == -100, self.tokenizer.pad_token_id)
            )
            logits = self.model(inputs_embeds=embeds, attention_mask=mask.long(), decoder_input_ids=decoder_ids).logits
        else:
            prefix, prefix_mask = self._causal_prefix(embeds, mask)
            # Teacher forcing: the sentence's own tokens, shifted right by the last prefix position.
            target_in = labels.masked_fill(labels == -100, self.tokenizer.pad_token_id)
            inputs = torch.cat([prefix, self.model.get_input_embeddings()(target_in)], dim=1)
            attention = torch.cat([prefix_mask, labels != -100], dim=1).long()
            positions = (attention.cumsum(-1) - 1).clamp(min=0)
            out = self.model(inputs_embeds=inputs, attention_mask=attention, position_ids=positions)
            # Position P-1+k predicts target token k.
            logits = out.logits[:, prefix.shape[1] - 1 : -1]
        return F.cross_entropy(
            logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100, label_smoothing=label_smoothing
        )

    def encode(self, embeds: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The LM encoder's hidden states `[B, N, D]` (seq2seq models only)."""
        if not self.is_encoder_decoder:
            raise ValueError("encoder hidden states exist only for sequence-to-sequence models")
        return self.model.get_encoder()(inputs_embeds=embeds, attention_mask=mask.long()).last_hidden_state

    @torch.no_grad()
    def generate(
        self,
        embeds: torch.Tensor,
        mask: torch.Tensor,
        num_beams: int = 5,
        max_new_tokens: int = 64,
        length_penalty: float = 1.0,
    ) -> list[str]:
        """Beam-search decode one sentence per clip."""
        if not self.is_encoder_decoder:
            embeds, mask = self._causal_prefix(embeds, mask)
        out = self.model.generate(
            inputs_embeds=embeds,
            attention_mask=mask.long(),
            num_beams=num_beams,
            max_new_tokens=max_new_tokens,
            length_penalty=length_penalty,
            do_sample=False,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
        )
        return [t.strip() for t in self.tokenizer.batch_decode(out, skip_special_tokens=True)]

    def save_pretrained(self, directory: str | Path) -> None:
        """Write what `from_pretrained` needs: the tokenizer, how to rebuild the model, and its weights.

        LoRA runs store only the adapter (peft's format) beside a reference to the base model; fully
        fine-tuned and from-scratch models store everything; a frozen LLM stores the reference alone.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(directory)
        source = dict(self.source)
        if source.get("finetune") in ("lora", "frozen") and Path(str(source.get("base"))).is_dir():
            # A local base model travels with the folder, which then loads wherever it is moved or copied;
            # a hub id stays an id.
            copy_folder(Path(source["base"]), directory / BASE_FOLDER)
            source["base"] = LOCAL_BASE
        (directory / CONFIG_NAME).write_text(json.dumps({"prompt": self.prompt, **source}, indent=2))
        if self.source.get("finetune") != "frozen":
            self.model.save_pretrained(directory)

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> VisualLM:
        directory = Path(directory)
        source = json.loads((directory / CONFIG_NAME).read_text())
        prompt = source.pop("prompt", "")
        tokenizer = AutoTokenizer.from_pretrained(directory)
        finetune = source.get("finetune")
        if source.get("base") == LOCAL_BASE:
            source["base"] = str(directory / BASE_FOLDER)
        base = Path(str(source.get("base")))  # an absolute path in folders saved before bases were copied
        if finetune in ("lora", "frozen") and base.is_absolute() and not base.exists():  # not a hub id: a folder that went
            raise LLMUnavailableError(
                f"the base LLM folder {base} that {directory / CONFIG_NAME} names no longer exists; "
                "put it back (or train with --merge for a run that stands alone)"
            )
        with _quietly():
            if finetune in ("lora", "frozen"):
                model, _ = _load_hf(source["base"])
                if finetune == "lora":
                    from peft import PeftModel

                    model = PeftModel.from_pretrained(model, directory)
            else:
                model, _ = _load_hf(str(directory))
        return cls(model, tokenizer, prompt=prompt, source=source)


def light_t(preset: str, tokenizer: PreTrainedTokenizerBase, dropout: float = 0.1) -> VisualLM:
    """Light-T: a randomly initialized transformer encoder-decoder of one of the paper's sizes."""
    if preset not in LIGHT_T_PRESETS:
        raise ValueError(f"unknown Light-T preset {preset!r}; choose one of {list(LIGHT_T_PRESETS)}")
    layers, heads, d_model, ff = LIGHT_T_PRESETS[preset]
    config = BartConfig(
        vocab_size=len(tokenizer),
        d_model=d_model,
        encoder_layers=layers,
        decoder_layers=layers,
        encoder_attention_heads=heads,
        decoder_attention_heads=heads,
        encoder_ffn_dim=ff,
        decoder_ffn_dim=ff,
        max_position_embeddings=1024,
        dropout=dropout,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,  # BART's convention
        forced_eos_token_id=tokenizer.eos_token_id,
        # BART's own 0.02 suits its widths (768, 1024). At Light-T's 256-512 it leaves the decoder's
        # cross-attention so weak that the decoder learns the sentences first and shuts the visual input
        # out for good (BENCHMARKS.md, "Stage 1 on the realistic corpus"); 1/sqrt(width) keeps it open.
        init_std=d_model**-0.5,
    )
    return VisualLM(BartForConditionalGeneration(config), tokenizer, source={"light_t": preset, "finetune": "full"})


def load_llm(
    name: str,
    finetune: str = "lora",
    prompt: str = "",
    lora_rank: int = 16,
    lora_alpha: int = 32,
    lora_dropout: float = 0.05,
    lora_targets: list[str] | None = None,
) -> VisualLM:
    """Load any Hugging Face seq2seq or causal LM by hub id or local path, ready to fine-tune.

    `finetune`: "lora" (peft adapters on the attention and MLP projections; the rest frozen), "full"
    (every weight trains, as in the paper) or "frozen" (only the visual adapter trains).
    """
    if finetune not in FINETUNE_MODES:
        raise ValueError(f"unknown fine-tuning mode {finetune!r}; choose one of {list(FINETUNE_MODES)}")
    model, tokenizer = _load_hf(name)
    source = {"base": name, "finetune": finetune}
    if finetune == "lora":
        from peft import LoraConfig, get_peft_model
        from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING

        # peft knows the attention projections of common architectures; elsewhere adapt every linear layer.
        known = model.config.model_type in TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING
        targets = lora_targets or (None if known else "all-linear")
        config = LoraConfig(r=lora_rank, lora_alpha=lora_alpha, lora_dropout=lora_dropout, target_modules=targets)
        with _quietly():
            model = get_peft_model(model, config)
        source.update(lora_rank=lora_rank, lora_alpha=lora_alpha, lora_dropout=lora_dropout)
    else:
        model.requires_grad_(finetune == "full")
    return VisualLM(model, tokenizer, prompt=prompt, source=source)


@contextmanager
def _quietly() -> Iterator[None]:
    """Keep two messages meant for library authors from slt's users: the FutureWarning peft causes by asking
    every model it wraps whether gradient checkpointing is on through a method transformers 5 deprecated,
    and transformers' per-tensor "Loading weights" bar, which for a finished run would only come between the
    results that `slt evaluate` and `slt translate` print."""
    bar = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
            yield
    finally:
        if bar:
            transformers_logging.enable_progress_bar()


def load_tokenizer(name: str) -> PreTrainedTokenizerBase:
    """The tokenizer of a hub id or local model folder, with the same fail-fast rules as `load_llm`."""
    return _load_hf(name, with_model=False)[1]


def _load_hf(name: str, with_model: bool = True):
    """(model, tokenizer) for a local folder or a hub id, failing within seconds when neither is reachable.

    `with_model=False` loads the tokenizer alone (model None).
    """
    local = Path(name).expanduser()
    if not local.exists() and (local.is_absolute() or name.startswith((".", "~"))):  # a path, not a hub id
        raise LLMUnavailableError(f"no model folder {name}")
    if local.exists():
        if not (local / "config.json").exists() and with_model:
            raise LLMUnavailableError(f"{name} has no config.json: it is not a saved Hugging Face model folder")
        location, offline = str(local), True
    else:
        location, offline = name, hub_unreachable()
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=offline)
        model = None
        if with_model:
            config = AutoConfig.from_pretrained(location, local_files_only=offline)
            auto = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
            model = auto.from_pretrained(location, local_files_only=offline)
    except OSError as error:
        if local.exists():
            raise LLMUnavailableError(f"cannot load the model in {name}: {error}") from error
        if offline:
            raise LLMUnavailableError(
                f"language model {name!r} is not in the local Hugging Face cache and the Hub cannot be reached "
                "(or HF_HUB_OFFLINE is set); pass a local model folder instead (`slt make-llm` builds a small one)"
            ) from error
        raise LLMUnavailableError(f"cannot load language model {name!r} from the Hugging Face Hub: {error}") from error
    return model, tokenizer


def hub_unreachable(timeout: float = 3.0) -> bool:
    """True when downloads are off or the Hub does not answer: then only the local cache is used.

    Without this check, huggingface_hub retries an unreachable Hub for minutes before failing.
    """
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return True
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        with socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=timeout):
            return False
    except OSError:
        return True

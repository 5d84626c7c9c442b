"""Build a small language model from scratch, for machines that cannot download a pretrained one.

`make_llm` trains a tokenizer on the corpus sentences, builds a small model from a config and
pre-trains it on the same sentences, so that stage 2 has an LLM with real (if small) knowledge of the
target language:

- decoder-only (Llama architecture): next-token prediction;
- sequence-to-sequence (mBART architecture, the paper's LLM family): denoising, the noisy sentence in,
  the original out. The noise is word dropout and local shuffling (Lample et al., ICLR 2018), so the
  decoder learns to write fluent sentences from incomplete, loosely ordered content, which is what the
  visual features give it in stage 2.

The result is a plain Hugging Face folder (model + tokenizer): `load_llm(OUT)` and
`AutoModelForCausalLM/AutoModelForSeq2SeqLM.from_pretrained(OUT)` both read it.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from rich import get_console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from transformers import LlamaConfig, LlamaForCausalLM, MBartConfig, MBartForConditionalGeneration, PreTrainedTokenizerBase

from slt.files import atomic_write, check_output_folder
from slt.data.annotations import read_annotations
from slt.data.tokenizer import train_tokenizer

ARCHITECTURES = ("causal", "seq2seq")
TABLE_SUFFIXES = (".csv", ".tsv")
SUMMARY_FILE = "make_llm.json"  # written last into every made LLM: the mark of a folder `make_llm` may replace


def check_out(out: str | Path, overwrite: bool) -> None:
    """Refuse, before any work, an OUT that holds anything but an earlier `make_llm` build (that one only
    with `overwrite`)."""
    check_output_folder(out, "an LLM made by `slt make-llm`", lambda folder: (folder / SUMMARY_FILE).is_file(), overwrite)


@dataclass
class MakeLLMConfig:
    """Size and pre-training budget of a made LLM; the defaults take about a minute on 2 CPU cores."""

    arch: str = "causal"  # "causal" (Llama-style, decoder-only) or "seq2seq" (mBART-style)
    dim: int = 256  # hidden size: the width stage 2's adapter maps into
    layers: int = 3  # decoder layers (and as many encoder layers for seq2seq)
    heads: int = 4
    ffn: int = 768
    vocab_size: int = 2000  # upper bound: a small corpus yields fewer BPE merges
    steps: int = 300
    batch_size: int = 32
    lr: float = 1e-3
    warmup: int = 50
    word_dropout: float = 0.15  # seq2seq noise: chance that a word is removed
    shuffle_window: int = 3  # seq2seq noise: a word moves at most this far minus one
    held_out: float = 0.1  # share of sentences kept aside to measure perplexity
    seed: int = 0

    def __post_init__(self):
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.arch!r}; choose one of {list(ARCHITECTURES)}")
        for key in ("layers", "heads", "ffn", "batch_size", "warmup"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be at least 1, got {getattr(self, key)}")
        if self.dim < 1 or self.dim % self.heads:
            raise ValueError(f"dim must be a positive multiple of heads ({self.heads}), got {self.dim}")
        if self.steps < 0 or self.vocab_size < 8:
            raise ValueError(f"steps must be 0 or more and vocab_size at least 8, got {self.steps} and {self.vocab_size}")


def read_corpus(paths: list[str | Path]) -> list[str]:
    """Sentences from plain text files (one per line) and annotation tables (.csv/.tsv: train split only).

    Only the train split of a table is used, so that the language model never sees dev or test sentences.
    """
    sentences: list[str] = []
    for path in map(Path, paths):
        if not path.is_file():
            raise ValueError(f"corpus file {path} does not exist")
        if path.suffix.lower() in TABLE_SUFFIXES:
            train = [s.text for s in read_annotations(path) if s.split == "train"]
            if not train:
                raise ValueError(f"{path} has no train-split rows; the LLM is pre-trained on training sentences only")
            sentences += train
        else:
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise ValueError(f"corpus file {path} is not UTF-8 text (one sentence per line)") from None
            sentences += [line.strip() for line in text.splitlines() if line.strip()]
    if len(sentences) < 2:
        raise ValueError("the corpus needs at least two sentences")
    return sentences


def build_model(config: MakeLLMConfig, tokenizer: PreTrainedTokenizerBase) -> torch.nn.Module:
    """A randomly initialized Llama (causal) or mBART (seq2seq) model of the configured size."""
    special = dict(pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    if config.arch == "causal":
        return LlamaForCausalLM(
            LlamaConfig(
                vocab_size=len(tokenizer),
                hidden_size=config.dim,
                num_hidden_layers=config.layers,
                num_attention_heads=config.heads,
                num_key_value_heads=config.heads,
                intermediate_size=config.ffn,
                max_position_embeddings=1024,
                tie_word_embeddings=True,
                **special,
            )
        )
    return MBartForConditionalGeneration(
        MBartConfig(
            vocab_size=len(tokenizer),
            d_model=config.dim,
            encoder_layers=config.layers,
            decoder_layers=config.layers,
            encoder_attention_heads=config.heads,
            decoder_attention_heads=config.heads,
            encoder_ffn_dim=config.ffn,
            decoder_ffn_dim=config.ffn,
            max_position_embeddings=1024,
            # Unscaled, so that visual embeddings fed as `inputs_embeds` meet the scale the model trained on.
            scale_embedding=False,
            # mBART shifts labels right by wrapping their last token (EOS) to the front; generation must
            # start from the same token.
            decoder_start_token_id=tokenizer.eos_token_id,
            forced_eos_token_id=tokenizer.eos_token_id,
            **special,
        )
    )


def corrupt(words: list[str], rng: random.Random, dropout: float, window: int) -> list[str]:
    """Word dropout, then a local shuffle in which no word moves `window` places or more."""
    kept = [w for w in words if rng.random() >= dropout] or [rng.choice(words)]
    keys = [i + rng.uniform(0, window) for i in range(len(kept))]
    return [w for _, w in sorted(zip(keys, kept))]


class _Batcher:
    """Turns sentences into padded tensors for the configured pre-training objective."""

    def __init__(self, config: MakeLLMConfig, tokenizer: PreTrainedTokenizerBase):
        self.config, self.tokenizer = config, tokenizer

    def _ids(self, texts: list[str], bos: bool) -> list[list[int]]:
        ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        head = [self.tokenizer.bos_token_id] if bos else []
        return [head + seq + [self.tokenizer.eos_token_id] for seq in ids]

    def _pad(self, seqs: list[list[int]], value: int) -> torch.Tensor:
        length = max(map(len, seqs))
        return torch.tensor([s + [value] * (length - len(s)) for s in seqs])

    def __call__(self, texts: list[str], rng: random.Random) -> dict[str, torch.Tensor]:
        pad = self.tokenizer.pad_token_id
        targets = self._ids(texts, bos=self.config.arch == "causal")
        labels = self._pad(targets, -100)
        if self.config.arch == "causal":
            return {"input_ids": labels.masked_fill(labels < 0, pad), "attention_mask": (labels >= 0).long(), "labels": labels}
        noisy = [" ".join(corrupt(t.split(), rng, self.config.word_dropout, self.config.shuffle_window)) for t in texts]
        inputs = self._pad(self._ids(noisy, bos=False), pad)
        return {"input_ids": inputs, "attention_mask": (inputs != pad).long(), "labels": labels}


@torch.no_grad()
def perplexity(model: torch.nn.Module, batcher: _Batcher, texts: list[str], batch_size: int = 64) -> float:
    """exp(mean token loss) of the pre-training objective on `texts` (fixed noise for seq2seq)."""
    model.eval()
    rng = random.Random(0)
    total, count = 0.0, 0
    for start in range(0, len(texts), batch_size):
        batch = batcher(texts[start : start + batch_size], rng)
        tokens = int((batch["labels"] != -100).sum()) - (len(batch["labels"]) if batcher.config.arch == "causal" else 0)
        total += float(model(**batch).loss) * tokens
        count += tokens
    return math.exp(total / count)


def pretrain(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    sentences: list[str],
    config: MakeLLMConfig,
    rng: random.Random,
    show_progress: bool = True,
) -> None:
    """Pre-train `model` in place for `config.steps` steps on `sentences` (next-token prediction for
    "causal", denoising for "seq2seq"), on the device the model is on.

    A loop of its own rather than `slt.train.fit`, which trains a translator on clips: this one has text
    batches drawn step by step from a seeded sentence sampler, a fixed number of steps and nothing that
    `fit` is for (epochs, dev decoding, checkpoints, a run folder, resume, several processes). Its warm-up
    is counted in steps, not as `fit`'s fraction of them, so running it through `fit` would change every
    made LLM and every stage-1 run that pre-trains Light-T (`model.pretrain_steps`).
    """
    batcher = _Batcher(config, tokenizer)
    device = next(model.parameters()).device
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min(1.0, (step + 1) / config.warmup) * 0.5 * (1 + math.cos(math.pi * min(step / config.steps, 1.0))),
    )
    model.train()
    order: list[str] = []
    columns = [TextColumn("pre-training {task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} loss {task.fields[loss]:.3f}"), TimeRemainingColumn()]
    with Progress(*columns, disable=not show_progress or not get_console().is_terminal) as progress:  # no bar in a log file
        task = progress.add_task(config.arch, total=config.steps, loss=float("nan"))
        for _ in range(config.steps):
            if len(order) < config.batch_size:  # epochs of shuffled sentences
                order += rng.sample(sentences, len(sentences))
            texts_batch, order = order[: config.batch_size], order[config.batch_size :]
            batch = {k: v.to(device) for k, v in batcher(texts_batch, rng).items()}
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            progress.update(task, advance=1, loss=loss.item())


def make_llm(out: str | Path, texts: list[str], config: MakeLLMConfig, show_progress: bool = True) -> dict:
    """Build, pre-train and save a small LLM to `out` (written to a temp folder, then renamed; whatever is
    at `out` is replaced, so check it first with `check_out`).

    Returns a summary: sizes, steps, held-out perplexity before and after pre-training.
    """
    out = Path(out)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    sentences = sorted(set(texts))
    rng.shuffle(sentences)
    n_held = max(1, round(len(sentences) * config.held_out))
    held, train = sentences[:n_held], sentences[n_held:] or sentences

    tokenizer = train_tokenizer(train, vocab_size=config.vocab_size)
    model = build_model(config, tokenizer)
    batcher = _Batcher(config, tokenizer)
    before = perplexity(model, batcher, held)
    pretrain(model, tokenizer, train, config, rng, show_progress)
    after = perplexity(model, batcher, held)

    summary = {
        "config": asdict(config),
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer),
        "train_sentences": len(train),
        "held_out_sentences": len(held),
        "perplexity_before": before,
        "perplexity_after": after,
    }

    def write(tmp: str) -> None:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (Path(tmp) / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))

    atomic_write(out, write, folder=True)  # an earlier build is replaced only once the new one is complete
    return summary

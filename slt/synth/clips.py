"""The corpus's rows: which sentence each clip signs, from the toy language or from a gloss/text table."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from slt.data.annotations import read_annotations, read_table, split_from_filename
from slt.synth.language import MAX_SIGNS, MIN_SIGNS, sentence

SPLITS = ("train", "dev", "test")

@dataclass(frozen=True)
class Clip:
    """One row of the corpus: the clip `name` (its path under keypoints/ without .parquet) and its text."""

    name: str
    text: str
    split: str
    signer: str
    gloss: str


def toy_clips(train: int, dev: int, test: int, signers: int, seed: int) -> list[Clip]:
    """Sentences of the toy language for each split. Dev and test sentences never occur in train (nor in
    each other) and use only signs seen in train, so they test new combinations of known signs."""
    rng = np.random.default_rng([seed, 0])
    seen_gloss, seen_text, vocabulary, clips = set(), set(), set(), []
    for split, count in zip(SPLITS, (train, dev, test)):
        made, attempts = 0, 0
        while made < count:
            attempts += 1
            if attempts > 100 * count + 1000:
                raise ValueError(f"cannot draw {count} distinct {split} sentences; ask for fewer")
            signs, text = sentence(rng)
            gloss = " ".join(signs)
            if not MIN_SIGNS <= len(signs) <= MAX_SIGNS or gloss in seen_gloss or text in seen_text:
                continue
            if split != "train" and not vocabulary.issuperset(signs):
                continue
            seen_gloss.add(gloss)
            seen_text.add(text)
            if split == "train":
                vocabulary.update(signs)
            signer = f"signer{rng.integers(signers) + 1:02d}"
            clips.append(Clip(f"{split}/{split}-{made:05d}", text, split, signer, gloss))
            made += 1
    return clips


def toy_text(count: int, clips: list[Clip], seed: int) -> list[str]:
    """`count` more sentences of the toy language, text only, none a dev or test sentence of `clips`: the
    monolingual text a real LLM would have read, for `slt make-llm` to learn more language than the signed
    sentences hold (a real LLM knows far more language than any signed corpus)."""
    held_out = {clip.text for clip in clips if clip.split != "train"}
    rng, texts = np.random.default_rng([seed, 4]), []
    while len(texts) < count:
        text = sentence(rng)[1]
        if text not in held_out:
            texts.append(text)
    return texts


def table_clips(path: str | Path, signers: int = 8) -> list[Clip]:
    """Clips for every row of a gloss/text table: a table `read_annotations` knows (e.g. PHOENIX-2014T
    corpus files) or a plain CSV/TSV with `gloss` and `text` columns (and optional `split`, `signer`).
    Rows without a split get one from a hash of their text (90/5/5), so equal sentences share a split;
    rows without a signer get one of `signers` from a hash of their name."""
    path = Path(path)
    rows = read_table(path)
    _, header = next(rows)
    if "name" in header:
        rows = [(s.name, s.text, s.split, s.signer, s.gloss) for s in read_annotations(path)]
    else:
        table = [dict(zip(header, cells)) for _, cells in rows]
        if table and not {"gloss", "text"} <= set(header):
            raise ValueError(f"{path}: needs gloss and text columns, has {header}")
        split = split_from_filename(path)
        rows = [(f"{path.stem}-{i:05d}", r["text"], r.get("split") or split, r.get("signer"), r["gloss"]) for i, r in enumerate(table)]
    clips = []
    for line, (name, text, split, signer, gloss) in enumerate(rows, start=2):
        if not gloss or not gloss.split():
            raise ValueError(f"{path}:{line}: no gloss for clip {name!r}; --from-table needs a gloss per row")
        if split is None:
            bucket = hashlib.sha256(text.encode()).digest()[0] * 20 // 256
            split = "dev" if bucket == 18 else "test" if bucket == 19 else "train"
        if not signer:
            signer = f"signer{int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], 'big') % signers + 1:02d}"
        clips.append(Clip(f"{split}/{name}", text, split, signer, " ".join(gloss.split())))
    return clips

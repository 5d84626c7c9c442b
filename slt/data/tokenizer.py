"""A text tokenizer trained on the training sentences, for the stage-1 translator and `slt make-llm`.

BPE over words split at spaces and punctuation, with spaces kept as the `▁` marker (SentencePiece's
convention), so `decode(encode(text))` gives back any text made of characters seen in training,
spacing and case included (but for a leading space, which SentencePiece-style decoding drops); or,
for languages written without spaces such as Chinese, one token per character. Either way it is a
`PreTrainedTokenizerFast` with pad/bos/eos/unk tokens, so `save_pretrained`, `from_pretrained` and
`generate` work as for any Hugging Face tokenizer.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIAL_TOKENS = [PAD, BOS, EOS, UNK]  # ids 0, 1, 2, 3


def train_tokenizer(texts: Iterable[str], vocab_size: int = 4000, char_level: bool = False) -> PreTrainedTokenizerFast:
    """Train a BPE tokenizer on `texts`; `char_level` keeps single characters (no merges).

    Encoding adds `<s>` and `</s>` around each text (the labels then teach the model to stop);
    characters never seen in training become `<unk>`.
    """
    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation(behavior="isolated")]
    )
    tokenizer.decoder = decoders.Metaspace()
    # With a vocabulary no larger than the special tokens, BPE keeps its initial alphabet and learns
    # no merge: exactly a character-level tokenizer.
    trainer = trainers.BpeTrainer(
        vocab_size=len(SPECIAL_TOKENS) if char_level else vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}",
        pair=f"{BOS} $A {EOS} $B {EOS}",
        special_tokens=[(t, tokenizer.token_to_id(t)) for t in (BOS, EOS)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=PAD,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        clean_up_tokenization_spaces=False,
    )

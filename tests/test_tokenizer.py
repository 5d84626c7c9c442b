import torch
from transformers import AutoTokenizer, BartConfig, BartForConditionalGeneration

from slt.data.tokenizer import train_tokenizer

TEXTS = [
    "am tag scheint die sonne, morgen regnet es im norden.",
    "The cat's hat (really!) is  red.",
    'Ünïcödé — dashes & "quotes" 42',
    "Heute: Wind aus Nordwest; nachts 3 bis 7 Grad.",
]


def test_round_trip_and_special_tokens():
    tok = train_tokenizer(TEXTS * 5, vocab_size=120)
    assert len(tok) <= 120
    assert [tok.pad_token_id, tok.bos_token_id, tok.eos_token_id, tok.unk_token_id] == [0, 1, 2, 3]
    for text in TEXTS:
        ids = tok(text).input_ids
        assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
        assert tok.decode(ids, skip_special_tokens=True) == text
    # Learned merges: the frequent words become single tokens, so sentences are far shorter than characters.
    assert len(tok(TEXTS[0]).input_ids) < len(TEXTS[0]) / 2
    assert tok.convert_tokens_to_ids("@") == tok.unk_token_id  # never seen in training


def test_save_load_and_padding(tmp_path):
    tok = train_tokenizer(TEXTS, vocab_size=80)
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded(TEXTS).input_ids == tok(TEXTS).input_ids
    batch = loaded(TEXTS[:2], padding=True, return_tensors="pt")
    short = int(batch.attention_mask[0].sum())
    assert (batch.input_ids[0, short:] == loaded.pad_token_id).all()
    assert loaded.decode(batch.input_ids[0], skip_special_tokens=True) == TEXTS[0]


def test_char_level_for_chinese():
    texts = ["今天天气很好。", "我们明天去学校吧！", "天气预报说明天下雨。"]
    tok = train_tokenizer(texts, char_level=True)
    tokens = tok.convert_ids_to_tokens(tok("明天天气很好。").input_ids, skip_special_tokens=True)
    assert [t for t in tokens if t != "▁"] == list("明天天气很好。")
    assert tok.decode(tok(texts[1]).input_ids, skip_special_tokens=True) == texts[1]


def test_generate_with_a_model_built_on_it():
    tok = train_tokenizer(TEXTS, vocab_size=80)
    config = BartConfig(
        vocab_size=len(tok), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64,
        pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        decoder_start_token_id=tok.eos_token_id, forced_eos_token_id=tok.eos_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    model = BartForConditionalGeneration(config).eval()
    inputs = tok(TEXTS[:2], padding=True, return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=6, num_beams=2)
    assert out.shape[0] == 2 and out.shape[1] <= 8
    assert all(isinstance(s, str) for s in tok.batch_decode(out, skip_special_tokens=True))

"""`VisualLM` and `load_llm`: visual embeddings in, sentences out, through peft LoRA, for a decoder-only
(Llama) and a sequence-to-sequence (T5) model built from tiny configs (nothing is downloaded).

Not Qwen2: transformers replaces the tokenizer of any qwen2 folder with Qwen2's own byte-level one."""

import time

import pytest
import torch
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM, T5Config, T5ForConditionalGeneration

from slt.data.tokenizer import train_tokenizer
from slt.model.llm import LLMUnavailableError, VisualLM, load_llm

SENTENCES = ["the cat sleeps.", "a dog runs home now.", "we like green tea.", "it rains today!"]
FRAMES = [5, 7, 3, 6]  # clip lengths differ, so padding and masks matter
FEATURES = 16



def tiny_model(arch: str, tokenizer) -> nn.Module:
    special = dict(pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    if arch == "causal":
        config = LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True, **special,
        )
        return LlamaForCausalLM(config)
    config = T5Config(
        vocab_size=len(tokenizer), d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4,
        dropout_rate=0.0, decoder_start_token_id=tokenizer.pad_token_id, **special,
    )
    return T5ForConditionalGeneration(config)


@pytest.fixture(scope="module", params=["causal", "seq2seq"])
def saved_model(request, tmp_path_factory):
    """A tiny randomly initialized model of each kind, saved as a Hugging Face folder."""
    torch.manual_seed(0)
    tokenizer = train_tokenizer(SENTENCES * 5, vocab_size=200)
    path = tmp_path_factory.mktemp(request.param) / "llm"
    tiny_model(request.param, tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def visual_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Random per-clip features [B, N, F] with a mask of each clip's real frames."""
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(len(FRAMES), max(FRAMES), FEATURES, generator=generator)
    mask = torch.arange(max(FRAMES))[None] < torch.tensor(FRAMES)[:, None]
    return features * mask[..., None], mask


def overfit(vlm: VisualLM, steps: int = 80) -> nn.Module:
    """Train a linear adapter and the LoRA weights until the sentences are memorized; returns the adapter."""
    torch.manual_seed(0)
    adapter = nn.Linear(FEATURES, vlm.hidden_size)
    features, mask = visual_batch()
    trainable = [p for p in vlm.parameters() if p.requires_grad] + list(adapter.parameters())
    optimizer = torch.optim.Adam(trainable, lr=2e-2)
    vlm.train()
    for _ in range(steps):
        loss = vlm(adapter(features), mask, SENTENCES)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    vlm.eval()
    return adapter


def test_lora_overfits_and_beam_search_decodes_exactly(saved_model, tmp_path):
    vlm = load_llm(str(saved_model), finetune="lora", lora_rank=8, lora_alpha=16, lora_dropout=0.0)
    base = {n: p.detach().clone() for n, p in vlm.named_parameters() if not p.requires_grad}
    assert all("lora_" in n for n, p in vlm.named_parameters() if p.requires_grad)

    adapter = overfit(vlm)
    features, mask = visual_batch()
    with torch.no_grad():
        embeds = adapter(features)
        assert vlm.generate(embeds, mask, num_beams=3, max_new_tokens=16) == SENTENCES
        loss = vlm(embeds, mask, SENTENCES)
    assert all(torch.equal(p, base[n]) for n, p in vlm.named_parameters() if n in base), "frozen weights moved"

    # Save and load: the same loss and the same sentences.
    vlm.save_pretrained(tmp_path / "run")
    assert (tmp_path / "run" / "adapter_model.safetensors").exists()  # only the LoRA weights are stored
    loaded = VisualLM.from_pretrained(tmp_path / "run").eval()
    with torch.no_grad():
        assert torch.allclose(loaded(embeds, mask, SENTENCES), loss, atol=1e-6)
        assert loaded.generate(embeds, mask, num_beams=3, max_new_tokens=16) == SENTENCES


def test_batch_composition_does_not_change_a_clip(saved_model):
    """Left-padded prefixes (causal) and encoder masks (seq2seq): a clip scores the same alone or in a batch."""
    vlm = load_llm(str(saved_model), finetune="frozen").eval()
    features, mask = visual_batch()
    embeds = nn.Linear(FEATURES, vlm.hidden_size)(features).detach()
    text = SENTENCES[0]  # the same sentence for both clips: the batch loss is then the mean of the two
    with torch.no_grad():
        alone = [vlm(embeds[i : i + 1, : FRAMES[i]], mask[i : i + 1, : FRAMES[i]], [text]) for i in (1, 2)]
        batched = vlm(embeds[[1, 2]], mask[[1, 2]], [text, text])  # clip 2 is padded from 3 to 7 frames
    assert torch.allclose((alone[0] + alone[1]) / 2, batched, atol=1e-5)


@pytest.mark.parametrize("offline", [True, False])
def test_unreachable_hub_id_fails_fast_with_one_line(monkeypatch, offline):
    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        # Hub downloads allowed, but the endpoint does not answer (a closed local port): no network.
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    start = time.monotonic()
    with pytest.raises(LLMUnavailableError) as error:
        load_llm("no-such-org/no-such-model")
    assert time.monotonic() - start < 10
    message = str(error.value)
    assert "\n" not in message and "no-such-org/no-such-model" in message and "local" in message


def test_folder_without_config_fails_clearly(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(LLMUnavailableError, match="config.json"):
        load_llm(str(tmp_path))

from __future__ import annotations

import pytest
import torch

from attento.align.lora import LoRAGPT, LoRALinear, merge_lora
from attento.errors import UserError
from attento.models.folder import load_model, save_model
from attento.models.gpt import GPT

from .conftest import tiny_gpt


def idx(vocab: int) -> torch.Tensor:
    return torch.randint(vocab, (3, 20), generator=torch.Generator().manual_seed(1))


def perturb_adapters(model: LoRAGPT) -> None:
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for layer in model.adapters().values():
            layer.lora_B.copy_(0.1 * torch.randn(layer.lora_B.shape, generator=gen))


@pytest.mark.parametrize("activation", ["gelu", "swiglu"])
def test_starts_equal_to_the_base_and_only_adapters_train(activation):
    base = tiny_gpt(50, activation=activation, bias=activation == "gelu")
    lora = LoRAGPT.from_gpt(base, r=4, alpha=8).eval()
    torch.testing.assert_close(lora(idx(50)), base(idx(50)), rtol=0, atol=0)
    targets = {"attn.qkv", "attn.proj", "mlp.fc", "mlp.proj"} | (
        {"mlp.gate"} if activation == "swiglu" else set()
    )
    assert {n.split(".", 2)[2] for n in lora.adapters()} == targets
    trainable = {n for n, p in lora.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_" in n for n in trainable)
    layer = lora.blocks[0].attn.qkv
    assert layer.scaling == 2.0 and not layer.lora_B.any() and layer.lora_A.shape == (4, 16)


def test_adapter_matches_its_formula():
    layer = LoRALinear(6, 5, r=2, alpha=3.0, bias=True)
    with torch.no_grad():
        layer.lora_B.normal_()
    x = torch.randn(4, 6)
    expected = x @ layer.weight.T + layer.bias + 1.5 * (x @ layer.lora_A.T) @ layer.lora_B.T
    torch.testing.assert_close(layer(x), expected)


def test_merged_model_equals_adapter_model(tmp_path, char_tokenizer):
    lora = LoRAGPT.from_gpt(tiny_gpt(char_tokenizer.vocab_size), r=2, alpha=4).eval()
    perturb_adapters(lora)
    merged = merge_lora(lora).eval()
    assert type(merged) is GPT and not any(".lora_" in n for n, _ in merged.named_parameters())
    x = idx(char_tokenizer.vocab_size)
    torch.testing.assert_close(merged(x), lora(x), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(merged(x), tiny_gpt(char_tokenizer.vocab_size)(x), atol=1e-3)
    # an adapter model is a model folder too
    save_model(lora, char_tokenizer, tmp_path / "lora")
    loaded, _ = load_model(tmp_path / "lora")
    assert isinstance(loaded, LoRAGPT) and loaded.config.lora_r == 2
    torch.testing.assert_close(loaded(x), lora(x))


def test_training_moves_only_the_adapters():
    base = tiny_gpt(50)
    lora = LoRAGPT.from_gpt(base, r=2).train()
    before = {n: p.detach().clone() for n, p in lora.named_parameters()}
    optimizer = lora.configure_optimizer(0.0, 1e-2)
    _, loss = lora(idx(50), idx(50))
    loss.backward()
    optimizer.step()
    changed = {n for n, p in lora.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(".lora_B" in n for n in changed)  # A gets no gradient while B = 0


def test_bad_rank():
    with pytest.raises(UserError, match="rank"):
        LoRAGPT.from_gpt(tiny_gpt(50), r=0)

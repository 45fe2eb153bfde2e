"""Hugging Face GPT-2 interop: same logits both ways (HF transformers is the reference)."""

from __future__ import annotations

import json

import pytest
import torch

from attento.errors import UserError
from attento.models.gpt import GPT, GPTConfig

transformers = pytest.importorskip("transformers")


def hf_model(**kw):
    config = transformers.GPT2Config(
        n_layer=2,
        n_head=4,
        n_embd=64,
        n_positions=64,
        vocab_size=100,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=None,
        eos_token_id=None,
        **kw,
    )
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():  # HF zero-initialises biases and sets LayerNorm to 1: perturb them
        for name, p in model.named_parameters():
            if name.endswith("bias") or ".ln_" in name or "ln_f" in name:
                p.add_(0.1 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("activation", ["gelu_new", "relu"])
def test_from_hf_gives_hf_logits(tmp_path, activation):
    hf = hf_model(activation_function=activation)
    hf.save_pretrained(tmp_path)
    ours = GPT.from_hf(tmp_path).eval()
    assert ours.config.pos_encoding == "learned" and ours.config.tie_weights
    idx = torch.randint(0, 100, (2, 33))
    with torch.no_grad():
        assert torch.allclose(ours(idx), hf(idx).logits, atol=1e-5)


def test_from_hf_reads_pytorch_model_bin(tmp_path):
    hf = hf_model(n_inner=96, tie_word_embeddings=False)
    (tmp_path / "config.json").write_text(json.dumps(hf.config.to_dict()))
    torch.save(hf.state_dict(), tmp_path / "pytorch_model.bin")
    ours = GPT.from_hf(tmp_path).eval()
    assert ours.config.ffn_dim == 96 and not ours.config.tie_weights
    idx = torch.randint(0, 100, (1, 20))
    with torch.no_grad():
        assert torch.allclose(ours(idx), hf(idx).logits, atol=1e-5)


def test_from_hf_reads_gpt2_hub_weights_without_the_transformer_prefix(tmp_path):
    """The Hub's gpt2 model.safetensors names its tensors "h.0.attn.c_attn.weight", ...,
    without "transformer.", and keeps each block's causal mask ("h.0.attn.bias")."""
    from safetensors.torch import save_file

    hf = hf_model()
    hf.config.save_pretrained(tmp_path)
    tensors = {k.removeprefix("transformer."): v for k, v in hf.state_dict().items()}
    del tensors["lm_head.weight"]  # tied
    tensors["h.0.attn.bias"] = torch.tril(torch.ones(1, 1, 64, 64))
    save_file({k: v.contiguous() for k, v in tensors.items()}, tmp_path / "model.safetensors")
    ours = GPT.from_hf(tmp_path).eval()
    idx = torch.randint(0, 100, (1, 20))
    with torch.no_grad():
        assert torch.allclose(ours(idx), hf(idx).logits, atol=1e-5)


@pytest.mark.parametrize("tie", [True, False])
def test_export_hf_loads_in_transformers(tmp_path, tie):
    torch.manual_seed(1)
    config = GPTConfig(100, 64, 2, 4, 64, activation="gelu_tanh", tie_weights=tie)
    ours = GPT(config).eval()
    with torch.no_grad():
        for p in ours.parameters():
            if p.dim() == 1:
                p.add_(0.1 * torch.randn_like(p))
    ours.export_hf(tmp_path)
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    idx = torch.randint(0, 100, (2, 40))
    with torch.no_grad():
        assert torch.allclose(hf(idx).logits, ours(idx), atol=1e-5)
    # and back again
    assert torch.allclose(GPT.from_hf(tmp_path).eval()(idx), ours(idx), atol=1e-6)


def test_export_refuses_non_gpt2_shapes(tmp_path):
    with pytest.raises(UserError, match="learned positions"):
        GPT(GPTConfig(50, 16, 1, 2, 16, pos_encoding="rope")).export_hf(tmp_path)
    with pytest.raises(UserError, match="swiglu"):
        GPT(GPTConfig(50, 16, 1, 2, 16, activation="swiglu")).export_hf(tmp_path)


def test_from_hf_errors_name_the_file(tmp_path):
    with pytest.raises(UserError, match=r"config\.json not found"):
        GPT.from_hf(tmp_path)
    hf_model().save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(config | {"model_type": "bert"}))
    with pytest.raises(UserError, match="not a GPT"):
        GPT.from_hf(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(config | {"n_embd": 32}))
    with pytest.raises(UserError, match=r"model.safetensors.*shape"):
        GPT.from_hf(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "model.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(UserError, match=r"model\.safetensors is not a readable"):
        GPT.from_hf(tmp_path)

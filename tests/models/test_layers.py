"""Layers: both attention paths agree, positions and norms match their definitions/references."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from attento.models.gpt import GPT, GPTConfig
from attento.models.layers import (
    Block,
    FeedForward,
    MultiHeadAttention,
    Norm,
    RotaryEmbedding,
    SinusoidalPositions,
    apply_rope,
    gelu_tanh,
)
from attento.models.trace import Trace

POS = ("learned", "sinusoidal", "rope")


def reference_attention(q, k, v, allowed):
    """softmax(QKᵀ/√d) with a boolean mask, written independently of the module."""
    scores = torch.einsum("bhid,bhjd->bhij", q, k) / math.sqrt(q.size(-1))
    scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.einsum("bhij,bhjd->bhid", scores.softmax(-1), v)


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("padded", [False, True])
def test_fast_and_explicit_attention_agree(causal, padded):
    torch.manual_seed(0)
    attn = MultiHeadAttention(32, 4, causal=causal).eval()
    x = torch.randn(3, 7, 32)
    mask = None
    if padded:
        keys = torch.ones(3, 7, dtype=torch.bool)
        keys[0, :3] = False  # left padding
        keys[1, 5:] = False  # right padding
        mask = keys[:, None, None, :]
    fast = attn(x, mask=mask)
    with Trace() as tr:
        explicit = attn(x, mask=mask)
    assert torch.allclose(fast, explicit, atol=1e-6)
    weights = tr.records["weights"]
    assert weights.shape == (3, 4, 7, 7)
    if padded:
        # a real query never looks at a padding key
        assert weights[0, :, 3:, :3].abs().max() == 0
        assert weights[1, :, :5, 5:].abs().max() == 0
    if causal:
        assert torch.triu(weights, diagonal=1).abs().max() == 0


def test_attention_matches_the_formula():
    torch.manual_seed(1)
    attn = MultiHeadAttention(32, 4, causal=True).eval()
    x = torch.randn(2, 6, 32)
    q, k, v = attn.qkv(x).split(32, dim=2)
    q, k, v = (t.view(2, 6, 4, 8).transpose(1, 2) for t in (q, k, v))
    causal = torch.tril(torch.ones(6, 6, dtype=torch.bool))
    reference = reference_attention(q, k, v, causal)
    heads = reference.transpose(1, 2).reshape(2, 6, 32)
    assert torch.allclose(attn(x), attn.proj(heads), atol=1e-6)
    out, weights = attn.explicit(q, k, v, causal)
    assert torch.allclose(out, reference, atol=1e-6)
    assert weights.shape == (2, 4, 6, 6)
    assert torch.allclose(weights @ v, reference, atol=1e-6)
    expected = (q @ k.transpose(-2, -1) / math.sqrt(8)).masked_fill(~causal, -math.inf).softmax(-1)
    assert torch.allclose(weights, expected, atol=1e-6)


@pytest.mark.parametrize("pos_encoding", POS)
@pytest.mark.parametrize("padded", [False, True])
def test_model_paths_agree_for_every_position_encoding(pos_encoding, padded):
    torch.manual_seed(0)
    config = GPTConfig(50, 16, 2, 4, 32, pos_encoding=pos_encoding)
    model = GPT(config).eval()
    idx = torch.randint(0, 50, (2, 12))
    valid = None
    if padded:
        valid = torch.ones(2, 12, dtype=torch.bool)
        valid[1, :5] = False
    fast = model(idx, valid=valid)
    with Trace():
        explicit = model(idx, valid=valid)
    assert torch.allclose(fast, explicit, atol=1e-6)


def test_cross_attention_reads_keys_and_values_from_the_source():
    torch.manual_seed(0)
    attn = MultiHeadAttention(16, 2, causal=False, cross=True).eval()
    x, source = torch.randn(2, 3, 16), torch.randn(2, 5, 16)
    keep = torch.ones(2, 5, dtype=torch.bool)
    keep[0, 3:] = False
    out = attn(x, source, mask=keep[:, None, None, :])
    q = attn.q(x).view(2, 3, 2, 8).transpose(1, 2)
    k, v = (t.view(2, 5, 2, 8).transpose(1, 2) for t in attn.kv(source).split(16, dim=2))
    heads = reference_attention(q, k, v, keep[:, None, None, :]).transpose(1, 2).reshape(2, 3, 16)
    assert out.shape == (2, 3, 16)
    assert torch.allclose(out, attn.proj(heads), atol=1e-6)
    with Trace():
        assert torch.allclose(attn(x, source, mask=keep[:, None, None, :]), out, atol=1e-6)


def test_sinusoidal_table_follows_the_paper():
    table = SinusoidalPositions(20, 8).table
    for pos in (0, 3, 19):
        for i in range(4):
            angle = pos / 10000 ** (2 * i / 8)
            assert table[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_gpt_scales_token_vectors_beside_sinusoids_as_the_paper_does():
    # Vaswani et al. 3.4: "In the embedding layers, we multiply those weights by sqrt(d_model)."
    torch.manual_seed(0)
    model = GPT(GPTConfig(50, 20, 1, 2, 16, pos_encoding="sinusoidal")).eval()
    idx = torch.randint(0, 50, (2, 7))
    pos = torch.arange(7)[None]
    expected = model.embed.tok(idx) * 4.0 + SinusoidalPositions(20, 16).table[:7]
    assert torch.allclose(model.embed(idx, pos), expected, atol=1e-6)
    learned = GPT(GPTConfig(50, 20, 1, 2, 16)).eval()  # learned tables share one scale
    assert torch.equal(learned.embed(idx, pos), learned.embed.tok(idx) + learned.embed.pos(pos))


def test_rope_equals_complex_rotation_and_depends_on_relative_position():
    # RoPE as the paper writes it: pair (x_j, x_{j+d/2}) as a complex number, times e^{i·p·θ_j}.
    ours = RotaryEmbedding(16)
    pos = torch.arange(10)[None]
    x = torch.randn(1, 4, 10, 16, dtype=torch.float64)
    theta = 10000.0 ** (-torch.arange(0, 16, 2, dtype=torch.float64) / 16)
    z = torch.complex(x[..., :8], x[..., 8:]) * torch.polar(
        torch.ones(10, 8, dtype=torch.float64), pos[0, :, None] * theta
    )
    cos, sin = ours(pos)
    rotated = apply_rope(x.float(), cos, sin)
    assert torch.allclose(rotated, torch.cat((z.real, z.imag), -1).float(), atol=1e-5)
    # q at m, k at n: the score only depends on m - n
    qv, kv = torch.randn(1, 1, 1, 16), torch.randn(1, 1, 1, 16)

    def score(m: int, n: int) -> float:
        cm, sm = ours(torch.tensor([[m]]))
        cn, sn = ours(torch.tensor([[n]]))
        return (apply_rope(qv, cm, sm) * apply_rope(kv, cn, sn)).sum().item()

    assert score(7, 3) == pytest.approx(score(24, 20), abs=1e-4)
    assert score(7, 3) != pytest.approx(score(7, 5), abs=1e-4)


def test_norms_match_torch():
    x = torch.randn(2, 5, 12)
    ln, ref_ln = Norm("layernorm", 12), torch.nn.LayerNorm(12)
    rms, ref_rms = Norm("rmsnorm", 12, eps=1e-6), torch.nn.RMSNorm(12, eps=1e-6)
    with torch.no_grad():
        for ours, ref in ((ln, ref_ln), (rms, ref_rms)):
            ours.weight.uniform_(0.5, 1.5)
            ref.weight.copy_(ours.weight)
    with torch.no_grad():
        ln.bias.uniform_(-1, 1)
        ref_ln.bias.copy_(ln.bias)
    assert torch.allclose(ln(x), ref_ln(x), atol=1e-6)
    assert torch.allclose(rms(x), ref_rms(x), atol=1e-6)
    assert Norm("rmsnorm", 12).bias is None


def test_feed_forward_activations():
    activations = pytest.importorskip("transformers.activations")
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8)
    for name, ref in (
        ("gelu_tanh", activations.ACT2FN["gelu_new"]),
        ("gelu", activations.ACT2FN["gelu"]),
        ("relu", F.relu),
    ):
        ff = FeedForward(8, 16, name)
        assert torch.allclose(ff(x), ff.proj(ref(ff.fc(x))), atol=1e-6)
    ff = FeedForward(8, 16, "swiglu", bias=False)
    expected = ff.proj(F.silu(x @ ff.gate.weight.T) * (x @ ff.fc.weight.T))
    assert torch.allclose(ff(x), expected, atol=1e-6)


def test_sigmoid_form_of_gpt2_gelu_matches_torch_in_value_and_gradient():
    """gelu_tanh computes x·σ(2z) with its own backward; torch's kernel uses tanh."""
    x = torch.cat([torch.randn(10_000) * 3, torch.linspace(-1e4, 1e4, 101)]).requires_grad_()
    grad = torch.randn_like(x)
    ours = gelu_tanh(x)
    ref = F.gelu(x, approximate="tanh")
    assert torch.allclose(ours, ref, rtol=1e-6, atol=1e-6)
    (d_ours,) = torch.autograd.grad(ours, x, grad)
    (d_ref,) = torch.autograd.grad(ref, x, grad)
    assert torch.allclose(d_ours, d_ref, rtol=1e-5, atol=1e-5)
    x64 = (torch.randn(40, dtype=torch.float64) * 3).requires_grad_()
    assert torch.autograd.gradcheck(gelu_tanh, x64)


def test_block_is_pre_norm_residual():
    torch.manual_seed(0)
    block = Block(16, 2, 64, activation="gelu_tanh").eval()
    x = torch.randn(2, 4, 16)
    mid = x + block.attn(block.ln1(x))
    assert torch.allclose(block(x), mid + block.mlp(block.ln2(mid)), atol=1e-6)


@pytest.mark.parametrize("n_kv_head", [2, 1])
@pytest.mark.parametrize("padded", [False, True])
def test_grouped_query_attention_paths_agree_and_share_key_value_heads(n_kv_head, padded):
    torch.manual_seed(0)
    attn = MultiHeadAttention(32, 4, causal=True, n_kv_head=n_kv_head, head_dim=16).eval()
    assert attn.qkv.out_features == (4 + 2 * n_kv_head) * 16
    x = torch.randn(2, 7, 32)
    mask = None
    if padded:
        keys = torch.ones(2, 7, dtype=torch.bool)
        keys[0, :3] = False
        mask = keys[:, None, None, :]
    fast = attn(x, mask=mask)
    with Trace() as tr:
        explicit = attn(x, mask=mask)
    assert torch.allclose(fast, explicit, atol=1e-6)
    assert tr.records["k"].shape == tr.records["v"].shape == (2, n_kv_head, 7, 16)
    assert tr.records["weights"].shape == (2, 4, 7, 7)
    # the reference: query head h reads key/value head h // (4 / n_kv_head)
    q, k, v = attn.qkv(x).split([64, 16 * n_kv_head, 16 * n_kv_head], dim=2)
    q = q.view(2, 7, 4, 16).transpose(1, 2)
    k, v = (t.view(2, 7, n_kv_head, 16).transpose(1, 2) for t in (k, v))
    group = [h * n_kv_head // 4 for h in range(4)]
    allowed = torch.tril(torch.ones(7, 7, dtype=torch.bool))
    if mask is not None:
        allowed = allowed & mask | torch.eye(7, dtype=torch.bool)
    heads = reference_attention(q, k[:, group], v[:, group], allowed)
    assert torch.allclose(fast, attn.proj(heads.transpose(1, 2).reshape(2, 7, 64)), atol=1e-5)

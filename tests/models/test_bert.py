"""BERT built from the shared layers: post-norm blocks, embeddings with segments, MLM head."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from attento.models.layers import Block
from attento.models.trace import Trace


def test_post_norm_block_matches_its_formula():
    torch.manual_seed(0)
    block = Block(16, 2, 32, activation="gelu", norm_eps=1e-12, causal=False, norm_first=False)
    block.eval()
    with torch.no_grad():
        for p in block.parameters():
            p.normal_(0, 0.3)
    x = torch.randn(2, 5, 16)

    def ln(norm, t):
        return F.layer_norm(t, (16,), norm.weight, norm.bias, 1e-12)

    # independent attention: full (non-causal) softmax over every key
    q, k, v = block.attn.qkv(x).split(16, dim=2)
    q, k, v = (t.view(2, 5, 2, 8).transpose(1, 2) for t in (q, k, v))
    w = (q @ k.transpose(-1, -2) / 8**0.5).softmax(-1)
    attn = block.attn.proj((w @ v).transpose(1, 2).reshape(2, 5, 16))
    mid = ln(block.ln1, x + attn)
    expected = ln(block.ln2, mid + block.mlp.proj(F.gelu(block.mlp.fc(mid))))
    with torch.no_grad():
        torch.testing.assert_close(block(x), expected, atol=1e-5, rtol=1e-5)
        with Trace() as tr:
            block(x)
    # post-norm: the stream itself is normalised after each residual addition
    torch.testing.assert_close(tr.records["resid_mid"], mid, atol=1e-5, rtol=1e-5)


def test_pre_norm_block_is_unchanged_by_default():
    torch.manual_seed(0)
    block = Block(16, 2, 32, causal=False).eval()
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        expected = x + block.attn(block.ln1(x))
        expected = expected + block.mlp(block.ln2(expected))
        torch.testing.assert_close(block(x), expected)

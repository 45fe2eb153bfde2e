"""BERT built from the shared layers: post-norm blocks, embeddings with segments, MLM head."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from attento.data.masking import add_mask_token
from attento.errors import UserError
from attento.generate.fill_mask import fill_mask
from attento.models.bert import Bert, BertConfig, mean_pool
from attento.models.folder import load_model, save_model
from attento.models.layers import Block
from attento.models.trace import Trace
from attento.tokenize.bpe import train_bpe


def tiny(**changes) -> BertConfig:
    return BertConfig(
        **{**dict(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=16), **changes}
    )


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


def test_attention_is_bidirectional():
    """Changing the last token changes the first token's vector (a GPT's would not move)."""
    torch.manual_seed(0)
    model = Bert(tiny()).eval()
    a = torch.tensor([[5, 6, 7, 8]])
    b = torch.tensor([[5, 6, 7, 9]])
    with torch.no_grad():
        ha, hb = model.encode(a), model.encode(b)
    assert (ha[0, 0] - hb[0, 0]).abs().max() > 1e-4


def test_padding_does_not_change_real_tokens():
    torch.manual_seed(0)
    model = Bert(tiny()).eval()
    row = torch.tensor([[3, 4, 5]])
    padded = torch.tensor([[3, 4, 5, 0, 0], [9, 8, 7, 6, 5]])
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    with torch.no_grad():
        alone = model.encode(row)
        batch = model.encode(padded, attention_mask=mask)
        pooled = mean_pool(batch, mask)
    torch.testing.assert_close(batch[0, :3], alone[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pooled[0], alone[0].mean(0), atol=1e-5, rtol=1e-5)


def test_segments_change_the_vectors():
    torch.manual_seed(0)
    model = Bert(tiny()).eval()
    idx = torch.tensor([[3, 4, 5]])
    with torch.no_grad():
        a = model.encode(idx)
        b = model.encode(idx, token_type_ids=torch.tensor([[0, 1, 1]]))
    assert (a[0, 1:] - b[0, 1:]).abs().max() > 1e-4


def test_mlm_loss_counts_only_labelled_positions():
    torch.manual_seed(0)
    model = Bert(tiny()).eval()
    idx = torch.randint(0, 50, (2, 6))
    targets = torch.full((2, 6), -100)
    targets[0, 2], targets[1, 4] = 7, 11
    with torch.no_grad():
        logits, loss = model(idx, targets)
    expected = F.cross_entropy(logits[[0, 1], [2, 4]], torch.tensor([7, 11]))
    torch.testing.assert_close(loss, expected)
    # the decoder is the word-embedding matrix (tied), plus its own bias
    assert model.mlm.decoder.weight is model.embed.tok.weight


def test_trace_names_and_explicit_path_agree():
    torch.manual_seed(0)
    model = Bert(tiny()).eval()
    idx = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        fast = model(idx)
        with Trace() as tr:
            slow = model(idx)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)
    for name in ("embed.tok", "embed.pos", "embed.segment", "embed_ln", "blocks.1.attn.weights"):
        assert name in tr.records
    assert tr.records["blocks.0.attn.weights"].shape == (1, 2, 4, 4)
    # bidirectional: the first token attends to the last one
    assert tr.records["blocks.0.attn.weights"][0, :, 0, 3].min() > 0


def test_checkpoint_folder_round_trip(tmp_path):
    torch.manual_seed(0)
    tok = add_mask_token(train_bpe("nel mezzo del cammin di nostra vita " * 20, 270))
    model = Bert(tiny(vocab_size=tok.vocab_size, block_size=64)).eval()
    save_model(model, tok, tmp_path / "bert")
    loaded, tok2 = load_model(tmp_path / "bert")
    assert isinstance(loaded, Bert) and tok2.vocab_size == tok.vocab_size
    idx = torch.tensor([tok.encode("nel mezzo")])
    with torch.no_grad():
        torch.testing.assert_close(loaded(idx), model(idx))
    guesses = fill_mask(loaded, tok2, "nel mezzo del [MASK] di nostra vita", k=3)
    assert len(guesses) == 1 and len(guesses[0]) == 3
    probs = [g["prob"] for g in guesses[0]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6


def test_config_errors():
    with pytest.raises(UserError, match="divisible"):
        tiny(n_head=3)
    with pytest.raises(UserError, match="unknown model setting"):
        BertConfig.from_dict({**tiny().to_dict(), "pos_encoding": "rope"})
    with pytest.raises(UserError, match="activation"):
        tiny(activation="swiglu")
    with pytest.raises(UserError, match="positions"):
        Bert(tiny()).encode(torch.zeros(1, 17, dtype=torch.long))
    headless = Bert(tiny(mlm_head=False))
    with pytest.raises(UserError, match="no MLM head"):
        headless(torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(UserError, match="no \\[MASK\\]"):
        fill_mask(Bert(tiny(vocab_size=300)), add_mask_token(train_bpe("abc " * 50, 260)), "abc")

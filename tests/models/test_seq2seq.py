"""The 2017 encoder–decoder: masks, cross-attention, the shared Block, a task learned fast."""

from __future__ import annotations

import random

import pytest
import torch

from attento.errors import UserError
from attento.generate.seq2seq import transduce
from attento.models.folder import load_model, save_model
from attento.models.seq2seq import Seq2Seq, Seq2SeqConfig
from attento.models.trace import Trace

PAD, BOS, EOS = 0, 1, 2
DIGIT = 3  # ids 3..12 are the digits 0..9


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny(**changes) -> Seq2SeqConfig:
    base = dict(vocab_size=13, block_size=12, n_layer=1, n_head=2, n_embd=32)
    return Seq2SeqConfig(**{**base, **changes})


def test_decoder_is_causal_and_sees_the_source():
    torch.manual_seed(0)
    model = Seq2Seq(tiny()).eval()
    src = torch.tensor([[3, 4, 5, 6]])
    tgt = torch.tensor([[BOS, 7, 8, 9]])
    with torch.no_grad():
        base = model(src, tgt)
        later = model(src, torch.tensor([[BOS, 7, 8, 10]]))  # only the last target changes
        other = model(torch.tensor([[3, 4, 5, 12]]), tgt)  # only the last source changes
    torch.testing.assert_close(base[:, :3], later[:, :3])  # the past cannot see the future
    assert (base[:, 3] - later[:, 3]).abs().max() > 1e-5
    assert (base[:, 0] - other[:, 0]).abs().max() > 1e-5  # every target sees every source


def test_source_padding_is_invisible():
    torch.manual_seed(0)
    model = Seq2Seq(tiny()).eval()
    tgt = torch.tensor([[BOS, 7, 8]])
    with torch.no_grad():
        alone = model(torch.tensor([[3, 4, 5]]), tgt)
        padded = model(torch.tensor([[3, 4, 5, PAD, PAD]]), tgt)
    torch.testing.assert_close(alone, padded, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("norm_first", [False, True])
def test_trace_and_checkpoint(tmp_path, norm_first):
    torch.manual_seed(0)
    model = Seq2Seq(tiny(norm_first=norm_first)).eval()
    src, tgt = torch.tensor([[3, 4, 0]]), torch.tensor([[BOS, 5]])
    with torch.no_grad():
        fast = model(src, tgt)
        with Trace() as tr:
            slow = model(src, tgt)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)
    cross = tr.records["decoder.0.cross.weights"]  # (B, H, T, S)
    assert cross.shape == (1, 2, 2, 3) and cross[..., 2].abs().max() == 0  # padding unseen
    assert "encoder.0.attn.weights" in tr.records and "logits" in tr.records
    save_model(model, None, tmp_path / "s2s")
    loaded, _ = load_model(tmp_path / "s2s")
    with torch.no_grad():
        torch.testing.assert_close(loaded(src, tgt), fast)


def reverse_batch(rng: random.Random, n: int, length: int = 5):
    """Source: random digit strings; target: the same digits reversed."""
    src = [[DIGIT + rng.randrange(10) for _ in range(length)] for _ in range(n)]
    tgt = [list(reversed(s)) for s in src]
    return (
        torch.tensor(src),
        torch.tensor([[BOS, *t] for t in tgt]),
        torch.tensor([[*t, EOS] for t in tgt]),
    )


def test_learns_to_reverse_digits_beyond_a_trivial_baseline():
    rng = random.Random(0)
    torch.manual_seed(0)
    model = Seq2Seq(tiny(n_layer=2, n_embd=48, dropout=0.0))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(120):
        src, tin, tout = reverse_batch(rng, 32)
        _, loss = model(src, tin, tout)
        opt.zero_grad()
        loss.backward()
        opt.step()
    src, _, tout = reverse_batch(random.Random(99), 200)  # held-out strings
    model.eval()
    rows = [(row + [-1] * 5)[:5] for row in transduce(model, src, max_new_tokens=6, greedy=True)]
    per_digit = (torch.tensor(rows) == tout[:, :5]).float().mean().item()
    # the trivial baseline, copying the source unreversed, gets the middle digit and 1 in 10
    # of the others right: 28%
    copy = (src == tout[:, :5]).float().mean().item()
    assert copy < 0.4 and per_digit > 0.8


def test_config_errors():
    model = Seq2Seq(tiny())
    with pytest.raises(UserError, match="more than"):
        model(torch.zeros(1, 13, dtype=torch.long), torch.tensor([[BOS]]))
    with pytest.raises(UserError, match="divisible"):
        tiny(n_head=5)
    with pytest.raises(UserError, match="unknown norm"):
        tiny(norm="batchnorm")
    with pytest.raises(UserError, match="below vocab_size"):
        tiny(eos_id=13)
    with pytest.raises(UserError, match="unknown model setting"):
        Seq2SeqConfig.from_dict({**tiny().to_dict(), "rope": True})


def test_both_stacks_are_the_shared_block_with_the_norm_the_config_names():
    from attento.models.layers import Block, Norm

    model = Seq2Seq(tiny(norm="rmsnorm", norm_first=True))
    assert all(isinstance(b, Block) for b in [*model.encoder, *model.decoder])
    assert all(b.cross is None for b in model.encoder)
    assert all(b.cross is not None for b in model.decoder)
    norms = [m for m in model.modules() if isinstance(m, Norm)]
    assert len(norms) == 2 * 1 + 3 * 1 + 2 and {n.kind for n in norms} == {"rmsnorm"}


def test_a_folder_with_the_old_decoder_names_opens(tmp_path):
    """Before the shared Block the decoder named its norms ln1, ln2 (cross), ln3 (mlp)."""
    from safetensors.torch import load_file, save_file

    torch.manual_seed(0)
    model = Seq2Seq(tiny()).eval()
    save_model(model, None, tmp_path / "s2s")
    weights = tmp_path / "s2s" / "model.safetensors"
    old = {
        k.replace(".ln2.", ".ln3.").replace(".ln_cross.", ".ln2.")
        if k.startswith("decoder.")
        else k: v
        for k, v in load_file(weights).items()
    }
    assert "decoder.0.ln3.weight" in old and "decoder.0.ln_cross.weight" not in old
    save_file(old, weights)
    loaded, _ = load_model(tmp_path / "s2s")
    src, tgt = torch.tensor([[3, 4, 0]]), torch.tensor([[BOS, 5]])
    with torch.no_grad():
        torch.testing.assert_close(loaded(src, tgt), model(src, tgt), atol=0, rtol=0)


@pytest.mark.parametrize("cached", [False, True])
def test_cross_attention_explicit_path_equals_sdpa(cached):
    from attento.models.layers import LayerCache, MultiHeadAttention

    torch.manual_seed(0)
    attn = MultiHeadAttention(16, 4, causal=False, cross=True).eval()
    x, source = torch.randn(2, 3, 16), torch.randn(2, 5, 16)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=torch.bool)[:, None, None]
    cache = LayerCache() if cached else None
    with torch.no_grad():
        if cached:  # the first call fills the cache; the second reads the source from it
            attn(x[:, :1], source, mask=mask, cache=cache)
        fast = attn(x, source, mask=mask, cache=cache)
        with Trace() as tr:
            slow = attn(x, source, mask=mask, cache=cache)
    torch.testing.assert_close(fast, slow, atol=1e-6, rtol=1e-5)
    weights = tr.records["weights"]
    assert weights.shape == (2, 4, 3, 5) and weights[1, ..., 2:].abs().max() == 0


@pytest.mark.parametrize("norm_first", [False, True])
def test_both_stacks_match_torch_transformer_layers(norm_first):
    """The reference: torch.nn.TransformerEncoderLayer / DecoderLayer with our weights."""
    from torch import nn

    torch.manual_seed(0)
    c = tiny(n_layer=2, norm_first=norm_first)
    model = Seq2Seq(c).eval()
    with torch.no_grad():  # norms start as the identity: make each one tell itself apart
        for name, p in model.named_parameters():
            if ".ln" in name or name.startswith(("enc_ln", "dec_ln")):
                p.uniform_(0.5, 1.5)
    kw = dict(dim_feedforward=c.ffn_dim, dropout=0.0, batch_first=True, norm_first=norm_first)
    enc = [nn.TransformerEncoderLayer(c.n_embd, c.n_head, **kw).eval() for _ in range(2)]
    dec = [nn.TransformerDecoderLayer(c.n_embd, c.n_head, **kw).eval() for _ in range(2)]

    def ffn_and_norms(ref, ours, norms):
        for name, mine in (("linear1", ours.mlp.fc), ("linear2", ours.mlp.proj)):
            getattr(ref, name).load_state_dict(mine.state_dict())
        for name, mine in zip(("norm1", "norm2", "norm3"), norms, strict=False):
            getattr(ref, name).load_state_dict(mine.state_dict())

    with torch.no_grad():
        for ref, ours in zip(enc, model.encoder, strict=True):
            ref.self_attn.in_proj_weight.copy_(ours.attn.qkv.weight)
            ref.self_attn.in_proj_bias.copy_(ours.attn.qkv.bias)
            ref.self_attn.out_proj.load_state_dict(ours.attn.proj.state_dict())
            ffn_and_norms(ref, ours, (ours.ln1, ours.ln2))
        for ref, ours in zip(dec, model.decoder, strict=True):
            ref.self_attn.in_proj_weight.copy_(ours.attn.qkv.weight)
            ref.self_attn.in_proj_bias.copy_(ours.attn.qkv.bias)
            ref.self_attn.out_proj.load_state_dict(ours.attn.proj.state_dict())
            cross = ref.multihead_attn
            cross.in_proj_weight.copy_(torch.cat((ours.cross.q.weight, ours.cross.kv.weight)))
            cross.in_proj_bias.copy_(torch.cat((ours.cross.q.bias, ours.cross.kv.bias)))
            cross.out_proj.load_state_dict(ours.cross.proj.state_dict())
            ffn_and_norms(ref, ours, (ours.ln1, ours.ln_cross, ours.ln2))

        src = torch.tensor([[3, 4, 5, 6], [7, 8, PAD, PAD]])
        tgt = torch.tensor([[BOS, 9, 10], [BOS, 11, 12]])
        memory, mask = model.encode(src)
        x = model.embed(src, torch.arange(4)[None])
        for layer in enc:
            x = layer(x, src_key_padding_mask=src == PAD)
        if norm_first:
            x = model.enc_ln(x)
        real = src != PAD
        torch.testing.assert_close(x[real], memory[real], atol=1e-5, rtol=1e-5)

        y = model.embed(tgt, torch.arange(3)[None])
        causal = nn.Transformer.generate_square_subsequent_mask(3)
        for layer in dec:
            y = layer(y, memory, tgt_mask=causal, memory_key_padding_mask=src == PAD)
        logits = model.lm_head(model.dec_ln(y))
        torch.testing.assert_close(logits, model.decode(tgt, memory, mask), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("norm", "norm_first"), [("layernorm", False), ("rmsnorm", True)])
def test_the_closed_form_size_is_the_built_models(norm, norm_first):
    config = Seq2SeqConfig(37, 24, 2, 4, 32, ffn_hidden=48, norm=norm, norm_first=norm_first)
    model = Seq2Seq(config)
    params = sum(p.numel() for p in model.parameters())
    nbytes = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
    assert Seq2Seq.size_of(config) == (params, nbytes)

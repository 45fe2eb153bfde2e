"""The trace view holds the model's own numbers, checked against computations from the weights."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attento.explain import trace_view as tv
from attento.explain.tensors import tolerance, unpack


def near(packed, expected, atol=1e-6):
    """`packed` decodes to `expected` within the precision of its encoding."""
    np.testing.assert_allclose(unpack(packed), expected, atol=tolerance(packed) + atol, rtol=0)


PROMPT = "Nel mezzo del cammin"


@pytest.fixture(scope="module")
def view(tiny):
    model, tok = tiny
    ids = tok.encode(PROMPT)
    return tv.trace_view(model, tok, ids), ids


def test_tokens_are_the_tokenizer_pieces(view):
    v, ids = view
    assert [t["id"] for t in v["tokens"]] == ids
    assert "".join(t["text"] for t in v["tokens"]) == PROMPT


def test_embedding_sum_is_token_row_plus_position_row(view, tiny):
    v, ids = view
    model, _ = tiny
    tok_rows = model.embed.tok.weight[ids].detach().numpy()
    pos_rows = model.embed.pos.weight[: len(ids)].detach().numpy()
    near(v["embed"]["tok"], tok_rows)
    near(v["embed"]["pos"], pos_rows)
    near(v["embed"]["sum"], tok_rows + pos_rows, atol=1e-5)


def test_attention_weights_match_softmax_of_scaled_masked_scores_from_the_weights(view, tiny):
    v, ids = view
    model, _ = tiny
    c = model.config
    T, H, Dh = len(ids), c.n_head, c.head_dim
    block = v["blocks"][1]
    x = torch.from_numpy(tv.traces.record(model, ids)["blocks.1.ln1"].numpy().copy())
    near(block["ln1"], x.numpy())
    q, k, _ = F.linear(x, model.blocks[1].attn.qkv.weight, model.blocks[1].attn.qkv.bias).split(
        c.n_embd, dim=-1
    )
    q = q.view(T, H, Dh).transpose(0, 1)
    k = k.view(T, H, Dh).transpose(0, 1)
    scaled = (q @ k.transpose(-1, -2)) / math.sqrt(Dh)
    future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    expected = scaled.masked_fill(future, float("-inf")).softmax(-1).detach().numpy()
    weights = unpack(block["weights"])
    assert weights.shape == (H, T, T)
    np.testing.assert_allclose(weights, expected, rtol=1e-3, atol=1e-5)  # f16
    np.testing.assert_allclose(weights.sum(-1), 1, atol=3e-3)
    masked = unpack(block["scaled_masked"])
    assert np.isneginf(masked[:, future.numpy()]).all()
    assert np.isfinite(unpack(block["scores"])).all()


def test_final_logits_equal_the_untraced_forward(view, tiny):
    v, ids = view
    model, tok = tiny
    with torch.no_grad():
        logits = model(torch.tensor([ids]))[0, -1]
    np.testing.assert_allclose(unpack(v["final"]["logits"]), logits.numpy(), atol=1e-5)
    top = torch.topk(logits, min(tv.TOP_LOGITS, logits.numel()))
    assert [c["id"] for c in v["final"]["top"]] == top.indices.tolist()
    assert v["final"]["top"][0]["text"] == tok.token_str(top.indices[0].item())


def test_stream_norms_and_cosines_follow_the_residual_tensors(view, tiny):
    v, ids = view
    model, _ = tiny
    stages = v["stream"]["stages"]
    assert [s["name"] for s in stages] == [
        "embed.sum",
        "blocks.0.resid_mid",
        "blocks.0.out",
        "blocks.1.resid_mid",
        "blocks.1.out",
    ]
    rec = tv.traces.record(model, ids)
    out1, mid1 = rec["blocks.1.out"].numpy(), rec["blocks.1.resid_mid"].numpy()
    np.testing.assert_allclose(stages[-1]["norm"], np.linalg.norm(out1, axis=-1), rtol=1e-3)
    cos = (out1 * mid1).sum(-1) / np.linalg.norm(out1, axis=-1) / np.linalg.norm(mid1, axis=-1)
    np.testing.assert_allclose(stages[-1]["cos_prev"], cos, atol=1e-3)
    assert "cos_prev" not in stages[0]


def test_ffn_histograms_count_every_activation(view, tiny):
    v, ids = view
    model, _ = tiny
    block = v["blocks"][0]
    n = len(ids) * model.config.ffn_dim
    assert sum(block["hist_hidden"]["counts"]) == n
    assert sum(block["hist_act"]["counts"]) == n
    act = tv.traces.record(model, ids)["blocks.0.mlp.act"].numpy()
    near(block["mlp_act"], act)
    assert block["hist_act"]["positive"] == pytest.approx((act > 0).mean(), abs=1e-3)


def test_long_prompts_drop_the_pre_softmax_stages(tiny, monkeypatch):
    model, tok = tiny
    monkeypatch.setattr(tv.traces, "STAGES_MAX_T", 3)
    v = tv.trace_view(model, tok, tok.encode("Nel mezzo"))
    assert v["blocks"][0]["scores"] is None and v["blocks"][0]["scaled_masked"] is None
    assert unpack(v["blocks"][0]["weights"]).shape[-1] == len("Nel mezzo")


def test_rope_model_has_no_position_vectors(models_dir):
    from attento.models.folder import load_model

    model, tok = load_model(models_dir / "tiny-rope")
    v = tv.trace_view(model, tok, tok.encode("Nel"))
    assert v["embed"]["pos"] is None
    assert unpack(v["blocks"][0]["mlp_act"]).shape == (3, model.config.ffn_dim)


def test_sinusoidal_model_sends_its_scaled_token_rows(make_ckpt, tmp_path, view):
    from attento.models.folder import load_model

    assert view[0]["embed"]["tok_scale"] == 1.0  # learned positions
    model, tok = load_model(make_ckpt(tmp_path / "sin", pos_encoding="sinusoidal"))
    ids = tok.encode("Nel")
    v = tv.trace_view(model, tok, ids)
    scale = math.sqrt(model.config.n_embd)
    assert v["embed"]["tok_scale"] == pytest.approx(scale)
    rows = model.embed.tok.weight[ids].detach().numpy() * scale
    near(v["embed"]["tok"], rows)

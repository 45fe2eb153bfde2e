"""All heads at once (heads.py): per-head summaries by hand on known weights, and the maps of a
GPT-2-shaped model of 12 blocks x 12 heads against transformers' attention weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from attento.explain.heads import HEADS_MAX_T, head_summaries, heads_view
from attento.explain.server import create_app
from attento.explain.tensors import tolerance, unpack
from attento.explain.traces import record


def test_summaries_by_hand_on_a_known_pattern():
    T = 4
    prev = torch.zeros(T, T)
    prev[0, 0] = 1
    for q in range(1, T):
        prev[q, q - 1] = 1
    first = torch.zeros(T, T)
    first[:, 0] = 1
    same = torch.eye(T)
    uniform = torch.tril(torch.ones(T, T))
    uniform = uniform / uniform.sum(-1, keepdim=True)
    s = head_summaries(torch.stack([prev, first, same, uniform]))
    # queries 1..3; at query 1 the previous token is the first one
    third = 1 / 3
    mean_uniform = (1 / 2 + 1 / 3 + 1 / 4) / 3
    np.testing.assert_allclose(s["previous"], [1, third, 0, mean_uniform], atol=1e-7)
    np.testing.assert_allclose(s["first"], [third, 1, 0, mean_uniform], atol=1e-7)
    np.testing.assert_allclose(s["same"], [0, 0, 1, mean_uniform], atol=1e-7)


def test_one_token_has_no_summary():
    assert head_summaries(torch.ones(2, 1, 1)) == {"previous": None, "first": None, "same": None}


@pytest.fixture(scope="module")
def gpt2_12x12(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    from attento.models.gpt import GPT

    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=200, n_positions=96, n_embd=48, n_layer=12, n_head=12
    )
    hf = transformers.GPT2LMHeadModel(config).eval()
    hf.config._attn_implementation = "eager"
    folder = tmp_path_factory.mktemp("gpt2-12x12")
    hf.save_pretrained(folder)
    return hf, GPT.from_hf(folder).eval()


def test_12x12_maps_and_summaries_are_transformers_attention(gpt2_12x12):
    hf, ours = gpt2_12x12
    ids = list(range(3, 3 + 20))
    with torch.no_grad():
        att = hf(torch.tensor([ids]), output_attentions=True).attentions
    want = torch.stack([a[0] for a in att])  # (12, 12, T, T)
    view = heads_view(record(ours, ids), ours.config)
    assert view["n_layer"] == 12 and view["n_head"] == 12 and view["start"] == 0
    maps = unpack(view["maps"])
    assert maps.shape == (12, 12, 20, 20)
    np.testing.assert_allclose(maps, want.numpy(), atol=tolerance(view["maps"]) + 1e-6)
    q = np.arange(1, 20)
    w = want.numpy()
    np.testing.assert_allclose(view["summaries"]["previous"], w[:, :, q, q - 1].mean(-1), atol=1e-6)
    np.testing.assert_allclose(view["summaries"]["first"], w[:, :, q, 0].mean(-1), atol=1e-6)
    np.testing.assert_allclose(view["summaries"]["same"], w[:, :, q, q].mean(-1), atol=1e-6)


def test_a_long_prompt_draws_its_last_positions_only(gpt2_12x12):
    _, ours = gpt2_12x12
    ids = [7] * (HEADS_MAX_T + 10)
    view = heads_view(record(ours, ids), ours.config)
    assert view["start"] == 10
    assert view["maps"]["shape"] == [12, 12, HEADS_MAX_T, HEADS_MAX_T]


def test_api_heads(catalog, tiny):
    model, tok = tiny
    client = TestClient(create_app(catalog), base_url="http://127.0.0.1")
    ids = tok.encode("Nel mezzo")
    data = client.post("/api/heads", json={"ids": ids}).json()
    assert data["maps"]["shape"] == [2, 2, len(ids), len(ids)]
    rec = record(model, ids)
    got = unpack(data["maps"])
    for i in range(2):
        np.testing.assert_allclose(
            got[i], rec[f"blocks.{i}.attn.weights"].numpy(), atol=tolerance(data["maps"]) + 1e-6
        )
    bad = client.post("/api/heads", json={"ids": [10**6]})
    assert bad.status_code == 400 and bad.json()["code"] == "token_out_of_vocab"

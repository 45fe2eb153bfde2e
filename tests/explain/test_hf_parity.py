"""The numbers the explainer shows equal transformers' own hidden states and attention weights.

A small random GPT2LMHeadModel (and a LlamaForCausalLM with grouped-query attention) is built
with transformers, saved, converted with GPT.from_hf, and traced by the explainer. What the page
receives (the overview, each block's detail, another token's stack, one exact cell) decodes to
`output_hidden_states` and `output_attentions` (eager attention): to the precision of the
drawing encoding (u8 heat maps, f16 weights) where it draws, to float32 round-off where the page
promises exact values (the logits, /api/cell).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attento.explain import trace_view as tv
from attento.explain.tensors import tolerance, unpack
from attento.explain.traces import record
from attento.models.gpt import GPT
from attento.tokenize import CharTokenizer

transformers = pytest.importorskip("transformers")

EXACT = 2e-5  # float32 round-off between two implementations of the same sums


def near(packed, expected, atol=EXACT):
    got = unpack(packed)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=tolerance(packed) + atol, rtol=0)


def build(kind: str, directory):
    torch.manual_seed(0)
    if kind == "gpt2":
        config = transformers.GPT2Config(
            vocab_size=300, n_positions=32, n_embd=48, n_layer=3, n_head=4, resid_pdrop=0.0
        )
        hf = transformers.GPT2LMHeadModel(config)
    else:
        config = transformers.LlamaConfig(
            vocab_size=300,
            hidden_size=48,
            intermediate_size=96,
            num_hidden_layers=3,
            num_attention_heads=6,
            num_key_value_heads=2,
            max_position_embeddings=64,
            tie_word_embeddings=False,
        )
        hf = transformers.LlamaForCausalLM(config)
    hf.config._attn_implementation = "eager"  # materialises the attention weights
    hf.eval().save_pretrained(directory)
    return hf, GPT.from_hf(directory).eval()


@pytest.fixture(scope="module", params=["gpt2", "llama-gqa"])
def pair(request, tmp_path_factory):
    hf, ours = build(request.param, tmp_path_factory.mktemp(request.param))
    ids = torch.randint(0, 300, (17,), generator=torch.Generator().manual_seed(1)).tolist()
    with torch.no_grad():
        out = hf(torch.tensor([ids]), output_hidden_states=True, output_attentions=True)
    tokenizer = CharTokenizer([chr(0x100 + i) for i in range(300)])
    return request.param, ours, tokenizer, ids, out


def test_overview_decodes_to_the_hidden_states_and_logits(pair):
    kind, model, tokenizer, ids, out = pair
    rec = record(model, ids)
    view = tv.overview(model, tokenizer, ids, rec)
    hidden = [h[0].numpy() for h in out.hidden_states]  # input, after each block (last: normed)
    if kind == "gpt2":  # Llama adds no positions: hidden_states[0] is the token rows
        near(view["embed"]["sum"], hidden[0])
    else:
        near(view["embed"]["tok"], hidden[0])
    # the exact logits of the last position, which the sliders use
    np.testing.assert_allclose(
        unpack(view["final"]["logits"]), out.logits[0, -1].numpy(), atol=1e-4, rtol=0
    )
    assert view["final"]["logits"]["dtype"] == "f32"
    np.testing.assert_allclose(unpack(view["final"]["hidden"]), hidden[-1][-1], atol=EXACT)
    # the last token's residual stream: embed.sum, then (after attention, after FFN) per block
    focus = view["stream"]["focus"]
    after_block = unpack(focus["vectors"])[2::2]
    n = model.config.n_layer
    np.testing.assert_allclose(
        after_block[: n - 1],
        np.stack([h[-1] for h in hidden[1:n]]),
        atol=tolerance(focus["vectors"]) + EXACT,
    )


def test_each_block_decodes_to_the_attention_weights_and_block_outputs(pair):
    kind, model, _, ids, out = pair
    rec = record(model, ids)
    n = model.config.n_layer
    for i in range(n):
        block = tv.block_view(rec, i, model.config)
        weights = out.attentions[i][0].numpy()  # (H, T, T)
        assert block["weights"]["dtype"] == "f16"
        np.testing.assert_allclose(unpack(block["weights"]), weights, atol=1e-3, rtol=1e-3)
        if i < n - 1:  # the last hidden state HF returns is after the final norm
            near(block["out"], out.hidden_states[i + 1][0].numpy())
    if kind == "llama-gqa":
        assert (block["n_head"], block["n_kv_head"]) == (6, 2)
        assert unpack(block["k"]).shape[0] == 2  # the key/value heads, as the model holds them


def test_exact_cells_equal_transformers_to_float32_round_off(pair):
    _, model, _, ids, out = pair
    rec = record(model, ids)
    gen = np.random.default_rng(0)
    T, n = len(ids), model.config.n_layer
    for _ in range(20):
        i, r, c = int(gen.integers(n)), int(gen.integers(T)), int(gen.integers(T))
        h = int(gen.integers(model.config.n_head))
        got = tv.cell_value(rec, f"blocks.{i}.attn.weights", [h, r, c])
        want = float(out.attentions[i][0, h, r, c])
        if c > r:  # the future: the weight is exactly 0
            assert got["value"] == 0.0 == want
        else:
            assert got["value"] == pytest.approx(want, abs=1e-6)
        j = int(gen.integers(model.config.n_embd))
        if i < n - 1:
            got = tv.cell_value(rec, f"blocks.{i}.out", [r, j])
            assert got["value"] == pytest.approx(
                float(out.hidden_states[i + 1][0, r, j]), abs=EXACT
            )

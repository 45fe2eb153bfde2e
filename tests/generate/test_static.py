"""The fixed-shape decode path (generate/static.py) writes the same tokens as the usual loop."""

from __future__ import annotations

import pytest
import torch

from attento.generate import generate
from attento.generate.sampling import SamplingConfig, make_generators, pick
from attento.generate.static import StaticDecoder, fits
from attento.models import GPT, GPTConfig


def tiny_gpt(pos_encoding: str, **kw) -> GPT:
    torch.manual_seed(0)
    config = GPTConfig(32, 24, 2, 4, 32, pos_encoding=pos_encoding, **kw)
    return GPT(config).eval()


@pytest.mark.parametrize(
    "pos, kw",
    [("learned", {}), ("sinusoidal", {}), ("rope", {"n_kv_head": 2, "norm": "rmsnorm"})],
)
def test_static_logits_match_growing_cache(pos, kw):
    model = tiny_gpt(pos, **kw)
    idx = torch.randint(0, 32, (2, 5), generator=torch.Generator().manual_seed(1))
    ids = torch.randint(0, 32, (2, 18), generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        full = model(torch.cat((idx, ids), dim=1))
        decoder = StaticDecoder(model, idx, ids.size(1) + 1)
        for t in range(ids.size(1) + 1):
            logits = decoder.next_logits()
            torch.testing.assert_close(logits, full[:, idx.size(1) + t - 1])
            if t < ids.size(1):
                decoder.append(ids[:, t])


@pytest.mark.parametrize("greedy", [True, False])
def test_static_generate_same_tokens(greedy):
    model = tiny_gpt("learned")
    idx = torch.tensor([[3, 1, 4]])
    plain = generate(model, idx, 20, greedy=greedy, top_k=10, seed=5)
    assert fits(model, 3, 20)
    # compile=False keeps the test fast; the same StaticDecoder runs, without the compiler
    decoder = StaticDecoder(model, idx, 20)
    config = SamplingConfig(top_k=10, greedy=greedy, seed=5)
    _, generators = make_generators(5, 1)
    with torch.inference_mode():
        for _ in range(20):
            decoder.append(pick(decoder.next_logits(), config, generators))
    assert torch.equal(decoder.sequence, plain)


def test_fits_only_one_window():
    model = tiny_gpt("rope")
    assert fits(model, 4, 21) and not fits(model, 4, 22)


@pytest.mark.slow
def test_compiled_generate_same_greedy_tokens():
    model = tiny_gpt("rope", n_kv_head=2)
    idx = torch.tensor([[3, 1, 4]])
    plain = generate(model, idx, 20, greedy=True)
    assert torch.equal(generate(model, idx, 20, greedy=True, compile=True), plain)
    sampled = generate(model, idx, 20, top_k=10, seed=3)
    assert torch.equal(generate(model, idx, 20, top_k=10, seed=3, compile=True), sampled)

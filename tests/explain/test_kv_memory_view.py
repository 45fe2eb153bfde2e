"""The KV-cache view's memory figures: kv_memory's, in the dtype of the cache that ran, and
equal to the bytes the real cache holds."""

from __future__ import annotations

import pytest
import torch

from attento.explain import step_view as sv
from attento.models.gpt import GPT, GPTConfig
from attento.models.kv_memory import CacheShape, cached_bytes, human_bytes
from attento.tokenize.char import CharTokenizer


@pytest.mark.parametrize(("dtype", "size"), [(torch.float32, 4), (torch.bfloat16, 2)])
def test_cache_view_carries_kv_memory_of_the_cache_that_ran(dtype, size):
    tok = CharTokenizer.from_text("abcdefgh ")
    torch.manual_seed(0)
    config = GPTConfig(tok.vocab_size, 32, 2, 4, 32, pos_encoding="rope", n_kv_head=2)
    model = GPT(config).eval().to(dtype)
    ids = tok.encode("abc defg ha")
    memory = sv.cache_view(model, tok, ids)["memory"]
    human = memory.pop("human")
    assert memory == CacheShape.from_config(config).memory(len(ids), size)
    assert human["bytes_full"] == human_bytes(memory["bytes_full"])
    cache = model.new_cache(1)
    with torch.no_grad():
        model(torch.tensor([ids]), cache=cache)
    assert cached_bytes(cache) == memory["bytes"]  # 2 x 2 layers x 2 heads x 8 x size x 11
    assert memory["mha_bytes"] == 2 * memory["bytes"]  # GQA 2:1


def test_sliding_window_view_shows_the_rows_the_cache_kept():
    """Was: 36 tokens labelled 16 rows of keys and weights, and the page threw on the rest."""
    from attento.explain.tensors import unpack

    tok = CharTokenizer.from_text("abcdefgh ")
    torch.manual_seed(0)
    config = GPTConfig(tok.vocab_size, 48, 2, 4, 32, n_kv_head=2, sliding_window=16)
    model = GPT(config).eval()
    ids = tok.encode("abc defg habc defg habc defg habc d")
    view = sv.cache_view(model, tok, ids)
    assert (view["first"], view["cached"], view["new"]) == (len(ids) - 16, 15, 1)
    assert [t["id"] for t in view["tokens"]] == ids[-16:]
    assert unpack(view["layers"][1]["k"]).shape == (2, 16, 8)
    assert unpack(view["layers"][1]["weights"]).shape == (4, 16)
    assert view["max_abs_diff"] < 1e-5
    memory = view["memory"]
    assert memory["bytes"] == memory["bytes_per_token"] * 16 < memory["bytes_per_token"] * len(ids)

"""KV cache: cached logits equal full recomputation; left padding with `valid` changes nothing."""

from __future__ import annotations

import pytest
import torch

from attento.errors import UserError
from attento.models.gpt import GPT, GPTConfig

POS = ("learned", "sinusoidal", "rope")


def model_for(pos_encoding: str, **kw) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(61, 24, 2, 4, 32, pos_encoding=pos_encoding, **kw)).eval()


@pytest.mark.parametrize("pos_encoding", POS)
def test_cache_gives_the_same_logits_as_no_cache(pos_encoding):
    model = model_for(pos_encoding)
    idx = torch.randint(0, 61, (2, 20))
    full = model(idx)
    cache = model.new_cache(2)
    parts = [model(idx[:, :7], cache=cache)]  # prompt
    parts += [model(idx[:, t : t + 1], cache=cache) for t in range(7, 15)]  # one at a time
    parts.append(model(idx[:, 15:], cache=cache))  # a chunk again
    assert cache.length == 20
    assert torch.allclose(torch.cat(parts, dim=1), full, atol=1e-5)


@pytest.mark.parametrize("pos_encoding", POS)
def test_left_padded_batch_matches_each_row_alone(pos_encoding):
    model = model_for(pos_encoding, norm="rmsnorm", activation="swiglu")
    rows = [torch.randint(0, 61, (n,)) for n in (9, 4, 6)]
    width, pad_id = 9, 0
    idx = torch.full((3, width), pad_id)
    valid = torch.zeros(3, width, dtype=torch.bool)
    for i, row in enumerate(rows):
        idx[i, width - len(row) :] = row
        valid[i, width - len(row) :] = True
    # without a cache
    batched = model(idx, valid=valid)
    for i, row in enumerate(rows):
        alone = model(row[None])
        assert torch.allclose(batched[i, width - len(row) :], alone[0], atol=1e-5)
    # with a cache: padded prompt, then two new tokens per row (valid remembered by the cache)
    cache = model.new_cache(3)
    model(idx, cache=cache, valid=valid)
    extra = torch.randint(0, 61, (3, 2))
    step1 = model(extra[:, :1], cache=cache)
    step2 = model(extra[:, 1:], cache=cache)
    for i, row in enumerate(rows):
        alone = model(torch.cat((row, extra[i]))[None])
        assert torch.allclose(step1[i, 0], alone[0, -2], atol=1e-5)
        assert torch.allclose(step2[i, 0], alone[0, -1], atol=1e-5)


def test_explicit_valid_with_cache_equals_remembered_valid():
    model = model_for("learned")
    idx = torch.randint(0, 61, (2, 6))
    valid = torch.ones(2, 6, dtype=torch.bool)
    valid[0, :2] = False
    a, b = model.new_cache(2), model.new_cache(2)
    model(idx, cache=a, valid=valid)
    model(idx, cache=b, valid=valid)
    nxt = torch.randint(0, 61, (2, 1))
    full_valid = torch.cat((valid, torch.ones(2, 1, dtype=torch.bool)), dim=1)
    assert torch.equal(model(nxt, cache=a), model(nxt, cache=b, valid=full_valid))


@pytest.mark.parametrize("pos_encoding", ["learned", "sinusoidal"])
def test_beyond_block_size_is_a_user_error(pos_encoding):
    model = model_for(pos_encoding)
    with pytest.raises(UserError, match="context of 24"):
        model(torch.zeros(1, 25, dtype=torch.long))
    cache = model.new_cache(1)
    model(torch.zeros(1, 24, dtype=torch.long), cache=cache)
    with pytest.raises(UserError, match="25 tokens"):
        model(torch.zeros(1, 1, dtype=torch.long), cache=cache)


def test_rope_runs_past_block_size():
    model = model_for("rope")
    assert model(torch.zeros(1, 30, dtype=torch.long)).shape == (1, 30, 61)


def test_bad_cache_use_is_a_user_error():
    model = model_for("learned")
    with pytest.raises(UserError, match="2 rows"):
        model(torch.zeros(1, 3, dtype=torch.long), cache=model.new_cache(2))
    with pytest.raises(UserError, match="valid must have shape"):
        model(torch.zeros(1, 3, dtype=torch.long), valid=torch.ones(1, 4, dtype=torch.bool))


def test_crop_rolls_back_the_cache():
    model = model_for("rope")
    idx = torch.randint(0, 61, (1, 10))
    cache = model.new_cache(1)
    model(idx[:, :8], cache=cache)
    model(torch.randint(0, 61, (1, 3)), cache=cache)  # a draft we throw away
    cache.crop(8)
    assert cache.length == 8
    assert torch.allclose(model(idx[:, 8:], cache=cache), model(idx)[:, 8:], atol=1e-5)


@pytest.mark.parametrize("n_kv_head", [2, 1])
def test_grouped_query_cache_holds_only_the_key_value_heads(n_kv_head):
    model = model_for("rope", n_kv_head=n_kv_head, norm="rmsnorm", activation="swiglu")
    idx = torch.randint(0, 61, (2, 20))
    full = model(idx)
    cache = model.new_cache(2)
    parts = [model(idx[:, :7], cache=cache)]
    parts += [model(idx[:, t : t + 1], cache=cache) for t in range(7, 20)]
    assert torch.allclose(torch.cat(parts, dim=1), full, atol=1e-5)
    assert cache.layers[0].k.shape == (2, n_kv_head, 20, 8)  # not n_head = 4 heads

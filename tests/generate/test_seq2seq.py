"""Writing with the encoder–decoder through the generation loop (generate/seq2seq.py)."""

from __future__ import annotations

import random

import pytest
import torch

from attento.errors import UserError
from attento.generate.seq2seq import transduce
from attento.models.seq2seq import Seq2Seq, Seq2SeqConfig

PAD, BOS, EOS = 0, 1, 2
DIGIT = 3  # ids 3..12 are the digits 0..9


def reverse_batch(rng: random.Random, n: int, length: int = 5):
    """Source: random digit strings; target: the same digits reversed."""
    src = [[DIGIT + rng.randrange(10) for _ in range(length)] for _ in range(n)]
    tgt = [list(reversed(s)) for s in src]
    return (
        torch.tensor(src),
        torch.tensor([[BOS, *t] for t in tgt]),
        torch.tensor([[*t, EOS] for t in tgt]),
    )


def trained_reverser() -> Seq2Seq:
    """A model that has learned a little, so its distributions are not flat."""
    rng = random.Random(0)
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(13, 12, n_layer=2, n_head=2, n_embd=32))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(30):
        src, tin, tout = reverse_batch(rng, 16)
        _, loss = model(src, tin, tout)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


SOURCES = torch.tensor([[3, 4, 5, 6, 7], [8, 9, 10, PAD, PAD], [12, 11, 3, 3, PAD]])


@pytest.mark.parametrize(
    "settings",
    [dict(greedy=True), dict(seed=3), dict(seed=5, temperature=0.7, top_k=4, top_p=0.9)],
)
def test_the_kv_cache_changes_no_token(settings):
    model = trained_reverser()
    cached = transduce(model, SOURCES, max_new_tokens=8, **settings)
    uncached = transduce(model, SOURCES, max_new_tokens=8, use_cache=False, **settings)
    assert cached == uncached and any(cached)


def test_the_cache_holds_the_source_keys_once_and_the_target_grows():
    model = trained_reverser()
    src = SOURCES[:1]
    view = model.conditioned(src)
    cache = view.new_cache(1)
    tgt = torch.tensor([[BOS, 7, 8, 9]])
    with torch.no_grad():
        whole = view(tgt)
        steps = [view(tgt[:, i : i + 1], cache=cache) for i in range(tgt.size(1))]
    torch.testing.assert_close(torch.cat(steps, dim=1), whole, atol=1e-5, rtol=1e-5)
    assert cache.length == 4 and all(layer.length == src.size(1) for layer in cache.cross)


def test_sampling_is_reproducible_with_a_seed_and_the_settings_matter():
    model = trained_reverser()
    first = transduce(model, SOURCES, seed=7, temperature=1.5)
    assert transduce(model, SOURCES, seed=7, temperature=1.5) == first
    others = [transduce(model, SOURCES, seed=s, temperature=1.5) for s in range(8, 12)]
    assert any(o != first for o in others)
    greedy = transduce(model, SOURCES, greedy=True)
    assert transduce(model, SOURCES, top_k=1, seed=1) == greedy  # top-1 leaves one choice
    assert not model.training


def test_transduce_leaves_a_training_model_training():
    model = trained_reverser().train()
    transduce(model, SOURCES[:1], max_new_tokens=3, seed=0)
    assert model.training


def test_the_budget_must_leave_room_for_bos():
    model = Seq2Seq(Seq2SeqConfig(13, 12, n_layer=1, n_head=2, n_embd=16))
    with pytest.raises(UserError, match="max_new_tokens must be between 1 and 11"):
        transduce(model, torch.tensor([[3]]), max_new_tokens=12)

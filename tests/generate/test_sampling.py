"""Each sampling step against Hugging Face's logits warpers, on random and adversarial logits."""

from __future__ import annotations

import pytest
import torch
from transformers.generation.logits_process import (
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from attento.errors import UserError
from attento.generate import SamplingConfig, filter_logits, pick
from attento.generate.sampling import (
    apply_temperature,
    make_generators,
    probabilities,
    roll,
    top_k_filter,
    top_p_filter,
)

NEG = float("-inf")


def _cases() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    random = torch.randn(4, 50, generator=g) * 3
    ties = torch.tensor([[1.0, 2.0, 2.0, 2.0, 0.5, 2.0, -1.0, 0.5]] * 2)
    with_inf = torch.tensor([[NEG, 1.0, NEG, 3.0, 0.0, NEG, 3.0, -2.0]])
    equal = torch.zeros(3, 16)
    peaked = torch.tensor([[0.0, 200.0, -50.0, 1.0, 199.5, -300.0]])
    return {"random": random, "ties": ties, "inf": with_inf, "equal": equal, "peaked": peaked}


CASES = _cases()


def _hf(warper, logits: torch.Tensor) -> torch.Tensor:
    ids = torch.zeros(logits.size(0), 1, dtype=torch.long)
    return warper(ids, logits.clone())


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("t", [0.3, 1.0, 2.5])
def test_temperature_matches_hf(name, t):
    x = CASES[name]
    torch.testing.assert_close(apply_temperature(x, t), _hf(TemperatureLogitsWarper(t), x))


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("k", [1, 2, 3, 5, 8, 50, 1000])
def test_top_k_matches_hf(name, k):
    x = CASES[name]
    torch.testing.assert_close(top_k_filter(x, k), _hf(TopKLogitsWarper(k), x))


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("p", [1e-6, 0.1, 0.3, 0.5, 0.9, 0.999, 1.0])
def test_top_p_matches_hf(name, p):
    x = CASES[name]
    torch.testing.assert_close(top_p_filter(x, p), _hf(TopPLogitsWarper(p), x))


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize(
    ("t", "k", "p"),
    [(0.8, 5, None), (1.0, None, 0.9), (0.7, 3, 0.5), (1.3, 100, 1.0), (0.5, 1, 0.2)],
)
def test_pipeline_matches_hf_in_hf_order(name, t, k, p):
    x = CASES[name]
    expected = _hf(TemperatureLogitsWarper(t), x)
    if k is not None:
        expected = _hf(TopKLogitsWarper(k), expected)
    if p is not None:
        expected = _hf(TopPLogitsWarper(p), expected)
    torch.testing.assert_close(filter_logits(x, t, k, p), expected)


def test_ties_keep_more_than_k():
    kept = torch.isfinite(top_k_filter(CASES["ties"][:1], 2))
    assert kept.sum().item() == 4  # the four logits equal to 2.0


def test_top_p_always_keeps_the_favourite():
    out = top_p_filter(CASES["peaked"], 1e-9)
    assert torch.isfinite(out).sum().item() == 1
    assert out[0, 1].item() == 200.0


def test_probabilities_are_zero_where_removed():
    probs = probabilities(filter_logits(CASES["random"], 0.8, 5, None))
    assert ((probs > 0).sum(-1) == 5).all()
    torch.testing.assert_close(probs.sum(-1), torch.ones(4))


def test_same_seed_same_draws_and_matches_global_multinomial():
    probs = probabilities(CASES["random"][:1])
    _, g1 = make_generators(123, 1)
    _, g2 = make_generators(123, 1)
    a = [roll(probs, g1).item() for _ in range(20)]
    b = [roll(probs, g2).item() for _ in range(20)]
    assert a == b
    torch.manual_seed(123)  # what HF's generate draws with, after torch.manual_seed
    assert a == [torch.multinomial(probs, 1).item() for _ in range(20)]
    _, g3 = make_generators(124, 1)
    assert a != [roll(probs, g3).item() for _ in range(20)]


def test_batch_rows_roll_their_own_die():
    probs = probabilities(CASES["random"][:2])
    _, gens = make_generators(7, 2)
    batch = [roll(probs, gens).tolist() for _ in range(10)]
    _, row1 = make_generators(8, 1)
    assert [b[1] for b in batch] == [roll(probs[1:], row1).item() for _ in range(10)]


def test_sampling_follows_the_probabilities():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    _, gens = make_generators(0, 1)
    config = SamplingConfig(temperature=1.0)
    counts = torch.bincount(
        torch.cat([pick(logits, config, gens) for _ in range(4000)]), minlength=4
    )
    torch.testing.assert_close(counts / 4000, probabilities(logits)[0], atol=0.03, rtol=0)


def test_greedy_takes_the_first_maximum():
    logits = torch.tensor([[0.0, 3.0, 3.0, 1.0]])
    assert pick(logits, SamplingConfig(greedy=True), []).item() == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperature": 0.0}, "greedy"),
        ({"temperature": -1.0}, "greedy"),
        ({"top_k": 0}, "top_k"),
        ({"top_k": 2.5}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_settings_are_user_errors(kwargs, message):
    with pytest.raises(UserError, match=message):
        SamplingConfig(**kwargs)

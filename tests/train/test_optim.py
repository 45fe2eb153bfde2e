"""Warm-up + cosine schedule and AdamW parameter groups."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from attento.models.gpt import GPT, GPTConfig
from attento.train.config import TrainConfig
from attento.train.optim import build_optimizer, learning_rate, param_groups


def cfg(**kw) -> TrainConfig:
    base = dict(max_steps=1000, learning_rate=1e-3, min_lr=1e-4, warmup_steps=100)
    return TrainConfig(**{**base, **kw})


def test_warmup_is_linear_and_reaches_the_peak() -> None:
    c = cfg()
    lrs = [learning_rate(c, s, 0.0) for s in range(100)]
    steps = [b - a for a, b in itertools.pairwise(lrs)]
    assert lrs[0] > 0 and max(steps) - min(steps) < 1e-12
    assert learning_rate(c, 100, 0.0) == pytest.approx(1e-3)


def test_cosine_ends_at_min_lr_and_passes_the_midpoint() -> None:
    c = cfg()
    assert learning_rate(c, 550, 0.0) == pytest.approx((1e-3 + 1e-4) / 2)
    assert learning_rate(c, 1000, 0.0) == pytest.approx(1e-4)
    lrs = [learning_rate(c, s, 0.0) for s in range(100, 1001)]
    assert all(a >= b for a, b in itertools.pairwise(lrs))


def test_time_budget_drives_the_cosine() -> None:
    c = cfg(max_steps=None, time_budget_min=10.0, warmup_steps=0)
    assert learning_rate(c, 5, 0.0) == pytest.approx(1e-3)
    assert learning_rate(c, 5, 300.0) == pytest.approx(0.5 * (1e-3 + 1e-4))
    assert learning_rate(c, 5, 600.0) == pytest.approx(1e-4)
    # with both limits, whichever is further along sets the pace
    both = cfg(max_steps=100, time_budget_min=10.0, warmup_steps=0)
    assert learning_rate(both, 100, 1.0) == pytest.approx(1e-4)
    assert learning_rate(both, 1, 600.0) == pytest.approx(1e-4)


def test_weight_decay_only_on_matrices() -> None:
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16))
    opt = build_optimizer(model, cfg(weight_decay=0.1))
    decayed = {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    for name, p in model.named_parameters():
        assert (id(p) in decayed) == (p.dim() >= 2), name
    assert isinstance(opt, torch.optim.AdamW)
    assert opt.defaults["betas"] == (0.9, 0.99)


def test_fallback_groups_for_models_without_configure_optimizer() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    groups = param_groups(model, 0.1)
    assert [len(g["params"]) for g in groups] == [1, 3]
    opt = build_optimizer(model, cfg())
    assert math.isclose(opt.param_groups[0]["weight_decay"], 0.1)

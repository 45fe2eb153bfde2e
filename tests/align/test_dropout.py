"""Dropout in alignment: the reference, π_old, sampling and evaluations never see it, and the
trained model's own forward passes see it only when `train_dropout` asks (off, as in TRL).

On a model with dropout 0.1, PPO's first step must report a KL of exactly 0 and a ratio
π/π_old of exactly 1 (π_old is the reference), and DPO's first loss must be −log σ(0) = log 2
(the policy is the reference, so both implicit rewards are 0)."""

from __future__ import annotations

import math

import pytest
import torch

import attento.align.dpo as dpo_module
import attento.align.ppo as ppo_module
import attento.models.layers as layers
from attento.align.chat import ChatFormat, add_chat_tokens
from attento.align.data import Preference
from attento.align.dpo import DPOSettings, dpo
from attento.align.ppo import PPOSettings, ppo
from attento.align.reward import RewardModel, RewardSettings, train_reward_model
from attento.align.settings import evaluating

from .conftest import tiny_gpt

PREFS = [
    Preference([{"role": "user", "content": f"{a}+{b}="}], str(a + b), f"{a + b + 1} ok ok")
    for a in range(5)
    for b in range(5)
]


@pytest.fixture
def chat_model(char_tokenizer):
    """A chat model whose every layer has dropout 0.1 (eval mode, as a loaded model is)."""
    lm = tiny_gpt(char_tokenizer.vocab_size, dropout=0.1)
    model, tok, _ = add_chat_tokens(lm, char_tokenizer)
    return model.eval(), ChatFormat.of(tok)


def first_call(monkeypatch, module, name: str, keep=lambda *args: True) -> list[tuple]:
    """Record the arguments of the first call of `module.name` for which `keep` holds."""
    calls: list[tuple] = []
    real = getattr(module, name)

    def spy(*args, **kwargs):
        if not calls and keep(*args):
            calls.append(tuple(a.detach().clone() if torch.is_tensor(a) else a for a in args))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return calls


def active_dropouts(monkeypatch) -> list[bool]:
    """One entry per call of the models' dropout, True when it really dropped (training, p > 0)."""
    seen: list[bool] = []
    real = layers.dropout

    def spy(x, p, training):
        seen.append(training and p > 0)
        return real(x, p, training)

    monkeypatch.setattr(layers, "dropout", spy)
    return seen


def ppo_first_step(monkeypatch, chat_model, train_dropout: bool):
    model, chat = chat_model
    calls = first_call(monkeypatch, ppo_module, "ppo_policy_loss")
    settings = PPOSettings(
        steps=1, batch_size=8, mini_batch_size=8, ppo_epochs=1, max_new_tokens=5,
        train_dropout=train_dropout,
    )  # fmt: skip
    _, logs = ppo(model, RewardModel.from_lm(model), chat, [p.prompt for p in PREFS], settings)
    logprobs, old_logprobs, _, mask, _ = calls[0]
    ratio = torch.exp(logprobs - old_logprobs)[mask.bool()]
    return logs[0], ratio


def test_ppo_first_step_on_a_dropout_model_has_kl_0_and_ratio_1(monkeypatch, chat_model):
    log, ratio = ppo_first_step(monkeypatch, chat_model, train_dropout=False)
    assert log.kl == 0.0  # π_old and the reference are the same function, both without dropout
    assert torch.equal(ratio, torch.ones_like(ratio))  # the update starts at π = π_old
    assert log.clipfrac == 0.0


def test_ppo_train_dropout_noises_the_update_only(monkeypatch, chat_model):
    log, ratio = ppo_first_step(monkeypatch, chat_model, train_dropout=True)
    assert log.kl == 0.0  # π_old and the reference still read without dropout
    assert (ratio - 1).abs().max() > 1e-3  # the update's forward pass drops


def test_dpo_first_step_on_a_dropout_model_is_log_2(monkeypatch, chat_model):
    model, chat = chat_model
    # the first dpo_loss call with a gradient is the first training step
    calls = first_call(monkeypatch, dpo_module, "dpo_loss", lambda c, *_: c.requires_grad)
    settings = DPOSettings(beta=1.0, steps=1, batch_size=8)
    _, report = dpo(model, chat, PREFS, settings)
    assert report.losses[0] == pytest.approx(math.log(2), abs=1e-6)
    _, rewards_chosen, rewards_rejected = dpo_module.dpo_loss(*calls[0][:4], beta=1.0)
    torch.testing.assert_close(rewards_chosen, torch.zeros(8), atol=1e-6, rtol=0)
    torch.testing.assert_close(rewards_rejected, torch.zeros(8), atol=1e-6, rtol=0)


def test_dpo_train_dropout_noises_the_policy_not_the_reference(monkeypatch, chat_model):
    model, chat = chat_model
    seen = active_dropouts(monkeypatch)
    settings = DPOSettings(beta=1.0, steps=1, batch_size=8, train_dropout=True)
    _, report = dpo(model, chat, PREFS, settings)
    assert abs(report.losses[0] - math.log(2)) > 1e-4
    assert any(seen)
    assert report.val_reward_accuracy_before == 0.0  # evaluated without dropout: all ties


@pytest.mark.parametrize("train_dropout", [False, True])
def test_reward_model_trains_with_dropout_only_when_asked(monkeypatch, chat_model, train_dropout):
    model, chat = chat_model
    seen = active_dropouts(monkeypatch)
    settings = RewardSettings(steps=2, batch_size=4, train_dropout=train_dropout)
    rm, _ = train_reward_model(model, chat, PREFS, settings)
    assert any(seen) == train_dropout
    assert not rm.training  # returned ready to score


def test_dropout_is_off_by_default_in_every_alignment_setting():
    assert not PPOSettings().train_dropout
    assert not DPOSettings().train_dropout
    assert not RewardSettings().train_dropout


def test_evaluating_restores_each_mode(char_tokenizer):
    a, b = tiny_gpt(char_tokenizer.vocab_size).train(), tiny_gpt(char_tokenizer.vocab_size)
    with evaluating(a, b):
        assert not a.training and not b.training
    assert a.training and not b.training

"""Reward model, DPO and PPO on tiny models: shapes, invariances and a few real steps."""

from __future__ import annotations

import math

import pytest
import torch

from attento.align.chat import ChatFormat, add_chat_tokens
from attento.align.data import Preference, load_preferences, pad_rows
from attento.align.dpo import DPOSettings, dpo, encode_preference, sequence_logprobs
from attento.align.ppo import PolicyWithValue, PPOSettings, plot_ppo, ppo, write_ppo_log
from attento.align.reward import (
    RewardModel,
    RewardSettings,
    encode_pair,
    pairwise_accuracy,
    train_reward_model,
)
from attento.align.rollout import answer_mask, sample
from attento.errors import UserError
from attento.models.folder import load_model, save_model

from .conftest import tiny_gpt

PREFS = [
    Preference([{"role": "user", "content": f"{a}+{b}="}], str(a + b), f"{a + b + 1} ok ok")
    for a in range(5)
    for b in range(5)
]


@pytest.fixture
def chat_model(char_tokenizer):
    model, tok, _ = add_chat_tokens(tiny_gpt(char_tokenizer.vocab_size), char_tokenizer)
    return model.eval(), ChatFormat.of(tok)


def test_reward_reads_the_last_real_token_whatever_the_padding(chat_model):
    model, chat = chat_model
    rm = RewardModel.from_lm(model).eval()
    rows = [chat.encode_prompt(p.prompt) + chat.encode_reply(p.chosen) for p in PREFS[:4]]
    rows[1] = rows[1][:-5]
    ids, valid = pad_rows(rows, chat.im_end)
    batched = rm(ids, valid)
    alone = torch.stack([rm(torch.tensor([r]))[0] for r in rows])
    torch.testing.assert_close(batched, alone, rtol=1e-5, atol=1e-5)
    # the body is the language model's transformer: same final hidden state
    hidden = rm.body(ids[:1])
    captured = []
    hook = model.ln_f.register_forward_hook(lambda m, i, o: captured.append(o))
    model(ids[:1])
    hook.remove()
    torch.testing.assert_close(hidden, captured[0])


def test_reward_model_learns_pairs_and_round_trips(tmp_path, chat_model, char_tokenizer):
    model, chat = chat_model
    settings = RewardSettings(steps=25, batch_size=8, learning_rate=3e-3)
    rm, report = train_reward_model(model, chat, PREFS, settings)
    assert report.val_pairs == 2 and report.train_pairs == 23
    assert report.train_accuracy > 0.9  # the rambling wrong answers are easy to tell apart
    assert sum(report.losses[-5:]) < sum(report.losses[:5])
    save_model(rm, chat.tokenizer, tmp_path / "rm")
    loaded, _ = load_model(tmp_path / "rm")
    assert isinstance(loaded, RewardModel)
    pairs = [encode_pair(chat, p, 48) for p in PREFS]
    assert pairwise_accuracy(loaded, pairs, chat.im_end) == pairwise_accuracy(
        rm, pairs, chat.im_end
    )


def test_hh_rlhf_pairs_train_reward_model_and_dpo(data_dir, bpe_tokenizer):
    prefs = load_preferences(data_dir / "hh-rlhf" / "helpful-base" / "test.jsonl.gz")[:24]
    model, tok, _ = add_chat_tokens(
        tiny_gpt(bpe_tokenizer.vocab_size, block_size=64), bpe_tokenizer
    )
    chat = ChatFormat.of(tok)
    _, report = train_reward_model(model, chat, prefs, RewardSettings(steps=2, batch_size=4))
    assert len(report.losses) == 2 and all(math.isfinite(x) for x in report.losses)
    assert 0.0 <= report.val_accuracy <= 1.0 and report.val_pairs == 2
    _, dpo_report = dpo(model, chat, prefs, DPOSettings(steps=2, batch_size=4))
    assert len(dpo_report.losses) == 2 and all(math.isfinite(x) for x in dpo_report.losses)


def test_sequence_logprobs_sum_the_answer_tokens_only(chat_model):
    model, chat = chat_model
    chosen, rejected = encode_preference(chat, PREFS[3], 48)
    got = sequence_logprobs(model, [chosen, rejected], chat.im_end)
    for (ids, n_prompt), value in zip((chosen, rejected), got.tolist(), strict=True):
        logp = torch.log_softmax(model(torch.tensor([ids[:-1]]))[0], -1)
        expected = sum(logp[t - 1, ids[t]].item() for t in range(n_prompt, len(ids)))
        assert value == pytest.approx(expected, abs=1e-4)


def test_dpo_raises_implicit_reward_accuracy(chat_model):
    model, chat = chat_model
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trained, report = dpo(
        model, chat, PREFS * 2, DPOSettings(beta=0.5, steps=25, batch_size=8, learning_rate=3e-3)
    )
    assert report.val_reward_accuracy_before == 0.0  # policy == reference: all ties
    assert report.val_reward_accuracy == 1.0 and report.val_margin > 0
    assert report.losses[0] == pytest.approx(math.log(2), abs=1e-4)  # -log σ(0) at the start
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())  # the reference
    assert any(not torch.equal(p, before[n]) for n, p in trained.named_parameters())


def test_dpo_settings_are_checked(chat_model):
    model, chat = chat_model
    with pytest.raises(UserError, match="beta"):
        dpo(model, chat, PREFS, DPOSettings(beta=0.0))
    with pytest.raises(UserError, match="two"):
        dpo(model, chat, PREFS[:1])


def test_rollout_padding_and_answer_mask(chat_model):
    model, chat = chat_model
    ids, valid = pad_rows([[1, 2, 3], [4]], 0, left=True)
    assert ids.tolist() == [[1, 2, 3], [0, 0, 4]] and valid.sum() == 4
    mask = answer_mask(torch.tensor([[5, 9, 7, 9], [5, 6, 7, 8]]), end_id=9)
    assert mask.tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]]
    r = sample(model, chat, [p.prompt for p in PREFS[:5]], max_new_tokens=6, seed=3)
    assert r.ids.shape[1] <= r.prompt_len + 6 and len(r.texts) == 5
    assert r.valid[:, r.prompt_len :].float().equal(r.mask)
    # the value head reads the same hidden state the logits come from, and starts at zero
    pv = PolicyWithValue.from_policy(model)
    logits, values = pv(r.ids, valid=r.valid, values=True)
    torch.testing.assert_close(logits, model(r.ids, valid=r.valid))
    assert values.shape == r.ids.shape and not values.any()
    assert torch.equal(pv(r.ids, valid=r.valid), logits)  # without `values`, a GPT's forward


def test_ppo_steps_log_reward_kl_entropy(tmp_path, chat_model):
    model, chat = chat_model
    rm = RewardModel.from_lm(model)

    def judge(prompt, answer):
        return float(answer == "x")

    settings = PPOSettings(
        steps=3, batch_size=8, mini_batch_size=4, max_new_tokens=5, learning_rate=1e-3
    )
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    policy, logs = ppo(model, rm, chat, [p.prompt for p in PREFS], settings, judge=judge)
    assert [log.step for log in logs] == [1, 2, 3]
    assert logs[0].kl == pytest.approx(0.0, abs=1e-5)  # the first rollout comes from the reference
    assert logs[-1].kl != 0.0 and all(log.entropy > 0 for log in logs)
    assert all(0.0 <= log.true_reward <= 1.0 for log in logs)
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())  # reference intact
    trained = policy.state_dict()
    assert any(not torch.equal(trained[n], p) for n, p in before.items())
    csv = write_ppo_log(logs, tmp_path / "log.csv").read_text().splitlines()
    assert csv[0].startswith("step,score,true_reward,kl") and len(csv) == 4
    png = plot_ppo(logs, tmp_path / "ppo.png")
    assert png.read_bytes()[:4] == b"\x89PNG"

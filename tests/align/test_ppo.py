"""PPO in the shared training loop: its run folder, the policy-with-value architecture,
LoRA policies, and the batch source's state."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from attento.align.chat import ChatFormat, add_chat_tokens
from attento.align.lora import LoRAGPT
from attento.align.ppo import LoRAPolicyWithValue, PolicyWithValue, PPOSettings, ppo
from attento.align.reward import RewardModel
from attento.generate import generate
from attento.models.folder import load_model
from attento.models.gpt import GPT

from .conftest import tiny_gpt

PROMPTS = [[{"role": "user", "content": f"{a}+{b}="}] for a in range(4) for b in range(4)]


@pytest.fixture
def chat_model(char_tokenizer):
    model, tok, _ = add_chat_tokens(tiny_gpt(char_tokenizer.vocab_size), char_tokenizer)
    return model.eval(), ChatFormat.of(tok)


def test_ppo_writes_a_run_folder_that_reloads_as_a_gpt_with_its_value_head(tmp_path, chat_model):
    model, chat = chat_model
    settings = PPOSettings(
        steps=3, batch_size=4, mini_batch_size=2, ppo_epochs=2, max_new_tokens=4,
        eval_interval=2, learning_rate=1e-3,
    )  # fmt: skip
    _, logs = ppo(model, RewardModel.from_lm(model), chat, PROMPTS, settings, out=tmp_path)
    assert [log.step for log in logs] == [1, 2, 3]
    assert all(log.pg_loss == log.pg_loss for log in logs)  # every step's updates were logged
    config = json.loads((tmp_path / "train_config.json").read_text())
    assert (config["objective"], config["arch"], config["max_steps"]) == ("ppo", "gpt-value", 12)
    assert config["eval_interval"] == 2 * settings.updates  # checkpoints between rollouts
    with (tmp_path / "log.csv").open() as f:
        assert [int(r["step"]) for r in csv.DictReader(f)][-1] == 12  # one row per update
    assert (tmp_path / "loss.png").is_file()

    loaded, tokenizer = load_model(tmp_path)
    assert isinstance(loaded, PolicyWithValue) and isinstance(loaded, GPT)
    assert loaded.value_head.weight.abs().sum() > 0  # the value head trained and was saved
    ids = torch.tensor([chat.encode_prompt(PROMPTS[0])])
    assert generate(loaded, ids, 3, greedy=True).shape == (1, ids.size(1) + 3)  # a GPT to use
    assert tokenizer.vocab_size == chat.tokenizer.vocab_size


def test_ppo_on_a_lora_policy_trains_the_adapters_and_the_value_head_only(chat_model):
    model, chat = chat_model
    lora = LoRAGPT.from_gpt(model, r=2).eval()
    settings = PPOSettings(
        steps=1, batch_size=4, mini_batch_size=4, ppo_epochs=1, max_new_tokens=4,
        learning_rate=1e-2,
    )  # fmt: skip
    trained, _ = ppo(lora, RewardModel.from_lm(model), chat, PROMPTS, settings)
    assert isinstance(trained, LoRAPolicyWithValue) and trained.arch == "gpt-lora-value"
    before, after = lora.state_dict(), trained.state_dict()
    changed = {k for k, v in before.items() if not torch.equal(after[k], v)}
    assert changed and all(".lora_" in k for k in changed)  # the base weights stay frozen
    assert after["value_head.bias"].item() != 0.0


def test_the_rollout_buffer_state_is_the_generators_and_the_log(chat_model):
    """A resumed run rebuilds the source from the settings, then loads its state: the next
    rollout draws the same prompts, order and sampling seed as an uninterrupted run's."""
    from attento.align.ppo import PPOBatches

    model, chat = chat_model
    settings = PPOSettings(batch_size=4, mini_batch_size=2, ppo_epochs=1, max_new_tokens=4)
    rm = RewardModel.from_lm(model).eval()
    policy = PolicyWithValue.from_policy(model)

    def judge(prompt, answer):
        return float(len(answer))

    straight = PPOBatches(model, rm, chat, PROMPTS, settings, judge)
    straight.use_model(policy)
    for _ in range(settings.updates):
        straight.loss(policy, straight.train_batches(2, 1)[0])
    resumed = PPOBatches(model, rm, chat, PROMPTS, settings, judge)
    resumed.load_state_dict(straight.state_dict())
    resumed.use_model(policy)
    assert repr(resumed.logs) == repr(straight.logs)  # nan (no update yet) prints as nan
    a, b = straight.train_batches(2, 1)[0], resumed.train_batches(2, 1)[0]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert repr(straight.logs) == repr(resumed.logs) and len(resumed.logs) == 2
    with pytest.raises(RuntimeError, match="between rollouts"):
        straight.state_dict()  # half-way through a rollout

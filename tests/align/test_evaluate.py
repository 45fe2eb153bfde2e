"""Format accuracy of a chat model on held-out prompts (align/evaluate.py, attento eval)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from attento.align.chat import ChatFormat, add_chat_tokens
from attento.align.evaluate import format_accuracy, held_out_prompts
from attento.align.sft import make_sft_batches
from attento.cli import main
from attento.models.layers import KVCache

from .conftest import tiny_gpt

PROMPTS = [[{"role": "user", "content": f"{a}+{b}="}] for a in range(3) for b in range(3)]


class Scripted(nn.Module):
    """Whatever it is asked, writes `answer` and then the token `end` (or nothing more)."""

    def __init__(self, vocab_size: int, answer: list[int], end: int | None) -> None:
        super().__init__()
        self.config = type("Config", (), {"block_size": 64, "vocab_size": vocab_size})()
        self.answer, self.end, self.written = answer, end, None
        self.anchor = nn.Parameter(torch.zeros(1))  # the loop asks the parameters for a device

    def new_cache(self, batch_size: int) -> KVCache:
        return KVCache(1, batch_size)

    def forward(self, idx, cache=None, valid=None):
        B, T = idx.shape
        if cache is None or cache.length == 0:
            self.written = 0  # a new prompt: start the answer again
        if cache is not None:
            cache.layers[0].update(torch.zeros(B, 1, T, 1), torch.zeros(B, 1, T, 1))
        script = [*self.answer, self.end if self.end is not None else self.answer[-1]]
        token = script[min(self.written, len(script) - 1)]
        self.written += 1
        logits = torch.full((B, T, self.config.vocab_size), -1e4)
        logits[..., token] = 0.0
        return logits


@pytest.fixture
def chat(char_tokenizer) -> ChatFormat:
    _, tokenizer, _ = add_chat_tokens(tiny_gpt(char_tokenizer.vocab_size), char_tokenizer)
    return ChatFormat.of(tokenizer)


@pytest.mark.parametrize(
    "answer, closed, one_line, right",
    [
        ("7", True, False, True),
        ("", True, False, False),  # closed at once: no answer
        ("7 8", False, False, False),  # never closed within the budget
        ("7\n8", True, False, True),
        ("7\n8", True, True, False),  # the demo's tasks want one line
    ],
)
def test_format_accuracy_counts_closed_non_empty_answers(chat, answer, closed, one_line, right):
    ids = chat.encode_text(answer)
    model = Scripted(chat.tokenizer.vocab_size, ids, chat.im_end if closed else None)
    score = format_accuracy(model, chat, PROMPTS, max_new_tokens=8, one_line=one_line)
    assert (score.answers, score.right) == (len(PROMPTS), len(PROMPTS) * right)


def test_held_out_prompts_are_the_conversations_sft_validates_on(chat):
    conversations = [
        [{"role": "user", "content": f"{a}+{b}+{c}="}, {"role": "assistant", "content": "x"}]
        for a in range(3)
        for b in range(3)
        for c in range(3)
    ]
    batches = make_sft_batches(chat, conversations, 48, seed=5)
    prompts = held_out_prompts(chat, conversations, 48, seed=5)
    assert len(prompts) == len(batches.val) == 2  # a tenth of 27
    assert all(m["role"] != "assistant" for p in prompts for m in p)
    asked = {tuple(chat.encode_prompt(p)) for p in prompts}
    assert {tuple(ids[: len(next(iter(asked)))]) for ids, _ in batches.val} == asked
    assert not any(tuple(ids[: len(a)]) == a for ids, _ in batches.train for a in asked)


def test_eval_command_on_a_chat_model_scores_its_held_out_prompts(tmp_path, base_dir, capsys):
    from attento.align.sft import SFTSettings, sft
    from attento.models.folder import load_model

    records = [{"instruction": p[0]["content"], "output": str(i)} for i, p in enumerate(PROMPTS)]
    data = tmp_path / "sft.json"
    data.write_text(json.dumps(records * 3))
    out = tmp_path / "sft"
    sft(base_dir, data, out, SFTSettings(max_steps=2, eval_interval=2, batch_size=4), False)
    assert main(["eval", "--model", str(out), "--max-new-tokens", "6", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    model, tokenizer = load_model(out)
    chat = ChatFormat.of(tokenizer)
    from attento.align.data import load_conversations

    prompts = held_out_prompts(chat, load_conversations(data), model.config.block_size, 1337)
    expected = format_accuracy(model, chat, prompts, max_new_tokens=6)
    assert result["objective"] == "chat" and result["answers"] == len(prompts) >= 2
    assert result["right"] == expected.right

    held = tmp_path / "held.jsonl"
    held.write_text("".join(json.dumps(r) + "\n" for r in records[:4]))
    assert main(["eval", "--model", str(out), "--prompts", str(held), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["answers"] == 4
    assert main(["eval", "--model", str(out), "--max-new-tokens", "48"]) == 2
    assert "the prompt needs room" in capsys.readouterr().err

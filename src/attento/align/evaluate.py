"""Held-out scores of a chat model: does it answer in the format it was taught?

A fine-tuned model has learned the chat template if, asked a held-out prompt, it writes an
answer and closes it with <|im_end|> within the token budget, half the model's context unless
told (the demo's tasks also want one line). The answers are sampled (temperature 1, a fixed
seed per batch of prompts), so the score is deterministic and is what a user of `attento chat`
meets. The held-out prompts are the conversations the SFT run set aside for validation
(sft.py), up to their first answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from attento.align.chat import ChatFormat, Message
from attento.align.rollout import sample
from attento.align.sft import make_sft_batches
from attento.errors import UserError
from attento.train.evaluate import AnswerScore

FORMAT_SEED = 0


def format_accuracy(
    model: nn.Module,
    chat: ChatFormat,
    prompts: Sequence[Sequence[Message]],
    max_new_tokens: int | None = None,
    seed: int = FORMAT_SEED,
    one_line: bool = False,
    batch_size: int = 64,
) -> AnswerScore:
    """Answers that are not empty and close with <|im_end|> (and, with `one_line`, hold no
    line break), out of one sampled answer per prompt; the rest of the context holds the
    prompt's last tokens."""
    block = model.config.block_size
    if max_new_tokens is None:
        max_new_tokens = block // 2
    if not 0 < max_new_tokens < block:
        raise UserError(
            f"max_new_tokens must be between 1 and {block - 1}: the prompt needs room in the "
            f"model's context of {block} tokens"
        )
    right = 0
    for i in range(0, len(prompts), batch_size):
        r = sample(model, chat, prompts[i : i + batch_size], max_new_tokens, 1.0, seed + i)
        closed = (r.responses == chat.im_end).any(dim=1).tolist()
        for text, c in zip(r.texts, closed, strict=True):
            right += bool(c and text.strip() and not (one_line and "\n" in text))
    return AnswerScore("chat", len(prompts), right)


def first_prompt(conversation: Sequence[Message]) -> list[Message]:
    """The messages before the first answer: what the model is asked."""
    answer = next(i for i, m in enumerate(conversation) if m["role"] == "assistant")
    return list(conversation[:answer])


def held_out_prompts(
    chat: ChatFormat, conversations: Sequence[Sequence[Message]], block_size: int, seed: int
) -> list[list[Message]]:
    """The prompts of the conversations an SFT run with this `seed` held out for validation."""
    held = {tuple(ids) for ids, _ in make_sft_batches(chat, conversations, block_size, seed).val}
    return [
        first_prompt(c)
        for c in conversations
        if tuple(chat.encode_example(c)[0][: block_size + 1]) in held
    ]

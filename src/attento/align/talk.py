"""Talking to a chat model: stream one reply, or hold a conversation in the terminal.

A reply is generation (attento.generate) started from the rendered conversation plus the
assistant header, stopped at the first chat marker. The same pieces `attento generate` uses
do the work (the `Decoder` with its KV cache, the sampling `pick`, the UTF-8-safe `StopRule`),
so each piece of text is printed as soon as its token is chosen.

The terminal loop keeps the history, so each answer sees the whole conversation (cropped to
the model's context by the decoder). `/reset` starts over, `/exit` or end of input leaves.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import TextIO

import torch
from torch import nn

from attento.align.chat import ChatFormat, Message
from attento.generate.loop import Decoder, StopRule, check_max_new_tokens
from attento.generate.sampling import SamplingConfig, make_generators, pick

# a chat samples a little cooler than the sampler's own default: fewer odd turns
CHAT_SAMPLING_DEFAULTS = SamplingConfig(temperature=0.8)


MAX_NEW_TOKENS = 200  # the longest answer a chat turn writes


@torch.inference_mode()  # on the generator itself: active while it runs, not while it waits
def stream_reply(
    model: nn.Module,
    chat: ChatFormat,
    messages: Sequence[Message],
    max_new_tokens: int = MAX_NEW_TOKENS,
    sampling: SamplingConfig | None = None,
) -> Iterator[str]:
    """Yield the assistant's answer piece by piece, until a chat marker or the token limit."""
    config = sampling or SamplingConfig()
    ids = torch.tensor([chat.encode_prompt(messages)], dtype=torch.long)
    device = next(model.parameters()).device
    decoder = Decoder(model, ids.to(device), max_new_tokens)
    _, generators = make_generators(config.seed, 1)
    rule = StopRule(chat.tokenizer, eot_id=None)
    stops = {*chat.markers, chat.tokenizer.eot_id}
    was_training = model.training
    if was_training:  # a model already in eval mode is never touched: threads may share it
        model.eval()
    try:
        for step in range(max_new_tokens):
            token = pick(decoder.next_logits(), config, generators)
            t = int(token.item())
            if t in stops or t >= chat.tokenizer.vocab_size:
                break
            decoder.append(token)
            piece = rule.feed(t, last=step == max_new_tokens - 1)
            if piece:
                yield piece
    finally:
        if was_training:
            model.train()


def chat_loop(
    model: nn.Module,
    chat: ChatFormat,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    system: str | None = None,
    max_new_tokens: int = MAX_NEW_TOKENS,
    sampling: SamplingConfig | None = None,
) -> list[Message]:
    """Read a line, stream the answer, repeat; returns the conversation."""
    check_max_new_tokens(max_new_tokens)  # now, not after the user has typed a question
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    start: list[Message] = [{"role": "system", "content": system}] if system else []
    history = list(start)
    while True:
        stdout.write("> ")
        stdout.flush()
        line = stdin.readline()
        if not line or line.strip() == "/exit":
            stdout.write("\n")
            return history
        text = line.rstrip("\n")
        if text.strip() == "/reset":
            history = list(start)
            stdout.write("(conversation cleared)\n")
            continue
        if not text.strip():
            continue
        history.append({"role": "user", "content": text})
        pieces = []
        for piece in stream_reply(model, chat, history, max_new_tokens, sampling):
            pieces.append(piece)
            stdout.write(piece)
            stdout.flush()
        stdout.write("\n")
        history.append({"role": "assistant", "content": "".join(pieces)})

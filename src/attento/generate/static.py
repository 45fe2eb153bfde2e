"""A decode step of fixed shape: a preallocated KV cache and, optionally, a compiled step.

At batch 1 a small model spends most of each token on overhead, not arithmetic: Python and
the dispatch of some hundred small tensor operations. The usual KV cache (models/layers.py)
grows with the text, so every step has new shapes. Here the cache is a fixed buffer of
block_size + 1 slots per layer and each step feeds one token with the same shapes, which is
what lets `torch.compile` turn the whole step into one graph (few fused kernels, no Python
between them) compiled once for the whole run.

The step calls the model's own modules (embeddings, blocks, final norm, output layer), so the
model a student reads is the model that runs. Layout of a layer's buffer: slot p holds the
token at position p; the last slot holds the token being fed. The attention mask shows the
slots before the current position, and the attention layer always lets a token see the last
key, itself, so each query sees exactly the tokens it would see with the growing cache.

The fixed buffer holds one window: this path needs prompt + new tokens - 1 <= block_size,
no sliding window shorter than the buffer (the layer places its window from the buffer's end,
where the token being fed sits, not from that token's position) and no padding; `fits` says
when it applies, `misfit` why not.

`Timing` tells the compile time from the speed: the first token comes from the prompt's
forward pass, the second from the first decode step, which compiles; the later steps are the
speed the compiled step runs at.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

import torch

from attento.models.gpt import GPT

T = TypeVar("T")


def misfit(model: torch.nn.Module, prompt_length: int, max_new_tokens: int) -> str | None:
    """Why the fixed-shape path cannot run: "model" (not a GPT), "window" (a sliding window
    the buffer outgrows), "long" (the run leaves one window); None when it can."""
    if not isinstance(model, GPT):
        return "model"
    c = model.config
    if c.sliding_window is not None and c.sliding_window <= c.block_size:
        return "window"
    if prompt_length + max_new_tokens - 1 > c.block_size:
        return "long"
    return None


def fits(model: torch.nn.Module, prompt_length: int, max_new_tokens: int) -> bool:
    """Whether a GPT's whole run stays inside one window (every position fed < block_size)."""
    return misfit(model, prompt_length, max_new_tokens) is None


class StaticLayerCache:
    """One layer's keys and values in fixed buffers (B, H_kv, block_size + 1, Dh).

    `update` writes the new token at its position and in the last slot and returns the whole
    buffers; the mask built by `StaticDecoder` hides what the token must not see."""

    def __init__(self, k: torch.Tensor, v: torch.Tensor, pos: torch.Tensor) -> None:
        self.k, self.v, self.pos = k, v, pos

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        slot = self.pos.view(1)
        self.k.index_copy_(2, slot, k)
        self.v.index_copy_(2, slot, v)
        self.k[:, :, -1:] = k
        self.v[:, :, -1:] = v
        return self.k, self.v


def _step(model: GPT, caches: list[StaticLayerCache], token: torch.Tensor) -> torch.Tensor:
    """One token per row (B, 1) at position caches[0].pos -> logits (B, V)."""
    pos = caches[0].pos.view(1, 1)
    slots = torch.arange(caches[0].k.size(2), device=token.device)
    mask = (slots < pos)[None, None]  # past positions; the layer adds the last slot (itself)
    x = model.embed(token, pos)
    rope = model.rope(pos) if model.rope is not None else None
    for i, block in enumerate(model.blocks):
        x = block(x, mask=mask, rope=rope, cache=caches[i])  # type: ignore[arg-type]
    return model.lm_head(model.ln_f(x))[:, -1]


class StaticDecoder:
    """The `Decoder` interface (next_logits, append, sequence) on a fixed-shape cache.

    The prompt is read once by the model's ordinary forward pass (its growing cache), then
    copied into the fixed buffers; each later step feeds one token. `compile=True` runs the
    step through `torch.compile`; the first step then pays the compile time.
    """

    def __init__(self, model: GPT, idx: torch.Tensor, capacity: int, compile: bool = False) -> None:
        B, T = idx.shape
        c = model.config
        weight = model.lm_head.weight
        self.model = model
        self.ids = torch.empty(B, T + capacity, dtype=torch.long, device=idx.device)
        self.ids[:, :T] = idx
        self.length = T
        prefill = model.new_cache(B)
        self.pending: torch.Tensor | None = model(idx, cache=prefill)[:, -1]
        self.pos = torch.tensor(T, device=idx.device)
        self.token = torch.empty(B, 1, dtype=torch.long, device=idx.device)
        shape = (B, c.kv_heads, c.block_size + 1, c.head_dim)
        self.caches = []
        for layer in prefill.layers:
            k, v = (weight.new_zeros(shape) for _ in range(2))
            k[:, :, :T], v[:, :, :T] = layer.k, layer.v
            self.caches.append(StaticLayerCache(k, v, self.pos))
        self.step = _step
        if compile:  # freezing: the weights become constants, which lets Inductor pre-pack them
            options = {"freezing": True}
            self.step = torch.compile(_step, dynamic=False, fullgraph=True, options=options)

    def next_logits(self) -> torch.Tensor:
        if self.pending is not None:
            logits, self.pending = self.pending, None
            return logits
        self.pos.fill_(self.length - 1)
        self.token.copy_(self.ids[:, self.length - 1 : self.length])
        return self.step(self.model, self.caches, self.token)

    def append(self, tokens: torch.Tensor) -> None:
        self.ids[:, self.length] = tokens
        self.length += 1

    @property
    def sequence(self) -> torch.Tensor:
        return self.ids[:, : self.length]


class Timing:
    """When each token of a run arrived, read as compile time and speed.

    `watch(tokens)` passes the tokens through and stamps each one. The second token waits for
    the first decode step, compile included, so compile time = that wait less a usual step;
    the speed is that of the steps after it."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def watch(self, tokens: Iterable[T]) -> Iterator[T]:
        self.times = [time.perf_counter()]
        for token in tokens:
            self.times.append(time.perf_counter())
            yield token

    @property
    def tokens(self) -> int:
        return max(0, len(self.times) - 1)

    def _steps(self) -> list[float]:
        """Seconds of each decode step after the first (the third token on)."""
        return [b - a for a, b in zip(self.times[2:], self.times[3:], strict=False)]

    @property
    def compile_seconds(self) -> float | None:
        """The first decode step less the median later one (None before the second token)."""
        if len(self.times) < 3:
            return None
        steps = sorted(self._steps())
        usual = steps[len(steps) // 2] if steps else 0.0
        return max(0.0, self.times[2] - self.times[1] - usual)

    @property
    def tokens_per_second(self) -> float | None:
        """Tokens per second of the decode steps after the compiling one."""
        steps = self._steps()
        return len(steps) / sum(steps) if steps and sum(steps) > 0 else None

"""A causal convolutional language model: stacked dilated 1-D convolutions (WaveNet-style).

A 1-D convolution slides a small filter along the sequence: the output at t mixes the
vectors of `kernel_size` neighbouring positions with learned weights, the same weights at
every position. Two changes make it a language model:

- *causal*: the filter only looks back (the input is padded on the left), so the output at
  t never sees tokens after t and can be trained to predict token t + 1;
- *dilated*: layer i skips `kernel_size**i - 1` positions between the taps it reads
  (dilation 1, k, k², ...), so the span each output sees grows exponentially with depth
  while the number of weights grows only linearly.

The receptive field (the tokens an output can depend on, the current one included) is
1 + (kernel_size - 1) · Σ dilation_i = kernel_size ** n_layer. Anything further back is
invisible, as with the MLP's fixed window (mlp_lm.py), but the window is now large and cheap,
and every position is computed at once (parallel, unlike an RNN). The course's point: a
CNN's context is still a fixed window set by the architecture, whereas attention relates any
two tokens of the context in one step.

Each layer is a pre-norm residual block: x + W_out · gelu(conv(norm(x))).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from attento.errors import UserError
from attento.models.mlp_lm import LMConfig, WindowCache


@dataclass
class ConvConfig(LMConfig):
    """Shape of a causal dilated CNN LM; saved as the "model" entry of config.json."""

    vocab_size: int
    block_size: int = 128  # length of the training windows
    n_layer: int = 6
    n_embd: int = 64  # channels of every layer
    kernel_size: int = 2
    dropout: float = 0.0
    POSITIVE: ClassVar[tuple[str, ...]] = ("n_layer", "n_embd", "kernel_size")

    def check(self) -> None:
        super().check()
        if self.kernel_size < 2:
            raise UserError("kernel_size must be at least 2: a 1-wide filter never looks back")

    @property
    def dilations(self) -> list[int]:
        return [self.kernel_size**i for i in range(self.n_layer)]


class CausalConvBlock(nn.Module):
    """x + W_out · gelu(conv_d(norm(x))), the convolution reading t, t-d, ..., t-(k-1)·d."""

    def __init__(self, n_embd: int, kernel_size: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(n_embd)
        self.conv = nn.Conv1d(n_embd, n_embd, kernel_size, dilation=dilation)
        self.proj = nn.Linear(n_embd, n_embd)
        self.drop = nn.Dropout(dropout)
        self.left = (kernel_size - 1) * dilation  # zeros padded before the text: causality

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        h = self.norm(x)
        if valid is not None:  # left padding must look like the zeros before the text
            h = h * valid.to(h.dtype)[..., None]
        h = F.pad(h.transpose(1, 2), (self.left, 0))  # (B, C, left + T)
        h = F.gelu(self.conv(h)).transpose(1, 2)  # (B, T, C)
        return x + self.drop(self.proj(h))


class ConvLM(nn.Module):
    """token embedding -> n_layer causal dilated conv blocks -> norm -> logits."""

    arch = "cnn"
    config_class = ConvConfig

    def __init__(self, config: ConvConfig) -> None:
        super().__init__()
        self.config = c = config
        self.embed = nn.Embedding(c.vocab_size, c.n_embd)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(
            CausalConvBlock(c.n_embd, c.kernel_size, d, c.dropout) for d in c.dilations
        )
        self.ln_f = nn.LayerNorm(c.n_embd)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size)

    @property
    def receptive_field(self) -> int:
        """How many tokens (the current one included) an output can depend on."""
        c = self.config
        return 1 + (c.kernel_size - 1) * sum(c.dilations)

    def new_cache(self, batch_size: int) -> WindowCache:
        """An empty cache for `batch_size` rows: it keeps the last receptive_field - 1 tokens."""
        return WindowCache(batch_size, self.receptive_field - 1)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        cache: WindowCache | None = None,
        valid: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """idx (B, T) -> logits (B, T, V); with targets (B, T) -> (logits, mean cross-entropy).

        With `cache`, idx continues the tokens already seen; `valid` marks the real tokens of
        left-padded rows.
        """
        if idx.dim() != 2:
            raise UserError(f"expected token ids of shape (batch, time), got {tuple(idx.shape)}")
        T = idx.size(1)
        if cache is not None:
            idx, valid = cache.window(idx, valid)
        x = self.drop(self.embed(idx))
        for block in self.blocks:
            x = block(x, valid)
        logits = self.lm_head(self.ln_f(x[:, -T:]))
        if targets is None:
            return logits
        loss = F.cross_entropy(
            logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=-100
        )
        return logits, loss

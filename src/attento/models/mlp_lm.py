"""A fixed-window MLP language model (Bengio et al., 2003): the first neural LM.

To predict the token after position t, look up the vectors of the last `context` tokens
(t - context + 1 .. t), lay them side by side in one long vector, pass it through a hidden
layer (tanh) and score every vocabulary token with a final linear map. Before the start of
the text the window holds zero vectors.

The window is the model's whole memory: a token `context` positions back or further cannot
influence the prediction, however important it is (`receptive_field` = `context`). Widening
the window multiplies the hidden layer's weights, and each slot of the window has its own
weights, so the model cannot reuse what it learned about a word at one distance at another.
Recurrent networks (recurrent.py) and convolutions (conv.py) were the next attempts; the
transformer (gpt.py) reads the whole context with weights shared across positions.

This file also holds the two small pieces every attention-free LM of attento shares:
`LMConfig` (JSON round trip and validation of a model config, as `GPTConfig` does) and
`WindowCache`, the generation cache of models that only ever look a fixed number of tokens
back (this MLP and the causal CNN).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from attento.errors import UserError
from attento.models.config import ModelConfig


@dataclass
class LMConfig(ModelConfig):
    """Base of the attention-free model configs: `to_dict`/`from_dict` and checks."""

    POSITIVE: ClassVar[tuple[str, ...]] = ()  # integer settings that must be >= 1

    def check(self) -> None:
        for name in ("vocab_size", "block_size", *self.POSITIVE):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise UserError(f"model setting {name} must be a positive integer, got {value!r}")
        dropout = getattr(self, "dropout", 0.0)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
            raise UserError(f"dropout must be a number in [0, 1), got {dropout!r}")
        if not 0 <= dropout < 1:
            raise UserError(f"dropout must be in [0, 1), got {dropout!r}")


class WindowCache:
    """Generation cache of a model whose output at t reads only tokens t - keep .. t.

    Such a model needs nothing older than the last `keep` tokens, so the cache is just those
    ids: each call runs the model on them plus the new tokens and keeps the new last `keep`.
    Same protocol as GPT's KV cache: `length` counts every token seen, `batch_size` the rows.
    """

    def __init__(self, batch_size: int, keep: int) -> None:
        self.batch_size, self.keep, self.length = batch_size, keep, 0
        self.ids: torch.Tensor | None = None
        self.valid: torch.Tensor | None = None  # (B, kept) bool, None = all real

    def window(
        self, idx: torch.Tensor, valid: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The cached ids followed by `idx` (and their validity), remembering the newest.

        `valid` is (B, length + T) like GPT's: it marks every token seen so far plus the new.
        """
        B, T = idx.shape
        if self.batch_size != B:
            raise UserError(f"the cache holds {self.batch_size} rows but the input has {B}")
        if valid is not None and tuple(valid.shape) != (B, self.length + T):
            raise UserError(
                f"valid must have shape (batch, cached + new tokens) = {(B, self.length + T)}, "
                f"got {tuple(valid.shape)}"
            )
        ids = idx if self.ids is None else torch.cat((self.ids, idx), dim=1)
        if valid is not None:
            valid = valid[:, valid.size(1) - ids.size(1) :].to(device=idx.device, dtype=torch.bool)
        elif self.valid is not None:
            valid = torch.cat((self.valid, self.valid.new_ones(B, T)), dim=1)
        start = max(0, ids.size(1) - self.keep)
        self.ids = ids[:, start:]
        self.valid = None if valid is None else valid[:, start:]
        self.length += T
        return ids, valid


@dataclass
class MLPConfig(LMConfig):
    """Shape of a fixed-window MLP LM; saved as the "model" entry of config.json."""

    vocab_size: int
    block_size: int = 128  # length of the training windows (the model itself reads `context`)
    context: int = 8  # tokens the model sees: the current one and context - 1 before it
    n_embd: int = 32
    n_hidden: int = 256
    dropout: float = 0.0
    POSITIVE: ClassVar[tuple[str, ...]] = ("context", "n_embd", "n_hidden")


class MLPLM(nn.Module):
    """embed the last `context` tokens -> concatenate -> tanh(hidden) -> logits."""

    arch = "mlp"
    config_class = MLPConfig

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        self.config = c = config
        self.embed = nn.Embedding(c.vocab_size, c.n_embd)
        self.hidden = nn.Linear(c.context * c.n_embd, c.n_hidden)
        self.drop = nn.Dropout(c.dropout)
        self.lm_head = nn.Linear(c.n_hidden, c.vocab_size)

    @property
    def receptive_field(self) -> int:
        """How many tokens (the current one included) an output can depend on."""
        return self.config.context

    def new_cache(self, batch_size: int) -> WindowCache:
        """An empty cache for `batch_size` rows: it keeps the last context - 1 tokens."""
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

        With `cache`, idx continues the tokens already seen. `valid` marks the real tokens of
        left-padded rows: padding reads as the zero vectors before the start of the text.
        """
        if idx.dim() != 2:
            raise UserError(f"expected token ids of shape (batch, time), got {tuple(idx.shape)}")
        T = idx.size(1)
        if cache is not None:
            idx, valid = cache.window(idx, valid)
        logits = self.logits(idx, valid)[:, -T:]
        if targets is None:
            return logits
        loss = F.cross_entropy(
            logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=-100
        )
        return logits, loss

    def logits(self, idx: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        n = self.config.context
        x = self.embed(idx)  # (B, T, E)
        if valid is not None:
            x = x * valid.to(x.dtype)[..., None]
        x = F.pad(x, (0, 0, n - 1, 0))  # zero vectors before the text
        B, T = idx.shape
        # windows[b, t] = the vectors of tokens t-n+1 .. t, oldest first, side by side
        windows = x.unfold(1, n, 1).transpose(2, 3).reshape(B, T, n * self.config.n_embd)
        h = torch.tanh(self.hidden(windows))
        return self.lm_head(self.drop(h))

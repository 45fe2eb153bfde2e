"""The encoder–decoder transformer of "Attention Is All You Need" (Vaswani et al., 2017).

Built for transduction: read one sequence, write another (translation, "347" ->
"trecentoquarantasette"). Two stacks of the shared layers:

- the *encoder* reads the whole source at once, with bidirectional self-attention (as BERT
  does), and hands every source position's vector to the decoder: the "memory";
- the *decoder* writes the target one token at a time (as GPT does). Each decoder block has
  three sub-layers: masked (causal) self-attention over the target written so far,
  *cross-attention*, where the target's queries look at the memory's keys and values (this
  is where the source enters), and the feed-forward network.

Positions are the paper's fixed sines and cosines, and every sub-layer is wrapped as
norm(x + sublayer(x)) (post-norm; `norm_first=True` gives the pre-norm variant that later
models use). Source and target share one vocabulary and one embedding table, as in the paper.
The paper also multiplies the embeddings by √d and ties them to the output layer; we start the
table at unit scale instead (the same input scale, next to the unit-scale sinusoids) and keep
the output layer separate.

Training is teacher forcing: the decoder gets the true target shifted right (BOS first) and
must predict each next token; cross-entropy ignores padding (-100). `generate` decodes
greedily: start from BOS, append the most probable token, stop at EOS.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from attento.errors import UserError
from attento.models import trace
from attento.models.config import ModelConfig
from attento.models.layers import (
    ACTIVATIONS,
    Block,
    Embeddings,
    FeedForward,
    MultiHeadAttention,
    Norm,
)
from attento.models.trace import Traced, name_modules


@dataclass
class Seq2SeqConfig(ModelConfig):
    """The shape of an encoder–decoder; saved as the "model" entry of config.json."""

    vocab_size: int  # shared by source and target
    block_size: int  # longest source, and longest target (BOS included)
    n_layer: int  # encoder blocks, and as many decoder blocks
    n_head: int
    n_embd: int
    ffn_hidden: int | None = None  # None -> 4 * n_embd
    dropout: float = 0.0
    activation: str = "relu"  # the paper's
    norm_first: bool = False  # False: post-norm, as in the paper
    norm_eps: float = 1e-5
    pad_id: int = 0
    bos_id: int = 1
    eos_id: int = 2

    def check(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise UserError(f"model setting {name} must be a positive integer, got {value!r}")
        if self.activation not in ACTIVATIONS or self.activation == "swiglu":
            raise UserError(
                f"unknown activation {self.activation!r} (choose gelu, gelu_tanh, relu)"
            )
        if self.n_embd % self.n_head:
            raise UserError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.n_embd % 2:
            raise UserError("sinusoidal positions need an even n_embd")
        if not 0 <= self.dropout < 1:
            raise UserError(f"dropout must be in [0, 1), got {self.dropout!r}")
        for name in ("pad_id", "bos_id", "eos_id"):
            if not 0 <= getattr(self, name) < self.vocab_size:
                raise UserError(f"{name} must be a token id below vocab_size")

    @property
    def ffn_dim(self) -> int:
        return 4 * self.n_embd if self.ffn_hidden is None else self.ffn_hidden


class DecoderBlock(Traced):
    """Masked self-attention, cross-attention to the encoder's memory, feed-forward; each
    sub-layer inside a residual connection with its norm (after it, or before with
    norm_first)."""

    def __init__(self, c: Seq2SeqConfig) -> None:
        super().__init__()
        self.norm_first = c.norm_first
        self.ln1 = Norm("layernorm", c.n_embd, c.norm_eps)
        self.attn = MultiHeadAttention(c.n_embd, c.n_head, causal=True, dropout=c.dropout)
        self.ln2 = Norm("layernorm", c.n_embd, c.norm_eps)
        self.cross = MultiHeadAttention(
            c.n_embd, c.n_head, causal=False, cross=True, dropout=c.dropout
        )
        self.ln3 = Norm("layernorm", c.n_embd, c.norm_eps)
        self.mlp = FeedForward(c.n_embd, c.ffn_dim, c.activation, dropout=c.dropout)

    def forward(
        self, x: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor
    ) -> torch.Tensor:
        x = self._residual(x, self.ln1, lambda h: self.attn(h))
        x = self._residual(x, self.ln2, lambda h: self.cross(h, memory, mask=memory_mask))
        x = self._residual(x, self.ln3, self.mlp)
        if trace.active() is not None:
            self.record("out", x)
        return x

    def _residual(self, x: torch.Tensor, norm: Norm, sublayer) -> torch.Tensor:
        return x + sublayer(norm(x)) if self.norm_first else norm(x + sublayer(x))


class Seq2Seq(Traced):
    """Encoder–decoder transformer: `model(src, tgt_in, targets)` -> (logits, loss)."""

    arch = "seq2seq"
    config_class = Seq2SeqConfig

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.config = c = config
        self.embed = Embeddings(c.vocab_size, c.n_embd, c.block_size, "sinusoidal", c.dropout)
        self.encoder = nn.ModuleList(
            Block(
                c.n_embd,
                c.n_head,
                c.ffn_dim,
                activation=c.activation,
                norm_eps=c.norm_eps,
                dropout=c.dropout,
                causal=False,
                norm_first=c.norm_first,
            )
            for _ in range(c.n_layer)
        )
        self.decoder = nn.ModuleList(DecoderBlock(c) for _ in range(c.n_layer))
        # pre-norm stacks end with a norm; post-norm ones are normalised already
        self.enc_ln = Norm("layernorm", c.n_embd, c.norm_eps) if c.norm_first else nn.Identity()
        self.dec_ln = Norm("layernorm", c.n_embd, c.norm_eps) if c.norm_first else nn.Identity()
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)  # the paper's implementation (tensor2tensor)
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.embed.tok.weight)  # unit scale, like the sinusoids beside it
        name_modules(self)

    def _positions(self, idx: torch.Tensor, what: str) -> torch.Tensor:
        if idx.dim() != 2:
            raise UserError(f"expected {what} ids of shape (batch, time), got {tuple(idx.shape)}")
        if idx.size(1) > self.config.block_size:
            raise UserError(
                f"the {what} has {idx.size(1)} tokens, more than this model's "
                f"{self.config.block_size}"
            )
        return torch.arange(idx.size(1), device=idx.device)[None]

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Source ids (B, S) -> memory (B, S, C) and the mask of real source tokens
        (B, 1, 1, S), which hides padding from encoder and cross-attention alike."""
        mask = (src != self.config.pad_id)[:, None, None, :]
        x = self.embed(src, self._positions(src, "source"))
        for block in self.encoder:
            x = block(x, mask=mask)
        return self.enc_ln(x), mask

    def decode(self, tgt: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Target ids so far (B, T) -> next-token logits (B, T, V)."""
        x = self.embed(tgt, self._positions(tgt, "target"))
        for block in self.decoder:
            x = block(x, memory, mask)
        logits = self.lm_head(self.dec_ln(x))
        if trace.active() is not None:
            self.record("logits", logits)
        return logits

    def forward(
        self, src: torch.Tensor, tgt: torch.Tensor, targets: torch.Tensor | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing: `tgt` is the target shifted right (BOS first); with `targets`
        (the target itself, -100 at padding) also the mean cross-entropy."""
        logits = self.decode(tgt, *self.encode(src))
        if targets is None:
            return logits
        loss = F.cross_entropy(
            logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=-100
        )
        return logits, loss

    @torch.no_grad()
    def generate(self, src: torch.Tensor, max_new_tokens: int | None = None) -> list[list[int]]:
        """Greedy decoding of each source row; returns the target ids, EOS not included."""
        c = self.config
        steps = c.block_size - 1 if max_new_tokens is None else max_new_tokens
        if not 0 < steps < c.block_size:
            raise UserError(f"max_new_tokens must be between 1 and {c.block_size - 1}")
        memory, mask = self.encode(src)
        out = torch.full((src.size(0), 1), c.bos_id, dtype=torch.long, device=src.device)
        done = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
        for _ in range(steps):
            nxt = self.decode(out, memory, mask)[:, -1].argmax(-1)
            nxt = nxt.masked_fill(done, c.pad_id)
            out = torch.cat((out, nxt[:, None]), dim=1)
            done |= nxt == c.eos_id
            if done.all():
                break
        rows = []
        for row in out[:, 1:].tolist():
            rows.append(row[: row.index(c.eos_id)] if c.eos_id in row else row)
        return rows

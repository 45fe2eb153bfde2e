"""BERT: an encoder-only transformer that reads a whole text at once (Devlin et al., 2018).

Where GPT hides the future with a causal mask, BERT lets every token look at every other
token, left and right: it is built to *understand* a text, not to continue it. The path:

    token ids -> token vector + learned position vector + segment vector ("token type":
    0 for the first sentence, 1 for the second) -> LayerNorm -> n_layer blocks with
    bidirectional self-attention -> one contextual vector per token

The blocks are the shared ones of `layers.py` in their post-norm form, as BERT has them:
x = norm(x + attn(x)), then x = norm(x + mlp(x)). A padding mask (`attention_mask`) hides the
filler tokens of a batch so that each text is read as if alone.

Masked language modelling (MLM) pre-trains it: some tokens are replaced by [MASK] (see
`attento.data.masking`) and the model must guess them from both sides. The MLM head turns
each vector back into vocabulary scores: dense -> gelu -> LayerNorm -> the word-embedding
matrix again (tied, as in GPT) plus a bias. `attento.generate.fill_mask` shows its guesses.

Sentence embeddings (sentence-transformers, e.g. all-MiniLM-L6-v2, a 6-layer BERT) average
the token vectors of the real tokens (`mean_pool`) and scale the result to length 1: texts
with similar meaning then have a high cosine similarity (see `attento.embeddings`).

`Bert.from_hf(dir)` reads a Hugging Face BERT folder (config.json + model.safetensors) and
`export_hf(dir)` writes one that `transformers` loads (BertForMaskedLM, or BertModel for an
encoder without the MLM head). The pooler (a dense + tanh on [CLS] used for next-sentence
prediction) is not part of this model: a BertModel loaded from an export initialises it anew.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from attento.errors import UserError
from attento.models import trace
from attento.models.config import ModelConfig
from attento.models.layers import ACTIVATIONS, Block, Embeddings, Norm
from attento.models.trace import Traced, name_modules


@dataclass
class BertConfig(ModelConfig):
    """The shape of a BERT; saved as the "model" entry of config.json."""

    vocab_size: int
    block_size: int  # longest input, in tokens (BERT: max_position_embeddings)
    n_layer: int
    n_head: int
    n_embd: int
    ffn_hidden: int | None = None  # None -> 4 * n_embd
    type_vocab_size: int = 2  # segments: sentence A and sentence B
    dropout: float = 0.0
    activation: str = "gelu"
    norm_eps: float = 1e-12
    mlm_head: bool = True  # False for encoders shipped without it (sentence-transformers)

    def check(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd", "type_vocab_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise UserError(f"model setting {name} must be a positive integer, got {value!r}")
        if self.ffn_hidden is not None and (
            not isinstance(self.ffn_hidden, int) or self.ffn_hidden <= 0
        ):
            raise UserError(f"ffn_hidden must be a positive integer, got {self.ffn_hidden!r}")
        if self.activation not in ACTIVATIONS or self.activation == "swiglu":
            raise UserError(
                f"unknown activation {self.activation!r} (choose gelu, gelu_tanh, relu)"
            )
        if not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise UserError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not isinstance(self.norm_eps, (int, float)) or self.norm_eps <= 0:
            raise UserError(f"norm_eps must be a positive number, got {self.norm_eps!r}")
        if not isinstance(self.mlm_head, bool):
            raise UserError("model setting mlm_head must be true or false")
        if self.n_embd % self.n_head:
            raise UserError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")

    @property
    def ffn_dim(self) -> int:
        return 4 * self.n_embd if self.ffn_hidden is None else self.ffn_hidden


class MLMHead(Traced):
    """Token vectors -> vocabulary scores: dense, activation, LayerNorm, tied decoder + bias."""

    def __init__(self, c: BertConfig, word_embeddings: nn.Parameter) -> None:
        super().__init__()
        self.dense = nn.Linear(c.n_embd, c.n_embd)
        self.act = ACTIVATIONS[c.activation]
        self.ln = Norm("layernorm", c.n_embd, c.norm_eps)
        self.decoder = nn.Linear(c.n_embd, c.vocab_size)
        self.decoder.weight = word_embeddings

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.dense(x))
        if trace.active() is not None:
            self.record("act", h)
        return self.decoder(self.ln(h))


class Bert(Traced):
    """Encoder-only transformer with an optional MLM head."""

    arch = "bert"
    config_class = BertConfig

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = c = config
        self.embed = Embeddings(c.vocab_size, c.n_embd, c.block_size, "learned", 0.0)
        self.segment = nn.Embedding(c.type_vocab_size, c.n_embd)
        self.embed_ln = Norm("layernorm", c.n_embd, c.norm_eps)
        self.embed_dropout = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(
            Block(
                c.n_embd,
                c.n_head,
                c.ffn_dim,
                activation=c.activation,
                norm_eps=c.norm_eps,
                dropout=c.dropout,
                causal=False,
                norm_first=False,
            )
            for _ in range(c.n_layer)
        )
        self.mlm = MLMHead(c, self.embed.tok.weight) if c.mlm_head else None
        self.apply(self._init_weights)
        name_modules(self)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        """BERT's initialisation: N(0, 0.02) matrices and tables, zero biases."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def encode(
        self,
        idx: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Token ids (B, T) -> contextual vectors (B, T, C), the encoder's output.

        `attention_mask` (B, T) is 1 for real tokens, 0 for padding: no token attends to
        padding, so a padded row gives the same vectors as the row alone (at real tokens).
        """
        if idx.dim() != 2:
            raise UserError(f"expected token ids of shape (batch, time), got {tuple(idx.shape)}")
        T = idx.size(1)
        if self.config.block_size < T:
            raise UserError(
                f"{T} tokens exceed this model's {self.config.block_size} positions; "
                "shorten the input"
            )
        pos = torch.arange(T, device=idx.device)[None]
        x = self.embed(idx, pos)
        types = torch.zeros_like(idx) if token_type_ids is None else token_type_ids
        seg = self.segment(types)
        if trace.active() is not None:
            self.record("embed.segment", seg)
        x = self.embed_dropout(self.embed_ln(x + seg))
        mask = None
        if attention_mask is not None:
            mask = attention_mask.to(device=idx.device, dtype=torch.bool)[:, None, None, :]
        for block in self.blocks:
            x = block(x, mask=mask)
        return x

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        token_type_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """idx (B, T) -> MLM logits (B, T, V); with targets -> (logits, loss).

        `targets` holds the original id at the masked positions and -100 elsewhere, so the
        cross-entropy counts only the positions the model had to guess.
        """
        if self.mlm is None:
            raise UserError(
                "this BERT has no MLM head (its checkpoint came without one): it gives "
                "token vectors (encode) and sentence embeddings, not word predictions"
            )
        logits = self.mlm(self.encode(idx, token_type_ids, attention_mask))
        if trace.active() is not None:
            self.record("logits", logits)
        if targets is None:
            return logits
        loss = F.cross_entropy(
            logits.view(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=-100
        )
        return logits, loss

    # --- Hugging Face BERT -------------------------------------------------------------------

    @classmethod
    def from_hf(
        cls, directory: str | Path, dropout: float = 0.0, dtype: torch.dtype = torch.float32
    ) -> Bert:
        """A Hugging Face BERT folder (BertModel or BertForMaskedLM weights); see models/hf.py."""
        from attento.models import hf

        kind = hf.model_type(directory)
        if kind != "bert":
            raise UserError(
                f"{Path(directory) / 'config.json'} describes a {kind!r} model, not bert"
            )
        model = hf.from_hf(directory, dropout=dropout, dtype=dtype)
        assert isinstance(model, Bert)
        return model

    def export_hf(self, directory: str | Path) -> Path:
        """Write a folder that transformers loads as BertForMaskedLM (BertModel without the MLM
        head); see models/hf.py."""
        from attento.models import hf

        return hf.export_hf(self, directory)


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The average of the real tokens' vectors (B, T, C) -> (B, C); padding does not count."""
    weights = attention_mask.to(hidden.dtype)[..., None]
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)

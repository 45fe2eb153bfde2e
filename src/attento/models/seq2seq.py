"""The encoder–decoder transformer of "Attention Is All You Need" (Vaswani et al., 2017).

Built for transduction: read one sequence, write another (translation, "347" ->
"trecentoquarantasette"). Two stacks of the shared layers:

- the *encoder* reads the whole source at once, with bidirectional self-attention (as BERT
  does), and hands every source position's vector to the decoder: the "memory";
- the *decoder* writes the target one token at a time (as GPT does). Each decoder block has
  three sub-layers: masked (causal) self-attention over the target written so far,
  *cross-attention*, where the target's queries look at the memory's keys and values (this
  is where the source enters), and the feed-forward network.

Both stacks are the shared `Block` of layers.py (the decoder's with `cross=True`). Positions
are the paper's fixed sines and cosines, and every sub-layer is wrapped as
norm(x + sublayer(x)) (post-norm; `norm_first=True` gives the pre-norm variant that later
models use); the norm is the paper's LayerNorm unless `norm` says "rmsnorm". Source and
target share one vocabulary and one embedding table, as in the paper. The paper also
multiplies the embeddings by √d and ties them to the output layer; we start the table at unit
scale instead (the same input scale, next to the unit-scale sinusoids) and keep the output
layer separate.

Training is teacher forcing: the decoder gets the true target shifted right (BOS first) and
must predict each next token; cross-entropy ignores padding (-100). Writing is the generation
loop of `attento.generate` (generate/seq2seq.py): `conditioned(src)` reads the source once and
gives a decoder that the loop drives like a GPT, with a KV cache (`new_cache`) for the
decoder's self-attention and the source's keys/values cached once for cross-attention.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from attento.errors import UserError
from attento.models import trace
from attento.models.config import ModelConfig
from attento.models.layers import ACTIVATIONS, NORMS, Block, Embeddings, KVCache, LayerCache, Norm
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
    norm: str = "layernorm"  # the paper's; or "rmsnorm"
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
        if self.norm not in NORMS:
            raise UserError(f"unknown norm {self.norm!r} (choose {', '.join(NORMS)})")
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


class Seq2SeqCache(KVCache):
    """The decoder's KV cache (one `LayerCache` per decoder block's self-attention) plus, per
    block, the source's keys and values for cross-attention: computed at the first step, read
    at every later one. Cropping forgets target tokens only; the source stays."""

    def __init__(self, n_layer: int, batch_size: int) -> None:
        super().__init__(n_layer, batch_size)
        self.cross = [LayerCache() for _ in range(n_layer)]


class Seq2Seq(Traced):
    """Encoder–decoder transformer: `model(src, tgt_in, targets)` -> (logits, loss)."""

    arch = "seq2seq"
    config_class = Seq2SeqConfig

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.config = c = config
        self.embed = Embeddings(c.vocab_size, c.n_embd, c.block_size, "sinusoidal", c.dropout)
        self.encoder = nn.ModuleList(self._block(c, cross=False) for _ in range(c.n_layer))
        self.decoder = nn.ModuleList(self._block(c, cross=True) for _ in range(c.n_layer))
        # pre-norm stacks end with a norm; post-norm ones are normalised already
        self.enc_ln = Norm(c.norm, c.n_embd, c.norm_eps) if c.norm_first else nn.Identity()
        self.dec_ln = Norm(c.norm, c.n_embd, c.norm_eps) if c.norm_first else nn.Identity()
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)  # the paper's implementation (tensor2tensor)
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.embed.tok.weight)  # unit scale, like the sinusoids beside it
        name_modules(self)

    @staticmethod
    def size_of(config: Seq2SeqConfig) -> tuple[int, int]:
        """(parameters, float32 bytes with the sinusoid table) in closed form, before building:
        building on the meta device would import torch's compiler stack (models/config.py)."""
        c, C, F = config, config.n_embd, config.ffn_dim
        norm = 2 * C if c.norm == "layernorm" else C
        attention = 4 * C * C + 4 * C  # self: qkv + W_O; cross: q + kv + W_O, biases included
        ffn = 2 * C * F + F + C
        encoder = 2 * norm + attention + ffn
        decoder = 3 * norm + 2 * attention + ffn
        params = 2 * c.vocab_size * C + c.vocab_size + c.n_layer * (encoder + decoder)
        params += 2 * norm if c.norm_first else 0
        return params, 4 * (params + c.block_size * C)

    @staticmethod
    def _block(c: Seq2SeqConfig, cross: bool) -> Block:
        """An encoder block (bidirectional) or a decoder block (causal, with cross-attention)."""
        return Block(
            c.n_embd,
            c.n_head,
            c.ffn_dim,
            activation=c.activation,
            norm=c.norm,
            norm_eps=c.norm_eps,
            dropout=c.dropout,
            causal=cross,
            norm_first=c.norm_first,
            cross=cross,
        )

    def _positions(self, idx: torch.Tensor, what: str, past: int = 0) -> torch.Tensor:
        if idx.dim() != 2:
            raise UserError(f"expected {what} ids of shape (batch, time), got {tuple(idx.shape)}")
        if past + idx.size(1) > self.config.block_size:
            raise UserError(
                f"the {what} has {past + idx.size(1)} tokens, more than this model's "
                f"{self.config.block_size}"
            )
        return torch.arange(past, past + idx.size(1), device=idx.device)[None]

    def new_cache(self, batch_size: int) -> Seq2SeqCache:
        """An empty cache for `batch_size` rows, to pass as `decode(..., cache=cache)`."""
        return Seq2SeqCache(self.config.n_layer, batch_size)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Source ids (B, S) -> memory (B, S, C) and the mask of real source tokens
        (B, 1, 1, S), which hides padding from encoder and cross-attention alike."""
        mask = (src != self.config.pad_id)[:, None, None, :]
        x = self.embed(src, self._positions(src, "source"))
        for block in self.encoder:
            x = block(x, mask=mask)
        return self.enc_ln(x), mask

    def decode(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        mask: torch.Tensor,
        cache: Seq2SeqCache | None = None,
    ) -> torch.Tensor:
        """Target ids (B, T) -> next-token logits (B, T, V); with `cache`, `tgt` continues
        the target tokens already cached."""
        past = 0 if cache is None else cache.length
        x = self.embed(tgt, self._positions(tgt, "target", past))
        for i, block in enumerate(self.decoder):
            layer, cross = (None, None) if cache is None else (cache.layers[i], cache.cross[i])
            x = block(x, cache=layer, memory=memory, memory_mask=mask, cross_cache=cross)
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

    def conditioned(self, src: torch.Tensor) -> SourceConditioned:
        """The decoder with the source `src` (B, S) read once: a model of the target alone,
        which attento.generate drives token by token as it drives a GPT."""
        return SourceConditioned(self, *self.encode(src))

    @staticmethod
    def upgrade_weights(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Folders written before the decoder used the shared `Block` name its cross-attention
        norm ln2 and its feed-forward norm ln3; the Block calls them ln_cross and ln2."""
        if not any(".ln3." in name for name in tensors):
            return tensors
        renamed = {}
        for name, tensor in tensors.items():
            if name.startswith("decoder."):
                name = name.replace(".ln2.", ".ln_cross.").replace(".ln3.", ".ln2.")
            renamed[name] = tensor
        return renamed


class SourceConditioned(nn.Module):
    """A `Seq2Seq` decoder bound to one batch of sources: `view(tgt, cache=...)` -> logits.

    It answers the calls the generation loop makes of a decoder-only model (`config`,
    `new_cache`, a forward with `cache` and `valid`), so greedy decoding, temperature, top-k,
    top-p and the KV cache serve the encoder–decoder unchanged. The memory was computed when
    the view was made, in whatever mode the model was in then."""

    def __init__(self, model: Seq2Seq, memory: torch.Tensor, mask: torch.Tensor) -> None:
        super().__init__()
        self.model, self.memory, self.mask = model, memory, mask
        self.config = model.config
        self.training = model.training  # a new Module says True: the loop would flip the model

    def new_cache(self, batch_size: int) -> Seq2SeqCache:
        return self.model.new_cache(batch_size)

    def forward(
        self,
        tgt: torch.Tensor,
        cache: Seq2SeqCache | None = None,
        valid: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if valid is not None:
            raise UserError("a target starts with BOS in every row: it is never padded")
        return self.model.decode(tgt, self.memory, self.mask, cache)

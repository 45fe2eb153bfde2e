"""GPT: a decoder-only language model, the architecture behind ChatGPT-style generation.

token ids -> embeddings (+ positions) -> n_layer transformer blocks with causal attention
-> final norm -> a linear map to one score (logit) per vocabulary token. Trained to predict
each next token, it generates text by sampling from the softmax of the last position's logits,
appending that token and repeating (attento.generate).

`GPTConfig` chooses the variant: GPT-2 (learned positions, LayerNorm, gelu_tanh, biases, tied
embedding/output matrix), Llama (RoPE with its base and scaling, RMSNorm, SwiGLU, no biases,
grouped-query attention, its own output matrix), Qwen2 (Llama plus q/k/v biases), or anything
in between; the config is saved as JSON next to the safetensors weights.

The KV cache (`new_cache`) keeps each layer's keys and values, so that generating token t+1
only computes that token; `valid` marks real tokens of left-padded batches.

Hugging Face interop lives in `attento.models.hf`: `GPT.from_hf(dir)` reads a GPT2LMHeadModel,
LlamaForCausalLM or Qwen2ForCausalLM folder as `save_pretrained` writes it, with identical
logits, and `export_hf(dir)` writes one that `transformers` loads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from attento.errors import UserError
from attento.models import trace
from attento.models.config import ModelConfig
from attento.models.layers import (
    ACTIVATIONS,
    NORMS,
    POS_ENCODINGS,
    ROPE_SCALINGS,
    Block,
    Embeddings,
    KVCache,
    Norm,
    RotaryEmbedding,
)
from attento.models.trace import Traced, name_modules


@dataclass
class GPTConfig(ModelConfig):
    """Every choice that defines a GPT's shape; saved as the "model" entry of config.json."""

    vocab_size: int
    block_size: int  # longest context, in tokens
    n_layer: int
    n_head: int
    n_embd: int
    ffn_hidden: int | None = None  # None -> 4 * n_embd (8/3 * n_embd for swiglu)
    dropout: float = 0.0
    bias: bool = True
    pos_encoding: str = "learned"
    norm: str = "layernorm"
    activation: str = "gelu"
    tie_weights: bool = True
    norm_eps: float = 1e-5
    rope_base: float = 10000.0  # Hugging Face: rope_theta
    n_kv_head: int | None = None  # key/value heads; None -> n_head, 1 -> multi-query attention
    head_size: int | None = None  # None -> n_embd // n_head (Hugging Face: head_dim)
    qkv_bias: bool | None = None  # biases of q, k, v; None -> as `bias`
    attn_out_bias: bool | None = None  # bias of W_O, the attention output; None -> as `bias`
    mlp_bias: bool | None = None  # biases of the feed-forward network; None -> as `bias`
    # {"rope_type": "linear" or "llama3", and the settings layers.ROPE_SCALINGS lists}
    rope_scaling: dict | None = None
    # each query sees at most the last sliding_window keys, itself included (Mistral, Qwen2);
    # the KV cache keeps only those. None: every earlier key
    sliding_window: int | None = None

    def check(self) -> None:
        optional = ("ffn_hidden", "n_kv_head", "head_size", "sliding_window")
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd", *optional):
            value = getattr(self, name)
            if value is None and name in optional:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise UserError(f"model setting {name} must be a positive integer, got {value!r}")
        for name, allowed in (
            ("pos_encoding", POS_ENCODINGS),
            ("norm", NORMS),
            ("activation", tuple(ACTIVATIONS)),
        ):
            if getattr(self, name) not in allowed:
                raise UserError(
                    f"unknown {name} {getattr(self, name)!r} (choose from {', '.join(allowed)})"
                )
        for name in ("bias", "tie_weights", "qkv_bias", "attn_out_bias", "mlp_bias"):
            value = getattr(self, name)
            if not isinstance(value, bool) and (
                value is not None or name in ("bias", "tie_weights")
            ):
                raise UserError(f"model setting {name} must be true or false")
        if not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise UserError(f"dropout must be in [0, 1), got {self.dropout!r}")
        for name in ("norm_eps", "rope_base"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise UserError(f"model setting {name} must be a positive number, got {value!r}")
        if self.head_size is None and self.n_embd % self.n_head:
            raise UserError(
                f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}): "
                "each head gets n_embd / n_head dimensions"
            )
        if self.n_head % self.kv_heads:
            raise UserError(
                f"n_head ({self.n_head}) must be a multiple of n_kv_head ({self.kv_heads}): "
                "each key/value head serves the same number of query heads"
            )
        if self.pos_encoding == "rope" and self.head_dim % 2:
            raise UserError(f"rope needs an even head size, but the heads have {self.head_dim}")
        self._check_rope_scaling()

    def _check_rope_scaling(self) -> None:
        s = self.rope_scaling
        if s is None:
            return
        if self.pos_encoding != "rope":
            raise UserError("rope_scaling needs pos_encoding rope")
        kinds = ", ".join(ROPE_SCALINGS)
        if not isinstance(s, dict) or s.get("rope_type") not in ROPE_SCALINGS:
            raise UserError(f"rope_scaling needs a rope_type, one of {kinds}; got {s!r}")
        needed = ROPE_SCALINGS[s["rope_type"]]
        wrong = sorted(set(s) - {"rope_type", *needed})
        if wrong:
            raise UserError(f"rope_scaling {s['rope_type']} has no setting(s) {', '.join(wrong)}")
        for name in needed:
            value = s.get(name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise UserError(
                    f"rope_scaling {s['rope_type']} needs {name}, a positive number; got {value!r}"
                )
        if s["rope_type"] == "llama3" and not s["high_freq_factor"] > s["low_freq_factor"]:
            raise UserError("rope_scaling llama3 needs high_freq_factor > low_freq_factor")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head if self.head_size is None else self.head_size

    @property
    def kv_heads(self) -> int:
        return self.n_head if self.n_kv_head is None else self.n_kv_head

    def has_bias(self, part: str) -> bool:
        """Whether the "qkv", "attn_out" or "mlp" layers have biases (their flag, else `bias`)."""
        own = getattr(self, f"{part}_bias")
        return self.bias if own is None else own

    @property
    def ffn_dim(self) -> int:
        """Width of the feed-forward hidden layer. SwiGLU has three matrices instead of two,
        so 8/3·n_embd (rounded up to a multiple of 8) keeps the parameter count of 4·n_embd."""
        if self.ffn_hidden is not None:
            return self.ffn_hidden
        if self.activation == "swiglu":
            return 8 * math.ceil(8 * self.n_embd / 3 / 8)
        return 4 * self.n_embd


class GPT(Traced):
    """Decoder-only transformer LM (one file, in the spirit of nanoGPT's model.py).

    `checkpoint_blocks` (gradient checkpointing, a training setting, not part of the shape):
    in training, keep only each block's input and recompute the block's activations in the
    backward pass (torch.utils.checkpoint, with the RNG state kept so dropout draws the same
    masks): the activations' memory shrinks from one set per block to about one block's, for
    one more forward pass per step."""

    arch = "gpt"
    config_class = GPTConfig
    checkpoint_blocks = False

    @staticmethod
    def size_of(config: GPTConfig) -> tuple[int, int] | None:
        """(parameters, float32 bytes) before building: its buffers start empty. None for a
        subclass's config (LoRA adds adapters), which is then counted by building it."""
        if type(config) is not GPTConfig:
            return None
        return parameter_count(config), nbytes(config)

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        tok_scale = math.sqrt(c.n_embd) if c.pos_encoding == "sinusoidal" else 1.0
        self.embed = Embeddings(
            c.vocab_size, c.n_embd, c.block_size, c.pos_encoding, c.dropout, tok_scale
        )
        self.rope = None
        if c.pos_encoding == "rope":
            self.rope = RotaryEmbedding(c.head_dim, c.rope_base, c.rope_scaling)
        self.blocks = nn.ModuleList(
            Block(
                c.n_embd,
                c.n_head,
                c.ffn_dim,
                activation=c.activation,
                norm=c.norm,
                norm_eps=c.norm_eps,
                bias=c.bias,
                dropout=c.dropout,
                causal=True,
                n_kv_head=c.kv_heads,
                head_dim=c.head_dim,
                qkv_bias=c.has_bias("qkv"),
                attn_out_bias=c.has_bias("attn_out"),
                mlp_bias=c.has_bias("mlp"),
                window=c.sliding_window,
            )
            for _ in range(c.n_layer)
        )
        self.ln_f = Norm(c.norm, c.n_embd, c.norm_eps, c.bias)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        if c.tie_weights:
            # The same matrix reads a token in and scores it out (Press & Wolf, 2017).
            self.lm_head.weight = self.embed.tok.weight
        self.apply(self._init_weights)
        # GPT-2: scale the projections that add into the residual stream by 1/sqrt(2·n_layer),
        # so the stream's variance does not grow with depth (two additions per block).
        for name, p in self.named_parameters():
            if name.endswith(("attn.proj.weight", "mlp.proj.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))
        name_modules(self)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    # --- forward -----------------------------------------------------------------------------

    def new_cache(self, batch_size: int) -> KVCache:
        """An empty KV cache for `batch_size` rows, to pass as `model(idx, cache=cache)`."""
        return KVCache(self.config.n_layer, batch_size, self.config.sliding_window)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        cache: KVCache | None = None,
        valid: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """idx (B, T) -> logits (B, T, V); with targets (B, T) -> (logits, mean cross-entropy).

        With `cache`, idx continues the tokens already cached and their keys/values are
        appended. `valid` (B, cache.length + T) marks real tokens of a left-padded batch; once
        given, the cache remembers it and later calls without `valid` count new tokens as real.
        """
        if idx.dim() != 2:
            raise UserError(f"expected token ids of shape (batch, time), got {tuple(idx.shape)}")
        B, T = idx.shape
        past = 0 if cache is None else cache.length
        total = past + T
        if cache is not None and cache.batch_size != B:
            raise UserError(f"the cache holds {cache.batch_size} rows but the input has {B}")
        if self.config.pos_encoding != "rope" and total > self.config.block_size:
            raise UserError(
                f"{total} tokens exceed this model's context of {self.config.block_size} "
                f"({self.config.pos_encoding} positions have no vector beyond it); "
                "shorten the input or slide the window"
            )
        if valid is None and cache is not None and cache.valid is not None:
            valid = torch.cat((cache.valid, cache.valid.new_ones(B, T)), dim=1)
        mask = None
        if valid is not None:
            if tuple(valid.shape) != (B, total):
                raise UserError(
                    f"valid must have shape (batch, cached + new tokens) = {(B, total)}, "
                    f"got {tuple(valid.shape)}"
                )
            valid = valid.to(device=idx.device, dtype=torch.bool)
            # A token's position counts only the real tokens before it, as if unpadded.
            pos = (valid.long().cumsum(dim=1) - 1).clamp(min=0)[:, past:]
            mask = valid[:, None, None, :]
        else:
            pos = torch.arange(past, total, device=idx.device)[None]
        if cache is not None:
            cache.valid = valid

        x = self.embed(idx, pos)
        rope = self.rope(pos) if self.rope is not None else None
        recompute = self.checkpoint_blocks and self.training and torch.is_grad_enabled()
        for i, block in enumerate(self.blocks):
            layer_cache = None if cache is None else cache.layers[i]
            if recompute:  # keep only each block's input; rerun the block in the backward pass
                x = checkpoint(
                    block, x, mask=mask, rope=rope, cache=layer_cache, use_reentrant=False
                )
            else:
                x = block(x, mask=mask, rope=rope, cache=layer_cache)
        x = self.ln_f(x)
        logits = self.lm_head(x)
        if trace.active() is not None:
            self.record("logits", logits)
        if targets is None:
            return logits
        loss = F.cross_entropy(
            logits.view(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=-100
        )
        return logits, loss

    # --- training helpers --------------------------------------------------------------------

    def num_params(self, non_embedding: bool = True) -> int:
        """Parameter count. non_embedding drops the position table and, when it is not shared
        with the output layer, the token table: lookups cost no multiply-adds."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            if isinstance(self.embed.pos, nn.Embedding):
                n -= self.embed.pos.weight.numel()
            if not self.config.tie_weights:
                n -= self.embed.tok.weight.numel()
        return n

    def estimate_flops_per_token(self, seq_len: int | None = None) -> float:
        """Training FLOPs per token (forward + backward): 6·N for the matrices plus attention,
        12·n_layer·n_head·Dh·T (PaLM appendix B, n_head·Dh = n_embd there); divide tokens/s ×
        this by peak FLOP/s for MFU."""
        c = self.config
        T = c.block_size if seq_len is None else seq_len
        return 6 * self.num_params() + 12 * c.n_layer * c.n_head * c.head_dim * T

    def configure_optimizer(
        self, weight_decay: float, lr: float, betas: tuple[float, float] = (0.9, 0.95)
    ) -> torch.optim.AdamW:
        """AdamW that decays only matrices (>= 2-D); biases and norm gains are left alone."""
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        fused = all(p.is_cuda for p in params)
        return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=fused or None)

    # --- Hugging Face ------------------------------------------------------------------------

    @classmethod
    def from_hf(
        cls, directory: str | Path, dropout: float = 0.0, dtype: torch.dtype = torch.float32
    ) -> GPT:
        """A Hugging Face GPT-2, Llama or Qwen2 folder as a GPT (see `attento.models.hf`)."""
        from attento.models import hf

        kind = hf.model_type(directory)
        if kind in hf.FAMILIES and kind not in hf.DECODERS:
            raise UserError(
                f"{Path(directory) / 'config.json'} describes a {kind!r} model, "
                f"not a GPT ({', '.join(hf.DECODERS)})"
            )
        model = hf.from_hf(directory, dropout=dropout, dtype=dtype)
        assert isinstance(model, GPT)
        return model

    def export_hf(self, directory: str | Path) -> Path:
        """Write a folder that transformers loads as GPT2LMHeadModel, LlamaForCausalLM or
        Qwen2ForCausalLM, whichever has this model's shape (see `attento.models.hf`)."""
        from attento.models import hf

        return hf.export_hf(self, directory)


def parameter_count(config: GPTConfig) -> int:
    """How many numbers a GPT of this shape holds (tied matrices once), before building it."""
    c = config
    C, H, Hkv, Dh, F = c.n_embd, c.n_head, c.kv_heads, c.head_dim, c.ffn_dim
    norm = C * (2 if c.norm == "layernorm" and c.bias else 1)
    qkv = (H + 2 * Hkv) * Dh
    attn = C * qkv + (qkv if c.has_bias("qkv") else 0) + H * Dh * C
    attn += C if c.has_bias("attn_out") else 0
    matrices = 3 if c.activation == "swiglu" else 2
    mlp = matrices * C * F + ((matrices - 1) * F + C if c.has_bias("mlp") else 0)
    n = c.vocab_size * C + c.n_layer * (2 * norm + attn + mlp) + norm
    if c.pos_encoding == "learned":
        n += c.block_size * C
    if not c.tie_weights:
        n += c.vocab_size * C
    return n


def nbytes(config: GPTConfig, dtype: torch.dtype = torch.float32) -> int:
    """Bytes the weights of a GPT of this shape take in `dtype` (activations and the KV cache
    come on top)."""
    return parameter_count(config) * dtype.itemsize

"""GPT: a decoder-only language model, the architecture behind ChatGPT-style generation.

token ids -> embeddings (+ positions) -> n_layer transformer blocks with causal attention
-> final norm -> a linear map to one score (logit) per vocabulary token. Trained to predict
each next token, it generates text by sampling from the softmax of the last position's logits,
appending that token and repeating (attento.generate).

`GPTConfig` chooses the variant: GPT-2 (learned positions, LayerNorm, gelu_tanh, biases, tied
embedding/output matrix) or a modern one (RoPE, RMSNorm, SwiGLU, no biases), or anything in
between; the config is saved as JSON next to the safetensors weights.

The KV cache (`new_cache`) keeps each layer's keys and values, so that generating token t+1
only computes that token; `valid` marks real tokens of left-padded batches.

HF GPT-2 interop: `GPT.from_hf(dir)` reads a Hugging Face `GPT2LMHeadModel` folder
(config.json + model.safetensors or pytorch_model.bin) and `export_hf(dir)` writes one. Anyone
who has the real GPT-2 small files (downloaded elsewhere, e.g. the "gpt2" repository on the
Hugging Face Hub) gets the real GPT-2 with `GPT.from_hf("path/to/gpt2")`, with identical logits;
pair it with the GPT-2 BPE tokenizer.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from attento.errors import UserError
from attento.models import trace
from attento.models.checkpoint_io import read_json, read_weights, write_safetensors
from attento.models.config import JSONConfig
from attento.models.layers import (
    ACTIVATIONS,
    NORMS,
    POS_ENCODINGS,
    Block,
    Embeddings,
    KVCache,
    Norm,
    RotaryEmbedding,
)
from attento.models.trace import Traced, name_modules


@dataclass
class GPTConfig(JSONConfig):
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
    rope_base: float = 10000.0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd", "ffn_hidden"):
            value = getattr(self, name)
            if value is None and name == "ffn_hidden":
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
        for name in ("bias", "tie_weights"):
            if not isinstance(getattr(self, name), bool):
                raise UserError(f"model setting {name} must be true or false")
        if not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise UserError(f"dropout must be in [0, 1), got {self.dropout!r}")
        for name in ("norm_eps", "rope_base"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise UserError(f"model setting {name} must be a positive number, got {value!r}")
        if self.n_embd % self.n_head:
            raise UserError(
                f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}): "
                "each head gets n_embd / n_head dimensions"
            )
        if self.pos_encoding == "rope" and self.head_dim % 2:
            raise UserError(f"rope needs an even head size, but n_embd / n_head = {self.head_dim}")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @property
    def ffn_dim(self) -> int:
        """Width of the feed-forward hidden layer. SwiGLU has three matrices instead of two,
        so 8/3·n_embd (rounded up to a multiple of 8) keeps the parameter count of 4·n_embd."""
        if self.ffn_hidden is not None:
            return self.ffn_hidden
        if self.activation == "swiglu":
            return 8 * math.ceil(8 * self.n_embd / 3 / 8)
        return 4 * self.n_embd


# Hugging Face GPT-2 names: activation, and our parameter -> theirs (Conv1D stores W transposed).
HF_ACTIVATIONS = {
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "gelu": "gelu",
    "relu": "relu",
}
HF_NAMES = [
    (r"embed\.tok\.weight", "wte.weight", False),
    (r"embed\.pos\.weight", "wpe.weight", False),
    (r"blocks\.(\d+)\.ln1\.(weight|bias)", r"h.\1.ln_1.\2", False),
    (r"blocks\.(\d+)\.ln2\.(weight|bias)", r"h.\1.ln_2.\2", False),
    (r"blocks\.(\d+)\.attn\.qkv\.(weight|bias)", r"h.\1.attn.c_attn.\2", True),
    (r"blocks\.(\d+)\.attn\.proj\.(weight|bias)", r"h.\1.attn.c_proj.\2", True),
    (r"blocks\.(\d+)\.mlp\.fc\.(weight|bias)", r"h.\1.mlp.c_fc.\2", True),
    (r"blocks\.(\d+)\.mlp\.proj\.(weight|bias)", r"h.\1.mlp.c_proj.\2", True),
    (r"ln_f\.(weight|bias)", r"ln_f.\1", False),
    (r"lm_head\.weight", "lm_head.weight", False),
]


def hf_name(name: str) -> tuple[str, bool]:
    """Our parameter name -> (HF GPT-2 name without "transformer.", transpose?)."""
    for pattern, replacement, conv1d in HF_NAMES:
        if re.fullmatch(pattern, name):
            return re.sub(pattern, replacement, name), conv1d and name.endswith("weight")
    raise KeyError(name)


class GPT(Traced):
    """Decoder-only transformer LM (one file, in the spirit of nanoGPT's model.py)."""

    arch = "gpt"
    config_class = GPTConfig

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        tok_scale = math.sqrt(c.n_embd) if c.pos_encoding == "sinusoidal" else 1.0
        self.embed = Embeddings(
            c.vocab_size, c.n_embd, c.block_size, c.pos_encoding, c.dropout, tok_scale
        )
        self.rope = RotaryEmbedding(c.head_dim, c.rope_base) if c.pos_encoding == "rope" else None
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
        return KVCache(self.config.n_layer, batch_size)

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
        for i, block in enumerate(self.blocks):
            x = block(x, mask=mask, rope=rope, cache=None if cache is None else cache.layers[i])
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
        12·n_layer·n_embd·T (PaLM appendix B); divide tokens/s × this by peak FLOP/s for MFU."""
        c = self.config
        T = c.block_size if seq_len is None else seq_len
        return 6 * self.num_params() + 12 * c.n_layer * c.n_embd * T

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

    # --- Hugging Face GPT-2 ------------------------------------------------------------------

    @classmethod
    def from_hf(cls, directory: str | Path, dropout: float = 0.0) -> GPT:
        """Load a Hugging Face GPT2LMHeadModel folder (config.json + model.safetensors or
        pytorch_model.bin) as a GPT with learned positions, LayerNorm, biases, GPT-2's gelu."""
        directory = Path(directory)
        hf = read_json(directory / "config.json")
        if hf.get("model_type", "gpt2") != "gpt2":
            raise UserError(
                f"{directory / 'config.json'} describes a {hf['model_type']!r} model, not gpt2"
            )
        if hf.get("scale_attn_by_inverse_layer_idx") or not hf.get("scale_attn_weights", True):
            raise UserError(
                f"{directory / 'config.json'}: this GPT-2 variant scales attention differently"
            )
        act = hf.get("activation_function", "gelu_new")
        if act not in HF_ACTIVATIONS:
            raise UserError(f"{directory / 'config.json'}: unsupported activation {act!r}")
        try:
            config = GPTConfig(
                vocab_size=hf["vocab_size"],
                block_size=hf["n_positions"],
                n_layer=hf["n_layer"],
                n_head=hf["n_head"],
                n_embd=hf["n_embd"],
                ffn_hidden=hf.get("n_inner"),
                dropout=dropout,
                activation=HF_ACTIVATIONS[act],
                norm_eps=float(hf.get("layer_norm_epsilon", 1e-5)),
                tie_weights=bool(hf.get("tie_word_embeddings", True)),
            )
        except KeyError as e:
            raise UserError(f"{directory / 'config.json'} lacks {e.args[0]!r}") from None
        weights, source = read_weights(directory)
        weights = {k.removeprefix("transformer."): v for k, v in weights.items()}
        model = cls(config)
        with torch.no_grad():
            for name, param in model.state_dict(keep_vars=True).items():
                if name == "lm_head.weight" and config.tie_weights:
                    continue
                key, transpose = hf_name(name)
                if key not in weights:
                    raise UserError(f"{source} lacks the tensor {key!r}")
                tensor = weights[key].t() if transpose else weights[key]
                if tensor.shape != param.shape:
                    raise UserError(
                        f"{source}: {key!r} has shape {tuple(weights[key].shape)}, "
                        f"expected {tuple(param.shape)} from config.json"
                    )
                param.copy_(tensor)
        return model

    def export_hf(self, directory: str | Path) -> Path:
        """Write config.json + model.safetensors that transformers.GPT2LMHeadModel loads."""
        c = self.config
        if c.pos_encoding != "learned" or c.norm != "layernorm" or not c.bias:
            raise UserError(
                "only GPT-2-shaped models export to Hugging Face GPT-2: "
                "learned positions, layernorm and bias=true"
            )
        act = {"gelu_tanh": "gelu_new", "gelu": "gelu", "relu": "relu"}.get(c.activation)
        if act is None:
            raise UserError(f"Hugging Face GPT-2 has no {c.activation} activation")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        hf = {
            "architectures": ["GPT2LMHeadModel"],
            "model_type": "gpt2",
            "vocab_size": c.vocab_size,
            "n_positions": c.block_size,
            "n_embd": c.n_embd,
            "n_layer": c.n_layer,
            "n_head": c.n_head,
            "n_inner": c.ffn_hidden,
            "activation_function": act,
            "layer_norm_epsilon": c.norm_eps,
            "resid_pdrop": c.dropout,
            "embd_pdrop": c.dropout,
            "attn_pdrop": c.dropout,
            "tie_word_embeddings": c.tie_weights,
            "bos_token_id": None,
            "eos_token_id": None,
        }
        (directory / "config.json").write_text(json.dumps(hf, indent=2) + "\n")
        tensors = {}
        for name, param in self.state_dict().items():
            if name == "lm_head.weight" and c.tie_weights:
                continue
            key, transpose = hf_name(name)
            key = key if key == "lm_head.weight" else f"transformer.{key}"
            tensors[key] = (param.t() if transpose else param).detach().cpu().contiguous()
        write_safetensors(tensors, directory / "model.safetensors")
        return directory

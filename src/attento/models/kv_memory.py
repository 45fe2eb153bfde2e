"""How much memory a KV cache takes, and what grouped-query attention saves.

Generating with a cache (layers.py, `KVCache`) keeps, for every layer and every token seen,
one key and one value vector per key/value head. So the cache grows linearly with the context:

    bytes per token = 2 (K and V) x n_layer x n_kv_head x head_dim x bytes per element x batch

and at full context it is that times the context length. Multi-head attention (MHA) has one
key/value head per query head (n_kv_head = n_head). Grouped-query attention (GQA, Ainslie et
al., 2023) lets a group of query heads share one key/value head, and multi-query attention
(MQA, Shazeer, 2019) shares a single one among all: the cache shrinks by n_head / n_kv_head,
while the weights change little (only the K and V projections get narrower).

`CacheShape` holds the four numbers that decide the size; it comes from an attento config
(`from_config`), a Hugging Face config.json (`from_hf_config`), or `PUBLIC`, the shapes of a
few real models as their published config.json files give them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from attento.config import Config, check_counts
from attento.errors import UserError

DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


@dataclass(frozen=True)
class CacheShape:
    """What a model's KV cache is made of: per layer, n_kv_head heads of head_dim numbers."""

    name: str
    n_layer: int
    n_head: int  # query heads
    n_kv_head: int  # key/value heads: n_head (MHA), fewer (GQA), 1 (MQA)
    head_dim: int
    context: int  # the longest context the model takes, in tokens

    def __post_init__(self) -> None:
        for field in ("n_layer", "n_head", "n_kv_head", "head_dim", "context"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise UserError(f"{self.name}: {field} must be a positive integer, got {value!r}")
        if self.n_head % self.n_kv_head:
            raise UserError(
                f"{self.name}: n_head ({self.n_head}) must be a multiple of n_kv_head "
                f"({self.n_kv_head}): each key/value head serves a whole group of query heads"
            )

    @property
    def kind(self) -> str:
        if self.n_kv_head == self.n_head:
            return "MHA"
        return "MQA" if self.n_kv_head == 1 else f"GQA {self.n_head // self.n_kv_head}:1"

    def bytes_per_token(self, dtype_bytes: int = 4, batch: int = 1) -> int:
        return 2 * self.n_layer * self.n_kv_head * self.head_dim * dtype_bytes * batch

    def mha_bytes_per_token(self, dtype_bytes: int = 4, batch: int = 1) -> int:
        """The same model's cache had it one key/value head per query head."""
        return 2 * self.n_layer * self.n_head * self.head_dim * dtype_bytes * batch

    def bytes_at(self, tokens: int | None = None, dtype_bytes: int = 4, batch: int = 1) -> int:
        """The cache holding `tokens` tokens (default: the full context) for `batch` rows."""
        return self.bytes_per_token(dtype_bytes, batch) * (
            self.context if tokens is None else tokens
        )

    @property
    def saving(self) -> float:
        """How many times smaller the cache is than with multi-head attention."""
        return self.n_head / self.n_kv_head

    @classmethod
    def from_config(cls, config: Any, name: str = "model") -> CacheShape:
        """From an attento model config (GPTConfig); n_kv_head defaults to n_head (MHA)."""
        n_head = config.n_head
        return cls(
            name,
            config.n_layer,
            n_head,
            getattr(config, "n_kv_head", None) or n_head,
            getattr(config, "head_dim", None) or config.n_embd // n_head,
            config.block_size,
        )

    @classmethod
    def from_hf_config(cls, hf: dict[str, Any], name: str = "model") -> CacheShape:
        """From a Hugging Face config.json: GPT-2's names (n_layer, n_head, n_embd,
        n_positions) or Llama/Qwen2's (num_hidden_layers, num_attention_heads,
        num_key_value_heads, head_dim, max_position_embeddings)."""
        try:
            if "n_layer" in hf:  # GPT-2 family: always multi-head
                n_head = hf["n_head"]
                return cls(
                    name, hf["n_layer"], n_head, n_head, hf["n_embd"] // n_head, hf["n_positions"]
                )
            n_head = hf["num_attention_heads"]
            return cls(
                name,
                hf["num_hidden_layers"],
                n_head,
                hf.get("num_key_value_heads") or n_head,
                hf.get("head_dim") or hf["hidden_size"] // n_head,
                hf["max_position_embeddings"],
            )
        except KeyError as e:
            raise UserError(f"{name}: config.json lacks {e.args[0]!r}") from None


# Published config.json of each model (Hugging Face Hub, checked on 2026-12-02).
PUBLIC = {
    "openai-community/gpt2": CacheShape("GPT-2 small", 12, 12, 12, 64, 1024),
    "HuggingFaceTB/SmolLM2-135M": CacheShape("SmolLM2-135M", 30, 9, 3, 64, 8192),
    "Qwen/Qwen2.5-0.5B": CacheShape("Qwen2.5-0.5B", 24, 14, 2, 64, 32768),
    "meta-llama/Llama-3.2-1B": CacheShape("Llama-3.2-1B", 16, 32, 8, 64, 131072),
}
ALIASES = {"gpt2": "openai-community/gpt2"}


def shape_of(model: str) -> CacheShape:
    """The cache shape of a bundled model, a model folder (attento or Hugging Face), a model
    of `PUBLIC`, or a Hub id "owner/name" (its config.json, downloaded if not cached); no
    weights are read."""
    from attento.data.hub import is_hub_id, snapshot
    from attento.models.folder import CONFIG, read_json, resolve

    path = Path(model)
    if path.is_dir() or _is_bundled(model):
        config = read_json(resolve(model) / CONFIG)
        if "arch" not in config or "model" not in config:
            return CacheShape.from_hf_config(config, model)
        settings = config["model"]
        if not all(k in settings for k in ("n_layer", "n_head", "n_embd", "block_size")):
            raise UserError(f"{model} is a {config['arch']!r} model: it has no KV cache")
        return CacheShape.from_config(_Settings(settings), model)
    key = ALIASES.get(model, model)
    if key in PUBLIC:
        return PUBLIC[key]
    if "/" in model and is_hub_id(model) and not path.exists():
        return CacheShape.from_hf_config(read_json(snapshot(model) / CONFIG), model)
    resolve(model)  # raises the one-line error that names the bundled models
    raise UserError(f"{model} is not a model folder")


def _is_bundled(name: str) -> bool:
    from attento.models.folder import BUNDLED

    return (BUNDLED / name).is_dir()


class _Settings:
    """The "model" entry of an attento config.json, read as attributes (no model is built)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.n_layer, self.n_head = settings["n_layer"], settings["n_head"]
        self.n_kv_head = settings.get("n_kv_head")
        self.n_embd, self.block_size = settings["n_embd"], settings["block_size"]
        self.head_dim = settings.get("head_size")  # None -> n_embd // n_head


def cached_bytes(cache: Any) -> int:
    """The bytes of the keys and values a `KVCache` holds now (its tokens, not the spare room
    its buffers keep for the next ones)."""
    total = 0
    for layer in cache.layers:
        for tensor in (layer.k, layer.v):
            if isinstance(tensor, torch.Tensor):
                total += tensor.numel() * tensor.element_size()
    return total


def human_bytes(n: float) -> str:
    """1536 -> "1.5 KiB": binary units, as memory is sized."""
    if n < 1024:
        return f"{n:.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024 or unit == "GiB":
            break
    return f"{n:.1f} {unit}"


@dataclass
class CacheQuery(Config):
    """What `attento kv-cache` sizes the caches for.

    context: tokens in the cache (default: each model's full context)
    dtype: the type of each number (float32, bfloat16, float16)
    batch: sequences cached side by side
    """

    context: int | None = None
    dtype: str = "float32"
    batch: int = 1

    def check(self) -> None:
        check_counts(self, "context", "batch")
        if self.dtype not in DTYPE_BYTES:
            raise UserError(f"unknown dtype {self.dtype!r} (known: {', '.join(DTYPE_BYTES)})")

"""How much memory a KV cache takes, and what grouped-query attention saves.

Generating with a cache (layers.py, `KVCache`) keeps, for every layer and every token seen,
one key and one value vector per key/value head. So the cache grows linearly with the context:

    bytes per token = 2 (K and V) x n_layer x n_kv_head x head_dim x bytes per element x batch

and at full context it is that times the context length. Multi-head attention (MHA) has one
key/value head per query head (n_kv_head = n_head). Grouped-query attention (GQA, Ainslie et
al., 2023) lets a group of query heads share one key/value head, and multi-query attention
(MQA, Shazeer, 2019) shares a single one among all: the cache shrinks by n_head / n_kv_head,
while the weights change little (only the K and V projections get narrower).

A sliding window of W (Mistral, Qwen2, attento's `sliding_window`) caps the cache instead:
a query sees only the last W keys, so a layer keeps at most W positions however long the text
grows (layers.py drops the older ones; transformers keeps W - 1 between steps and the new
token makes W). Some models slide in only some layers (Qwen2's `max_window_layers`, the
`layer_types` of Gemma-style configs); the others keep the whole context.

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
    window: int | None = None  # sliding window: a sliding layer keeps at most this many
    window_layers: int | None = None  # layers that slide (None: all of them, with a window)

    def __post_init__(self) -> None:
        for field in ("n_layer", "n_head", "n_kv_head", "head_dim", "context", "window"):
            value = getattr(self, field)
            if value is None and field == "window":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise UserError(f"{self.name}: {field} must be a positive integer, got {value!r}")
        layers = self.window_layers
        if layers is not None and not (isinstance(layers, int) and 0 <= layers <= self.n_layer):
            raise UserError(f"{self.name}: window_layers must be 0..{self.n_layer}, got {layers}")
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

    @property
    def sliding_layers(self) -> int:
        """How many layers keep only the last `window` positions."""
        if self.window is None:
            return 0
        return self.n_layer if self.window_layers is None else self.window_layers

    def bytes_per_token(self, dtype_bytes: int = 4, batch: int = 1) -> int:
        """What one more token adds while the text is shorter than the window."""
        return 2 * self.n_layer * self.n_kv_head * self.head_dim * dtype_bytes * batch

    def mha_bytes_per_token(self, dtype_bytes: int = 4, batch: int = 1) -> int:
        """The same model's cache had it one key/value head per query head."""
        return 2 * self.n_layer * self.n_head * self.head_dim * dtype_bytes * batch

    def bytes_at(self, tokens: int | None = None, dtype_bytes: int = 4, batch: int = 1) -> int:
        """The cache after `tokens` tokens (default: the full context) for `batch` rows:
        every sliding layer holds at most `window` of them."""
        return self._bytes_at(self.n_kv_head, tokens, dtype_bytes, batch)

    def mha_bytes_at(self, tokens: int | None = None, dtype_bytes: int = 4, batch: int = 1) -> int:
        """`bytes_at` had the model one key/value head per query head."""
        return self._bytes_at(self.n_head, tokens, dtype_bytes, batch)

    def _bytes_at(self, heads: int, tokens: int | None, dtype_bytes: int, batch: int) -> int:
        n = self.context if tokens is None else tokens
        sliding = self.sliding_layers
        held = (self.n_layer - sliding) * n + sliding * min(n, self.window or n)
        return 2 * heads * self.head_dim * dtype_bytes * batch * held

    def memory(self, tokens: int | None = None, dtype_bytes: int = 4, batch: int = 1) -> dict:
        """Every figure `attento kv-cache` and the explainer's KV-cache view show, in bytes:
        per token, after `tokens` tokens, at full context, and the same with MHA."""
        n = self.context if tokens is None else tokens
        return {
            "attention": self.kind,
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "n_kv_head": self.n_kv_head,
            "head_dim": self.head_dim,
            "context": self.context,
            "window": self.window,
            "window_layers": self.sliding_layers,
            "dtype_bytes": dtype_bytes,
            "batch": batch,
            "tokens": n,
            "bytes_per_token": self.bytes_per_token(dtype_bytes, batch),
            "bytes": self.bytes_at(n, dtype_bytes, batch),
            "bytes_full": self.bytes_at(None, dtype_bytes, batch),
            "mha_bytes_per_token": self.mha_bytes_per_token(dtype_bytes, batch),
            "mha_bytes": self.mha_bytes_at(n, dtype_bytes, batch),
            "mha_bytes_full": self.mha_bytes_at(None, dtype_bytes, batch),
            "saving": self.saving,
        }

    @property
    def saving(self) -> float:
        """How many times smaller the cache is than with multi-head attention."""
        return self.n_head / self.n_kv_head

    @classmethod
    def from_config(cls, config: Any, name: str = "model") -> CacheShape:
        """From an attento model config (GPTConfig); n_kv_head defaults to n_head (MHA);
        a sliding_window slides in every layer, as attento's attention does."""
        n_head = config.n_head
        return cls(
            name,
            config.n_layer,
            n_head,
            getattr(config, "n_kv_head", None) or n_head,
            getattr(config, "head_dim", None) or config.n_embd // n_head,
            config.block_size,
            getattr(config, "sliding_window", None),
        )

    @classmethod
    def from_hf_config(cls, hf: dict[str, Any], name: str = "model") -> CacheShape:
        """From a Hugging Face config.json: GPT-2's names (n_layer, n_head, n_embd,
        n_positions) or Llama/Qwen2/Mistral's (num_hidden_layers, num_attention_heads,
        num_key_value_heads, head_dim, max_position_embeddings, sliding_window)."""
        try:
            if "n_layer" in hf:  # GPT-2 family: always multi-head
                n_head = hf["n_head"]
                return cls(
                    name, hf["n_layer"], n_head, n_head, hf["n_embd"] // n_head, hf["n_positions"]
                )
            n_head, n_layer = hf["num_attention_heads"], hf["num_hidden_layers"]
            window, layers = _hf_window(hf, n_layer)
            return cls(
                name,
                n_layer,
                n_head,
                hf.get("num_key_value_heads") or n_head,
                hf.get("head_dim") or hf["hidden_size"] // n_head,
                hf["max_position_embeddings"],
                window,
                None if layers in (0, n_layer) else layers,
            )
        except KeyError as e:
            raise UserError(f"{name}: config.json lacks {e.args[0]!r}") from None


def _hf_window(hf: dict[str, Any], n_layer: int) -> tuple[int | None, int]:
    """(sliding window, how many layers slide), read as transformers reads it: Qwen2 slides
    only with use_sliding_window, in the layers from max_window_layers on unless layer_types
    names them; a Mistral-style config with a sliding_window slides in every layer."""
    window = hf.get("sliding_window")
    if window is None or hf.get("use_sliding_window") is False:
        return None, 0
    kinds = hf.get("layer_types")
    if kinds is None:
        first = hf.get("max_window_layers", 28) if "use_sliding_window" in hf else 0
        layers = max(0, n_layer - first)
    else:
        layers = sum(kind == "sliding_attention" for kind in kinds)
    return (window, layers) if layers else (None, 0)


# Published config.json of each model (Hugging Face Hub, checked on 2026-12-02).
PUBLIC = {
    "openai-community/gpt2": CacheShape("GPT-2 small", 12, 12, 12, 64, 1024),
    "HuggingFaceTB/SmolLM2-135M": CacheShape("SmolLM2-135M", 30, 9, 3, 64, 8192),
    "Qwen/Qwen2.5-0.5B": CacheShape("Qwen2.5-0.5B", 24, 14, 2, 64, 32768),
    "meta-llama/Llama-3.2-1B": CacheShape("Llama-3.2-1B", 16, 32, 8, 64, 131072),
    "mistralai/Mistral-7B-v0.1": CacheShape("Mistral-7B-v0.1", 32, 32, 8, 128, 32768, 4096),
}
ALIASES = {"gpt2": "openai-community/gpt2"}
# Encoders read the whole text at once and never generate, so they keep no KV cache.
ENCODERS = {"bert"}


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
        if config["arch"] in ENCODERS:
            raise UserError(
                f"{model} is an encoder ({config['arch']}): it does not generate, so it has no KV cache"
            )
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


def is_encoder(model: str) -> bool:
    """Whether a bundled model is an encoder, so the kv-cache table skips it."""
    from attento.models.folder import CONFIG, read_json, resolve

    return read_json(resolve(model) / CONFIG).get("arch") in ENCODERS


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
        self.sliding_window = settings.get("sliding_window")


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

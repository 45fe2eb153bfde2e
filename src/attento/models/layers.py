"""The building blocks of a transformer, shared by every model in `attento.models`.

A transformer turns a row of token ids into a row of vectors and lets each vector look at the
others. The pieces, in the order a token meets them:

- `Embeddings`: one learned vector per token id, plus where the token stands. Position can be a
  learned table (GPT-2), fixed sines and cosines of several frequencies ("Attention Is All You
  Need", 2017), or nothing here at all: RoPE (`RotaryEmbedding`) instead rotates each query and
  key by an angle proportional to its position, so that Q·Kᵀ depends on the distance between
  two tokens.
- `MultiHeadAttention`: each token asks a question (query) that the others answer with how well
  their key matches; the softmax of the scaled matches weights their values. A causal mask hides
  the future (GPT); a padding mask hides filler tokens (BERT); with `cross=True` the keys and
  values come from another sequence (the decoder of an encoder–decoder). With fewer key/value
  heads than query heads (grouped-query attention, Llama 3 and Qwen2; multi-query with one),
  each key/value head serves a group of consecutive query heads: the KV cache shrinks by
  n_head / n_kv_head.
- `FeedForward`: the same small two-layer network applied to every position.
- `Norm`: LayerNorm (centre and scale) or RMSNorm (scale only) keeps activations in range.
- `Block`: pre-norm residual block as in GPT-2: x + attn(norm(x)), then x + mlp(norm(x));
  or post-norm as in the 2017 paper and BERT: norm(x + attn(x)), then norm(x + mlp(x)).
- `KVCache`: keys and values of tokens already processed, so generation computes each token once.

Attention has two equivalent paths: the fused `F.scaled_dot_product_attention` (fast, used
normally) and an explicit one that materialises the attention weights. The explicit path runs
while a `Trace` is recording (see trace.py), so the explainer sees exactly what the model did.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from attento.models import trace
from attento.models.trace import Traced

_GELU_C, _GELU_A = math.sqrt(2 / math.pi), 0.044715


class _SigmoidGelu(torch.autograd.Function):
    """GPT-2's GELU, ½x(1 + tanh z) with z = √(2/π)(x + 0.044715x³), computed as x·σ(2z).

    The two are the same function (1 + tanh z = 2σ(2z)), but a sigmoid is one exp while
    PyTorch's CPU tanh is about three times slower. The forward keeps s = σ(2z), so the
    backward, d/dx = s + x·s(1 - s)·2z', needs no transcendental at all. Forward + backward
    of a (768, 512) activation on 2 cores: 1.0 ms, against 1.7 ms for F.gelu's tanh kernel.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:
        two_z = torch.addcmul(x, x * x, x, value=_GELU_A).mul_(2 * _GELU_C)
        s = two_z.sigmoid_()
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        x, s = ctx.saved_tensors
        dtwo_z = torch.addcmul(x.new_tensor(2 * _GELU_C), x, x, value=6 * _GELU_A * _GELU_C)
        d = torch.addcmul(s, s, s, value=-1).mul_(x).mul_(dtwo_z)  # x·s(1 - s)·2z'
        return d.add_(s).mul_(grad)


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GELU with GPT-2's tanh approximation ("gelu_new"): the sigmoid form on CPU floats,
    F.gelu's fused kernel elsewhere (on a GPU it is one kernel, faster than any composition)."""
    if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
        return _SigmoidGelu.apply(x)
    return F.gelu(x, approximate="tanh")


ACTIVATIONS = {
    "gelu": F.gelu,
    "gelu_tanh": gelu_tanh,
    "relu": F.relu,
    "swiglu": F.silu,  # used as a gate: silu(x W_gate) * (x W_up)
}
NORMS = ("layernorm", "rmsnorm")
POS_ENCODINGS = ("learned", "sinusoidal", "rope")


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Dropout that costs nothing when it does nothing (evaluation, or p = 0): generation
    runs each layer once per token, so a skipped call is time saved on every token."""
    return F.dropout(x, p, True) if training and p > 0 else x


# --- positions -------------------------------------------------------------------------------


class SinusoidalPositions(nn.Module):
    """Fixed position vectors: PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(same).

    Each pair of dimensions is a clock at its own speed, so every position gets a distinct
    pattern and nearby positions get similar ones; nothing is learned.
    """

    def __init__(self, block_size: int, n_embd: int, base: float = 10000.0) -> None:
        super().__init__()
        self.block_size, self.n_embd, self.base = block_size, n_embd, base
        self.register_buffer("table", torch.empty(0), persistent=False)
        self.reset_buffers()

    def reset_buffers(self) -> None:
        """Compute the table; the loader of Hugging Face models (hf.py) calls this again after
        building the model on the meta device, where nothing was computed."""
        pos = torch.arange(self.block_size, dtype=torch.float64)[:, None]
        exponents = torch.arange(0, self.n_embd, 2, dtype=torch.float64)
        freq = self.base ** (-exponents / self.n_embd)
        table = torch.zeros(self.block_size, self.n_embd, dtype=torch.float64)
        table[:, 0::2] = torch.sin(pos * freq)
        table[:, 1::2] = torch.cos(pos * freq)[:, : self.n_embd // 2]
        self.table = table.float()

    def forward(self, pos: torch.Tensor) -> torch.Tensor:
        return self.table[pos]


# RoPE scalings: the settings each `rope_type` needs (names as in Hugging Face configs).
ROPE_SCALINGS = {
    "linear": ("factor",),
    "llama3": ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"),
}


def rope_frequencies(
    head_dim: int, base: float = 10000.0, scaling: dict | None = None
) -> torch.Tensor:
    """θ_i = 1 / base^(2i/Dh) for i < Dh/2, in float32 with the operations Hugging Face uses,
    so that far into a long context the angles p·θ_i are the same bit for bit.

    A model trained on contexts of L tokens never saw the slowest clocks turn far; `scaling`
    slows clocks down to stretch L. "linear" divides every θ_i by `factor`. "llama3" (Llama
    3.1) leaves the fast ones alone (wavelength 2π/θ_i < L / high_freq_factor), divides the
    slow ones (wavelength > L / low_freq_factor) by `factor`, and blends the two in between,
    with L = original_max_position_embeddings.
    """
    exponents = torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim
    inv_freq = 1.0 / (base**exponents)
    if scaling is None:
        return inv_freq
    factor = scaling["factor"]
    if scaling["rope_type"] == "linear":
        return inv_freq / factor
    context = scaling["original_max_position_embeddings"]
    low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
    wavelength = 2 * math.pi / inv_freq
    smooth = (context / wavelength - low) / (high - low)  # 0 at the slow end, 1 at the fast end
    blend = (1 - smooth) * inv_freq / factor + smooth * inv_freq
    return torch.where(
        wavelength > context / low,
        inv_freq / factor,
        torch.where(wavelength < context / high, inv_freq, blend),
    )


class RotaryEmbedding(nn.Module):
    """RoPE (Su et al., 2021): the cos/sin of angle p·θ_i for position p and frequency θ_i.

    `apply_rope` rotates each pair (x_i, x_{i+Dh/2}) of a query or key by those angles. A query
    at position m and a key at position n then meet with angle (m - n)·θ_i: attention sees
    relative positions, and there is no table limiting the length.
    """

    def __init__(self, head_dim: int, base: float = 10000.0, scaling: dict | None = None) -> None:
        super().__init__()
        self.head_dim, self.base, self.scaling = head_dim, base, scaling
        self.register_buffer("inv_freq", torch.empty(0), persistent=False)
        self.reset_buffers()

    def reset_buffers(self) -> None:
        """Compute the frequencies; the loader of Hugging Face models (hf.py) calls this again
        after building the model on the meta device, where nothing was computed."""
        self.inv_freq = rope_frequencies(self.head_dim, self.base, self.scaling)

    def forward(self, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Positions (B, T) -> cos, sin of shape (B, 1, T, Dh), broadcast over heads."""
        angles = pos[..., None].float() * self.inv_freq
        angles = torch.cat((angles, angles), dim=-1)[:, None]
        return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x (B, H, T, Dh): the first half of Dh pairs with the second half."""
    x1, x2 = x.chunk(2, dim=-1)
    rotated = torch.cat((-x2, x1), dim=-1)
    return (x * cos + rotated * sin).to(x.dtype)


class Embeddings(Traced):
    """Token id -> vector, plus a position vector for "learned" and "sinusoidal".

    `tok_scale` multiplies the token vectors before the position is added. A GPT's token
    table starts at std 0.02 (it doubles as the output projection), while sinusoids have
    amplitude 1: unscaled, position would drown out which token it is. The Transformer paper
    multiplies the embeddings by √d_model for this reason; on tinyshakespeare (4 x 128,
    1,500 steps) that took sinusoidal positions from 2.48 to 2.00 validation loss, level with
    learned positions (1.99).
    """

    def __init__(
        self,
        vocab_size: int,
        n_embd: int,
        block_size: int,
        pos_encoding: str,
        dropout: float,
        tok_scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab_size, n_embd)
        self.tok_scale = tok_scale
        self.pos: nn.Module | None = None
        if pos_encoding == "learned":
            self.pos = nn.Embedding(block_size, n_embd)
        elif pos_encoding == "sinusoidal":
            self.pos = SinusoidalPositions(block_size, n_embd)
        self.dropout = dropout

    def forward(self, idx: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """idx (B, T) token ids, pos (B or 1, T) positions -> (B, T, C)."""
        x = self.tok(idx)
        if self.tok_scale != 1.0:
            x = x * self.tok_scale
        tracing = trace.active() is not None
        if tracing:
            self.record("tok", x)
        if self.pos is not None:
            p = self.pos(pos)
            if tracing:
                self.record("pos", p.expand_as(x))
            x = x + p
        if tracing:
            self.record("sum", x)
        return dropout(x, self.dropout, self.training)


# --- attention -------------------------------------------------------------------------------


class LayerCache:
    """Keys and values (B, H_kv, T, Dh) one attention layer has seen so far.

    They live in buffers with room to spare (doubled when full), so appending one token's key
    and value is a copy into place rather than a new concatenated tensor at every step.

    With a sliding `window` of W, a query sees only the last W keys (itself included), so no
    future query needs a key older than the last W - 1: before each append the older ones are
    dropped, and the buffer stays under ~2(W + the tokens of one call) positions however long
    the text grows. `length` still counts every position seen (the next token's position);
    `start` is the position of the first key kept."""

    def __init__(self, window: int | None = None) -> None:
        self._k: torch.Tensor | None = None
        self._v: torch.Tensor | None = None
        self.length = 0
        self.start = 0
        self.window = window

    @property
    def k(self) -> torch.Tensor | None:
        return None if self._k is None else self._k[:, :, : self.length - self.start]

    @property
    def v(self) -> torch.Tensor | None:
        return None if self._v is None else self._v[:, :, : self.length - self.start]

    def _slide(self) -> None:
        """Drop the keys/values no later query can see (all but the last window - 1)."""
        assert self._k is not None and self._v is not None and self.window is not None
        keep = self.window - 1
        drop = self.length - self.start - keep
        if drop <= 0:
            return
        self._k[:, :, :keep] = self._k[:, :, drop : drop + keep].clone()
        self._v[:, :, :keep] = self._v[:, :, drop : drop + keep].clone()
        self.start += drop

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append the new keys/values and return all of them (those kept, with a window)."""
        if self.window is not None and self._k is not None:
            self._slide()
        begin, end = self.length - self.start, self.length - self.start + k.size(2)
        if self._k is None or self._v is None or end > self._k.size(2):
            room = max(end, 2 * (self._k.size(2) if self._k is not None else 0), 64)
            if self.window is not None:
                room = max(end, min(room, 2 * (self.window + k.size(2))))
            shape = (*k.shape[:2], room, k.size(3))
            new_k, new_v = k.new_empty(shape), v.new_empty(shape)
            if self._k is not None and self._v is not None:
                new_k[:, :, :begin] = self._k[:, :, :begin]
                new_v[:, :, :begin] = self._v[:, :, :begin]
            self._k, self._v = new_k, new_v
        self._k[:, :, begin:end] = k
        self._v[:, :, begin:end] = v
        self.length = self.start + end
        return self._k[:, :, :end], self._v[:, :, :end]

    def crop(self, length: int) -> None:
        if length < self.length and self.start > max(0, length - (self.window or 1) + 1):
            raise ValueError(
                f"a sliding-window cache kept positions from {self.start} on: it cannot roll "
                f"back to {length} tokens"
            )
        self.length = min(self.length, length)


class KVCache:
    """One `LayerCache` per block, plus which cached positions are real (not padding)."""

    def __init__(self, n_layer: int, batch_size: int, window: int | None = None) -> None:
        self.layers = [LayerCache(window) for _ in range(n_layer)]
        self.batch_size = batch_size
        self.valid: torch.Tensor | None = None  # (B, length) bool, None = all real

    @property
    def length(self) -> int:
        """Number of tokens cached (the same for every layer between forward passes)."""
        return self.layers[-1].length

    def crop(self, length: int) -> None:
        """Forget every token after the first `length` (e.g. to roll back a draft)."""
        for layer in self.layers:
            layer.crop(length)
        if self.valid is not None:
            self.valid = self.valid[:, :length]


class MultiHeadAttention(Traced):
    """softmax(Q·Kᵀ/√Dh + mask)·V in n_head heads of size Dh (n_embd / n_head unless given),
    then W_O.

    Self-attention projects q, k, v from x with one fused matrix `qkv` (rows: the n_head query
    heads, then the n_kv_head key heads, then the n_kv_head value heads). With `cross=True`, q
    comes from x and k, v from a separate `source` sequence (`q` and `kv` matrices). Query head
    h reads key/value head h // (n_head / n_kv_head), as Hugging Face's `repeat_kv` does; the
    cache and the trace hold the n_kv_head heads only. `bias` is for q, k, v; `out_bias` (None:
    the same) for W_O, which Qwen2 has without one. With a sliding `window` W (causal
    self-attention only), a query sees at most the last W keys, itself included (Mistral's and
    Qwen2's `sliding_window`); the KV cache then keeps only those (`LayerCache`).
    With a `cache`, self-attention appends the new keys/values to it; cross-attention fills it
    once from `source` and reads the source's keys/values from it at every later step.
    `mask` is a bool tensor broadcastable to (B, H, T, Tk), True where a query may look at a
    key; it is combined with the causal mask when `causal`. In self-attention a token may always
    look at itself, so a padding token never has an empty (NaN) row.
    """

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        *,
        causal: bool,
        cross: bool = False,
        bias: bool = True,
        dropout: float = 0.0,
        n_kv_head: int | None = None,
        head_dim: int | None = None,
        out_bias: bool | None = None,
        window: int | None = None,
    ) -> None:
        super().__init__()
        if window is not None and not (causal and not cross):
            raise ValueError("a sliding window is for causal self-attention")
        self.window = window
        self.n_head, self.n_kv_head = n_head, n_head if n_kv_head is None else n_kv_head
        self.head_dim = n_embd // n_head if head_dim is None else head_dim
        self.causal, self.cross, self.dropout = causal, cross, dropout
        q_dim, kv_dim = self.n_head * self.head_dim, self.n_kv_head * self.head_dim
        self.split = (q_dim, kv_dim, kv_dim)
        if cross:
            self.q = nn.Linear(n_embd, q_dim, bias=bias)
            self.kv = nn.Linear(n_embd, 2 * kv_dim, bias=bias)
        else:
            self.qkv = nn.Linear(n_embd, q_dim + 2 * kv_dim, bias=bias)
        self.proj = nn.Linear(q_dim, n_embd, bias=bias if out_bias is None else out_bias)

    def forward(
        self,
        x: torch.Tensor,
        source: torch.Tensor | None = None,
        *,
        mask: torch.Tensor | None = None,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        cache: LayerCache | None = None,
    ) -> torch.Tensor:
        B, T, _ = x.shape
        H, Hkv, Dh = self.n_head, self.n_kv_head, self.head_dim
        if self.cross:
            q = self.q(x).view(B, T, H, Dh).transpose(1, 2)
            if cache is not None and cache.length:  # the source's keys/values, computed once
                k, v = cache.k, cache.v
            else:
                if source is None:
                    raise ValueError("cross-attention needs a source sequence")
                Ts = source.size(1)
                k, v = self.kv(source).view(B, Ts, 2, Hkv, Dh).permute(2, 0, 3, 1, 4).unbind(0)
                if cache is not None:
                    k, v = cache.update(k, v)
        else:  # one projection, cut into heads of Dh, then split into (B, heads, T, Dh) each
            heads = self.qkv(x).view(B, T, H + 2 * Hkv, Dh).transpose(1, 2)
            q, k, v = heads.split((H, Hkv, Hkv), dim=1)
            if rope is not None:
                q, k = apply_rope(q, *rope), apply_rope(k, *rope)
            if cache is not None:
                k, v = cache.update(k, v)
        if mask is not None and mask.size(-1) > k.size(2):
            mask = mask[..., -k.size(2) :]  # a sliding-window cache dropped the oldest keys

        tracing = trace.active() is not None
        gqa = Hkv != H
        windowed = self.window is not None and k.size(2) > self.window
        if tracing:
            y, _ = self.explicit(q, k, v, self._full_mask(mask, T, k.size(2), x.device))
        elif windowed and mask is None and k.size(2) == T >= 2 * self.window:
            y = self._local(q, k, v)
        elif mask is None and self.causal and k.size(2) == T and not windowed:
            y = F.scaled_dot_product_attention(
                q, k, v, dropout_p=self._p(), is_causal=True, enable_gqa=gqa
            )
        else:
            full = self._full_mask(mask, T, k.size(2), x.device)
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=full, dropout_p=self._p(), enable_gqa=gqa
            )
        y = y.transpose(1, 2).contiguous().view(B, T, H * Dh)
        out = self.proj(y)
        if tracing:
            self.record("heads", y)
            self.record("out", out)
        return dropout(out, self.dropout, self.training)

    def _p(self) -> float:
        return self.dropout if self.training else 0.0

    def _local(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Sliding-window attention in blocks of W queries, each reading its own block of keys
        and the one before (2W keys, under a fixed band mask): memory and time grow as T·W
        instead of the T x T of a full mask. The text is padded at the end to whole blocks
        (padded keys come after every real query, so the causal band hides them)."""
        W, (B, H, T, Dh), Hkv = self.window, q.shape, k.size(1)
        pad = (-T) % W
        if pad:
            q, k, v = (F.pad(t, (0, 0, 0, pad)) for t in (q, k, v))
        n = (T + pad) // W

        def blocks(t: torch.Tensor, heads: int) -> torch.Tensor:  # -> (B·n, heads, W, Dh)
            return t.view(B, heads, n, W, Dh).transpose(1, 2).reshape(B * n, heads, W, Dh)

        def with_previous(t: torch.Tensor) -> torch.Tensor:  # -> (B·n, Hkv, 2W, Dh)
            t = t.view(B, n, Hkv, W, Dh)
            before = torch.cat((torch.zeros_like(t[:, :1]), t[:, :-1]), dim=1)
            return torch.cat((before, t), dim=3).view(B * n, Hkv, 2 * W, Dh)

        i = torch.arange(W, device=q.device)[:, None]
        j = torch.arange(2 * W, device=q.device)[None, :]
        band = (j > i) & (j <= W + i)  # key j sits W + i - j positions before query i
        mask = band.expand(n, 1, W, 2 * W).clone()
        mask[0, :, :, :W] = False  # the first block has no block before it
        y = F.scaled_dot_product_attention(
            blocks(q, H),
            with_previous(blocks(k, Hkv)),
            with_previous(blocks(v, Hkv)),
            attn_mask=mask.repeat(B, 1, 1, 1),
            dropout_p=self._p(),
            enable_gqa=Hkv != H,
        )
        return y.view(B, n, H, W, Dh).transpose(1, 2).reshape(B, H, n * W, Dh)[:, :, :T]

    def _full_mask(
        self, mask: torch.Tensor | None, T: int, Tk: int, device: torch.device
    ) -> torch.Tensor | None:
        """Combine the caller's mask with the causal one (and the sliding window); None when
        every key is visible.

        With a cache the T queries are the last T of Tk positions, so query i sits at Tk - T + i.
        """
        if self.causal and T > 1:
            rows = torch.arange(Tk - T, Tk, device=device)[:, None]
            causal = torch.arange(Tk, device=device)[None, :] <= rows
            mask = causal if mask is None else mask & causal
        if self.window is not None and Tk > self.window:
            rows = torch.arange(Tk - T, Tk, device=device)[:, None]
            near = torch.arange(Tk, device=device)[None, :] > rows - self.window
            mask = near if mask is None else mask & near
        if mask is not None and not self.cross:
            rows = torch.arange(Tk - T, Tk, device=device)[:, None]
            mask = mask | (torch.arange(Tk, device=device)[None, :] == rows)
        return mask

    def explicit(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The textbook formula step by step -> (output, weights (B, H, T, Tk)).

        q is (B, H, T, Dh), k and v (B, H_kv, Tk, Dh); mask is the full bool mask (see
        `_full_mask`). Each step is recorded while tracing."""
        group = self.n_head // self.n_kv_head
        k_all, v_all = (t.repeat_interleave(group, dim=1) if group > 1 else t for t in (k, v))
        scores = q @ k_all.transpose(-2, -1)
        scaled = scores / math.sqrt(self.head_dim)
        if mask is not None:
            scaled = scaled.masked_fill(~mask, float("-inf"))
        weights = F.softmax(scaled, dim=-1)
        if trace.active() is not None:
            for name, tensor in (("q", q), ("k", k), ("v", v), ("scores", scores)):
                self.record(name, tensor)
            self.record("scaled_masked", scaled)
            self.record("weights", weights)
        return F.dropout(weights, self._p()) @ v_all, weights


# --- feed-forward, norms, block --------------------------------------------------------------


class FeedForward(Traced):
    """Position-wise MLP: proj(act(fc(x))); with swiglu, proj(silu(gate(x)) * fc(x))."""

    def __init__(
        self, n_embd: int, hidden: int, activation: str, bias: bool = True, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.act, self.gated = ACTIVATIONS[activation], activation == "swiglu"
        self.fc = nn.Linear(n_embd, hidden, bias=bias)
        if self.gated:
            self.gate = nn.Linear(n_embd, hidden, bias=bias)
        self.proj = nn.Linear(hidden, n_embd, bias=bias)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gated:
            h = self.gate(x)
            a = self.act(h) * self.fc(x)
        else:
            h = self.fc(x)
            a = self.act(h)
        out = self.proj(a)
        if trace.active() is not None:
            self.record("hidden", h)
            self.record("act", a)
            self.record("out", out)
        return dropout(out, self.dropout, self.training)


class Norm(Traced):
    """LayerNorm ((x - mean) / std · w + b) or RMSNorm (x / rms · w), over the last dim."""

    def __init__(self, kind: str, dim: int, eps: float = 1e-5, bias: bool = True) -> None:
        super().__init__()
        self.kind, self.eps = kind, eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias and kind == "layernorm" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "layernorm":
            y = F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)
        else:
            y = F.rms_norm(x, self.weight.shape, self.weight, self.eps)
        if trace.active() is not None:
            self.record("", y)
        return y


class Block(Traced):
    """Pre-norm transformer block (GPT-2): x + attn(ln1(x)), then x + mlp(ln2(x)).

    `norm_first=False` gives the post-norm block of the 2017 paper and BERT,
    ln1(x + attn(x)), then ln2(x + mlp(x)): the norm follows each residual addition, so the
    stream itself is normalised (pre-norm leaves the stream unnormalised and trains more
    easily when deep). Either way `resid_mid` and `out` record the stream.
    `cross=True` gives the decoder block of an encoder–decoder: between the two, a third
    sub-layer x + cross(ln_cross(x), memory) (or its post-norm form) lets the target's queries
    read the encoder's output; `resid_cross` records the stream after it.
    """

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        ffn_hidden: int,
        *,
        activation: str = "gelu",
        norm: str = "layernorm",
        norm_eps: float = 1e-5,
        bias: bool = True,
        dropout: float = 0.0,
        causal: bool = True,
        norm_first: bool = True,
        n_kv_head: int | None = None,
        head_dim: int | None = None,
        qkv_bias: bool | None = None,
        attn_out_bias: bool | None = None,
        mlp_bias: bool | None = None,
        cross: bool = False,
        window: int | None = None,
    ) -> None:
        """`bias` is for the norms and, unless their own flag says otherwise (None), for q/k/v,
        W_O and the feed-forward network; `window`: a sliding attention window (None: all)."""
        super().__init__()
        self.norm_first = norm_first
        self.ln1 = Norm(norm, n_embd, norm_eps, bias)
        self.attn = MultiHeadAttention(
            n_embd,
            n_head,
            causal=causal,
            bias=bias if qkv_bias is None else qkv_bias,
            out_bias=bias if attn_out_bias is None else attn_out_bias,
            dropout=dropout,
            n_kv_head=n_kv_head,
            head_dim=head_dim,
            window=window,
        )
        self.cross: MultiHeadAttention | None = None
        if cross:
            self.ln_cross = Norm(norm, n_embd, norm_eps, bias)
            self.cross = MultiHeadAttention(
                n_embd, n_head, causal=False, cross=True, bias=bias, dropout=dropout
            )
        self.ln2 = Norm(norm, n_embd, norm_eps, bias)
        self.mlp = FeedForward(
            n_embd, ffn_hidden, activation, bias if mlp_bias is None else mlp_bias, dropout
        )

    def forward(
        self,
        x: torch.Tensor,
        *,
        mask: torch.Tensor | None = None,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        cache: LayerCache | None = None,
        memory: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        cross_cache: LayerCache | None = None,
    ) -> torch.Tensor:
        """`memory` (B, S, C), `memory_mask` and `cross_cache` are for the cross-attention of
        a `cross=True` block: the encoder's output, its real positions, its cached keys/values."""
        if self.norm_first:
            x = x + self.attn(self.ln1(x), mask=mask, rope=rope, cache=cache)
        else:
            x = self.ln1(x + self.attn(x, mask=mask, rope=rope, cache=cache))
        tracing = trace.active() is not None
        if tracing:
            self.record("resid_mid", x)
        if self.cross is not None:
            kw = dict(mask=memory_mask, cache=cross_cache)
            if self.norm_first:
                x = x + self.cross(self.ln_cross(x), memory, **kw)
            else:
                x = self.ln_cross(x + self.cross(x, memory, **kw))
            if tracing:
                self.record("resid_cross", x)
        x = x + self.mlp(self.ln2(x)) if self.norm_first else self.ln2(x + self.mlp(x))
        if tracing:
            self.record("out", x)
        return x

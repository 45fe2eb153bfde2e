"""Record every intermediate tensor of one forward pass, to look inside the model.

The layers do not use hooks: each one asks `active()` for the trace of the current context and,
when one is recording, hands it a detached CPU copy of what it just computed. With no trace
active the cost is that one lookup. The active trace lives in a `contextvars.ContextVar`, not a
module global, so a server tracing one request on one thread while another thread runs the
same model plainly (or traces another request) gives each caller its own records. The only change of code path is in attention: while tracing it takes
the explicit route `softmax(Q·Kᵀ/√d + mask)·V`, because the fused kernel never materialises the
attention weights.

    with Trace() as tr:
        logits = model(idx)
    tr.records["blocks.0.attn.weights"]  # (B, H, T, T), rows sum to 1

Names recorded by a GPT (B batch, T new tokens, Tk = tokens attended to, i.e. cache + T,
C = n_embd, H = n_head, Hkv = n_kv_head (= H unless grouped-query attention), Dh = head size
(C / H unless the config sets head_size), F = ffn_hidden, V = vocab_size):

- `embed.tok`                  (B, T, C)   token embeddings (one row of the table per token;
                                           times √C beside sinusoidal positions)
- `embed.pos`                  (B, T, C)   position vectors added to them (absent with RoPE,
                                           which rotates q and k instead)
- `embed.sum`                  (B, T, C)   their sum: what enters the first block
- `blocks.{i}.ln1`             (B, T, C)   normalised input of attention
- `blocks.{i}.attn.q`          (B, H, T, Dh)  queries (after RoPE, if used)
- `blocks.{i}.attn.k`          (B, Hkv, Tk, Dh) keys, cached ones included (after RoPE, if
                                           used); query head h reads key head h // (H / Hkv)
- `blocks.{i}.attn.v`          (B, Hkv, Tk, Dh) values, cached ones included
- `blocks.{i}.attn.scores`     (B, H, T, Tk)  raw Q·Kᵀ
- `blocks.{i}.attn.scaled_masked` (B, H, T, Tk) Q·Kᵀ/√Dh with -inf where a token may not look
- `blocks.{i}.attn.weights`    (B, H, T, Tk)  softmax of the above: each row sums to 1
- `blocks.{i}.attn.heads`      (B, T, H·Dh) the heads' outputs side by side, before W_O
- `blocks.{i}.attn.out`        (B, T, C)   after the output projection W_O
- `blocks.{i}.resid_mid`       (B, T, C)   residual stream after attention: x + attn
- `blocks.{i}.ln2`             (B, T, C)   normalised input of the feed-forward network
- `blocks.{i}.mlp.hidden`      (B, T, F)   first projection, before the activation
                                           (for swiglu: the gate's input projection)
- `blocks.{i}.mlp.act`         (B, T, F)   after the activation (for swiglu: silu(gate) * up)
- `blocks.{i}.mlp.out`         (B, T, C)   second projection, back to C
- `blocks.{i}.out`             (B, T, C)   residual stream leaving the block
- `ln_f`                       (B, T, C)   final normalisation
- `logits`                     (B, T, V)   one score per vocabulary token

An encoder–decoder (seq2seq.py; S source tokens, T target tokens) records the same names per
block under `encoder.{i}` (self-attention without a causal mask: rows over all S tokens) and
`decoder.{i}` (masked self-attention over the target), plus, in each decoder block:

- `decoder.{i}.ln_cross`       (B, T, C)   normalised input of cross-attention (pre-norm;
                                           post-norm normalises after the residual sum)
- `decoder.{i}.cross.q`        (B, H, T, Dh)  the target's queries
- `decoder.{i}.cross.k`, `.v`  (B, H, S, Dh)  keys and values of the encoder's output
- `decoder.{i}.cross.weights`  (B, H, T, S)  which source tokens each target token reads
                               (`scores`, `scaled_masked`, `heads`, `out` as in self-attention)
- `decoder.{i}.resid_cross`    (B, T, C)   residual stream after cross-attention
and `logits` (B, T, V) after the decoder; the embeddings record as `embed.*` for each stack
(the decoder's call comes last, so it is the one kept).

If the model runs several times inside one trace (e.g. a generation loop), each name keeps the
last value.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from types import TracebackType

import torch
from torch import nn

# The trace being recorded in this context (thread, task), or None.
_current: ContextVar[Trace | None] = ContextVar("attento_trace", default=None)


def active() -> Trace | None:
    """The trace recording in this context, or None. Layers call this once per forward.

    A step compiled by `torch.compile` (generate/static.py) never records: the compiler cannot
    read a context variable, and a compiled graph has no place for the copies."""
    if torch.compiler.is_compiling():
        return None
    return _current.get()


class Trace:
    """Context manager collecting named intermediate tensors in `records`."""

    def __init__(self) -> None:
        self.records: dict[str, torch.Tensor] = {}
        self._token: Token[Trace | None] | None = None

    def record(self, name: str, tensor: torch.Tensor) -> None:
        self.records[name] = tensor.detach().to("cpu", copy=True)

    def __enter__(self) -> Trace:
        self._token = _current.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None


class Traced(nn.Module):
    """A module that records under its own dotted name (set by `name_modules`)."""

    trace_name: str = ""

    def record(self, suffix: str, tensor: torch.Tensor) -> None:
        """Record `tensor` as `<trace_name>.<suffix>` (or just the name when suffix is empty)."""
        tr = _current.get()
        if tr is not None:
            tr.record(".".join(part for part in (self.trace_name, suffix) if part), tensor)


def name_modules(root: nn.Module) -> None:
    """Give every `Traced` submodule its path in `root` (e.g. "blocks.0.attn") as trace name."""
    for name, module in root.named_modules():
        if isinstance(module, Traced):
            module.trace_name = name

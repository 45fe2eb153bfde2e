"""One forward pass of a real model, as the JSON the explainer page draws, in parts.

A real model's trace is too big to send at once (GPT-2 small, 64 tokens: ~45 MB of float32),
so the page asks for it in the order a person looks at it, each part cut from the records of
one traced forward pass (traces.py):

- `overview`: what the page shows first: the tokens, the embeddings (token vector + position
  vector = sum), the residual stream's summary (each token's norm and cosine after every
  sub-layer) with the last token's vectors, and the final step (last hidden state, the exact
  logits, the top candidates);
- `block_view`: one transformer block, when it is opened: attention per head in its stages
  (Q, K, V; Q·Kᵀ; scaled and masked; softmax), Add & Norm, feed-forward;
- `stack_view`: another token's vectors after every sub-layer (the stack view's picker);
- `cell_value`: the exact float32 of one number of one record (the cell under the mouse).

Heat maps travel as u8 (tensors.py), attention weights as f16 (they are read as
percentages), and the logits as exact float32: the page's temperature / top-k / top-p sliders
turn them into exactly the probabilities `attento.generate.filter_logits` gives, for every
token of the vocabulary, with no round trip. Every number comes from the records; nothing is
recomputed except summaries of them (norms, cosines, histograms), which the page labels.

Grouped-query attention is shown as it is: the keys and values of a block have n_kv_head
heads, and query head h reads key/value head h // (n_head / n_kv_head) (models/trace.py).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from attento.errors import UserError
from attento.explain import traces
from attento.explain.tensors import pack
from attento.explain.traces import Recorded

TOP_LOGITS = 50  # tokens listed by name in the final step
HIST_BINS = 40


def token_list(tokenizer: Any, ids: list[int]) -> list[dict[str, Any]]:
    return [{"id": int(i), "text": tokenizer.token_str(int(i))} for i in ids]


def histogram(t: torch.Tensor, bins: int = HIST_BINS) -> dict[str, Any]:
    """Counts of the values of `t` in `bins` equal-width bins between its min and max."""
    a = t.float().flatten()
    lo, hi = float(a.min()), float(a.max())
    if hi <= lo:
        hi = lo + 1.0
    counts = torch.histc(a, bins=bins, min=lo, max=hi)
    edges = torch.linspace(lo, hi, bins + 1)
    return {
        "counts": [int(c) for c in counts.tolist()],
        "edges": [float(f"{e:.4g}") for e in edges.tolist()],
        "mean": float(f"{a.mean():.4g}"),
        "std": float(f"{a.std(unbiased=False):.4g}"),
        "positive": float(f"{(a > 0).float().mean():.4g}"),
    }


def _row_stats(x: torch.Tensor, prev: torch.Tensor | None) -> dict[str, Any]:
    """Per-token norm of a (T, C) residual stream, and cosine to the previous stage."""
    norms = x.norm(dim=-1)
    out: dict[str, Any] = {"norm": [float(f"{v:.4g}") for v in norms.tolist()]}
    if prev is not None:
        cos = torch.nn.functional.cosine_similarity(x, prev, dim=-1)
        out["cos_prev"] = [float(f"{v:.4g}") for v in cos.tolist()]
    return out


def stream_names(n_layer: int) -> list[str]:
    """The residual stream's records in order: the input, then after each sub-layer."""
    names = ["embed.sum"]
    for i in range(n_layer):
        names += [f"blocks.{i}.resid_mid", f"blocks.{i}.out"]
    return names


def heads_of(config: Any) -> tuple[int, int]:
    """(query heads, key/value heads) of a GPT config; models without grouped-query attention
    have as many of each."""
    n_head = config.n_head
    n_kv = getattr(config, "kv_heads", None) or getattr(config, "n_kv_head", None) or n_head
    return n_head, n_kv


def check_block(i: int, n_layer: int) -> None:
    """Refuse a block index the model does not have."""
    if not 0 <= i < n_layer:
        raise UserError(
            f"block {i} does not exist: this model has blocks 0..{n_layer - 1}",
            code="bad_block",
            params={"block": i, "blocks": n_layer},
        )


def check_position(pos: int, tokens: int) -> None:
    """Refuse a token position outside the prompt."""
    if not 0 <= pos < tokens:
        raise UserError(
            f"position {pos} is outside the prompt (0..{tokens - 1})",
            code="bad_position",
            params={"pos": pos, "tokens": tokens},
        )


def block_view(rec: Recorded, i: int, config: Any) -> dict[str, Any]:
    """Block i: attention per head in its stages, Add & Norm, feed-forward."""
    check_block(i, config.n_layer)
    p = f"blocks.{i}."

    def u8(suffix: str) -> dict[str, Any] | None:
        name = p + suffix
        return pack(rec[name], dtype="u8", name=name) if name in rec else None

    n_head, n_kv = heads_of(config)
    return {
        "block": i,
        "n_head": n_head,
        "n_kv_head": n_kv,
        "ln1": u8("ln1"),
        "q": u8("attn.q"),  # (H, T, Dh)
        "k": u8("attn.k"),  # (Hkv, T, Dh): query head h reads h // (H / Hkv)
        "v": u8("attn.v"),
        "scores": u8("attn.scores"),  # None for long prompts (traces.STAGES_MAX_T)
        "scaled_masked": u8("attn.scaled_masked"),
        "weights": pack(rec[p + "attn.weights"], dtype="f16", name=p + "attn.weights"),
        "heads": u8("attn.heads"),
        "attn_out": u8("attn.out"),
        "resid_mid": u8("resid_mid"),
        "ln2": u8("ln2"),
        "mlp_hidden": u8("mlp.hidden"),
        "mlp_act": u8("mlp.act"),
        "mlp_out": u8("mlp.out"),
        "out": u8("out"),
        "hist_hidden": histogram(rec[p + "mlp.hidden"]),
        "hist_act": histogram(rec[p + "mlp.act"]),
    }


def stack_view(rec: Recorded, n_layer: int, pos: int) -> dict[str, Any]:
    """Token `pos`'s vector after every sub-layer: one (stages, C) heat map, one row a stage."""
    check_position(pos, rec["embed.sum"].shape[0])
    names = stream_names(n_layer)
    vectors = torch.stack([rec[name][pos] for name in names])
    return {"pos": pos, "rows": names, "vectors": pack(vectors, dtype="u8")}


def stream_view(rec: Recorded, n_layer: int) -> dict[str, Any]:
    """The residual stream after each sub-layer: what each block adds to every token."""
    stages, prev = [], None
    for name in stream_names(n_layer):
        x = rec[name].float()
        stages.append({"name": name, **_row_stats(x, prev)})
        prev = x
    return {"stages": stages}


def final_view(rec: Recorded, tokenizer: Any) -> dict[str, Any]:
    """Last position: hidden state -> vocabulary projection -> logits (exact)."""
    hidden = rec["ln_f"][-1]
    logits = rec["logits"][-1].float()
    top = torch.topk(logits, min(TOP_LOGITS, logits.numel()))
    return {
        "hidden": pack(hidden, name="ln_f"),
        "logits": pack(logits, max_width=logits.numel()),
        "top": [
            {"id": int(i), "text": tokenizer.token_str(int(i)), "logit": float(v)}
            for v, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
        ],
    }


def overview(model: Any, tokenizer: Any, ids: list[int], rec: Recorded) -> dict[str, Any]:
    """What the page draws first for `ids` (the blocks come one by one: block_view)."""
    n_layer = model.config.n_layer
    n_head, n_kv = heads_of(model.config)
    return {
        "tokens": token_list(tokenizer, ids),
        "embed": {
            "tok": pack(rec["embed.tok"], dtype="u8", name="embed.tok"),
            "tok_scale": model.embed.tok_scale,  # √C beside sinusoids, else 1 (layers.py)
            "pos": pack(rec["embed.pos"], dtype="u8", name="embed.pos")
            if "embed.pos" in rec
            else None,
            "sum": pack(rec["embed.sum"], dtype="u8", name="embed.sum"),
        },
        "attention": {"n_head": n_head, "n_kv_head": n_kv, "group": n_head // n_kv},
        "stream": {**stream_view(rec, n_layer), "focus": stack_view(rec, n_layer, len(ids) - 1)},
        "final": final_view(rec, tokenizer),
    }


def cell_value(rec: Recorded, name: str, index: list[int]) -> dict[str, Any]:
    """The exact float32 number at `index` of record `name` (batch row already removed)."""
    if name not in rec:
        raise UserError(
            "no such tensor in this model's trace", code="bad_cell", params={"field": "name"}
        )
    t = rec[name]
    if len(index) != t.dim() or any(not 0 <= k < n for k, n in zip(index, t.shape, strict=True)):
        raise UserError(
            f"index outside the tensor's shape {list(t.shape)}",
            code="bad_cell",
            params={"field": "index"},
        )
    value = float(t[tuple(index)])
    if math.isfinite(value):
        return {"name": name, "index": index, "value": value}
    return {"name": name, "index": index, "value": None, "text": str(value)}


def trace_view(model: Any, tokenizer: Any, ids: list[int]) -> dict[str, Any]:
    """The overview and every block of `ids` in one dict (for tests and notebooks)."""
    rec = traces.record(model, ids)
    view = overview(model, tokenizer, ids, rec)
    view["blocks"] = [block_view(rec, i, model.config) for i in range(model.config.n_layer)]
    return view

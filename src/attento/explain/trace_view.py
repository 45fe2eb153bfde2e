"""One forward pass of a real model, as the JSON the explainer page draws.

`trace_view(model, tokenizer, ids)` runs the model once inside a `Trace` and reorganises the
recorded tensors by the stages of the course's diagram:

    tokens -> embed (token vector + position vector = sum) -> blocks[i] (attention in its
    stages, Add, FFN, Add) -> stream (how one token's vector changes from block to block)
    -> final (last hidden state, vocabulary projection, logits)

Every number comes from `tr.records`; nothing is recomputed except summaries of them (norms,
cosines, histograms), which the page labels as such. Tensors travel as exact float32
(tensors.py); in particular all the final logits do, so the page's temperature / top-k / top-p
sliders give exactly the probabilities that `attento.generate.filter_logits` gives, with no
round trip. For prompts longer than `STAGES_MAX_T` only the softmax weights of attention are
sent (the T x T pre-softmax stages grow quadratically).
"""

from __future__ import annotations

import time
from typing import Any

import torch

from attento.explain.tensors import pack

TOP_LOGITS = 50  # tokens listed by name in the final step
HIST_BINS = 40
STAGES_MAX_T = 128  # beyond this prompt length only the softmax weights of attention are sent


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


def per_query_head(kv: torch.Tensor, n_head: int) -> torch.Tensor:
    """Keys or values (H_kv, T, Dh) repeated so that row h is what query head h reads: with
    grouped-query attention several query heads share one key/value head (models/trace.py)."""
    return kv.repeat_interleave(n_head // kv.size(0), dim=0)


def block_view(rec: dict[str, torch.Tensor], i: int, T: int) -> dict[str, Any]:
    """Block i of batch row 0: attention per head in its stages, Add & Norm, feed-forward."""
    p = f"blocks.{i}."
    r = {name[len(p) :]: t[0] for name, t in rec.items() if name.startswith(p)}
    stages = T <= STAGES_MAX_T
    H = r["attn.q"].size(0)
    return {
        "ln1": pack(r["ln1"]),
        "q": pack(r["attn.q"]),
        "k": pack(per_query_head(r["attn.k"], H)),
        "v": pack(per_query_head(r["attn.v"], H)),
        "scores": pack(r["attn.scores"]) if stages else None,
        "scaled_masked": pack(r["attn.scaled_masked"]) if stages else None,
        "weights": pack(r["attn.weights"]),
        "heads": pack(r["attn.heads"]),
        "attn_out": pack(r["attn.out"]),
        "resid_mid": pack(r["resid_mid"]),
        "ln2": pack(r["ln2"]),
        "mlp_hidden": pack(r["mlp.hidden"]),
        "mlp_act": pack(r["mlp.act"]),
        "mlp_out": pack(r["mlp.out"]),
        "out": pack(r["out"]),
        "hist_hidden": histogram(r["mlp.hidden"]),
        "hist_act": histogram(r["mlp.act"]),
    }


def stream_view(rec: dict[str, torch.Tensor], n_layer: int) -> dict[str, Any]:
    """The residual stream after each sub-layer: what each block adds to every token."""
    names = ["embed.sum"]
    for i in range(n_layer):
        names += [f"blocks.{i}.resid_mid", f"blocks.{i}.out"]
    stages, prev = [], None
    for name in names:
        x = rec[name][0].float()
        stages.append({"name": name, **_row_stats(x, prev)})
        prev = x
    return {"stages": stages}


def final_view(rec: dict[str, torch.Tensor], tokenizer: Any) -> dict[str, Any]:
    """Last position: hidden state -> vocabulary projection -> logits (exact)."""
    hidden = rec["ln_f"][0, -1]
    logits = rec["logits"][0, -1].float()
    top = torch.topk(logits, min(TOP_LOGITS, logits.numel()))
    return {
        "hidden": pack(hidden),
        "logits": pack(logits, max_width=logits.numel()),
        "top": [
            {"id": int(i), "text": tokenizer.token_str(int(i)), "logit": float(v)}
            for v, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
        ],
    }


@torch.no_grad()
def trace_view(model: Any, tokenizer: Any, ids: list[int]) -> dict[str, Any]:
    """Everything the page draws for `ids`, plus how long the forward and packing took."""
    from attento.models.trace import Trace

    t0 = time.perf_counter()
    idx = torch.tensor([ids], dtype=torch.long)
    with Trace() as tr:
        model(idx)
    t1 = time.perf_counter()
    rec = tr.records
    n_layer = model.config.n_layer
    view = {
        "tokens": token_list(tokenizer, ids),
        "embed": {
            "tok": pack(rec["embed.tok"][0]),
            "tok_scale": model.embed.tok_scale,  # √C beside sinusoids, else 1 (layers.py)
            "pos": pack(rec["embed.pos"][0]) if "embed.pos" in rec else None,
            "sum": pack(rec["embed.sum"][0]),
        },
        "blocks": [block_view(rec, i, len(ids)) for i in range(n_layer)],
        "stream": stream_view(rec, n_layer),
        "ln_f": pack(rec["ln_f"][0]),
        "final": final_view(rec, tokenizer),
    }
    view["timing_ms"] = {
        "forward": round((t1 - t0) * 1000, 2),
        "total": round((time.perf_counter() - t0) * 1000, 2),
    }
    return view

"""Every head of every block at once: small attention maps and what each head mostly reads.

A teacher points at a head and says "this one looks at the previous token". The summaries say
it with numbers, from the recorded softmax weights (`blocks.{i}.attn.weights`, models/trace.py):
for each head, the mean over query positions 1..T-1 of the weight on

- the previous token (key t-1): induction and bigram heads;
- the first token (key 0): the "attention sink" where heads park weight they do not need;
- the same token (key t): a head that mostly keeps the token's own information.

Query 0 is left out of all three: it can only look at itself, which is also the first token,
so it would count as "first" and "same" for every head. With one token there is nothing to
average and the summaries are null.

The maps travel as u8 (weights in 0..1: 1/254 steps, finer than a small map's colours); for a
prompt longer than HEADS_MAX_T only the last HEADS_MAX_T queries and keys are drawn (the
summaries still use every position).
"""

from __future__ import annotations

from typing import Any

import torch

from attento.explain.tensors import pack
from attento.explain.trace_view import heads_of
from attento.explain.traces import Recorded

HEADS_MAX_T = 64  # positions drawn per map: 12 x 12 heads of 64 x 64 are 0.6 MB as u8
KINDS = ("previous", "first", "same")


def head_summaries(weights: torch.Tensor) -> dict[str, list[float] | None]:
    """weights (H, T, T) of one block -> per head, the mean weight on each KINDS position."""
    T = weights.shape[-1]
    if T < 2:
        return dict.fromkeys(KINDS)
    w = weights.float()
    q = torch.arange(1, T)
    picks = {"previous": q - 1, "first": torch.zeros_like(q), "same": q}
    return {kind: w[:, q, keys].mean(dim=-1).tolist() for kind, keys in picks.items()}


def heads_view(rec: Recorded, config: Any) -> dict[str, Any]:
    """Every block's attention weights (n_layer, H, t, t) with t <= HEADS_MAX_T, and the
    per-head summaries of each block."""
    n_head, _ = heads_of(config)
    maps, summaries = [], []
    T = rec["embed.sum"].shape[0]
    start = max(0, T - HEADS_MAX_T)
    for i in range(config.n_layer):
        w = rec[f"blocks.{i}.attn.weights"]
        maps.append(w[:, start:, start:].float())
        summaries.append(head_summaries(w))
    return {
        "n_layer": config.n_layer,
        "n_head": n_head,
        "start": start,  # the first position drawn
        "maps": pack(torch.stack(maps), dtype="u8"),
        "summaries": {k: [s[k] for s in summaries] for k in KINDS},
    }

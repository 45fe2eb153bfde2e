"""One roll of the die, and the KV cache that made it cheap.

`step_view` appends one token to `ids` with `attento.generate.generate`, the very function
behind `attento generate`, so that what the page shows is what the command line writes:

- greedy: the most likely token;
- sampling with a seed S: the die of a *run* is seeded once, when the run starts (at position
  `start`). The k-th roll of a run therefore gives the k-th token of
  `generate(ids[:start], k, seed=S)`, i.e. exactly what `attento generate --seed S` prints. If
  the tokens after `start` are not what that run would have produced (the settings changed, or
  the person stepped back and changed something), the run restarts at the current end;
- sampling without a seed: a fresh die.

Then it shows the KV cache at work on the token just drawn, as the generation loop feeds it:
the earlier tokens are run once (prefill) into the model's real cache, and the new token goes
in alone under a `Trace`. Its q, k, v are computed now; the keys and values of the earlier
tokens are read back from the cache. The logits equal those of a full recomputation; the
largest difference is reported.
"""

from __future__ import annotations

from typing import Any

import torch

from attento.explain.tensors import pack
from attento.explain.trace_view import per_query_head
from attento.generate import filter_logits, probabilities
from attento.generate.loop import generate


def choose(
    model: Any,
    ids: list[int],
    start: int,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    greedy: bool,
    seed: int | None,
) -> tuple[int, int]:
    """(next token, start of the run it belongs to); see the module docstring."""

    def run(prefix: list[int], n: int, s: int | None) -> list[int]:
        idx = torch.tensor([prefix], dtype=torch.long)
        out = generate(model, idx, n, temperature, top_k, top_p, greedy=greedy, seed=s)
        return out[0].tolist()

    if greedy or seed is None:
        return run(ids, 1, seed)[-1], start
    done = len(ids) - start
    if 0 < start <= len(ids):
        out = run(ids[:start], done + 1, seed)
        if out[:-1] == ids:
            return out[-1], start
    return run(ids, 1, seed)[-1], len(ids)


@torch.no_grad()
def cache_view(model: Any, tokenizer: Any, ids: list[int]) -> dict[str, Any]:
    """Prefill ids[:-1] into a real KV cache, then trace the last token alone; compare its
    logits with a full (cache-free) forward."""
    from attento.models.trace import Trace

    cache = model.new_cache(1)
    if len(ids) > 1:
        model(torch.tensor([ids[:-1]], dtype=torch.long), cache=cache)
    cached = cache.length
    with Trace() as tr:
        logits = model(torch.tensor([ids[-1:]], dtype=torch.long), cache=cache)[0, -1]
    full = model(torch.tensor([ids], dtype=torch.long))[0, -1]
    rec = tr.records
    layers = []
    for i in range(model.config.n_layer):
        p = f"blocks.{i}.attn."
        H = rec[p + "q"].size(1)
        layers.append(
            {
                "q": pack(rec[p + "q"][0, :, -1]),  # (H, Dh): the new token's queries
                "k": pack(per_query_head(rec[p + "k"][0], H)),  # (H, N, Dh): cached + new
                "v": pack(per_query_head(rec[p + "v"][0], H)),
                "weights": pack(rec[p + "weights"][0, :, -1]),  # (H, N)
            }
        )
    view = {
        "tokens": [{"id": int(i), "text": tokenizer.token_str(int(i))} for i in ids],
        "cached": cached,
        "new": len(ids) - cached,
        "cache_length_after": cache.length,
        "layers": layers,
        "max_abs_diff": float((logits - full).abs().max()),
    }
    return view


def step_view(
    model: Any,
    tokenizer: Any,
    ids: list[int],
    start: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    seed: int | None = None,
) -> dict[str, Any]:
    """Choose the next token after `ids`, and show the cache as the new token goes in."""
    token, start = choose(model, ids, start, temperature, top_k, top_p, greedy, seed)
    with torch.no_grad():
        logits = model(torch.tensor([ids], dtype=torch.long))[0, -1]
    probs = probabilities(filter_logits(logits.float(), temperature, top_k, top_p))
    new_ids = [*ids, token]
    view = cache_view(model, tokenizer, new_ids)
    return {
        "token": {"id": token, "text": tokenizer.token_str(token)},
        "prob": float(probs[token]),
        "ids": new_ids,
        "start": start,
        "text": tokenizer.decode(new_ids),
        "cache": view,
    }

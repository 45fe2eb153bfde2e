"""The logit lens: what the model would say next if it stopped after each block.

The residual stream leaving block i (`blocks.{i}.out`, models/trace.py) is a vector of the same
width as the one the last block hands to the final norm, so the model's own `ln_f` and
`lm_head` can read it early (nostalgebraist, "interpreting GPT: the logit lens", 2020). Row by
row this shows which block makes the final guess likely: the first ones usually predict
something plausible after the *current* token, the last ones what the whole prompt asks for.

The rows are computed by the model's modules on the recorded vectors, one position at a time,
as the forward pass computed its last position: the last row of the last position is exactly
the traced logits (a test checks it bit for bit). Nothing is recomputed in the page.
"""

from __future__ import annotations

from typing import Any

import torch

from attento.errors import UserError
from attento.explain.trace_view import check_position
from attento.explain.traces import Recorded

LENS_TOP = 5  # next tokens listed per row


def lens_names(n_layer: int) -> list[str]:
    """The residual stream the lens reads: the embeddings, then after each block."""
    return ["embed.sum", *(f"blocks.{i}.out" for i in range(n_layer))]


@torch.no_grad()
def lens_logits(model: Any, rec: Recorded, pos: int) -> torch.Tensor:
    """(n_layer + 1, V) float32: ln_f + lm_head applied to token `pos`'s stream after the
    embeddings and after each block. The rows go through in one matrix product (the vocabulary
    projection is read once, not once per block: GPT-2 small's is 150 MB); the last block's
    row again alone, shaped (1, 1, C) like the forward pass's last position, so that it is bit
    for bit the model's own logits (a product of another shape may sum in another order)."""
    device = model.lm_head.weight.device
    x = torch.stack([rec[name][pos] for name in lens_names(model.config.n_layer)]).to(device)
    rows = model.lm_head(model.ln_f(x[None]))[0]
    rows[-1] = model.lm_head(model.ln_f(x[-1][None, None]))[0, 0]
    return rows.float().cpu()


def lens_view(
    model: Any, tokenizer: Any, rec: Recorded, pos: int, target: int | None = None
) -> dict[str, Any]:
    """Token `pos`, row by row: the LENS_TOP most likely next tokens and the probability and
    rank of `target` (default: the final row's most likely token, the greedy pick)."""
    check_position(pos, rec["embed.sum"].shape[0])
    if not all(isinstance(getattr(model, m, None), torch.nn.Module) for m in ("ln_f", "lm_head")):
        raise UserError(
            "this model has no final norm and vocabulary projection to read its stream with",
            code="no_lens",
        )
    logits = lens_logits(model, rec, pos)
    vocab = logits.shape[-1]
    if target is not None and not 0 <= target < vocab:
        raise UserError(
            f"token id {target} is outside the vocabulary (0..{vocab - 1})",
            code="token_out_of_vocab",
            params={"id": target, "vocab": vocab},
        )
    probs = torch.softmax(logits, dim=-1)
    if target is None:
        target = int(torch.argmax(logits[-1]))
    top = torch.topk(probs, min(LENS_TOP, vocab), dim=-1)
    rows = []
    for k, name in enumerate(lens_names(model.config.n_layer)):
        rows.append(
            {
                "name": name,
                "block": k - 1,  # -1: the embeddings, before any block
                "top": [
                    {"id": int(i), "text": tokenizer.token_str(int(i)), "prob": float(p)}
                    for p, i in zip(top.values[k].tolist(), top.indices[k].tolist(), strict=True)
                ],
                "target_prob": float(probs[k, target]),
                "target_rank": int((logits[k] > logits[k, target]).sum()) + 1,
            }
        )
    return {
        "pos": pos,
        "target": {"id": target, "text": tokenizer.token_str(target)},
        "rows": rows,
    }

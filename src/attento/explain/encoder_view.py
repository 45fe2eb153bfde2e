"""Attention of any model, and an encoder's [MASK] guess: what encoder.html puts side by side.

The course contrasts GPT (decoder-only: each token sees only those before it, the causal
mask) with BERT (encoder-only: every token sees the whole sentence, and the model is trained
to guess hidden words from both sides). The page shows both on the same sentence:

- `decoder_attention`: a decoder's attention weights, every block and head, from the recorded
  forward pass the other views use (traces.py); the future is masked (weights exactly 0);
  and its next-token logits (the main page's final step);
- `encoder_view`: an encoder's weights (no mask: each row spreads over every token) and, for
  each [MASK] of the sentence, the MLM head's exact float32 logits over the vocabulary, which
  the page's temperature / top-k / top-p sliders turn into probabilities as the final step
  does (sampling.js); at temperature 1 they are `fill_mask`'s probabilities.

An encoder reads the sentence as `fill_mask` does: each literal "[MASK]" becomes the mask id,
and WordPiece models get [CLS] ... [SEP] around it. Every number comes from the model's own
trace (models/trace.py).
"""

from __future__ import annotations

from typing import Any

import torch

from attento.data.masking import encode_with_masks, mask_token_id
from attento.errors import UserError
from attento.explain.tensors import pack
from attento.explain.trace_view import TOP_LOGITS, final_view, heads_of, token_list
from attento.explain.traces import Recorded
from attento.models.trace import Trace


def is_encoder(model: Any) -> bool:
    """An encoder-only model (BERT): it has `encode`, and no causal language-model head."""
    return hasattr(model, "encode") and not hasattr(model, "lm_head")


def encoder_ids(tokenizer: Any, text: str) -> list[int]:
    """The ids an encoder reads for `text`, as fill_mask builds them."""
    try:
        ids = encode_with_masks(tokenizer, text)
    except UserError:  # a tokenizer without [MASK]: the text as it is
        ids = tokenizer.encode(text)
    if hasattr(tokenizer, "cls_id"):
        ids = [tokenizer.cls_id, *ids, tokenizer.sep_id]
    return ids


def _weights(records: Any, n_layer: int) -> dict[str, Any]:
    """Every block's attention weights as one (n_layer, H, T, T) half-precision tensor."""
    stacked = torch.stack([records[f"blocks.{i}.attn.weights"] for i in range(n_layer)])
    return pack(stacked, dtype="f16")


def decoder_attention(model: Any, tokenizer: Any, ids: list[int], rec: Recorded) -> dict[str, Any]:
    """A decoder's tokens, causal attention weights and next-token logits (the final step's),
    from its recorded forward pass."""
    n_head, n_kv = heads_of(model.config)
    return {
        "tokens": token_list(tokenizer, ids),
        "causal": True,
        "n_layer": model.config.n_layer,
        "n_head": n_head,
        "n_kv_head": n_kv,
        "weights": _weights(rec, model.config.n_layer),
        "next": final_view(rec, tokenizer),
        "masks": [],
    }


@torch.no_grad()
def record_encoder(model: Any, ids: list[int]) -> dict[str, torch.Tensor]:
    """One traced forward pass of an encoder (batch row 0 of every record); the MLM head runs
    when the model has one."""
    x = torch.tensor([ids], dtype=torch.long)
    with Trace() as tr:
        if getattr(model, "mlm", None) is not None:
            model(x)
        else:
            model.encode(x)
    return {name: t[0] for name, t in tr.records.items()}


def encoder_view(model: Any, tokenizer: Any, ids: list[int]) -> dict[str, Any]:
    """An encoder's tokens, bidirectional attention weights, and its guess at each [MASK]."""
    records = record_encoder(model, ids)
    try:
        mask_id = mask_token_id(tokenizer)
    except UserError:
        mask_id = None
    masks = []
    if "logits" in records and mask_id is not None:
        for pos in (i for i, t in enumerate(ids) if t == mask_id):
            logits = records["logits"][pos].float()
            top = torch.topk(logits, min(TOP_LOGITS, logits.numel()))
            masks.append(
                {
                    "pos": pos,
                    "logits": pack(logits, max_width=logits.numel()),
                    "top": [
                        {"id": int(i), "text": tokenizer.token_str(int(i)), "logit": float(v)}
                        for v, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
                    ],
                }
            )
    n_head = model.config.n_head
    return {
        "tokens": token_list(tokenizer, ids),
        "causal": False,
        "n_layer": model.config.n_layer,
        "n_head": n_head,
        "n_kv_head": n_head,
        "weights": _weights(records, model.config.n_layer),
        "mask_id": mask_id,
        "mlm_head": "logits" in records,
        "masks": masks,
    }

"""Writing with an encoder–decoder: read the source once, then the usual generation loop.

The encoder turns the source into its memory a single time; what is left is a decoder that
continues a target from BOS, which is what the loop of loop.py drives for a GPT. So an
encoder–decoder samples exactly as a GPT does (greedy, temperature, top-k, top-p, a seeded
die per row) and keeps a KV cache: the decoder's self-attention keys/values grow by one token
per step, and the source's keys/values for cross-attention are computed at the first step
and reused. A row stops at EOS; the ids returned leave out BOS and EOS.
"""

from __future__ import annotations

import torch

from attento.errors import UserError
from attento.generate.loop import generate
from attento.models.seq2seq import Seq2Seq


@torch.inference_mode()
def transduce(
    model: Seq2Seq,
    src: torch.Tensor,
    max_new_tokens: int | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    seed: int | None = None,
    use_cache: bool = True,
) -> list[list[int]]:
    """The target ids written for each source row of `src` (B, S), EOS not included.

    `max_new_tokens` (default: as many as the target fits, block_size - 1 after BOS) bounds
    each row; the sampling settings are those of `attento.generate.generate`."""
    c = model.config
    steps = c.block_size - 1 if max_new_tokens is None else max_new_tokens
    if not 0 < steps < c.block_size:
        raise UserError(f"max_new_tokens must be between 1 and {c.block_size - 1}")
    src = src.to(next(model.parameters()).device)
    was_training = model.training
    if was_training:  # a model already in eval mode is never touched: threads may share it
        model.eval()
    try:
        start = torch.full((src.size(0), 1), c.bos_id, dtype=torch.long, device=src.device)
        out = generate(
            model.conditioned(src),
            start,
            steps,
            temperature,
            top_k,
            top_p,
            greedy,
            seed,
            use_cache,
            eot_id=c.eos_id,
            pad_id=c.pad_id,
        )
    finally:
        if was_training:
            model.train()
    rows = []
    for row in out[:, 1:].tolist():
        rows.append(row[: row.index(c.eos_id)] if c.eos_id in row else row)
    return rows

"""The final step laid out in full: from the last position's logits to the chosen token.

This is the table of the course figure ("Dalla Probabilità alla Scelta"): for the most likely
candidates, the raw logit, the logit divided by the temperature, the softmax probability, the
running (cumulative) probability, whether top-k and top-p keep the token, the probability after
the filters (renormalised over the survivors), and which token the seeded die picked, next to
the one greedy decoding would pick.

The report runs the very same code as `attento generate` (same forward path, same filters, same
die): with the same prompt, settings and seed, `picked_id` is the first token that
`attento generate --seed S` writes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from attento.generate.loop import Decoder, encode_prompt
from attento.generate.sampling import (
    SamplingConfig,
    apply_temperature,
    filter_logits,
    make_generators,
    pick,
    probabilities,
    top_k_filter,
)
from attento.tokenize.base import Tokenizer


@dataclass
class Candidate:
    """One row of the table: a token and what each step of the pipeline did to it."""

    rank: int  # 1 = highest logit
    id: int
    text: str
    logit: float
    scaled_logit: float  # logit / temperature
    prob: float  # softmax(logits / temperature), before top-k/top-p
    cumulative: float  # sum of `prob` over this rank and the ones above
    kept_top_k: bool
    kept_top_p: bool  # survives top-p, which sees what top-k kept (False if top-k removed it)
    final_prob: float  # after the filters, renormalised over the survivors (0 if removed)
    picked: bool  # the seeded die chose it
    greedy: bool  # the most likely token


@dataclass
class NextTokenReport:
    """Everything about one next-token choice; `to_dict()` gives plain JSON-able data."""

    prompt: str
    prompt_ids: list[int]
    temperature: float
    top_k: int | None
    top_p: float | None
    seed: int  # the die's seed (drawn at random when none was given)
    vocab_size: int
    kept: int  # how many tokens survive the filters
    picked_id: int
    picked_text: str
    greedy_id: int
    greedy_text: str
    candidates: list[Candidate] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


ROWS = 10  # candidates a next-token table shows


@torch.inference_mode()
def next_token_report(
    model: nn.Module,
    tokenizer: Tokenizer,
    prompt: str,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    n: int = ROWS,
) -> NextTokenReport:
    """The `n` most likely next tokens after `prompt`, every step shown (plus the picked one)."""
    config = SamplingConfig(temperature, top_k, top_p, greedy=False, seed=seed)
    ids = encode_prompt(tokenizer, prompt)
    was_training = model.training
    model.eval()
    try:
        logits = Decoder(model, torch.tensor([ids]), 0).next_logits()
    finally:
        model.train(was_training)
    seed, generators = make_generators(seed, 1)
    picked = int(pick(logits, config, generators).item())

    logits = logits[0].float().cpu()
    scaled = apply_temperature(logits, temperature)
    prob = probabilities(scaled)
    after_k = top_k_filter(scaled, top_k) if top_k is not None else scaled
    filtered = filter_logits(logits, temperature, top_k, top_p)
    final = probabilities(filtered)
    order = torch.sort(logits, descending=True, stable=True).indices  # ties: lower id first
    rank_of = torch.empty_like(order)
    rank_of[order] = torch.arange(len(order))
    cumulative = prob[order].cumsum(0)
    greedy = int(order[0])
    shown = order[: max(1, n)].tolist()
    if picked not in shown:
        shown.append(picked)

    rows = [
        Candidate(
            rank=int(rank_of[i]) + 1,
            id=i,
            text=tokenizer.token_str(i),
            logit=logits[i].item(),
            scaled_logit=scaled[i].item(),
            prob=prob[i].item(),
            cumulative=cumulative[rank_of[i]].item(),
            kept_top_k=bool(torch.isfinite(after_k[i])),
            kept_top_p=bool(torch.isfinite(filtered[i])),
            final_prob=final[i].item(),
            picked=i == picked,
            greedy=i == greedy,
        )
        for i in shown
    ]
    return NextTokenReport(
        prompt=prompt,
        prompt_ids=ids,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=seed,
        vocab_size=len(logits),
        kept=int(torch.isfinite(filtered).sum()),
        picked_id=picked,
        picked_text=tokenizer.token_str(picked),
        greedy_id=greedy,
        greedy_text=tokenizer.token_str(greedy),
        candidates=rows,
    )

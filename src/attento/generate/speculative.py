"""Speculative decoding: a small draft model guesses k tokens, the target checks them at once.

At batch 1 every generated token must read all the target's weights once; on a CPU that
memory traffic, not arithmetic, sets the speed. Reading k + 1 positions in one forward pass
costs little more than reading one, so a cheap *draft* model proposes k tokens one by one and
the *target* scores all of them in a single pass over its KV cache (Leviathan et al. 2023,
Chen et al. 2023). Every proposal the target agrees with is a token for the price of a draft
step; the first one it rejects is replaced by the target's own choice, and when all k pass the
same pass gives one more (*bonus*) token. Either way each target pass writes >= 1 token.

**Greedy**: a proposal passes when it is the target's most likely token, so the text is
exactly the target's greedy text (to float rounding of the batched pass).

**Sampling**: with p the target's and q the draft's distribution (after the same temperature,
top-k and top-p), proposal x ~ q passes with probability min(1, p(x) / q(x)); after a
rejection the token is drawn from norm(max(0, p - q)). Then each token is distributed
exactly as p: P(x) = q(x)·min(1, p/q) + (1 - sum_y min(p(y), q(y)))·max(0, p - q)(x) / Z
= min(p, q)(x) + max(0, p - q)(x) = p(x), since Z = 1 - sum_y min(p(y), q(y)).

The rejected tokens' keys and values are cut from both caches (`KVCache.crop`). Near the end
of the target's context the proposals shrink so that every checked position still sees the
window it would see alone; once the window slides, each step is a plain target step.
Both models must share the tokenizer: their ids have to mean the same text.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from attento.errors import UserError
from attento.generate.loop import (
    Decoder,
    StopRule,
    check_max_new_tokens,
    encode_prompt,
    stream_pieces,
)
from attento.generate.sampling import (
    SamplingConfig,
    filter_logits,
    make_generators,
    probabilities,
    roll,
)
from attento.messages import user_error
from attento.tokenize.base import Tokenizer

DEFAULT_K = 4


@dataclass
class SpeculativeStats:
    """What a run did: drafted tokens proposed and accepted, target passes, tokens written."""

    proposed: int = 0
    accepted: int = 0
    target_passes: int = 0
    tokens: int = 0

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.proposed if self.proposed else 0.0

    @property
    def tokens_per_pass(self) -> float:
        return self.tokens / self.target_passes if self.target_passes else 0.0


def check_same_tokenizer(target: Tokenizer, draft: Tokenizer) -> None:
    """Refuse a draft whose token ids mean other text than the target's."""
    same = (
        type(target) is type(draft)
        and target.vocab_size == draft.vocab_size
        and target.eot_id == draft.eot_id
        and all(target.token_bytes(i) == draft.token_bytes(i) for i in range(target.vocab_size))
    )
    if not same:
        raise user_error("draft_tokenizer")


def accept(
    p: torch.Tensor, q: torch.Tensor, drafted: torch.Tensor, generator: torch.Generator
) -> tuple[int, int]:
    """Check drafted tokens (k,) against target rows p (k + 1, V) and draft rows q (k, V).

    -> (n accepted, the next token): the target's correction at the first rejection, else a
    bonus token from p's last row. Every token so chosen is distributed as p's row."""
    k = drafted.numel()
    if k:
        rows = torch.arange(k)
        ratio = p[rows, drafted] / q[rows, drafted]
        u = torch.rand(k, generator=generator, dtype=p.dtype)
        rejected = (u >= ratio).nonzero()
        if rejected.numel():
            n = int(rejected[0, 0])
            residual = (p[n] - q[n]).clamp(min=0)
            if not bool(residual.sum() > 0):  # p == q to rounding: nothing to correct
                residual = p[n]
            return n, int(roll((residual / residual.sum())[None], [generator])[0])
    return k, int(roll(p[k : k + 1], [generator])[0])


def accept_greedy(target_logits: torch.Tensor, drafted: torch.Tensor) -> tuple[int, int]:
    """The greedy rule: accept while the draft token is the target's argmax."""
    best = target_logits.argmax(dim=-1)
    k = drafted.numel()
    mismatch = (best[:k] != drafted).nonzero()
    n = int(mismatch[0, 0]) if mismatch.numel() else k
    return n, int(best[n])


@torch.inference_mode()
def _tokens(
    target: nn.Module,
    draft: nn.Module,
    idx: torch.Tensor,
    max_new_tokens: int,
    config: SamplingConfig,
    k: int,
    stats: SpeculativeStats,
) -> Iterator[torch.Tensor]:
    """Yield the next token, (1,), for up to max_new_tokens steps, k proposals per pass."""
    models = (target, draft)
    training = [m.training for m in models]
    for m in models:
        m.eval()
    big = Decoder(target, idx, max_new_tokens)
    with warnings.catch_warnings():  # a cropped draft view only makes worse proposals
        warnings.simplefilter("ignore")
        small = Decoder(draft, idx, max_new_tokens)
    small.warn_on_crop = False
    _, (generator,) = make_generators(config.seed, 1)
    block = target.config.block_size

    def probs(logits: torch.Tensor) -> torch.Tensor:
        f = filter_logits(logits, config.temperature, config.top_k, config.top_p)
        return probabilities(f.float())

    try:
        left = max_new_tokens
        while left > 0:
            L = big.length
            # every checked position must see the window the target sees at L (start 0)
            n_draft = max(0, min(k, left - 1, block - L))
            drafted, q_rows = [], []
            for _ in range(n_draft):
                logits = small.next_logits()[0]
                if config.greedy:
                    token = logits.argmax()
                else:
                    q_rows.append(probs(logits))
                    token = roll(q_rows[-1][None], [generator])[0]
                drafted.append(int(token))
                small.append(token.view(1))
            for i, t in enumerate(drafted):
                big.ids[0, L + i] = t
            big.length = L + n_draft
            p_logits = big.last_logits(n_draft + 1)[0]
            d = torch.tensor(drafted, dtype=torch.long)
            if config.greedy:
                n, token = accept_greedy(p_logits, d)
            else:
                q = torch.stack(q_rows) if q_rows else p_logits.new_empty(0)
                n, token = accept(probs(p_logits), q, d, generator)
            stats.proposed += n_draft
            stats.accepted += n
            stats.target_passes += 1
            stats.tokens += n + 1
            big.rollback(L + n)  # both now hold the accepted drafts; rejected ones are cut
            small.rollback(L + n)
            new = torch.tensor([token], dtype=torch.long)
            big.append(new)
            small.append(new)
            for t in (*drafted[:n], token):
                left -= 1
                yield torch.tensor([t], dtype=torch.long)
    finally:
        for m, was in zip(models, training, strict=True):
            m.train(was)


def _check(target: nn.Module, draft: nn.Module, idx: torch.Tensor, k: int) -> None:
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise UserError(f"the draft length k must be an integer >= 1, got {k}")
    if idx.dim() != 2 or idx.size(0) != 1:
        raise UserError("speculative decoding writes one sequence at a time (batch 1)")
    for name, m in (("target", target), ("draft", draft)):
        if not hasattr(m, "new_cache"):
            raise UserError(f"the {name} model needs a KV cache (a GPT) for speculative decoding")
    if target.config.vocab_size != draft.config.vocab_size:
        raise UserError(
            f"the draft's vocabulary ({draft.config.vocab_size}) differs from the target's "
            f"({target.config.vocab_size}): speculative decoding needs the same tokenizer"
        )


@torch.inference_mode()
def speculative_generate(
    target: nn.Module,
    draft: nn.Module,
    idx: torch.Tensor,
    max_new_tokens: int,
    k: int = DEFAULT_K,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    seed: int | None = None,
    *,
    tokenizer: Tokenizer | None = None,
    eot_id: int | None = None,
    stop: Sequence[str] = (),
    stats: SpeculativeStats | None = None,
) -> torch.Tensor:
    """idx (1, T) -> (1, T + n): what `generate(target, ...)` writes, drafted k at a time.

    Greedy gives the target's own tokens; sampling gives text distributed as the target's
    (the random draws differ from `generate`'s, so one seed gives other text). `stats`, if
    given, is filled in (acceptance rate, tokens per target pass)."""
    check_max_new_tokens(max_new_tokens)
    config = SamplingConfig(temperature, top_k, top_p, greedy, seed)
    _check(target, draft, idx, k)
    if stop and tokenizer is None:
        raise UserError("stop strings need the tokenizer to read the generated text")
    if eot_id is None and tokenizer is not None:
        eot_id = tokenizer.eot_id
    rule = StopRule(tokenizer, eot_id, stop)
    new: list[int] = []
    steps = _tokens(target, draft, idx, max_new_tokens, config, k, stats or SpeculativeStats())
    for token in steps:
        new.append(int(token))
        rule.feed(new[-1])
        if rule.done:
            break
    steps.close()
    return torch.cat((idx, torch.tensor([new], dtype=torch.long)), dim=1) if new else idx


def speculative_stream(
    target: nn.Module,
    draft: nn.Module,
    tokenizer: Tokenizer,
    prompt: str,
    max_new_tokens: int,
    k: int = DEFAULT_K,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    seed: int | None = None,
    stop: Sequence[str] = (),
    stats: SpeculativeStats | None = None,
) -> Iterator[tuple[int, str]]:
    """`stream` with a draft model: (token id, text piece) for each new token."""
    check_max_new_tokens(max_new_tokens)
    config = SamplingConfig(temperature, top_k, top_p, greedy, seed)
    idx = torch.tensor([encode_prompt(tokenizer, prompt)], dtype=torch.long)
    _check(target, draft, idx, k)
    rule = StopRule(tokenizer, tokenizer.eot_id, stop)
    steps = _tokens(target, draft, idx, max_new_tokens, config, k, stats or SpeculativeStats())
    return stream_pieces(steps, max_new_tokens, rule)

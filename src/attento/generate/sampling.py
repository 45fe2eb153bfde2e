"""From logits to one token: temperature, top-k, top-p, softmax, then greedy pick or a die roll.

The model ends with one score (a *logit*) per vocabulary entry. Turning them into a choice is a
pipeline of small steps, applied in this order (the order Hugging Face `generate` uses too):

1. **temperature**: divide every logit by T. T < 1 sharpens the distribution (the favourite
   gets even more likely), T > 1 flattens it (more surprises).
2. **top-k**: keep the k highest logits, set the rest to -inf. A token tied with the k-th
   highest is kept as well, so ties can leave more than k candidates.
3. **top-p** (nucleus): sort the survivors by probability and drop the least likely ones as long
   as what they add up to stays <= 1 - p; what remains is the smallest set whose probability
   reaches p. The most likely token always stays.
4. **softmax**: exp(logit) / sum(exp(logits)) turns the filtered logits into probabilities that
   add up to 1 (removed tokens get exactly 0).
5. **pick**: *greedy* takes the most likely token (the first one on ties); *sampling* rolls a
   loaded die whose faces are the tokens, each as likely as its probability.

How the die is rolled: every token draws a random waiting time q ~ Exponential(1) and the token
with the largest probs / q wins. Token i wins with probability exactly probs[i] (the "race of
exponential clocks", the Gumbel-max trick in another form), and it is the very algorithm
`torch.multinomial(probs, 1)` runs, so it draws the same tokens from the same generator state,
without multinomial's input checks on every step. The random numbers come from a
`torch.Generator` seeded with `seed`: one roll per generated token, so the same seed, prompt and
settings always give the same tokens (row b of a batch rolls its own die, seeded `seed + b`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from attento.config import Config
from attento.messages import user_error
from attento.seeds import SEED_LIMIT, check_seed


@dataclass(frozen=True)
class SamplingConfig(Config):
    """How to choose the next token; checked on creation so mistakes surface before any work.

    temperature: divide the logits by T: below 1 sharpens, above 1 flattens
    top_k: keep only the K most likely tokens
    top_p: keep the smallest set of most likely tokens reaching P
    greedy: always take the most likely token
    seed: seed of the die (same seed, same text)
    """

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    greedy: bool = False
    seed: int | None = None

    def check(self) -> None:
        check_sampling(self.temperature, self.top_k, self.top_p)
        check_seed(self.seed)


def check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Raise a UserError for settings that make no distribution."""
    if not temperature > 0:
        raise user_error("bad_temperature", temperature=temperature)
    if top_k is not None and (isinstance(top_k, bool) or int(top_k) != top_k or top_k < 1):
        raise user_error("bad_top_k", top_k=top_k)
    if top_p is not None and not 0 < top_p <= 1:
        raise user_error("bad_top_p", top_p=top_p)


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide the logits by T: below 1 sharpens the distribution, above 1 flattens it."""
    return logits / temperature


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Set every logit below the k-th highest to -inf (ties with the k-th stay)."""
    k = min(int(k), logits.size(-1))
    kth_highest = torch.topk(logits, k).values[..., -1:]
    return logits.masked_fill(logits < kth_highest, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose probability reaches p.

    Walking from the least likely token upwards, a token is dropped while the probability
    accumulated so far (itself included) is still <= 1 - p. The most likely token is never dropped.
    """
    ascending, order = torch.sort(logits, descending=False)
    cumulative = ascending.softmax(dim=-1).cumsum(dim=-1)
    drop_sorted = cumulative <= 1 - p
    drop_sorted[..., -1] = False
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def filter_logits(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """Logits after temperature, top-k and top-p (in this order); removed entries are -inf."""
    check_sampling(temperature, top_k, top_p)
    logits = apply_temperature(logits, temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return logits


def probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis: -inf logits become probability exactly 0."""
    return F.softmax(logits, dim=-1)


def draw_seed() -> int:
    """A fresh random seed (from the OS), to report so that a run can be repeated."""
    return torch.Generator().seed() % SEED_LIMIT


def make_generators(seed: int | None, batch_size: int) -> tuple[int, list[torch.Generator]]:
    """One die per batch row, seeded `seed + row`; a missing seed is drawn from the OS."""
    if seed is None:
        seed = draw_seed()
    return seed, [torch.Generator().manual_seed(seed + row) for row in range(batch_size)]


def roll(probs: torch.Tensor, generators: list[torch.Generator]) -> torch.Tensor:
    """Roll each row's loaded die once: a (B,) tensor of token ids drawn from probs (B, V)."""
    waits = torch.empty_like(probs)
    if len(generators) == 1:
        waits.exponential_(generator=generators[0])
    else:
        for row, generator in enumerate(generators):
            waits[row].exponential_(generator=generator)
    return (probs / waits).argmax(dim=-1)


def pick(
    logits: torch.Tensor, config: SamplingConfig, generators: list[torch.Generator]
) -> torch.Tensor:
    """The next token of each row from last-position logits (B, V): greedy or one die roll."""
    if config.greedy:
        return logits.argmax(dim=-1)
    filtered = filter_logits(logits, config.temperature, config.top_k, config.top_p)
    return roll(probabilities(filtered), generators)

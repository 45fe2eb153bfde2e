"""A long-range dependency probe: recall a key seen d tokens ago.

How far back can a model reach? A made-up language answers it with no linguistic noise.
Each *episode* is `length` tokens of random filler letters holding one key (one of 8
capital letters) exactly d positions before a final question mark; the token after the
"?" is the key again:

    nbkofjdmaplhgcbnkae C hfkpa ? C        (d = 6: the key is 6 positions before "?")

After the "?" only one token is right, and only a model that still holds the key after d
tokens of filler can give it; everything else is unpredictable by design. An episode is as
long as the training window, so a window that reaches a "?" never also holds an older key:
the key is the only capital letter in sight, and a model that can look d tokens back has
nothing to confuse it with. The training text is a run of answered episodes with distances
spread log-uniformly over 1..max (short and long gaps equally represented per octave); a
model learns it like any corpus (`attento.train` with `text=`). The test asks for the token
after "?" in fresh episodes at each distance d.

What to expect: a fixed-window MLP is at chance (1/8) once d reaches its window, a causal
CNN once d reaches its receptive field, a plain RNN fades as d grows (vanishing gradient),
LSTM and GRU hold on longer, attention reaches any token of its context in one step.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import torch

from attento.errors import UserError

KEYS = "ABCDEFGH"
FILLER = "abcdefghijklmnop"
QUERY = "?"
ALPHABET = KEYS + FILLER + QUERY
MARGIN = 8  # filler before the key at the longest distance


def episode_length(max_distance: int) -> int:
    """Tokens of an episode up to its "?" (and the training window to use with it)."""
    return max_distance + MARGIN


def episode(rng: random.Random, distance: int, length: int, key: str | None = None) -> str:
    """`length` tokens ending with "?", the key `distance` positions before the "?"."""
    if not 1 <= distance < length:
        raise UserError(f"a recall distance must be in 1..{length - 1}, got {distance}")
    key = rng.choice(KEYS) if key is None else key
    before = "".join(rng.choices(FILLER, k=length - distance - 1))
    return before + key + "".join(rng.choices(FILLER, k=distance - 1)) + QUERY


def recall_text(n_chars: int, max_distance: int, seed: int = 0) -> str:
    """About `n_chars` of training text: answered episodes with log-uniform distances."""
    if max_distance < 1 or n_chars < 1:
        raise UserError("the probe text needs a positive length and max distance")
    rng = random.Random(seed)
    length = episode_length(max_distance)
    parts, size = [], 0
    while size < n_chars:
        d = min(max_distance, round(math.exp(rng.uniform(0.0, math.log(max_distance)))))
        e = episode(rng, d, length)
        parts.append(e + e[-1 - d])
        size += length + 1
    return "".join(parts)


def recall_examples(
    encode: Callable[[str], list[int]], distance: int, n: int, max_distance: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` test episodes at one distance -> (ids (n, length) ending with "?", key ids (n,)).

    `encode` is the tokenizer's (the probe text's char tokenizer); `max_distance` sets the
    episode length, as in training.
    """
    rng = random.Random(seed * 100_003 + distance)
    prompts, answers = [], []
    for _ in range(n):
        e = episode(rng, distance, episode_length(max_distance))
        prompts.append(encode(e))
        answers.append(encode(e[-1 - distance])[0])
    return torch.tensor(prompts), torch.tensor(answers)


@torch.no_grad()
def recall_accuracy(
    model: torch.nn.Module,
    encode: Callable[[str], list[int]],
    distances: list[int],
    n: int = 200,
    seed: int = 0,
) -> dict[int, float]:
    """Fraction of episodes where the model's most likely token after "?" is the key."""
    was_training = model.training
    model.eval()
    accuracy = {}
    for d in distances:
        idx, answers = recall_examples(encode, d, n, max(distances), seed)
        logits = model(idx)[:, -1]
        accuracy[d] = float((logits.argmax(dim=-1) == answers).float().mean())
    model.train(was_training)
    return accuracy

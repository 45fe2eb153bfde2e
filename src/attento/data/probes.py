"""A long-range dependency probe: recall a key seen d tokens ago.

How far back can a model reach? A made-up language answers it with no linguistic noise.
Each *episode* is a key (one of 8 capital letters), d - 1 random filler letters, a question
mark, and the key again, then a newline:

    C hfkpa ? C\n          (here d = 6: the key is 6 positions before the "?")

After the "?" only one token is right, and only a model that still holds the key after d
tokens of filler can give it; everything else in the text is unpredictable by design. The
training text is a long run of episodes with distances spread log-uniformly over 1..max, so
short and long gaps are equally represented per octave; a model is trained on it like on
any corpus (`attento.train` with `text=`). Testing asks, for each distance d, for the token
after "?" in fresh episodes preceded by another episode with a different key, so the answer
is the *most recent* key, not any key.

What to expect: a fixed-window MLP fails (chance is 1/8) once d reaches its window, a causal
CNN once d reaches its receptive field, a plain RNN fades as d grows (vanishing gradient),
LSTM and GRU hold on longer, attention reaches any token of its context in one step.
"""

from __future__ import annotations

import math
import random

import torch

from attento.errors import UserError

KEYS = "ABCDEFGH"
FILLER = "abcdefghijklmnop"
QUERY = "?"
END = "\n"
ALPHABET = KEYS + FILLER + QUERY + END


def episode(rng: random.Random, distance: int, key: str | None = None) -> str:
    """key, distance - 1 filler letters, "?" (the key is `distance` positions before it)."""
    if distance < 1:
        raise UserError(f"a recall distance must be at least 1, got {distance}")
    key = rng.choice(KEYS) if key is None else key
    return key + "".join(rng.choices(FILLER, k=distance - 1)) + QUERY


def recall_text(n_chars: int, max_distance: int, seed: int = 0) -> str:
    """About `n_chars` of training text: answered episodes with log-uniform distances."""
    if max_distance < 1 or n_chars < 1:
        raise UserError("the probe text needs a positive length and max distance")
    rng = random.Random(seed)
    parts, size = [], 0
    while size < n_chars:
        d = min(max_distance, round(math.exp(rng.uniform(0.0, math.log(max_distance)))))
        e = episode(rng, d)
        parts.append(e + e[0] + END)
        size += len(e) + 2
    return "".join(parts)


def recall_examples(
    encode, distance: int, n: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` test prompts at one distance -> (ids (n, L) ending with "?", answer ids (n,)).

    Each prompt is a short answered episode with another key (the distractor), then the
    episode to answer. `encode` is the tokenizer's encode (the probe text's char tokenizer).
    """
    rng = random.Random(seed * 100_003 + distance)
    prompts, answers = [], []
    for _ in range(n):
        key, other = rng.sample(KEYS, 2)
        first = episode(rng, 4, other)
        prompts.append(encode(first + other + END + episode(rng, distance, key)))
        answers.append(encode(key)[0])
    return torch.tensor(prompts), torch.tensor(answers)


@torch.no_grad()
def recall_accuracy(
    model: torch.nn.Module, encode, distances: list[int], n: int = 200, seed: int = 0
) -> dict[int, float]:
    """Fraction of prompts where the model's most likely token after "?" is the key."""
    was_training = model.training
    model.eval()
    accuracy = {}
    for d in distances:
        idx, answers = recall_examples(encode, d, n, seed)
        logits = model(idx)[:, -1]
        accuracy[d] = float((logits.argmax(dim=-1) == answers).float().mean())
    model.train(was_training)
    return accuracy

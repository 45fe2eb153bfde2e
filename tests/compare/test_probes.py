"""The recall probe: episodes put the only key exactly d positions before "?", the training
text answers every question with no older key in reach, and accuracy scores an oracle at 1
and a model with a short window at chance level beyond it."""

from __future__ import annotations

import random

import pytest
import torch

from attento.data.probes import (
    ALPHABET,
    FILLER,
    KEYS,
    QUERY,
    episode,
    episode_length,
    recall_accuracy,
    recall_examples,
    recall_text,
)
from attento.errors import UserError
from attento.tokenize import CharTokenizer


@pytest.mark.parametrize("d", [1, 2, 7, 50])
def test_episode_puts_the_only_key_d_positions_before_the_question(d):
    e = episode(random.Random(d), d, 60)
    assert len(e) == 60 and e[-1] == QUERY
    assert e[-1 - d] in KEYS and sum(c in KEYS for c in e) == 1
    assert all(c in FILLER for i, c in enumerate(e[:-1]) if i != len(e) - 1 - d)
    with pytest.raises(UserError, match="distance"):
        episode(random.Random(0), 60, 60)


def test_training_text_answers_every_question_with_no_older_key_in_reach():
    max_d = 64
    text = recall_text(30_000, max_d, seed=3)
    window = episode_length(max_d)
    assert len(text) >= 30_000 and set(text) <= set(ALPHABET)
    distances = []
    for q in (i for i, c in enumerate(text) if c == QUERY):
        answer = text[q + 1]
        seen = [i for i in range(max(0, q - window + 1), q) if text[i] in KEYS]
        assert len(seen) == 1 and text[seen[0]] == answer  # a window ending at "?" holds one key
        distances.append(q - seen[0])
    assert min(distances) == 1 and max(distances) == max_d
    assert sum(d <= 8 for d in distances) > 20 and sum(d > 32 for d in distances) > 20
    with pytest.raises(UserError):
        recall_text(100, 0)


class Oracle(torch.nn.Module):
    """Predicts the key if it is among the last `window` tokens (all of them when None)."""

    def __init__(self, tok: CharTokenizer, window: int | None = None) -> None:
        super().__init__()
        self.keys = {tok.encode(k)[0] for k in KEYS}
        self.vocab, self.window = tok.vocab_size, window

    def forward(self, idx):
        logits = torch.zeros(*idx.shape, self.vocab)
        for b, row in enumerate(idx.tolist()):
            seen = [t for t in row[-(self.window or len(row)) :] if t in self.keys]
            if seen:
                logits[b, -1, seen[-1]] = 1.0
        return logits


def test_accuracy_of_an_oracle_is_one_and_of_a_short_window_zero_beyond_it():
    tok = CharTokenizer.from_text(ALPHABET)
    idx, answers = recall_examples(tok.encode, 10, 50, max_distance=32, seed=1)
    assert idx.shape == (50, episode_length(32))
    assert bool((idx[:, -1] == tok.encode(QUERY)[0]).all())
    assert torch.equal(idx[:, -11], answers)
    distances = [1, 4, 16]
    assert recall_accuracy(Oracle(tok), tok.encode, distances, n=50) == dict.fromkeys(
        distances, 1.0
    )
    # a window of 8 tokens holds the key at distance 1 and 4 (it sees t-7..t), not at 16
    window = recall_accuracy(Oracle(tok, window=8), tok.encode, distances, n=50)
    assert window == {1: 1.0, 4: 1.0, 16: 0.0}

"""The recall probe: episodes put the key exactly d positions before "?", the training text
answers every question, and accuracy scores an oracle at 1 and a blind model at chance."""

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
    recall_accuracy,
    recall_examples,
    recall_text,
)
from attento.errors import UserError
from attento.tokenize import CharTokenizer


@pytest.mark.parametrize("d", [1, 2, 7, 50])
def test_episode_puts_the_key_d_positions_before_the_question(d):
    e = episode(random.Random(d), d)
    assert len(e) == d + 1 and e[-1] == QUERY
    assert e[-1 - d] in KEYS and all(c in FILLER for c in e[1:-1])


def test_training_text_answers_every_question_and_spans_the_distances():
    text = recall_text(20_000, 64, seed=3)
    lines = text.splitlines()
    assert len(text) >= 20_000 and text.endswith("\n")
    for line in lines:
        question, answer = line.split(QUERY)
        assert answer == question[0] and question[0] in KEYS
    distances = {len(line.split(QUERY)[0]) for line in lines}
    assert min(distances) == 1 and max(distances) == 64
    assert sum(d <= 8 for d in distances) > 3 and sum(d > 32 for d in distances) > 3
    assert set(text) <= set(ALPHABET)
    with pytest.raises(UserError):
        recall_text(100, 0)


class Oracle(torch.nn.Module):
    """Predicts the most recent key: what a perfect long-range model does."""

    def __init__(self, tok: CharTokenizer, blind_after: int | None = None) -> None:
        super().__init__()
        self.keys = {tok.encode(k)[0] for k in KEYS}
        self.vocab, self.blind_after = tok.vocab_size, blind_after
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, idx):
        logits = torch.zeros(*idx.shape, self.vocab)
        for b, row in enumerate(idx.tolist()):
            start = 0 if self.blind_after is None else len(row) - self.blind_after
            seen = [t for t in row[max(0, start) :] if t in self.keys]
            if seen:
                logits[b, -1, seen[-1]] = 1.0
        return logits


def test_accuracy_of_an_oracle_is_one_and_of_a_short_window_falls_to_chance():
    tok = CharTokenizer.from_text(ALPHABET)
    idx, answers = recall_examples(tok.encode, 10, 50, seed=1)
    assert idx.shape == (50, 7 + 10 + 1) and bool((idx[:, -1] == tok.encode(QUERY)[0]).all())
    assert tok.decode(idx[0].tolist())[-11] == tok.decode([int(answers[0])])
    distances = [1, 4, 16]
    assert recall_accuracy(Oracle(tok), tok.encode, distances, n=50) == dict.fromkeys(
        distances, 1.0
    )
    # a model that sees 8 tokens: right when the key is within them; after that it sees the
    # distractor's key or none, and is never right
    window = recall_accuracy(Oracle(tok, blind_after=8), tok.encode, distances, n=50)
    assert window[1] == window[4] == 1.0 and window[16] == 0.0

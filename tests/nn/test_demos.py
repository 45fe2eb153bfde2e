"""The XOR/spirals lesson and the character LM, at sizes small enough for the fast suite."""

from __future__ import annotations

import numpy as np
import pytest

from attento.data import load_corpus
from attento.errors import UserError
from attento.nn.demos import (
    TrainConfig,
    XorSpiralsSettings,
    run_xor_spirals,
    spirals_data,
    train_classifier,
    xor_data,
)
from attento.nn.ngram import NgramConfig, count_bigram_loss, sample, train_ngram


def test_xor_needs_an_activation() -> None:
    x, y = xor_data()
    linear = train_classifier(x, y, TrainConfig((8,), "linear", steps=500))
    tanh = train_classifier(x, y, TrainConfig((8,), "tanh", steps=500))
    assert linear.accuracy <= 0.75  # no straight line separates XOR: 3 of 4 at best
    assert tanh.accuracy == 1.0


def test_spirals_tanh_learns_and_linear_cannot() -> None:
    x, y = spirals_data(100)
    tanh = train_classifier(x, y, TrainConfig(activation="tanh", steps=1000))
    linear = train_classifier(x, y, TrainConfig(activation="linear", steps=1000))
    assert tanh.accuracy >= 0.95
    assert linear.accuracy <= 0.70
    assert tanh.losses[-1] < 0.1 * tanh.losses[0]


def test_run_xor_spirals_writes_the_figures(tmp_path) -> None:
    settings = XorSpiralsSettings(activations=("linear", "relu"), steps=300, points=50)
    summary = run_xor_spirals(tmp_path / "nn", settings)
    assert set(summary["spirals"]) == {"linear", "relu"}
    assert summary["spirals"]["relu"] > summary["spirals"]["linear"]
    for png in summary["pngs"]:
        with open(png, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_unknown_activation_is_refused_when_the_settings_are_made() -> None:
    with pytest.raises(UserError, match="unknown activation 'softsign'"):
        XorSpiralsSettings(activations=("softsign",))
    with pytest.raises(UserError, match="unknown activation 'softsign'"):
        TrainConfig(activation="softsign")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: XorSpiralsSettings(points=1), "points must be at least 2, got 1"),
        (lambda: XorSpiralsSettings(steps=0), "steps must be a positive integer, got 0"),
        (lambda: TrainConfig(hidden=(8, 0)), "hidden must be one or more layer sizes"),
        (lambda: TrainConfig(momentum=1.0), "momentum must be in [0, 1), got 1.0"),
        (lambda: NgramConfig(batch_size=0), "batch_size must be a positive integer, got 0"),
        (lambda: NgramConfig(lr=-0.1), "lr must be a positive number, got -0.1"),
    ],
)
def test_bad_settings_fail_when_made_in_one_line(make, message: str) -> None:
    with pytest.raises(UserError) as err:
        make()
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_neural_bigram_approaches_the_count_table(data_dir) -> None:
    text = load_corpus(data_dir / "divina_commedia.txt")[:30_000]
    result = train_ngram(text, NgramConfig(context=1, steps=1500, lr=0.3))
    train_ids = np.array(result.tokenizer.encode(text[: int(0.9 * len(text))]))
    floor = count_bigram_loss(train_ids, result.tokenizer.vocab_size)
    # the count table is the best bigram model on its training text; we get close to it
    assert floor - 1e-6 <= result.train_loss < floor + 0.15
    assert result.val_loss < result.uniform_loss - 1.5
    line = sample(result.model, result.tokenizer, np.random.default_rng(0), max_chars=80)
    assert "\n" not in line
    assert set(line) <= set(result.tokenizer.chars)


def test_ngram_bad_settings_are_user_errors() -> None:
    with pytest.raises(UserError, match="too short"):
        train_ngram("abc", NgramConfig(context=2))
    with pytest.raises(UserError, match="context must be a positive integer, got 0"):
        NgramConfig(context=0)

"""A character n-gram language model trained with the NumPy autograd (Bengio et al., 2003).

A language model predicts the next token from the ones before it. Here the tokens are
characters and the model sees only the last `context` of them (1: a bigram model, 2: a
trigram model). Each context character is looked up in an embedding table, the vectors are
concatenated, an MLP with a tanh hidden layer turns them into one score per vocabulary
character, and softmax makes those scores a probability distribution over the next one.

Training minimises the cross-entropy of the real next character on random mini-batches. The
loss reads in nats: a model that guesses uniformly among V characters scores ln V; a count
table of character pairs is the best any bigram model can do on its training text, and the
neural bigram model should approach it. Sampling repeats the prediction one character at a
time, feeding each drawn character back as context: the same loop as GPT, in miniature.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from attento.config import Config, check_counts, check_positive
from attento.errors import UserError
from attento.nn.autograd import Tensor, one_blas_thread
from attento.nn.layers import MLP, Embedding, Module
from attento.nn.losses import cross_entropy
from attento.nn.optim import SGD
from attento.seeds import check_seed
from attento.tokenize.char import CharTokenizer


@dataclass
class NgramConfig(Config):
    """The character LM's shape and training.

    context: characters the model sees: 1 = bigram, 2 = trigram
    n_embd: numbers in each character's vector
    hidden: units of the tanh hidden layer
    steps: gradient steps (the last 20% at a tenth of the learning rate)
    batch_size: windows per step
    lr: learning rate of SGD
    momentum: SGD momentum, in [0, 1)
    seed: seed of the weights and of the batches
    """

    context: int = 2
    n_embd: int = 16
    hidden: int = 128
    steps: int = 3000
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    seed: int = 0

    def check(self) -> None:
        check_counts(self, "context", "n_embd", "hidden", "steps", "batch_size")
        check_positive(self, "lr")
        if not 0 <= self.momentum < 1:
            raise UserError(f"momentum must be in [0, 1), got {self.momentum!r}")
        check_seed(self.seed)


class NgramLM(Module):
    """Embed `context` characters, concatenate, MLP (tanh) -> logits over the vocabulary."""

    def __init__(self, vocab_size: int, config: NgramConfig, rng: np.random.Generator) -> None:
        self.config = config
        self.embed = Embedding(vocab_size, config.n_embd, rng=rng)
        self.mlp = MLP([config.context * config.n_embd, config.hidden, vocab_size], "tanh", rng=rng)

    def __call__(self, contexts: np.ndarray) -> Tensor:
        vectors = self.embed(contexts)  # (batch, context, n_embd)
        return self.mlp(vectors.reshape(len(contexts), -1))

    def parameters(self) -> list[Tensor]:
        return self.embed.parameters() + self.mlp.parameters()


@dataclass
class NgramResult:
    model: NgramLM
    tokenizer: CharTokenizer
    train_loss: float
    val_loss: float
    uniform_loss: float
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def make_windows(ids: np.ndarray, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Every run of `context` characters and the character that follows it."""
    starts = np.arange(len(ids) - context)
    return ids[starts[:, None] + np.arange(context)], ids[starts + context]


def evaluate(model: NgramLM, x: np.ndarray, y: np.ndarray, batch_size: int = 4096) -> float:
    """Mean cross-entropy over all windows, in batches so memory stays small."""
    total = 0.0
    for i in range(0, len(y), batch_size):
        total += cross_entropy(model(x[i : i + batch_size]), y[i : i + batch_size]).item() * len(
            y[i : i + batch_size]
        )
    return total / len(y)


def count_bigram_loss(ids: np.ndarray, vocab_size: int) -> float:
    """Cross-entropy of the maximum-likelihood bigram table on the same text: the floor that
    any bigram model (context=1) can reach on its training data."""
    counts = np.zeros((vocab_size, vocab_size))
    np.add.at(counts, (ids[:-1], ids[1:]), 1)
    probs = counts / counts.sum(axis=1, keepdims=True).clip(min=1)
    return float(-np.log(probs[ids[:-1], ids[1:]]).mean())


def train_ngram(text: str, config: NgramConfig, progress: bool = False) -> NgramResult:
    """Train on the first 90% of `text`, report the loss on the last 10% too."""
    if len(text) < 10 * (config.context + 1):
        raise UserError(f"the text is too short ({len(text)} characters) to train on")
    tok = CharTokenizer.from_text(text)
    ids = np.array(tok.encode(text), dtype=np.int64)
    split = int(0.9 * len(ids))
    x_train, y_train = make_windows(ids[:split], config.context)
    x_val, y_val = make_windows(ids[split:], config.context)
    rng = np.random.default_rng(config.seed)
    model = NgramLM(tok.vocab_size, config, rng)
    opt = SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    losses = []
    start = time.perf_counter()
    with one_blas_thread():
        for step in tqdm(range(config.steps), desc="training", disable=not progress):
            if step == int(0.8 * config.steps):
                opt.lr = config.lr / 10  # smaller steps at the end settle into the minimum
            batch = rng.integers(0, len(y_train), config.batch_size)
            loss = cross_entropy(model(x_train[batch]), y_train[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        seconds = time.perf_counter() - start
        train_loss, val_loss = evaluate(model, x_train, y_train), evaluate(model, x_val, y_val)
    return NgramResult(
        model,
        tok,
        train_loss=train_loss,
        val_loss=val_loss,
        uniform_loss=math.log(tok.vocab_size),
        losses=losses,
        seconds=seconds,
    )


def sample(
    model: NgramLM,
    tokenizer: CharTokenizer,
    rng: np.random.Generator,
    prompt: str = "\n",
    max_chars: int = 200,
    temperature: float = 1.0,
    stop: str | None = "\n",
) -> str:
    """Draw characters one at a time after `prompt`, until `stop` or `max_chars`."""
    if temperature <= 0:
        raise UserError("the temperature must be positive")
    context = model.config.context
    ids = tokenizer.encode(prompt)
    if len(ids) < context:
        raise UserError(f"the prompt needs at least {context} characters")
    out: list[int] = []
    for _ in range(max_chars):
        logits = model(np.array([ids[-context:]])).data[0] / temperature
        probs = np.exp(logits - logits.max())
        next_id = int(rng.choice(len(probs), p=probs / probs.sum()))
        if stop is not None and tokenizer.decode([next_id]) == stop:
            break
        ids.append(next_id)
        out.append(next_id)
    return tokenizer.decode(out)


def plot_losses(path: Path, losses: list[float]) -> Path:
    """The training loss per step, with a running mean (mini-batch losses are noisy)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.subplots()
    ax.plot(losses, alpha=0.3, label="mini-batch")
    window = max(1, len(losses) // 50)
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    ax.plot(np.arange(len(smooth)) + window - 1, smooth, label=f"mean of {window}")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/char)")
    ax.legend()
    fig.savefig(path, dpi=100)
    return path

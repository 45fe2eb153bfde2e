"""What one comparison does: `CompareConfig`, importable without torch (for `--help`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from attento.config import Config
from attento.errors import UserError

ARCHS = ("mlp", "rnn", "lstm", "gru", "cnn", "gpt")


@dataclass
class CompareConfig(Config):
    """Everything one comparison does; the defaults fit in about 25 minutes on 2 CPU cores.

    corpus: corpus name or text file
    archs: the architectures to race, comma-separated
    params: every model's size (parameters, embeddings included)
    block_size: training window
    batch_size: sequences per step
    learning_rate: peak; the cosine ends at a tenth of it
    warmup_steps: steps of linear warm-up
    budget_s: stage 2: seconds of training per model
    evals: stage 2: evaluations per run (the points of the loss curve)
    eval_batches: batches per evaluation
    equal_steps: stage 3: steps per model at equal steps; None: what the slowest model made
        in steps_budget_s seconds
    steps_budget_s: sets equal_steps when it is not given
    lengths: stage 1: sequence lengths to time
    speed_batch: stage 1: batch of the timing runs
    speed_repeats: stage 1: timings per length
    probe_params: stage 4: size of the recall-probe models
    probe_budget_s: stage 4: seconds per model on the recall probe
    probe_learning_rate: stage 4: attention finds the key suddenly after a plateau (a phase
        change); a higher rate brings that within the budget, for every model alike
    probe_distances: stage 4: recall distances
    probe_examples: stage 4: probe examples per distance
    probe_chars: stage 4: characters of corpus the probe trains on
    seed: random seed
    threads: torch threads; small models on a CPU shared with other work run several times
        faster on one thread (no cores left to spin-wait for), and the ratios between models
        are what we compare
    """

    corpus: str = "tinyshakespeare"
    archs: tuple[str, ...] = ARCHS
    params: int = 150_000
    block_size: int = 128
    batch_size: int = 16
    learning_rate: float = 3e-3
    warmup_steps: int = 30
    budget_s: float = 100.0
    evals: int = 8
    eval_batches: int = 10
    equal_steps: int | None = None
    steps_budget_s: float = 40.0
    lengths: tuple[int, ...] = (32, 64, 128, 256, 512, 1024)
    speed_batch: int = 8
    speed_repeats: int = 2
    probe_params: int = 50_000
    probe_budget_s: float = 60.0
    probe_learning_rate: float = 1e-2
    probe_distances: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 96)
    probe_examples: int = 200
    probe_chars: int = 400_000
    seed: int = 1337
    threads: int = 1

    def check(self) -> None:
        self.archs, self.lengths = tuple(self.archs), tuple(self.lengths)
        self.probe_distances = tuple(self.probe_distances)
        unknown = [a for a in self.archs if a not in ARCHS]
        if unknown or not self.archs:
            raise UserError(
                f"unknown arch(s) {', '.join(unknown) or '(none given)'} "
                f"(choose from {', '.join(ARCHS)})"
            )
        rates = ("learning_rate", "probe_learning_rate")
        for name in ("budget_s", "steps_budget_s", "probe_budget_s", *rates):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise UserError(f"{name} must be a positive number, got {value!r}")
        positive = (
            "params", "block_size", "batch_size", "evals", "eval_batches", "speed_batch",
            "speed_repeats", "probe_params", "probe_examples", "probe_chars", "threads",
        )  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise UserError(f"{name} must be a positive integer, got {value!r}")
        if self.equal_steps is not None and self.equal_steps < 1:
            raise UserError(f"equal_steps must be at least 1, got {self.equal_steps}")
        for name in ("lengths", "probe_distances"):
            values = getattr(self, name)
            if not values or any(not isinstance(v, int) or v < 1 for v in values):
                raise UserError(f"{name} must be positive integers, got {values!r}")

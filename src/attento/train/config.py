"""What one training run does, as a JSON-serialisable dataclass, plus named presets.

A run is fully described by a `TrainConfig`: the data (corpus, tokenizer, objective), the
model shape (a dict handed to the architecture's config class, with `vocab_size` filled in
from the tokenizer), the optimiser and schedule, how long to train, how often to evaluate,
and the seed. The config is written next to every checkpoint, so a run folder says how it
was made and `--resume` can check it continues the same run.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from attento.errors import UserError

# sft: instruction tuning, reward: a reward model, dpo and ppo: alignment, each with its batch
# source (and loss) from attento.align
OBJECTIVES = ("clm", "mlm", "sft", "reward", "dpo", "ppo")
OPTIMIZERS = ("adamw", "muon")  # muon: Muon on the blocks' matrices, AdamW on the rest
# mlm: masked language modelling (BERT), batches from attento.data.masking


@dataclass
class TrainConfig:
    """All settings of a training run. Steps are optimiser steps (after accumulation)."""

    corpus: str = "tinyshakespeare"
    tokenizer: str = "char"  # "char", "bpe:N" (train N tokens on the corpus) or a saved tokenizer
    objective: str = "clm"  # what a batch asks the model to predict; "clm" = next token
    arch: str = "gpt"
    model: dict[str, Any] = field(default_factory=dict)  # the architecture's config, minus vocab
    # A step learns from batch_size * grad_accum sequences, shared out by torchrun's processes;
    # each forward pass takes at most batch_size of them (accumulate to fit a bigger batch).
    batch_size: int = 12
    grad_accum: int = 1
    max_steps: int | None = 2000
    time_budget_min: float | None = None  # wall-clock budget; the lr schedule follows time then
    optimizer: str = "adamw"
    learning_rate: float = 1e-3  # AdamW's peak; the schedule scales muon_lr alike
    min_lr: float = 1e-4  # the cosine decays to this
    muon_lr: float = 0.02  # peak learning rate of the Muon matrices (optimizer="muon")
    warmup_steps: int = 100
    weight_decay: float = 0.1  # on matrices only
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0  # max global gradient norm; 0 disables clipping
    eval_interval: int = 250  # steps between evals (and checkpoints)
    eval_batches: int | None = None  # batches per eval; None: the whole validation split
    log_interval: int = 10  # steps between log.csv rows
    seed: int = 1337
    compile: bool = False  # torch.compile the model
    bf16: bool = False  # bfloat16 autocast on GPUs (ignored on CPUs, where it is emulated)
    device: str = "auto"  # "auto" picks cuda when available
    save_best: bool = True  # also keep the best-validation model in OUT/best/

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise UserError(
                f"unknown objective {self.objective!r} (known: {', '.join(OBJECTIVES)})"
            )
        if (self.objective == "mlm") != (self.arch == "bert"):
            raise UserError(
                "objective mlm and arch bert go together: masked language modelling trains "
                "an encoder (BERT), e.g. --preset bert-cpu"
            )
        for name in ("batch_size", "grad_accum", "eval_interval", "eval_batches", "log_interval"):
            value = getattr(self, name)
            if name == "eval_batches" and value is None:
                continue  # the whole validation split
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"{name} must be a positive integer, got {value!r}")
        if self.max_steps is not None and self.max_steps < 1:
            raise UserError(f"max_steps must be at least 1, got {self.max_steps}")
        if self.time_budget_min is not None and not (
            self.time_budget_min > 0 and math.isfinite(self.time_budget_min)
        ):
            raise UserError(
                f"the time budget must be a positive number of minutes, got {self.time_budget_min}"
            )
        if self.max_steps is None and self.time_budget_min is None:
            raise UserError(
                "give max_steps or a time budget (or both) so the run knows when to stop"
            )
        if not 0 < self.min_lr <= self.learning_rate:
            raise UserError(
                f"need 0 < min_lr <= learning_rate, got {self.min_lr} and {self.learning_rate}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise UserError(
                f"unknown optimizer {self.optimizer!r} (known: {', '.join(OPTIMIZERS)})"
            )
        if not self.muon_lr > 0:
            raise UserError(f"muon_lr must be positive, got {self.muon_lr}")
        if self.warmup_steps < 0 or self.grad_clip < 0 or self.weight_decay < 0:
            raise UserError("warmup_steps, grad_clip and weight_decay cannot be negative")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise UserError(f"unknown training setting(s): {', '.join(unknown)}")
        return cls(**d)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def tiny() -> TrainConfig:
    """Trains in a couple of seconds on a CPU: for tests and for trying the pipeline."""
    return TrainConfig(
        model=dict(block_size=32, n_layer=2, n_head=2, n_embd=32),
        batch_size=8,
        max_steps=40,
        learning_rate=3e-3,
        min_lr=3e-4,
        warmup_steps=5,
        eval_interval=20,
        eval_batches=4,
        log_interval=5,
    )


def cpu() -> TrainConfig:
    """The best character model we found for 10 minutes on 2 CPU cores (tinyshakespeare).

    The reference recipe (4 layers x 128, block 64, batch 12, lr 1e-3, learned positions,
    LayerNorm) is already about compute-optimal in size for ~10^13.5 FLOPs (~0.8M weights,
    ~9M tokens), so we keep its width and depth and spend the changes on learning more per
    token and per second:
    - RoPE instead of learned positions, RMSNorm, no biases, and a 3x higher peak learning
      rate (3e-3, 100 warm-up steps, cosine to 3e-4): at 400k tokens this alone took the
      validation loss from 2.30 to 1.97 at the same shape and batch (measured);
    - a 512-token context in batches of 2, 2 heads of 64: every position of a window is
      scored, and the first characters of a window, seen with little context, are the worst
      predicted; a longer window gives them less weight and lets the model use distant
      characters. Short runs favour many small steps over big batches (at 400k tokens:
      12 x 64 in 520 steps 1.97, 16 x 128 in 195 steps 2.08, measured), so a step stays at
      ~1k tokens. Ten minutes on both cores, best validation loss: 128 x 8 1.499 (5,092
      steps), 256 x 4 1.483 (4,754), 512 x 2 1.479 (3,979), and 1.477 (4,401 steps) with
      2 heads of 64 instead of 4 of 32, whose attention kernel is ~25% faster on a CPU;
    - the cosine follows the wall clock (`time_budget_min`), so it reaches its minimum
      exactly when the budget ends;
    - Muon (muon_lr 0.01) for the blocks' matrices, AdamW for the token table and the gains
      (see train/muon.py): each step teaches more. Ten minutes on both cores, at block 128
      x 8 and before the Muon step was batched: best validation loss 1.488 in 4,702 steps
      against AdamW's 1.521 in 6,707. On one thread with the other core busy: 1.519 vs
      1.561; at three minutes 1.655 vs 1.778 (muon_lr 0.01: 1.775, 0.05: 1.771). Ten
      minutes favour a lower rate: at 512 x 2 with 2 heads, muon_lr 0.03 ended at 1.518,
      0.02 at 1.477, 0.015 at 1.469 and 0.01 at 1.460;
    - no dropout, although with Muon the training loss runs ahead of the validation loss
      (1.23 vs 1.51 at step 4,000, block 128): dropout 0.1 cost a quarter of the steps and
      ended at 1.604; batch 16 x 128 ended at 1.503;
    - min_lr 3e-4 (a floor of 3e-5 ended at 1.491), no weight decay on the Muon matrices
      (0.1, decoupled, ended at 1.508), and one table for the input tokens and the output
      scores (separate ones, at 512 x 2 with 2 heads and muon_lr 0.02: 1.487, against
      1.477; a 3x higher AdamW rate for the table and gains, 1e-2: 1.476, no better);
    - float32 and no torch.compile: on a 2-core AVX2 CPU, bf16 autocast was
      10x slower and compile cost ~2 minutes for a ~5-8% faster step (measured);
    - few evaluations (each is time not spent learning), each on the whole validation split
      (111k characters, no sampling noise): every 2,000 steps and always one at the end,
      whose cost is reserved from the budget.
    """
    return TrainConfig(
        model=dict(
            block_size=512,
            n_layer=4,
            n_head=2,
            n_embd=128,
            pos_encoding="rope",
            norm="rmsnorm",
            bias=False,
        ),
        batch_size=2,
        max_steps=None,
        time_budget_min=10.0,
        optimizer="muon",
        muon_lr=0.01,
        learning_rate=3e-3,
        min_lr=3e-4,
        warmup_steps=100,
        weight_decay=0.1,
        eval_interval=2000,
        log_interval=50,
    )


def small() -> TrainConfig:
    """nanoGPT's Shakespeare-character model (6 layers x 384, 256-token context), for a GPU."""
    return TrainConfig(
        model=dict(block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.2),
        batch_size=64,
        max_steps=5000,
        learning_rate=1e-3,
        min_lr=1e-4,
        warmup_steps=100,
        eval_interval=250,
        eval_batches=200,
        log_interval=10,
        compile=True,
    )


def gpt2_small() -> TrainConfig:
    """GPT-2 small's shape (12 layers x 768, 1024 tokens, 124M parameters with 50k tokens)."""
    return TrainConfig(
        tokenizer="bpe:8192",
        model=dict(block_size=1024, n_layer=12, n_head=12, n_embd=768, activation="gelu_tanh"),
        batch_size=16,
        grad_accum=8,
        max_steps=5000,
        learning_rate=6e-4,
        min_lr=6e-5,
        warmup_steps=200,
        beta2=0.95,
        eval_interval=250,
        eval_batches=50,
        compile=True,
        bf16=True,
    )


def bert_cpu() -> TrainConfig:
    """A small BERT pre-trained by masked language modelling on a CPU in half an hour: BPE
    tokens (with [MASK] added), 64-token windows of Dante, 4 post-norm layers x 128.

    Masked LMs learn slowly at first: only 15% of the positions are asked, and for the first
    ~3,000 steps the model mostly learns which tokens are frequent (validation loss stuck
    near 5.9 nats). Then attention starts to use the neighbours and the loss
    drops fast (measured on 2 cores: 5.77 at step 2,500, 4.65 at step 4,000, 3.47 after
    9,227 steps in 30 minutes; see bench/fill_mask.py). Batches of 32 windows,
    lr 1e-3 after 300 warm-up steps: post-norm blocks need the gentle start."""
    return TrainConfig(
        corpus="divina_commedia",
        tokenizer="bpe:2000",
        objective="mlm",
        arch="bert",
        model=dict(block_size=64, n_layer=4, n_head=4, n_embd=128),
        batch_size=32,
        max_steps=None,
        time_budget_min=30.0,
        learning_rate=1e-3,
        min_lr=1e-4,
        warmup_steps=300,
        eval_interval=500,
        eval_batches=10,
        log_interval=25,
    )


def _bundled(corpus: str, tokenizer: str) -> TrainConfig:
    """The one recipe both bundled models were trained with; only the text and tokens differ."""
    return TrainConfig(
        corpus=corpus,
        tokenizer=tokenizer,
        model=dict(block_size=128, n_layer=4, n_head=4, n_embd=128, dropout=0.1),
        batch_size=16,
        max_steps=2000,
        learning_rate=2e-3,
        min_lr=2e-4,
        warmup_steps=100,
        eval_interval=250,
        eval_batches=20,
        log_interval=25,
    )


def dante() -> TrainConfig:
    """The bundled `dante` model: Italian verse from the Divina Commedia, sub-word tokens.

    Built to be watched in the explainer as much as to write: BPE tokens trained by attento
    (so "cammin" is a piece, as the course describes), GPT-2's layout (learned positions,
    LayerNorm, GELU), 4 blocks of 4 heads: small enough to trace a prompt in milliseconds.
    """
    return _bundled("divina_commedia", "bpe:1024")


def shakespeare() -> TrainConfig:
    """The bundled `shakespeare` model: English plays, one token per character, GPT-2 layout
    (learned positions, LayerNorm, GELU), so the explainer shows a character-level model too."""
    return _bundled("tinyshakespeare", "char")


PRESETS = {
    "tiny": tiny,
    "cpu": cpu,
    "small": small,
    "gpt2-small": gpt2_small,
    "bert-cpu": bert_cpu,
    "dante": dante,
    "shakespeare": shakespeare,
}


def preset(name: str) -> TrainConfig:
    """A fresh `TrainConfig` for a preset name."""
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})")
    return PRESETS[name]()

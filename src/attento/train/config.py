"""What one training run does, as a JSON-serialisable dataclass, plus named presets.

A run is fully described by a `TrainConfig`: the data (corpus, tokenizer, objective), the
model shape (a dict handed to the architecture's config class, with `vocab_size` filled in
from the tokenizer), the optimiser and schedule, how long to train, how often to evaluate,
and the seed. The config is written next to every checkpoint, so a run folder says how it
was made and `--resume` can check it continues the same run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from attento.config import Config, check_counts, type_hints, with_settings
from attento.errors import UserError

# sft: instruction tuning, reward: a reward model, dpo and ppo: alignment, each with its batch
# source (and loss) from attento.align; seq2seq: an encoder–decoder on source TAB target pairs
OBJECTIVES = ("clm", "mlm", "sft", "reward", "dpo", "ppo", "seq2seq")
OPTIMIZERS = ("adamw", "muon")  # muon: Muon on the blocks' matrices, AdamW on the rest
# mlm: masked language modelling (BERT), batches from attento.data.masking


@dataclass
class TrainConfig(Config):
    """All settings of a training run. Steps are optimiser steps (after accumulation).

    A step learns from batch_size * grad_accum sequences, shared out by torchrun's processes;
    each forward pass takes at most batch_size of them (accumulate to fit a bigger batch).

    corpus: tinyshakespeare, divina_commedia or a text file
    tokenizer: char, bpe:N (train N tokens on the corpus) or a saved tokenizer
    objective: what a batch asks the model to predict: clm (next token), mlm (masked tokens,
        trains a BERT) or sft (instruction tuning)
    arch: gpt, bert, mlp, rnn, lstm, gru or cnn
    model: the architecture's config, minus vocab_size (filled in from the tokenizer)
    init_from: a model to continue training (bundled name, attento or Hugging Face folder,
        Hub id): its weights, tokenizer and shape replace tokenizer, arch and model
    batch_size: sequences per forward pass
    grad_accum: forward passes per optimiser step
    max_steps: optimiser steps to train (None: until the time budget)
    time_budget_min: wall-clock minutes to train; the lr schedule follows time then
    optimizer: adamw, or muon (Muon on the blocks' matrices, AdamW on the rest)
    learning_rate: AdamW's peak; the schedule scales muon_lr alike
    min_lr: the cosine decays to this
    muon_lr: peak learning rate of the Muon matrices (optimizer muon)
    warmup_steps: steps of linear warm-up
    weight_decay: on matrices only
    beta1: AdamW's first-moment decay
    beta2: AdamW's second-moment decay
    grad_clip: max global gradient norm; 0 disables clipping
    eval_interval: steps between evals (and checkpoints)
    eval_batches: batches per eval; None: the whole validation split
    log_interval: steps between log.csv rows
    seed: random seed
    compile: torch.compile the model
    grad_checkpoint: recompute each block's activations in the backward pass (less memory,
        one more forward per step; the same gradients, bit for bit)
    bf16: bfloat16 autocast on GPUs (ignored on CPUs, where it is emulated)
    device: cpu, cuda or auto (cuda when available)
    save_best: also keep the best-validation model in OUT/best/
    keep_checkpoints: weight snapshots kept along the run, step 0 and the last included
        (train/snapshots.py; the explainer's history page scrubs them)
    """

    what = "training"
    corpus: str = "tinyshakespeare"
    tokenizer: str = "char"
    objective: str = "clm"
    arch: str = "gpt"
    model: dict[str, Any] = field(default_factory=dict)
    init_from: str | None = None
    batch_size: int = 12
    grad_accum: int = 1
    max_steps: int | None = 2000
    time_budget_min: float | None = None
    optimizer: str = "adamw"
    learning_rate: float = 1e-3
    min_lr: float = 1e-4
    muon_lr: float = 0.02
    warmup_steps: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    eval_interval: int = 250
    eval_batches: int | None = None
    log_interval: int = 10
    seed: int = 1337
    compile: bool = False
    grad_checkpoint: bool = False
    bf16: bool = False
    device: str = "auto"
    save_best: bool = True
    keep_checkpoints: int = 0

    def check(self) -> None:
        if self.objective not in OBJECTIVES:
            raise UserError(
                f"unknown objective {self.objective!r} (known: {', '.join(OBJECTIVES)})"
            )
        if (self.objective == "mlm") != (self.arch == "bert"):
            raise UserError(
                "objective mlm and arch bert go together: masked language modelling trains "
                "an encoder (BERT), e.g. --preset bert-cpu"
            )
        if (self.objective == "seq2seq") != (self.arch == "seq2seq"):
            raise UserError(
                "objective seq2seq and arch seq2seq go together: source-target pairs train an "
                "encoder–decoder, e.g. --preset numeri"
            )
        names = ("batch_size", "grad_accum", "eval_interval", "eval_batches", "log_interval")
        check_counts(self, *names)
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
        if isinstance(self.keep_checkpoints, bool) or not isinstance(self.keep_checkpoints, int):
            raise UserError(f"keep_checkpoints must be an integer, got {self.keep_checkpoints!r}")
        if self.keep_checkpoints < 0:
            raise UserError(f"keep_checkpoints cannot be negative, got {self.keep_checkpoints}")
        if self.keep_checkpoints and self.max_steps is None:
            raise UserError(
                "--keep-checkpoints spreads its snapshots over the run's steps: give --max-steps"
            )
        if self.warmup_steps < 0 or self.grad_clip < 0 or self.weight_decay < 0:
            raise UserError("warmup_steps, grad_clip and weight_decay cannot be negative")


def with_overrides(cfg: TrainConfig, assignments: list[str]) -> TrainConfig:
    """`cfg` with `key=value` settings applied (`attento train --set`); `model.KEY` sets a
    key of the model shape, typed and checked by the architecture's config class."""
    return with_settings(cfg, assignments, nested=_model_hints)


def _model_hints(cfg: TrainConfig, name: str) -> dict[str, Any]:
    from attento.registry import arch_class

    hints = type_hints(arch_class(cfg.arch, "--set arch").config_class)
    return {k: v for k, v in hints.items() if k != "vocab_size"}  # from the tokenizer


# The named presets: each a TrainConfig, what `--config FILE` would hold (`preset(name)
# .to_json()` writes it), listed here and nowhere else.
PRESETS: dict[str, TrainConfig] = {
    # trains in a couple of seconds on a CPU: for tests and for trying the pipeline
    "tiny": TrainConfig(
        model=dict(block_size=32, n_layer=2, n_head=2, n_embd=32),
        batch_size=8,
        max_steps=40,
        learning_rate=3e-3,
        min_lr=3e-4,
        warmup_steps=5,
        eval_interval=20,
        eval_batches=4,
        log_interval=5,
    ),
    # the best character model we found for 10 minutes on 2 CPU cores (tinyshakespeare);
    # the trials behind each choice are in bench/RESULTS.md, "## cpu preset trials"
    "cpu": TrainConfig(
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
    ),
    # nanoGPT's Shakespeare-character model (6 layers x 384, 256-token context), for a GPU
    "small": TrainConfig(
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
    ),
    # GPT-2 small's shape (12 layers x 768, 1024 tokens, 124M parameters with 50k tokens)
    "gpt2-small": TrainConfig(
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
    ),
    # A small BERT pre-trained by masked language modelling on a CPU in half an hour: BPE
    # tokens (with [MASK] added), 64-token windows of Dante, 4 post-norm layers x 128.
    # Masked LMs learn slowly at first: only 15% of the positions are asked, and for the
    # first ~3,000 steps the model mostly learns which tokens are frequent (validation loss
    # stuck near 5.9 nats); then attention starts to use the neighbours and the loss drops
    # fast (see bench/fill_mask.py). Batches of 32 windows, lr 1e-3 after 300 warm-up
    # steps: post-norm blocks need the gentle start.
    "bert-cpu": TrainConfig(
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
    ),
}
# The bundled `shakespeare`: English plays, one token per character, the `cpu` preset's
# recipe (RoPE, RMSNorm, Muon, 512-character windows) for a fixed number of steps instead of
# ten minutes, so that the run does not depend on how busy the machine is; the explainer
# shows, besides dante's learned positions, a model whose positions rotate inside attention.
PRESETS["shakespeare"] = PRESETS["cpu"].replace(
    max_steps=1800, time_budget_min=None, eval_interval=900
)
# The bundled `dante`: Italian verse from the Divina Commedia, sub-word tokens. Built to be
# watched in the explainer as much as to write: BPE tokens trained by attento (so "cammin"
# is a piece, as the course describes), GPT-2's layout (learned positions, LayerNorm, GELU:
# it exports as GPT2LMHeadModel), 4 blocks of 4 heads, small enough to trace a prompt in
# milliseconds. AdamW, dropout 0.1: the Commedia is small (about 180k training tokens) and
# this run reads it over 20 times. A retraining with the `cpu` preset's Muon and 2,048 tokens
# tied it in a quarter of the tokens, no better (bench/RESULTS.md, "bench/bundled.py").
PRESETS["dante"] = TrainConfig(
    corpus="divina_commedia",
    tokenizer="bpe:1024",
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
# The bundled `dante-bert`: a BERT small enough to ship (550k parameters, 2.2 MB) and to
# train in a quarter of an hour on a CPU, so that fill-mask and the explainer's GPT-vs-BERT
# page work on a fresh clone. Two post-norm layers x 128 over 32-token windows, 1,024 BPE
# tokens trained on the Commedia (+ [MASK]). A quarter of an hour is short for a masked LM
# (bert-cpu: the loss leaves its plateau after ~3,000 steps): the shipped model got 913 steps
# on the shared 2-core machine, enough to use its neighbours a little (bench/RESULTS.md).
PRESETS["dante-bert"] = PRESETS["bert-cpu"].replace(
    tokenizer="bpe:1024",
    model=dict(block_size=32, n_layer=2, n_head=4, n_embd=128),
    time_budget_min=15.0,
    learning_rate=1.5e-3,
    min_lr=1.5e-4,
    warmup_steps=200,
)
# The bundled `dante-history`: a tiny character model of Dante (2 layers x 32) that keeps 7
# snapshots of its 600 steps, from random weights to its last step, so that the explainer's
# history page (watching a model learn) works on a fresh clone; all of it stays under 1 MB.
PRESETS["dante-history"] = PRESETS["tiny"].replace(
    corpus="divina_commedia",
    max_steps=600,
    keep_checkpoints=7,
    warmup_steps=20,
    eval_interval=100,
    log_interval=10,
)

# The bundled `numeri`: the 2017 encoder–decoder (2 + 2 post-norm blocks x 4 heads x 64, the
# paper's ReLU and LayerNorm) spelling numbers in Italian, "347" -> "trecentoquarantasette",
# so that the explainer's encoder–decoder page (cross-attention) works on a fresh clone. The
# recipe of bench/seq2seq.py: batches of 64 pairs, lr 3e-3 after 100 warm-up steps, no weight
# decay, beta2 0.98; fixed steps, so a loaded machine trains the same model, only slower.
PRESETS["numeri"] = TrainConfig(
    corpus="numeri",
    objective="seq2seq",
    arch="seq2seq",
    model=dict(block_size=40, n_layer=2, n_head=4, n_embd=64),
    batch_size=64,
    max_steps=600,
    learning_rate=3e-3,
    min_lr=1e-4,
    warmup_steps=100,
    weight_decay=0.0,
    beta2=0.98,
    eval_interval=100,
    log_interval=10,
)


def preset(name: str) -> TrainConfig:
    """A fresh copy of a preset's `TrainConfig`."""
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})")
    return TrainConfig.from_dict(PRESETS[name].to_dict())

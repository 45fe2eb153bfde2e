"""The reward model: a transformer that reads a prompt and an answer and outputs one number.

It is the language model with its vocabulary projection replaced by a scalar head: the hidden
state of the last real token (which has attended to the whole text) goes through one linear
layer, giving r(prompt, answer). It starts from the fine-tuned language model (InstructGPT
does the same), so it already "reads" the text, and learns from pairs that a person ranked:
the Bradley–Terry loss −log σ(r_chosen − r_rejected) (losses.py) pushes the preferred
answer's score above the other's. Only differences of scores matter, so the scale and offset
are arbitrary; the measure of quality is the *pairwise accuracy* on held-out pairs, the
fraction where the chosen answer scores higher.

The model saves and loads as a model folder with {"arch": "gpt-reward"}.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from attento.align.chat import ChatFormat
from attento.align.data import Preference, hold_out, pad_rows
from attento.align.losses import bradley_terry_loss
from attento.align.settings import TrainDropout, evaluating
from attento.config import check_counts, check_positive
from attento.errors import UserError
from attento.models.gpt import GPT, GPTConfig


class RewardModel(nn.Module):
    """GPT body (no vocabulary projection) + a linear head: token ids -> one score per row."""

    arch = "gpt-reward"
    config_class = GPTConfig

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.body = GPT(config)
        self.body.lm_head = nn.Identity()  # the body now returns hidden states (B, T, C)
        self.head = nn.Linear(config.n_embd, 1)
        nn.init.normal_(self.head.weight, std=1.0 / (config.n_embd + 1) ** 0.5)
        nn.init.zeros_(self.head.bias)

    @classmethod
    def from_lm(cls, lm: GPT) -> RewardModel:
        """A reward model whose body starts as the language model's transformer."""
        rm = cls(lm.config)
        state = {k: v for k, v in lm.state_dict().items() if k != "lm_head.weight"}
        rm.body.load_state_dict(state)
        return rm

    def forward(self, idx: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """idx (B, T) -> scores (B,), read at each row's last real (valid) token."""
        hidden = self.body(idx, valid=valid)
        if valid is None:
            last = torch.full((idx.size(0),), idx.size(1) - 1, device=idx.device)
        else:
            positions = torch.arange(idx.size(1), device=idx.device)
            last = (valid.long() * positions).argmax(dim=1)
        h = hidden[torch.arange(idx.size(0), device=idx.device), last]
        return self.head(h).squeeze(-1)


def encode_pair(chat: ChatFormat, pref: Preference, block_size: int) -> tuple[list[int], list[int]]:
    """Token ids of prompt + chosen and prompt + rejected (the end kept if too long)."""
    prompt = chat.encode_prompt(pref.prompt)
    return (
        (prompt + chat.encode_reply(pref.chosen))[-block_size:],
        (prompt + chat.encode_reply(pref.rejected))[-block_size:],
    )


def score_pairs(
    rm: RewardModel, pairs: Sequence[tuple[list[int], list[int]]], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores of the chosen and of the rejected rows, one forward pass for both."""
    ids, valid = pad_rows([c for c, _ in pairs] + [r for _, r in pairs], pad_id)
    device = next(rm.parameters()).device
    scores = rm(ids.to(device), valid.to(device))
    return scores[: len(pairs)], scores[len(pairs) :]


@torch.no_grad()
def pairwise_accuracy(
    rm: RewardModel, pairs: Sequence[tuple[list[int], list[int]]], pad_id: int, batch: int = 64
) -> float:
    """Fraction of pairs whose chosen answer scores strictly higher (without dropout)."""
    wins = 0
    with evaluating(rm):
        for i in range(0, len(pairs), batch):
            chosen, rejected = score_pairs(rm, pairs[i : i + batch], pad_id)
            wins += int((chosen > rejected).sum())
    return wins / max(len(pairs), 1)


@dataclass
class RewardSettings(TrainDropout):
    """The knobs of `attento reward`.

    steps: optimiser steps
    batch_size: preference pairs per step
    learning_rate: AdamW's learning rate
    weight_decay: AdamW's decoupled weight decay
    val_fraction: share of the pairs held out to measure accuracy
    seed: random seed
    """

    steps: int = 300
    batch_size: int = 32
    learning_rate: float = 3e-4
    weight_decay: float = 0.0
    val_fraction: float = 0.1
    seed: int = 0

    def check(self) -> None:
        check_counts(self, "steps", "batch_size")
        check_positive(self, "learning_rate")


@dataclass
class RewardReport:
    train_pairs: int
    val_pairs: int
    val_accuracy: float
    train_accuracy: float
    losses: list[float] = field(default_factory=list)


def train_reward_model(
    lm: GPT,
    chat: ChatFormat,
    preferences: Sequence[Preference],
    settings: RewardSettings | None = None,
    progress: bool = False,
) -> tuple[RewardModel, RewardReport]:
    """Fit a reward model (initialised from `lm`) to preference pairs; report held-out
    pairwise accuracy."""
    from tqdm.auto import tqdm

    s = settings or RewardSettings()
    if len(preferences) < 2:
        raise UserError("a reward model needs at least two preference pairs (one held out)")
    torch.manual_seed(s.seed)
    pairs = [encode_pair(chat, p, lm.config.block_size) for p in preferences]
    train, val = hold_out(pairs, s.val_fraction, s.seed)
    device = next(lm.parameters()).device
    rm = RewardModel.from_lm(lm).to(device).train(s.train_dropout)
    optimizer = torch.optim.AdamW(rm.parameters(), lr=s.learning_rate, weight_decay=s.weight_decay)
    rng = random.Random(s.seed + 1)
    losses = []
    for _ in tqdm(range(s.steps), disable=not progress, desc="reward model", unit="step"):
        batch = [train[rng.randrange(len(train))] for _ in range(s.batch_size)]
        chosen, rejected = score_pairs(rm, batch, chat.im_end)
        loss = bradley_terry_loss(chosen, rejected)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(rm.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    rm.eval()
    report = RewardReport(
        train_pairs=len(train),
        val_pairs=len(val),
        val_accuracy=pairwise_accuracy(rm, val, chat.im_end),
        train_accuracy=pairwise_accuracy(rm, train[:512], chat.im_end),
        losses=losses,
    )
    return rm, report

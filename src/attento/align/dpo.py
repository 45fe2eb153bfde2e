"""DPO: learn from preferences directly, without a reward model or sampling.

Rafailov et al. (2023) show that the policy maximising "reward − β·KL(π ‖ π_ref)" has the
closed form π(y|x) ∝ π_ref(y|x)·exp(r(x, y) / β). Turned around, every policy defines a
reward, r(x, y) = β·log(π(y|x) / π_ref(y|x)) (+ a term that cancels in comparisons), and the
Bradley–Terry loss on that implicit reward is a loss on the policy itself:

    L = −log σ(β·[(log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r))])

So DPO is supervised learning on pairs: raise the chosen answer's log-probability relative
to the reference, lower the rejected one's. β sets how far the policy may move (small β:
far). log π(y|x) is the sum of the answer tokens' log-probabilities given the prompt. The
reference's values never change, so they are computed once, before training. The *implicit
reward accuracy* (how often β·log π/π_ref ranks the chosen answer higher) measures progress.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from attento.align.chat import ChatFormat
from attento.align.data import Preference, hold_out, pad_rows
from attento.align.losses import dpo_loss, token_logprobs
from attento.align.settings import TrainDropout, evaluating
from attento.config import check_counts, check_positive
from attento.errors import UserError
from attento.models.gpt import GPT

Row = tuple[list[int], int]  # ids of prompt + answer, number of prompt tokens


def encode_preference(chat: ChatFormat, pref: Preference, block_size: int) -> tuple[Row, Row]:
    """(chosen row, rejected row); a long prompt loses its beginning to fit the context."""
    prompt = chat.encode_prompt(pref.prompt)
    rows = []
    for answer in (pref.chosen, pref.rejected):
        reply = chat.encode_reply(answer)[: block_size - 1]
        keep = prompt[-(block_size + 1 - len(reply)) :]
        rows.append((keep + reply, len(keep)))
    return rows[0], rows[1]


def sequence_logprobs(model: nn.Module, rows: Sequence[Row], pad_id: int) -> torch.Tensor:
    """log π(answer | prompt) of each row: the sum over its answer tokens, (B,)."""
    device = next(model.parameters()).device
    ids = pad_rows([ids for ids, _ in rows], pad_id)[0].to(device)
    mask = torch.zeros(ids.size(0), ids.size(1) - 1, device=device)
    for i, (r, n_prompt) in enumerate(rows):
        mask[i, n_prompt - 1 : len(r) - 1] = 1.0  # position t scores token t + 1
    logits = model(ids[:, :-1])
    return (token_logprobs(logits, ids[:, 1:]) * mask).sum(1)


@dataclass
class DPOSettings(TrainDropout):
    """The knobs of `attento dpo`.

    beta: how far from the reference model the policy may move (DPO's β)
    steps: optimiser steps
    batch_size: preference pairs per step
    learning_rate: AdamW's learning rate
    val_fraction: share of the pairs held out to measure accuracy
    seed: random seed
    """

    beta: float = 0.1
    steps: int = 200
    batch_size: int = 16
    learning_rate: float = 1e-4
    val_fraction: float = 0.1
    seed: int = 0

    def check(self) -> None:
        check_counts(self, "steps", "batch_size")
        check_positive(self, "beta", "learning_rate")


@dataclass
class DPOReport:
    train_pairs: int
    val_pairs: int
    val_reward_accuracy: float  # implicit reward accuracy on held-out pairs, after training
    val_reward_accuracy_before: float  # ... at the start (ties count as losses: 0 at step 0)
    val_margin: float  # mean β·(log π/π_ref(c) − log π/π_ref(r)) on held-out pairs
    losses: list[float] = field(default_factory=list)
    accuracies: list[float] = field(default_factory=list)  # per training batch


@torch.no_grad()
def _reference_logps(ref: nn.Module, pairs, pad_id: int, batch: int = 64) -> torch.Tensor:
    out = []
    for i in range(0, len(pairs), batch):
        chunk = pairs[i : i + batch]
        out.append(sequence_logprobs(ref, [c for c, _ in chunk] + [r for _, r in chunk], pad_id))
        out[-1] = out[-1].view(2, -1).t()
    return torch.cat(out)  # (N, 2): chosen, rejected


@torch.no_grad()
def _implicit_accuracy(policy, pairs, ref_logps, pad_id: int, beta: float) -> tuple[float, float]:
    with evaluating(policy):
        logps = _reference_logps(policy, pairs, pad_id)
    _, chosen, rejected = dpo_loss(logps[:, 0], logps[:, 1], ref_logps[:, 0], ref_logps[:, 1], beta)
    return (chosen > rejected).float().mean().item(), (chosen - rejected).mean().item()


def dpo(
    policy: GPT,
    chat: ChatFormat,
    preferences: Sequence[Preference],
    settings: DPOSettings | None = None,
    progress: bool = False,
) -> tuple[GPT, DPOReport]:
    """Train a copy of `policy` with DPO against the frozen original; report held-out
    implicit reward accuracy."""
    from tqdm.auto import tqdm

    s = settings or DPOSettings()
    if len(preferences) < 2:
        raise UserError("DPO needs at least two preference pairs (one held out)")
    torch.manual_seed(s.seed)
    block = policy.config.block_size
    pairs = [encode_preference(chat, p, block) for p in preferences]
    train, val = hold_out(pairs, s.val_fraction, s.seed)
    reference = copy.deepcopy(policy).eval().requires_grad_(False)
    pad = chat.im_end
    ref_train, ref_val = (
        _reference_logps(reference, train, pad),
        _reference_logps(reference, val, pad),
    )
    model = copy.deepcopy(policy).train(s.train_dropout)
    acc_before, _ = _implicit_accuracy(model, val, ref_val, pad, s.beta)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=s.learning_rate, weight_decay=0.0
    )
    rng = random.Random(s.seed + 1)
    losses, accuracies = [], []
    for _ in tqdm(range(s.steps), disable=not progress, desc="DPO", unit="step"):
        picks = [rng.randrange(len(train)) for _ in range(s.batch_size)]
        rows = [train[i][0] for i in picks] + [train[i][1] for i in picks]
        logps = sequence_logprobs(model, rows, pad).view(2, -1)
        ref = ref_train[picks]
        loss, chosen, rejected = dpo_loss(logps[0], logps[1], ref[:, 0], ref[:, 1], s.beta)
        optimizer.zero_grad(set_to_none=True)
        loss.mean().backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.mean().item())
        accuracies.append((chosen > rejected).float().mean().item())
    model.eval()
    acc, margin = _implicit_accuracy(model, val, ref_val, pad, s.beta)
    report = DPOReport(len(train), len(val), acc, acc_before, margin, losses, accuracies)
    return model, report

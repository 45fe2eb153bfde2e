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

DPO only asks the chosen answer to gain on the rejected one, and the cheapest way is often to
make both less likely: on a small model that blurs the chosen answer itself (an answer that
is the rejected one in other pairs, like a refusal, loses most). RPO (Pang et al., 2024;
TRL's `rpo_alpha`) adds the chosen answers' negative log-likelihood, a mean over their tokens:

    L_RPO = L_DPO + α·NLL(chosen)
"""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from attento.align.chat import ChatFormat
from attento.align.data import Preference, hold_out, pad_rows, random_state, set_random_state
from attento.align.losses import dpo_loss, token_logprobs
from attento.align.runs import align_config, run_device, train_run
from attento.align.settings import RunDevice, TrainDropout, evaluating
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


def answer_mask(rows: Sequence[Row], width: int) -> torch.Tensor:
    """(B, width − 1): 1 where position t scores an answer token (token t + 1)."""
    mask = torch.zeros(len(rows), width - 1)
    for i, (r, n_prompt) in enumerate(rows):
        mask[i, n_prompt - 1 : len(r) - 1] = 1.0
    return mask


def padded_logprobs(model: nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log π(answer | prompt) of each padded row, (B,)."""
    return (token_logprobs(model(ids[:, :-1]), ids[:, 1:]) * mask).sum(1)


def sequence_logprobs(model: nn.Module, rows: Sequence[Row], pad_id: int) -> torch.Tensor:
    """log π(answer | prompt) of each row: the sum over its answer tokens, (B,)."""
    device = next(model.parameters()).device
    ids = pad_rows([ids for ids, _ in rows], pad_id)[0]
    mask = answer_mask(rows, ids.size(1))
    return padded_logprobs(model, ids.to(device), mask.to(device))


@dataclass
class DPOSettings(TrainDropout, RunDevice):
    """The knobs of `attento dpo`.

    beta: how far from the reference model the policy may move (DPO's β)
    steps: optimiser steps
    batch_size: preference pairs per step
    learning_rate: AdamW's learning rate
    val_fraction: share of the pairs held out to measure accuracy
    seed: random seed
    eval_interval: steps between checkpoints (each with the held-out loss)
    rpo_alpha: weight of the chosen answers' NLL added to the loss (RPO; 0: plain DPO)
    """

    beta: float = 0.1
    steps: int = 200
    batch_size: int = 16
    learning_rate: float = 1e-4
    val_fraction: float = 0.1
    seed: int = 0
    eval_interval: int = 100
    rpo_alpha: float = 0.0

    def check(self) -> None:
        super().check()
        check_counts(self, "steps", "batch_size", "eval_interval")
        check_positive(self, "beta", "learning_rate")
        if not self.rpo_alpha >= 0:
            raise UserError(f"rpo_alpha must be >= 0, got {self.rpo_alpha}")


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


class DPOBatches:
    """Preference pairs with their reference log-probabilities, for the shared training loop
    (objective "dpo"): a batch is the padded chosen rows then the rejected ones, their answer
    masks and the reference's (chosen, rejected) log-probabilities."""

    objective = "dpo"

    def __init__(
        self, train, val, ref_train, ref_val, pad_id, beta, seed, train_dropout, rpo_alpha=0.0
    ):
        self.train, self.val, self.ref_train, self.ref_val = train, val, ref_train, ref_val
        self.pad_id, self.beta, self.train_dropout = pad_id, beta, train_dropout
        self.rpo_alpha = rpo_alpha
        self.rng = random.Random(seed)
        self.accuracies: list[float] = []  # implicit reward accuracy of each training batch

    def collate(self, picks: list[int], pairs, ref: torch.Tensor):
        rows = [pairs[i][0] for i in picks] + [pairs[i][1] for i in picks]
        ids = pad_rows([r for r, _ in rows], self.pad_id)[0]
        return ids, answer_mask(rows, ids.size(1)), ref[picks]

    def train_batches(self, batch_size: int, n_micro: int, rank: int = 0, world: int = 1):
        picks = [self.rng.randrange(len(self.train)) for _ in range(batch_size * n_micro)]
        share = len(picks) // world
        mine = picks[rank * share : (rank + 1) * share]
        chunks = [mine[j : j + batch_size] for j in range(0, len(mine), batch_size)]
        return [self.collate(chunk, self.train, self.ref_train) for chunk in chunks]

    def losses(self, model: nn.Module, batch):
        """(per-pair losses, chosen rewards, rejected rewards); with rpo_alpha, each pair's
        loss also holds α times the batch's chosen-token NLL, as in TRL."""
        ids, mask, ref = batch
        logps = padded_logprobs(model, ids, mask).view(2, -1)
        losses, chosen, rejected = dpo_loss(logps[0], logps[1], ref[:, 0], ref[:, 1], self.beta)
        if self.rpo_alpha:
            n_chosen = mask[: logps.size(1)].sum()
            losses = losses + self.rpo_alpha * -logps[0].sum() / n_chosen
        return losses, chosen, rejected

    def loss(self, model: nn.Module, batch) -> torch.Tensor:
        loss, chosen, rejected = self.losses(model, batch)
        self.accuracies.append((chosen > rejected).float().mean().item())
        return loss.mean()

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> float:
        """The mean loss (DPO, plus RPO's NLL term when set) of the held-out pairs."""
        device = next(model.parameters()).device
        total = 0.0
        for i in range(0, len(self.val), 64):
            picks = list(range(i, min(i + 64, len(self.val))))
            batch = tuple(t.to(device) for t in self.collate(picks, self.val, self.ref_val))
            total += float(self.losses(model, batch)[0].sum())
        return total / len(self.val)

    def eval_batches(self, *args, **kwargs):
        return iter(())

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"rng": random_state(self.rng), "accuracies": torch.tensor(self.accuracies)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        set_random_state(self.rng, state["rng"])
        self.accuracies = state["accuracies"].tolist()


def dpo(
    policy: GPT,
    chat: ChatFormat,
    preferences: Sequence[Preference],
    settings: DPOSettings | None = None,
    progress: bool = False,
    out: str | Path | None = None,
    resume: bool = False,
) -> tuple[GPT, DPOReport]:
    """Train a copy of `policy` with DPO against the frozen original, with the shared loop
    (its run, checkpoints and log.csv, in `out`; a temporary folder if None); report
    held-out implicit reward accuracy."""
    s = settings or DPOSettings()
    if len(preferences) < 2:
        raise UserError("DPO needs at least two preference pairs (one held out)")
    torch.manual_seed(s.seed)
    block = policy.config.block_size
    pairs = [encode_preference(chat, p, block) for p in preferences]
    train_pairs, val = hold_out(pairs, s.val_fraction, s.seed)
    device = run_device(s.device)
    reference = copy.deepcopy(policy).to(device).eval().requires_grad_(False)
    pad = chat.im_end
    ref_train, ref_val = (
        _reference_logps(reference, train_pairs, pad).cpu(),
        _reference_logps(reference, val, pad).cpu(),
    )
    model = copy.deepcopy(policy).to(device)
    acc_before, _ = _implicit_accuracy(model, val, ref_val.to(device), pad, s.beta)
    batches = DPOBatches(
        train_pairs, val, ref_train, ref_val, pad, s.beta, s.seed + 1, s.train_dropout, s.rpo_alpha
    )
    cfg = align_config(
        "dpo",
        model,
        "preferences",
        tokenizer="model",
        batch_size=s.batch_size,
        max_steps=s.steps,
        learning_rate=s.learning_rate,
        eval_interval=s.eval_interval,
        seed=s.seed,
        device=s.device,
    )
    model, losses = train_run(cfg, model, chat.tokenizer, batches, out, resume, progress)
    acc, margin = _implicit_accuracy(model, val, ref_val.to(device), pad, s.beta)
    report = DPOReport(
        len(train_pairs), len(val), acc, acc_before, margin, losses, batches.accuracies
    )
    return model, report

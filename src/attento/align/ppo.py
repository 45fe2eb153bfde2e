"""RLHF with PPO: the policy writes, the reward model scores, the policy improves.

Each PPO step (Ziegler et al., 2019; InstructGPT, 2022):
1. *rollout*: the policy samples an answer to each prompt of a batch (rollout.py);
2. *score*: the reward model scores every prompt + answer; the frozen reference model (the
   SFT model) gives the log-probabilities that the KL penalty compares against. The reward of
   token t is −β·(log π_old(a_t) − log π_ref(a_t)), plus the score on the last answer token:
   the policy gains by pleasing the reward model, and pays for drifting from the reference
   (which keeps it writing language, and the reward model on ground it knows);
   A reward model's scale is arbitrary, so before training its scores are normalised on a
   batch of the reference's own answers (mean 0, as InstructGPT does, and std 1), which
   gives β the same meaning whatever the reward model;
3. *advantages*: a value head (one linear layer on the policy's last hidden state) predicts
   the return from each token; generalised advantage estimation (γ, λ) turns rewards and
   values into advantages, which are whitened (zero mean, unit variance) across the batch;
4. *update*: a few epochs over mini-batches of the clipped policy loss (the probability ratio
   π/π_old may move only within 1 ± ε before the gradient stops) plus the clipped value loss.
Sampling, the old log-probabilities and values, and the reference's log-probabilities are
computed without dropout (the reference and π_old must be the same function at the first
step: KL 0, ratio 1); the update's forward passes use dropout only with `train_dropout`.
Formulas: losses.py. Logged per step: mean reward-model score, mean true reward when a judge
is given, KL to the reference (per answer), entropy (per token), losses; `plot_ppo` draws them.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from attento.align.chat import ChatFormat, Message
from attento.align.losses import (
    entropy,
    gae,
    masked_mean,
    masked_whiten,
    ppo_policy_loss,
    ppo_value_loss,
    token_logprobs,
    token_rewards,
)
from attento.align.reward import RewardModel
from attento.align.rollout import Judge, Rollout, answer_logprobs, sample
from attento.align.settings import TrainDropout
from attento.config import check_counts, check_positive
from attento.errors import UserError
from attento.models.gpt import GPT


class PolicyWithValue(nn.Module):
    """The policy GPT plus a value head reading its final hidden state (the output of the
    last norm, captured with a forward hook so that the GPT class stays as it is).

    The head reads a detached copy of that state: the value loss trains the head only, so
    an early, poor value estimate cannot pull the language model's weights around."""

    def __init__(self, policy: GPT) -> None:
        super().__init__()
        self.policy = policy
        self.value_head = nn.Linear(policy.config.n_embd, 1)
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)

    def forward(
        self, idx: torch.Tensor, valid: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (B, T, V), values (B, T))."""
        captured: list[torch.Tensor] = []
        hook = self.policy.ln_f.register_forward_hook(lambda m, i, out: captured.append(out))
        try:
            logits = self.policy(idx, valid=valid)
        finally:
            hook.remove()
        return logits, self.value_head(captured[-1].detach()).squeeze(-1)


@dataclass
class PPOSettings(TrainDropout):
    """The knobs of `attento ppo`.

    steps: rollouts, each followed by ppo_epochs of updates
    batch_size: prompts per rollout
    mini_batch_size: answers per update
    ppo_epochs: passes of updates over each rollout
    max_new_tokens: longest answer sampled in a rollout
    learning_rate: AdamW's learning rate
    kl_coef: β of the per-token KL penalty to the starting model
    gamma: discount of GAE
    lam: λ of GAE
    cliprange: clip of the policy ratio
    cliprange_value: clip of the value change
    vf_coef: weight of the value loss
    whiten_rewards: whiten the rewards of each rollout
    normalize_scores: reward-model scores of the reference's answers get mean 0, std 1
    temperature: sampling temperature of the rollouts
    seed: random seed
    """

    steps: int = 100
    batch_size: int = 32
    mini_batch_size: int = 16
    ppo_epochs: int = 4
    max_new_tokens: int = 32
    learning_rate: float = 5e-5
    kl_coef: float = 0.05
    gamma: float = 1.0
    lam: float = 0.95
    cliprange: float = 0.2
    cliprange_value: float = 0.2
    vf_coef: float = 0.1
    whiten_rewards: bool = False
    normalize_scores: bool = True
    temperature: float = 1.0
    seed: int = 0

    def check(self) -> None:
        check_counts(self, "steps", "batch_size", "mini_batch_size", "ppo_epochs")
        check_counts(self, "max_new_tokens")
        check_positive(self, "learning_rate", "temperature")
        if not self.kl_coef >= 0:
            raise UserError(
                f"kl_coef cannot be negative, got {self.kl_coef}: 0 turns the KL penalty off"
            )


@dataclass
class PPOLog:
    step: int
    score: float  # mean (normalised) reward-model score of the rollout
    true_reward: float  # mean judge reward (nan without a judge)
    kl: float  # mean Σ_t log π_old − log π_ref per answer
    entropy: float  # mean per answer token
    pg_loss: float
    vf_loss: float
    clipfrac: float


def ppo(
    policy: GPT,
    reward_model: RewardModel,
    chat: ChatFormat,
    prompts: Sequence[Sequence[Message]],
    settings: PPOSettings | None = None,
    judge: Judge | None = None,
    progress: bool = False,
) -> tuple[GPT, list[PPOLog]]:
    """Optimise a copy of `policy` against `reward_model`; the original is the reference."""
    from tqdm.auto import tqdm

    s = settings or PPOSettings()
    torch.manual_seed(s.seed)
    reference = copy.deepcopy(policy).eval().requires_grad_(False)
    reward_model = reward_model.eval().requires_grad_(False)
    model = PolicyWithValue(copy.deepcopy(policy))
    model.to(next(policy.parameters()).device)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=s.learning_rate, weight_decay=0.0
    )
    rng = random.Random(s.seed)
    norm = (0.0, 1.0)
    if s.normalize_scores:
        batch = [prompts[rng.randrange(len(prompts))] for _ in range(max(s.batch_size, 64))]
        r = sample(reference, chat, batch, s.max_new_tokens, s.temperature, s.seed + 99991)
        with torch.no_grad():
            scores = reward_model(r.ids, r.valid)
        norm = (scores.mean().item(), scores.std().item() + 1e-6)
    logs: list[PPOLog] = []
    bar = tqdm(range(s.steps), disable=not progress, desc="PPO", unit="step")
    for step in bar:
        batch = [prompts[rng.randrange(len(prompts))] for _ in range(s.batch_size)]
        r = sample(model.policy, chat, batch, s.max_new_tokens, s.temperature, s.seed + 7 * step)
        log = ppo_step(model, reference, reward_model, r, s, optimizer, step, norm)
        if judge is not None:
            log.true_reward = sum(judge(p, t) for p, t in zip(batch, r.texts, strict=True)) / len(
                batch
            )
        logs.append(log)
        bar.set_postfix(score=f"{log.score:.2f}", kl=f"{log.kl:.2f}", refresh=False)
    return model.policy.eval(), logs


def ppo_step(
    model: PolicyWithValue,
    reference: GPT,
    reward_model: RewardModel,
    r: Rollout,
    s: PPOSettings,
    optimizer: torch.optim.Optimizer,
    step: int,
    norm: tuple[float, float] = (0.0, 1.0),
) -> PPOLog:
    """Score one rollout, compute advantages, and run the PPO epochs on it. `norm` is the
    (mean, std) that turns reward-model scores into normalised scores. π_old and the values
    are read without dropout, like the reference; the epochs train with dropout only if
    `s.train_dropout`."""
    P, mask, responses = r.prompt_len, r.mask, r.responses
    model.eval()
    with torch.no_grad():
        logits, values = model(r.ids, r.valid)
        old_logprobs = token_logprobs(logits[:, P - 1 : -1], responses) * mask
        old_values = values[:, P - 1 : -1] * mask
        ref_logprobs = answer_logprobs(reference, r)
        scores = (reward_model(r.ids, r.valid) - norm[0]) / norm[1]
        rewards, kl = token_rewards(scores, old_logprobs, ref_logprobs, mask, s.kl_coef)
        if s.whiten_rewards:
            rewards = masked_whiten(rewards, mask, shift_mean=False)
        advantages, returns = gae(rewards, old_values, mask, s.gamma, s.lam)
        advantages = masked_whiten(advantages, mask)
        ent = masked_mean(entropy(logits[:, P - 1 : -1]), mask)
    model.train(s.train_dropout)
    stats = []
    B = r.ids.size(0)
    for _ in range(s.ppo_epochs):
        for mb in torch.randperm(B).split(s.mini_batch_size):
            logits, values = model(r.ids[mb], r.valid[mb])
            logprobs = token_logprobs(logits[:, P - 1 : -1], responses[mb])
            pg_loss, clipfrac = ppo_policy_loss(
                logprobs, old_logprobs[mb], advantages[mb], mask[mb], s.cliprange
            )
            vf_loss = ppo_value_loss(
                values[:, P - 1 : -1], old_values[mb], returns[mb], mask[mb], s.cliprange_value
            )
            loss = pg_loss + s.vf_coef * vf_loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            stats.append((pg_loss.item(), vf_loss.item(), clipfrac.item()))
    pg, vf, cf = (sum(x) / len(stats) for x in zip(*stats, strict=True))
    return PPOLog(
        step=step + 1,
        score=scores.mean().item(),
        true_reward=float("nan"),
        kl=kl.sum(1).mean().item(),
        entropy=ent.item(),
        pg_loss=pg,
        vf_loss=vf,
        clipfrac=cf,
    )


def write_ppo_log(logs: Sequence[PPOLog], path: str | Path) -> Path:
    """The per-step log as CSV."""
    path = Path(path)
    names = list(asdict(logs[0])) if logs else [*PPOLog.__dataclass_fields__]
    lines = [",".join(names)]
    lines += [",".join(f"{getattr(log, n):.6g}" for n in names) for log in logs]
    path.write_text("\n".join(lines) + "\n")
    return path


def plot_ppo(logs: Sequence[PPOLog], path: str | Path) -> Path:
    """Reward (model score and true reward), KL and entropy per PPO step, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [log.step for log in logs]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), dpi=80)
    axes[0].plot(steps, [log.score for log in logs], label="reward model score")
    if any(log.true_reward == log.true_reward for log in logs):  # not all nan
        axes[0].plot(steps, [log.true_reward for log in logs], label="true reward")
    axes[0].set_title("reward")
    axes[0].legend(fontsize=8)
    axes[1].plot(steps, [log.kl for log in logs], color="tab:red")
    axes[1].set_title("KL(policy ‖ reference) per answer")
    axes[2].plot(steps, [log.entropy for log in logs], color="tab:green")
    axes[2].set_title("entropy per token")
    for ax in axes:
        ax.set_xlabel("PPO step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)

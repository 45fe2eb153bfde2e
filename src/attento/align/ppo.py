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

The shared training loop runs it: steps 1-3 are its batch source (`PPOBatches`, a rollout
buffer), step 4's mini-batches its optimiser steps, so a PPO run has the run folder,
checkpoints, --resume, log.csv and progress bar of every other training command.
Formulas: losses.py. Logged per PPO step: mean reward-model score, mean true reward when a
judge is given, KL to the reference (per answer), entropy (per token), losses; `plot_ppo`
draws them.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence
from dataclasses import asdict, astuple, dataclass
from pathlib import Path

import torch
from torch import nn

from attento.align.chat import ChatFormat, Message
from attento.align.data import random_state, set_random_state
from attento.align.lora import LoRAConfig, LoRAGPT
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
from attento.align.rollout import Judge, answer_logprobs, sample
from attento.align.runs import align_config, run_device, train_run
from attento.align.settings import RunDevice, TrainDropout, evaluating
from attento.config import check_counts, check_positive
from attento.errors import UserError
from attento.models.gpt import GPT, GPTConfig
from attento.models.layers import KVCache


class PolicyWithValue(GPT):
    """A GPT plus a value head reading its final hidden state (the output of the last norm,
    captured with a forward hook so that GPT's forward stays as it is). It is a GPT: chat,
    generation and the explainer read it as one; `model(idx, valid=..., values=True)` gives
    PPO the values too. Saves and loads as {"arch": "gpt-value"}.

    The head reads a detached copy of that state: the value loss trains the head only, so
    an early, poor value estimate cannot pull the language model's weights around."""

    arch = "gpt-value"

    def __init__(self, config: GPTConfig) -> None:
        super().__init__(config)
        self.value_head = nn.Linear(config.n_embd, 1)
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)

    @staticmethod
    def size_of(config: GPTConfig) -> tuple[int, int] | None:
        """GPT's count (see GPT.size_of) plus the value head's n_embd + 1 float32 numbers."""
        size = GPT.size_of(config)
        if size is None:
            return None
        head = config.n_embd + 1
        return size[0] + head, size[1] + 4 * head

    @staticmethod
    def from_policy(policy: GPT) -> PolicyWithValue:
        """The policy's weights (LoRA adapters included) with a value head at zero."""
        cls = LoRAPolicyWithValue if isinstance(policy, LoRAGPT) else PolicyWithValue
        with torch.random.fork_rng(devices=[]):  # the fresh weights are replaced at once
            model = cls(policy.config)
        missing, unexpected = model.load_state_dict(policy.state_dict(), strict=False)
        if unexpected or any(not k.startswith("value_head.") for k in missing):
            raise UserError(f"a {type(policy).__name__} does not fit a {cls.__name__}")
        return model.to(next(policy.parameters()).device).train(policy.training)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        cache: KVCache | None = None,
        valid: torch.Tensor | None = None,
        values: bool = False,
    ):
        """GPT's forward; with `values`, (logits (B, T, V), values (B, T))."""
        if not values:
            return super().forward(idx, targets, cache=cache, valid=valid)
        captured: list[torch.Tensor] = []
        hook = self.ln_f.register_forward_hook(lambda m, i, out: captured.append(out))
        try:
            logits = super().forward(idx, valid=valid)
        finally:
            hook.remove()
        return logits, self.value_head(captured[-1].detach()).squeeze(-1)


class LoRAPolicyWithValue(PolicyWithValue, LoRAGPT):
    """A LoRA GPT with a value head: only the adapters (and the head) train."""

    arch = "gpt-lora-value"
    config_class = LoRAConfig


@dataclass
class PPOSettings(TrainDropout, RunDevice):
    """The knobs of `attento ppo`.

    steps: PPO steps: rollouts, each followed by ppo_epochs of updates
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
    eval_interval: PPO steps between checkpoints, which --resume continues from (and always
        one at the end)
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
    eval_interval: int = 25

    def check(self) -> None:
        super().check()
        check_counts(self, "steps", "batch_size", "mini_batch_size", "ppo_epochs")
        check_counts(self, "max_new_tokens", "eval_interval")
        check_positive(self, "learning_rate", "temperature")
        if not self.kl_coef >= 0:
            raise UserError(
                f"kl_coef cannot be negative, got {self.kl_coef}: 0 turns the KL penalty off"
            )

    @property
    def updates(self) -> int:
        """Optimiser steps per PPO step: ppo_epochs passes over the rollout's mini-batches."""
        return self.ppo_epochs * -(-self.batch_size // self.mini_batch_size)


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


class PPOBatches:
    """PPO's rollouts as the shared loop's batch source (objective "ppo"): a rollout buffer.

    When the buffer is empty, the next step's batch starts a rollout: `batch_size` prompts
    (drawn by a seeded `random.Random`) answered by the policy being trained (the sampling
    seed is the run's seed + 7 × the rollout's index), scored, with π_old, values,
    advantages and returns computed without dropout; the buffer then serves `ppo_epochs`
    passes over it in random mini-batches (each pass's order from a torch generator of its
    own), one per optimiser step. Every process of a torchrun world samples the same rollout
    (same weights, same seeds) and takes its share of each mini-batch. Checkpoints fall
    between rollouts, so the state is the generators and the log of the PPO steps so far.
    Its `evaluate` is the PPO loss of the last rollout under the current weights."""

    objective = "ppo"

    def __init__(
        self,
        reference: nn.Module,
        reward_model: nn.Module,
        chat: ChatFormat,
        prompts: Sequence[Sequence[Message]],
        settings: PPOSettings,
        judge: Judge | None = None,
    ) -> None:
        self.reference, self.reward_model, self.chat = reference, reward_model, chat
        self.prompts, self.s, self.judge = prompts, settings, judge
        self.train_dropout = settings.train_dropout
        self.rng = random.Random(settings.seed)
        # The mini-batch order has a generator of its own (the loop reseeds torch's, and every
        # process must draw the same order). It starts where PPO's order has always started,
        # so that a seed gives the run it gave before PPO ran in the shared loop: torch seeded
        # with the seed, then the n_embd + 1 draws of the value head's default initialisation.
        self.order = torch.Generator().manual_seed(settings.seed)
        torch.empty(reference.config.n_embd + 1).uniform_(generator=self.order)
        self.model: PolicyWithValue | None = None
        self.buffer: dict[str, torch.Tensor] = {}
        self.queue: list[torch.Tensor] = []  # the current rollout's mini-batches still to come
        self.stats: list[tuple[float, float, float]] = []  # (pg, vf, clipfrac) of each update
        self.logs: list[PPOLog] = []
        self.norm = self.score_norm()

    @torch.no_grad()
    def score_norm(self) -> tuple[float, float]:
        """(mean, std) of the reward model's scores of the reference's own answers."""
        s = self.s
        if not s.normalize_scores:
            return 0.0, 1.0
        n = max(s.batch_size, 64)
        batch = [self.prompts[self.rng.randrange(len(self.prompts))] for _ in range(n)]
        r = sample(
            self.reference, self.chat, batch, s.max_new_tokens, s.temperature, s.seed + 99991
        )
        scores = self.reward_model(r.ids, r.valid)
        return scores.mean().item(), scores.std().item() + 1e-6

    def use_model(self, model: PolicyWithValue) -> None:
        """The policy being trained (the loop's, on its device): the rollouts sample it."""
        self.model = model

    @torch.no_grad()
    def rollout(self) -> None:
        """Sample, score and compute the advantages of one batch of prompts; queue its
        mini-batches; log the PPO step's rollout figures."""
        s, model = self.s, self.model
        batch = [self.prompts[self.rng.randrange(len(self.prompts))] for _ in range(s.batch_size)]
        with evaluating(model):
            r = sample(
                model,
                self.chat,
                batch,
                s.max_new_tokens,
                s.temperature,
                s.seed + 7 * len(self.logs),
            )
            P, mask, responses = r.prompt_len, r.mask, r.responses
            logits, values = model(r.ids, valid=r.valid, values=True)
            old_logprobs = token_logprobs(logits[:, P - 1 : -1], responses) * mask
            old_values = values[:, P - 1 : -1] * mask
            ref_logprobs = answer_logprobs(self.reference, r)
            scores = (self.reward_model(r.ids, r.valid) - self.norm[0]) / self.norm[1]
            rewards, kl = token_rewards(scores, old_logprobs, ref_logprobs, mask, s.kl_coef)
            if s.whiten_rewards:
                rewards = masked_whiten(rewards, mask, shift_mean=False)
            advantages, returns = gae(rewards, old_values, mask, s.gamma, s.lam)
            advantages = masked_whiten(advantages, mask)
            ent = masked_mean(entropy(logits[:, P - 1 : -1]), mask)
        self.buffer = dict(
            ids=r.ids,
            valid=r.valid,
            mask=mask,
            old_logprobs=old_logprobs,
            old_values=old_values,
            advantages=advantages,
            returns=returns,
        )
        B = r.ids.size(0)
        self.queue = [
            mb
            for _ in range(s.ppo_epochs)
            for mb in torch.randperm(B, generator=self.order).split(s.mini_batch_size)
        ]
        true_reward = float("nan")
        if self.judge is not None:
            rewards = [self.judge(p, t) for p, t in zip(batch, r.texts, strict=True)]
            true_reward = sum(rewards) / len(batch)
        nan = float("nan")
        score, kl_sum = scores.mean().item(), kl.sum(1).mean().item()
        self.logs.append(
            PPOLog(len(self.logs) + 1, score, true_reward, kl_sum, ent.item(), nan, nan, nan)
        )
        self.stats = []

    def train_batches(self, batch_size: int, n_micro: int, rank: int = 0, world: int = 1):
        """The next mini-batch (this process's share of it), rolling out first if needed;
        `batch_size` is the settings' mini_batch_size, `n_micro` 1."""
        if not self.queue:
            self.rollout()
        picks = self.queue.pop(0)
        share = len(picks) // world
        mine = picks[rank * share : (rank + 1) * share]
        # each process divides by its share of the mini-batch's answer tokens (see masked_mean)
        tokens = self.buffer["mask"][picks[: share * world]].sum() / world
        return [{**{k: v[mine] for k, v in self.buffer.items()}, "tokens": tokens}]

    def losses(self, model: nn.Module, batch: dict[str, torch.Tensor]):
        """(clipped policy loss, clipped value loss, clip fraction) of a batch of the buffer."""
        s, mask, tokens = self.s, batch["mask"], batch.get("tokens")
        P = batch["ids"].size(1) - mask.size(1)
        logits, values = model(batch["ids"], valid=batch["valid"], values=True)
        logprobs = token_logprobs(logits[:, P - 1 : -1], batch["ids"][:, P:])
        pg_loss, clipfrac = ppo_policy_loss(
            logprobs, batch["old_logprobs"], batch["advantages"], mask, s.cliprange, count=tokens
        )
        vf_loss = ppo_value_loss(
            values[:, P - 1 : -1],
            batch["old_values"],
            batch["returns"],
            mask,
            s.cliprange_value,
            count=tokens,
        )
        return pg_loss, vf_loss, clipfrac

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The PPO objective, policy loss + vf_coef × value loss; the rollout's log gets the
        mean of each part once its last update is done."""
        pg_loss, vf_loss, clipfrac = self.losses(model, batch)
        self.stats.append((pg_loss.item(), vf_loss.item(), clipfrac.item()))
        if not self.queue:
            log = self.logs[-1]
            log.pg_loss, log.vf_loss, log.clipfrac = (
                sum(x) / len(self.stats) for x in zip(*self.stats, strict=True)
            )
        return pg_loss + self.s.vf_coef * vf_loss

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> float:
        """The PPO objective over the whole last rollout with the current weights."""
        pg_loss, vf_loss, _ = self.losses(model, self.buffer)
        return float(pg_loss + self.s.vf_coef * vf_loss)

    def eval_batches(self, *args, **kwargs):
        return iter(())

    def state_dict(self) -> dict[str, torch.Tensor]:
        if self.queue:
            raise RuntimeError("PPO checkpoints fall between rollouts (eval_interval)")
        logs = torch.tensor([astuple(log) for log in self.logs], dtype=torch.float64)
        return {
            "rng": random_state(self.rng),
            "order": self.order.get_state(),
            "logs": logs.reshape(len(self.logs), len(PPOLog.__dataclass_fields__)),
        }

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        set_random_state(self.rng, state["rng"])
        self.order.set_state(state["order"])
        self.logs = [PPOLog(int(row[0]), *row[1:]) for row in state["logs"].tolist()]


def ppo(
    policy: GPT,
    reward_model: RewardModel,
    chat: ChatFormat,
    prompts: Sequence[Sequence[Message]],
    settings: PPOSettings | None = None,
    judge: Judge | None = None,
    progress: bool = False,
    out: str | Path | None = None,
    resume: bool = False,
) -> tuple[PolicyWithValue, list[PPOLog]]:
    """Optimise a copy of `policy` against `reward_model` (moved to the run's device) with
    the shared loop, in the run folder `out` (a temporary one if None); the original policy
    is the reference. -> (the trained policy with its value head, one log per PPO step)."""
    s = settings or PPOSettings()
    device = run_device(s.device)
    reference = copy.deepcopy(policy).to(device).eval().requires_grad_(False)
    reward_model = reward_model.to(device).eval().requires_grad_(False)
    model = PolicyWithValue.from_policy(reference)
    batches = PPOBatches(reference, reward_model, chat, prompts, s, judge)
    cfg = align_config(
        "ppo",
        model,
        "prompts",
        tokenizer="model",
        batch_size=s.mini_batch_size,
        max_steps=s.steps * s.updates,
        learning_rate=s.learning_rate,
        beta2=0.999,  # torch's AdamW default, PPO's since its first version here
        eval_interval=s.eval_interval * s.updates,
        seed=s.seed,
        device=s.device,
    )
    model, _ = train_run(cfg, model, chat.tokenizer, batches, out, resume, progress)
    return model, batches.logs


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

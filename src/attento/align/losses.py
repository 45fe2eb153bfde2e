"""The formulas of preference learning, as small functions on tensors.

Reward model (Bradley–Terry, 1952; InstructGPT, Ouyang et al. 2022, eq. 1): the probability
that a person prefers answer c to answer r is σ(r(c) − r(r)), so the loss on a pair is

    L_RM = −log σ(r_chosen − r_rejected)

DPO (Rafailov et al., 2023, eq. 7): the policy π is its own reward model, with implicit reward
β·log(π(y|x) / π_ref(y|x)) against a frozen reference π_ref:

    L_DPO = −log σ(β·[(log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r))])

PPO for language models (Ziegler et al., 2019; Schulman et al., 2017), per response token t:
- reward: r_t = −β·(log π_old(a_t) − log π_ref(a_t)), plus the reward model's score at the
  last token (a per-token KL penalty keeps the policy near the reference);
- generalised advantage estimation (Schulman et al., 2016):
  δ_t = r_t + γ·V_{t+1} − V_t,  A_t = Σ_k (γλ)^k δ_{t+k},  returns R_t = A_t + V_t;
- clipped policy loss with ratio ρ_t = π(a_t)/π_old(a_t):
  L_pg = mean(max(−A_t·ρ_t, −A_t·clip(ρ_t, 1−ε, 1+ε)));
- clipped value loss: L_vf = ½·mean(max((V − R)², (clip(V, V_old ± ε_v) − R)²)).
Means run over response tokens only (`mask`). These match TRL's definitions (tests/align).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bradley_terry_loss(chosen: torch.Tensor, rejected: torch.Tensor) -> torch.Tensor:
    """Mean −log σ(r_chosen − r_rejected) over a batch of pairs."""
    return -F.logsigmoid(chosen - rejected).mean()


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(per-pair losses, chosen rewards, rejected rewards) from sequence log-probabilities.

    The implicit rewards β·(log π − log π_ref) are detached: they are for reporting (a pair
    is "won" when the chosen reward is higher)."""
    logits = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    losses = -F.logsigmoid(beta * logits)
    chosen_rewards = beta * (policy_chosen - ref_chosen).detach()
    rejected_rewards = beta * (policy_rejected - ref_rejected).detach()
    return losses, chosen_rewards, rejected_rewards


def masked_mean(
    values: torch.Tensor, mask: torch.Tensor, count: torch.Tensor | None = None
) -> torch.Tensor:
    """The mean of `values` where `mask` is 1. `count` replaces the mask's sum as divisor:
    a process holding part of a mini-batch divides by its share of the whole mini-batch's
    count, so that the processes' averaged gradients are those of the whole mean."""
    return (values * mask).sum() / (mask.sum() if count is None else count)


def masked_whiten(values: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True):
    """(values − mean) / std over the masked entries (unbiased variance); with
    shift_mean=False the mean is kept (rewards keep their sign, only their scale changes)."""
    mean = masked_mean(values, mask)
    n = mask.sum()
    var = masked_mean((values - mean) ** 2, mask) * n / (n - 1)
    whitened = (values - mean) * torch.rsqrt(var + 1e-8)
    return whitened if shift_mean else whitened + mean


def token_rewards(
    scores: torch.Tensor,
    logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    mask: torch.Tensor,
    kl_coef: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(rewards, kl), both (B, T): −β·KL at every response token, plus the score (B,) at
    each row's last response token. kl = log π_old − log π_ref per token."""
    kl = (logprobs - ref_logprobs) * mask
    rewards = -kl_coef * kl
    last = (mask * torch.arange(mask.size(1), device=mask.device)).argmax(dim=1)
    rewards[torch.arange(len(scores)), last] += scores
    return rewards, kl


def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantages, returns), (B, T). A_t = Σ_k (γλ)^k δ_{t+k} as one matrix product:
    δ (B, T) times the upper-triangular (γλ)^(k−t) matrix. Values and rewards after the
    response are zero, so the episode ends at the last response token."""
    values, rewards = values * mask, rewards * mask
    next_values = F.pad(values[:, 1:], (0, 1))
    deltas = rewards + gamma * next_values - values
    T = rewards.size(1)
    steps = torch.arange(T, device=rewards.device)
    power = (steps[:, None] - steps[None, :]).clamp(min=0).to(rewards.dtype)  # k − t
    discount = torch.where(steps[:, None] >= steps[None, :], (gamma * lam) ** power, 0.0)
    advantages = deltas @ discount
    return advantages, advantages + values


def ppo_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip: float = 0.2,
    count: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(clipped surrogate loss, fraction of tokens where the clip was active); `count`: see
    masked_mean."""
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip, 1.0 + clip)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask, count)
    return loss, masked_mean((clipped > unclipped).float(), mask)


def ppo_value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    clip: float = 0.2,
    count: torch.Tensor | None = None,
) -> torch.Tensor:
    """½·mean of the larger of the plain and the clipped squared error; `count`: see
    masked_mean."""
    clipped = old_values + torch.clamp(values - old_values, -clip, clip)
    losses = torch.maximum((values - returns) ** 2, (clipped - returns) ** 2)
    return 0.5 * masked_mean(losses, mask, count)


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the softmax of each row of logits (..., V) -> (...)."""
    logp = F.log_softmax(logits.float(), dim=-1)
    return -(logp.exp() * logp).sum(-1)


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log p(token) under logits: (B, T, V), (B, T) -> (B, T)."""
    logp = F.log_softmax(logits.float(), dim=-1)
    return logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)

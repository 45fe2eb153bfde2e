"""The alignment losses equal TRL's definitions on the same random tensors.

TRL is not a dependency: each reference below re-states TRL's formula as a plain Python loop
over rows and tokens (written independently of attento's vectorised code), citing where TRL
defines it (huggingface/trl):
- `RewardTrainer.compute_loss`, trl/trainer/reward_trainer.py:
  loss = -logsigmoid(rewards_chosen - rewards_rejected).mean()  (InstructGPT eq. 1);
- `DPOTrainer.dpo_loss`, trl/trainer/dpo_trainer.py, loss_type="sigmoid", label_smoothing=0:
  logits = (pi_c - pi_r) - (ref_c - ref_r); losses = -logsigmoid(beta * logits);
  chosen_rewards = beta * (pi_c - ref_c)  (DPO paper eq. 7);
- `PPOTrainer.compute_rewards`, trl/trainer/ppo_trainer.py (TRL <= 0.11):
  kl = logprob - ref_logprob; reward = -kl_coef * kl; reward[last_non_masked_index] += score;
- `PPOTrainer.loss`, same file: GAE loop `delta = r_t + gamma * V_{t+1} - V_t`,
  `lastgaelam = delta + gamma * lam * lastgaelam` over values*mask and rewards*mask,
  returns = advantages + values, `masked_whiten(advantages, mask)`; value loss
  0.5 * masked_mean(max((vpred - R)^2, (clip(vpred, V - c, V + c) - R)^2)); policy loss
  masked_mean(max(-A * ratio, -A * clamp(ratio, 1 - eps, 1 + eps)))  (PPO paper eq. 7;
  GAE paper eq. 16);
- `masked_mean`, `masked_var` (unbiased, Bessel-corrected), `masked_whiten`
  (rsqrt(var + 1e-8)), trl/core.py.
"""

from __future__ import annotations

import math

import torch

from attento.align.losses import (
    bradley_terry_loss,
    dpo_loss,
    gae,
    masked_whiten,
    ppo_policy_loss,
    ppo_value_loss,
    token_rewards,
)

G = torch.Generator().manual_seed(0)


def rand(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=G, dtype=torch.float64)


def random_mask(B: int, T: int) -> torch.Tensor:
    """Answer masks: 1 for a prefix of random length >= 2 of each row, 0 after."""
    lengths = torch.randint(2, T + 1, (B,), generator=G)
    return (torch.arange(T)[None] < lengths[:, None]).double()


def logsigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


def ref_masked_mean(values, mask) -> float:
    total = count = 0.0
    for v_row, m_row in zip(values.tolist(), mask.tolist(), strict=True):
        for v, m in zip(v_row, m_row, strict=True):
            total += v * m
            count += m
    return total / count


def ref_masked_whiten(values, mask, shift_mean=True):
    mean = ref_masked_mean(values, mask)
    n = float(mask.sum())
    var = ref_masked_mean((values - mean) ** 2, mask) * n / (n - 1)
    out = [[(v - mean) / math.sqrt(var + 1e-8) for v in row] for row in values.tolist()]
    out = torch.tensor(out, dtype=torch.float64)
    return out if shift_mean else out + mean


def test_bradley_terry_equals_reward_trainer_loss():
    chosen, rejected = rand(64), rand(64)
    expected = sum(
        -logsigmoid(c - r) for c, r in zip(chosen.tolist(), rejected.tolist(), strict=True)
    )
    torch.testing.assert_close(bradley_terry_loss(chosen, rejected).item(), expected / 64)


def test_dpo_sigmoid_loss_and_rewards_equal_dpo_trainer():
    pc, pr, rc, rr = rand(32), rand(32), rand(32), rand(32)
    for beta in (0.1, 0.5):
        losses, chosen_rewards, rejected_rewards = dpo_loss(pc, pr, rc, rr, beta)
        for i in range(32):
            logits = (pc[i] - pr[i]).item() - (rc[i] - rr[i]).item()
            torch.testing.assert_close(losses[i].item(), -logsigmoid(beta * logits))
            torch.testing.assert_close(chosen_rewards[i].item(), beta * (pc[i] - rc[i]).item())
            torch.testing.assert_close(rejected_rewards[i].item(), beta * (pr[i] - rr[i]).item())


def test_dpo_gradient_raises_chosen_and_lowers_rejected():
    pc, pr = torch.zeros(4, requires_grad=True), torch.zeros(4, requires_grad=True)
    losses, _, _ = dpo_loss(pc, pr, torch.zeros(4), torch.zeros(4), 0.1)
    losses.sum().backward()
    assert (pc.grad < 0).all() and (pr.grad > 0).all()


def test_token_rewards_equal_compute_rewards():
    B, T = 6, 9
    scores, logprobs, ref_logprobs, mask = rand(B), rand(B, T), rand(B, T), random_mask(B, T)
    logprobs, ref_logprobs = logprobs * mask, ref_logprobs * mask
    rewards, kl = token_rewards(scores, logprobs, ref_logprobs, mask, kl_coef=0.2)
    for b in range(B):
        last = max(t for t in range(T) if mask[b, t] > 0)
        for t in range(T):
            k = (logprobs[b, t] - ref_logprobs[b, t]).item()
            expected = -0.2 * k + (scores[b].item() if t == last else 0.0)
            torch.testing.assert_close(rewards[b, t].item(), expected)
            torch.testing.assert_close(kl[b, t].item(), k)


def test_gae_equals_the_reverse_loop():
    B, T = 5, 11
    rewards, values, mask = rand(B, T), rand(B, T), random_mask(B, T)
    for gamma, lam in ((1.0, 0.95), (0.9, 0.8), (0.99, 1.0)):
        advantages, returns = gae(rewards, values, mask, gamma, lam)
        v, r = values * mask, rewards * mask
        for b in range(B):
            last = 0.0
            for t in reversed(range(T)):
                next_v = v[b, t + 1].item() if t < T - 1 else 0.0
                delta = r[b, t].item() + gamma * next_v - v[b, t].item()
                last = delta + gamma * lam * last
                torch.testing.assert_close(advantages[b, t].item(), last)
                torch.testing.assert_close(returns[b, t].item(), last + v[b, t].item())


def test_masked_whiten_equals_trl_core():
    values, mask = rand(4, 10) * 3 + 1, random_mask(4, 10)
    torch.testing.assert_close(masked_whiten(values, mask), ref_masked_whiten(values, mask))
    torch.testing.assert_close(
        masked_whiten(values, mask, shift_mean=False), ref_masked_whiten(values, mask, False)
    )
    whitened = masked_whiten(values, mask)
    assert abs(ref_masked_mean(whitened, mask)) < 1e-9


def test_ppo_policy_loss_equals_clipped_surrogate():
    B, T, eps = 6, 8, 0.2
    old = rand(B, T)
    new = old + 0.5 * rand(B, T)  # ratios well outside 1 ± eps too
    advantages, mask = rand(B, T), random_mask(B, T)
    loss, clipfrac = ppo_policy_loss(new, old, advantages, mask, eps)
    total = count = clipped = 0.0
    for b in range(B):
        for t in range(T):
            if mask[b, t] == 0:
                continue
            ratio = math.exp(new[b, t].item() - old[b, t].item())
            a = advantages[b, t].item()
            l1, l2 = -a * ratio, -a * min(max(ratio, 1 - eps), 1 + eps)
            total += max(l1, l2)
            clipped += l2 > l1
            count += 1
    torch.testing.assert_close(loss.item(), total / count)
    torch.testing.assert_close(clipfrac.item(), clipped / count)
    assert 0 < clipfrac.item() < 1  # the random ratios exercise both branches


def test_ppo_value_loss_equals_clipped_value_loss():
    B, T, c = 6, 8, 0.2
    old_values, returns, mask = rand(B, T), rand(B, T), random_mask(B, T)
    values = old_values + 0.5 * rand(B, T)
    loss = ppo_value_loss(values, old_values, returns, mask, c)
    total = count = 0.0
    for b in range(B):
        for t in range(T):
            if mask[b, t] == 0:
                continue
            v, v_old, ret = values[b, t].item(), old_values[b, t].item(), returns[b, t].item()
            v_clip = min(max(v, v_old - c), v_old + c)
            total += max((v - ret) ** 2, (v_clip - ret) ** 2)
            count += 1
    torch.testing.assert_close(loss.item(), 0.5 * total / count)


def test_ppo_losses_of_two_shares_average_to_the_whole_mini_batch():
    """Two processes each hold half a mini-batch (rows of different answer lengths) and
    divide by half the whole mini-batch's token count: the mean of their losses, which is what
    averaging their gradients differentiates, is the loss of the whole mini-batch."""
    B, T = 6, 8
    old, advantages = rand(B, T), rand(B, T)
    lengths = torch.tensor([2, 3, 8, 8, 8, 5])  # the halves hold 13 and 21 answer tokens
    mask = (torch.arange(T)[None] < lengths[:, None]).double()
    new = old + 0.5 * rand(B, T)
    values, old_values, returns = rand(B, T), rand(B, T), rand(B, T)
    count = mask.sum() / 2
    halves = (slice(0, 3), slice(3, 6))
    pg = [ppo_policy_loss(new[h], old[h], advantages[h], mask[h], 0.2, count)[0] for h in halves]
    vf = [ppo_value_loss(values[h], old_values[h], returns[h], mask[h], 0.2, count) for h in halves]
    torch.testing.assert_close(sum(pg) / 2, ppo_policy_loss(new, old, advantages, mask, 0.2)[0])
    torch.testing.assert_close(sum(vf) / 2, ppo_value_loss(values, old_values, returns, mask, 0.2))

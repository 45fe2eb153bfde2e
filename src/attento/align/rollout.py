"""Sampling answers from a policy and measuring them: what PPO learns from, and how every
aligned model is evaluated.

A batch of prompts of different lengths is left-padded (so every answer starts in the same
column) and the policy writes up to `max_new_tokens` per prompt, stopping at `<|im_end|>`
(attento.generate does the sampling, with the KV cache). The `Rollout` keeps the token ids,
which positions are real (`valid`), and the answer mask: the tokens up to and including the
closing marker.

Log-probabilities of the answer tokens come from one forward pass over prompt + answer:
the logits at position t score the token at t + 1, so the answer's tokens (columns P..P+R−1)
are scored by the logits at columns P−1..P+R−2. The KL to a reference model is estimated
the usual way (TRL, InstructGPT): Σ_t log π(a_t) − log π_ref(a_t) over the sampled tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from attento.align.chat import ChatFormat, Message
from attento.align.data import pad_rows
from attento.align.losses import token_logprobs
from attento.align.settings import evaluating
from attento.generate import generate

Judge = Callable[[Sequence[Message], str], float]


@dataclass
class Rollout:
    """Prompts + sampled answers of one batch."""

    ids: torch.Tensor  # (B, P + R) left-padded prompt, answer, padding after the answer
    valid: torch.Tensor  # (B, P + R) real tokens
    prompt_len: int  # P, the padded prompt width
    mask: torch.Tensor  # (B, R) float, 1 on answer tokens (closing marker included)
    texts: list[str]  # the answers as text

    @property
    def responses(self) -> torch.Tensor:
        return self.ids[:, self.prompt_len :]


def answer_mask(responses: torch.Tensor, end_id: int) -> torch.Tensor:
    """1 for every token up to and including the first `end_id` of each row, else 0."""
    is_end = (responses == end_id).long()
    ended_before = is_end.cumsum(dim=1) - is_end
    return (ended_before == 0).float()


def sample(
    policy: nn.Module,
    chat: ChatFormat,
    prompts: Sequence[Sequence[Message]],
    max_new_tokens: int,
    temperature: float = 1.0,
    seed: int = 0,
    greedy: bool = False,
) -> Rollout:
    """Sample one answer per prompt."""
    block = policy.config.block_size
    keep = max(1, block - max_new_tokens)  # prompt + answer must fit the context
    rows = [chat.encode_prompt(p)[-keep:] for p in prompts]
    ids, valid = pad_rows(rows, chat.im_end, left=True)
    device = next(policy.parameters()).device
    out = generate(
        policy,
        ids.to(device),
        max_new_tokens,
        temperature=temperature,
        greedy=greedy,
        seed=seed,
        valid=valid.to(device),
        eot_id=chat.im_end,
        pad_id=chat.im_end,
    ).clone()  # a normal tensor, usable in autograd (generate runs in inference mode)
    P = ids.size(1)
    responses = out[:, P:]
    mask = answer_mask(responses, chat.im_end)
    full_valid = torch.cat((valid.to(device), mask.bool()), dim=1)
    texts = [chat.decode(r.tolist()) for r in responses]
    return Rollout(out, full_valid, P, mask, texts)


def answer_logits(model: nn.Module, r: Rollout) -> torch.Tensor:
    """The logits that score the answer tokens, (B, R, V)."""
    logits = model(r.ids, valid=r.valid)
    return logits[:, r.prompt_len - 1 : -1]


@torch.no_grad()
def answer_logprobs(model: nn.Module, r: Rollout) -> torch.Tensor:
    """log π(a_t) of each answer token, (B, R), without dropout; zero where the mask is zero."""
    with evaluating(model):
        return token_logprobs(answer_logits(model, r), r.responses) * r.mask


@dataclass
class Evaluation:
    mean_true_reward: float
    kl: float  # mean over answers of Σ_t log π − log π_ref
    answer_tokens: float  # mean answer length in tokens
    samples: list[tuple[str, str, float]]  # (prompt, answer, true reward), a few


@torch.no_grad()
def evaluate(
    policy: nn.Module,
    reference: nn.Module,
    chat: ChatFormat,
    prompts: Sequence[Sequence[Message]],
    judge: Judge,
    max_new_tokens: int,
    seed: int = 0,
    batch_size: int = 64,
    temperature: float = 1.0,
) -> Evaluation:
    """Sample answers to every prompt, score them with the true `judge`, and measure the
    KL divergence of the policy from the reference on those answers."""
    rewards, kls, lengths, samples = [], [], [], []
    for i in range(0, len(prompts), batch_size):
        batch = prompts[i : i + batch_size]
        r = sample(policy, chat, batch, max_new_tokens, temperature, seed + i)
        kl = (answer_logprobs(policy, r) - answer_logprobs(reference, r)).sum(1)
        kls += kl.tolist()
        lengths += r.mask.sum(1).tolist()
        for p, text in zip(batch, r.texts, strict=True):
            rewards.append(judge(p, text))
            if len(samples) < 8:
                samples.append((p[-1]["content"], text, rewards[-1]))
    n = len(rewards)
    return Evaluation(sum(rewards) / n, sum(kls) / n, sum(lengths) / n, samples)

"""Time of one training step as the sequence grows: sequential recurrence vs parallel attention.

One step = forward, backward and an AdamW update on a (batch, T) batch of random tokens.
What the course says to expect, and why:
- RNN, LSTM, GRU: T steps that must run one after another (h_t needs h_{t-1}): time grows
  linearly in T and the hardware only ever sees (batch × hidden) sized products;
- MLP, CNN: every position at once, a fixed window each: linear in T, fully parallel;
- GPT: every position at once, but each attends to all earlier ones: the attention part
  grows with T², parallel within the step.
On a small CPU the parallel models win per token until the quadratic term takes over.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch

from attento.memory import check_fits


def step_time(model: torch.nn.Module, length: int, batch_size: int, repeats: int) -> float:
    """Fastest of `repeats` training steps (after one warm-up) at sequence length `length`."""
    vocab = model.config.vocab_size
    # a lower bound of what the step holds: the input vectors, and the logits with their
    # softmax and gradient, in float32 (the hidden layers come on top)
    check_fits(
        batch_size * length * (model.config.n_embd + 3 * vocab) * 4,
        f"a training step of {type(model).__name__} on {batch_size} x {length:,} tokens",
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(length)
    x = torch.randint(vocab, (batch_size, length), generator=generator)
    best = float("inf")
    model.train()
    for i in range(repeats + 1):
        start = time.perf_counter()
        _, loss = model(x, x)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if i:  # the first step pays for allocations and kernel choice
            best = min(best, time.perf_counter() - start)
    return best


def step_times(
    models: dict[str, torch.nn.Module],
    lengths: Sequence[int],
    batch_size: int,
    repeats: int,
    progress: bool = False,
) -> dict[str, dict[int, float]]:
    """arch -> {length: seconds per step}; the archs take turns at each length, so a burst of
    load from elsewhere on the machine hits them alike."""
    from tqdm.auto import tqdm

    times: dict[str, dict[int, float]] = {arch: {} for arch in models}
    bar = tqdm(total=len(models) * len(lengths), desc="step time", disable=not progress)
    try:
        for length in lengths:
            for arch, model in models.items():
                times[arch][length] = step_time(model, length, batch_size, repeats)
                bar.update(1)
    finally:
        bar.close()  # before an error, so that it starts a line of its own
    return times

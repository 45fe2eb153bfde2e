"""Windows of text for causal language modelling (CLM).

A causal LM learns to predict every next token. One training example is a window of
`block_size + 1` consecutive tokens cut anywhere in the corpus: the first `block_size`
are the input `x`, the same window shifted by one is the target `y`, so a single window
teaches `block_size` predictions at once (token t predicts token t+1 seeing only 0..t).

The token stream is split once: the first 90% trains, the last 10% is held out to
measure the validation loss on text the model never learned from. An evaluation reads either
a fixed sample of held-out windows (cheap, with sampling noise) or the whole held-out part,
cut so that every token after the first is a target exactly once (`covering`: no noise at
all, the same number every time). Training windows are drawn at
random start positions from a generator of their own, seeded once, so that the batches
(and a resumed run's batches) are exactly reproducible. Under data parallelism every
process draws the same global batch of start positions and keeps only its own share.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch

from attento.errors import UserError

VAL_FRACTION = 0.1
EVAL_SEED_OFFSET = 7919  # eval windows use their own stream, so evals never move the train one
IGNORE = -100  # a target the loss skips (F.cross_entropy's ignore_index)


def covering(n_tokens: int, block_size: int, stride: int) -> list[tuple[int, int]]:
    """Windows over `n_tokens` tokens in which every target is scored exactly once.

    Returns (start, first): the window reads tokens[start : start + size] (size = block_size,
    or n_tokens - 1 if shorter) and predicts each next token; targets before offset `first`
    were scored by an earlier window. Windows start `stride` tokens apart, so a stride below
    block_size gives each target more context; the last window is moved back to end at the
    last token, so all windows have the same length.
    """
    if n_tokens < 2:
        raise UserError(f"the held-out text has {n_tokens} token(s): at least 2 are needed")
    if not 1 <= stride <= block_size:
        raise UserError(f"stride must be between 1 and block_size ({block_size}), got {stride}")
    size = min(block_size, n_tokens - 1)
    last_start = n_tokens - 1 - size
    out, scored, start = [], 0, 0  # targets 1..scored are done
    while True:
        start = min(start, last_start)
        out.append((start, scored - start))
        scored = start + size
        if start == last_start:
            return out
        start += stride


class CLMWindows:
    """Random (x, y) windows over a token stream, split into train and validation parts."""

    objective = "clm"

    def __init__(
        self, tokens: Sequence[int] | torch.Tensor, block_size: int, seed: int = 0
    ) -> None:
        data = torch.as_tensor(tokens, dtype=torch.long).flatten()
        n_val = int(len(data) * VAL_FRACTION)
        self.train_data, self.val_data = data[: len(data) - n_val], data[len(data) - n_val :]
        self.block_size = block_size
        self.seed = seed
        for name, part in (("training", self.train_data), ("validation", self.val_data)):
            if len(part) < block_size + 1:
                raise UserError(
                    f"the corpus is too short: its {name} part has {len(part)} tokens but one "
                    f"window needs block_size + 1 = {block_size + 1} (use a longer corpus or a "
                    f"smaller block_size; the last {VAL_FRACTION:.0%} of the tokens is held out)"
                )
        self.generator = torch.Generator().manual_seed(seed)

    def windows(
        self, data: torch.Tensor, starts: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Cut one (block_size + 1) window at each start; return inputs and next-token targets."""
        rows = data[starts[:, None] + torch.arange(self.block_size + 1)]
        return rows[:, :-1], rows[:, 1:]

    def train_batches(
        self, batch_size: int, n_micro: int, rank: int = 0, world: int = 1
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The micro-batches of one optimiser step that belong to process `rank` of `world`.

        The global step has `batch_size * n_micro` windows. Every process draws all their
        start positions (so the generator stays in step everywhere), keeps its equal share
        of consecutive windows and cuts it into micro-batches of at most `batch_size`.
        """
        n = batch_size * n_micro
        if n % world:
            raise UserError(
                f"a step's {n} sequences (batch_size x grad_accum) cannot be shared equally "
                f"by {world} processes"
            )
        high = len(self.train_data) - self.block_size
        starts = torch.randint(high, (n,), generator=self.generator)
        share = n // world
        mine = starts[rank * share : (rank + 1) * share]
        return [
            self.windows(self.train_data, s) for s in mine.tensor_split(-(-share // batch_size))
        ]

    def eval_batches(
        self, n_batches: int | None, batch_size: int, rank: int = 0, world: int = 1
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The same validation windows at every eval, so losses compare across evals:
        `n_batches` fixed random batches, or with None the whole split (`covering`), the
        targets already scored by an earlier window set to IGNORE."""
        if n_batches is None:
            plan = covering(len(self.val_data), self.block_size, self.block_size)
            batches = [plan[i : i + batch_size] for i in range(0, len(plan), batch_size)]
            for part in batches[rank::world]:
                x, y = self.windows(self.val_data, torch.tensor([s for s, _ in part]))
                y = y.clone()  # a view of the same rows as x: marking it must not change x
                for row, (_, first) in enumerate(part):
                    y[row, :first] = IGNORE
                yield x, y
            return
        gen = torch.Generator().manual_seed(self.seed + EVAL_SEED_OFFSET)
        high = len(self.val_data) - self.block_size
        starts = torch.randint(high, (n_batches, batch_size), generator=gen)
        for s in starts[rank::world]:
            yield self.windows(self.val_data, s)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])

"""Source/target pairs for an encoder–decoder: one pair a line, the two texts tab-separated,
as translation collections (Tatoeba, Anki decks) come; and the batches that teach them.

`PairBatches` is the batch source of the `seq2seq` objective in the shared training loop:
teacher forcing, the decoder reads BOS + target and must predict target + EOS. The pairs are
shuffled once by the seed and the last 10% held out, so the validation loss is measured on
pairs the model never trains on.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from attento.data.corpus import read_text_file
from attento.data.windows import IGNORE, VAL_FRACTION
from attento.errors import UserError

EVAL_ROWS = 256  # pairs per validation forward pass (no gradients: larger than a batch)


def parse_pairs(text: str, source: str = "the corpus") -> list[tuple[str, str]]:
    """(source, target) of every non-empty line of `text`."""
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise UserError(
                f"{source}, line {number}: write the source, one tab, the target "
                f"(found {len(parts) - 1} tabs)"
            )
        pairs.append((parts[0], parts[1]))
    if not pairs:
        raise UserError(f"{source} holds no pairs")
    return pairs


def read_pairs(path: str | Path) -> list[tuple[str, str]]:
    """(source, target) of every non-empty line of the file `path`."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"pairs file {path} not found")
    return parse_pairs(read_text_file(path), str(path))


def split_pairs(
    pairs: Sequence[tuple[str, str]], seed: int
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(training, validation): the pairs shuffled by `seed`, the last 10% held out."""
    order = list(pairs)
    random.Random(seed).shuffle(order)
    n_val = max(1, int(len(order) * VAL_FRACTION))
    if len(order) - n_val < 1:
        raise UserError(f"{len(order)} pairs leave none to train on: give more pairs")
    return order[:-n_val], order[-n_val:]


class PairBatches:
    """Random teacher-forcing batches (src, decoder input, targets) of tokenised pairs."""

    objective = "seq2seq"

    def __init__(
        self,
        pairs: Sequence[tuple[str, str]],
        encode: Callable[[str], list[int]],
        block_size: int,
        pad_id: int,
        bos_id: int,
        eos_id: int,
        seed: int = 0,
    ) -> None:
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        train, val = split_pairs(pairs, seed)
        self.train, self.val = (
            [self._encoded(encode, s, t, block_size) for s, t in part] for part in (train, val)
        )
        self.val_pairs = val
        self.generator = torch.Generator().manual_seed(seed)

    @staticmethod
    def _encoded(
        encode: Callable[[str], list[int]], source: str, target: str, block_size: int
    ) -> tuple[list[int], list[int]]:
        src, tgt = encode(source), encode(target)
        if len(src) > block_size or len(tgt) + 1 > block_size:
            raise UserError(
                f"the pair {source[:40]!r} has {len(src)} + {len(tgt)} tokens; this model reads "
                f"{block_size} and writes {block_size - 1} (raise model.block_size)"
            )
        return src, tgt

    def collate(
        self, rows: Sequence[tuple[list[int], list[int]]]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sources padded with pad_id, BOS + target, and target + EOS with IGNORE at padding."""
        s, t = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows) + 1
        src = torch.tensor([r + [self.pad_id] * (s - len(r)) for r, _ in rows])
        tin = torch.tensor([[self.bos_id, *r] + [self.pad_id] * (t - 1 - len(r)) for _, r in rows])
        tout = torch.tensor([[*r, self.eos_id] + [IGNORE] * (t - 1 - len(r)) for _, r in rows])
        return src, tin, tout

    def train_batches(
        self, batch_size: int, n_micro: int, rank: int = 0, world: int = 1
    ) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Process `rank`'s micro-batches of one step: every process draws all the step's
        pairs (the generator stays in step everywhere) and keeps its equal share."""
        n = batch_size * n_micro
        if n % world:
            raise UserError(
                f"a step's {n} pairs (batch_size x grad_accum) cannot be shared equally "
                f"by {world} processes"
            )
        picks = torch.randint(len(self.train), (n,), generator=self.generator).tolist()
        share = n // world
        mine = picks[rank * share : (rank + 1) * share]
        return [
            self.collate([self.train[i] for i in mine[j : j + batch_size]])
            for j in range(0, share, batch_size)
        ]

    @staticmethod
    def loss(model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        src, tin, tout = batch
        return model(src, tin, tout)[1]

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module) -> float:
        """Mean cross-entropy per target token (EOS included) over every held-out pair."""
        device = next(model.parameters()).device
        total, count = 0.0, 0
        for i in range(0, len(self.val), EVAL_ROWS):
            src, tin, tout = self.collate(self.val[i : i + EVAL_ROWS])
            scored = int((tout != IGNORE).sum())
            _, loss = model(src.to(device), tin.to(device), tout.to(device))
            total, count = total + float(loss) * scored, count + scored
        return total / count

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])

"""Masking for masked language modelling (MLM), BERT's pre-training objective.

A causal LM predicts the next token from the ones before it. A masked LM instead sees the
whole text with some tokens hidden and must guess them from both sides. BERT's recipe
(Devlin et al., 2018, section 3.1), for every token of a training text:

- with probability 15% the position is *chosen*: the model will be asked for its token;
  - 80% of the chosen positions get the [MASK] token,
  - 10% get a random token of the vocabulary,
  - 10% keep their token unchanged;
- the label is the original token at chosen positions and -100 everywhere else, which the
  cross-entropy ignores, so the loss counts only the chosen positions.

Why not always [MASK]? [MASK] never appears when the model is used, so a model that learned
"only [MASK] positions matter" would not build good vectors for ordinary tokens; the random
and unchanged 20% make it check every token. Special tokens ([CLS], [SEP], padding) are never
chosen.

`MLMWindows` is the batch source of `attento train --objective mlm`: the same random windows
of the corpus as causal training (`CLMWindows`), masked as above. A tokenizer needs a [MASK]
token: WordPiece vocabularies have one, and `add_mask_token` gives one to a BPE tokenizer
trained on the corpus (`--tokenizer bpe:N`) as an extra special token after its merges.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any

import torch

from attento.data.windows import EVAL_SEED_OFFSET, IGNORE, CLMWindows
from attento.errors import UserError

MASK = "[MASK]"
MASK_SEED_OFFSET = 104729  # masks use their own random stream, apart from window positions


def mask_token_id(tokenizer: Any) -> int:
    """The id of [MASK] in a WordPiece or BPE tokenizer; UserError when there is none."""
    mask_id = getattr(tokenizer, "mask_id", None)
    if mask_id is None:
        mask_id = getattr(tokenizer, "special_tokens", {}).get(MASK)
    if mask_id is None:
        raise UserError(
            f"this {type(tokenizer).__name__} has no {MASK} token: masked language modelling "
            "needs a BERT vocab.txt or a BPE tokenizer (--tokenizer bpe:N adds [MASK])"
        )
    return mask_id


def add_mask_token(tokenizer: Any) -> Any:
    """Give a BPE tokenizer a [MASK] special token (in place); others must already have one."""
    if getattr(tokenizer, "mask_id", None) is None and hasattr(tokenizer, "add_special_tokens"):
        tokenizer.add_special_tokens([MASK])
    mask_token_id(tokenizer)
    return tokenizer


def special_ids(tokenizer: Any) -> set[int]:
    """Ids that are markers rather than text ([CLS], [MASK], <|endoftext|>, ...)."""
    if hasattr(tokenizer, "special_ids"):
        return set(tokenizer.special_ids)
    return set(getattr(tokenizer, "special_tokens", {}).values())


def encode_with_masks(tokenizer: Any, text: str) -> list[int]:
    """Token ids of `text` where each literal "[MASK]" becomes the mask id.

    Spaces just before a [MASK] are dropped: a BPE token carries its own leading space
    (" cammin"), so the mask stands for the word *with* its space. WordPiece ignores spaces.
    """
    mask_id = mask_token_id(tokenizer)
    pieces = text.split(MASK)
    ids: list[int] = []
    for i, piece in enumerate(pieces):
        if i < len(pieces) - 1:
            piece = piece.rstrip(" ")
        if piece:
            ids.extend(tokenizer.encode(piece))
        if i < len(pieces) - 1:
            ids.append(mask_id)
    return ids


def mask_tokens(
    ids: torch.Tensor,
    mask_id: int,
    vocab_size: int,
    generator: torch.Generator | None = None,
    *,
    prob: float = 0.15,
    special: Collection[int] = (),
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking of a batch of token ids -> (inputs, labels); `ids` is not modified."""
    noise = torch.rand((3, *ids.shape), generator=generator)
    return apply_mask(ids, noise, mask_id, vocab_size, prob=prob, special=special)


def apply_mask(
    ids: torch.Tensor,
    noise: torch.Tensor,
    mask_id: int,
    vocab_size: int,
    *,
    prob: float = 0.15,
    special: Collection[int] = (),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Masking driven by `noise` (3, *ids.shape), uniform in [0, 1): per position, whether it
    is chosen, what it becomes (< 0.8 [MASK], < 0.9 random, else kept) and which random
    token. Random tokens are drawn uniformly from the ordinary (non-special) ids."""
    if not 0 < prob < 1:
        raise UserError(f"the masking probability must be in (0, 1), got {prob}")
    special_t = torch.tensor(sorted(special), dtype=torch.long)
    ordinary = torch.ones(vocab_size, dtype=torch.bool)
    ordinary[special_t[special_t < vocab_size]] = False
    ordinary_ids = ordinary.nonzero().flatten()
    chosen = (noise[0] < prob) & ~torch.isin(ids, special_t)
    kind = noise[1]
    pick = (noise[2] * len(ordinary_ids)).long().clamp(max=len(ordinary_ids) - 1)
    inputs = ids.clone()
    inputs[chosen & (kind < 0.8)] = mask_id
    swap = chosen & (kind >= 0.8) & (kind < 0.9)
    inputs[swap] = ordinary_ids[pick[swap]]
    labels = torch.where(chosen, ids, torch.full_like(ids, IGNORE))
    return inputs, labels


class MLMWindows(CLMWindows):
    """Random windows of the corpus, masked for MLM: (inputs, labels) batches.

    Windows are drawn exactly as for causal training. Masks come from a generator of their
    own; every process masks the whole global batch of a step and keeps its share, so the
    batches do not depend on how many processes train.
    """

    objective = "mlm"

    def __init__(
        self,
        tokens: Sequence[int] | torch.Tensor,
        block_size: int,
        mask_id: int,
        vocab_size: int,
        *,
        special: Collection[int] = (),
        prob: float = 0.15,
        seed: int = 0,
    ) -> None:
        super().__init__(tokens, block_size, seed=seed)
        self.mask_id, self.vocab_size, self.special, self.prob = mask_id, vocab_size, special, prob
        self.mask_generator = torch.Generator().manual_seed(seed + MASK_SEED_OFFSET)

    @classmethod
    def for_tokenizer(
        cls, tokens: Sequence[int], block_size: int, tokenizer: Any, seed: int = 0
    ) -> MLMWindows:
        return cls(
            tokens,
            block_size,
            mask_token_id(tokenizer),
            tokenizer.vocab_size,
            special=special_ids(tokenizer),
            seed=seed,
        )

    def mask(self, x: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return apply_mask(
            x, noise, self.mask_id, self.vocab_size, prob=self.prob, special=self.special
        )

    def train_batches(
        self, batch_size: int, n_micro: int, rank: int = 0, world: int = 1
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """This process's micro-batches, masked. The noise is drawn for the whole global
        batch, and this process's share of windows (consecutive, from rank x share) takes
        its part, so the masks do not depend on the number of processes."""
        mine = super().train_batches(batch_size, n_micro, rank, world)
        n = batch_size * n_micro
        noise = torch.rand((3, n, self.block_size), generator=self.mask_generator)
        offset, out = rank * (n // world), []
        for x, _ in mine:
            out.append(self.mask(x, noise[:, offset : offset + len(x)]))
            offset += len(x)
        return out

    def eval_batches(
        self, n_batches: int | None, batch_size: int, rank: int = 0, world: int = 1
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The same windows with the same masks at every eval (batches rank, rank + world...);
        with `n_batches` None, the whole split as windows side by side."""
        gen = torch.Generator().manual_seed(self.seed + EVAL_SEED_OFFSET + MASK_SEED_OFFSET)
        if n_batches is None:
            n_rows = len(self.val_data) // self.block_size
            rows = self.val_data[: n_rows * self.block_size].view(n_rows, self.block_size)
            noise = torch.rand((3, n_rows, self.block_size), generator=gen)
            starts = range(0, n_rows, batch_size)
            for i in list(starts)[rank::world]:
                yield self.mask(rows[i : i + batch_size], noise[:, i : i + batch_size])
            return
        noise = torch.rand((n_batches, 3, batch_size, self.block_size), generator=gen)
        windows = super().eval_batches(n_batches, batch_size, rank, world)
        for (x, _), z in zip(windows, noise[rank::world], strict=True):
            yield self.mask(x, z)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "mask_generator": self.mask_generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.mask_generator.set_state(state["mask_generator"])

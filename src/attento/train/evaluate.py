"""Held-out scores that people can compare: every token of the split, in several units.

Training estimates its validation loss on a fixed sample of random windows: cheap, but noisy,
and the minimum of a few such estimates is biased low. Here every token of the held-out text
is predicted exactly once, so the number is deterministic and has no sampling error at all.

**Causal LM.** The tokens are cut into windows of `block_size` inputs. The first window scores
all of its targets; each next window starts `stride` tokens later and scores only the targets
the previous windows did not (the last `stride` of it), so every token after the first is a
target once. `stride = block_size` (the default) gives non-overlapping windows, the cheapest
pass; a smaller stride gives each target more context, at more cost (as Hugging Face's
perplexity guide does). The last window is moved back to end at the last token, so windows are
all full length.

Units, all from the same sum of negative log-likelihoods (in nats):
- **nats per token**, the mean cross-entropy that training prints, and its **perplexity**;
- **bits per character** and **bits per byte**: the total in bits divided by the characters,
  or the UTF-8 bytes, of the text the targets spell. A character model, a BPE of 1,024 tokens
  and the GPT-4 tokenizer cut the same text into very different numbers of tokens, so their
  nats per token do not compare; their bits per byte of the same text do.

**Masked LM.** Windows of `block_size` tokens side by side, masked by BERT's rule with a fixed
seed (the same positions at every evaluation): the loss at the chosen positions, and how often
the original token is the model's first guess (top-1) or among its first five (top-5).

**Encoder–decoder.** Whole answers: each held-out source is written out greedily and counts
only if it is exactly the target (`exact_match`); a nearly right spelling is still wrong.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm

from attento.config import Config, check_counts
from attento.data.masking import IGNORE, mask_token_id, mask_tokens, special_ids
from attento.data.windows import VAL_FRACTION, covering
from attento.errors import UserError
from attento.generate.seq2seq import transduce

EVAL_MASK_SEED = 1234  # the masking of a masked-LM evaluation, fixed so scores compare


@dataclass
class EvalSettings(Config):
    """How `attento eval` reads a model; clm_score and mlm_score default to its batch_size.

    batch_size: windows (or pairs) per forward pass
    stride: tokens between windows (default: the context, i.e. no overlap; smaller gives each
        prediction more context and costs more)
    max_new_tokens: chat model: the tokens an answer may take to close with <|im_end|>
        (default: half the model's context)
    """

    batch_size: int = 16
    stride: int | None = None
    max_new_tokens: int | None = None

    def check(self) -> None:
        check_counts(self, "batch_size", "stride", "max_new_tokens")


@dataclass
class Score:
    """One model on one text: what `attento eval` prints."""

    objective: str
    tokens: int  # predictions scored
    loss: float  # mean nats per scored token
    perplexity: float
    bits_per_char: float | None = None
    bits_per_byte: float | None = None
    chars: int | None = None
    bytes: int | None = None
    top1: float | None = None  # masked LM: share of masked tokens guessed first
    top5: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def validation_split(tokens: Sequence[int] | torch.Tensor) -> torch.Tensor:
    """The held-out tail of a token stream, exactly as training holds it out (windows.py)."""
    data = torch.as_tensor(tokens, dtype=torch.long).flatten()
    return data[len(data) - int(len(data) * VAL_FRACTION) :]


@torch.inference_mode()
def clm_score(
    model: torch.nn.Module,
    tokens: Sequence[int] | torch.Tensor,
    tokenizer: Any = None,
    *,
    stride: int | None = None,
    batch_size: int = EvalSettings.batch_size,
    progress: bool = False,
) -> Score:
    """Score a causal LM on every token of `tokens` (see the module docstring)."""
    data = torch.as_tensor(tokens, dtype=torch.long).flatten()
    block = model.config.block_size
    plan = covering(len(data), block, block if stride is None else stride)
    size = min(block, len(data) - 1)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total = 0.0
    targets_seen: list[torch.Tensor] = []
    try:
        bar = tqdm(total=len(plan), desc="eval", unit="window", disable=not progress)
        for i in range(0, len(plan), batch_size):
            part = plan[i : i + batch_size]
            starts = torch.tensor([s for s, _ in part])
            rows = data[starts[:, None] + torch.arange(size + 1)]
            logits = model(rows[:, :-1].to(device))
            nll = F.cross_entropy(
                logits.float().transpose(1, 2), rows[:, 1:].to(device), reduction="none"
            )
            for row, (_, first) in enumerate(part):
                total += float(nll[row, first:].double().sum())
                targets_seen.append(rows[row, 1 + first :])
            bar.update(len(part))
        bar.close()
    finally:
        model.train(was_training)
    targets = torch.cat(targets_seen)
    n = len(targets)
    score = Score("clm", n, total / n, math.exp(total / n))
    if tokenizer is not None:
        ids = targets.tolist()
        score.bytes = sum(len(tokenizer.token_bytes(t)) for t in ids)
        score.chars = len(tokenizer.decode(ids))
        bits = total / math.log(2)
        score.bits_per_byte = bits / score.bytes if score.bytes else None
        score.bits_per_char = bits / score.chars if score.chars else None
    return score


@torch.inference_mode()
def mlm_score(
    model: torch.nn.Module,
    tokens: Sequence[int] | torch.Tensor,
    tokenizer: Any,
    *,
    batch_size: int = EvalSettings.batch_size,
    seed: int = EVAL_MASK_SEED,
    progress: bool = False,
) -> Score:
    """Score a masked LM on windows of `tokens` masked with a fixed seed (see the docstring)."""
    data = torch.as_tensor(tokens, dtype=torch.long).flatten()
    block = model.config.block_size
    n_rows = len(data) // block
    if n_rows == 0:
        raise UserError(f"the held-out text has {len(data)} tokens: one window needs {block}")
    rows = data[: n_rows * block].view(n_rows, block)
    generator = torch.Generator().manual_seed(seed)
    inputs, labels = mask_tokens(
        rows,
        mask_token_id(tokenizer),
        model.config.vocab_size,
        generator,
        special=special_ids(tokenizer),
    )
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, hits1, hits5, n = 0.0, 0, 0, 0
    try:
        for i in tqdm(range(0, n_rows, batch_size), desc="eval", disable=not progress):
            x, y = inputs[i : i + batch_size].to(device), labels[i : i + batch_size].to(device)
            keep = y != IGNORE
            logits = model(x)[keep].float()
            gold = y[keep]
            total += float(F.cross_entropy(logits, gold, reduction="sum").double())
            top = logits.topk(min(5, logits.size(-1)), dim=-1).indices
            hits1 += int((top[:, 0] == gold).sum())
            hits5 += int((top == gold[:, None]).any(-1).sum())
            n += int(keep.sum())
    finally:
        model.train(was_training)
    if n == 0:
        raise UserError("no token of the held-out text was masked: give a longer text")
    return Score("mlm", n, total / n, math.exp(total / n), top1=hits1 / n, top5=hits5 / n)


@dataclass
class AnswerScore:
    """A task scored by whole answers: how many of them came out right."""

    objective: str  # "seq2seq": exact match; "chat": format accuracy (align/evaluate.py)
    answers: int
    right: int

    @property
    def accuracy(self) -> float:
        return self.right / self.answers

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "accuracy": self.accuracy}


@torch.inference_mode()
def exact_match(
    model: torch.nn.Module,
    tokenizer: Any,
    pairs: Sequence[tuple[str, str]],
    *,
    batch_size: int = 64,
    progress: bool = False,
) -> AnswerScore:
    """Share of (source, target) pairs whose greedy output decodes to exactly the target."""
    c = model.config
    sources = []
    for i, (source, _) in enumerate(pairs):
        ids = tokenizer.encode(source)
        if not 0 < len(ids) <= c.block_size:
            raise UserError(
                f"pair {i + 1}: the source has {len(ids)} tokens; this model reads 1 to "
                f"{c.block_size}"
            )
        sources.append(ids)
    right = 0
    for i in tqdm(range(0, len(pairs), batch_size), desc="eval", disable=not progress):
        rows = sources[i : i + batch_size]
        width = max(map(len, rows))
        src = torch.tensor([r + [c.pad_id] * (width - len(r)) for r in rows])
        written = transduce(model, src, greedy=True)
        for out, (_, target) in zip(written, pairs[i : i + batch_size], strict=True):
            right += tokenizer.decode(out) == target
    return AnswerScore("seq2seq", len(pairs), right)

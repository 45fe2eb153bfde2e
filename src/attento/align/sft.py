"""Supervised fine-tuning (SFT), a.k.a. instruction tuning.

A pretrained model continues text; an assistant answers. SFT closes the gap with the same
next-token loss as pretraining, on conversations rendered by the chat template
(chat.py), with one change: only the answer tokens are targets. The prompt's labels are -100
(ignored by the cross-entropy), so the model learns to *answer* instructions, not to
*write* them.

`SFTBatches` is the batch source the shared training loop (attento.train) draws from for the
objective "sft": each example is one conversation, cut to block_size + 1 tokens, input
x = ids[:-1] and target y = labels[1:], right-padded (padding is never a target). A tenth of
the examples (at least one) is held out for the validation loss.

`sft(...)` loads a model folder, adds the chat tokens if needed, optionally wraps the model
in LoRA adapters (lora.py), and runs the shared loop; the output folder is a model folder
(with LoRA: the adapter model, plus `merged/`, the same model with the adapters folded in).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from attento.align.chat import (
    IGNORE,
    ChatFormat,
    Message,
    TemplateChat,
    add_chat_tokens,
    chat_format,
)
from attento.align.data import hold_out, load_conversations, pad_rows
from attento.align.lora import LoRAGPT, merge_lora
from attento.config import Config, check_counts, check_positive
from attento.errors import UserError
from attento.models.folder import load_model, save_model
from attento.models.gpt import GPT
from attento.train import TrainConfig, TrainResult, train

VAL_FRACTION = 0.1


class SFTBatches:
    """(x, y) batches of whole conversations with prompt-masked targets, for the loop."""

    objective = "sft"

    def __init__(
        self,
        examples: Sequence[tuple[list[int], list[int]]],
        block_size: int,
        seed: int = 0,
        pad_id: int = 0,
    ) -> None:
        kept = []
        for ids, labels in examples:
            ids, labels = ids[: block_size + 1], labels[: block_size + 1]
            if any(label != IGNORE for label in labels[1:]):
                kept.append((ids, labels))
        if not kept:
            raise UserError(
                f"no example has an answer within the model's context of {block_size} tokens"
            )
        # a single example is both trained on and measured
        self.train, self.val = hold_out(kept, VAL_FRACTION, seed) if len(kept) > 1 else (kept, kept)
        self.pad_id = pad_id
        self.generator = torch.Generator().manual_seed(seed)

    def collate(self, rows: Sequence[tuple[list[int], list[int]]]):
        x, _ = pad_rows([ids[:-1] for ids, _ in rows], self.pad_id)
        y, _ = pad_rows([labels[1:] for _, labels in rows], IGNORE)
        return x, y

    def train_batches(
        self, batch_size: int, n_micro: int, rank: int = 0, world: int = 1
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """This process's micro-batches of one step; all processes draw the same indices."""
        n = batch_size * n_micro
        if n % world:
            raise UserError(
                f"a step's {n} examples (batch_size x grad_accum) cannot be shared equally "
                f"by {world} processes"
            )
        picks = torch.randint(len(self.train), (n,), generator=self.generator)
        share = n // world
        mine = picks[rank * share : (rank + 1) * share]
        return [
            self.collate([self.train[i] for i in part])
            for part in mine.tensor_split(-(-share // batch_size))
        ]

    def eval_batches(
        self, n_batches: int, batch_size: int, rank: int = 0, world: int = 1
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The held-out examples in order (at most n_batches batches), shared by rank."""
        chunks = [self.val[i : i + batch_size] for i in range(0, len(self.val), batch_size)]
        for chunk in chunks[:n_batches][rank::world]:
            yield self.collate(chunk)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


def make_sft_batches(
    chat: ChatFormat | TemplateChat,
    conversations: Sequence[Sequence[Message]],
    block_size: int,
    seed: int = 0,
) -> SFTBatches:
    examples = []
    for i, conversation in enumerate(conversations):
        try:
            examples.append(chat.encode_example(conversation))
        except UserError as e:  # e.g. a character the model's tokenizer has never seen
            raise UserError(f"record {i + 1}: {e}") from None
    return SFTBatches(examples, block_size, seed=seed, pad_id=chat.im_end)


@dataclass
class SFTSettings(Config):
    """The knobs of `attento sft` (the rest of the TrainConfig keeps its defaults).

    max_steps: optimiser steps
    batch_size: examples per step
    learning_rate: peak learning rate
    warmup_steps: steps of linear warm-up
    eval_interval: steps between checkpoints, each with a validation loss, which --resume
        continues from (and always one at the end)
    eval_batches: batches per validation loss
    lora_r: LoRA rank: only rank-R adapters train (None: the whole model)
    lora_alpha: LoRA's scale alpha (the adapters are scaled by alpha / r)
    seed: random seed
    """

    max_steps: int = 200
    batch_size: int = 16
    learning_rate: float = 3e-4
    warmup_steps: int = 10
    eval_interval: int = 50
    eval_batches: int = 8
    lora_r: int | None = None
    lora_alpha: float = 16.0
    seed: int = 1337

    def check(self) -> None:
        check_counts(self, "max_steps", "batch_size", "eval_interval", "eval_batches")
        check_positive(self, "learning_rate")


def prepare(model, tokenizer, lora_r: int | None, lora_alpha: float, seed: int = 0):
    """(model ready for SFT, tokenizer with chat tokens). A model with its own chat template
    (a Hugging Face chat model) keeps its tokenizer: it is tuned in its own format."""
    added = False
    if TemplateChat.find(tokenizer) is None:
        model, tokenizer, added = add_chat_tokens(model, tokenizer, seed=seed)
    if lora_r is not None:
        model = LoRAGPT.from_gpt(model, lora_r, lora_alpha, train_embeddings=added)
    return model.train(), tokenizer


def sft(
    model_dir: str | Path,
    data: str | Path,
    out: str | Path,
    settings: SFTSettings | None = None,
    progress: bool = True,
    resume: bool = False,
) -> TrainResult:
    """Fine-tune the model in `model_dir` (a model folder, a Hugging Face folder or Hub id)
    on instruction data, in the model's own chat template if it has one; write it to `out`."""
    s = settings or SFTSettings()
    conversations = load_conversations(data)
    model, tokenizer = load_model(model_dir)
    if not isinstance(model, GPT):  # chat tokens are added to a GPT's tables only
        raise UserError(f"{model_dir} holds a {type(model).__name__}: SFT fine-tunes a GPT")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s.seed)  # the adapters' initial weights: the same in every run
        model, tokenizer = prepare(model, tokenizer, s.lora_r, s.lora_alpha, s.seed)
    try:
        batches = make_sft_batches(
            chat_format(tokenizer), conversations, model.config.block_size, s.seed
        )
    except UserError as e:
        raise UserError(f"{data}, {e}") from None
    cfg = TrainConfig(
        corpus=str(data),
        tokenizer=str(model_dir),
        objective="sft",
        arch=model.arch,
        model=model.config.to_dict(),
        batch_size=s.batch_size,
        max_steps=s.max_steps,
        learning_rate=s.learning_rate,
        min_lr=s.learning_rate / 10,
        warmup_steps=s.warmup_steps,
        weight_decay=0.0,
        eval_interval=s.eval_interval,
        eval_batches=s.eval_batches,
        log_interval=max(1, min(10, s.max_steps // 20)),
        seed=s.seed,
        save_best=False,
    )
    result = train(
        cfg,
        out,
        resume=resume,
        progress=progress,
        init=None if resume else (model, tokenizer),
        batches=batches,
    )
    if s.lora_r is not None:
        trained, tok = load_model(out)
        # derived from the run's adapters: a resumed run's replaces the earlier one's
        save_model(merge_lora(trained), tok, Path(out) / "merged", replace=True)
    return result

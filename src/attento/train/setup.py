"""What a run starts from: its tokenizer, a fresh model and the batch source of its objective.

The loop (loop.py) takes a model, a tokenizer and a batch source and knows none of these
choices; a run from a corpus gets them here, a fine-tuning or alignment run (attento.align)
brings its own. Masked-language-model pre-training is set up here too: its tokenizer gains the
[MASK] token and its batches are MLMWindows; so is an encoder–decoder's (objective seq2seq):
the corpus is source TAB target pairs, the tokenizer its characters after three reserved ones
(pad, BOS, EOS: ids 0, 1, 2, the Seq2SeqConfig defaults), the batches PairBatches.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from attento.data.masking import MLMWindows, add_mask_token
from attento.errors import UserError
from attento.train.config import TrainConfig


def make_tokenizer(spec: str, text: str, progress: bool = False) -> Any:
    """ "char", "bpe:N" (trained on `text`) or a saved tokenizer's name/path."""
    from attento.tokenize import CharTokenizer, load_tokenizer

    if spec == "char":
        return CharTokenizer.from_text(text)
    if spec.startswith("bpe:"):
        from attento.tokenize.bpe import train_bpe

        try:
            size = int(spec[4:])
        except ValueError:
            raise UserError(
                f"--tokenizer {spec!r}: write bpe:N with N the vocabulary size"
            ) from None
        return train_bpe(text, size, progress=progress)
    return load_tokenizer(spec)


def build_model(arch: str, model: dict[str, Any], vocab_size: int) -> torch.nn.Module:
    """A freshly initialised model of architecture `arch` sized for the tokenizer."""
    from attento.models.config import check_model_fits
    from attento.registry import arch_class, arch_names

    if arch not in arch_names():
        raise UserError(f"unknown architecture {arch!r} (known: {', '.join(arch_names())})")
    cls = arch_class(arch)
    if model.get("vocab_size", vocab_size) != vocab_size:
        raise UserError(
            f"the tokenizer has {vocab_size} tokens but the model config asks for "
            f"{model['vocab_size']}: leave vocab_size out, it comes from the tokenizer"
        )
    config = cls.config_class.from_dict({**model, "vocab_size": vocab_size})
    check_model_fits(cls, config, copies=4, action="training")
    return cls(config)


# pad, BOS and EOS of an encoder–decoder's character tokenizer: control characters no pair holds
PAIR_SPECIALS = "\x00\x01\x02"


def pair_tokenizer(spec: str, text: str) -> Any:
    """The characters of the pairs in `text`, after pad, BOS and EOS (ids 0, 1, 2)."""
    from attento.data.pairs import parse_pairs
    from attento.tokenize import CharTokenizer

    if spec != "char":
        raise UserError(f"objective seq2seq reads characters: use --tokenizer char, not {spec}")
    chars = {c for pair in parse_pairs(text) for c in "".join(pair)}
    if chars & set(PAIR_SPECIALS):
        raise UserError("the pairs hold control characters \\x00-\\x02, reserved for pad/BOS/EOS")
    return CharTokenizer([*PAIR_SPECIALS, *sorted(chars)])


def fresh_start(cfg: TrainConfig, text: str, progress: bool = False) -> tuple[torch.nn.Module, Any]:
    """(model, tokenizer) for a run from scratch on `text`."""
    if cfg.objective == "seq2seq":
        tokenizer = pair_tokenizer(cfg.tokenizer, text)
    else:
        tokenizer = make_tokenizer(cfg.tokenizer, text, progress)
    if cfg.objective == "mlm":
        add_mask_token(tokenizer)  # a BPE tokenizer gets [MASK] as a special token
    return build_model(cfg.arch, cfg.model, tokenizer.vocab_size), tokenizer


def make_batches(cfg: TrainConfig, text: str, model_config: Any, tokenizer: Any) -> Any:
    """The batch source of a corpus objective (clm, mlm, seq2seq)."""
    from attento.data.pairs import PairBatches, parse_pairs
    from attento.data.windows import CLMWindows

    if cfg.objective == "seq2seq":
        c = model_config
        if [c.pad_id, c.bos_id, c.eos_id] != tokenizer.encode(PAIR_SPECIALS):
            raise UserError("an encoder–decoder on pairs keeps pad_id 0, bos_id 1 and eos_id 2")
        pairs = parse_pairs(text, cfg.corpus)
        return PairBatches(
            pairs, tokenizer.encode, c.block_size, c.pad_id, c.bos_id, c.eos_id, seed=cfg.seed
        )
    tokens, block_size = tokenizer.encode(text), model_config.block_size
    if cfg.objective == "mlm":
        return MLMWindows.for_tokenizer(tokens, block_size, tokenizer, seed=cfg.seed)
    if cfg.objective != "clm":
        raise UserError(f"objective {cfg.objective!r} needs its own batch source (`batches=`)")
    return CLMWindows(tokens, block_size, seed=cfg.seed)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)

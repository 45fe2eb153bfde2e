"""Tiny models for the GPT-vs-BERT and training-history pages: a BERT with a [MASK] token, and
a GPT folder holding a few weight snapshots and a log, as `attento train --keep-checkpoints`
leaves them."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from attento.data.masking import add_mask_token
from attento.models.bert import Bert, BertConfig
from attento.models.folder import load_model, save_model
from attento.tokenize.bpe import train_bpe
from attento.train.log import TrainLog
from attento.train.snapshots import save_snapshot

BERT_TEXT = "nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura " * 20
BERT_SENTENCE = "nel mezzo del [MASK] di nostra [MASK]"
HISTORY_STEPS = (0, 5, 10)


def make_bert(directory: Path) -> Path:
    """A random tiny BERT (2 layers x 32, BPE + [MASK]) whose guesses are far from uniform."""
    torch.manual_seed(0)
    tok = add_mask_token(train_bpe(BERT_TEXT, 280))
    config = BertConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=2, n_head=2, n_embd=32)
    model = Bert(config).eval()
    with torch.no_grad():
        model.embed.tok.weight.mul_(20)
    return save_model(model, tok, directory, extra={"language": "it"})


def make_history(directory: Path, make_ckpt) -> Path:
    """A tiny GPT run folder with snapshots at HISTORY_STEPS (the last = the folder's
    weights, the earlier ones scaled down: a model "learning") and a log.csv."""
    path = make_ckpt(directory)
    model, _ = load_model(path)
    final = {k: v.clone() for k, v in model.state_dict().items()}
    for step in HISTORY_STEPS:
        share = step / HISTORY_STEPS[-1]
        with torch.no_grad():
            for name, p in model.state_dict().items():
                p.copy_(final[name] * (0.2 + 0.8 * share))
        save_snapshot(model, path, step)
    log = TrainLog()
    for step in range(1, HISTORY_STEPS[-1] + 1):
        val = 4.0 - 0.2 * step if step % 5 == 0 else math.nan
        row = {"step": step, "train_loss": 4.2 - 0.2 * step, "val_loss": val, "lr": 1e-3}
        log.add({**row, "tokens_per_s": 1.0, "elapsed_s": float(step)})
    log.write(path)
    return path

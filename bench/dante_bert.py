"""The bundled `dante-bert` on the whole held-out split: masked top-1 / top-5 against a peer.

Scores exactly what `attento eval --model dante-bert` scores (train/evaluate.mlm_score: the
last 10% of the Divina Commedia in windows of the model's context, BERT masking with a fixed
seed), and the same masks guessed by the peer: the most frequent tokens of the training part,
without context. The model was made by

    attento train --preset dante-bert --out runs/dante-bert

and its `best/` folder copied to src/attento/assets/models/dante-bert/.

    ATTENTO_DATA=../shared/data .venv/bin/python bench/dante_bert.py [--no-write]
"""

from __future__ import annotations

import argparse
import platform

import torch
from torch import nn

from attento.data.corpus import load_corpus
from attento.models.folder import load_model
from attento.train.evaluate import mlm_score, validation_split
from results import write_section

MODEL = "dante-bert"


class Frequent(nn.Module):
    """The peer: the same scores at every position, the log-frequencies of the training part."""

    def __init__(self, config: object, counts: torch.Tensor) -> None:
        super().__init__()
        self.config = config
        self.scores = nn.Parameter((counts.float() + 1).log(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scores.expand(*x.shape, -1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    model, tokenizer = load_model(MODEL)
    tokens = tokenizer.encode(load_corpus("divina_commedia"))
    held_out = validation_split(tokens).tolist()
    train_part = tokens[: len(tokens) - len(held_out)]
    counts = torch.bincount(torch.tensor(train_part), minlength=model.config.vocab_size)
    ours = mlm_score(model, held_out, tokenizer)
    peer = mlm_score(Frequent(model.config, counts), held_out, tokenizer)
    params = sum(p.numel() for p in model.parameters())
    body = f"""Command: `ATTENTO_DATA=../shared/data .venv/bin/python bench/dante_bert.py` (torch {torch.__version__}, {platform.machine()})

The bundled `dante-bert` ({params:,} parameters; made by `attento train --preset dante-bert`,
15 minutes on this project's shared 2-core CPU) on the whole held-out split, as
`attento eval --model dante-bert` scores it: {ours.tokens:,} masked tokens (BERT masking,
fixed seed). Is the hidden token the top guess (top-1), or among the top five (top-5)?

| guesser | loss (nats) | top-1 | top-5 |
|---|---:|---:|---:|
| attento `dante-bert` | {ours.loss:.4f} | {ours.top1:.1%} | {ours.top5:.1%} |
| most frequent tokens, no context (peer) | {peer.loss:.4f} | {peer.top1:.1%} | {peer.top5:.1%} |
| ratio (model / peer) | | {ours.top1 / peer.top1:.2f}x | {ours.top5 / peer.top5:.2f}x |
"""
    print(body)
    if not args.no_write:
        write_section("dante_bert.py", body)


if __name__ == "__main__":
    main()

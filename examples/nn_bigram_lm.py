"""A character n-gram language model on the Divina Commedia, trained with attento's NumPy
autograd (embedding -> tanh MLP -> softmax over characters).

    .venv/bin/python examples/nn_bigram_lm.py [--context 2] [--chars 200000] [--out out/nn]

--context 1 is a bigram model, 2 a trigram model. Prints the loss against two references
(uniform guessing, and the count table of character pairs), a few sampled lines, and saves
the training loss curve to ngram_loss.png.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from attento.data import load_corpus
from attento.errors import UserError
from attento.nn.ngram import NgramConfig, count_bigram_loss, plot_losses, sample, train_ngram


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="divina_commedia", help="corpus name or text file")
    parser.add_argument("--chars", type=int, default=200_000, help="train on the first N chars")
    defaults = NgramConfig()
    parser.add_argument(
        "--context", type=int, default=defaults.context, help="1 = bigram, 2 = trigram, ..."
    )
    parser.add_argument("--steps", type=int, default=defaults.steps, help="gradient steps")
    parser.add_argument("--out", default="out/nn", help="folder for the PNG (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    text = load_corpus(args.corpus)[: args.chars]
    config = NgramConfig(context=args.context, steps=args.steps, seed=args.seed)
    result = train_ngram(text, config, progress=True)
    tok = result.tokenizer
    train_ids = np.array(tok.encode(text[: int(0.9 * len(text))]))
    print(f"{len(text)} characters, vocabulary of {tok.vocab_size}, context {args.context}")
    print(
        f"loss (nats/char): uniform guess {result.uniform_loss:.3f}, "
        f"count bigram table {count_bigram_loss(train_ids, tok.vocab_size):.3f}"
    )
    print(
        f"trained: train {result.train_loss:.3f}, validation {result.val_loss:.3f} "
        f"in {result.seconds:.1f} s ({args.steps} steps)"
    )
    rng = np.random.default_rng(args.seed)
    prompt = "\n" * args.context
    for _ in range(3):
        print("sample:", sample(result.model, tok, rng, prompt=prompt, max_chars=120))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"saved {plot_losses(out / 'ngram_loss.png', result.losses)}")


if __name__ == "__main__":
    try:
        main()
    except UserError as exc:
        sys.exit(f"error: {exc}")

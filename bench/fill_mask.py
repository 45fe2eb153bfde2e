"""Masked language modelling you can check: a BERT pre-trained by attento on the Divina Commedia.

Runs exactly

    attento train --objective mlm --corpus divina_commedia --time-budget MIN --out out/bench-bert-dante

(preset bert-cpu: BPE 2000 + [MASK], post-norm BERT), then measures on the held-out last 10% of
the poem, with BERT's masking (15% of positions: 80% [MASK], 10% random, 10% unchanged), how
often the model's top guess is the hidden token. The peer is the best guess without context,
the most frequent token of the training part, scored on the same masks. Last, `attento
fill-mask` on famous lines: two from the training part, two the model never saw.

    ATTENTO_DATA=../shared/data .venv/bin/python bench/fill_mask.py [--minutes 30] [--no-write]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import time
from pathlib import Path

import torch

from attento.cli import main as cli
from attento.data.corpus import load_corpus
from attento.data.masking import IGNORE, MLMWindows, special_ids
from attento.generate.fill_mask import load_bert
from results import write_section

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "out" / "bench-bert-dante"
LINES = [  # (text, where the line is in the poem)
    ("Nel mezzo del [MASK] di nostra vita", "training part"),
    ("lasciate ogne [MASK], voi ch’intrate", "training part"),
    ("Vergine Madre, figlia del [MASK] figlio", "held out"),
    ("l’amor che move il [MASK] e l’altre stelle", "held out"),
]


def attento(*argv: str) -> str:
    """Run an attento command in this process; its printed output."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = cli(list(argv))
    if code:
        raise SystemExit(f"attento {' '.join(argv)} failed with status {code}")
    return buffer.getvalue().strip()


@torch.inference_mode()
def held_out_accuracy(n_batches: int = 50, batch_size: int = 32) -> dict[str, float]:
    """Top-1 and top-5 accuracy on masked held-out tokens: the model vs the most frequent token."""
    model, tokenizer = load_bert(OUT)
    tokens = tokenizer.encode(load_corpus("divina_commedia"))
    windows = MLMWindows.for_tokenizer(tokens, model.config.block_size, tokenizer)
    special = torch.tensor(sorted(special_ids(tokenizer)))
    counts = torch.bincount(windows.train_data, minlength=tokenizer.vocab_size)
    counts[special] = 0
    top_counts = counts.topk(5).indices
    hits = {"model top-1": 0, "model top-5": 0, "frequent top-1": 0, "frequent top-5": 0}
    total = 0
    for x, y in windows.eval_batches(n_batches, batch_size):
        chosen = y != IGNORE
        target = y[chosen]
        guesses = model(x)[chosen].topk(5, dim=-1).indices
        hits["model top-1"] += int((guesses[:, 0] == target).sum())
        hits["model top-5"] += int((guesses == target[:, None]).any(-1).sum())
        hits["frequent top-1"] += int((target == top_counts[0]).sum())
        hits["frequent top-5"] += int(torch.isin(target, top_counts).sum())
        total += len(target)
    return {name: h / total for name, h in hits.items()} | {"masked": total}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="MLM training time budget")
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = parser.parse_args()
    train = ["train", "--objective", "mlm", "--corpus", "divina_commedia"]
    train += ["--time-budget", f"{args.minutes:g}", "--out", str(OUT)]
    shutil.rmtree(OUT, ignore_errors=True)
    summary = attento(*train).replace(str(REPO) + "/", "")
    acc = held_out_accuracy()
    fills = [attento("fill-mask", text, "--model", str(OUT), "--k", "5") for text, _ in LINES]
    shown = " ".join(a if a != str(OUT) else "out/bench-bert-dante" for a in train)
    command = "ATTENTO_DATA=../shared/data .venv/bin/python bench/fill_mask.py " + " ".join(
        sys.argv[1:]
    )
    lines = [
        f"Command: `{command.strip()}` ({time.strftime('%Y-%m-%d')}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs)",
        "",
        "```",
        f"$ attento {shown}",
        summary,
        "```",
        "",
        f"Held-out masked tokens (last 10% of the poem, BERT masking, {acc['masked']:,} "
        "guesses): is the hidden token the top guess (top-1) or among the top five (top-5)?",
        "",
        "| guesser | top-1 | top-5 |",
        "|---|---:|---:|",
        f"| attento BERT | {acc['model top-1']:.1%} | {acc['model top-5']:.1%} |",
        f"| most frequent tokens, no context (peer) | {acc['frequent top-1']:.1%} "
        f"| {acc['frequent top-5']:.1%} |",
        "",
    ]
    for (text, where), fill in zip(LINES, fills, strict=True):
        lines += [f"{where}:", "", "```", f'$ attento fill-mask "{text}" --k 5', fill, "```", ""]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section("fill_mask.py", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where a token is: learned, sinusoidal and rotary positions on the same character GPT.

Attention by itself does not know the order of the tokens; the positional encoding tells it.
This trains one model per encoding, identical in everything else (4 layers x 4 heads x 128,
block 64, batch 12, AdamW, 1,500 steps of tinyshakespeare, seed 1), and compares their best
validation loss with GPT-2's choice, learned positions, as the peer:

- learned: a trained table of one vector per position, added to the token vector (GPT-2);
- sinusoidal: the fixed sin/cos table of the Transformer paper, added to the token vector
  multiplied by √d, as the paper does;
- sinusoidal without the √d: the same table added to the raw token vectors, which start at
  std 0.02 against the table's amplitude of 1, so position drowns out which token it is;
- RoPE: nothing added; queries and keys are rotated by their position (Llama).

Two runs at a time, one thread each.

    ATTENTO_DATA=../shared/data .venv/bin/python bench/positions.py [--steps 1500]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import torch

from attento.data import load_corpus
from attento.tokenize import CharTokenizer
from attento.train import TrainConfig, train
from attento.train.setup import build_model
from results import write_section

VARIANTS = {
    "learned": ("learned", True),
    "sinusoidal (token vectors x √d)": ("sinusoidal", True),
    "sinusoidal, unscaled": ("sinusoidal", False),
    "rope": ("rope", True),
}


def run(variant: str, steps: int) -> dict[str, float]:
    """Train one variant; its best validation loss, final training loss and speed."""
    torch.set_num_threads(1)
    pos_encoding, scaled = VARIANTS[variant]
    cfg = TrainConfig(
        corpus="tinyshakespeare",
        tokenizer="char",
        model=dict(block_size=64, n_layer=4, n_head=4, n_embd=128, pos_encoding=pos_encoding),
        batch_size=12,
        max_steps=steps,
        learning_rate=1e-3,
        min_lr=1e-4,
        warmup_steps=100,
        eval_interval=500,
        eval_batches=20,
        log_interval=100,
        seed=1,
    )
    text = load_corpus(cfg.corpus)
    tokenizer = CharTokenizer.from_text(text)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.arch, cfg.model, tokenizer.vocab_size)
    if not scaled:
        model.embed.tok_scale = 1.0
    with tempfile.TemporaryDirectory() as out:
        r = train(cfg, out, progress=False, text=text, init=(model, tokenizer))
    return {
        "best_val": r.best_val_loss,
        "train": r.final_train_loss,
        "tokens_per_s": r.tokens_per_s,
        "seconds": r.elapsed_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1500, help="optimiser steps per model")
    parser.add_argument("--jobs", type=int, default=2, help="models trained at once")
    args = parser.parse_args()
    command = "ATTENTO_DATA=../shared/data .venv/bin/python bench/positions.py " + " ".join(
        sys.argv[1:]
    )
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = {v: pool.submit(run, v, args.steps) for v in VARIANTS}
        results = {v: f.result() for v, f in futures.items()}
    peer = results["learned"]["best_val"]
    lines = [
        f"Command: `{command.strip()}` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, "
        f"shared machine; {args.jobs} runs at a time, 1 thread each)",
        "",
        f"Character GPT, 4 layers x 4 heads x 128, block 64, batch 12, {args.steps} steps of "
        "tinyshakespeare, AdamW 1e-3 with cosine to 1e-4, seed 1; validation on the last 10%.",
        "",
        "| positions | best val loss | vs learned (peer) | final train loss | tokens/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for variant, r in results.items():
        lines.append(
            f"| {variant} | {r['best_val']:.4f} | {r['best_val'] - peer:+.4f} | "
            f"{r['train']:.4f} | {r['tokens_per_s']:,.0f} |"
        )
    body = "\n".join(lines)
    print(body)
    write_section("positions.py", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The 2017 encoder–decoder at work: it learns to spell numbers in Italian.

Transduction, "347" -> "trecentoquarantasette", for every number below 10 000. The numbers
are split once into training, validation (training stops early once all of it is right) and
1000 held-out test numbers the model never sees; the score is the share of test numbers
spelled exactly right by greedy decoding. The peer is a nearest-neighbour lookup (the
spelling of the closest training number), which scores characters, never whole answers:
spelling an unseen number takes the rules, not memory. (The encoder-only BERT has its own
benchmark, bench/fill_mask.py.)

    .venv/bin/python bench/seq2seq.py [--minutes 5]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

import torch

from attento.data.numbers import italian
from attento.generate.seq2seq import transduce
from attento.models.seq2seq import Seq2Seq, Seq2SeqConfig
from attento.train import optim
from attento.train.config import TrainConfig
from results import write_section

# --- the task --------------------------------------------------------------------------------

SPECIALS = ["<pad>", "<bos>", "<eos>"]
CHARS = SPECIALS + sorted(set("0123456789") | {c for n in range(10000) for c in italian(n)})
ID = {c: i for i, c in enumerate(CHARS)}
PAD, BOS, EOS = 0, 1, 2


def batch(numbers: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source digits, decoder input (BOS + word) and targets (word + EOS, -100 at padding)."""
    src = [[ID[c] for c in str(n)] for n in numbers]
    tgt = [[ID[c] for c in italian(n)] for n in numbers]
    S, T = max(map(len, src)), max(map(len, tgt)) + 1
    s = torch.tensor([r + [PAD] * (S - len(r)) for r in src])
    tin = torch.tensor([[BOS, *r] + [PAD] * (T - 1 - len(r)) for r in tgt])
    tout = torch.tensor([[*r, EOS] + [-100] * (T - 1 - len(r)) for r in tgt])
    return s, tin, tout


def exact_match(model: Seq2Seq, numbers: list[int]) -> float:
    model.eval()
    src, _, _ = batch(numbers)
    out = transduce(model, src, greedy=True)
    model.train()
    hits = sum(
        "".join(CHARS[i] for i in row) == italian(n) for row, n in zip(out, numbers, strict=True)
    )
    return hits / len(numbers)


def char_accuracy(guesses: list[str], numbers: list[int]) -> float:
    right = total = 0
    for guess, n in zip(guesses, numbers, strict=True):
        truth = italian(n)
        right += sum(a == b for a, b in zip(guess, truth, strict=False))
        total += max(len(guess), len(truth))
    return right / total


def train_seq2seq(
    minutes: float,
    steps: int = 600,
    seed: int = 0,
    n_embd: int = 64,
    batch_size: int = 64,
    lr: float = 3e-3,
) -> dict:
    """Train within `steps` and `minutes` (the learning rate decays along whichever is
    further along) and score the held-out numbers."""
    rng = random.Random(seed)
    numbers = list(range(10000))
    rng.shuffle(numbers)
    test, val, train = numbers[:1000], numbers[1000:1500], numbers[1500:]
    torch.manual_seed(seed)
    config = Seq2SeqConfig(vocab_size=len(CHARS), block_size=40, n_layer=2, n_head=4, n_embd=n_embd)
    model = Seq2Seq(config)
    cfg = TrainConfig(
        arch="seq2seq",
        max_steps=steps,
        time_budget_min=minutes,
        learning_rate=lr,
        min_lr=1e-4,
        warmup_steps=100,
        weight_decay=0.0,
    )
    opt = torch.optim.AdamW(optim.param_groups(model, 0.0), lr=cfg.learning_rate, betas=(0.9, 0.98))
    start, step, val_score = time.perf_counter(), 0, 0.0
    while step < steps and time.perf_counter() - start < 60 * minutes:
        for group in opt.param_groups:
            group["lr"] = optim.learning_rate(cfg, step, time.perf_counter() - start)
        src, tin, tout = batch(rng.sample(train, batch_size))
        _, loss = model(src, tin, tout)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 100 == 0:
            val_score = exact_match(model, val)
            print(f"step {step}: loss {loss.item():.4f}, validation exact match {val_score:.1%}")
            if val_score == 1.0:
                break
    seconds = time.perf_counter() - start
    test_score = exact_match(model, test)
    # the peer: the spelling of the nearest training number
    nearest = [italian(min(train, key=lambda m, n=n: abs(m - n))) for n in test]
    model.eval()
    guesses = [
        "".join(CHARS[i] for i in row) for row in transduce(model, batch(test)[0], greedy=True)
    ]
    examples = [(n, g) for n, g in zip(test, guesses, strict=True)][:4]
    return {
        "steps": step,
        "seconds": seconds,
        "val": val_score,
        "test": test_score,
        "char": char_accuracy(guesses, test),
        "nn_char": char_accuracy(nearest, test),
        "nn_exact": sum(g == italian(n) for g, n in zip(nearest, test, strict=True)) / len(test),
        "params": sum(p.numel() for p in model.parameters()),
        "examples": examples,
        "wrong": [(n, g) for n, g in zip(test, guesses, strict=True) if g != italian(n)][:5],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="seq2seq time budget")
    parser.add_argument("--steps", type=int, default=600, help="seq2seq optimiser steps")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 suits small models on a busy CPU)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    command = ".venv/bin/python bench/seq2seq.py " + " ".join(sys.argv[1:])
    r = train_seq2seq(args.minutes, args.steps)
    lines = [
        f"Command: `{command.strip()}` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, "
        "shared machine)",
        "",
        'Numbers -> Italian words ("347" -> "trecentoquarantasette"), 0..9999: '
        "8500 train, 500 validation, 1000 held-out test; encoder-decoder, 2+2 post-norm "
        f"layers x 64, {r['params']:,} parameters, greedy decoding, 1 thread.",
        "",
        "| model | test exact match | test char accuracy | steps | seconds |",
        "|---|---:|---:|---:|---:|",
        f"| attento Seq2Seq | {r['test']:.1%} | {r['char']:.1%} | {r['steps']} | "
        f"{r['seconds']:.0f} |",
        f"| nearest training number (peer) | {r['nn_exact']:.1%} | {r['nn_char']:.1%} | - | - |",
        "",
        "Examples: "
        + ", ".join(f"{n} -> {g}" for n, g in r["examples"])
        + (". Wrong: " + ", ".join(f"{n} -> {g}" for n, g in r["wrong"]) if r["wrong"] else "."),
    ]
    body = "\n".join(lines)
    print(body)
    write_section("seq2seq.py", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Speculative decoding speed: the bundled shakespeare model as target, a small trained draft.

Greedy, batch 1, a 1-token prompt, NEW_TOKENS new tokens (the target's context holds them
all), one torch thread, CPU time, best of N taken in turns. Compared in the same run:
attento alone (KV cache), attento with the draft, Hugging Face `generate` on the exported
target, and HF assisted generation (`assistant_model=`) on the exported pair. The draft
(1 layer, 64 wide) trains for a few seconds on tinyshakespeare with the target's tokenizer.

    ATTENTO_DATA=... python bench/speculative.py [--repeats 3] [--train-steps 300] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from attento.generate import generate
from attento.generate.speculative import SpeculativeStats, speculative_generate
from attento.models import GPT, GPTConfig
from attento.models.folder import load_model
from results import write_section
from timing import best_times

NEW_TOKENS, K = 120, 4


def train_draft(tokenizer, block: int, steps: int) -> tuple[GPT, float]:
    text = (Path(os.environ.get("ATTENTO_DATA", "data")) / "tinyshakespeare.txt").read_text()
    data = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    torch.manual_seed(0)
    draft = GPT(GPTConfig(tokenizer.vocab_size, block, 1, 2, 64))
    opt = draft.configure_optimizer(0.1, 3e-3)
    start = time.perf_counter()
    for _ in range(steps):
        i = torch.randint(0, data.numel() - 65, (32,))
        x = torch.stack([data[j : j + 64] for j in i])
        y = torch.stack([data[j + 1 : j + 65] for j in i])
        _, loss = draft(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return draft.eval(), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=300)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    from transformers import GPT2LMHeadModel
    from transformers.utils import logging

    logging.set_verbosity_error()
    target, tok = load_model("shakespeare")
    target.eval()
    draft, train_s = train_draft(tok, target.config.block_size, args.train_steps)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        hf_t = GPT2LMHeadModel.from_pretrained(target.export_hf(Path(tmp) / "t")).eval()
        hf_d = GPT2LMHeadModel.from_pretrained(draft.export_hf(Path(tmp) / "d")).eval()
    idx = torch.tensor([tok.encode("\n")])
    stats = SpeculativeStats()
    ref = generate(target, idx, NEW_TOKENS, greedy=True)
    out = speculative_generate(target, draft, idx, NEW_TOKENS, k=K, greedy=True, stats=stats)
    identical = torch.equal(ref, out)
    hf_kw = dict(
        attention_mask=torch.ones_like(idx),
        do_sample=False,
        max_new_tokens=NEW_TOKENS,
        min_new_tokens=NEW_TOKENS,
        pad_token_id=0,
    )

    def hf(**extra):
        def run():
            with torch.inference_mode():
                return hf_t.generate(idx, **hf_kw, **extra)

        return run

    runs = {
        "attento": lambda: generate(target, idx, NEW_TOKENS, greedy=True),
        "attento + draft": lambda: speculative_generate(
            target, draft, idx, NEW_TOKENS, k=K, greedy=True
        ),
        "HF generate": hf(),
        "HF assisted": hf(assistant_model=hf_d),
    }
    hf_same = torch.equal(runs["HF assisted"](), ref)
    load = os.getloadavg()[0]
    best = best_times(runs, args.repeats, clock=time.process_time)
    rate = {name: NEW_TOKENS / s for name, s in best.items()}
    lines = ["| decoder | tok/CPU-s | vs HF generate | vs HF assisted |", "|---|---|---|---|"]
    for name, r in rate.items():
        lines.append(
            f"| {name} | {r:.0f} | {r / rate['HF generate']:.2f}x | "
            f"{r / rate['HF assisted']:.2f}x |"
        )
    md = "\n".join(lines)
    note = (
        f"Draft 1x2x64 trained {args.train_steps} steps ({train_s:.0f} s wall); k = {K}: "
        f"{stats.accepted} of {stats.proposed} drafts accepted ({stats.acceptance_rate:.0%}), "
        f"{stats.tokens_per_pass:.2f} tokens per target pass; greedy text identical to the "
        f"target alone: {identical}; HF assisted identical: {hf_same}; load average "
        f"{load:.2f} at the start of the timing."
    )
    print(md + "\n\n" + note)
    if not args.no_write:
        command = "python bench/speculative.py " + " ".join(sys.argv[1:])
        c = target.config
        shape = f"{c.n_layer}x{c.n_head}x{c.n_embd}"
        write_section(
            "speculative.py",
            f"`{command.strip()}` (torch {torch.__version__}, 1 thread, CPU time, best of "
            f"{args.repeats}; target: bundled shakespeare {shape}, greedy, batch 1, "
            f"{NEW_TOKENS} new tokens)\n\n{md}\n\n{note}\n",
        )


if __name__ == "__main__":
    main()

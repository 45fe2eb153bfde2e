"""Generation speed: attento with KV cache vs Hugging Face `generate` vs attento without cache.

Same weights (our GPT exported with `GPT.export_hf` and loaded as `GPT2LMHeadModel`), batch 1,
a 1-token prompt, 200 new tokens, top-k 50 sampling, char vocabulary of 65, block size 256.
At this size a step is dominated by per-step overhead (Python, small-op dispatch), which is what
a KV-cache loop should keep tiny. Every number comes from this run; ratios are what matter.

Time is process CPU time with one torch thread on every side: on a shared machine wall-clock
time mostly measures how often the scheduler lets us run, CPU time measures the work done.

The run also times the *matrix floor*: only the matrix-vector products of one token (every
Linear layer and the vocabulary projection, on a 1-token input), nothing else. No decoder of
these fp32 weights can beat it on this CPU, so `HF / floor` is the largest speed-up over HF
that any implementation could show here. At 6x6x384 the products stream 42 MB of weights per
token, more than the CPU caches hold, so the floor is memory bandwidth.

    .venv/bin/python bench/generate.py [--repeats 5] [--threads 1] [--no-write]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
from torch import nn

from attento.generate import generate
from attento.models import GPT, GPTConfig
from results import write_section
from timing import best_times

COMPILED_NOTE = (
    "Compiled step: `generate(..., compile=True)`, a fixed-shape KV cache and one "
    "`torch.compile`d decode step (generate/static.py, Inductor with freezing); its compile "
    "column is the first call's wall time (compile + 200 tokens), paid once per model and shape."
)
FLOOR_NOTE = (
    "Matrix floor: only the matrix-vector products of each token (every Linear layer and the "
    "vocabulary projection), timed in the same run. No fp32 decoder can beat it on this CPU, so "
    "`floor / HF` is the largest speed-up over HF that any implementation could show here."
)
CONFIGS = {"4x4x128": (4, 4, 128), "6x6x384": (6, 6, 384)}
NEW_TOKENS, TOP_K, VOCAB, BLOCK = 200, 50, 65, 256


def bench_config(shape: tuple[int, int, int], repeats: int) -> dict[str, float]:
    from transformers import GPT2LMHeadModel
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()

    n_layer, n_head, n_embd = shape
    torch.manual_seed(0)
    config = GPTConfig(VOCAB, BLOCK, n_layer, n_head, n_embd)
    model = GPT(config).eval()
    with tempfile.TemporaryDirectory() as tmp:
        hf = GPT2LMHeadModel.from_pretrained(model.export_hf(tmp)).eval()
    idx = torch.tensor([[0]])

    def ours(use_cache: bool, compile: bool = False):
        return lambda: generate(
            model, idx, NEW_TOKENS, top_k=TOP_K, seed=0, use_cache=use_cache, compile=compile
        )

    def theirs():
        with torch.inference_mode():
            hf.generate(
                idx,
                attention_mask=torch.ones_like(idx),
                do_sample=True,
                top_k=TOP_K,
                max_new_tokens=NEW_TOKENS,
                min_new_tokens=NEW_TOKENS,
                use_cache=True,
                pad_token_id=0,
            )

    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    inputs = {m.in_features: torch.randn(1, m.in_features) for m in linears}

    @torch.inference_mode()
    def floor():
        for _ in range(NEW_TOKENS):
            for m in linears:
                F.linear(inputs[m.in_features], m.weight, m.bias)

    start = time.perf_counter()  # wall time: Inductor compiles in worker processes too
    ours(True, compile=True)()
    compile_s = time.perf_counter() - start
    runs = {
        "cache": ours(True),
        "compiled": ours(True, compile=True),
        "hf": theirs,
        "nocache": ours(False),
        "floor": floor,
    }
    best = best_times(runs, repeats, clock=time.process_time)
    result = {name: NEW_TOKENS / seconds for name, seconds in best.items()}
    result["compile_s"] = compile_s
    result["weight_mb"] = sum(m.weight.numel() for m in linears) * 4 / 1e6
    return result


def table(results: dict[str, dict[str, float]]) -> str:
    lines = [
        "| config | attento + KV cache (tok/CPU-s) | attento, compiled step (tok/CPU-s) "
        "| HF generate (tok/CPU-s) | attento, no cache (tok/CPU-s) | cache / HF | compiled / HF "
        "| compile time (wall s) | cache / no cache | matrix floor (tok/CPU-s) | floor / HF "
        "| weights read per token |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['cache']:.0f} | {r['compiled']:.0f} | {r['hf']:.0f} "
            f"| {r['nocache']:.0f} | {r['cache'] / r['hf']:.2f}x | {r['compiled'] / r['hf']:.2f}x "
            f"| {r['compile_s']:.1f} | {r['cache'] / r['nocache']:.2f}x "
            f"| {r['floor']:.0f} | {r['floor'] / r['hf']:.2f}x | {r['weight_mb']:.1f} MB |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for every side")
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {name: bench_config(shape, args.repeats) for name, shape in CONFIGS.items()}
    md = table(results)
    print(md)
    if not args.no_write:
        command = "python bench/generate.py " + " ".join(sys.argv[1:])
        write_section(
            "generate.py",
            f"`{command.strip()}` (torch {torch.__version__}, "
            f"{args.threads} thread(s), CPU time, best of {args.repeats}; batch 1, 1-token prompt, "
            f"{NEW_TOKENS} new tokens, top-k {TOP_K} sampling, vocab {VOCAB}, block {BLOCK})\n\n"
            f"{md}\n\n{COMPILED_NOTE}\n\n{FLOOR_NOTE}\n",
        )


if __name__ == "__main__":
    main()

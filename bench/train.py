"""Training speed: attento's GPT against Hugging Face's GPT2LMHeadModel, same shape, same AdamW.

Both models get the identical GPT-2 configuration (learned positions, LayerNorm, tanh-GELU,
biases, tied embeddings, no dropout), the same random batches of token ids and AdamW with
the same settings; the loss is the same cross-entropy over every position. A training step
is forward + backward + gradient clipping + optimiser step. Each round times one window of
each model, back to back and in alternating order (after a few warm-up steps each), so both
see the same machine load. The speed-up is the median over rounds of that round's ratio:
the load of a shared machine drifts by more than 10% within a minute, and a ratio of
neighbouring windows cancels most of the drift that a ratio of two medians keeps. The
spread (lowest and highest round) is printed with it; tokens/s are the median windows.
Both run in this one process with the allocator settings `attento train` makes (malloc.py).

The kernel floor is the time our step spends inside the matrix products and SDPA alone
(`kernel_share`): the kernel floor / HF column is the most any step calling the same kernels
could gain on HF, with everything else free (our speed-up divided by that share).

Model FLOPs utilisation (MFU) = tokens/s x training FLOPs per token (6·params + attention,
PaLM appendix B) / the peak of this CPU, measured in the same run as the best of several
large fp32 matrix multiplications.

    .venv/bin/python bench/train.py [--rounds 9] [--compile] [--no-write]

Prints a markdown table and writes it with the command into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from attento.models.gpt import GPT, GPTConfig
from attento.train.config import TrainConfig
from attento.train.malloc import keep_freed_memory
from attento.train.optim import build_optimizer
from results import write_section

VOCAB = 65  # tinyshakespeare's characters


@dataclass
class Shape:
    name: str
    n_layer: int
    n_head: int
    n_embd: int
    block: int
    batch: int
    steps: int  # steps per timing window


SHAPES = [
    Shape("4 layers x 128, block 64, batch 12", 4, 4, 128, 64, 12, 20),
    Shape("6 layers x 384, block 256, batch 8", 6, 6, 384, 256, 8, 3),
]
OPTIM = TrainConfig(learning_rate=1e-3, weight_decay=0.1, beta1=0.9, beta2=0.99)


def ours(s: Shape, compile: bool) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    cfg = GPTConfig(VOCAB, s.block, s.n_layer, s.n_head, s.n_embd, activation="gelu_tanh")
    model = GPT(cfg)
    opt = build_optimizer(model, OPTIM)  # what `attento train` uses
    return (torch.compile(model) if compile else model), opt


def hf(s: Shape) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(
        vocab_size=VOCAB, n_positions=s.block, n_embd=s.n_embd, n_layer=s.n_layer,
        n_head=s.n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        bos_token_id=None, eos_token_id=None,
    )  # fmt: skip
    model = GPT2LMHeadModel(cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": OPTIM.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    # torch's default AdamW, as the HF Trainer builds it
    opt = torch.optim.AdamW(groups, lr=OPTIM.learning_rate, betas=(OPTIM.beta1, OPTIM.beta2))
    return model, opt


def step_fn(model: torch.nn.Module, opt: torch.optim.Optimizer, is_hf: bool, batches: list):
    """A closure running one training step on the next batch of `batches`."""
    state = {"i": 0}

    def step() -> None:
        x, y = batches[state["i"] % len(batches)]
        state["i"] += 1
        if is_hf:
            logits = model(input_ids=x).logits
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)).float(), y.reshape(-1))
        else:
            _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def window(step, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        step()
    return time.perf_counter() - t


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of the fastest of several n x n fp32 matmuls (2·n³ FLOPs each)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(window(lambda: a @ b, 1) for _ in range(repeats))
    return 2 * n**3 / best


def kernel_share(step, n: int) -> float:
    """The fraction of `step`'s time spent inside matrix products and attention kernels.

    Measured with the profiler inside real steps (products timed alone run slower than
    within a step, so they would bound nothing). A step calling the same kernels cannot be
    faster than this fraction of ours, even if everything else (GELU, LayerNorm, AdamW,
    copies, Python) cost nothing.
    """
    with torch.profiler.profile() as prof:
        seconds = window(step, n)
    kernels = sum(
        e.self_cpu_time_total
        for e in prof.key_averages()
        if e.key in ("aten::mm", "aten::addmm", "aten::bmm")
        or e.key.startswith("aten::_scaled_dot_product")
    )
    return kernels / 1e6 / seconds


def bench_shape(s: Shape, rounds: int, compile: bool) -> dict:
    gen = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(4):
        w = torch.randint(VOCAB, (s.batch, s.block + 1), generator=gen)
        batches.append((w[:, :-1], w[:, 1:]))
    torch.manual_seed(0)
    model_a, opt_a = ours(s, compile)
    torch.manual_seed(0)
    model_b, opt_b = hf(s)
    runs = {
        "attento": step_fn(model_a, opt_a, False, batches),
        "HF": step_fn(model_b, opt_b, True, batches),
    }
    for step in runs.values():  # warm-up (and compilation)
        window(step, 3)
    times: dict[str, list[float]] = {k: [] for k in runs}
    for r in range(rounds):
        for name in sorted(runs, reverse=r % 2 == 1):
            times[name].append(window(runs[name], s.steps))
    tokens = s.batch * s.block * s.steps
    tok_s = {k: tokens / statistics.median(v) for k, v in times.items()}
    ratios = [h / a for a, h in zip(times["attento"], times["HF"], strict=True)]
    floor = statistics.median(ratios) / kernel_share(runs["attento"], s.steps)
    flops = GPT(GPTConfig(VOCAB, s.block, s.n_layer, s.n_head, s.n_embd)).estimate_flops_per_token()
    return {
        "shape": s, "tok_s": tok_s, "ratios": ratios, "floor": floor, "flops_per_token": flops
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="timing windows per model")
    parser.add_argument("--compile", action="store_true", help="torch.compile attento's model")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()

    keep_freed_memory()  # as `attento train` does; one process, so for both models
    peak = matmul_peak()
    results = [bench_shape(s, args.rounds, args.compile) for s in SHAPES]
    peak = max(peak, matmul_peak())  # again at the end: the best the machine showed
    lines = [
        "| shape | attento tokens/s | HF tokens/s | attento / HF (rounds' range) "
        "| attento MFU | HF MFU | kernel floor / HF |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        a, h = r["tok_s"]["attento"], r["tok_s"]["HF"]
        mfu = [t * r["flops_per_token"] / peak for t in (a, h)]
        ratio, low, high = statistics.median(r["ratios"]), min(r["ratios"]), max(r["ratios"])
        lines.append(
            f"| {r['shape'].name} | {a:,.0f} | {h:,.0f} | {ratio:.2f}x ({low:.2f}-{high:.2f}) | "
            f"{mfu[0]:.1%} | {mfu[1]:.1%} | {r['floor']:.2f}x |"
        )
    threads = torch.get_num_threads()
    compiled = " --compile" if args.compile else ""
    flags = (f" --rounds {args.rounds}" if args.rounds != 9 else "") + compiled
    command = f"`.venv/bin/python bench/train.py{flags}`"
    compile_note = (
        " attento's model is torch.compile'd (compilation in warm-up), HF's is not."
        if args.compile
        else ""
    )
    body = (
        f"Command: {command} ({time.strftime('%Y-%m-%d')}, torch {torch.__version__}, "
        f"{threads} threads, shared machine)\n\n"
        "Training step (forward, backward, clip, AdamW) of the same GPT-2 configuration, "
        f"vocab 65; {args.rounds} rounds of back-to-back windows, median round.{compile_note} "
        f"Matmul peak measured in the same run: {peak / 1e9:.1f} GFLOP/s (fp32, 2048³).\n\n"
        + "\n".join(lines)
        + "\n"
    )
    print(body)
    if not args.no_write:
        write_section(f"train.py{compiled}", body)  # a compiled run has its own section
    return 0


if __name__ == "__main__":
    sys.exit(main())

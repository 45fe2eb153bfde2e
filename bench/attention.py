"""The cost of attention as the context grows: explicit T x T attention against SDPA's kernels.

One causal self-attention of one layer, batch 1, 6 heads of 64 (the 6x6x384 shape of
bench/generate.py), forward + backward, at contexts 64 -> 4096 (the flash kernel further):

- explicit: softmax(Q·Kᵀ/√d + mask)·V written out, as attento's traced path does (layers.py):
  the scores, the mask and the weights are T x T tensors, kept for the backward pass;
- sdpa MATH / FLASH_ATTENTION / EFFICIENT_ATTENTION: `F.scaled_dot_product_attention` forced
  onto one backend with `torch.nn.attention.sdpa_kernel`. Whichever raises "no viable
  backend" does not run on this machine; the table says which. On a CPU, torch 2.13 has MATH
  and FLASH_ATTENTION (a tiled kernel that never holds T x T: it keeps only the output and
  one log-sum-exp per row for the backward pass, and recomputes the weights there);
- sliding W: attento's sliding-window attention (GPTConfig.sliding_window = W) as the model
  trains with it (`MultiHeadAttention._local`): blocks of W queries, each reading 2W keys
  through SDPA, so time and memory grow as T·W (slope 1) instead of T x T.

Memory is the bytes of the tensors autograd saves for the backward pass, counted with
`torch.autograd.graph.saved_tensors_hooks` (each storage once, at its full size). That is the
memory that grows with the context and stays alive from forward to backward, for every layer
of a model at once, so it is what runs out first when training on long contexts. Python's
tracemalloc cannot see torch's allocations, and process RSS mixes in the allocator's caching;
transient buffers inside one kernel call are not counted here.

Time is process CPU time with one torch thread (the machine is shared: CPU time is disturbed
less than wall time), the best of a few interleaved runs. The slopes of log(cost) against
log(T), fitted on the largest contexts, are what to read: 2 means quadratic, 1 linear.
Extrapolating each fit gives the context at which one layer's attention needs `--budget` GiB.

    .venv/bin/python bench/attention.py [--max-context 4096] [--flash-max 16384] [--window 256]
                  [--no-write]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from results import write_section

HEADS, HEAD_DIM = 6, 64
BACKENDS = ("MATH", "FLASH_ATTENTION", "EFFICIENT_ATTENTION")
PLOT = Path(__file__).resolve().parents[1] / "docs" / "img" / "attention-cost.png"
FIT_POINTS = 3  # the largest contexts of each curve, where the leading term dominates


def explicit(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    T = q.size(-2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    weights = F.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)
    return weights @ v


def sdpa(backend: str) -> Callable[..., torch.Tensor]:
    def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        with sdpa_kernel(getattr(SDPBackend, backend)):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    return attend


def sliding(window: int) -> Callable[..., torch.Tensor]:
    from attento.models.layers import MultiHeadAttention

    layer = MultiHeadAttention(HEADS * HEAD_DIM, HEADS, causal=True, window=window)

    def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        if q.size(-2) < 2 * window:  # the model's own choice: one masked SDPA call
            mask = layer._full_mask(None, q.size(-2), k.size(-2), q.device)
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return layer._local(q, k, v)

    return attend


def inputs(T: int) -> tuple[torch.Tensor, ...]:
    torch.manual_seed(0)
    return tuple(torch.randn(1, HEADS, T, HEAD_DIM, requires_grad=True) for _ in range(3))


def saved_bytes(attend: Callable[..., torch.Tensor], T: int) -> int:
    """Bytes autograd keeps for the backward pass of one forward (each storage once)."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        storages[s.data_ptr()] = s.nbytes()
        return t

    q, k, v = inputs(T)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = attend(q, k, v)
    out.sum().backward()
    return sum(storages.values())


def step_seconds(attend: Callable[..., torch.Tensor], T: int, repeats: int) -> float:
    q, k, v = inputs(T)
    grad = torch.randn(1, HEADS, T, HEAD_DIM)
    best = float("inf")
    for _ in range(repeats + 1):  # the first is a warm-up
        start = time.process_time()
        attend(q, k, v).backward(grad)
        best = min(best, time.process_time() - start)
        q.grad = k.grad = v.grad = None
    return best


def runnable(attend: Callable[..., torch.Tensor]) -> str | None:
    """None if it runs here, else the first line of the error."""
    try:
        q, k, v = inputs(16)
        attend(q, k, v).sum().backward()
    except RuntimeError as exc:
        return str(exc).splitlines()[0]
    return None


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares log(y) = a + s·log(T) on the last FIT_POINTS points -> (s, a)."""
    xs = [math.log(t) for t, _ in points[-FIT_POINTS:]]
    ys = [math.log(y) for _, y in points[-FIT_POINTS:]]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    s = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    return s, my - s * mx


def plot(curves: dict[str, dict[str, list[tuple[int, float]]]], budget: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, metric, unit in ((axes[0], "time", "CPU seconds"), (axes[1], "memory", "bytes")):
        lo = hi = None
        for name, series in curves.items():
            pts = series[metric]
            ts, ys = [t for t, _ in pts], [y for _, y in pts]
            ax.plot(ts, ys, "o-", label=f"{name} (slope {fit(pts)[0]:.2f})")
            lo = min(ys) if lo is None else min(lo, min(ys))
            hi = max(ys) if hi is None else max(hi, max(ys))
        t0 = 64
        ref = lo if lo else 1.0
        t_ref = [t0, 4 * 4096]
        for slope, style in ((1, ":"), (2, "--")):
            ax.plot(
                t_ref,
                [ref * (t / t0) ** slope for t in t_ref],
                "k" + style,
                lw=0.8,
                label=f"slope {slope}",
            )
        if metric == "memory":
            ax.axhline(budget * 2**30, color="r", lw=0.8, label=f"{budget:g} GiB budget")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_ylim(lo / 2, (hi or 1) * 4)
        ax.set_xlabel("context T (tokens)")
        ax.set_ylabel(unit)
        title = "forward + backward time" if metric == "time" else "saved for backward"
        ax.set_title(f"{title}, one layer ({HEADS} heads x {HEAD_DIM})")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    tmp = PLOT.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    tmp.replace(PLOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-context", type=int, default=4096)
    parser.add_argument("--flash-max", type=int, default=16384, help="longest context for flash")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--budget", type=float, default=1.0, help="memory budget in GiB")
    parser.add_argument("--window", type=int, default=256, help="the sliding window's W")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    candidates = {"explicit": explicit} | {f"sdpa {b}": sdpa(b) for b in BACKENDS}
    candidates[f"sliding {args.window}"] = sliding(args.window)
    missing = {name: runnable(fn) for name, fn in candidates.items()}
    methods = {name: fn for name, fn in candidates.items() if missing[name] is None}
    contexts = [2**i for i in range(6, 1 + int(math.log2(args.flash_max)))]
    curves: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for name, fn in methods.items():
        top = args.flash_max if "FLASH" in name else args.max_context
        curves[name] = {"time": [], "memory": []}
        for T in (t for t in contexts if t <= top):
            curves[name]["memory"].append((T, saved_bytes(fn, T)))
            curves[name]["time"].append((T, step_seconds(fn, T, args.repeats)))
            print(
                f"{name:22s} T={T:6d} {curves[name]['time'][-1][1]:8.4f} s "
                f"{curves[name]['memory'][-1][1] / 2**20:9.1f} MiB",
                flush=True,
            )
    plot(curves, args.budget)

    names = list(curves)
    lines = [
        "| T | "
        + " | ".join(f"{n} time (ms)" for n in names)
        + " | "
        + " | ".join(f"{n} saved (MiB)" for n in names)
        + " |",
        "|---|" + "---|" * (2 * len(names)),
    ]
    for T in contexts:
        cells = []
        for metric, scale, fmt in (("time", 1e3, "{:.1f}"), ("memory", 2**-20, "{:.2f}")):
            for n in names:
                value = dict(curves[n][metric]).get(T)
                cells.append("" if value is None else fmt.format(value * scale))
        lines.append(f"| {T} | " + " | ".join(cells) + " |")
    budget = args.budget * 2**30
    fits = [
        "| method | time slope | memory slope | context at which saved tensors reach "
        f"{args.budget:g} GiB |",
        "|---|---|---|---|",
    ]
    for n in names:
        ts, _ = fit(curves[n]["time"])
        ms, ma = fit(curves[n]["memory"])
        reach = math.exp((math.log(budget) - ma) / ms)
        measured = [t for t, m in curves[n]["memory"] if m >= budget]
        where = f"{measured[0]:,} (measured)" if measured else f"~{reach:,.0f} (extrapolated)"
        fits.append(f"| {n} | {ts:.2f} | {ms:.2f} | {where} |")
    absent = [f"- `{n}` does not run here: {why}" for n, why in missing.items() if why]
    md = "\n".join(lines) + "\n\n" + "\n".join(fits) + "\n\n" + "\n".join(absent)
    print(md)
    if not args.no_write:
        command = "python bench/attention.py " + " ".join(sys.argv[1:])
        write_section(
            "attention.py",
            f"`{command.strip()}` (torch {torch.__version__}, 1 thread, CPU time, best of "
            f"{args.repeats}; one causal self-attention, batch 1, {HEADS} heads x {HEAD_DIM}, "
            "forward + backward; memory = bytes autograd saves for the backward pass; slopes "
            f"fitted on the {FIT_POINTS} largest contexts; plot: docs/img/attention-cost.png)"
            f"\n\n{md}\n",
        )


if __name__ == "__main__":
    main()

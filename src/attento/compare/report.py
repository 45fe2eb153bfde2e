"""The comparison's tables (markdown) and pictures (PNG).

- compare-loss.png: validation loss against wall-clock seconds (equal time budget);
- compare-speed.png: seconds per training step against sequence length (log-log), where
  a slope of 1 is linear growth and 2 quadratic;
- compare-probe.png: recall accuracy against distance, with chance (1/8) marked.
"""

from __future__ import annotations

import math
from pathlib import Path

from attento.compare.result import CompareResult
from attento.messages import language, message

RESULTS = "results.json"
REPORT = "report.md"
PLOTS = ("compare-loss.png", "compare-speed.png", "compare-probe.png")
NAMES = {
    "mlp": "MLP (fixed window)",
    "rnn": "RNN (tanh)",
    "lstm": "LSTM",
    "gru": "GRU",
    "cnn": "CNN (causal, dilated)",
    "gpt": "GPT (attention)",
}


def _loss(v: float) -> str:
    return f"{v:.4f}" if math.isfinite(v) else "—"


def _context(n: int | None) -> str:
    return "unbounded (state)" if n is None else str(n)


def markdown(result: CompareResult) -> str:
    """The three tables of a comparison, with one line each saying what was measured."""
    cfg, rows = result.config, list(result.archs.values())
    peer = result.archs.get("gpt")
    lines = [
        f"Corpus {cfg.corpus} (char tokenizer, {result.vocab_size} tokens), every model at "
        f"~{cfg.params:,} parameters, batch {cfg.batch_size} x {cfg.block_size} tokens, "
        f"AdamW peak lr {cfg.learning_rate:g}, the same training loop (`attento.train`). "
        f"Total {result.elapsed_s / 60:.1f} min.",
        "",
        f"| model | params | context (tokens) | val loss, {cfg.budget_s:g} s | steps in "
        f"{cfg.budget_s:g} s | train tokens/s | vs GPT | val loss, {result.equal_steps} "
        f"steps | time for {result.equal_steps} steps |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = f"{r.tokens_per_s / peer.tokens_per_s:.2f}x" if peer else "—"
        lines.append(
            f"| {NAMES[r.arch]} | {r.params:,} | {_context(r.context)} | "
            f"{_loss(r.time_val_loss)} | {r.time_steps} | {r.tokens_per_s:,.0f} | {ratio} | "
            f"{_loss(r.steps_val_loss)} | {r.steps_time_s:.0f} s |"
        )
    lengths = sorted(rows[0].step_time_s)
    first, last = lengths[0], lengths[-1]
    lines += [
        "",
        f"Milliseconds per training step (forward + backward + AdamW), batch "
        f"{cfg.speed_batch}, as the sequence grows; the last column is the growth from "
        f"{first} to {last} tokens ({last // first}x longer: linear growth would be "
        f"{last // first}x).",
        "",
        "| model | " + " | ".join(f"T={t}" for t in lengths) + f" | {last}/{first} |",
        "|---|" + "---:|" * (len(lengths) + 1),
    ]
    for r in rows:
        times = " | ".join(f"{1000 * r.step_time_s[t]:.1f}" for t in lengths)
        growth = r.step_time_s[last] / r.step_time_s[first]
        lines.append(f"| {NAMES[r.arch]} | {times} | {growth:.1f}x |")
    distances = list(cfg.probe_distances)
    lines += [
        "",
        f"Long-range recall (attento.data.probes): accuracy of the key asked for d tokens "
        f"after it appeared; chance is 1/8 = 12.5%. Models at ~{cfg.probe_params:,} "
        f"parameters, {cfg.probe_budget_s:g} s of training each (peak lr "
        f"{cfg.probe_learning_rate:g}).",
        "",
        "| model | context | " + " | ".join(f"d={d}" for d in distances) + " |",
        "|---|---:|" + "---:|" * len(distances),
    ]
    for r in rows:
        accs = " | ".join(f"{100 * r.probe_accuracy.get(d, math.nan):.0f}%" for d in distances)
        lines.append(f"| {NAMES[r.arch]} | {_context(r.context)} | {accs} |")
    return "\n".join(lines) + "\n"


def write(result: CompareResult, out: Path, lang: str | None = None) -> list[str]:
    """report.md and the three PNGs, labelled in `lang` (default: the locale's), into `out`;
    returns their file names."""
    import matplotlib

    matplotlib.use("Agg")
    (out / REPORT).write_text(markdown(result))
    rows, lang = list(result.archs.values()), language(lang)
    plot_loss(rows, result.config.budget_s, out / PLOTS[0], lang)
    plot_speed(rows, out / PLOTS[1], lang)
    plot_probe(rows, out / PLOTS[2], lang)
    return [REPORT, *PLOTS]


def _figure():
    from matplotlib import pyplot as plt

    return plt.subplots(figsize=(7, 4.2), dpi=90)


def _save(fig, path: Path) -> None:
    from matplotlib import pyplot as plt

    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_loss(rows, budget_s: float, path: Path, lang: str = "en") -> None:
    fig, ax = _figure()
    for r in rows:
        if r.curve:
            ax.plot(*zip(*r.curve, strict=True), "o-", ms=3, label=NAMES[r.arch])
    ax.set_xlabel(message("plot.wall_seconds", lang))
    ax.set_ylabel(message("plot.val_loss_chars", lang))
    ax.set_title(message("plot.compare_loss", lang, budget=f"{budget_s:g}"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_speed(rows, path: Path, lang: str = "en") -> None:
    fig, ax = _figure()
    for r in rows:
        lengths = sorted(r.step_time_s)
        ax.plot(
            lengths, [1000 * r.step_time_s[t] for t in lengths], "o-", ms=3, label=NAMES[r.arch]
        )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(message("plot.seq_len", lang))
    ax.set_ylabel(message("plot.ms_step", lang))
    ax.set_title(message("plot.compare_speed", lang))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_probe(rows, path: Path, lang: str = "en") -> None:
    fig, ax = _figure()
    for r in rows:
        distances = sorted(r.probe_accuracy)
        ax.plot(
            distances, [r.probe_accuracy[d] for d in distances], "o-", ms=3, label=NAMES[r.arch]
        )
    ax.axhline(1 / 8, color="gray", ls="--", lw=0.8, label=message("plot.chance", lang))
    ax.set_xscale("log", base=2)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(message("plot.distance", lang))
    ax.set_ylabel(message("plot.recall", lang))
    ax.set_title(message("plot.compare_probe", lang))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)

"""A report card for a training run: `report.md` in the run folder.

A loss printed at the end of a run says little on its own. The card puts next to it what it
took and what it means: the settings, the data and how it was split, the model's size, the
tokens it saw, the time and speed, the share of the machine's arithmetic it used (MFU), the
loss curve, the score on the whole held-out split in units that compare across tokenizers
(train/evaluate.py), and a few samples, seeded so a rerun writes the same ones.

**MFU** (model FLOPs utilisation, from the PaLM paper) is the arithmetic the model needs per
second divided by what this machine's matrix multiply reaches when measured now. A training
step costs about 6 floating-point operations per parameter and token (2 forward, 4 backward)
plus 12 · layers · context · width for attention's scores and sums; embeddings are lookups
and count nothing. The peak is measured, not taken from a data sheet: a square matmul timed
for a fraction of a second on the run's device and dtype.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from attento.errors import UserError

REPORT_FILE = "report.md"
SAMPLE_PROMPTS = 3  # samples on the card
SAMPLE_TOKENS = 60


def flops_per_token(model: torch.nn.Module) -> float:
    """Training FLOPs per token: 6 per non-embedding weight + attention (see the docstring)."""
    c = model.config
    embed = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding))
    params = sum(p.numel() for p in model.parameters()) - embed
    attention = (
        12 * getattr(c, "n_layer", 0) * getattr(c, "block_size", 0) * getattr(c, "n_embd", 0)
    )
    return 6.0 * params + attention


def matmul_peak(device: torch.device | str = "cpu", seconds: float = 0.3, n: int = 1024) -> float:
    """FLOP/s of an n x n float32 matmul on `device`, measured now (the best of a few runs)."""
    device = torch.device(device)
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    torch.mm(a, b)  # warm-up: threads, caches, kernels
    best, deadline = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t = time.perf_counter()
        torch.mm(a, b)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - t)
    return 2.0 * n**3 / best


def _samples(model: torch.nn.Module, tokenizer: Any, seed: int) -> list[tuple[str, str]]:
    from attento.generate import generate_text

    if not hasattr(model, "new_cache") or hasattr(model, "conditioned") or tokenizer is None:
        return []  # an encoder–decoder writes from a source, not from a prompt
    prompts = [""] if tokenizer.eot_id is not None else []
    prompts += ["\n", "The ", "Nel "][: SAMPLE_PROMPTS - len(prompts)]
    out = []
    for i, prompt in enumerate(prompts):
        try:
            room = model.config.block_size - len(tokenizer.encode(prompt) or [0])
            n = min(SAMPLE_TOKENS, room)  # within the context: no cropping warning
            text = generate_text(model, tokenizer, prompt, n, seed=seed + i)
        except UserError:  # a character this tokenizer has never seen
            continue
        out.append((prompt, text))
    return out


def render(
    out: Path,
    cfg: Any,
    state: Any,
    tokens_per_s: float,
    model: torch.nn.Module,
    tokenizer: Any,
    score: Any | None,
    peak: float,
) -> str:
    """The card's Markdown text."""
    from attento.train.checkpoint import CONFIG_FILE
    from attento.train.log import PLOT_FILE

    params = sum(p.numel() for p in model.parameters())
    per_step = cfg.batch_size * cfg.grad_accum * model.config.block_size
    achieved = tokens_per_s * flops_per_token(model)
    lines = [
        f"# Training report: {out.name}",
        "",
        "| | |",
        "|---|---|",
        f"| data | `{cfg.corpus}`, tokenizer `{cfg.tokenizer}` ({tokenizer.vocab_size:,} tokens), "
        f"objective `{cfg.objective}`; the last 10% of the tokens held out |",
        f"| model | `{cfg.arch}` {json.dumps(cfg.model)}: {params:,} parameters |",
        f"| training | {state.step:,} steps x {per_step:,} tokens = {state.step * per_step:,} "
        f"tokens seen; optimizer `{cfg.optimizer}`, lr {cfg.learning_rate:g}, seed {cfg.seed} |",
        f"| time | {state.elapsed_s / 60:.1f} min, {tokens_per_s:,.0f} tokens/s |",
        f"| MFU | {achieved / peak:.1%} ({achieved / 1e9:.1f} GFLOP/s of a measured "
        f"{peak / 1e9:.1f} GFLOP/s float32 matmul peak) |",
        f"| best val loss | {state.best_val_loss:.4f} (periodic evaluations, on "
        + ("the whole split" if cfg.eval_batches is None else f"{cfg.eval_batches} batches")
        + ") |",
    ]
    if score is not None:
        parts = [f"{score.loss:.4f} nats/token over {score.tokens:,} tokens"]
        parts.append(f"perplexity {score.perplexity:.2f}")
        if score.bits_per_char is not None:
            parts.append(f"{score.bits_per_char:.4f} bits/char")
        if score.bits_per_byte is not None:
            parts.append(f"{score.bits_per_byte:.4f} bits/byte")
        if score.top1 is not None:
            parts.append(f"top-1 {score.top1:.1%} / top-5 {score.top5:.1%}")
        lines.append(f"| whole held-out split | {', '.join(parts)} |")
    lines += ["", f"Full settings: `{CONFIG_FILE}`. Loss curve:", "", f"![loss]({PLOT_FILE})", ""]
    samples = _samples(model, tokenizer, cfg.seed)
    if samples:
        lines += [
            "## Samples",
            "",
            f"Up to {SAMPLE_TOKENS} new tokens each, seeded from {cfg.seed}:",
            "",
        ]
        fence = "~~~~"  # not ``` : a sample may contain backticks
        for prompt, text in samples:
            lines += [
                f"Prompt {prompt!r}:",
                "",
                fence,
                (prompt + text).replace(fence, "~"),
                fence,
                "",
            ]
    return "\n".join(lines)


def write_report(out: Path, text: str | None = None) -> Any:
    """Score the run in OUT on the whole held-out split, write OUT/report.md (atomically) and
    return the score (an evaluate.Score, or None for objectives scored elsewhere).

    Everything comes from the run folder, so the card of an older run can be written later;
    `text` is the corpus when the caller has it in hand (else `cfg.corpus` is loaded).
    """
    from attento.data import load_corpus
    from attento.train.checkpoint import load_checkpoint
    from attento.train.evaluate import clm_score, mlm_score, validation_split
    from attento.train.log import TrainLog

    out = Path(out)
    ckpt = load_checkpoint(out)
    cfg, model, tokenizer = ckpt.config, ckpt.model, ckpt.tokenizer
    speeds = [r["tokens_per_s"] for r in TrainLog.read(out, ckpt.state.step).rows]
    speeds = [s for s in speeds if s == s]  # the final row has none (nan)
    tokens_per_s = sum(speeds) / len(speeds) if speeds else float("nan")
    score = None
    if cfg.objective in ("clm", "mlm") and tokenizer is not None:
        corpus = load_corpus(cfg.corpus) if text is None else text
        held_out = validation_split(tokenizer.encode(corpus))
        scorer = mlm_score if cfg.objective == "mlm" else clm_score
        score = scorer(model, held_out, tokenizer)
    device = next(model.parameters()).device
    card = render(out, cfg, ckpt.state, tokens_per_s, model, tokenizer, score, matmul_peak(device))
    tmp = out / f".{REPORT_FILE}.tmp"
    tmp.write_text(card, encoding="utf-8")
    tmp.replace(out / REPORT_FILE)
    return score

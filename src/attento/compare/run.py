"""The comparison: what attention changed, measured on one corpus with one training loop.

Six language models, each trained by `attento.train` (the loop GPT uses) on the same
corpus with the same character tokenizer, the same batches and the same optimiser, every
one sized to the same number of parameters (sizing.py):

    mlp   fixed window of 16 tokens (Bengio, 2003)      rnn   tanh RNN (Elman, 1990)
    lstm  LSTM (1997)                                   gru   GRU (2014)
    cnn   causal dilated convolutions, window 64        gpt   transformer decoder (2018)

Four measurements, in this order:
1. *step time vs sequence length* (speed.py), which also tells how often to evaluate below;
2. *equal wall clock*: each model trains for `budget_s` seconds; validation loss over time
   (the curve) and at the end, training tokens per second;
3. *equal steps*: each model trains for the same number of steps (the same tokens): by
   default as many as the slowest model makes in `steps_budget_s` seconds during stage 2;
4. *long-range recall* (attento.data.probes): each model, at `probe_params`, trains for
   `probe_budget_s` seconds on the recall language, then answers at every distance d.

`compare(config, out)` writes every run folder under out/runs/, results.json, report.md (the
tables) and three plots: compare-loss.png, compare-probe.png, compare-speed.png.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import torch

from attento.compare import report
from attento.compare.config import CompareConfig
from attento.compare.result import ArchResult, CompareResult
from attento.compare.sizing import build, settings_for
from attento.compare.speed import step_times
from attento.errors import UserError


def estimated_minutes(cfg: CompareConfig) -> float:
    """Roughly how long `compare` takes: the budgets plus a margin for evals and speed runs."""
    n = len(cfg.archs)
    return n * (cfg.budget_s + cfg.steps_budget_s + cfg.probe_budget_s) / 60 * 1.15 + 0.1 * n


def context_of(model: torch.nn.Module) -> int | None:
    """Tokens an output can depend on: the window of the MLP/CNN, GPT's context, or None for
    recurrent models (the state can carry anything, in principle)."""
    if hasattr(model, "receptive_field"):
        return model.receptive_field
    if hasattr(model, "rnn"):
        return None
    return model.config.block_size


def compare(
    cfg: CompareConfig, out: str | Path, progress: bool = True, text: str | None = None
) -> CompareResult:
    """Run every stage for every arch of `cfg`, writing runs, tables and plots into `out`.

    `text` replaces loading `cfg.corpus` (for tests and notebooks).
    """
    out = Path(out)
    if (out / "runs").exists() or (out / report.RESULTS).exists():
        raise UserError(f"{out} already holds a comparison: choose another --out or delete it")
    out.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        return _compare(cfg, out, progress, text)
    finally:
        torch.set_num_threads(threads)


def _compare(cfg: CompareConfig, out: Path, progress: bool, text: str | None) -> CompareResult:
    from attento.data import load_corpus
    from attento.data.windows import CLMWindows
    from attento.tokenize import CharTokenizer

    start = time.perf_counter()
    text = load_corpus(cfg.corpus) if text is None else text
    tokenizer = CharTokenizer.from_text(text)
    vocab = tokenizer.vocab_size
    CLMWindows(tokenizer.encode(text), cfg.block_size)  # a corpus too short fails now
    results = {}
    models = {}
    for arch in cfg.archs:
        settings = settings_for(arch, cfg.params, vocab, cfg.block_size)
        torch.manual_seed(cfg.seed)
        models[arch] = build(arch, settings)
        results[arch] = ArchResult(
            arch=arch,
            params=sum(p.numel() for p in models[arch].parameters()),
            settings=settings,
            context=context_of(models[arch]),
        )

    say = _say(progress)
    say("1/4 step time vs sequence length")
    lengths = sorted({*cfg.lengths, cfg.block_size})
    for arch, times in step_times(
        models, lengths, cfg.speed_batch, cfg.speed_repeats, progress
    ).items():
        results[arch].step_time_s = times

    say(f"2/4 equal wall clock: {cfg.budget_s:g} s of training each")
    for arch, r in results.items():
        # evaluate about cfg.evals times: a step is estimated from stage 1, scaled to the batch
        est_step = r.step_time_s[cfg.block_size] * cfg.batch_size / cfg.speed_batch
        interval = max(5, round(cfg.budget_s / cfg.evals / max(est_step, 1e-6)))
        run = _train(
            cfg,
            arch,
            r.settings,
            out / "runs" / "time" / arch,
            text,
            progress,
            max_steps=None,
            time_budget_min=cfg.budget_s / 60,
            eval_interval=interval,
            log_interval=max(1, interval // 5),
        )
        r.time_val_loss, r.time_steps, r.tokens_per_s = (
            run.final_val_loss,
            run.steps,
            run.tokens_per_s,
        )
        r.curve = _curve(out / "runs" / "time" / arch)
        say(f"  {arch}: val loss {r.time_val_loss:.4f} after {r.time_steps} steps")

    tokens_per_step = cfg.batch_size * cfg.block_size
    steps = cfg.equal_steps
    if steps is None:
        slowest = min(r.tokens_per_s for r in results.values())
        steps = max(10, int(cfg.steps_budget_s * slowest / tokens_per_step))
    say(f"3/4 equal steps: {steps} steps ({steps * tokens_per_step:,} tokens) each")
    for arch, r in results.items():
        t0 = time.perf_counter()
        run = _train(
            cfg,
            arch,
            r.settings,
            out / "runs" / "steps" / arch,
            text,
            progress,
            max_steps=steps,
            warmup_steps=min(cfg.warmup_steps, steps // 10),
            eval_interval=steps,
            log_interval=max(1, steps // 20),
        )
        r.steps_val_loss, r.steps_time_s = run.final_val_loss, time.perf_counter() - t0
        say(f"  {arch}: val loss {r.steps_val_loss:.4f} in {r.steps_time_s:.0f} s")

    say(f"4/4 long-range recall: {cfg.probe_budget_s:g} s of training each")
    _probe(cfg, results, out / "runs" / "probe", progress, say)

    result = CompareResult(
        config=cfg,
        archs=results,
        equal_steps=steps,
        vocab_size=vocab,
        elapsed_s=time.perf_counter() - start,
        files=[],
    )
    result.files = report.write(result, out)
    (out / report.RESULTS).write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return result


def _say(progress: bool):
    from tqdm.auto import tqdm

    return (lambda line: tqdm.write(line)) if progress else (lambda line: None)


def _train(cfg: CompareConfig, arch, settings, out: Path, text, progress, **changes):
    """One run of the shared training loop, with the comparison's common settings."""
    from attento.train import TrainConfig, train

    model = {k: v for k, v in settings.items() if k != "vocab_size"}
    run = TrainConfig(
        corpus=cfg.corpus,
        tokenizer="char",
        arch=arch,
        model=model,
        batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        min_lr=cfg.learning_rate / 10,
        warmup_steps=cfg.warmup_steps,
        eval_batches=cfg.eval_batches,
        seed=cfg.seed,
        device="cpu",
        save_best=False,
    ).replace(**changes)
    return train(run, out, progress=progress, text=text)


def _curve(run_dir: Path) -> list[tuple[float, float]]:
    """(elapsed seconds, validation loss) at each evaluation of a run, from its log.csv."""
    from attento.train.log import TrainLog

    rows = TrainLog.read(run_dir, up_to_step=10**12).rows
    return [(r["elapsed_s"], r["val_loss"]) for r in rows if math.isfinite(r["val_loss"])]


def _probe(cfg: CompareConfig, results: dict[str, ArchResult], out: Path, progress, say):
    from attento.data.probes import ALPHABET, episode_length, recall_accuracy, recall_text
    from attento.models.folder import load_model

    distances = list(cfg.probe_distances)
    text = recall_text(cfg.probe_chars, max(distances), seed=cfg.seed)
    block = episode_length(max(distances))
    for arch, r in results.items():
        settings = settings_for(arch, cfg.probe_params, len(ALPHABET), block)
        run = _train(
            dataclasses.replace(cfg, corpus="recall-probe", learning_rate=cfg.probe_learning_rate),
            arch,
            settings,
            out / arch,
            text,
            progress,
            max_steps=None,
            time_budget_min=cfg.probe_budget_s / 60,
            eval_interval=10**9,  # one evaluation, at the end
            eval_batches=4,
            log_interval=50,
        )
        model, tokenizer = load_model(out / arch)
        r.probe_params = run.params
        r.probe_accuracy = recall_accuracy(
            model, tokenizer.encode, distances, cfg.probe_examples, cfg.seed
        )
        accs = ", ".join(f"d={d}: {a:.0%}" for d, a in r.probe_accuracy.items())
        say(f"  {arch}: {accs}")

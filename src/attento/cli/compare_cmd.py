"""`attento compare`: MLP, RNN, LSTM, GRU, CNN and GPT on one corpus, at one size."""

from __future__ import annotations

import argparse
import contextlib
import sys

from attento.cli.common import (
    add_config_flags,
    add_json_flag,
    check_out_folder,
    config_from_args,
    print_json,
)

# the flags, by field of CompareConfig; the rest keep their defaults
FLAGS = {
    "corpus": "--corpus",
    "archs": "--archs",
    "params": "--params",
    "block_size": "--block-size",
    "batch_size": "--batch-size",
    "budget_s": "--budget",
    "equal_steps": "--steps",
    "steps_budget_s": "--steps-budget",
    "lengths": "--lengths",
    "probe_params": "--probe-params",
    "probe_budget_s": "--probe-budget",
    "probe_distances": "--distances",
    "seed": "--seed",
}


def register(sub: argparse._SubParsersAction) -> None:
    from attento.compare.config import CompareConfig

    p = sub.add_parser(
        "compare",
        help="race MLP, RNN, LSTM, GRU, CNN and GPT: loss, speed, long-range recall",
        description="Train every architecture through the same loop on the same corpus at the "
        "same parameter count: validation loss at equal wall clock and at equal steps, training "
        "tokens/s, step time as the sequence grows, and recall accuracy vs distance. Writes "
        "report.md, results.json, compare-*.png and the run folders into --out. The defaults "
        "take about 25 minutes on 2 CPU cores.",
    )
    p.add_argument("--out", required=True, help="folder for the report, plots and runs")
    add_config_flags(p, CompareConfig, FLAGS, flags=FLAGS)
    add_json_flag(p)
    p.set_defaults(func=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    from attento.compare import CompareConfig, compare
    from attento.compare.run import estimated_minutes

    check_out_folder(args.out)
    cfg = config_from_args(CompareConfig, args, FLAGS)
    print(f"attento compare: about {estimated_minutes(cfg):.0f} minutes", file=sys.stderr)
    # progress lines go to stderr when stdout carries the JSON
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        result = compare(cfg, args.out, progress=True)
    if args.json:
        print_json(result.to_dict())
    else:
        from attento.compare.report import markdown

        print(markdown(result), end="")
        print(f"\nreport, plots and runs in {args.out}")
    return 0

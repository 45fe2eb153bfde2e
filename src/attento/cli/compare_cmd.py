"""`attento compare`: MLP, RNN, LSTM, GRU, CNN and GPT on one corpus, at one size."""

from __future__ import annotations

import argparse
import contextlib
import sys

from attento.cli.common import add_json_flag, check_out_folder, print_json


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def register(sub: argparse._SubParsersAction) -> None:
    from attento.compare.config import CompareConfig

    d = CompareConfig()
    p = sub.add_parser(
        "compare",
        help="race MLP, RNN, LSTM, GRU, CNN and GPT: loss, speed, long-range recall",
        description="Train every architecture through the same loop on the same corpus at the "
        "same parameter count: validation loss at equal wall clock and at equal steps, training "
        "tokens/s, step time as the sequence grows, and recall accuracy vs distance. Writes "
        "report.md, results.json, compare-*.png and the run folders into --out. The defaults "
        "take about 25 minutes on 2 CPU cores.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--out", required=True, help="folder for the report, plots and runs")
    p.add_argument("--corpus", default=d.corpus, help="corpus name or text file")
    p.add_argument("--archs", default=",".join(d.archs), help="comma-separated")
    p.add_argument("--params", type=int, default=d.params, help="parameters of every model")
    p.add_argument("--block-size", type=int, default=d.block_size, help="training window")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="sequences per step")
    p.add_argument(
        "--budget", type=float, default=d.budget_s, metavar="S", help="seconds per model"
    )
    p.add_argument(
        "--steps",
        type=int,
        metavar="N",
        help="steps per model at equal steps; None: what the slowest model made in "
        "--steps-budget seconds",
    )
    p.add_argument(
        "--steps-budget",
        type=float,
        default=d.steps_budget_s,
        metavar="S",
        help="sets --steps when it is not given",
    )
    p.add_argument("--lengths", type=_ints, default=d.lengths, help="sequence lengths to time")
    p.add_argument("--probe-params", type=int, default=d.probe_params, help="probe model size")
    p.add_argument(
        "--probe-budget",
        type=float,
        default=d.probe_budget_s,
        metavar="S",
        help="seconds per model on the recall probe",
    )
    p.add_argument("--distances", type=_ints, default=d.probe_distances, help="recall distances")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed")
    add_json_flag(p)
    p.set_defaults(func=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    from attento.compare import CompareConfig, compare
    from attento.compare.run import estimated_minutes

    check_out_folder(args.out)
    cfg = CompareConfig(
        corpus=args.corpus,
        archs=tuple(a.strip() for a in args.archs.split(",") if a.strip()),
        params=args.params,
        block_size=args.block_size,
        batch_size=args.batch_size,
        budget_s=args.budget,
        equal_steps=args.steps,
        steps_budget_s=args.steps_budget,
        lengths=args.lengths,
        probe_params=args.probe_params,
        probe_budget_s=args.probe_budget,
        probe_distances=args.distances,
        seed=args.seed,
    )
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

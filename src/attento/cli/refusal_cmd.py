"""`attento refusal-demo`: teach a small model to refuse harmful requests, measured."""

from __future__ import annotations

import argparse
import contextlib
import sys

from attento.cli.common import add_config_flags, add_json_flag, check_out_folder, print_json


def register(sub: argparse._SubParsersAction) -> None:
    from attento.align.refusal import RefusalSettings

    d = sub.add_parser(
        "refusal-demo",
        help="SFT then DPO teach a small model to refuse harmful requests (placeholders only)",
        description="Helpful SFT, safety SFT (harmful -> refusal), then DPO; after each, the "
        "refusal rate on held-out harmful requests and the over-refusal rate on held-out "
        "harmless ones (Italian and English). Writes report.md and report.json into OUT.",
    )
    d.add_argument("--out", required=True, help="a new folder for the models and the report")
    add_config_flags(
        d,
        RefusalSettings,
        ("base",),
        helps={"base": "start from this model"},
        defaults=None,
        default_text="{default}; with --quick a fresh small GPT",
    )
    d.add_argument("--quick", action="store_true", help="a few steps only (checks the plumbing)")
    add_config_flags(d, RefusalSettings, ("seed",), helps={"seed": "seed of every stage"})
    add_json_flag(d)
    d.set_defaults(func=run_refusal_demo)


def refusal_settings(args: argparse.Namespace):
    """The demo's settings: the full run or --quick's, with --seed and --base."""
    from attento.align.refusal import RefusalSettings

    settings = RefusalSettings.quick() if args.quick else RefusalSettings()
    settings = settings.replace(seed=args.seed)
    return settings if args.base is None else settings.replace(base=args.base)


def run_refusal_demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from attento.align.refusal import refusal_demo

    check_out_folder(args.out)
    settings = refusal_settings(args)
    quiet = contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()
    with quiet:
        report = refusal_demo(args.out, settings, progress=not args.json)
    if args.json:
        print_json(report)
    else:
        print((Path(args.out) / "report.md").read_text())
    return 0

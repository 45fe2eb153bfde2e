"""`attento refusal-demo`: teach a small model to refuse harmful requests, measured."""

from __future__ import annotations

import argparse
import contextlib
import sys

from attento.cli.common import add_json_flag, check_out_folder, print_json


def register(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser(
        "refusal-demo",
        help="SFT then DPO teach a small model to refuse harmful requests (placeholders only)",
        description="Helpful SFT, safety SFT (harmful -> refusal), then DPO; after each, the "
        "refusal rate on held-out harmful requests and the over-refusal rate on held-out "
        "harmless ones (Italian and English). Writes report.md and report.json into OUT.",
    )
    d.add_argument("--out", required=True, help="a new folder for the models and the report")
    d.add_argument("--base", default=None, help="start from this model (default: dante)")
    d.add_argument("--quick", action="store_true", help="a few steps only (checks the plumbing)")
    d.add_argument("--seed", type=int, default=0)
    add_json_flag(d)
    d.set_defaults(func=run_refusal_demo)


def run_refusal_demo(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from attento.align.refusal import RefusalSettings, refusal_demo

    check_out_folder(args.out)
    settings = RefusalSettings.quick() if args.quick else RefusalSettings()
    settings = dataclasses.replace(settings, seed=args.seed)
    if args.base is not None:
        settings = dataclasses.replace(settings, base=args.base)
    quiet = contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()
    with quiet:
        report = refusal_demo(args.out, settings, progress=not args.json)
    if args.json:
        print_json(report)
    else:
        print((Path(args.out) / "report.md").read_text())
    return 0

"""`attento <command>`: a thin layer over the library.

Each group of commands lives in its own `*_cmd.py` module here, with a `register(subparsers)`
function; `COMMANDS` lists them in the order of `--help`, the course's order. Modules only
parse arguments, call the library and print. A `UserError` anywhere becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
import warnings
from collections.abc import Sequence

from attento import __version__
from attento.cli import (
    align_cmd,
    compare_cmd,
    efficiency_cmd,
    encoder_cmd,
    eval_cmd,
    explain_cmd,
    generate_cmd,
    nn_cmd,
    rank_cmd,
    refusal_cmd,
    tokenize_cmd,
    train_cmd,
    words_cmd,
)
from attento.errors import UserError
from attento.messages import Notice, error_text, language, message
from attento.seeds import check_seed

COMMANDS = (
    tokenize_cmd,
    train_cmd,
    eval_cmd,
    generate_cmd,
    encoder_cmd,
    words_cmd,
    explain_cmd,
    efficiency_cmd,
    align_cmd,
    rank_cmd,
    compare_cmd,
    refusal_cmd,
    nn_cmd,
)


def version_line() -> str:
    """attento's version and torch's, read from the installed metadata (importing torch would
    make `--version` take seconds)."""
    try:
        torch = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch = "not installed"
    return f"attento {__version__} (torch {torch})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attento",
        description="See, run and train a generative language model: "
        "tokenize -> embed -> attention blocks -> project -> sample.",
    )
    parser.add_argument("--version", action="version", version=version_line())
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def _one_line_warning(lang: str):
    """warnings' formatter: one line, in `lang` when the warning comes from the catalogue."""

    def format_warning(warning: Warning | str, *args: object, **kwargs: object) -> str:
        text = warning.text(lang) if isinstance(warning, Notice) else warning
        return f"attento: {message('cli.warning', lang)}: {text}\n"

    return format_warning


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    lang = language(getattr(args, "lang", None))  # --lang, else the locale
    warnings.formatwarning = _one_line_warning(lang)
    try:
        check_seed(getattr(args, "seed", None), "--seed")  # one range for every command
        return args.func(args) or 0
    except UserError as exc:
        print(f"attento: {message('cli.error', lang)}: {error_text(exc, lang)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"attento: {message('cli.interrupted', lang)}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

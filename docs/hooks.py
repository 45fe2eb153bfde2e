"""mkdocs hook: the command-line reference, written from attento's own argparse parsers.

`docs/reference/cli.md` holds the marker `<!-- cli -->`; this hook replaces it with every
command's `--help`, so the page can never drift from the code.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

MARKER = "<!-- cli -->"


def cli_reference() -> str:
    """One section per command, in `attento --help` order, each with its full help text."""
    from attento.cli import build_parser

    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: keep the page stable
    try:
        parser = build_parser()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parts = ["```text", parser.format_help().rstrip(), "```"]
        for name, command in sub.choices.items():
            help_text = command.format_help().rstrip()
            parts += [f"## `attento {name}`", "", "```text", help_text, "```", ""]
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    return "\n".join(parts)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, cli_reference())
    return markdown

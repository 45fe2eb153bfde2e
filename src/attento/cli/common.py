"""Small helpers shared by the command modules."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from attento.errors import UserError


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


def read_text_arg(text: str) -> str:
    """A TEXT argument, where `-` means standard input."""
    if text == "-":
        data = sys.stdin.read()
        if not data:
            raise UserError("no text on standard input")
        return data
    return text


def use_color(stream: Any = sys.stdout) -> bool:
    return hasattr(stream, "isatty") and stream.isatty()

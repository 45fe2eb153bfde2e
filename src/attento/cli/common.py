"""Small helpers shared by the command modules."""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from attento.errors import UserError


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def add_model_flags(parser: argparse.ArgumentParser, default: str | None = "dante") -> None:
    """--model (what load_model opens) and --dtype, the same in every command that reads one."""
    parser.add_argument(
        "--model",
        default=default,
        help="a bundled model's name, an attento or Hugging Face model folder, or a Hugging "
        "Face Hub id such as HuggingFaceTB/SmolLM2-135M (fetched once into the HF cache)"
        + (f" (default: {default})" if default else ""),
    )
    parser.add_argument(
        "--dtype",
        choices=("float32", "bfloat16", "float16"),
        default=None,
        help="the weights' number type (default: float32; bfloat16 halves the memory)",
    )


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


def check_out_folder(out: str) -> Path:
    """`--out` as a folder that can be created, checked before any work so that a file in
    the way fails in one line at once rather than with a traceback after training."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise UserError(f"--out {out} is a file, not a folder: give a new folder")
    existing = next(p for p in path.absolute().parents if p.exists())
    if not path.exists() and not existing.is_dir():
        raise UserError(f"--out {out}: {existing} is a file, so no folder can go inside it")
    check_writable(path if path.exists() else existing, out)
    return path


def check_writable(folder: Path, out: str) -> None:
    """Create and remove an empty folder in `folder`: permissions alone do not tell (root
    may write anywhere but in /proc), and a failure after training would lose the run."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".attento-check-", dir=folder))
    except OSError as exc:
        # ENOENT from a folder that exists: a virtual file system such as /proc
        why = "" if exc.errno == errno.ENOENT else f" ({exc.strerror or exc})"
        raise UserError(
            f"--out {out}: cannot write in {folder}{why}: give another folder"
        ) from None


def check_new_model_folder(out: str, *sources: str) -> Path:
    """`--out` for a command that saves a model over whatever the folder holds: refuse the
    losses that cannot be undone, an input model and a training run's checkpoint."""
    from attento.train.checkpoint import has_checkpoint

    path = check_out_folder(out)
    if not path.is_dir():
        return path
    for source in sources:
        if Path(source).is_dir() and path.resolve() == Path(source).resolve():
            raise UserError(f"--out {out} is the model being read: give a new folder to keep it")
    if has_checkpoint(path):
        raise UserError(
            f"--out {out} holds a training run: give a new folder, or its checkpoint is overwritten"
        )
    return path


def use_color(stream: Any = None) -> bool:
    """Whether `stream` (default: the current stdout, looked up now) is a terminal."""
    stream = sys.stdout if stream is None else stream
    return hasattr(stream, "isatty") and not stream.closed and stream.isatty()

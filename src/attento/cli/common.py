"""Small helpers shared by the command modules."""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import os
import sys
import tempfile
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from attento.config import field_help, optional_inner, parse_value, type_hints
from attento.errors import UserError
from attento.messages import user_error

_UNSET = object()


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


def add_config_flags(
    parser: argparse.ArgumentParser,
    cls: type,
    names: Iterable[str],
    *,
    flags: dict[str, str] | None = None,
    helps: dict[str, str] | None = None,
    choices: dict[str, Iterable[str]] | None = None,
    defaults: Any = _UNSET,
    default_text: str = "",
    raw: Iterable[str] = (),
) -> None:
    """One flag per field of the dataclass `cls` in `names` (--block-size for block_size,
    or the name `flags` gives), with dest the field's name: the value is parsed as the
    field's type (one of `choices`, if given), the help is the docstring table's (or
    `helps`'), and the default is
    the dataclass's, so it is written in one place. `defaults=None` leaves every default
    None instead, read as `default_text` ("the preset's"; "{default}" in it is the
    dataclass's) by a command that fills them in. A field in `raw` keeps its text, the
    default's text too, for a command that parses it itself (to say what is wrong in the
    student's language)."""
    hints, table = type_hints(cls), field_help(cls) | (helps or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in names:
        flag = (flags or {}).get(name, "--" + name.replace("_", "-"))
        f = fields[name]
        own = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
        if defaults is None:
            default = None
        elif defaults is _UNSET:
            default = own
        else:
            default = getattr(defaults, name)
        if defaults is None:
            shown = default_text.replace("{default}", _shown(own))
        else:
            shown = _shown(default)
        text = table.get(name, name.replace("_", " ")) + (f" (default: {shown})" if shown else "")
        if name in raw:
            parser.add_argument(
                flag, dest=name, default=_shown(default), help=text.replace("%", "%%")
            )
            continue
        if hints[name] is bool:
            parser.add_argument(
                flag,
                dest=name,
                action=argparse.BooleanOptionalAction,
                default=default,
                help=text,
            )
            continue
        parser.add_argument(
            flag,
            dest=name,
            type=_parser(hints[name], flag),
            default=default,
            choices=(choices or {}).get(name),
            metavar=None if name in (choices or {}) else _metavar(hints[name]),
            help=text.replace("%", "%%"),
        )


def add_set_flag(parser: argparse.ArgumentParser, example: str) -> None:
    """--set KEY=VALUE (repeatable, into `settings`): any field, flag or not (see with_settings)."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="settings",
        help=f"change any setting, e.g. --set {example} (repeatable; applied after the flags)",
    )


def config_from_args(cls: type, args: argparse.Namespace, names: Iterable[str], **more: Any):
    """`cls` made from the parsed flags of `names` (see add_config_flags) and `more`."""
    return cls(**{name: getattr(args, name) for name in names}, **more)


def _parser(hint: Any, flag: str):
    def parse(text: str) -> Any:
        try:
            return parse_value(hint, text, flag)
        except UserError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{flag}: ")) from None

    return parse


def _metavar(hint: Any) -> str:
    inner = optional_inner(hint)
    if typing.get_origin(inner) is tuple:
        return _metavar(typing.get_args(inner)[0]) + ",..."
    return {int: "N", float: "X"}.get(inner, "TEXT")


def _shown(default: Any) -> str:
    if default is None:
        return ""
    if isinstance(default, tuple):
        return ",".join(str(v) for v in default)
    return str(default)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


def read_text_arg(text: str) -> str:
    """A TEXT argument, where `-` means standard input."""
    if text == "-":
        data = sys.stdin.read()
        if not data:
            raise user_error("stdin_empty")
        return data
    return text


def check_out_folder(out: str) -> Path:
    """`--out` as a folder that can be created, checked before any work so that a file in
    the way fails in one line at once rather than with a traceback after training."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise user_error("out_is_file", out=out)
    existing = next(p for p in path.absolute().parents if p.exists())
    if not path.exists() and not existing.is_dir():
        raise user_error("out_in_file", out=out, existing=str(existing))
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
        raise user_error("out_not_writable", out=out, folder=str(folder), why=why) from None


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

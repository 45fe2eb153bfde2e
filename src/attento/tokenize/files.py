"""Reading a tokenizer folder safely: its `tokenizer.json` and the data files it names.

A tokenizer folder may come from anywhere (a model downloaded, a folder a student edited),
so nothing in it is trusted:
- `read_json` turns every way a file can be unreadable (missing, a folder, not UTF-8, not
  JSON, nested too deep) into one `UserError` naming the file;
- `setting` checks the type of one value, so `{"chars": 5}` is reported as such instead of
  failing later with a TypeError;
- `data_file` resolves a file name found in the folder (the BPE ranks, a vocabulary) and
  refuses any that would lead outside it: an absolute path, `..`, or a symlink pointing
  out. A model folder can therefore never make attento read, or show, another file.
Errors name files and fields, never their contents.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attento.errors import UserError

REQUIRED = object()  # `setting` default: the key must be present


def read_json(path: Path) -> Any:
    """The JSON value in `path`, or a UserError that says what is wrong with the file."""
    if not path.is_file():
        raise UserError(f"{path} not found" if not path.exists() else f"{path} is not a file")
    try:
        return json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise UserError(f"{path} is nested too deeply to be a tokenizer file") from None
    except OSError as exc:
        raise UserError(f"{path} cannot be read ({exc.strerror or exc})") from None


def _type_names(kinds: tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "an integer",
        bool: "true or false",
        dict: "an object",
        list: "a list",
        type(None): "null",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def setting(
    config: Mapping[str, Any],
    key: str,
    kinds: type | tuple[type, ...],
    default: Any = REQUIRED,
) -> Any:
    """`config[key]` if it has one of the types `kinds` (true/false never pass as an
    integer); `default` when the key is absent; else a UserError naming the field."""
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if key not in config:
        if default is REQUIRED:
            raise UserError(f"{key!r} is missing")
        return default
    value = config[key]
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise UserError(f"{key!r} must be {_type_names(kinds)}, not {type(value).__name__}")
    return value


def data_file(directory: Path, name: Any, field: str) -> Path:
    """The file `name` (the value of `field` in the folder's tokenizer.json) inside
    `directory`; a UserError if it is not a plain relative name that stays inside."""
    if not isinstance(name, str) or not name:
        raise UserError(f"{field!r} must be a file name")
    relative = Path(name)
    if relative.is_absolute() or relative.anchor or ".." in relative.parts or "\0" in name:
        raise UserError(f"{field!r} must name a file inside the tokenizer's folder, not {name!r}")
    path = directory / relative
    try:
        root, target = directory.resolve(), path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise UserError(f"{path} cannot be resolved (a symlink loop?)") from None
    if root not in target.parents:
        raise UserError(f"{path} points outside the tokenizer's folder: refusing to read it")
    if not target.is_file():
        raise UserError(f"{path} not found" if not path.exists() else f"{path} is not a file")
    return path

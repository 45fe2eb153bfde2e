"""The one style of every settings dataclass: checked when made, JSON both ways, `replace`.

A model's shape, a training run, a comparison, a sampler: each is a `@dataclass` that
inherits `Config`. Making one runs its `check()`, so a bad value fails at once in one clear
line (a `UserError`) instead of deep inside the work; `from_dict` reads a JSON object back
and names the unknown keys together with the known ones, so a typo in a file or in
`--set` says what was meant. `parse_value` turns the text of a flag or of `--set` into the
type a field declares, and `field_help` reads each field's help from the class docstring's
table (lines `name: what it means`), so the CLI derives its flags from the same dataclass
and a default is written once. Below every stage: it imports nothing of attento but errors.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar, Union

import tomllib

from attento.errors import UserError

C = TypeVar("C", bound="Config")


class Config:
    """Mixin for a `@dataclass` (frozen or not): validation on creation and JSON."""

    what = ""  # how messages name this config ("model", "training"); "" = the class name

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise a `UserError` naming the first bad field; the base accepts everything."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls: type[C], d: Any) -> C:
        """The config a JSON object describes; nested configs and tuples are rebuilt."""
        what = cls.what or cls.__name__
        if not isinstance(d, dict):
            raise UserError(f"a {what} config must be a JSON object, got {type(d).__name__}")
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        names = [f.name for f in fields]
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise UserError(
                f"unknown {what} setting(s): {', '.join(unknown)} (known: {', '.join(names)})"
            )
        missing = [f.name for f in fields if _required(f) and f.name not in d]
        if missing:
            raise UserError(f"{what} config lacks: {', '.join(missing)}")
        hints = type_hints(cls)
        values = {k: _from_json(hints.get(k), v) for k, v in d.items()}
        return cls(**values)

    @classmethod
    def from_json_object(cls: type[C], data: Any, source: object) -> C:
        """`from_dict` for what a file holds: each value's JSON type is checked against its
        field first, and every error names `source`."""
        what = cls.what or cls.__name__
        if not isinstance(data, dict):
            raise UserError(f"{source} should hold a JSON object of {what} settings")
        hints = type_hints(cls)
        for key, value in data.items():
            if key in hints and not _is_a(value, hints[key]):
                raise UserError(
                    f"{source}: {key} should be {_type_name(hints[key])}, got {short_json(value)}"
                )
        try:
            return cls.from_dict(data)
        except UserError as e:
            raise UserError(f"{source}: {e}") from None

    @classmethod
    def read(cls: type[C], path: str | Path) -> C:
        """The config in a JSON file (what `to_json` writes) or, by its suffix, a TOML file."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(
                f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        try:
            data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UserError(
                f"{path} is not valid {path.suffix[1:].upper() or 'JSON'}: {exc}"
            ) from None
        return cls.from_json_object(data, path)

    @classmethod
    def from_json(cls: type[C], text: str) -> C:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"not JSON: {exc}") from None
        return cls.from_dict(data)

    def replace(self: C, **changes: Any) -> C:
        """A copy with `changes`, checked again."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


def _is_a(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a field's type (int | None, float, dict[str, Any], ...)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is Union:
        return any(_is_a(value, h) for h in typing.get_args(hint))
    hint = typing.get_origin(hint) or hint
    if hint is type(None):
        return value is None
    if hint is Any:
        return True
    if isinstance(value, bool):
        return hint is bool
    if hint is float:
        return isinstance(value, int | float)
    if hint is tuple:
        return isinstance(value, list | tuple)
    if isinstance(hint, type) and issubclass(hint, Config):
        return isinstance(value, dict)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is Union:
        return " or ".join(_type_name(h) for h in typing.get_args(hint))
    hint = typing.get_origin(hint) or hint
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    if hint is tuple:
        return "a JSON list"
    return names.get(hint, "null" if hint is type(None) else f"a JSON {hint.__name__}")


def short_json(value: Any) -> str:
    """A value as JSON, cut to 40 characters, for an error message."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


@functools.cache
def type_hints(cls: type) -> dict[str, Any]:
    """The fields' declared types, resolved (modules use `from __future__ import annotations`);
    cached, so do not change the dict."""
    return typing.get_type_hints(cls)


def _from_json(hint: Any, value: Any) -> Any:
    """JSON has lists where a field holds a tuple, and objects where it holds a config."""
    if hint is None or value is None:
        return value
    inner = optional_inner(hint)
    if isinstance(inner, type) and issubclass(inner, Config) and isinstance(value, dict):
        return inner.from_dict(value)
    if typing.get_origin(inner) is tuple and isinstance(value, list):
        return tuple(value)
    return value


def optional_inner(hint: Any) -> Any:
    """X for `X | None`, else the hint itself."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def is_optional(hint: Any) -> bool:
    return typing.get_origin(hint) in (Union, types.UnionType) and type(None) in typing.get_args(
        hint
    )


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def parse_value(hint: Any, text: str, name: str) -> Any:
    """The text of a flag or `--set name=text` as the type `hint` declares; one clear line
    naming `name` when it is not one."""
    if is_optional(hint) and text.strip().lower() in ("none", "null"):
        return None
    inner = optional_inner(hint)
    if typing.get_origin(inner) is tuple:  # comma-separated
        item = typing.get_args(inner)[0]
        return tuple(parse_value(item, v.strip(), name) for v in text.split(",") if v.strip())
    try:
        if inner is bool:
            low = text.strip().lower()
            if low not in _TRUE + _FALSE:
                raise ValueError
            return low in _TRUE
        if inner is int:
            return int(text.replace("_", ""))
        if inner is float:
            return float(text)
        if inner is str:
            return text
        return json.loads(text)  # dicts, lists, Any: a JSON literal
    except (ValueError, json.JSONDecodeError):
        kind = getattr(inner, "__name__", str(inner))
        raise UserError(f"{name}: expected {kind}, got {text!r}") from None


def field_help(cls: type) -> dict[str, str]:
    """Each field's help, from the docstring tables of `cls` and its bases: a line
    `name: text` starts an entry, more-indented lines continue it."""
    names = {f.name for f in dataclasses.fields(cls)}
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):  # a subclass's own text wins
        current, indent = None, 0
        for line in (klass.__dict__.get("__doc__") or "").splitlines():
            m = re.match(r"^(\s*)(\w+): (.*)$", line)
            if m and m.group(2) in names:
                current, indent = m.group(2), len(m.group(1))
                out[current] = m.group(3).strip()
            elif current and line.strip() and len(line) - len(line.lstrip()) > indent:
                out[current] += " " + line.strip()
            else:
                current = None
    return out


def check_counts(config: object, *names: str) -> None:
    """Each of `names` must be an integer >= 1 (None passes for an optional field)."""
    for name in names:
        value = getattr(config, name)
        if value is None and is_optional(type_hints(type(config)).get(name)):
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"{name} must be a positive integer, got {value!r}")


def check_positive(config: object, *names: str) -> None:
    """Each of `names` must be a finite number > 0."""
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not (
            isinstance(value, int | float) and math.isfinite(value) and value > 0
        ):
            raise UserError(f"{name} must be a positive number, got {value!r}")


def with_settings(
    config: C,
    assignments: Iterable[str],
    nested: Callable[[Any, str], dict[str, Any] | None] | None = None,
) -> C:
    """`config` with each `key=value` applied (a later one wins), the value parsed as the
    field's type. `a.b=value` sets key b of field a: a nested config, or a dict whose keys'
    types `nested(config, "a")` gives (None: a JSON literal, else the text itself)."""
    hints = type_hints(type(config))
    changes: dict[str, Any] = {}
    inner: dict[str, list[str]] = {}
    for text in assignments:
        key, sep, value = text.partition("=")
        key = key.strip()
        head, dot, rest = key.partition(".")
        if not sep or not head or (dot and not rest):
            raise UserError(f"--set {text!r}: expected KEY=VALUE, e.g. learning_rate=3e-4")
        if head not in hints:
            raise UserError(f"--set {key}: unknown setting (known: {', '.join(hints)})")
        if dot:
            inner.setdefault(head, []).append(f"{rest}={value}")
        else:
            changes[head] = parse_value(hints[head], value, key)
    out = config.replace(**changes) if changes else config
    for head, pairs in inner.items():
        current = getattr(out, head)
        if isinstance(current, Config):
            try:
                value = with_settings(current, pairs)
            except UserError as e:
                raise UserError(f"{head}.{str(e).removeprefix('--set ')}") from None
        elif isinstance(current, dict):
            value = dict(current) | _dict_settings(head, pairs, nested and nested(out, head))
        else:
            raise UserError(f"--set {head}.…: {head} has no settings of its own")
        out = out.replace(**{head: value})
    return out


def _dict_settings(head: str, pairs: list[str], hints: dict[str, Any] | None) -> dict[str, Any]:
    out = {}
    for pair in pairs:
        key, _, text = pair.partition("=")
        name = f"{head}.{key}"
        if hints is not None and key not in hints:
            raise UserError(f"--set {name}: unknown setting (known: {', '.join(hints)})")
        if hints is not None:
            out[key] = parse_value(hints[key], text, name)
        else:
            try:
                out[key] = json.loads(text)
            except json.JSONDecodeError:
                out[key] = text
    return out

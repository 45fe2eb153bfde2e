"""The one config base: checked on creation, JSON both ways, flags' values parsed by type."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from attento.config import Config, check_counts, field_help, parse_value
from attento.errors import UserError


@dataclass
class Inner(Config):
    width: int = 4


@dataclass
class Demo(Config):
    """A demo.

    steps: how many
        steps to take
    rate: the learning rate
    """

    steps: int = 3
    rate: float = 0.5
    limit: int | None = None
    sizes: tuple[int, ...] = (1, 2)
    inner: Inner = field(default_factory=Inner)

    def check(self) -> None:
        check_counts(self, "steps", "limit")


def test_json_round_trip_rebuilds_tuples_and_nested_configs() -> None:
    d = Demo(steps=5, sizes=(3,), inner=Inner(width=9))
    back = Demo.from_json(d.to_json())
    assert back == d
    assert isinstance(back.sizes, tuple) and isinstance(back.inner, Inner)


def test_check_runs_on_creation_and_on_replace() -> None:
    with pytest.raises(UserError, match="steps must be a positive integer, got 0"):
        Demo(steps=0)
    with pytest.raises(UserError, match="limit must be a positive integer"):
        Demo().replace(limit=-1)
    assert Demo().replace(limit=None).limit is None


def test_from_dict_names_unknown_and_known_keys() -> None:
    with pytest.raises(UserError, match=r"unknown Demo setting\(s\): stepz \(known: steps, rate"):
        Demo.from_dict({"stepz": 1})
    with pytest.raises(UserError, match="must be a JSON object"):
        Demo.from_dict([1])


def test_parse_value_follows_the_declared_type() -> None:
    hints = {"steps": int, "rate": float, "limit": int | None, "sizes": tuple[int, ...]}
    assert parse_value(hints["steps"], "1_000", "steps") == 1000
    assert parse_value(hints["rate"], "3e-4", "rate") == 3e-4
    assert parse_value(hints["limit"], "none", "limit") is None
    assert parse_value(hints["sizes"], "4,8", "sizes") == (4, 8)
    assert parse_value(bool, "false", "flag") is False
    with pytest.raises(UserError, match="steps: expected int, got 'x'"):
        parse_value(int, "x", "steps")
    with pytest.raises(UserError, match="flag: expected bool"):
        parse_value(bool, "maybe", "flag")


def test_field_help_reads_the_docstring_table() -> None:
    assert field_help(Demo) == {"steps": "how many steps to take", "rate": "the learning rate"}

"""A default lives in one place: each command's flags, parsed with only the required
arguments, equal the defaults of the dataclass the command hands them to."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from attento.align.dpo import DPOSettings
from attento.align.ppo import PPOSettings
from attento.align.reward import RewardSettings
from attento.align.sft import SFTSettings
from attento.align.talk import CHAT_SAMPLING_DEFAULTS
from attento.cli import build_parser
from attento.cli.common import config_from_args
from attento.cli.compare_cmd import FLAGS
from attento.cli.train_cmd import build_config
from attento.compare.config import CompareConfig
from attento.generate.sampling import SamplingConfig
from attento.train import preset

IO = ["--model", "m", "--data", "d", "--out", "o"]
# command line with only the required arguments -> the settings its flags become, unchanged
COMMANDS = [
    (["compare", "--out", "x"], CompareConfig()),
    (["generate", "--prompt", "x"], SamplingConfig()),
    (["next-token", "--prompt", "x"], SamplingConfig()),
    (["chat"], CHAT_SAMPLING_DEFAULTS),
    (["sft", *IO], SFTSettings()),
    (["reward", *IO], RewardSettings()),
    (["ppo", *IO, "--reward", "r"], PPOSettings()),
    (["dpo", *IO], DPOSettings()),
]


def subparser(command: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


@pytest.mark.parametrize(("argv", "defaults"), COMMANDS, ids=[argv[0] for argv, _ in COMMANDS])
def test_parsed_defaults_are_the_dataclass_defaults(argv: list[str], defaults: object) -> None:
    args = vars(build_parser().parse_args(argv))
    fields = {f.name for f in dataclasses.fields(defaults)}
    dests = {a.dest for a in subparser(argv[0])._actions} & fields
    assert len(dests) >= 4, f"attento {argv[0]}: {sorted(dests)}"
    for name in sorted(dests):
        assert args[name] == getattr(defaults, name), f"attento {argv[0]} --{name}"


def test_train_without_flags_is_the_cpu_preset() -> None:
    assert build_config(build_parser().parse_args(["train", "--out", "x"])) == preset("cpu")
    mlm = build_parser().parse_args(["train", "--out", "x", "--objective", "mlm"])
    assert build_config(mlm) == preset("bert-cpu")


def test_every_flag_of_compare_reaches_its_config() -> None:
    """Each field given a non-default value on the command line arrives in the config."""
    argv = ["compare", "--out", "x", "--archs", "gpt,mlp", "--budget", "7", "--steps", "3"]
    args = build_parser().parse_args([*argv, "--distances", "2,4", "--lengths", "8"])
    cfg = config_from_args(CompareConfig, args, FLAGS)
    assert (cfg.archs, cfg.budget_s, cfg.equal_steps) == (("gpt", "mlp"), 7.0, 3)
    assert (cfg.probe_distances, cfg.lengths) == ((2, 4), (8,))

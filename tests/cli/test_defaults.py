"""A default lives in one place: each command's flags, parsed with only the required
arguments, equal the defaults of the dataclass the command hands them to."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from attento.align.dpo import DPOSettings
from attento.align.ppo import PPOSettings
from attento.align.rankings import RankSettings
from attento.align.refusal import RefusalSettings
from attento.align.reward import RewardSettings
from attento.align.sft import SFTSettings
from attento.align.talk import CHAT_SAMPLING_DEFAULTS
from attento.cli import build_parser, main
from attento.cli.common import config_from_args
from attento.cli.compare_cmd import FLAGS
from attento.cli.nn_cmd import neuron_settings, parse_numbers
from attento.cli.refusal_cmd import refusal_settings
from attento.cli.train_cmd import build_config
from attento.cli.words_cmd import word2vec_recipe
from attento.compare.config import CompareConfig
from attento.embeddings.word2vec import PRESETS, Word2VecSettings
from attento.explain.settings import ServeSettings
from attento.generate.sampling import SamplingConfig
from attento.models.kv_memory import CacheQuery
from attento.nn.demos import XorSpiralsSettings
from attento.nn.neuron import NeuronSettings
from attento.tokenize.bpe import BPESettings
from attento.train import preset
from attento.train.evaluate import EvalSettings

IO = ["--model", "m", "--data", "d", "--out", "o"]
TOKENIZER = ["--corpus", "c", "--out", "o", "--vocab-size", "300"]
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
    (["nn-demo"], XorSpiralsSettings()),
    (["neuron"], NeuronSettings()),  # inputs and weights are text, parsed by the command
    (["train-tokenizer", *TOKENIZER], BPESettings(300)),
    (["eval"], EvalSettings()),
    (["kv-cache"], CacheQuery()),
    (["explain"], ServeSettings()),
    (["rank", "--model", "m", "--out", "o"], RankSettings()),
]


def subparser(command: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


@pytest.mark.parametrize(("argv", "defaults"), COMMANDS, ids=[argv[0] for argv, _ in COMMANDS])
def test_parsed_defaults_are_the_dataclass_defaults(argv: list[str], defaults: object) -> None:
    args = vars(build_parser().parse_args(argv))
    fields = {f.name for f in dataclasses.fields(defaults)}
    dests = {a.dest for a in subparser(argv[0])._actions} & fields
    assert len(dests) >= 3, f"attento {argv[0]}: {sorted(dests)}"
    for name in sorted(dests):
        value, default = args[name], getattr(defaults, name)
        if isinstance(value, str) and isinstance(default, tuple):  # a list of numbers as text
            value = parse_numbers(value, name)
        assert value == default, f"attento {argv[0]} --{name}"


def test_commands_that_fill_in_a_recipe_start_from_their_dataclass() -> None:
    """train-words, neuron and refusal-demo leave some flags unset (a preset or --quick
    fills them in): what they build from the bare command line is the dataclass's default."""
    parse = build_parser().parse_args
    corpus, settings = word2vec_recipe(parse(["train-words", "--corpus", "c", "--out", "o"]))
    assert (corpus, settings) == ("c", Word2VecSettings())
    assert (
        word2vec_recipe(parse(["train-words", "--preset", "dante-words", "--out", "o"]))
        == (PRESETS["dante-words"])
    )
    assert neuron_settings(parse(["neuron"])) == NeuronSettings()
    assert refusal_settings(parse(["refusal-demo", "--out", "o"])) == RefusalSettings()
    quick = parse(["refusal-demo", "--out", "o", "--quick"])
    assert refusal_settings(quick) == RefusalSettings.quick()


def test_every_flag_of_train_words_reaches_its_settings() -> None:
    """Each Word2VecSettings flag, and --set for a field without one, changes the recipe."""
    flags = ["--dim", "7", "--window", "3", "--negatives", "2", "--min-count", "1"]
    flags += ["--epochs", "4", "--max-words", "90", "--seed", "5", "--sample", "0.5"]
    flags += ["--lr", "0.5", "--set", "batch_size=32"]
    args = build_parser().parse_args(["train-words", "--corpus", "c", "--out", "o", *flags])
    _, settings = word2vec_recipe(args)
    assert settings == Word2VecSettings(
        dim=7,
        window=3,
        negatives=2,
        min_count=1,
        sample=0.5,
        epochs=4,
        batch_size=32,
        learning_rate=0.5,
        max_words=90,
        seed=5,
    )


def test_the_help_shows_the_dataclass_defaults(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["train-words", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"(default: --preset's, else {Word2VecSettings().dim})" in text
    with pytest.raises(SystemExit):
        main(["kv-cache", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"sequences cached side by side (default: {CacheQuery().batch})" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dim", "0"], "dim must be a positive integer, got 0"),
        (["--sample", "-1"], "sample must be a positive number, got -1.0"),
        (["--set", "batch_size=0"], "batch_size must be a positive integer, got 0"),
        (["--set", "max_words=1"], "max_words must be at least 2, got 1"),
        (["--set", "dims=3"], "--set dims: unknown setting (known: dim, window,"),
        (["--set", "epochs=many"], "epochs: expected int, got 'many'"),
    ],
)
def test_bad_train_words_settings_are_one_line_and_exit_2(tmp_path, capsys, argv, message):
    out = tmp_path / "vectors"
    code = main(["train-words", "--corpus", "divina_commedia", "--out", str(out), *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


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


def test_plain_constants_are_the_library_defaults() -> None:
    """Flags that are one number each take it from the function the command calls."""
    import inspect

    from attento.align.talk import MAX_NEW_TOKENS, chat_loop, stream_reply
    from attento.generate.report import ROWS, next_token_report

    rows = vars(build_parser().parse_args(["next-token", "--prompt", "a"]))["rows"]
    assert rows == ROWS == inspect.signature(next_token_report).parameters["n"].default
    chat = vars(build_parser().parse_args(["chat"]))["max_new_tokens"]
    for fn in (chat_loop, stream_reply):
        assert inspect.signature(fn).parameters["max_new_tokens"].default == chat == MAX_NEW_TOKENS

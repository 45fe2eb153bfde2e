"""Mistakes a new user makes, each ending in one line on stderr, exit code 2, no file changed.

Each test runs the command through attento.cli.main, as the `attento` script does.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from attento import memory
from attento.cli import build_parser, main
from attento.models.folder import save_model
from attento.models.gpt import GPT, GPTConfig
from attento.seeds import SEED_LIMIT
from attento.tokenize import CharTokenizer

TEXT = "il gatto sul tetto e la gatta sul letto\n"


def one_error_line(capsys, *must_contain: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith("attento: error: "), err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for text in must_contain:
        assert text in err, err
    return err


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def gpt_dir(tmp_path) -> Path:
    tok = CharTokenizer.from_text(TEXT)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=8))
    return save_model(model, tok, tmp_path / "gpt")


# --- --seed ---------------------------------------------------------------------------------


def commands_with_a_seed() -> list[tuple[str, list[str]]]:
    """Every subcommand with a --seed flag, with placeholder values for its required
    arguments: the seed must be refused before any of them is looked at."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    found = []
    for name, parser in sub.choices.items():
        if not any("--seed" in a.option_strings for a in parser._actions):
            continue
        argv = [name]
        for action in parser._actions:
            if action.required or (not action.option_strings and action.dest != "help"):
                value = "1" if action.type is int else "placeholder"
                argv += [action.option_strings[0], value] if action.option_strings else [value]
        found.append((name, argv))
    return found


SEED_COMMANDS = commands_with_a_seed()


def test_the_seed_commands_are_found():
    names = {name for name, _ in SEED_COMMANDS}
    assert {"train", "generate", "next-token", "sft", "chat", "compare", "nn-demo"} <= names


@pytest.mark.parametrize("seed", ["-1", str(SEED_LIMIT), str(2**64)])
@pytest.mark.parametrize("argv", [a for _, a in SEED_COMMANDS], ids=[n for n, _ in SEED_COMMANDS])
def test_a_seed_outside_the_range_is_one_line_in_every_command(tmp_path, capsys, argv, seed):
    argv = [str(tmp_path / "x") if a == "placeholder" else a for a in argv]
    assert main([*argv, "--seed", seed]) == 2
    one_error_line(capsys, "--seed must be an integer from 0 to 2^32 - 1", seed)
    assert list(tmp_path.iterdir()) == []


def test_the_seed_range_is_numpys():
    """Training seeds NumPy's global generator, the narrowest of the three we seed."""
    np.random.seed(SEED_LIMIT - 1)
    with pytest.raises(ValueError):
        np.random.seed(SEED_LIMIT)
    torch.manual_seed(SEED_LIMIT - 1)  # torch and random take these too


def test_the_largest_seed_generates(gpt_dir, capsys):
    argv = ["generate", "--model", str(gpt_dir), "--prompt", "il", "--max-new-tokens", "3"]
    assert main([*argv, "--seed", str(SEED_LIMIT - 1), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["seed"] == SEED_LIMIT - 1


def test_a_drawn_seed_is_in_the_range():
    from attento.generate.sampling import draw_seed

    assert all(0 <= draw_seed() < SEED_LIMIT for _ in range(50))


# --- sizes that do not fit in memory -------------------------------------------------------


@pytest.fixture
def little_memory(monkeypatch):
    """A machine with 256 MiB available, whatever this one has."""
    monkeypatch.setattr(memory, "available_bytes", lambda: 256 * 2**20)


def test_a_model_config_too_big_for_memory_is_refused_before_allocating(gpt_dir, capsys):
    """n_embd = 2^22 once asked torch for terabytes; now the estimate refuses it at once."""
    config = json.loads((gpt_dir / "config.json").read_text())
    config["model"]["n_embd"] = 2**22
    (gpt_dir / "config.json").write_text(json.dumps(config))
    before = snapshot(gpt_dir)
    assert main(["generate", "--model", str(gpt_dir), "--prompt", "il"]) == 2
    err = one_error_line(capsys, "loading a GPT with", "parameters", "GiB of memory", "available")
    # the estimate is the real parameter count: 12·n² per block, with (vocab + block) rows
    n, vocab, block = 2**22, len(set(TEXT)), 16
    assert f"{12 * n * n + 13 * n + (vocab + block) * n + 2 * n:,}" in err
    assert snapshot(gpt_dir) == before


def test_training_a_model_too_big_is_refused_before_building_it(little_memory):
    from attento.errors import UserError
    from attento.train.setup import build_model

    shape = dict(block_size=64, n_layer=4, n_head=4, n_embd=1024)
    with pytest.raises(UserError, match=r"training a GPT with [\d,]+ parameters needs"):
        build_model("gpt", shape, 1000)
    small = build_model("gpt", {**shape, "n_embd": 64}, 1000)
    assert sum(p.numel() for p in small.parameters()) * 4 * 4 < 256 * 2**20


def test_a_huge_lora_rank_is_refused_before_building(gpt_dir, tmp_path, capsys, little_memory):
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"instruction": "il gatto", "output": "sul tetto"}) + "\n")
    out = tmp_path / "out"
    argv = ["sft", "--model", str(gpt_dir), "--data", str(data), "--out", str(out)]
    assert main([*argv, "--lora", "1000000", "--steps", "1"]) == 2
    one_error_line(capsys, "LoRA rank 1000000", "adapter parameters", "but only 0.25 GiB")
    assert not out.exists()


def test_nn_demo_with_too_many_points_is_refused(tmp_path, capsys):
    out = tmp_path / "nn"
    assert main(["nn-demo", "--points", str(10**12), "--out", str(out)]) == 2
    one_error_line(capsys, "2,000,000,000,000 spiral points", "GiB of memory")
    assert not out.exists()


def test_the_spirals_estimate_covers_a_measured_step():
    """The estimate must not be below what a real step takes (peak RSS growth)."""
    import resource

    from attento.nn.demos import TrainConfig, spirals_data, spirals_training_bytes, train_classifier

    n = 20_000
    x, y = spirals_data(n // 2)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    train_classifier(x, y, TrainConfig(steps=2))
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    assert grown <= spirals_training_bytes(n, TrainConfig().hidden)


# --- the other inputs the issue lists ------------------------------------------------------


def test_similarity_on_an_lstm_uses_its_token_table(lstm_dir, capsys):
    """An LSTM's input table is `embed`, not a GPT's `embed.tok` (AttributeError before)."""
    from attento.models.folder import load_model

    assert main(["similarity", "g", "t", "a", "--model", str(lstm_dir), "--json"]) == 0
    matrix = np.array(json.loads(capsys.readouterr().out)["matrix"])
    model, tok = load_model(lstm_dir)
    rows = model.embed.weight.detach().numpy()[tok.encode("gta")]
    rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    np.testing.assert_allclose(matrix, rows @ rows.T, atol=1e-5)


def test_sft_data_nested_100000_deep_is_one_line(gpt_dir, tmp_path, capsys):
    data = tmp_path / "deep.json"
    data.write_text("[" * 100_000 + "]" * 100_000)
    out = tmp_path / "out"
    assert main(["sft", "--model", str(gpt_dir), "--data", str(data), "--out", str(out)]) == 2
    one_error_line(capsys, str(data), "nested too deeply")
    assert not out.exists()


def test_a_model_config_nested_too_deeply_is_one_line(gpt_dir, capsys):
    (gpt_dir / "config.json").write_text('{"arch": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert main(["generate", "--model", str(gpt_dir), "--prompt", "il"]) == 2
    one_error_line(capsys, "config.json is not valid JSON")


OUT_COMMANDS = [
    ["train", "--preset", "tiny", "--max-steps", "1"],
    ["nn-demo"],
    ["compare"],
    ["align-demo", "--quick"],
]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
@pytest.mark.parametrize("out", ["/proc/attento-test", "/proc"])
@pytest.mark.parametrize("argv", OUT_COMMANDS, ids=lambda argv: argv[0])
def test_out_where_nothing_can_be_written_is_one_line_before_any_work(capsys, argv, out):
    """/proc accepts no new folder, even from root: said at once, not after training."""
    assert main([*argv, "--out", out]) == 2
    one_error_line(capsys, f"--out {out}: cannot write in /proc")


# --- found by trying every command ---------------------------------------------------------


@pytest.fixture
def lstm_dir(tmp_path) -> Path:
    from attento.models.recurrent import LSTMLM

    tok = CharTokenizer.from_text(TEXT)
    torch.manual_seed(0)
    model = LSTMLM(LSTMLM.config_class.from_dict({"vocab_size": tok.vocab_size}))
    return save_model(model, tok, tmp_path / "lstm")


def test_sft_on_an_lstm_says_it_needs_a_gpt(lstm_dir, tmp_path, capsys):
    """It used to pass the LSTM's config to a GPT: "unknown model setting(s): n_hidden"."""
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"instruction": "il gatto", "output": "sul tetto"}) + "\n")
    out = tmp_path / "out"
    assert main(["sft", "--model", str(lstm_dir), "--data", str(data), "--out", str(out)]) == 2
    one_error_line(capsys, "holds a LSTMLM: SFT fine-tunes a GPT")
    assert not out.exists()


def test_neighbours_of_an_empty_word_is_one_line(gpt_dir, capsys):
    """ "" used to stand for the space token and return its neighbours."""
    assert main(["neighbours", "", "--model", str(gpt_dir), "--candidates", "il", "la"]) == 2
    one_error_line(capsys, "cannot embed an empty text")


def compare_args(tmp_path) -> list[str]:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT * 50)
    return ["compare", "--corpus", str(corpus), "--archs", "mlp", "--params", "5000"]


def last_error_line(capsys) -> str:
    """The error after what a command prints first (compare's time estimate, progress)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]  # on a line of its own
    assert last.startswith("attento: error: "), err
    return last


def test_compare_with_a_window_longer_than_the_corpus_fails_before_timing(tmp_path, capsys):
    """--block-size 10^8 used to be timed first: 77 GB asked of torch, a traceback."""
    argv = [*compare_args(tmp_path), "--block-size", str(10**8), "--out", str(tmp_path / "c")]
    assert main(argv) == 2
    assert "the corpus is too short" in last_error_line(capsys)


def test_compare_timing_a_length_too_long_for_memory_is_one_line(tmp_path, capsys):
    argv = [*compare_args(tmp_path), "--lengths", str(10**8), "--out", str(tmp_path / "c")]
    assert main([*argv, "--block-size", "16"]) == 2
    last = last_error_line(capsys)
    assert "a training step of MLPLM on 8 x 100,000,000 tokens needs" in last
    assert "GiB of memory" in last

"""`attento generate --compile`: the fixed-shape, compiled decode step writes the same tokens,
and its compile time is reported apart from its speed."""

from __future__ import annotations

import json

import pytest
import torch

from attento.cli import main
from attento.generate import generate, static
from attento.generate.static import Timing, misfit
from attento.models import GPT, GPTConfig
from attento.models.folder import save_model
from attento.tokenize import CharTokenizer

TEXT = "nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura"


def tiny(tmp_path_factory, **settings) -> str:
    tok = CharTokenizer.from_text(TEXT)
    torch.manual_seed(0)
    model = GPT(GPTConfig(tok.vocab_size, 32, 2, 2, 16, **settings))
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.mul_(6.0)  # sharp enough that sampling is not uniform noise
    return str(save_model(model, tok, tmp_path_factory.mktemp("tiny")))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    return tiny(tmp_path_factory, pos_encoding="rope", n_kv_head=1)


@pytest.fixture
def compiled(monkeypatch):
    """torch.compile as the identity, recording its calls: the flag's whole path runs (the
    fixed-shape cache, the step handed to the compiler), without minutes of compiling."""
    calls = []

    def identity(fn, **kwargs):
        calls.append(kwargs)
        return fn

    monkeypatch.setattr(static.torch, "compile", identity)
    return calls


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["generate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


SETTINGS = [["--greedy"], ["--seed", "7", "--top-k", "5"], ["--seed", "3", "--temperature", "2"]]


@pytest.mark.parametrize("settings", SETTINGS)
def test_compile_flag_reaches_the_compiled_step_same_text(checkpoint, capsys, compiled, settings):
    base = ["--model", checkpoint, "--prompt", "nel", "--max-new-tokens", "20", *settings]
    code, plain, err = run(capsys, *base, "--json")
    assert code == 0 and err == "" and not compiled
    code, fast, err = run(capsys, *base, "--json", "--compile")
    assert code == 0 and len(compiled) == 1 and compiled[0]["fullgraph"] is True
    fast = json.loads(fast)
    timing = fast.pop("compile")
    assert fast == json.loads(plain)
    assert timing["seconds"] >= 0 and timing["tokens_per_second"] > 0
    code, text, err = run(capsys, *base, "--compile")
    assert code == 0 and text == "nel" + fast["text"] + "\n"
    assert err.startswith("compile: ") and "then 18 tokens at " in err and err.count("\n") == 1


def test_the_default_length_fits_the_compiled_window(checkpoint, capsys, compiled):
    args = ["--model", checkpoint, "--prompt", "nel", "--greedy", "--compile", "--json"]
    code, out, _ = run(capsys, *args)
    assert code == 0 and len(compiled) == 1
    assert len(json.loads(out)["ids"]) == 32 - 3  # the room the context has after the prompt


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--draft", "dante"], "--draft"),
        (["--no-cache"], "--no-cache"),
        (["--max-new-tokens", "31"], "must be at most 33"),  # 3 + 31 - 1 > block_size 32
        (["--lang", "it", "--no-cache"], "togli --no-cache"),
    ],
)
def test_bad_combinations_are_one_line_exit_2(checkpoint, capsys, extra, words):
    code, out, err = run(capsys, "--model", checkpoint, "--prompt", "nel", "--compile", *extra)
    assert code == 2 and out == "" and err.count("\n") == 1
    prefix = "attento: errore:" if "it" in extra else "attento: error:"
    assert err.startswith(prefix) and words in err


def test_a_sliding_window_is_refused_by_the_flag_and_skipped_by_the_library(
    tmp_path_factory, capsys, compiled
):
    folder = tiny(tmp_path_factory, pos_encoding="rope", sliding_window=8)
    code, out, err = run(capsys, "--model", folder, "--prompt", "nel", "--compile")
    assert code == 2 and out == "" and "sliding window (8)" in err
    from attento.models.folder import load_model

    model, _ = load_model(folder)
    assert misfit(model, 3, 20) == "window"
    idx = torch.tensor([[3, 1, 4]])
    # the library falls back to the growing cache, which slides (the fixed buffer would hide
    # the window's keys: it places the window from its end)
    assert torch.equal(
        generate(model, idx, 20, greedy=True, compile=True), generate(model, idx, 20, greedy=True)
    )
    assert not compiled


def test_timing_reads_compile_apart_from_speed(monkeypatch):
    clock = iter([0.0, 1.0, 11.0, 11.5, 12.0, 12.5])  # start, then tokens 1..5
    monkeypatch.setattr(static.time, "perf_counter", lambda: next(clock))
    timing = Timing()
    assert list(timing.watch("abcde")) == list("abcde")
    # the first decode step took 10 s, a usual one 0.5 s: 9.5 s of compiling
    assert timing.compile_seconds == 9.5
    assert timing.tokens_per_second == 2.0 and timing.tokens == 5
    short = Timing()
    monkeypatch.setattr(static.time, "perf_counter", iter([0.0, 1.0, 3.0]).__next__)
    list(short.watch("ab"))
    assert short.compile_seconds == 2.0 and short.tokens_per_second is None


@pytest.mark.slow
@pytest.mark.parametrize("settings", SETTINGS[:2])
def test_compiled_for_real_same_tokens(checkpoint, capsys, settings):
    base = ["--model", checkpoint, "--prompt", "mi", "--max-new-tokens", "24", "--json"]
    plain = json.loads(run(capsys, *base, *settings)[1])
    code, out, _ = run(capsys, *base, *settings, "--compile")
    fast = json.loads(out)
    timing = fast.pop("compile")
    assert code == 0 and fast == plain
    # a later run in the same process reuses the compiled step: its compile time is ~0
    assert timing["seconds"] >= 0 and timing["tokens_per_second"] > 0

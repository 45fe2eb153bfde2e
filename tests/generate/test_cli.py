"""`attento generate` and `attento next-token` on a tiny checkpoint saved in tmp_path."""

from __future__ import annotations

import json

import pytest
import torch

from attento.cli import main
from attento.cli.generate_cmd import bar
from attento.generate import generate_text, next_token_report
from attento.models import GPT, GPTConfig
from attento.models.folder import load_model, save_model
from attento.tokenize import CharTokenizer

TEXT = "nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    tok = CharTokenizer.from_text(TEXT)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=2, n_head=2, n_embd=16))
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.mul_(6.0)
    return save_model(model, tok, tmp_path_factory.mktemp("tiny"))


def test_generate_streams_the_library_text(checkpoint, capsys):
    args = ["generate", "--model", str(checkpoint), "--prompt", "nel", "--max-new-tokens", "12"]
    assert main([*args, "--seed", "4", "--top-k", "5"]) == 0
    out = capsys.readouterr().out
    model, tok = load_model(checkpoint)
    expected = generate_text(model, tok, "nel", 12, seed=4, top_k=5)
    assert out == "nel" + expected + "\n"


def test_generate_json_and_stop(checkpoint, capsys):
    base = ["generate", "--model", str(checkpoint), "--prompt", "mi", "--greedy", "--json"]
    assert main([*base, "--max-new-tokens", "15"]) == 0
    free = json.loads(capsys.readouterr().out)
    assert len(free["ids"]) == 15 and free["seed"] is None
    stop = free["text"][3:5]
    assert main([*base, "--max-new-tokens", "15", "--stop", stop]) == 0
    cut = json.loads(capsys.readouterr().out)
    assert cut["text"] == free["text"][: free["text"].index(stop) + len(stop)]


def test_next_token_table_and_json(checkpoint, capsys):
    args = ["next-token", "--model", str(checkpoint), "--prompt", "per una", "--seed", "2"]
    args += ["--temperature", "0.8", "--top-k", "4"]
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    model, tok = load_model(checkpoint)
    report = next_token_report(model, tok, "per una", temperature=0.8, top_k=4, seed=2)
    assert data == json.loads(json.dumps(report.to_dict()))
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "◀ die" in table and "█" in table
    assert f"picked {report.picked_text!r}" in table


def test_next_token_lens_ends_on_the_final_step(checkpoint, capsys):
    args = ["next-token", "--model", str(checkpoint), "--prompt", "per una", "--seed", "2"]
    assert main([*args, "--lens", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    lens = data.pop("lens")
    model, tok = load_model(checkpoint)
    report = next_token_report(model, tok, "per una", seed=2)
    assert data == json.loads(json.dumps(report.to_dict()))  # the rest is unchanged
    assert [r["block"] for r in lens["rows"]] == [-1, 0, 1]
    assert lens["target"]["text"] == report.picked_text
    picked = next(c for c in report.candidates if c.picked)
    last = lens["rows"][-1]
    assert abs(last["target_prob"] - picked.prob) < 1e-6 and last["target_rank"] == picked.rank
    top = [c for c in report.candidates if c.rank <= 5]
    assert [c["id"] for c in last["top"]] == [c.id for c in sorted(top, key=lambda c: c.rank)]
    assert main([*args, "--lens"]) == 0
    table = capsys.readouterr().out
    assert "logit lens" in table and "embedding" in table and "Block 2" in table


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--temperature", "0"], "greedy"),
        (["--top-k", "0"], "top_k"),
        (["--top-p", "2"], "top_p"),
        (["--max-new-tokens", "-1"], "max_new_tokens"),
    ],
)
def test_bad_input_is_one_line_exit_2(checkpoint, capsys, extra, message):
    assert main(["generate", "--model", str(checkpoint), "--prompt", "a", *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("attento: error:") and message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("prompt", "extra", "message"),
    [
        ("nel", ["--max-new-tokens", "-1"], "max_new_tokens"),
        ("nel €", [], "'€' (U+20AC) is not in this tokenizer's vocabulary"),
    ],
)
def test_generate_prints_no_prompt_before_an_error(checkpoint, capsys, prompt, extra, message):
    """The prompt is echoed before the continuation, so checking it lazily glued the error to
    it ("nelattento: error: ..."): now the error comes alone."""
    assert main(["generate", "--model", str(checkpoint), "--prompt", prompt, *extra]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("attento: error:") and message in captured.err
    assert captured.err.count("\n") == 1


@pytest.mark.parametrize("command", ["generate", "next-token"])
def test_an_encoder_is_not_a_generator(tmp_path, capsys, command):
    """Was "AttributeError: 'Bert' object has no attribute 'new_cache'"."""
    from attento.models.bert import Bert, BertConfig

    tok = CharTokenizer.from_text(TEXT)
    bert = Bert(BertConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=1, n_embd=8))
    folder = save_model(bert, tok, tmp_path / "bert")
    assert main([command, "--model", str(folder), "--prompt", "nel"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("attento: error:") and "fill-mask" in captured.err


def test_missing_model_is_a_user_error(tmp_path, capsys):
    assert main(["next-token", "--model", str(tmp_path / "none"), "--prompt", "a"]) == 2
    assert "not found" in capsys.readouterr().err


def test_bar_lengths():
    assert bar(1.0, 10) == "█" * 10
    assert bar(0.0, 10) == " " * 10
    assert bar(0.5, 4) == "██  "
    assert bar(1 / 16, 2) == "▏ "  # one eighth of a cell
    assert bar(0.25, 2) == "▌ "  # half a cell
    assert bar(0.75, 2) == "█▌"

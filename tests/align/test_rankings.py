"""Rankings from people: typed orders, the K(K-1)/2 pairs, safe appends, `attento rank`,
and `attento reward` reading a rankings file."""

from __future__ import annotations

import io
import itertools
import json
import multiprocessing

import pytest

from attento.align.chat import add_chat_tokens
from attento.align.data import load_preferences, load_prompts
from attento.align.rankings import (
    append_ranking,
    make_record,
    parse_order,
    ranking_pairs,
)
from attento.cli import main
from attento.errors import UserError
from attento.models.folder import save_model

from .conftest import tiny_gpt


def test_typed_order_is_one_based_best_first():
    assert parse_order("2 1 3", 3) == [1, 0, 2]
    assert parse_order(" 3,1 , 2 ", 3) == [2, 0, 1]


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("1 1 2", "answer 1 is ranked twice: a ranking has no ties"),
        ("1 2", "answer 3 is not ranked"),
        ("1 2 4", "there is no answer 4"),
        ("0 1 2", "there is no answer 0"),
        ("uno due tre", "must be answer numbers"),
        ("", "type the 3 answer numbers"),
    ],
)
def test_ties_missing_and_strangers_are_one_line(typed, message):
    with pytest.raises(UserError, match=message) as e:
        parse_order(typed, 3)
    assert "\n" not in str(e.value)


def test_a_ranking_of_k_gives_every_ordered_pair():
    answers = ["a", "b", "c", "d"]
    order = [2, 0, 3, 1]  # c > a > d > b
    pairs = ranking_pairs(answers, order)
    assert len(pairs) == 4 * 3 // 2
    ranked = [answers[i] for i in order]
    assert pairs == list(itertools.combinations(ranked, 2))
    rank = {a: ranked.index(a) for a in answers}
    assert all(rank[c] < rank[r] for c, r in pairs)


def test_rankings_file_reads_as_preference_pairs_and_prompts(tmp_path):
    path = tmp_path / "rankings.jsonl"
    append_ranking(path, make_record("1+1=", ["2", "3", "2 ok"], [0, 2, 1], who="ada"))
    append_ranking(path, make_record("2+2=", ["5", "4"], [1, 0], who="ada"))
    prefs = load_preferences(path)
    assert [(p.prompt[0]["content"], p.chosen, p.rejected) for p in prefs] == [
        ("1+1=", "2", "2 ok"),
        ("1+1=", "2", "3"),
        ("1+1=", "2 ok", "3"),
        ("2+2=", "4", "5"),
    ]
    assert [p[0]["content"] for p in load_prompts(path)] == ["1+1=", "2+2="]
    record = json.loads(path.read_text().splitlines()[0])
    assert set(record) == {"prompt", "answers", "order", "who", "when"}


@pytest.mark.parametrize(
    ("order", "message"),
    [([0, 0, 1], "ranked twice"), ([0, 1], "answer 2 is not ranked"), ([0, 1, 5], "no answer 5")],
)
def test_a_bad_ranking_in_a_file_names_its_record(tmp_path, order, message):
    path = tmp_path / "r.jsonl"
    good = {"prompt": "p", "answers": ["a", "b"], "order": [1, 0]}
    bad = {"prompt": "q", "answers": ["a", "b", "c"], "order": order}
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(UserError, match=f"record 2: .*{message}"):
        load_preferences(path)


def test_make_record_refuses_ties_before_writing(tmp_path):
    with pytest.raises(UserError, match="no ties"):
        make_record("p", ["a", "b"], [0, 0])
    with pytest.raises(UserError, match="at least two answers"):
        make_record("p", ["a"], [0])


def _writer(path: str, who: str, n: int) -> None:
    for i in range(n):
        append_ranking(path, make_record(f"prompt {who} {i}", ["x" * 2000, "y"], [1, 0], who))


def test_two_concurrent_writers_lose_nothing_and_leave_no_half_line(tmp_path):
    path = tmp_path / "rankings.jsonl"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(path), who, 40)) for who in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    lines = path.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is whole JSON
    assert len(records) == 80
    assert {r["prompt"] for r in records} == {f"prompt {w} {i}" for w in "ab" for i in range(40)}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_append_to_a_folder_is_one_line(tmp_path):
    with pytest.raises(UserError, match="is a folder"):
        append_ranking(tmp_path, make_record("p", ["a", "b"], [0, 1]))


@pytest.fixture
def chat_dir(tmp_path, char_tokenizer):
    model, tok, _ = add_chat_tokens(tiny_gpt(char_tokenizer.vocab_size), char_tokenizer)
    return save_model(model, tok, tmp_path / "chat")


def test_rank_command_asks_again_after_a_tie_then_appends(chat_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "rankings.jsonl"
    monkeypatch.setattr("sys.stdin", io.StringIO("1 1 2\n3 1 2\n"))
    argv = ["rank", "--model", str(chat_dir), "--out", str(out), "--prompt", "1+1="]
    assert main([*argv, "--k", "3", "--who", "ada", "--max-new-tokens", "4"]) == 0
    shown = capsys.readouterr().out
    assert "ranked twice" in shown and "[3]" in shown
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["order"] == [2, 0, 1] and record["who"] == "ada"
    assert record["prompt"] == "1+1=" and len(record["answers"]) == 3


def test_reward_command_trains_on_a_rankings_file(chat_dir, tmp_path, capsys):
    path = tmp_path / "rankings.jsonl"
    for a in range(4):
        append_ranking(path, make_record(f"{a}+1=", [str(a + 1), "x", "zz"], [0, 2, 1]))
    out = tmp_path / "rm"
    argv = ["reward", "--model", str(chat_dir), "--data", str(path), "--out", str(out)]
    assert main([*argv, "--steps", "2", "--batch-size", "4", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["train_pairs"] + report["val_pairs"] == 4 * 3


def test_rank_out_in_a_missing_folder_is_one_line(chat_dir, tmp_path, capsys):
    out = tmp_path / "missing" / "r.jsonl"
    assert main(["rank", "--model", str(chat_dir), "--out", str(out), "--prompt", "x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "existing folder" in err

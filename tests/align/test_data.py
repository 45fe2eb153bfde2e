from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch

from attento.align.data import (
    dialogue_messages,
    hold_out,
    load_conversations,
    load_preferences,
    pad_rows,
    read_records,
    split_dialogues,
)
from attento.errors import UserError


def write(path: Path, records, jsonl: bool = False) -> Path:
    if jsonl:
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    else:
        path.write_text(json.dumps(records))
    return path


def test_alpaca_and_chat_formats(tmp_path):
    alpaca = write(
        tmp_path / "a.json",
        [
            {"instruction": "Add", "input": "2 and 3", "output": "5"},
            {"instruction": "Say hi", "input": "", "output": "hi"},
        ],
    )
    convs = load_conversations(alpaca)
    assert convs[0] == [
        {"role": "user", "content": "Add\n\n2 and 3"},
        {"role": "assistant", "content": "5"},
    ]
    assert convs[1][0]["content"] == "Say hi"
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    messages.append({"role": "assistant", "content": "a"})
    chat = write(tmp_path / "c.jsonl", [{"messages": messages}], jsonl=True)
    assert load_conversations(chat) == [messages]


def test_preference_formats(tmp_path):
    explicit = write(
        tmp_path / "p.jsonl",
        [
            {"prompt": "2+2=", "chosen": "4", "rejected": "5"},
            {
                "prompt": [{"role": "user", "content": "hi"}],
                "chosen": [{"role": "assistant", "content": "hello"}],
                "rejected": [{"role": "assistant", "content": "go away"}],
            },
        ],
        jsonl=True,
    )
    prefs = load_preferences(explicit)
    assert prefs[0].prompt == [{"role": "user", "content": "2+2="}]
    assert (prefs[0].chosen, prefs[0].rejected) == ("4", "5")
    assert (prefs[1].chosen, prefs[1].rejected) == ("hello", "go away")


def test_hh_dialogues_split_at_the_shared_prefix(tmp_path):
    prompt = "\n\nHuman: What is 2+2?\n\nAssistant: Four.\n\nHuman: And 3+3?\n\nAssistant:"
    pref = split_dialogues(prompt + " Six.", prompt + " Seven, I think.")
    assert (pref.chosen, pref.rejected) == ("Six.", "Seven, I think.")
    assert [m["role"] for m in pref.prompt] == ["user", "assistant", "user"]
    assert pref.prompt[-1]["content"] == "And 3+3?"
    # answers sharing their first words still cut at the last Assistant turn
    pref = split_dialogues(prompt + " It is six.", prompt + " It is seven.")
    assert (pref.chosen, pref.rejected) == ("It is six.", "It is seven.")
    path = tmp_path / "hh.jsonl.gz"
    path.write_bytes(
        gzip.compress(json.dumps({"chosen": prompt + " 6", "rejected": prompt + " 7"}).encode())
    )
    assert load_preferences(path)[0].chosen == "6"
    with pytest.raises(UserError, match="Assistant"):
        split_dialogues("\n\nHuman: a", "\n\nHuman: b")
    assert dialogue_messages("\n\nHuman: hi\n\nAssistant:") == [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("content", "loader", "message"),
    [
        ("", load_conversations, "empty"),
        ("   \n", load_preferences, "empty"),
        ("[]", load_conversations, "no records"),
        ('{"text": "x"}\n', load_conversations, "unknown data format"),
        ('{"instruction": "x", "output": ""}\n', load_conversations, "'output'"),
        ('{"messages": [{"role": "user"}]}\n', load_conversations, "content"),
        ('{"messages": [{"role": "user", "content": "a"}]}\n', load_conversations, "no assistant"),
        ('{"prompt": "x", "chosen": "a", "rejected": "b"}\n', load_conversations, "preference"),
        ('{"instruction": "x", "output": "y"}\n', load_preferences, "alpaca"),
        ('{"prompt": "x", "chosen": "a", "rejected": 3}\n', load_preferences, "'rejected'"),
        ("{not json", load_conversations, "neither a JSON array"),
        ("[1, 2]", load_conversations, "JSON object"),
    ],
)
def test_bad_input_is_a_user_error(tmp_path, content, loader, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        loader(path)


def test_missing_file_and_bad_gzip(tmp_path):
    with pytest.raises(UserError, match="not found"):
        read_records(tmp_path / "nope.json")
    (tmp_path / "x.jsonl.gz").write_bytes(b"not gzip")
    with pytest.raises(UserError, match="gzip"):
        read_records(tmp_path / "x.jsonl.gz")


def test_the_shared_data_files_load(data_dir):
    convs = load_conversations(data_dir / "alpaca_en_demo.json")
    assert len(convs) == 999
    with_input = [c for c in convs if "\n\n" in c[0]["content"]]
    assert len(with_input) >= 412  # records with a non-empty input (SOURCES.md)
    prefs = load_preferences(data_dir / "hh-rlhf" / "helpful-base" / "test.jsonl.gz")
    assert len(prefs) == 2354
    assert all(p.prompt[0]["role"] == "user" and p.prompt[-1]["role"] == "user" for p in prefs)
    differing = sum(p.chosen != p.rejected for p in prefs)
    assert differing > 0.9 * len(prefs)


def test_pad_rows_right_and_left():
    rows = [[1, 2, 3], [4], []]
    ids, valid = pad_rows(rows, 0)
    assert ids.tolist() == [[1, 2, 3], [4, 0, 0], [0, 0, 0]]
    assert valid.tolist() == [[True] * 3, [True, False, False], [False] * 3]
    ids, valid = pad_rows(rows, -100, left=True)
    assert ids.tolist() == [[1, 2, 3], [-100, -100, 4], [-100, -100, -100]]
    assert valid.tolist() == [[True] * 3, [False, False, True], [False] * 3]
    assert ids.dtype == torch.long and valid.dtype == torch.bool


@pytest.mark.parametrize(
    ("n", "fraction", "n_val"), [(2, 0.1, 1), (25, 0.1, 2), (10, 0.5, 5), (3, 1.0, 2)]
)
def test_hold_out_keeps_one_on_each_side(n, fraction, n_val):
    train, val = hold_out(range(n), fraction, seed=3)
    assert len(val) == n_val and len(train) == n - n_val
    assert sorted(train + val) == list(range(n))  # a partition
    assert hold_out(range(n), fraction, seed=3) == (train, val)  # seeded

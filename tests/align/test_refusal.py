"""The refusal demo's data (held out, placeholders only, both kinds in both languages), its
measurements, the pipeline's plumbing, and the hh-rlhf *harmless* split's format."""

from __future__ import annotations

import gzip
import json

import pytest

from attento.align.chat import add_chat_tokens
from attento.align.data import load_preferences
from attento.align.refusal import (
    RefusalSettings,
    build_sets,
    is_refusal,
    load_refusal_data,
    refusal_demo,
    refusal_markers,
)
from attento.cli import main
from attento.models.folder import save_model
from attento.tokenize import CharTokenizer

from .conftest import tiny_gpt

PLACEHOLDERS = ("[richiesta dannosa: ", "[harmful request: ")


@pytest.fixture(scope="module")
def data():
    return load_refusal_data()


def test_held_out_prompts_are_never_trained(data):
    sets = build_sets(data)
    trained = {r["instruction"] for r in sets["helpful"] + sets["safety"]}
    trained |= {p.prompt[0]["content"] for p in sets["pairs"]}
    held = [p["prompt"] for p in sets["harmful"] + sets["harmless"]]
    assert held and not trained & set(held)
    for kind in ("harmful", "harmless"):
        assert {p["lang"] for p in sets[kind]} == {"it", "en"}


def test_harmful_requests_are_marked_placeholders_only(data):
    sets = build_sets(data)
    refusals = {data["refusal"][lang] for lang in ("it", "en")}
    harmful = [r for r in sets["safety"] if r["output"] in refusals]
    assert harmful and all(any(m in r["instruction"] for m in PLACEHOLDERS) for r in harmful)
    assert all(any(m in p["prompt"] for m in PLACEHOLDERS) for p in sets["harmful"])
    assert not any(any(m in p["prompt"] for m in PLACEHOLDERS) for p in sets["harmless"])
    # the helpful stage never sees a harmful request, and no answer is harmful text
    assert not any(any(m in r["instruction"] for m in PLACEHOLDERS) for r in sets["helpful"])


def test_pairs_prefer_refusing_harmful_and_answering_harmless(data):
    sets = build_sets(data)
    markers = refusal_markers(data)
    for pair in sets["pairs"]:
        harmful = any(m in pair.prompt[0]["content"] for m in PLACEHOLDERS)
        assert is_refusal(pair.chosen, markers) == harmful
        assert is_refusal(pair.rejected, markers) != harmful


def test_is_refusal(data):
    markers = refusal_markers(data)
    assert markers == ["Mi dispiace", "I'm sorry"]
    assert is_refusal(" Mi dispiace, non posso", markers)
    assert not is_refusal("Certo! Impasta farina", markers)


def test_demo_plumbing_on_a_tiny_model(tmp_path):
    report = refusal_demo(tmp_path / "out", RefusalSettings.quick(), progress=False)
    for stage in ("helpful_sft", "safety_sft", "dpo"):
        rates = report["stages"][stage]
        assert 0 <= rates["refusal_rate_harmful"] <= 1
        n = report["sizes"]["harmful"] + report["sizes"]["harmless"]
        assert len(rates["answers"]) == n
    assert "| + DPO |" in (tmp_path / "out" / "report.md").read_text()


HARMLESS = [
    {
        "chosen": "\n\nHuman: [harmful request: build a weapon]\n\nAssistant: I can't help with "
        "that.\n\nHuman: Please?\n\nAssistant: No, I won't help with that.",
        "rejected": "\n\nHuman: [harmful request: build a weapon]\n\nAssistant: I can't help "
        "with that.\n\nHuman: Please?\n\nAssistant: Sure, [harmful content omitted].",
    },
    {
        "chosen": "\n\nHuman: [harmful request: hurt someone]\n\nAssistant: I won't do that.",
        "rejected": "\n\nHuman: [harmful request: hurt someone]\n\nAssistant: Ok: [omitted].",
    },
]


def test_hh_rlhf_harmless_split_reads_like_the_helpful_split(tmp_path, char_tokenizer, capsys):
    """harmless-base/*.jsonl.gz has the same {chosen, rejected} dialogues as helpful-base;
    multi-turn dialogues keep their earlier turns in the prompt."""
    path = tmp_path / "harmless-base" / "test.jsonl.gz"
    path.parent.mkdir()
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in HARMLESS).encode()))
    prefs = load_preferences(path)
    assert [m["role"] for m in prefs[0].prompt] == ["user", "assistant", "user"]
    assert prefs[0].chosen == "No, I won't help with that."
    assert prefs[0].rejected == "Sure, [harmful content omitted]."
    assert prefs[1].prompt == [{"role": "user", "content": "[harmful request: hurt someone]"}]
    tok = CharTokenizer.from_text("".join(json.dumps(r) for r in HARMLESS))
    model, tok, _ = add_chat_tokens(tiny_gpt(tok.vocab_size, block_size=160), tok)
    chat = save_model(model, tok, tmp_path / "chat")
    for cmd in ("reward", "dpo"):
        argv = [cmd, "--model", str(chat), "--data", str(path), "--out", str(tmp_path / cmd)]
        assert main([*argv, "--steps", "1", "--batch-size", "2", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["val_pairs"] == 1


def test_refusal_demo_refuses_a_non_empty_out(tmp_path, capsys):
    (tmp_path / "old.txt").write_text("x")
    assert main(["refusal-demo", "--quick", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not empty" in err

"""`attento eval` on an encoder–decoder: exact match of whole answers on held-out pairs."""

from __future__ import annotations

import json

import pytest
import torch

from attento.cli import main
from attento.data.pairs import read_pairs
from attento.errors import UserError
from attento.generate.seq2seq import transduce
from attento.models.folder import save_model
from attento.models.seq2seq import Seq2Seq, Seq2SeqConfig
from attento.tokenize import CharTokenizer
from attento.train.evaluate import exact_match

SOURCES = ["123", "45", "9870", "6", "314159"]


@pytest.fixture
def seq2seq():
    """An untrained encoder–decoder whose pad, BOS and EOS are three reserved characters."""
    tokenizer = CharTokenizer.from_text("\x00\x01\x02" + "0123456789abc")
    torch.manual_seed(0)
    config = Seq2SeqConfig(tokenizer.vocab_size, 10, 1, 2, 16)
    return Seq2Seq(config).eval(), tokenizer


def written(model, tokenizer, source: str) -> str:
    return tokenizer.decode(
        transduce(model, torch.tensor([tokenizer.encode(source)]), greedy=True)[0]
    )


def test_exact_match_counts_whole_answers_and_padding_changes_none(seq2seq):
    model, tokenizer = seq2seq
    outputs = [written(model, tokenizer, s) for s in SOURCES]
    # the first three targets are what the model writes, the last two differ by a character
    targets = outputs[:3] + [o + "a" for o in outputs[3:]]
    pairs = list(zip(SOURCES, targets, strict=True))
    for batch_size in (1, 2, 64):  # batches pad the shorter sources
        score = exact_match(model, tokenizer, pairs, batch_size=batch_size)
        assert (score.answers, score.right, score.accuracy) == (5, 3, 0.6)


def test_a_source_longer_than_the_model_reads_is_one_line(seq2seq):
    model, tokenizer = seq2seq
    with pytest.raises(UserError, match="pair 2: the source has 11 tokens"):
        exact_match(model, tokenizer, [("1", "a"), ("1" * 11, "a")])


def test_pairs_file_errors(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("1\tuno\n\n2\tdue\n")
    assert read_pairs(path) == [("1", "uno"), ("2", "due")]
    path.write_text("1\tuno\n2 due\n")
    with pytest.raises(UserError, match="line 2: write the source, one tab, the target"):
        read_pairs(path)
    with pytest.raises(UserError, match="not found"):
        read_pairs(tmp_path / "none.tsv")


def test_eval_command_on_an_encoder_decoder(seq2seq, tmp_path, capsys):
    model, tokenizer = seq2seq
    folder = save_model(model, tokenizer, tmp_path / "s2s")
    targets = [written(model, tokenizer, s) or "b" for s in SOURCES]
    targets[0] += "c"
    right = sum(written(model, tokenizer, s) == t for s, t in zip(SOURCES, targets, strict=True))
    pairs = tmp_path / "held_out.tsv"
    pairs.write_text("".join(f"{s}\t{t}\n" for s, t in zip(SOURCES, targets, strict=True)))
    assert main(["eval", "--model", str(folder), "--pairs", str(pairs), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["objective"] == "seq2seq" and result["answers"] == 5
    assert result["right"] == right and result["accuracy"] == right / 5

    assert main(["eval", "--model", str(folder)]) == 2
    assert "give --pairs FILE" in capsys.readouterr().err


def test_pairs_on_a_language_model_is_one_line(tmp_path, capsys):
    from attento.models.gpt import GPT, GPTConfig

    tokenizer = CharTokenizer.from_text("abc")
    folder = save_model(GPT(GPTConfig(3, 8, 1, 2, 8)), tokenizer, tmp_path / "gpt")
    pairs = tmp_path / "p.tsv"
    pairs.write_text("a\tb\n")
    assert main(["eval", "--model", str(folder), "--pairs", str(pairs)]) == 2
    assert "--pairs scores an encoder-decoder" in capsys.readouterr().err

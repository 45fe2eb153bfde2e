"""Byte-level BPE: training, special tokens, decode, save/load, errors."""

from __future__ import annotations

import base64
import gzip
import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attento.errors import UserError
from attento.tokenize import load_tokenizer
from attento.tokenize.bpe import (
    ENDOFTEXT,
    GPT4_PATTERN,
    IM_END,
    IM_START,
    BPETokenizer,
    train_bpe,
)
from attento.tokenize.tiktoken_io import read_ranks, write_ranks


@pytest.fixture(scope="module")
def shakespeare(data_dir) -> str:
    return (data_dir / "tinyshakespeare.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def small(shakespeare) -> BPETokenizer:
    return train_bpe(shakespeare[:50_000], 320)


@pytest.fixture(scope="module")
def cl100k() -> BPETokenizer:
    return BPETokenizer.pretrained("cl100k_base")


# ------------------------------------------------------------------- training


def naive_merges(text: str, num_merges: int) -> list[tuple[int, int]]:
    """Textbook BPE: recount every pair of every chunk occurrence before each merge."""
    import regex

    chunks = [list(c.encode()) for c in regex.findall(GPT4_PATTERN, text)]
    merges = []
    for new_id in range(256, 256 + num_merges):
        counts: dict[tuple[int, int], int] = {}
        for ids in chunks:
            for pair in itertools.pairwise(ids):
                counts[pair] = counts.get(pair, 0) + 1
        # most frequent; ties -> smallest (left, right), the documented rule
        pair = min(counts, key=lambda p: (-counts[p], p))
        merges.append(pair)
        merged = []
        for ids in chunks:
            out, i = [], 0
            while i < len(ids):
                if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
                    out.append(new_id)
                    i += 2
                else:
                    out.append(ids[i])
                    i += 1
            merged.append(out)
        chunks = merged
    return merges


def test_incremental_training_equals_naive_recount(shakespeare):
    text = shakespeare[:20_000] + " aaaa aaa aaaaa bbbbbb"  # overlapping pairs too
    tok = train_bpe(text, 256 + 60, special_tokens=[])
    vocab = [bytes([b]) for b in range(256)]
    for left, right in naive_merges(text, 60):
        vocab.append(vocab[left] + vocab[right])
    assert tok.ranks == {token: rank for rank, token in enumerate(vocab)}


def test_ties_go_to_the_smallest_pair():
    # every pair occurs once: the first merge must be the smallest (left, right) = (b"a", b"b")
    tok = train_bpe("zyxab", 257, special_tokens=[])
    assert tok.token_bytes(256) == b"ab"
    tok = train_bpe("ba", 257, special_tokens=[])
    assert tok.token_bytes(256) == b"ba"


def test_training_learns_frequent_words(small, shakespeare):
    assert small.vocab_size == 320
    assert small.eot_id == 319
    assert small.encode(" the") == [small.ranks[b" the"]]
    text = shakespeare[:50_000]
    assert len(small.encode(text)) < 0.7 * len(text.encode())


def test_training_progress_bar(capsys):
    train_bpe("hello hello world " * 20, 262, progress=True)
    assert "BPE merges" in capsys.readouterr().err


def test_training_errors():
    with pytest.raises(UserError, match="at least 257"):
        train_bpe("hello", 256)
    with pytest.raises(UserError, match="at least 256"):
        train_bpe("hello", 255, special_tokens=[])
    with pytest.raises(UserError, match="unknown pattern"):
        train_bpe("hello", 300, pattern="gpt5")
    with pytest.raises(UserError, match="unknown trainer"):
        train_bpe("hello", 300, trainer="c++")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="no pairs left"):
        train_bpe("ab", 300)


def test_gpt2_and_gpt4_patterns_split_differently(shakespeare):
    text = "He said 12345 words!\n\n  ok"
    gpt2 = train_bpe(shakespeare[:5000], 300, pattern="gpt2")
    gpt4 = train_bpe(shakespeare[:5000], 300, pattern="gpt4")
    assert gpt2.decode(gpt2.encode(text)) == text
    # gpt4 cuts digits in groups of 3, gpt2 keeps " 12345" in one chunk
    assert " 12345" in gpt2._split.findall(text)
    assert [c for c in gpt4._split.findall(text) if c.strip().isdigit()] == ["123", "45"]


# ------------------------------------------------------ special tokens, decode


def test_special_tokens_are_text_unless_allowed(small):
    text = f"hi{ENDOFTEXT}there"
    assert small.eot_id not in small.encode(text)
    assert small.decode(small.encode(text)) == text
    for fast in (True, False):
        ids = small.encode(text, allowed_special="all", fast=fast)
        assert ids == [*small.encode("hi"), small.eot_id, *small.encode("there")]
        assert small.encode(text, allowed_special={ENDOFTEXT}, fast=fast) == ids
    with pytest.raises(UserError, match="not special tokens"):
        small.encode(text, allowed_special={"<|nope|>"})


def test_add_special_tokens_appends_ids(shakespeare):
    tok = train_bpe(shakespeare[:5000], 300)
    ids = tok.add_special_tokens([IM_START, IM_END, ENDOFTEXT])
    assert ids == [300, 301, tok.eot_id]
    assert tok.vocab_size == 302
    chat = f"{IM_START}user\nhi{IM_END}"
    for fast in (True, False):
        got = tok.encode(chat, allowed_special={IM_START, IM_END}, fast=fast)
        assert got[0] == 300 and got[-1] == 301
    assert tok.decode(got) == chat
    assert tok.token_str(301) == IM_END
    with pytest.raises(UserError):
        tok.add_special_tokens([""])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=60))
def test_decode_encode_roundtrip(small, text):
    assert small.decode(small.encode(text)) == text
    assert small.decode(small.encode(text, fast=False)) == text


def test_partial_utf8_decodes_to_replacement(cl100k):
    ids = cl100k.encode("🦙")  # four UTF-8 bytes, several tokens in cl100k
    pieces = [cl100k.token_bytes(i) for i in ids]
    assert b"".join(pieces) == "🦙".encode()
    assert len(ids) > 1
    assert "\ufffd" in cl100k.decode(ids[:1])
    assert cl100k.token_str(ids[0]) == pieces[0].decode("utf-8", errors="replace")
    assert cl100k.decode(ids) == "🦙"


def test_unknown_ids_are_user_errors(cl100k):
    with pytest.raises(UserError, match="100256"):  # a hole between ranks and specials
        cl100k.decode([100256])
    with pytest.raises(UserError):
        cl100k.token_bytes(10**7)
    assert cl100k.token_bytes(cl100k.eot_id) == ENDOFTEXT.encode()


def test_bad_vocabularies_are_user_errors():
    with pytest.raises(UserError, match="256 single bytes"):
        BPETokenizer({b"a": 0})
    ranks = {bytes([b]): b for b in range(256)}
    with pytest.raises(UserError, match="already taken"):
        BPETokenizer(ranks, special_tokens={ENDOFTEXT: 5})
    with pytest.raises(UserError, match="pattern"):
        BPETokenizer(ranks, pattern="(unclosed")


# -------------------------------------------------------------- save and load


def test_save_and_load(tmp_path, small, shakespeare):
    small = BPETokenizer(small.ranks, small.pattern, dict(small.special_tokens))  # a copy
    small.add_special_tokens([IM_START])
    folder = small.save(tmp_path / "tok")
    config = json.loads((folder / "tokenizer.json").read_text())
    assert config["type"] == "bpe" and config["pattern"] == "gpt4"
    assert config["special_tokens"][IM_START] == small.special_tokens[IM_START]
    # the rank file is the standard one: base64(bytes) rank, sorted by rank
    lines = (folder / "tokenizer.tiktoken").read_bytes().splitlines()
    assert lines[0] == base64.b64encode(b"\x00") + b" 0"
    assert lines[-1] == base64.b64encode(small.token_bytes(small.eot_id - 1)) + b" 318"
    again = load_tokenizer(folder)
    assert isinstance(again, BPETokenizer)
    assert again.ranks == small.ranks and again.special_tokens == small.special_tokens
    text = shakespeare[:3000]
    assert again.encode(text) == small.encode(text)


def test_custom_regex_pattern_survives_save(tmp_path):
    tok = BPETokenizer({bytes([b]): b for b in range(256)}, pattern=r"\w+|\W")
    again = load_tokenizer(tok.save(tmp_path))
    assert again.regex == r"\w+|\W"


def test_rank_files_plain_and_gzip(tmp_path, small):
    for name in ("r.tiktoken", "r.tiktoken.gz"):
        path = write_ranks(small.ranks, tmp_path / name)
        assert read_ranks(path) == small.ranks
    assert (
        gzip.decompress((tmp_path / "r.tiktoken.gz").read_bytes())
        == (tmp_path / "r.tiktoken").read_bytes()
    )
    opened = load_tokenizer(tmp_path / "r.tiktoken")
    assert opened.ranks == small.ranks


def test_bad_rank_files(tmp_path):
    bad = tmp_path / "bad.tiktoken"
    bad.write_text("not-base64!! x\n")
    with pytest.raises(UserError, match="line 1"):
        read_ranks(bad)
    bad.write_text("YQ== 0\nYg== 0\n")
    with pytest.raises(UserError, match="same rank"):
        read_ranks(bad)
    with pytest.raises(UserError, match="does not exist"):
        read_ranks(tmp_path / "missing.tiktoken")


def test_pretrained_lookup_prefers_attento_data(tmp_path, monkeypatch, small):
    write_ranks(small.ranks, tmp_path / "cl100k_base.tiktoken.gz")
    monkeypatch.setenv("ATTENTO_DATA", str(tmp_path))
    tok = BPETokenizer.pretrained("cl100k_base")
    assert tok.ranks == small.ranks
    assert tok.special_tokens[ENDOFTEXT] == 100257
    with pytest.raises(UserError, match="unknown pretrained"):
        BPETokenizer.pretrained("p50k_base")


def test_pretrained_download_fails_cleanly_offline(tmp_path, monkeypatch):
    import attento.tokenize.bpe as bpe

    monkeypatch.setenv("ATTENTO_DATA", str(tmp_path))
    monkeypatch.setenv("ATTENTO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(bpe.importlib.resources, "files", _no_package)
    with pytest.raises(UserError, match="openaipublic"):
        BPETokenizer.pretrained("o200k_base")


def _no_package(name):
    raise ModuleNotFoundError(name)


def test_rust_trainer_missing_is_a_user_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "rustbpe", None)
    with pytest.raises(UserError, match=r"pip install 'attento\[rustbpe\]'"):
        train_bpe("hello world", 300, trainer="rust")

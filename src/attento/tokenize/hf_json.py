"""Hugging Face tokenizers: a `tokenizer.json` with a BPE model, or GPT-2's `vocab.json` + `merges.txt`.

The models people know (GPT-2, SmolLM2, Llama 3, Qwen2, Llama 2/TinyLlama) ship their tokenizer
as one `tokenizer.json`, written by the `tokenizers` library. It describes a pipeline, and this
module runs the same pipeline in Python, step by step, so ids equal those of `tokenizers`:

1. *added tokens* (`<|endoftext|>`, `<|im_start|>`, ...) are cut out of the raw text first, so
   no later step can split them (leftmost, longest match; `lstrip`/`rstrip` also take the
   spaces around them, `single_word` refuses a match inside a word);
2. the *normalizer* rewrites what is left (Qwen2: Unicode NFC; Llama 2: spaces become "▁");
3. the *pre-tokenizer* cuts it into words: a `Split` regex (Llama 3, Qwen2), `Digits`
   (SmolLM2: one digit per word), `ByteLevel` (GPT-2's regex, then every UTF-8 byte shown as
   one printable character, so a word is a string of "byte characters");
4. the *model*, BPE, turns each word into ids: start from one symbol per character and apply
   the learned *merges*, always the earliest-learned pair present (leftmost on ties). Unlike
   tiktoken's rule in `bpe.py` (merge any pair whose concatenation is in the vocabulary), a
   pair merges only if it is listed, which is why we cannot just hand these files to
   `BPETokenizer`. `ignore_merges` (Llama 3) first looks the whole word up in the vocabulary,
   as tiktoken does. `byte_fallback` (Llama 2) spells an unknown character as `<0xNN>` byte
   tokens;
5. the *post-processor* may add a BOS token (`encode(..., add_special_tokens=True)`);
6. decoding runs the *decoder* (byte characters back to bytes; or "▁" back to a space).

Special tokens follow attento's rule (see `bpe.py`): `encode(text)` reads their spelling as
ordinary text, `encode(text, allowed_special="all")` turns it into their ids, which is what
`tokenizers` does by default. Added tokens that are not special always match, as in
`tokenizers`.

Reused from `bpe.py`: GPT-2's pre-split regex (`GPT2_PATTERN`, equivalent to the one the
`ByteLevel` step hard-codes) and the special-token rule; from `regex`, the Unicode classes
(`\\p{L}`, `\\p{N}`) those regexes need. `to_hf_json` writes attento's own tokenizers in this
format, so `transformers` can load a model attento trained.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import os
import tempfile
import unicodedata
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import regex

from attento.errors import UserError
from attento.tokenize.base import CONFIG_FILE, Tokenizer

HF_FILE = CONFIG_FILE  # Hugging Face uses the same name as attento: tell them apart by content
CONFIG_JSON = "tokenizer_config.json"
SPECIAL_MAP_JSON = "special_tokens_map.json"
VOCAB_JSON = "vocab.json"
MERGES_TXT = "merges.txt"
SENTENCEPIECE_MODEL = "tokenizer.model"
SUPPORTED = "byte-level BPE (GPT-2, SmolLM2, Llama 3, Qwen2) and BPE with byte fallback (Llama 2)"
_NO_MERGE = 1 << 62  # rank of a pair that is not a merge: larger than any real rank
_CACHE_LIMIT = 1 << 20  # words remembered by the encoder
_LONG_WORD = 256  # symbols: longer words merge through a heap, and are not cached
# the spelling tokenizers gives a byte-fallback token: <0x41>
_BYTE_TOKEN = regex.compile(r"<0x([0-9A-F]{2})>")
_SPACES_AT_END = regex.compile(r"\s*$")  # Rust's \s is Unicode White_Space, as `regex`'s
_SPACES = regex.compile(r"\s*")  # used with match(text, pos): anchored at pos
_WORD_AT_END = regex.compile(r"\w$")
_WORD = regex.compile(r"\w")


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table: each byte as one printable character (printable Latin-1 keeps its own)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


BYTE_TO_CHAR = _bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}
_LATIN1_TO_BYTE_CHAR = {b: c for b, c in BYTE_TO_CHAR.items()}  # for str.translate


def byte_chars(text: str) -> str:
    """`text` as GPT-2's byte characters: one character per UTF-8 byte."""
    return text.encode("utf-8").decode("latin-1").translate(_LATIN1_TO_BYTE_CHAR)


def is_hf_tokenizer_json(document: Any) -> bool:
    """True for a `tokenizers` file (it has a "model" object with a "type"), not attento's own."""
    return (
        isinstance(document, dict)
        and isinstance(document.get("model"), dict)
        and "type" in document["model"]
    )


# ------------------------------------------------------------------- pipeline parts

Piece = tuple[str, bool]  # text, and whether it starts at the very beginning of the input


def _compile(pattern: dict[str, str], what: str) -> regex.Pattern[str]:
    """A `{"String": ...}` or `{"Regex": ...}` pattern of tokenizer.json.

    tokenizers compiles regexes with Oniguruma's Ruby syntax, where `^` and `$` match at every
    line, hence MULTILINE.
    """
    if "String" in pattern:
        return regex.compile(regex.escape(pattern["String"]))
    if "Regex" in pattern:
        try:
            return regex.compile(pattern["Regex"], regex.MULTILINE)
        except regex.error as exc:
            raise UserError(f"tokenizer.json: invalid {what} regex ({exc})") from None
    raise UserError(f"tokenizer.json: {what} pattern must be a String or a Regex, got {pattern!r}")


def _split(text: str, finder: regex.Pattern[str], behavior: str, invert: bool) -> list[str]:
    """`NormalizedString::split` of tokenizers: cut at the matches, keep them as `behavior` says."""
    spans: list[list[Any]] = []  # [start, end, is_delimiter]
    prev = 0
    for m in finder.finditer(text):
        start, end = m.span()
        if prev != start:
            spans.append([prev, start, invert])
        spans.append([start, end, not invert])
        prev = end
    if prev != len(text):
        spans.append([prev, len(text), invert])
    kept: list[list[Any]] = []
    if behavior == "Removed":
        kept = [s for s in spans if not s[2]]
    elif behavior == "Isolated":
        kept = spans
    elif behavior in ("Contiguous", "MergedWithPrevious"):
        previous = False
        for span in spans:
            joins = span[2] == previous if behavior == "Contiguous" else span[2] and not previous
            if joins and kept:
                kept[-1][1] = span[1]
            else:
                kept.append(span)
            previous = span[2]
    elif behavior == "MergedWithNext":
        previous = False
        for span in reversed(spans):
            if span[2] and not previous and kept:
                kept[-1][0] = span[0]
            else:
                kept.append(span)
            previous = span[2]
        kept.reverse()
    else:
        raise UserError(f"tokenizer.json: unknown split behavior {behavior!r}")
    return [text[s:e] for s, e, _ in kept if e > s]


def _split_pieces(
    pieces: list[Piece], finder: regex.Pattern[str], behavior: str, invert: bool = False
) -> list[Piece]:
    out: list[Piece] = []
    for text, at_start in pieces:
        parts = _split(text, finder, behavior, invert)
        out.extend((part, at_start and i == 0) for i, part in enumerate(parts))
    return out


Normalizer = Callable[[str], str]
PreTokenizer = Callable[[list[Piece]], list[Piece]]
Decoder = Callable[[list[str]], list[str]]


def _normalizer(spec: dict[str, Any] | None) -> Normalizer | None:
    if spec is None:
        return None
    kind = spec.get("type")
    if kind in ("NFC", "NFD", "NFKC", "NFKD"):
        form = kind
        return lambda s: unicodedata.normalize(form, s)
    if kind == "Lowercase":
        # one character at a time, as Rust does: a final "Σ" becomes "σ", not "ς"
        return lambda s: "".join(c.lower() for c in s)
    if kind == "Prepend":
        prefix = spec["prepend"]
        return lambda s: prefix + s if s else s
    if kind == "Replace":
        find, content = _compile(spec["pattern"], "Replace"), spec["content"]
        return lambda s: find.sub(content.replace("\\", "\\\\"), s)
    if kind == "Strip":
        left, right = spec.get("strip_left", True), spec.get("strip_right", True)
        return lambda s: _strip(s, left, right)
    if kind == "Sequence":
        steps = [n for n in map(_normalizer, spec["normalizers"]) if n is not None]

        def sequence(s: str) -> str:
            for step in steps:
                s = step(s)
            return s

        return sequence
    raise UserError(f"tokenizer.json: normalizer {kind!r} is not supported (only {SUPPORTED})")


def _strip(s: str, left: bool, right: bool) -> str:
    if left:
        s = s[_SPACES.match(s).end() :]  # type: ignore[union-attr]
    if right:
        s = s[: _SPACES_AT_END.search(s).start()]  # type: ignore[union-attr]
    return s


def _pre_tokenizer(spec: dict[str, Any] | None) -> PreTokenizer | None:
    if spec is None:
        return None
    kind = spec.get("type")
    if kind == "ByteLevel":
        from attento.tokenize.bpe import GPT2_PATTERN

        prefix = spec.get("add_prefix_space", True)
        words = regex.compile(GPT2_PATTERN) if spec.get("use_regex", True) else None

        def byte_level(pieces: list[Piece]) -> list[Piece]:
            if prefix:
                pieces = [(t if t.startswith(" ") else " " + t, a) for t, a in pieces]
            if words is not None:
                pieces = _split_pieces(pieces, words, "Isolated")
            return [(byte_chars(t), a) for t, a in pieces]

        return byte_level
    if kind == "Split":
        finder = _compile(spec["pattern"], "Split")
        behavior, invert = spec.get("behavior", "Isolated"), bool(spec.get("invert", False))
        return lambda pieces: _split_pieces(pieces, finder, behavior, invert)
    if kind == "Digits":
        digit = regex.compile(r"\p{N}")  # Rust's char::is_numeric: Nd, Nl, No
        behavior = "Isolated" if spec.get("individual_digits", False) else "Contiguous"
        return lambda pieces: _split_pieces(pieces, digit, behavior)
    if kind == "Metaspace":
        return _metaspace(spec)
    if kind == "Sequence":
        steps = [p for p in map(_pre_tokenizer, spec["pretokenizers"]) if p is not None]

        def sequence(pieces: list[Piece]) -> list[Piece]:
            for step in steps:
                pieces = step(pieces)
            return pieces

        return sequence
    raise UserError(f"tokenizer.json: pre_tokenizer {kind!r} is not supported (only {SUPPORTED})")


def _prepend_scheme(spec: dict[str, Any]) -> str:
    if spec.get("add_prefix_space") is False:
        return "never"
    return spec.get("prepend_scheme", "always")


def _metaspace(spec: dict[str, Any]) -> PreTokenizer:
    """SentencePiece's convention: a space is "▁", and a word carries the "▁" before it."""
    mark = spec.get("replacement", "▁")
    scheme = _prepend_scheme(spec)
    marks = regex.compile(regex.escape(mark))
    split = spec.get("split", True)

    def metaspace(pieces: list[Piece]) -> list[Piece]:
        out = []
        for text, at_start in pieces:
            text = text.replace(" ", mark)
            if not text.startswith(mark) and (
                scheme == "always" or (scheme == "first" and at_start)
            ):
                text = mark + text
            out.append((text, at_start))
        return _split_pieces(out, marks, "MergedWithNext") if split else out

    return metaspace


def _byte_level_decode(tokens: list[str]) -> list[str]:
    """Byte characters back to bytes; a token with any other character keeps its UTF-8."""
    return [b"".join(_token_byte_chars(t) for t in tokens).decode("utf-8", errors="replace")]


def _token_byte_chars(token: str) -> bytes:
    try:
        return bytes([CHAR_TO_BYTE[c] for c in token])
    except KeyError:
        return token.encode("utf-8")


def _byte_fallback_decode(tokens: list[str]) -> list[str]:
    """Runs of `<0xNN>` tokens become the text they spell (one U+FFFD per byte if invalid)."""
    out: list[str] = []
    run = bytearray()

    def flush() -> None:
        if run:
            try:
                out.append(run.decode("utf-8"))
            except UnicodeDecodeError:
                out.extend("\ufffd" * len(run))
            run.clear()

    for token in tokens:
        m = _BYTE_TOKEN.fullmatch(token) if len(token) == 6 else None
        if m:
            run.append(int(m.group(1), 16))
        else:
            flush()
            out.append(token)
    flush()
    return out


def _strip_decode(content: str, start: int, stop: int) -> Decoder:
    def strip(tokens: list[str]) -> list[str]:
        out = []
        for token in tokens:
            begin = 0
            while begin < min(start, len(token)) and token[begin] == content:
                begin += 1
            end = len(token)
            for _ in range(stop):
                if end > begin and token[end - 1] == content:
                    end -= 1
                else:
                    break
            out.append(token[begin:end])
        return out

    return strip


def _decoder(spec: dict[str, Any] | None) -> Decoder:
    if spec is None:
        return lambda tokens: [" ".join(tokens)]  # tokenizers' default
    kind = spec.get("type")
    if kind == "ByteLevel":
        return _byte_level_decode
    if kind == "ByteFallback":
        return _byte_fallback_decode
    if kind == "Fuse":
        return lambda tokens: ["".join(tokens)]
    if kind == "Replace":
        find, content = _compile(spec["pattern"], "Replace"), spec["content"]
        return lambda tokens: [find.sub(content.replace("\\", "\\\\"), t) for t in tokens]
    if kind == "Strip":
        return _strip_decode(spec["content"], spec.get("start", 0), spec.get("stop", 0))
    if kind == "Metaspace":
        mark, scheme = spec.get("replacement", "▁"), _prepend_scheme(spec)

        def metaspace(tokens: list[str]) -> list[str]:
            out = []
            for i, t in enumerate(tokens):
                t = t.replace(mark, "" if i == 0 and scheme != "never" else " ")
                out.append(t)
            return out

        return metaspace
    if kind == "Sequence":
        steps = [_decoder(d) for d in spec["decoders"]]

        def sequence(tokens: list[str]) -> list[str]:
            for step in steps:
                tokens = step(tokens)
            return tokens

        return sequence
    raise UserError(f"tokenizer.json: decoder {kind!r} is not supported (only {SUPPORTED})")


def _post_processor(spec: dict[str, Any] | None) -> Callable[[list[int]], list[int]] | None:
    """What `add_special_tokens=True` adds around one sequence (e.g. Llama's BOS)."""
    if spec is None:
        return None
    kind = spec.get("type")
    if kind == "ByteLevel":  # only moves offsets
        return lambda ids: ids
    if kind == "TemplateProcessing":
        specials = {name: list(s["ids"]) for name, s in spec.get("special_tokens", {}).items()}
        before: list[int] = []
        after: list[int] = []
        seen_sequence = False
        for item in spec["single"]:
            if "Sequence" in item:
                seen_sequence = True
            elif "SpecialToken" in item:
                name = item["SpecialToken"]["id"]
                if name not in specials:
                    raise UserError(f"tokenizer.json: template token {name!r} has no ids")
                (after if seen_sequence else before).extend(specials[name])
        return lambda ids: [*before, *ids, *after]
    if kind in ("BertProcessing", "RobertaProcessing"):
        cls, sep = spec["cls"][1], spec["sep"][1]
        return lambda ids: [cls, *ids, sep]
    if kind == "Sequence":
        steps = [p for p in map(_post_processor, spec["processors"]) if p is not None]

        def sequence(ids: list[int]) -> list[int]:
            for step in steps:
                ids = step(ids)
            return ids

        return sequence
    raise UserError(f"tokenizer.json: post_processor {kind!r} is not supported (only {SUPPORTED})")


def _token_bytes_rule(spec: dict[str, Any] | None) -> Callable[[str], bytes]:
    """How one token's string maps to the bytes it stands for, from the decoder steps."""
    kinds: list[dict[str, Any]] = []

    def walk(s: dict[str, Any] | None) -> None:
        if s is None:
            return
        if s.get("type") == "Sequence":
            for d in s["decoders"]:
                walk(d)
        else:
            kinds.append(s)

    walk(spec)
    if any(k["type"] == "ByteLevel" for k in kinds):
        return _token_byte_chars
    replaces = [
        (k["pattern"]["String"], k["content"])
        for k in kinds
        if k["type"] == "Replace" and "String" in k["pattern"]
    ]
    replaces += [(k.get("replacement", "▁"), " ") for k in kinds if k["type"] == "Metaspace"]
    fallback = any(k["type"] == "ByteFallback" for k in kinds)

    def rule(token: str) -> bytes:
        if fallback and len(token) == 6 and (m := _BYTE_TOKEN.fullmatch(token)):
            return bytes([int(m.group(1), 16)])
        for find, content in replaces:
            token = token.replace(find, content)
        return token.encode("utf-8")

    return rule


# ----------------------------------------------------------------------- tokenizer


@dataclass(frozen=True)
class AddedToken:
    """A token matched in the raw text before any other step (tokenizers' `AddedToken`)."""

    id: int
    content: str
    special: bool = False
    single_word: bool = False
    lstrip: bool = False
    rstrip: bool = False
    normalized: bool = False

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AddedToken:
        return cls(
            id=int(d["id"]),
            content=d["content"],
            special=bool(d.get("special", False)),
            single_word=bool(d.get("single_word", False)),
            lstrip=bool(d.get("lstrip", False)),
            rstrip=bool(d.get("rstrip", False)),
            normalized=bool(d.get("normalized", not d.get("special", False))),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "content": self.content,
            "single_word": self.single_word,
            "lstrip": self.lstrip,
            "rstrip": self.rstrip,
            "normalized": self.normalized,
            "special": self.special,
        }


class HFTokenizer(Tokenizer):
    """A Hugging Face `tokenizer.json` with a BPE model, run by attento's own code.

    `document` is the parsed file; `tokenizer_config` the folder's `tokenizer_config.json`
    (names of the BOS/EOS tokens, the chat template), if any.
    """

    kind = "hf"

    def __init__(
        self, document: dict[str, Any], tokenizer_config: dict[str, Any] | None = None
    ) -> None:
        if not is_hf_tokenizer_json(document):
            raise UserError("not a Hugging Face tokenizer.json (it has no 'model' with a 'type')")
        self.document = document
        self.tokenizer_config = dict(tokenizer_config or {})
        try:
            self._build(document)
        except UserError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise UserError(
                f"tokenizer.json is malformed ({type(exc).__name__}: {exc})".replace("\n", " ")
            ) from None

    def _build(self, document: dict[str, Any]) -> None:
        model = document["model"]
        kind = model["type"]
        if kind != "BPE":
            hint = {
                "Unigram": "a SentencePiece Unigram model (T5, ALBERT, XLNet)",
                "WordPiece": "WordPiece (BERT): open the folder that holds its vocab.txt",
                "WordLevel": "a word-level model",
            }.get(kind, repr(kind))
            raise UserError(f"tokenizer.json holds {hint}; attento reads {SUPPORTED}")
        for option in ("continuing_subword_prefix", "end_of_word_suffix"):
            if model.get(option):
                raise UserError(f"tokenizer.json: BPE with {option} is not supported")
        if model.get("dropout"):
            raise UserError("tokenizer.json: BPE dropout (random merges) is not supported")
        vocab = model["vocab"]
        if not isinstance(vocab, dict):
            raise UserError("tokenizer.json: the BPE vocab must map tokens to ids")
        self._vocab: dict[str, int] = {t: int(i) for t, i in vocab.items()}
        self._ranks, self._merged = _index_merges(self._vocab, model.get("merges") or [])
        self._ignore_merges = bool(model.get("ignore_merges", False))
        self._byte_fallback = bool(model.get("byte_fallback", False))
        self._fuse_unk = bool(model.get("fuse_unk", False))
        unk = model.get("unk_token")
        self._unk_id = self._vocab.get(unk) if unk is not None else None
        if unk is not None and self._unk_id is None:
            raise UserError(f"tokenizer.json: the unk_token {unk!r} is not in the vocabulary")

        self._normalize = _normalizer(document.get("normalizer"))
        self._pre_tokenize = _pre_tokenizer(document.get("pre_tokenizer"))
        self._decode = _decoder(document.get("decoder"))
        self._post_process = _post_processor(document.get("post_processor"))
        self._bytes_of = _token_bytes_rule(document.get("decoder"))

        self._id_to_token = {i: t for t, i in self._vocab.items()}
        self.added: list[AddedToken] = []
        # as tokenizers loads them: an added token keeps its id only if the model's vocabulary
        # has it; the others are numbered on from the vocabulary's size, in file order
        next_id = len(self._vocab)
        for d in document.get("added_tokens") or []:
            token = AddedToken.from_json(d)
            if not token.content:
                continue
            token_id = self.token_to_id(token.content)
            if token_id is None:
                token_id, next_id = next_id, next_id + 1
            self._register(dataclasses.replace(token, id=token_id))
        self._cache: dict[str, list[int]] = {}

    # ----------------------------------------------------------------- vocabulary

    def _register(self, token: AddedToken) -> None:
        self.added = [t for t in self.added if t.content != token.content] + [token]
        shown = token.content
        if token.normalized and self._normalize is not None:
            shown = self._normalize(token.content)
        self._id_to_token[token.id] = shown
        self._matchers: tuple[Any, Any] | None = None

    @property
    def vocab_size(self) -> int:
        return max(self._id_to_token) + 1

    @property
    def special_tokens(self) -> dict[str, int]:
        """Spelling -> id of the special added tokens (recognised only when allowed)."""
        return {t.content: t.id for t in self.added if t.special}

    def token_to_id(self, token: str) -> int | None:
        """Id of a token as the vocabulary spells it (byte characters, "▁", added tokens)."""
        for t in self.added:
            if t.content == token:
                return t.id
        return self._vocab.get(token)

    def _named_token(self, name: str) -> str | None:
        return token_name(self.tokenizer_config, name)

    @property
    def eos_token(self) -> str | None:
        return self._named_token("eos_token")

    @property
    def bos_token(self) -> str | None:
        return self._named_token("bos_token")

    @property
    def eot_id(self) -> int | None:
        """The EOS token named in tokenizer_config.json, else `<|endoftext|>` if present."""
        from attento.tokenize.bpe import ENDOFTEXT

        for name in (self.eos_token, ENDOFTEXT):
            if name is not None and (i := self.token_to_id(name)) is not None:
                return i
        return None

    @property
    def bos_id(self) -> int | None:
        return None if self.bos_token is None else self.token_to_id(self.bos_token)

    def token_bytes(self, token_id: int) -> bytes:
        try:
            token = self._id_to_token[token_id]
        except (KeyError, TypeError):
            raise UserError(
                f"token id {token_id!r} is not in this tokenizer's vocabulary"
            ) from None
        return self._bytes_of(token)

    def add_special_tokens(self, tokens: Sequence[str]) -> list[int]:
        """Give each new special token the next free id (an existing token keeps its id)."""
        ids = []
        for content in tokens:
            if not content:
                raise UserError("a special token cannot be the empty string")
            existing = self.token_to_id(content)
            if existing is None:
                existing = self.vocab_size
                self._register(AddedToken(existing, content, special=True))
            ids.append(existing)
        return ids

    # ------------------------------------------------------------------- encoding

    def encode(
        self,
        text: str,
        allowed_special: Literal["all"] | Collection[str] = (),
        add_special_tokens: bool = False,
    ) -> list[int]:
        """Token ids of `text`.

        Special tokens are recognised only if in `allowed_special` ("all": as `tokenizers`
        does by default); `add_special_tokens=True` adds what the post-processor adds (BOS).
        """
        specials = self.special_tokens
        allowed = set(specials) if allowed_special == "all" else set(allowed_special)
        unknown = allowed - set(specials)
        if unknown:
            raise UserError(f"not special tokens of this tokenizer: {', '.join(sorted(unknown))}")
        raw, normalized = self._added_matchers()
        ids: list[int] = []
        for piece, start, token_id in self._cut_added(text, raw, allowed):
            if token_id is not None:
                ids.append(token_id)
                continue
            if self._normalize is not None:
                piece = self._normalize(piece)
            for sub, sub_start, sub_id in self._cut_added(piece, normalized, allowed):
                if sub_id is not None:
                    ids.append(sub_id)
                else:
                    ids.extend(self._encode_segment(sub, start == 0 and sub_start == 0))
        if add_special_tokens and self._post_process is not None:
            ids = self._post_process(ids)
        return ids

    def _added_matchers(self) -> tuple[Any, Any]:
        """Two regexes of the added tokens: matched on the raw text, and on the normalized text."""
        if getattr(self, "_matchers", None) is None:
            groups: dict[bool, dict[str, AddedToken]] = {False: {}, True: {}}
            for t in self.added:
                normalized = t.normalized and self._normalize is not None
                key = self._normalize(t.content) if normalized else t.content  # type: ignore[misc]
                groups[t.normalized][key] = t

            def matcher(tokens: dict[str, AddedToken]) -> Any:
                if not tokens:
                    return None
                # longest first: at one position the longest token wins, as in tokenizers
                spellings = sorted(tokens, key=len, reverse=True)
                return regex.compile("|".join(map(regex.escape, spellings))), tokens

            self._matchers = (matcher(groups[False]), matcher(groups[True]))
        return self._matchers

    def _cut_added(
        self, text: str, matcher: Any, allowed: set[str]
    ) -> list[tuple[str, int, int | None]]:
        """`AddedVocabulary::find_matches`: (piece, its offset, added token id or None)."""
        if not text:
            return []
        if matcher is None:
            return [(text, 0, None)]
        finder, tokens = matcher
        out: list[tuple[str, int, int | None]] = []
        offset = 0
        for m in finder.finditer(text):
            token = tokens[m.group()]
            start, stop = m.span()
            if token.special and token.content not in allowed:
                continue  # read as ordinary text (tokenizers' encode_special_tokens)
            if token.single_word and (
                (start > 0 and _WORD_AT_END.search(text, 0, start))
                or (stop < len(text) and _WORD.match(text, stop))
            ):
                continue
            if token.lstrip:
                start = max(_SPACES_AT_END.search(text, 0, start).start(), offset)  # type: ignore[union-attr]
            if token.rstrip:
                stop = _SPACES.match(text, stop).end()  # type: ignore[union-attr]
            if offset < start:
                out.append((text[offset:start], offset, None))
            out.append((text[start:stop], start, token.id))
            offset = stop
        if offset < len(text):
            out.append((text[offset:], offset, None))
        return out

    def _encode_segment(self, text: str, at_start: bool) -> list[int]:
        """Pre-tokenize one stretch of normalized text, then BPE each word (cached)."""
        if not text:
            return []
        pieces = [(text, at_start)]
        if self._pre_tokenize is not None:
            pieces = self._pre_tokenize(pieces)
        cache = self._cache
        ids: list[int] = []
        for word, _ in pieces:
            word_ids = cache.get(word)
            if word_ids is None:
                word_ids = self._bpe(word)
                if len(cache) < _CACHE_LIMIT and len(word) < _LONG_WORD:
                    cache[word] = word_ids
            ids.extend(word_ids)
        return ids

    def _bpe(self, word: str) -> list[int]:
        """tokenizers' `BPE::merge_word`: one symbol per character, then the merges."""
        vocab = self._vocab
        if self._ignore_merges and (whole := vocab.get(word)) is not None:
            return [whole]
        ids: list[int] = []
        unk: int | None = None  # an unknown character waiting (several fuse into one)
        for ch in word:
            token_id = vocab.get(ch)
            if token_id is not None:
                if unk is not None:
                    ids.append(unk)
                    unk = None
                ids.append(token_id)
                continue
            if self._byte_fallback:
                spelled = [vocab.get(f"<0x{b:02X}>") for b in ch.encode("utf-8")]
                if None not in spelled:
                    ids.extend(spelled)  # type: ignore[arg-type]
                    continue
            if self._unk_id is not None:
                if unk is not None and not self._fuse_unk:
                    ids.append(unk)
                unk = self._unk_id
            # no unk token: tokenizers drops the character
        if unk is not None:
            ids.append(unk)
        return self._merge(ids)

    def _merge(self, ids: list[int]) -> list[int]:
        """Apply the earliest-learned merge present (leftmost on ties) until none is left.

        A short word rescans its pairs after each merge; a long one (Llama 2 without a
        pre-tokenizer makes the whole text one word) keeps them in a heap, as tokenizers does.
        """
        if len(ids) > _LONG_WORD:
            return self._merge_long(ids)
        ranks, merged = self._ranks, self._merged
        pair_ranks = [ranks.get(p, _NO_MERGE) for p in pairwise(ids)]
        while pair_ranks:
            best = min(pair_ranks)
            if best == _NO_MERGE:
                break
            i = pair_ranks.index(best)
            ids[i : i + 2] = [merged[ids[i], ids[i + 1]]]
            del pair_ranks[i]
            if i > 0:
                pair_ranks[i - 1] = ranks.get((ids[i - 1], ids[i]), _NO_MERGE)
            if i < len(pair_ranks):
                pair_ranks[i] = ranks.get((ids[i], ids[i + 1]), _NO_MERGE)
        return ids

    def _merge_long(self, ids: list[int]) -> list[int]:
        """The same merges with a heap of (rank, position) and a linked list of symbols."""
        ranks, merged = self._ranks, self._merged
        n = len(ids)
        symbols = list(ids)
        before = list(range(-1, n - 1))
        after = [*range(1, n), -1]
        alive = [True] * n
        heap = [(r, i) for i, p in enumerate(pairwise(ids)) if (r := ranks.get(p)) is not None]
        heapq.heapify(heap)
        while heap:
            rank, i = heapq.heappop(heap)
            j = after[i]
            # an entry is stale once the pair at i changed (then so did its rank)
            if not alive[i] or j < 0 or ranks.get((symbols[i], symbols[j])) != rank:
                continue
            symbols[i] = merged[symbols[i], symbols[j]]
            alive[j] = False
            k = after[i] = after[j]
            if k >= 0:
                before[k] = i
            h = before[i]
            if h >= 0 and (r := ranks.get((symbols[h], symbols[i]))) is not None:
                heapq.heappush(heap, (r, h))
            if k >= 0 and (r := ranks.get((symbols[i], symbols[k]))) is not None:
                heapq.heappush(heap, (r, i))
        return [s for s, keep in zip(symbols, alive, strict=True) if keep]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        """Text of `ids` through the file's decoder; invalid UTF-8 becomes U+FFFD."""
        table = self._id_to_token
        try:
            tokens = [table[i] for i in ids]
        except (KeyError, TypeError):
            bad = next(i for i in ids if i not in table)
            raise UserError(f"token id {bad!r} is not in this tokenizer's vocabulary") from None
        if skip_special_tokens:
            special = set(self.special_tokens.values())
            tokens = [t for i, t in zip(ids, tokens, strict=True) if i not in special]
        return "".join(self._decode(tokens))

    # ---------------------------------------------------------------- save / load

    def config(self) -> dict[str, Any]:
        """The tokenizer.json document, with any special tokens added since loading."""
        document = dict(self.document)
        document["added_tokens"] = [t.to_json() for t in sorted(self.added, key=lambda t: t.id)]
        return document

    def save(self, directory: str | Path) -> Path:
        """Write Hugging Face's own files, which `load_tokenizer` recognises by content."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        _write_json(directory / HF_FILE, self.config())
        if self.tokenizer_config:
            _write_json(directory / CONFIG_JSON, self.tokenizer_config)
        return directory

    @classmethod
    def from_config(cls, config: dict[str, Any], directory: Path) -> HFTokenizer:
        return cls(config, read_tokenizer_config(Path(directory)))


def _index_merges(
    vocab: dict[str, int], merges: Sequence[Any]
) -> tuple[dict[tuple[int, int], int], dict[tuple[int, int], int]]:
    """(left id, right id) -> rank and -> merged id, from both formats of merges: "a b"
    strings (older files, merges.txt) and ["a", "b"] pairs. A later duplicate wins, as in
    tokenizers."""
    ranks: dict[tuple[int, int], int] = {}
    merged: dict[tuple[int, int], int] = {}
    for rank, merge in enumerate(merges):
        if isinstance(merge, str):
            parts = merge.split(" ")
            if len(parts) != 2:
                raise UserError(f"tokenizer.json: merge {rank + 1} is not 'left right': {merge!r}")
        else:
            parts = list(merge)
        left, right = parts
        try:
            pair = (vocab[left], vocab[right])
            new = vocab[left + right]
        except KeyError as exc:
            raise UserError(
                f"tokenizer.json: merge {rank + 1} ({left!r} + {right!r}) uses {exc.args[0]!r}, "
                "which is not in the vocabulary"
            ) from None
        ranks[pair] = rank
        merged[pair] = new
    return ranks, merged


# ----------------------------------------------------------------------- loading


def token_name(tokenizer_config: dict[str, Any], key: str) -> str | None:
    """A named token of tokenizer_config.json ("eos_token"): a string, or an AddedToken dict."""
    value = tokenizer_config.get(key)
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path} is not readable JSON ({exc})") from None


def _write_json(path: Path, data: Any) -> None:
    """Write through a temporary sibling and rename, so a crash never leaves half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def read_tokenizer_config(folder: Path) -> dict[str, Any]:
    """`tokenizer_config.json`, with the token names of `special_tokens_map.json` it lacks and
    the chat templates of `chat_template.jinja` / `additional_chat_templates/*.jinja`, which
    take priority over the config's own, as in transformers."""
    config: dict[str, Any] = {}
    if (folder / CONFIG_JSON).is_file():
        loaded = _read_json(folder / CONFIG_JSON)
        if isinstance(loaded, dict):
            config = loaded
    if (folder / SPECIAL_MAP_JSON).is_file():
        names = _read_json(folder / SPECIAL_MAP_JSON)
        if isinstance(names, dict):
            for key, value in names.items():
                if key.endswith("_token"):
                    config.setdefault(key, value)
    templates: dict[str, str] = {}
    if (folder / "chat_template.jinja").is_file():
        templates["default"] = (folder / "chat_template.jinja").read_text(encoding="utf-8")
    extra = folder / "additional_chat_templates"
    if extra.is_dir():
        for path in sorted(extra.glob("*.jinja")):
            templates[path.name.removesuffix(".jinja")] = path.read_text(encoding="utf-8")
    if list(templates) == ["default"]:
        config["chat_template"] = templates["default"]
    elif templates:
        config["chat_template"] = templates
    return config


def load_hf_folder(folder: str | Path) -> HFTokenizer:
    """The tokenizer of a Hugging Face model folder: tokenizer.json, else vocab.json + merges.txt."""
    folder = Path(folder)
    config = read_tokenizer_config(folder)
    if (folder / HF_FILE).is_file():
        return HFTokenizer(_read_json(folder / HF_FILE), config)
    if (folder / VOCAB_JSON).is_file() and (folder / MERGES_TXT).is_file():
        return from_vocab_merges(folder / VOCAB_JSON, folder / MERGES_TXT, config)
    if (folder / SENTENCEPIECE_MODEL).is_file():
        raise UserError(f"{folder} has only a SentencePiece {SENTENCEPIECE_MODEL}: {_SP_HINT}")
    raise UserError(f"{folder} holds no tokenizer.json, nor vocab.json + merges.txt")


_SP_HINT = (
    "attento reads Hugging Face tokenizer.json; write one with "
    "`AutoTokenizer.from_pretrained(DIR).save_pretrained(DIR)` (transformers + sentencepiece)"
)


def from_vocab_merges(
    vocab_path: str | Path, merges_path: str | Path, tokenizer_config: dict[str, Any] | None = None
) -> HFTokenizer:
    """GPT-2's original pair of files, read as transformers' GPT2Tokenizer reads them.

    Special tokens come from `added_tokens_decoder` in tokenizer_config.json, else the
    named tokens (bos/eos/unk/pad) found in the vocabulary, else `<|endoftext|>`.
    """
    from attento.tokenize.bpe import ENDOFTEXT

    config = dict(tokenizer_config or {})
    vocab = _read_json(Path(vocab_path))
    if not isinstance(vocab, dict):
        raise UserError(f"{vocab_path}: expected a JSON object of token -> id")
    try:
        text = Path(merges_path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{merges_path} is not readable ({exc})") from None
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    merges = [line for line in lines if not line.startswith("#version")]
    added: dict[int, dict[str, Any]] = {}
    for key, d in (config.get("added_tokens_decoder") or {}).items():
        added[int(key)] = {"id": int(key), **{k: v for k, v in d.items() if k != "__type"}}
    if not added:
        names = [token_name(config, n) for n in ("bos_token", "eos_token", "unk_token")]
        for name in [*names, ENDOFTEXT]:
            if name is not None and name in vocab:
                added[vocab[name]] = {"id": vocab[name], "content": name, "special": True}
    document = {
        "added_tokens": sorted(added.values(), key=lambda d: d["id"]),
        "normalizer": None,
        "pre_tokenizer": {
            "type": "ByteLevel",
            "add_prefix_space": bool(config.get("add_prefix_space", False)),
            "trim_offsets": True,
            "use_regex": True,
        },
        "post_processor": None,
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "vocab": vocab, "merges": merges},
    }
    return HFTokenizer(document, config)


# ------------------------------------------------------------------------ export


def hf_document(tokenizer: Tokenizer) -> tuple[dict[str, Any], dict[str, Any]]:
    """`tokenizer.json` and `tokenizer_config.json` contents for an attento tokenizer."""
    from attento.tokenize.bpe import ENDOFTEXT, IM_END, IM_START, BPETokenizer
    from attento.tokenize.char import UNK, CharTokenizer

    if isinstance(tokenizer, HFTokenizer):
        return tokenizer.config(), dict(tokenizer.tokenizer_config)
    config: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "clean_up_tokenization_spaces": False,
    }
    if isinstance(tokenizer, BPETokenizer):
        added = [AddedToken(i, s, special=True) for s, i in tokenizer.special_tokens.items()]
        added.sort(key=lambda t: t.id)
        vocab = {_bytes_as_chars(t): r for t, r in tokenizer.ranks.items()}
        # tokenizers numbers added tokens on from the vocabulary's size, and keeps another id
        # only for a token the vocabulary holds too: put them there if they have gaps (cl100k)
        if [t.id for t in added] != list(range(len(vocab), len(vocab) + len(added))):
            vocab.update({t.content: t.id for t in added})
        model = _bpe_model(vocab, _tiktoken_merges(tokenizer.ranks), ignore_merges=True)
        pre_tokenizer: dict[str, Any] | None = {
            "type": "Sequence",
            "pretokenizers": [
                {
                    "type": "Split",
                    "pattern": {"Regex": oniguruma_pattern(tokenizer.regex)},
                    "behavior": "Isolated",
                    "invert": False,
                },
                {
                    "type": "ByteLevel",
                    "add_prefix_space": False,
                    "trim_offsets": True,
                    "use_regex": False,
                },
            ],
        }
        decoder: dict[str, Any] = {
            "type": "ByteLevel",
            "add_prefix_space": True,
            "trim_offsets": True,
            "use_regex": True,
        }
        if ENDOFTEXT in tokenizer.special_tokens:
            config["eos_token"] = ENDOFTEXT
        markers = (IM_START, IM_END) if IM_START in tokenizer.special_tokens else None
    elif isinstance(tokenizer, CharTokenizer):
        from attento.align.chat import CHAR_IM_END, CHAR_IM_START

        added = []
        vocab = {c: i for i, c in enumerate(tokenizer.chars)}
        if tokenizer.unk_id is not None:
            vocab[UNK] = tokenizer.unk_id
        # no pre-tokenizer: the whole text is one word, split into characters, and no merges
        model = _bpe_model(vocab, [], unk_token=UNK if tokenizer.unk else None)
        pre_tokenizer = None
        decoder = {"type": "Fuse"}
        markers = (CHAR_IM_START, CHAR_IM_END) if CHAR_IM_START in vocab else None
        if tokenizer.unk:
            config["unk_token"] = UNK
    else:
        raise UserError(f"cannot write a {tokenizer.kind!r} tokenizer as tokenizer.json")
    if markers is not None:
        config["chat_template"] = chatml_template(*markers)
    document = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [t.to_json() for t in added],
        "normalizer": None,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": None,
        "decoder": decoder,
        "model": model,
    }
    return document, config


def to_hf_json(tokenizer: Tokenizer, folder: str | Path) -> Path:
    """Write `tokenizer` as Hugging Face's `tokenizer.json` + `tokenizer_config.json` into
    `folder` (a model export folder: attento's own tokenizer file has the same name)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    document, config = hf_document(tokenizer)
    _write_json(folder / HF_FILE, document)
    _write_json(folder / CONFIG_JSON, config)
    return folder


def chatml_template(start: str, end: str) -> str:
    """The ChatML chat template (what `attento.align.chat` renders), with these markers."""
    return (
        "{% for message in messages %}{{ '" + start + "' + message['role'] + '\\n' + "
        "message['content'] + '" + end + "' + '\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '" + start + "assistant\\n' }}{% endif %}"
    )


def _bpe_model(
    vocab: dict[str, int],
    merges: list[list[str]],
    ignore_merges: bool = False,
    unk_token: str | None = None,
) -> dict[str, Any]:
    return {
        "type": "BPE",
        "dropout": None,
        "unk_token": unk_token,
        "continuing_subword_prefix": None,
        "end_of_word_suffix": None,
        "fuse_unk": False,
        "byte_fallback": False,
        "ignore_merges": ignore_merges,
        "vocab": vocab,
        "merges": merges,
    }


def _bytes_as_chars(token: bytes) -> str:
    return token.decode("latin-1").translate(_LATIN1_TO_BYTE_CHAR)


def _tiktoken_merges(ranks: dict[bytes, int]) -> list[list[str]]:
    """Merges under which tokenizers' BPE gives tiktoken's ids.

    tiktoken merges *any* adjacent pair whose concatenation is a token, lowest rank first, so
    every way of cutting a token in two known halves is a merge, ranked by the token's rank
    (then by the halves' ranks, as transformers' tiktoken converter does). With
    `ignore_merges` (a whole word in the vocabulary is one token) this is tiktoken's rule.
    """
    merges: list[tuple[int, int, int, bytes, bytes]] = []
    for token, rank in ranks.items():
        for cut in range(1, len(token)):
            left, right = token[:cut], token[cut:]
            if left in ranks and right in ranks:
                merges.append((rank, ranks[left], ranks[right], left, right))
    merges.sort()
    return [[_bytes_as_chars(left), _bytes_as_chars(right)] for *_, left, right in merges]


def oniguruma_pattern(pattern: str) -> str:
    """`pattern` as tokenizers' Oniguruma (Ruby syntax) reads it the way `regex` reads ours.

    In Ruby syntax `{1,3}+` is not possessive but "one or more times {1,3}", so cl100k's
    `\\p{N}{1,3}+` would take any run of digits; alone in its branch it means `\\p{N}{1,3}`.
    """
    return regex.sub(r"(\{\d+(?:,\d*)?\})\+", r"\1", pattern)

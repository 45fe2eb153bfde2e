"""WordPiece: the tokenizer of BERT and the encoder models that followed it.

BERT reads a fixed vocabulary (`vocab.txt`, one piece per line, line number = id) and splits
text in two stages.

1. Basic tokenization turns raw text into words:
   - clean: drop NUL, U+FFFD and control/format characters, turn every kind of whitespace
     into a plain space;
   - put spaces around CJK ideographs, so each Chinese character becomes its own word
     (Chinese is written without spaces, and the vocabulary holds single ideographs);
   - for uncased models, strip accents (decompose with NFD, drop the combining marks:
     "città" -> "citta") and lower-case;
   - split on spaces, and cut every punctuation character out as a word of its own
     ("ciao!!" -> "ciao", "!", "!"). Punctuation here is ASCII 33-47, 58-64, 91-96,
     123-126 (so `$`, `+`, `^` count) plus every Unicode category P* character.
2. WordPiece splits each word into vocabulary pieces, greedily taking the longest piece
   that matches from the left; pieces after the first carry a "##" prefix to say "glued to
   the previous piece": "tokenization" -> "token", "##ization". If some part of a word
   matches nothing, or the word is longer than 100 characters, the whole word becomes
   `[UNK]` -- unlike byte-level BPE, WordPiece can meet text it cannot represent.

A model input adds the special tokens: `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`, with
`token_type_ids` 0 for the first segment and 1 for the second. `[PAD]` fills batches and
`[MASK]` hides the words a masked language model must guess.

We follow what `transformers.BertTokenizer` does today, which is the Rust `tokenizers`
library rather than Google's original Python: accents are stripped before lower-casing,
lower-casing goes one character at a time (a final "Σ" becomes "σ", not "ς"), unassigned
code points are kept rather than dropped, and special tokens written in the text
("[SEP]") are recognised as such.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from attento.errors import UserError
from attento.tokenize.base import Tokenizer, check_ids
from attento.tokenize.files import data_file, read_json, setting

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)
PREFIX = "##"  # marks a piece that continues the previous one
VOCAB_FILE = "vocab.txt"

# CJK ideograph blocks (as in the Rust tokenizers library, whose extension range starts at
# U+2B920 where Google's Python started at U+2B820).
CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B920, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
# Unicode White_Space characters that survive cleaning (the others are controls, dropped).
WHITESPACE = frozenset(" \t\n\r\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | frozenset(
    map(chr, range(0x2000, 0x200B))
)
# Hugging Face's decoding clean-up ("hello , world" -> "hello, world"). It runs on each piece
# with its leading space, so in practice only . ? ! , lose the space before them.
CLEANUP = (
    (" .", "."),
    (" ?", "?"),
    (" !", "!"),
    (" ,", ","),
    (" ' ", "'"),
    (" n't", "n't"),
    (" 'm", "'m"),
    (" do not", " don't"),
    (" 's", "'s"),
    (" 've", "'ve"),
    (" 're", "'re"),
)


# The Rust library classifies characters with Unicode 8.0 tables (2015). Characters added
# since then, where Python's newer tables call them punctuation, accents or format controls,
# count as unassigned for it ("Cn": kept as letters), and three changed category; we use its
# view so that ids match Hugging Face exactly.
NEWER_THAN_UNICODE_8 = (
    "61D 7FD 890-891 898-89F 8CA-8E2 9FD-9FE A76 AFA-AFF B55 C04 C3C C77 C84 D00 D3B-D3C D81 "
    "EBA 180F 1885-1886 1ABF-1ACE 1B7D-1B7E 1DF6-1DFB 2E43-2E4F 2E52-2E5D A82C A8C5 A8FF A9BD "
    "10D24-10D27 10EAB-10EAD 10F46-10F50 10F55-10F59 10F82-10F89 11070 11073-11074 110C2 "
    "110CD 111CF 1123E 1133B 11438-1143F 11442-11444 11446 1144B-1144F 1145A-1145B "
    "1145D-1145E 11660-1166C 116B9 1182F-11837 11839-1183B 1193B-1193C 1193E 11943-11946 "
    "119D4-119D7 119DA-119DB 119E0 119E2 11A01-11A0A 11A33-11A38 11A3B-11A47 11A51-11A56 "
    "11A59-11A5B 11A8A-11A96 11A98-11A9C 11A9E-11AA2 11C30-11C36 11C38-11C3D 11C3F "
    "11C41-11C45 11C70-11C71 11C92-11CA7 11CAA-11CB0 11CB2-11CB3 11CB5-11CB6 11D31-11D36 "
    "11D3A 11D3C-11D3D 11D3F-11D45 11D47 11D90-11D91 11D95 11D97 11EF3-11EF4 11EF7-11EF8 "
    "11FFF 12FF1-12FF2 13430-13438 16E97-16E9A 16F4F 16FE2 16FE4 1CF00-1CF2D 1CF30-1CF46 "
    "1E000-1E006 1E008-1E018 1E01B-1E021 1E023-1E024 1E026-1E02A 1E130-1E136 1E2AE "
    "1E2EC-1E2EF 1E944-1E94A 1E95E-1E95F"
)


def _code_points(spans: str) -> list[int]:
    """Expand hex ranges: "41-43 61" -> [0x41, 0x42, 0x43, 0x61]."""
    out = []
    for span in spans.split():
        lo, _, hi = span.partition("-")
        out.extend(range(int(lo, 16), int(hi or lo, 16) + 1))
    return out


OLD_CATEGORY = {
    **dict.fromkeys(_code_points(NEWER_THAN_UNICODE_8), "Cn"),
    0x111C9: "Po",
    0x166D: "Po",
    0x1734: "Mn",
}


def category(ch: str) -> str:
    """Unicode general category (e.g. "Lu", "Mn", "Po") as BERT's reference tables give it."""
    return OLD_CATEGORY.get(ord(ch)) or unicodedata.category(ch)


def is_control(ch: str) -> bool:
    """Characters that cleaning removes: controls, formats, private use (not tab/newline)."""
    if ch in "\t\n\r":
        return False
    return category(ch) in ("Cc", "Cf", "Co", "Cs")


def is_chinese(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in CJK_RANGES)


def is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return category(ch).startswith("P")


class _CharTable(dict):
    """A `str.translate` table that fills itself: each code point is classified once."""

    def __init__(self, rule: Callable[[str], str | None]) -> None:
        super().__init__()
        self.rule = rule

    def __missing__(self, cp: int) -> str | None:
        out = self[cp] = self.rule(chr(cp))
        return out


def _clean(ch: str) -> str | None:
    if ch in ("\0", "\ufffd") or is_control(ch):
        return None
    return " " if ch in WHITESPACE else ch


def _clean_and_space_cjk(ch: str) -> str | None:
    out = _clean(ch)
    return f" {ch} " if out is not None and is_chinese(ch) else out


CLEAN = _CharTable(_clean)
CLEAN_CJK = _CharTable(_clean_and_space_cjk)
DROP_MARKS = _CharTable(lambda ch: None if category(ch) == "Mn" else ch)
LOWER = _CharTable(str.lower)  # one character at a time, like Rust's char::to_lowercase


def split_punctuation(word: str) -> list[str]:
    """'ciao!!' -> ['ciao', '!', '!']: every punctuation character stands alone."""
    parts: list[str] = []
    start = 0
    for i, ch in enumerate(word):
        if is_punctuation(ch):
            if start < i:
                parts.append(word[start:i])
            parts.append(ch)
            start = i + 1
    if start < len(word):
        parts.append(word[start:])
    return parts


class WordPieceTokenizer(Tokenizer):
    kind = "wordpiece"

    def __init__(
        self,
        vocab: Sequence[str],
        do_lower_case: bool = True,
        strip_accents: bool | None = None,
        tokenize_chinese_chars: bool = True,
        max_input_chars_per_word: int = 100,
    ) -> None:
        for name, value, kinds in (
            ("do_lower_case", do_lower_case, (bool,)),
            ("strip_accents", strip_accents, (bool, type(None))),
            ("tokenize_chinese_chars", tokenize_chinese_chars, (bool,)),
            ("max_input_chars_per_word", max_input_chars_per_word, (int,)),
        ):
            setting({name: value}, name, kinds)
        if max_input_chars_per_word < 1:
            raise UserError("'max_input_chars_per_word' must be at least 1")
        self.vocab = list(vocab)
        self.ids = {piece: i for i, piece in enumerate(self.vocab)}  # a repeated line: last wins
        missing = [t for t in SPECIAL_TOKENS if t not in self.ids]
        if missing:
            raise UserError(f"the WordPiece vocabulary lacks the special token(s) {missing}")
        self.do_lower_case = do_lower_case
        self.strip_accents = strip_accents  # None: strip when lower-casing, as BERT does
        self.tokenize_chinese_chars = tokenize_chinese_chars
        self.max_input_chars_per_word = max_input_chars_per_word
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (
            self.ids[t] for t in SPECIAL_TOKENS
        )
        self.special_ids = frozenset(self.ids[t] for t in SPECIAL_TOKENS)
        # The longest piece bounds the search for the longest match.
        self._longest = max(len(p.removeprefix(PREFIX)) for p in self.vocab)
        self._special_re = re.compile("(" + "|".join(map(re.escape, SPECIAL_TOKENS)) + ")")
        self._word_ids = lru_cache(maxsize=1 << 16)(self._word_to_ids)

    @classmethod
    def from_vocab_file(cls, path: str | Path, **options: Any) -> WordPieceTokenizer:
        """Read a BERT `vocab.txt`; settings come from a Hugging Face `tokenizer_config.json`
        next to it when present (e.g. a cased model), then from `options`."""
        path = Path(path)
        if path.is_dir():
            path = path / VOCAB_FILE
        if not path.is_file():
            raise UserError(f"{path} not found: a WordPiece tokenizer needs a vocab.txt")
        try:
            vocab = path.read_text(encoding="utf-8").split("\n")
        except UnicodeDecodeError:
            raise UserError(f"{path} is not a UTF-8 text file") from None
        except OSError as exc:
            raise UserError(f"{path} cannot be read ({exc.strerror or exc})") from None
        if vocab and vocab[-1] == "":
            vocab.pop()
        vocab = [line.rstrip("\r") for line in vocab]
        settings = {**_hf_settings(path.parent / "tokenizer_config.json"), **options}
        try:
            return cls(vocab, **settings)
        except UserError as exc:
            raise UserError(f"{path}: {exc}") from None

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def eot_id(self) -> int:
        """BERT marks the end of each segment with [SEP]."""
        return self.sep_id

    # --- text -> ids ---------------------------------------------------------------------

    def normalize(self, text: str) -> str:
        """Basic tokenization before the split: clean, space CJK, strip accents, lower-case."""
        text = text.translate(CLEAN_CJK if self.tokenize_chinese_chars else CLEAN)
        strip = self.do_lower_case if self.strip_accents is None else self.strip_accents
        if strip and not text.isascii():
            text = unicodedata.normalize("NFD", text).translate(DROP_MARKS)
        if self.do_lower_case:
            text = text.lower() if text.isascii() else text.translate(LOWER)
        return text

    def pre_tokenize(self, text: str) -> list[str]:
        """The words WordPiece will see: normalised text split on spaces and punctuation."""
        return [p for word in self.normalize(text).split() for p in split_punctuation(word)]

    def encode(self, text: str) -> list[int]:
        """Word-piece ids without [CLS]/[SEP]; special tokens typed in the text are kept."""
        ids: list[int] = []
        for i, chunk in enumerate(self._special_re.split(text)):
            if i % 2:
                ids.append(self.ids[chunk])
                continue
            for word in self.normalize(chunk).split():
                ids.extend(self._word_ids(word))
        return ids

    def _word_to_ids(self, word: str) -> tuple[int, ...]:
        """One space-free word (punctuation not yet split) -> piece ids; cached."""
        return tuple(i for part in split_punctuation(word) for i in self.wordpiece(part))

    def wordpiece(self, word: str) -> list[int]:
        """Greedy longest-match-first split of one word; any gap makes the whole word [UNK]."""
        if len(word) > self.max_input_chars_per_word:
            return [self.unk_id]
        ids, start = [], 0
        while start < len(word):
            end = min(len(word), start + self._longest)
            while end > start:
                piece = word[start:end] if start == 0 else PREFIX + word[start:end]
                if piece in self.ids:
                    ids.append(self.ids[piece])
                    break
                end -= 1
            else:
                return [self.unk_id]
            start = end
        return ids

    def encode_for_model(
        self, text: str, text_pair: str | None = None, max_length: int | None = None
    ) -> dict[str, list[int]]:
        """`[CLS] text [SEP] (text_pair [SEP])` with `token_type_ids` and `attention_mask`,
        like `BertTokenizer(text, text_pair)`. With `max_length`, pieces are dropped from the
        ends of the segments, the longer one first, until everything fits."""
        first = self.encode(text)
        second = self.encode(text_pair) if text_pair else None  # "" means no pair, as in HF
        if max_length is not None:
            first, second = self._truncate(first, second, max_length)
        ids = [self.cls_id, *first, self.sep_id]
        types = [0] * len(ids)
        if second is not None:
            ids += [*second, self.sep_id]
            types += [1] * (len(second) + 1)
        return {"input_ids": ids, "token_type_ids": types, "attention_mask": [1] * len(ids)}

    @staticmethod
    def _truncate(
        first: list[int], second: list[int] | None, max_length: int
    ) -> tuple[list[int], list[int] | None]:
        room = max_length - (2 if second is None else 3)
        if room < 0:
            raise UserError(f"max_length={max_length} leaves no room beside [CLS] and [SEP]")
        if second is None:
            return first[:room], None
        n1, n2 = len(first), len(second)
        if n1 + n2 > room:
            # The shorter segment stays whole if it fits in half the room, else each gets half
            # (the longer one, or the second on a tie, the odd piece), as Hugging Face does.
            shorter = min(n1, n2)
            keep_short = shorter if 2 * shorter <= room else room // 2
            n1, n2 = (room - keep_short, keep_short) if n1 > n2 else (keep_short, room - keep_short)
        return first[:n1], second[:n2]

    # --- ids -> text ---------------------------------------------------------------------

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        """Join pieces: "##" pieces glue to the previous one, others get a space; the space
        before . , ! ? is removed (this cannot undo lower-casing or accent stripping)."""
        check_ids(ids, self.vocab_size)
        if skip_special_tokens:
            ids = [i for i in ids if i not in self.special_ids]
        out = []
        for n, i in enumerate(ids):
            piece = self.vocab[i]
            if n:
                piece = piece[len(PREFIX) :] if piece.startswith(PREFIX) else " " + piece
            for dirty, clean in CLEANUP:
                piece = piece.replace(dirty, clean)
            out.append(piece)
        return "".join(out)

    def token_bytes(self, token_id: int) -> bytes:
        check_ids([token_id], self.vocab_size)
        return self.vocab[token_id].encode("utf-8")

    # --- files ---------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return {
            "do_lower_case": self.do_lower_case,
            "strip_accents": self.strip_accents,
            "tokenize_chinese_chars": self.tokenize_chinese_chars,
            "max_input_chars_per_word": self.max_input_chars_per_word,
        }

    def _save_data(self, directory: Path) -> None:
        (directory / VOCAB_FILE).write_text("".join(p + "\n" for p in self.vocab), encoding="utf-8")

    @classmethod
    def from_config(cls, config: dict[str, Any], directory: Path) -> WordPieceTokenizer:
        settings = {k: v for k, v in config.items() if k != "type"}
        unknown = set(settings) - {
            "do_lower_case",
            "strip_accents",
            "tokenize_chinese_chars",
            "max_input_chars_per_word",
        }
        if unknown:
            raise UserError(f"unknown WordPiece settings in tokenizer.json: {sorted(unknown)}")
        return cls.from_vocab_file(data_file(Path(directory), VOCAB_FILE, "vocab"), **settings)


def _hf_settings(path: Path) -> dict[str, Any]:
    """The WordPiece settings of a Hugging Face `tokenizer_config.json`, if there is one."""
    if not path.is_file():
        return {}
    config = read_json(path)
    keys = ("do_lower_case", "strip_accents", "tokenize_chinese_chars")
    return {k: config[k] for k in keys if k in config} if isinstance(config, dict) else {}

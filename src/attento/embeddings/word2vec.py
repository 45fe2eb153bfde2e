"""word2vec: word vectors learnt from which words appear near which (skip-gram with negative
sampling, Mikolov et al. 2013), the method behind the course's vector-arithmetic figures.

The idea: a word is known by the company it keeps. Every occurrence of a word (the *centre*)
is asked to predict the words around it (its *context*), and two words that keep the same
company end up with similar vectors.

- *Two tables.* Each word w has an input vector v_w (row of `W_in`, the one we keep as "the
  embedding") and an output vector u_w (row of `W_out`, used only as a context word). Using
  two tables keeps a word from having to be near itself.
- *Window.* The context of a centre word is the words at most `window` positions away; as in
  word2vec, each centre draws its own window size b in 1..window, so near words count more.
- *Negative sampling.* Rather than a softmax over the whole vocabulary, each true pair
  (centre c, context o) is contrasted with `negatives` random words k:

      loss = -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c)

  so the model learns to tell real neighbours from noise. The noise words are drawn from the
  unigram distribution raised to the 3/4 power, which gives rare words more chances than
  their frequency alone would.
- *Subsampling of frequent words.* Words like "e", "che", "la" are near everything and say
  little; each occurrence of a word with corpus frequency f is dropped with probability
  1 - sqrt(t / f) (t = `sample`, 1e-3 here), drawn afresh every epoch.

Words: `words()` lower-cases the text and keeps runs of letters. Italian elision is split at
the apostrophe, keeping the apostrophe on the elided part: "l’amor" -> "l’", "amor";
"ch’i’" -> "ch’", "i’". The content word then shares its vector with its unelided
occurrences ("amor" alone), and the elided article or pronoun becomes a frequent
function word that subsampling mostly removes; gluing "l’amor" into one token would
instead split every noun across a dozen rare forms. A leading apostrophe ("’l" for "il")
is kept on the word for the same reason: it is an article, not the letter "l". The
diaeresis Dante writes for the metre is dropped ("bëatrice" is "beatrice"); accents stay.

Training is word2vec's SGD (one step per pair, learning rate decaying linearly to zero),
with the gradients written out (`sgns_gradients`) and the pairs of a mini-batch applied
together with torch on the CPU; everything random comes from one seeded generator, so the same
corpus and settings give the same vectors.
"""

from __future__ import annotations

import json
import math
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from attento.config import Config, check_counts, check_positive
from attento.embeddings.embedder import VectorEmbedder
from attento.errors import UserError
from attento.messages import user_error
from attento.seeds import check_seed

APOSTROPHES = "'’‘`"
DIAERESIS = "\u0308"  # Dante's metrical mark: "bëatrice" is "beatrice"
WORD = re.compile(r"[’]?[^\W\d_]+[’]?")
VECTORS_FILE, VOCAB_FILE = "vectors.safetensors", "vocab.json"
HEADING = re.compile(r"^(?:[^a-z]*[A-Z][^a-z]*|.+ • Canto [IVXLC]+)$")
BUNDLED_WORDS = Path(__file__).resolve().parents[1] / "assets" / "words"


def verses(text: str) -> str:
    """The text without its heading lines (all capitals, or "Inferno • Canto I"): in the
    Divina Commedia they would make "inferno", "canto" and the Roman numerals neighbours
    only because every canto starts with them."""
    kept = [line for line in text.splitlines() if not HEADING.match(line.strip())]
    return "\n".join(kept)


def words(text: str) -> list[str]:
    """Lower-cased words of letters; elisions split after the apostrophe (see the module)."""
    text = unicodedata.normalize("NFD", text.lower()).replace(DIAERESIS, "")
    text = unicodedata.normalize("NFC", text)
    for a in APOSTROPHES:
        text = text.replace(a, "’")
    return [w for w in WORD.findall(text) if w.strip("’")]


@dataclass
class Word2VecSettings(Config):
    """The recipe of a word2vec run; the bundled vectors record theirs in vocab.json.

    dim: numbers in each word's vector
    window: the farthest context word, in words on either side of the centre
    negatives: noise words contrasted with each true (centre, context) pair
    min_count: a word seen fewer times than this gets no vector
    sample: subsampling threshold t: an occurrence of a word of frequency f is dropped
        with probability 1 - sqrt(t / f)
    epochs: passes over the corpus
    batch_size: (centre, context) pairs applied together in one step
    learning_rate: the starting SGD step, decaying linearly to zero
    max_words: keep only the most frequent words, at most this many
    seed: seed of every random draw (same corpus and settings, same vectors)
    """

    what = "word2vec"

    dim: int = 50
    window: int = 10
    negatives: int = 5
    min_count: int = 5
    sample: float = 1e-4
    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 0.025
    max_words: int = 8000
    seed: int = 0

    def check(self) -> None:
        names = ("dim", "window", "negatives", "min_count", "epochs", "batch_size", "max_words")
        check_counts(self, *names)
        check_positive(self, "learning_rate", "sample")
        if self.max_words < 2:
            raise UserError(f"max_words must be at least 2, got {self.max_words}")
        check_seed(self.seed)


PRESETS = {"dante-words": ("divina_commedia", Word2VecSettings())}


# --- the loss, on plain tensors ----------------------------------------------------------------


def sgns_loss(centre: torch.Tensor, context: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Skip-gram negative-sampling loss of each pair in a batch, shape (B,).

    centre (B, D): v_c; context (B, D): u_o; noise (B, K, D): u_k.
    loss = -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c)."""
    positive = torch.nn.functional.logsigmoid((centre * context).sum(-1))
    negative = torch.nn.functional.logsigmoid(-(noise @ centre.unsqueeze(-1)).squeeze(-1))
    return -(positive + negative.sum(-1))


def sgns_gradients(
    centre: torch.Tensor, context: torch.Tensor, noise: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss per pair, dL/dv_c, dL/du_o, dL/du_k), written out as word2vec does by hand:
    with s = u·v_c, d(-log σ(s))/ds = σ(s) - 1 and d(-log σ(-s))/ds = σ(s), so

        dL/dv_c = (σ(u_o·v_c) - 1) u_o + Σ_k σ(u_k·v_c) u_k
        dL/du_o = (σ(u_o·v_c) - 1) v_c,   dL/du_k = σ(u_k·v_c) v_c."""
    g_pos = torch.sigmoid((centre * context).sum(-1)) - 1  # (B,)
    g_neg = torch.sigmoid((noise @ centre.unsqueeze(-1)).squeeze(-1))  # (B, K)
    d_centre = g_pos[:, None] * context + (g_neg[..., None] * noise).sum(1)
    d_context = g_pos[:, None] * centre
    d_noise = g_neg[..., None] * centre[:, None, :]
    return sgns_loss(centre, context, noise), d_centre, d_context, d_noise


# --- the data ------------------------------------------------------------------------------------


@dataclass
class Vocabulary:
    words: list[str]
    counts: np.ndarray  # occurrences of each word, most frequent first

    @classmethod
    def build(cls, tokens: Sequence[str], min_count: int, max_words: int) -> Vocabulary:
        counted = Counter(tokens)
        # most frequent first; ties in alphabetical order, so the order does not depend on hashing
        ranked = sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))
        kept = [(w, c) for w, c in ranked if c >= min_count][:max_words]
        if len(kept) < 2:
            raise UserError(
                f"the corpus has {len(kept)} word(s) seen at least {min_count} times: "
                "word2vec needs more text (or a lower min_count)"
            )
        return cls([w for w, _ in kept], np.array([c for _, c in kept], dtype=np.int64))


def context_pairs(
    ids: np.ndarray, window: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(centre, context) index pairs: each centre draws its window b in 1..window."""
    n = len(ids)
    reach = rng.integers(1, window + 1, size=n)
    centres, contexts = [], []
    for offset in range(1, window + 1):
        if offset >= n:
            break
        left = np.arange(offset, n)  # centre i, context i - offset
        keep = reach[left] >= offset
        centres.append(ids[left[keep]])
        contexts.append(ids[left[keep] - offset])
        right = np.arange(0, n - offset)  # centre i, context i + offset
        keep = reach[right] >= offset
        centres.append(ids[right[keep]])
        contexts.append(ids[right[keep] + offset])
    if not centres:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(centres), np.concatenate(contexts)


def keep_probability(counts: np.ndarray, sample: float) -> np.ndarray:
    """Chance that an occurrence survives subsampling: min(1, sqrt(t / f))."""
    freq = counts / counts.sum()
    return np.minimum(1.0, np.sqrt(sample / freq))


def noise_distribution(counts: np.ndarray) -> np.ndarray:
    """Unigram^0.75, normalised: what negative words are drawn from."""
    p = counts.astype(np.float64) ** 0.75
    return p / p.sum()


# --- training ------------------------------------------------------------------------------------


@dataclass
class Word2VecResult:
    words: list[str]
    vectors: np.ndarray  # (V, dim) float32, the input table W_in
    losses: list[float]  # mean loss per epoch
    seconds: float
    settings: Word2VecSettings
    n_tokens: int

    def embedder(self, name: str = "word2vec") -> VectorEmbedder:
        embedder = VectorEmbedder(dict(zip(self.words, self.vectors, strict=True)))
        embedder.name = name
        return embedder


def train_word2vec(
    text: str,
    settings: Word2VecSettings | None = None,
    progress: Callable[[str], None] | None = None,
) -> Word2VecResult:
    """Skip-gram with negative sampling on `text`; returns the input vectors."""
    s = settings or Word2VecSettings()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices gain nothing, and sums then never depend on it
    try:
        return _train(text, s, progress)
    finally:
        torch.set_num_threads(threads)


def _train(
    text: str, s: Word2VecSettings, progress: Callable[[str], None] | None
) -> Word2VecResult:
    start = time.perf_counter()
    tokens = words(text)
    vocab = Vocabulary.build(tokens, s.min_count, s.max_words)
    index = {w: i for i, w in enumerate(vocab.words)}
    ids = np.array([index[t] for t in tokens if t in index], dtype=np.int64)
    V = len(vocab.words)
    rng = np.random.default_rng(s.seed)
    gen = torch.Generator().manual_seed(s.seed)
    # word2vec's start: input vectors small and random, output vectors zero
    w_in = (torch.rand(V, s.dim, generator=gen) - 0.5) / s.dim
    w_out = torch.zeros(V, s.dim)
    keep = keep_probability(vocab.counts, s.sample)
    noise = torch.from_numpy(noise_distribution(vocab.counts))

    epochs = []
    for _ in range(s.epochs):
        kept = ids[rng.random(len(ids)) < keep[ids]]
        centres, contexts = context_pairs(kept, s.window, rng)
        order = rng.permutation(len(centres))
        epochs.append((centres[order], contexts[order]))
    total_steps = sum(math.ceil(len(c) / s.batch_size) for c, _ in epochs)
    if total_steps == 0:
        raise UserError("the corpus is too short to give any (word, context) pair")

    losses, step = [], 0
    for epoch, (centres, contexts) in enumerate(epochs):
        running, n_pairs = 0.0, 0
        for i in range(0, len(centres), s.batch_size):
            c = torch.from_numpy(centres[i : i + s.batch_size])
            o = torch.from_numpy(contexts[i : i + s.batch_size])
            k = torch.multinomial(noise, len(c) * s.negatives, True, generator=gen)
            k = k.view(len(c), s.negatives)
            loss, d_c, d_o, d_k = sgns_gradients(w_in[c], w_out[o], w_out[k])
            # one SGD step per pair, as word2vec; pairs of a batch add up (index_add_)
            lr = s.learning_rate * max(1e-4, 1 - step / total_steps)
            w_in.index_add_(0, c, d_c, alpha=-lr)
            w_out.index_add_(0, o, d_o, alpha=-lr)
            w_out.index_add_(0, k.flatten(), d_k.reshape(-1, s.dim), alpha=-lr)
            running += float(loss.sum())
            n_pairs += len(c)
            step += 1
        losses.append(running / max(1, n_pairs))
        if progress:
            progress(f"epoch {epoch + 1}/{s.epochs}: loss {losses[-1]:.4f}")
    return Word2VecResult(
        vocab.words,
        w_in.numpy().astype(np.float32),
        losses,
        time.perf_counter() - start,
        s,
        len(tokens),
    )


# --- saving and opening ----------------------------------------------------------------------------


def save_vectors(result: Word2VecResult, out: str | Path, corpus: str = "") -> Path:
    """`out/` with vectors.safetensors (float16, one row per word) and vocab.json (the words,
    most frequent first, and the recipe). Written into a temporary sibling, then renamed."""
    from safetensors.numpy import save_file

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"--out {out} exists and is not an empty folder: give a new folder")
    tmp = out.parent / f".{out.name}.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    save_file({"vectors": result.vectors.astype(np.float16)}, str(tmp / VECTORS_FILE))
    meta = {
        "words": result.words,
        "corpus": corpus,
        "tokens": result.n_tokens,
        "settings": asdict(result.settings),
        "losses": [round(x, 6) for x in result.losses],
    }
    (tmp / VOCAB_FILE).write_text(json.dumps(meta, ensure_ascii=False) + "\n", encoding="utf-8")
    if out.exists():
        out.rmdir()
    tmp.rename(out)
    return out


def is_vectors_folder(path: Path) -> bool:
    return (path / VECTORS_FILE).is_file() and (path / VOCAB_FILE).is_file()


def load_vectors(name_or_path: str | Path) -> VectorEmbedder:
    """A saved word2vec folder, or a bundled one by name ("dante-words")."""
    path = Path(name_or_path)
    if not is_vectors_folder(path):
        path = BUNDLED_WORDS / str(name_or_path)
    if not is_vectors_folder(path):
        raise UserError(f"{name_or_path}: no word vectors ({VECTORS_FILE} + {VOCAB_FILE})")
    from safetensors.numpy import load_file

    table = load_file(str(path / VECTORS_FILE))["vectors"].astype(np.float32)
    vocab = json.loads((path / VOCAB_FILE).read_text(encoding="utf-8"))["words"]
    if len(vocab) != len(table):
        raise UserError(f"{path}: {len(vocab)} words but {len(table)} vectors")
    embedder = WordVectors(dict(zip(vocab, table, strict=True)))
    embedder.name = Path(name_or_path).name
    return embedder


def bundled_names() -> list[str]:
    if not BUNDLED_WORDS.is_dir():
        return []
    return sorted(p.name for p in BUNDLED_WORDS.iterdir() if is_vectors_folder(p))


class WordVectors(VectorEmbedder):
    """Word2vec vectors: a text is read with the training's `words()`, so "Virgilio" finds
    "virgilio", and a text of several words is the average of their vectors."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            found = words(text)
            if not found:
                raise user_error("no_words", text=text)
            unknown = [w for w in found if w not in self.index]
            if unknown:
                raise user_error(
                    "no_vector_among", word=unknown[0], n=len(self.words), name=self.name
                )
            rows.append(self.table[[self.index[w] for w in found]].mean(0))
        return np.asarray(rows, dtype=np.float32)

"""Geometry of meaning: cosine similarity, nearest neighbours, analogies, projections.

Texts with similar meanings get vectors pointing in similar directions. The course measures
this with the *cosine similarity*, the cosine of the angle between two vectors:

    cos(a, b) = a·b / (|a| |b|)     1: same direction, 0: unrelated (orthogonal), -1: opposite

Length does not count, only direction. On top of it:

- `neighbours(word, k)`: the k candidate words with the highest cosine to `word`;
- `analogy(a, b, c)`: "a is to b as c is to ?": the word nearest to b - a + c (with unit
  vectors), leaving out a, b and c themselves. The classic: man : king = woman : queen;
- `project(words, axis=(w1, w2))`: where each word falls on the direction from w1 to w2
  (0 at w1, 1 at w2), the course's projection of words onto reference directions
  (e.g. how "female" each word is on the axis man -> woman).

Every function takes an `Embedder` (default: MiniLM, see embedder.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from attento.embeddings.embedder import Embedder, load_embedder
from attento.errors import UserError
from attento.messages import user_error


def unit(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (a zero row stays zero)."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors."""
    return float(unit(np.asarray(a, dtype=np.float64)) @ unit(np.asarray(b, dtype=np.float64)))


def cosine_matrix(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Cosine of every row of `a` with every row of `b` (default: `a` itself)."""
    a = unit(np.asarray(a, dtype=np.float64))
    b = a if b is None else unit(np.asarray(b, dtype=np.float64))
    return a @ b.T


def _embedder(embedder: Embedder | None) -> Embedder:
    return load_embedder() if embedder is None else embedder


def similarity(a: str, b: str, embedder: Embedder | None = None) -> float:
    """Cosine similarity of two texts."""
    va, vb = _embedder(embedder).embed([a, b])
    return cosine(va, vb)


def similarity_matrix(texts: Sequence[str], embedder: Embedder | None = None) -> np.ndarray:
    """The cosine of every pair of texts, (N, N), ones on the diagonal."""
    if not texts:
        raise user_error("one_text")
    return cosine_matrix(_embedder(embedder).embed(list(texts)))


def _search(
    embedder: Embedder,
    query: np.ndarray,
    k: int,
    exclude: set[str],
    candidates: Sequence[str] | None,
) -> list[tuple[str, float]]:
    """The k candidates nearest to `query` by cosine, best first, leaving out `exclude`."""
    if k < 1:
        raise user_error("bad_k", k=k)
    if candidates is None:
        words, vectors = embedder.vocabulary()
    else:
        words = list(dict.fromkeys(candidates))
        if not words:
            raise user_error("no_candidates")
        vectors = embedder.embed(words)
    scores = cosine_matrix(query[None], vectors)[0]
    skip = {w.lower() for w in exclude}
    ranked = [int(i) for i in np.argsort(-scores, kind="stable")]
    found = [(words[i], float(scores[i])) for i in ranked if words[i].lower() not in skip]
    if not found:
        raise user_error("no_candidates_left")
    return found[:k]


NEIGHBOURS_K, ANALOGY_K = 10, 5  # the words neighbours() and analogy() give unless told


def neighbours(
    word_or_text: str,
    k: int = NEIGHBOURS_K,
    embedder: Embedder | None = None,
    candidates: Sequence[str] | None = None,
) -> list[tuple[str, float]]:
    """The k candidate words most similar to `word_or_text` (itself left out)."""
    embedder = _embedder(embedder)
    query = embedder.embed([word_or_text])[0]
    return _search(embedder, query, k, {word_or_text.strip()}, candidates)


def analogy(
    a: str,
    b: str,
    c: str,
    k: int = ANALOGY_K,
    embedder: Embedder | None = None,
    candidates: Sequence[str] | None = None,
) -> list[tuple[str, float]]:
    """a : b = c : ?  The candidates nearest to b - a + c (unit vectors), inputs left out."""
    embedder = _embedder(embedder)
    va, vb, vc = unit(embedder.embed([a, b, c]).astype(np.float64))
    return _search(embedder, vb - va + vc, k, {a, b, c}, candidates)


def project(
    words: Sequence[str], axis: tuple[str, str], embedder: Embedder | None = None
) -> list[float]:
    """Each word's position on the direction from axis[0] to axis[1]: 0 at the first,
    1 at the second (unit vectors, so only direction matters)."""
    if len(axis) != 2 or axis[0] == axis[1]:
        raise UserError("the axis needs two different words, e.g. axis=('man', 'woman')")
    vectors = unit(_embedder(embedder).embed([*axis, *words]).astype(np.float64))
    start, end, points = vectors[0], vectors[1], vectors[2:]
    direction = end - start
    length2 = float(direction @ direction)
    if length2 == 0:
        raise user_error("axis_same_vector", a=axis[0], b=axis[1])
    return [float((p - start) @ direction / length2) for p in points]

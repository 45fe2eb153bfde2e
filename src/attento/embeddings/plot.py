"""A map of an embedding space: vectors of hundreds of dimensions, drawn in two.

Principal component analysis (PCA) finds the two directions along which the words' vectors
spread the most (the top two right singular vectors of the centred vectors) and places each
word by its coordinates along them. Words the model finds similar land close together;
distances are only approximate, since most dimensions are left out (the figure says how
much of the spread the two axes keep).

docs/img/embedding-map.png was drawn with MiniLM by:

    attento embed-map king queen man woman prince princess cat dog horse lion pizza pasta \
        bread cheese rome paris london milan car truck bicycle --out docs/img/embedding-map.png
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from attento.embeddings.embedder import Embedder, load_embedder
from attento.embeddings.similarity import unit
from attento.errors import UserError


def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, float]:
    """(N, D) -> (N, 2) coordinates on the two main directions, and the share of the total
    variance they explain."""
    centred = vectors - vectors.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    total = float((s**2).sum())
    coords = centred @ vt[:2].T
    if coords.shape[1] < 2:  # fewer than two directions with any spread
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    return coords, float((s[:2] ** 2).sum() / total) if total > 0 else 1.0


def embedding_map(
    words: Sequence[str],
    out_png: str | Path,
    embedder: Embedder | None = None,
    title: str | None = None,
) -> np.ndarray:
    """Save a labelled 2-D PCA scatter plot of the words' (unit) vectors; return the (N, 2)
    coordinates."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    words = list(dict.fromkeys(words))
    if len(words) < 3:
        raise UserError("a map needs at least 3 different words")
    embedder = load_embedder() if embedder is None else embedder
    coords, kept = pca_2d(unit(embedder.embed(words).astype(np.float64)))
    fig = Figure(figsize=(7, 5.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.scatter(coords[:, 0], coords[:, 1], s=28, color="#3b6fb6")
    for (x, y), word in zip(coords, words, strict=True):
        ax.annotate(word, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=10)
    ax.set_xlabel("1st principal component")
    ax.set_ylabel("2nd principal component")
    ax.set_title(title or f"{embedder.name}: {len(words)} words ({kept:.0%} of the spread)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out_png = Path(out_png)
    if not out_png.parent.is_dir():
        raise UserError(f"folder {out_png.parent} not found")
    fig.savefig(out_png)
    return coords

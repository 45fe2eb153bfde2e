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
from attento.messages import message, user_error


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
    lang: str = "en",
) -> np.ndarray:
    """Save a labelled 2-D PCA scatter plot of the words' (unit) vectors, its axes named in
    `lang`; return the (N, 2) coordinates."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    words = list(dict.fromkeys(words))
    if len(words) < 3:
        raise user_error("map_words")
    out_png = _image_path(out_png, FigureCanvasAgg.get_supported_filetypes())
    embedder = load_embedder() if embedder is None else embedder
    coords, kept = pca_2d(unit(embedder.embed(words).astype(np.float64)))
    fig = Figure(figsize=(7, 5.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.scatter(coords[:, 0], coords[:, 1], s=28, color="#3b6fb6")
    for (x, y), word in zip(coords, words, strict=True):
        ax.annotate(word, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=10)
    ax.set_xlabel(message("plot.pc1", lang))
    ax.set_ylabel(message("plot.pc2", lang))
    spread = dict(model=embedder.name, n=len(words), kept=f"{kept:.0%}")
    ax.set_title(title or message("plot.map_title", lang, **spread))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        fig.savefig(out_png)
    except OSError as e:
        raise user_error("cannot_write", path=str(out_png), why=str(e.strerror or e)) from None
    return coords


def _image_path(path: str | Path, formats: dict[str, str]) -> Path:
    """Check the output path before any embedding: matplotlib would save "out" as "out.png"
    (and a folder "maps" as "maps.png") without saying so, and fail on ".txt" with a
    traceback."""
    path = Path(path)
    if path.is_dir():
        raise user_error("image_is_folder", path=str(path), example=str(path / "map.png"))
    if not path.parent.is_dir():
        code = "image_parent_is_file" if path.parent.exists() else "image_folder_missing"
        raise user_error(code, folder=str(path.parent))
    if path.suffix[1:].lower() not in formats:
        raise user_error("image_type", path=str(path))
    return path

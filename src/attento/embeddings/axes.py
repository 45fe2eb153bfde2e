"""Words placed on axes that a person defines with two words, and the bias probe built on it.

The course projects words onto reference directions: an axis from "lui" to "lei"
(masculine -> feminine) and one from "giovane" to "vecchio" (young -> old) make a plane, and
every word gets a point on it. A coordinate is `similarity.project`'s: 0 at the axis's
first word, 1 at its second, and 0.5 for a word that leans to neither (unit vectors, so
only direction counts).

The *bias probe* is the classic measurement on word vectors learnt from real text
(Bolukbasi et al. 2016; Caliskan et al. 2017): occupation words, which say nothing about
gender, are placed on a gender axis. Where they do not fall at 0.5, the text the vectors
came from used those occupations more often in feminine or masculine company, and the
vectors learnt it. Nobody wrote the bias in; it comes with the data. A whole embedding can
sit nearer one end of an axis (MiniLM puts most words nearer "woman" than "man"), so each
lean is measured from a neutral word's position ("persona", "person"), not from 0.5.

Functions return plain lists and dicts, ready to be printed or served as JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from attento.embeddings.embedder import Embedder, load_embedder
from attento.embeddings.similarity import project
from attento.errors import UserError
from attento.messages import message, user_error

Axis = tuple[str, str]

PROBES: dict[str, dict] = {
    # roles in the Divina Commedia (all in the bundled vocabulary), then four words feminine by
    # meaning, as a check that the axis measures gender at all
    "it": {
        "model": "dante-words",
        "axis": ("uomo", "donna"),
        "neutral": "persona",
        "words": [
            "re",
            "duca",
            "maestro",
            "poeta",
            "frate",
            "cavalier",
            "pastor",
            "servo",
            "cantor",
            "dottor",
            "guida",
            "scorta",
            "regina",
            "madre",
            "sposa",
            "sorella",
        ],
    },
    "en": {
        "model": "minilm",
        "axis": ("man", "woman"),
        "neutral": "person",
        "words": [
            "engineer",
            "doctor",
            "programmer",
            "pilot",
            "carpenter",
            "scientist",
            "lawyer",
            "teacher",
            "cook",
            "cleaner",
            "secretary",
            "nurse",
            "receptionist",
            "hairdresser",
        ],
    },
}


def parse_axis(text: str) -> Axis:
    """ "lui:lei" -> ("lui", "lei"), with the mistakes a person makes caught in one line."""
    parts = text.split(":")
    if len(parts) != 2:
        raise user_error("axis_format", text=text)
    return check_axis((parts[0], parts[1]))


def check_axis(axis: Sequence[str]) -> Axis:
    if len(axis) != 2:
        raise user_error("axis_two_words", n=len(axis))
    a, b = (w.strip() for w in axis)
    if not a or not b:
        raise user_error("axis_word_empty")
    if a.lower() == b.lower():
        raise user_error("axis_same_word", a=a, b=b)
    return a, b


def check_words(words: Sequence[str]) -> list[str]:
    """The words, stripped, each once; an empty one is a mistake."""
    if not words:
        raise user_error("no_words_to_place")
    out = []
    for w in words:
        if not isinstance(w, str) or not w.strip():
            raise user_error("word_empty")
        out.append(w.strip())
    return list(dict.fromkeys(out))


def project_on_axes(
    words: Sequence[str], axes: Sequence[Sequence[str]], embedder: Embedder | None = None
) -> dict:
    """{"axes": [[a, b], ...], "points": [{"word", "coords": [one per axis]}, ...]}: each
    word's position on each axis (0 at a, 1 at b). Two axes give a 2-D scatter."""
    if not axes:
        raise user_error("no_axis")
    checked = [check_axis(a) for a in axes]
    words = check_words(words)
    embedder = load_embedder() if embedder is None else embedder
    columns = [project(words, axis, embedder) for axis in checked]
    points = [
        {"word": w, "coords": [round(col[i], 6) for col in columns]} for i, w in enumerate(words)
    ]
    return {"axes": [list(a) for a in checked], "points": points}


def bias_probe(
    language: str = "it",
    embedder: Embedder | None = None,
    words: Sequence[str] | None = None,
    axis: Sequence[str] | None = None,
    neutral: str | None = None,
) -> dict:
    """Occupation words on a gender axis, most masculine first: {"model", "axis", "neutral":
    {"word", "position"}, "rows": [{"word", "position", "lean"}]}, where lean = position -
    the neutral word's position (> 0: nearer the axis's second word than the neutral word)."""
    if language not in PROBES:
        raise UserError(f"no bias probe for {language!r}: choose {', '.join(PROBES)}")
    probe = PROBES[language]
    embedder = load_embedder(probe["model"]) if embedder is None else embedder
    axis = check_axis(axis or probe["axis"])
    neutral = check_words([neutral or probe["neutral"]])[0]
    result = project_on_axes([neutral, *(words or probe["words"])], [axis], embedder)
    middle = result["points"][0]["coords"][0]
    rows = [
        {"word": p["word"], "position": p["coords"][0], "lean": round(p["coords"][0] - middle, 6)}
        for p in result["points"][1:]
    ]
    rows.sort(key=lambda r: r["position"])
    return {
        "model": embedder.name,
        "axis": list(axis),
        "neutral": {"word": neutral, "position": middle},
        "rows": rows,
    }


def axes_plot(
    result: dict, out_png: str | Path, title: str | None = None, lang: str = "en"
) -> Path:
    """Save `project_on_axes`'s points as a labelled scatter (one axis: a number line)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from attento.embeddings.plot import _image_path

    out_png = _image_path(out_png, FigureCanvasAgg.get_supported_filetypes())
    axes = result["axes"]
    xs = [p["coords"][0] for p in result["points"]]
    ys = [p["coords"][1] if len(axes) > 1 else 0.0 for p in result["points"]]
    fig = Figure(figsize=(7, 5.5 if len(axes) > 1 else 2.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.scatter(xs, ys, s=28, color="#3b6fb6")
    for x, y, p in zip(xs, ys, result["points"], strict=True):
        ax.annotate(p["word"], (x, y), xytext=(4, 4), textcoords="offset points", fontsize=10)
    ax.axvline(0.5, color="#999", lw=0.8)
    ax.set_xlabel(f"{axes[0][0]} (0) → {axes[0][1]} (1)")
    if len(axes) > 1:
        ax.axhline(0.5, color="#999", lw=0.8)
        ax.set_ylabel(f"{axes[1][0]} (0) → {axes[1][1]} (1)")
    else:
        ax.set_yticks([])
    ax.set_title(title or message("plot.words_on_axes", lang))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        fig.savefig(out_png)
    except OSError as e:
        raise user_error("cannot_write", path=str(out_png), why=str(e.strerror or e)) from None
    return out_png

"""The training log: one CSV row per logged step, and the loss curve drawn from it.

`log.csv` is the record of a run (step, losses, learning rate, speed, time); `loss.png`
is the picture a person looks at: training loss as a thin line, validation loss as dots
at each evaluation. Both live in the run folder and are rewritten at each evaluation;
rows are appended in between so an interrupted run keeps its log. A kill can cut the row
being appended short: reading the log drops such a last line (the resumed run redoes it).
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path

from attento.errors import UserError
from attento.messages import language, message

COLUMNS = ("step", "train_loss", "val_loss", "lr", "tokens_per_s", "elapsed_s")
LOG_FILE = "log.csv"
PLOT_FILE = "loss.png"


class TrainLog:
    """Rows of the run so far, kept in memory and mirrored to `log.csv`."""

    def __init__(self, rows: list[dict[str, float]] | None = None) -> None:
        self.rows = rows or []

    def add(self, row: dict[str, float], directory: Path | None = None) -> None:
        """Record a row; with `directory`, append it to the CSV there at once."""
        self.rows.append(row)
        if directory is not None:
            path = directory / LOG_FILE
            new = not path.exists()
            with path.open("a", newline="") as f:
                writer = csv.DictWriter(f, COLUMNS)
                if new:
                    writer.writeheader()
                writer.writerow(_format(row))

    def write(self, directory: Path) -> None:
        """Write the whole log as `log.csv` and draw `loss.png` in `directory`."""
        # a new file renamed over the old: a reader never sees a half-written log
        tmp = directory / f".{LOG_FILE}.tmp"
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, COLUMNS)
            writer.writeheader()
            writer.writerows(_format(r) for r in self.rows)
        os.replace(tmp, directory / LOG_FILE)
        plot_losses(self.rows, directory / PLOT_FILE)

    @classmethod
    def read(cls, directory: Path, up_to_step: int) -> TrainLog:
        """The rows of an earlier run up to `up_to_step` (later rows are being redone)."""
        path = directory / LOG_FILE
        if not path.exists():
            return cls()
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            raise UserError(f"{path} is not a text file: the run's log is damaged") from None
        if text and not text.endswith("\n"):  # a row cut short by a kill: it is redone
            text = text[: text.rfind("\n") + 1]
        rows = []
        for line, r in enumerate(csv.DictReader(io.StringIO(text, newline="")), start=2):
            try:
                row = {k: float(r[k]) if r[k] != "" else math.nan for k in COLUMNS}
                row["step"] = int(r["step"])
            except (KeyError, TypeError, ValueError):
                raise UserError(f"{path}, line {line}: not a row of an attento log") from None
            if row["step"] <= up_to_step:
                rows.append(row)
        return cls(rows)


def _format(row: dict[str, float]) -> dict[str, str]:
    # repr keeps every float bit, so two runs can be compared exactly from their logs
    return {k: "" if (v := row.get(k)) is None or v != v else repr(v) for k in COLUMNS}


def plot_losses(rows: list[dict[str, float]], path: Path, lang: str | None = None) -> None:
    """Draw training and validation loss against the step into a PNG, labelled in `lang`
    (default: the locale's, as `attento train` has no --lang)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    train = [(r["step"], r["train_loss"]) for r in rows if _finite(r.get("train_loss"))]
    val = [(r["step"], r["val_loss"]) for r in rows if _finite(r.get("val_loss"))]
    lang = language(lang)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if train:
        ax.plot(
            [s for s, _ in train],
            [v for _, v in train],
            lw=1,
            alpha=0.8,
            label=message("plot.train_loss", lang),
        )
    if val:
        ax.plot(
            [s for s, _ in val],
            [v for _, v in val],
            "o-",
            ms=4,
            label=message("plot.val_loss", lang),
        )
        best = min(v for _, v in val)
        ax.axhline(best, color="gray", lw=0.6, ls="--")
        ax.set_title(message("plot.best_val", lang, loss=f"{best:.4f}"))
    ax.set_xlabel(message("plot.step", lang))
    ax.set_ylabel(message("plot.loss_axis", lang))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)

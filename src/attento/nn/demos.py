"""Why a network needs an activation: XOR and two spirals, with and without one.

XOR (output 1 when exactly one input is 1) is the classic problem that no straight line
solves: the two "1" corners sit diagonally opposite. Two interleaved spirals are the same
lesson at scale. A stack of Linear layers without activation is one linear map, so its
decision boundary is a single straight line, whatever its depth: at most 3 of XOR's 4 points
and about half the spiral points. Put tanh (or ReLU, GELU, ...) between the layers and the
same network bends the boundary around the spirals.

The step activation of the brain analogy is here too: it has the expressive power, but its
derivative is 0, so no gradient reaches the first layer and only the last layer learns.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from attento.config import Config, check_counts, check_positive
from attento.errors import UserError
from attento.memory import check_fits
from attento.messages import message
from attento.nn.activations import ACTIVATIONS, get_activation
from attento.nn.autograd import Tensor, one_blas_thread
from attento.nn.layers import MLP
from attento.nn.losses import cross_entropy
from attento.nn.optim import SGD
from attento.seeds import check_seed


@dataclass
class TrainConfig(Config):
    """One classifier's shape and full-batch training.

    hidden: units of each hidden layer
    activation: the function between the layers ("linear": none)
    steps: gradient steps
    lr: learning rate of SGD
    momentum: SGD momentum, in [0, 1)
    seed: seed of the weights
    """

    hidden: tuple[int, ...] = (32, 32)
    activation: str = "tanh"
    steps: int = 2000
    lr: float = 0.1
    momentum: float = 0.9
    seed: int = 0

    def check(self) -> None:
        if not self.hidden or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in self.hidden
        ):
            raise UserError(f"hidden must be one or more layer sizes >= 1, got {self.hidden!r}")
        get_activation(self.activation)
        check_counts(self, "steps")
        check_positive(self, "lr")
        if not 0 <= self.momentum < 1:
            raise UserError(f"momentum must be in [0, 1), got {self.momentum!r}")
        check_seed(self.seed)


@dataclass
class XorSpiralsSettings(Config):
    """The XOR and spirals lesson: which activations, how long, how many points.

    steps: gradient steps per spirals model (XOR takes at most 500)
    points: points per spiral
    seed: random seed for data and weights
    activations: one model per activation, "linear" (none) first; GELU in its tanh form,
        as exact GELU needs erf, which NumPy lacks (math.erf element by element trains
        several times slower)
    """

    steps: int = 2000
    points: int = 200
    seed: int = 0
    activations: tuple[str, ...] = ("linear", "step", "sigmoid", "tanh", "relu", "gelu_tanh")

    def check(self) -> None:
        check_counts(self, "steps", "points")
        if self.points < 2:
            raise UserError(f"points must be at least 2, got {self.points}")
        check_seed(self.seed)
        for name in self.activations:
            get_activation(name)


@dataclass
class TrainResult:
    model: MLP
    config: TrainConfig
    accuracy: float
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def xor_data() -> tuple[np.ndarray, np.ndarray]:
    """The four XOR points and their labels."""
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return x, np.array([0, 1, 1, 0])


def spirals_data(
    n_per_class: int = 200, turns: float = 1.5, noise: float = 0.15, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Two spirals winding around each other, one per class, in the square [-1, 1]²."""
    rng = np.random.default_rng(seed)
    radius = np.linspace(0.08, 1.0, n_per_class)
    points, labels = [], []
    for label in (0, 1):
        angle = 2 * math.pi * turns * radius + label * math.pi
        angle = angle + rng.normal(0.0, noise, n_per_class)
        points.append(np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1))
        labels.append(np.full(n_per_class, label))
    return np.concatenate(points), np.concatenate(labels)


# float64 values one point keeps per hidden unit during a step: each layer's output, the
# activation's, their gradients and NumPy's temporaries (about 25 measured, rounded up)
VALUES_PER_UNIT = 32


def spirals_training_bytes(n_points: int, hidden: Sequence[int]) -> int:
    """Memory one full-batch training step on `n_points` needs, for the check before it."""
    return n_points * (sum(hidden) + 4) * VALUES_PER_UNIT * 8


def accuracy(model: MLP, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of points whose highest-scoring class is the right one."""
    return float((model(Tensor(x)).data.argmax(axis=1) == y).mean())


def train_classifier(x: np.ndarray, y: np.ndarray, config: TrainConfig) -> TrainResult:
    """Full-batch gradient descent on cross-entropy: forward, loss, backward, step."""
    rng = np.random.default_rng(config.seed)
    n_classes = int(y.max()) + 1
    model = MLP([x.shape[1], *config.hidden, n_classes], config.activation, rng=rng)
    opt = SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    inputs = Tensor(x)
    losses = []
    start = time.perf_counter()
    with one_blas_thread():
        for _ in range(config.steps):
            loss = cross_entropy(model(inputs), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        seconds = time.perf_counter() - start
        return TrainResult(model, config, accuracy(model, x, y), losses, seconds)


def plot_activations(path: Path, names: Sequence[str] = tuple(ACTIVATIONS)) -> Path:
    """One panel per activation: f(z) and its derivative f'(z)."""
    from matplotlib.figure import Figure

    z = np.linspace(-4, 4, 801)
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(3.2 * cols, 3.0 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[len(names) :]:
        ax.set_axis_off()
    for ax, name in zip(axes, names, strict=False):
        act = get_activation(name)
        ax.plot(z, act.f(z), label="f(z)")
        ax.plot(z, act.df(z), "--", label="f'(z)")
        ax.axhline(0, color="grey", lw=0.5)
        ax.axvline(0, color="grey", lw=0.5)
        ax.set_title(name)
        ax.set_ylim(-1.5, 2.5)
        ax.set_xlabel("z")
    axes[0].legend(loc="upper left")
    fig.savefig(path, dpi=100)
    return path


def plot_decision_boundaries(
    path: Path, results: Sequence[TrainResult], x: np.ndarray, y: np.ndarray, lang: str = "en"
) -> Path:
    """The class each model predicts over the plane, with the training points on top."""
    from matplotlib.figure import Figure

    grid = np.linspace(-1.2, 1.2, 200)
    gx, gy = np.meshgrid(grid, grid)
    plane = np.stack([gx.ravel(), gy.ravel()], axis=1)
    fig = Figure(figsize=(4.2 * len(results), 4.2), layout="constrained")
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    for ax, result in zip(axes, results, strict=True):
        pred = result.model(Tensor(plane)).data.argmax(axis=1).reshape(gx.shape)
        ax.contourf(gx, gy, pred, levels=[-0.5, 0.5, 1.5], colors=["#cfe2f3", "#f9d5c5"])
        ax.scatter(x[:, 0], x[:, 1], c=np.where(y == 0, "#1f77b4", "#d62728"), s=8)
        accuracy = f"{result.accuracy:.0%}"
        ax.set_title(
            message("plot.boundary", lang, activation=result.config.activation, accuracy=accuracy)
        )
        ax.set_aspect("equal")
    fig.savefig(path, dpi=100)
    return path


def run_xor_spirals(
    out_dir: str | Path,
    settings: XorSpiralsSettings | None = None,
    progress: bool = False,
    lang: str = "en",
) -> dict:
    """Train one MLP per activation on XOR and on the spirals; save the figures, labelled in
    `lang`.

    Returns a summary: train accuracy per activation for both problems and the PNG paths.
    """
    s = settings or XorSpiralsSettings()
    check_fits(
        spirals_training_bytes(2 * s.points, TrainConfig().hidden),
        f"training on {2 * s.points:,} spiral points",
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    xor_x, xor_y = xor_data()
    sp_x, sp_y = spirals_data(s.points, seed=s.seed)
    summary: dict = {"xor": {}, "spirals": {}, "seconds": {}}
    spiral_results = {}
    desc = message("nn.progress", lang)
    for name in tqdm(s.activations, desc=desc, disable=not progress):
        xor = train_classifier(xor_x, xor_y, TrainConfig((8,), name, steps=min(s.steps, 500)))
        spirals_config = TrainConfig(activation=name, steps=s.steps, seed=s.seed)
        spirals = train_classifier(sp_x, sp_y, spirals_config)
        summary["xor"][name] = xor.accuracy
        summary["spirals"][name] = spirals.accuracy
        summary["seconds"][name] = round(xor.seconds + spirals.seconds, 2)
        spiral_results[name] = spirals
    # the linear model next to the best one: a straight line against a curve that fits
    best = max(spiral_results.values(), key=lambda r: r.accuracy)
    panels = [r for name, r in spiral_results.items() if name == "linear" and r is not best]
    summary["pngs"] = [
        str(plot_activations(out / "activations.png")),
        str(
            plot_decision_boundaries(
                out / "spirals_boundary.png", [*panels, best], sp_x, sp_y, lang
            )
        ),
    ]
    return summary

"""XOR and two spirals with attento's NumPy autograd: why a network needs an activation.

    .venv/bin/python examples/nn_xor_spirals.py [--out out/nn] [--steps 2000]

Trains one MLP per activation (linear = none at all) on both problems, prints the train
accuracy of each, and saves activations.png (each function and its derivative) and
spirals_boundary.png (the decision boundary without activation and with the best one).
"""

from __future__ import annotations

import argparse
import sys
import time

from attento.errors import UserError
from attento.nn.demos import XorSpiralsSettings, run_xor_spirals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", default="out/nn", help="folder for the PNGs (default: %(default)s)"
    )
    defaults = XorSpiralsSettings()
    parser.add_argument(
        "--steps", type=int, default=defaults.steps, help="gradient steps per model"
    )
    parser.add_argument("--points", type=int, default=defaults.points, help="points per spiral")
    args = parser.parse_args()
    start = time.perf_counter()
    settings = XorSpiralsSettings(steps=args.steps, points=args.points)
    summary = run_xor_spirals(args.out, settings, progress=True)
    print(f"{'activation':<12}{'XOR':>8}{'spirals':>10}")
    for name, acc in summary["spirals"].items():
        print(f"{name:<12}{summary['xor'][name]:>8.0%}{acc:>10.1%}")
    print("(train accuracy; 'linear' has no activation, so its boundary is one straight line)")
    for png in summary["pngs"]:
        print(f"saved {png}")
    print(f"{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    try:
        main()
    except UserError as exc:
        sys.exit(f"error: {exc}")

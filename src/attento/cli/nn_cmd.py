"""`attento neuron` (one neuron, step by step) and `attento nn-demo` (XOR and spirals)."""

from __future__ import annotations

import argparse

from attento.cli.common import add_json_flag, check_out_folder, print_json
from attento.errors import UserError
from attento.messages import add_lang_flag, language, message

SMOOTH = ["sigmoid", "tanh", "relu", "gelu", "gelu_tanh"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "neuron",
        help="compute one artificial neuron step by step",
        description="Show one neuron's weighted sum, its all-or-nothing step output "
        "(the brain analogy) and a smooth activation. Negative first values need '=': "
        "--inputs=-1,2.",
    )
    p.add_argument("--inputs", default="1,0.5,-0.2", help="comma-separated inputs (%(default)s)")
    p.add_argument("--weights", default="0.8,-0.4,0.3", help="one weight per input (%(default)s)")
    p.add_argument("--bias", type=float, default=0.1, help="bias b (default: %(default)s)")
    p.add_argument(
        "--threshold", type=float, default=0.0, help="the step fires when z > this (%(default)s)"
    )
    p.add_argument("--activation", choices=SMOOTH, default="sigmoid", help="smooth activation")
    add_lang_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run_neuron)

    d = sub.add_parser(
        "nn-demo",
        help="train NumPy MLPs on XOR and two spirals, with and without activation",
        description="Train one small MLP per activation with attento's NumPy autograd, report "
        "train accuracy, and save activations.png and spirals_boundary.png.",
    )
    d.add_argument("--out", default="out/nn", help="folder for the PNGs (default: %(default)s)")
    d.add_argument("--steps", type=int, default=2000, help="gradient steps per model")
    d.add_argument(
        "--points", type=int, default=200, help="points per spiral (default: %(default)s)"
    )
    d.add_argument("--seed", type=int, default=0, help="random seed for data and weights")
    add_lang_flag(d)
    add_json_flag(d)
    d.set_defaults(func=run_nn_demo)


def parse_numbers(text: str, what: str, lang: str = "en") -> list[float]:
    """'1, 0.5,-2' -> [1.0, 0.5, -2.0], with one clear error for anything else."""
    values = []
    for piece in text.split(","):
        try:
            values.append(float(piece))
        except ValueError:
            raise UserError(message("numbers.bad", lang, what=what, piece=piece.strip())) from None
    return values


def run_neuron(args: argparse.Namespace) -> int:
    from attento.nn.neuron import compute_neuron

    lang = language(args.lang)
    trace = compute_neuron(
        parse_numbers(args.inputs, "--inputs", lang),
        parse_numbers(args.weights, "--weights", lang),
        bias=args.bias,
        activation=args.activation,
        threshold=args.threshold,
    )
    if args.json:
        print_json(trace.to_dict())
        return 0
    print(message("neuron.products", lang))
    for i, (x, w, p) in enumerate(zip(trace.inputs, trace.weights, trace.products, strict=True), 1):
        print(f"   x{i} · w{i} = {x:g} × {w:g} = {p:.4g}")
    terms = f"{trace.products[0]:.4g}" + "".join(
        f" - {-p:.4g}" if p < 0 else f" + {p:.4g}" for p in trace.products[1:]
    )
    total = f"{trace.weighted_sum:.4g}"
    print(message("neuron.sum", lang, terms=terms, total=total))
    print(message("neuron.bias", lang, total=total, bias=f"{trace.bias:g}", z=f"{trace.z:.4g}"))
    verdict = message("neuron.fires" if trace.fires else "neuron.silent", lang)
    sign = ">" if trace.fires else "<="
    step = dict(z=f"{trace.z:.4g}", sign=sign, threshold=f"{trace.threshold:g}")
    print(message("neuron.step", lang, **step, fires=trace.fires, verdict=verdict))
    smooth = dict(activation=trace.activation, output=f"{trace.output:.4g}")
    print(message("neuron.smooth", lang, **smooth))
    print(message("neuron.slope", lang, slope=f"{trace.derivative:.4g}"))
    return 0


def run_nn_demo(args: argparse.Namespace) -> int:
    from attento.nn.demos import run_xor_spirals

    lang = language(args.lang)
    if args.steps < 1 or args.points < 2:
        raise UserError(message("nn.bad_sizes", lang))
    check_out_folder(args.out)
    summary = run_xor_spirals(
        args.out,
        steps=args.steps,
        n_per_class=args.points,
        seed=args.seed,
        progress=True,
        lang=lang,
    )
    if args.json:
        print_json(summary)
        return 0
    columns = {name: message(f"nn.{name}", lang) for name in ("activation", "spirals", "seconds")}
    print(message("nn.header", lang, xor="XOR", **columns))
    for name in summary["spirals"]:
        print(
            f"{name:<12}{summary['xor'][name]:>8.0%}{summary['spirals'][name]:>10.1%}"
            f"{summary['seconds'][name]:>10.1f}"
        )
    print(message("nn.footer", lang))
    for png in summary["pngs"]:
        print(message("saved", lang, path=png))
    return 0

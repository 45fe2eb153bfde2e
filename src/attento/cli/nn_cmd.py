"""`attento neuron` (one neuron, step by step) and `attento nn-demo` (XOR and spirals)."""

from __future__ import annotations

import argparse

from attento.cli.common import (
    add_config_flags,
    add_json_flag,
    check_out_folder,
    config_from_args,
    print_json,
)
from attento.errors import UserError
from attento.messages import add_lang_flag, language, message

SMOOTH = ["sigmoid", "tanh", "relu", "gelu", "gelu_tanh"]
# the flags, by field of NeuronSettings and XorSpiralsSettings; NUMBERS are parsed here, so
# that a typo is explained in the student's language
NUMBERS = ("inputs", "weights")
NEURON_FLAGS = ("bias", "threshold", "activation")
DEMO_FLAGS = ("steps", "points", "seed")


def register(sub: argparse._SubParsersAction) -> None:
    from attento.nn.demos import XorSpiralsSettings
    from attento.nn.neuron import NeuronSettings

    p = sub.add_parser(
        "neuron",
        help="compute one artificial neuron step by step",
        description="Show one neuron's weighted sum, its all-or-nothing step output "
        "(the brain analogy) and a smooth activation. Negative first values need '=': "
        "--inputs=-1,2.",
    )
    add_config_flags(
        p,
        NeuronSettings,
        NUMBERS + NEURON_FLAGS,
        helps={"inputs": "comma-separated inputs", "weights": "one weight per input, likewise"},
        choices={"activation": SMOOTH},
        raw=NUMBERS,
    )
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
    add_config_flags(d, XorSpiralsSettings, DEMO_FLAGS)
    add_lang_flag(d)
    add_json_flag(d)
    d.set_defaults(func=run_nn_demo)


def parse_numbers(text: str, what: str, lang: str = "en") -> tuple[float, ...]:
    """'1, 0.5,-2' -> (1.0, 0.5, -2.0), with one clear error for anything else."""
    values = []
    for piece in text.split(","):
        try:
            values.append(float(piece))
        except ValueError:
            raise UserError(message("numbers.bad", lang, what=what, piece=piece.strip())) from None
    return tuple(values)


def neuron_settings(args: argparse.Namespace, lang: str = "en"):
    """The NeuronSettings the flags describe."""
    from attento.nn.neuron import NeuronSettings

    numbers = {name: parse_numbers(getattr(args, name), f"--{name}", lang) for name in NUMBERS}
    return config_from_args(NeuronSettings, args, NEURON_FLAGS, **numbers)


def run_neuron(args: argparse.Namespace) -> int:
    from attento.nn.neuron import compute_neuron

    lang = language(args.lang)
    trace = compute_neuron(neuron_settings(args, lang))
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
    from attento.nn.demos import XorSpiralsSettings, run_xor_spirals

    lang = language(args.lang)
    try:
        settings = config_from_args(XorSpiralsSettings, args, DEMO_FLAGS)
    except UserError:  # steps or points (main checked the seed): say it in the student's language
        raise UserError(message("nn.bad_sizes", lang)) from None
    check_out_folder(args.out)
    summary = run_xor_spirals(args.out, settings, progress=True, lang=lang)
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

"""Explainer latency: a full trace of a 64-token prompt vs the bare model forward.

The explainer's promise is that looking inside costs little: one forward pass under a `Trace`
(explicit attention that keeps its weights, every intermediate copied), packed for the page.
The peer is the same model's plain forward (fused attention, nothing recorded), measured in the
same run, turn by turn. Rows:

- forward:       model(idx), no trace (the peer);
- traced:        the same forward inside `Trace()` (explicit attention path + recording);
- trace view:    trace_view(): traced forward + packing every tensor for the page;
- POST /api/trace: the whole request through the FastAPI app (TestClient, in process): request
                 parsing, tokenizer, trace view and JSON encoding (the "server time").

The model is the bundled `dante` when present, else a random GPT of dante's shape (the `dante`
training preset: 4 layers x 128, 4 heads, sinusoidal positions, 1024-token BPE vocabulary,
128-token context). Target: /api/trace under 150 ms.

    .venv/bin/python bench/explain.py [--repeats 15] [--tokens 64] [--threads 1] [--no-write]

One torch thread by default: on a small shared machine, two OpenMP threads fighting other
processes for the cores make small-matrix timings erratic.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from fastapi.testclient import TestClient

from attento.explain.catalog import BUNDLED_DIR, Catalog
from attento.explain.server import create_app
from attento.explain.trace_view import trace_view
from attento.models import GPT, GPTConfig
from attento.models.checkpoint_io import save_model
from attento.models.trace import Trace
from attento.tokenize import CharTokenizer
from results import write_section
from timing import best_times

TARGET_MS = 150.0


def stand_in(directory: Path) -> Path:
    """A GPT of dante's shape with random weights, saved as a checkpoint folder."""
    torch.manual_seed(0)
    config = GPTConfig(
        vocab_size=1024, block_size=128, n_layer=4, n_head=4, n_embd=128, pos_encoding="sinusoidal"
    )
    tokenizer = CharTokenizer([chr(0x100 + i) for i in range(1024)])
    return save_model(GPT(config).eval(), tokenizer, directory / "dante-sized")


def run(repeats: int, n_tokens: int, tmp: Path) -> tuple[str, dict[str, float], dict]:
    if (BUNDLED_DIR / "dante").is_dir():
        catalog = Catalog.discover("dante")
    else:
        catalog = Catalog.discover(str(stand_in(tmp)), bundled_dir=tmp / "none")
    name = catalog.default
    model, tokenizer = catalog.load(name)
    facts = catalog.entry(name).facts()
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (n_tokens,), generator=gen).tolist()
    idx = torch.tensor([ids])
    client = TestClient(create_app(catalog))

    def forward():
        with torch.no_grad():
            model(idx)

    def traced():
        with torch.no_grad(), Trace():
            model(idx)

    def api():
        r = client.post("/api/trace", json={"model": name, "ids": ids})
        assert r.status_code == 200, r.text
        api.size = len(r.content)

    times = best_times(
        {
            "forward": forward,
            "traced": traced,
            "trace view": lambda: trace_view(model, tokenizer, ids),
            "POST /api/trace": api,
        },
        repeats,
    )
    return name, {k: v * 1000 for k, v in times.items()}, {**facts, "json_bytes": api.size}


def report(name: str, ms: dict[str, float], facts: dict, n_tokens: int, repeats: int) -> str:
    lines = [
        f"Model `{name}` ({facts['n_layer']} layers x {facts['n_embd']}, {facts['n_head']} heads, "
        f"{facts['parameters']:,} parameters, vocabulary {facts['vocab_size']}), "
        f"{n_tokens}-token prompt, best of {repeats}, torch threads {torch.get_num_threads()}.",
        "",
        "| step | ms | vs forward |",
        "|---|---:|---:|",
    ]
    for step, t in ms.items():
        lines.append(f"| {step} | {t:.1f} | {t / ms['forward']:.1f}x |")
    api = ms["POST /api/trace"]
    verdict = "meets" if api < TARGET_MS else "misses"
    lines += [
        "",
        f"/api/trace answers in {api:.0f} ms ({verdict} the {TARGET_MS:.0f} ms target); "
        f"JSON {facts['json_bytes'] / 1e6:.2f} MB.",
    ]
    return "\n".join(lines)


def command_line(command: str) -> str:
    return (
        f"Command: `{command}` ({time.strftime('%Y-%m-%d')}, "
        f"{torch.get_num_threads()} torch thread(s), 2-CPU shared machine)\n\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        name, ms, facts = run(args.repeats, args.tokens, Path(tmp))
    body = report(name, ms, facts, args.tokens, args.repeats)
    print(body)
    if not args.no_write:
        write_section(
            "explain.py",
            command_line("python " + " ".join(["bench/explain.py", *sys.argv[1:]])) + body,
        )


if __name__ == "__main__":
    main()

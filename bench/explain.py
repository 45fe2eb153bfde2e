"""Explainer latency: a full trace of a 64-token prompt vs the bare model forward.

The explainer's promise is that looking inside costs little: one forward pass under a `Trace`
(explicit attention that keeps its weights, every intermediate copied), packed for the page.
The peer is the same model's plain forward (fused attention, nothing recorded), measured in the
same run, turn by turn. Rows:

- forward:       model(idx), no trace (the peer);
- traced:        the same forward inside `Trace()` (explicit attention path + recording);
- trace view:    trace_view(): traced forward + the overview and every block, packed;
- POST /api/trace: the whole request through the FastAPI app (TestClient, in process), with no
                 kept records (every request traces again): request parsing, traced forward,
                 the overview and its JSON encoding (the "server time" of the first view);
- POST /api/lens, POST /api/heads: the logit lens of the last token and the grid of all heads,
                 also with no kept records (each traces again: the worst case; the page asks
                 for them after the overview, whose records are kept).

Then two tables:

- a classroom: `attento explain` in its own process (real uvicorn; `--threads 1`, the default,
  and 2 for comparison), with 1, 8 and 25 clients sending POST /api/trace (the same prompt)
  and POST /api/step (each client its own seeded run, one click after the other) at the same
  time: throughput, p50 and p99 latency, each against the 1-client row;
- a long seeded run: the time of one click early in the run and ~100 tokens into it, with the
  run kept between clicks (the server's `Runs`) and replayed from its start (no `Runs`).

Then the explainer at real-model scale: random weights of exactly GPT-2 small's shape (12
blocks x 12 heads x 768, 50,257 tokens, 1024 context) and SmolLM2-135M's (30 blocks x 9
query heads sharing 3 key/value heads x 576, 49,152 tokens, RoPE, RMSNorm, SwiGLU), served by
the real app (TestClient, in process), with the wire size of each answer as sent:

- first view:   POST /api/trace of a prompt not seen before (traced forward + overview);
- + block 0:    the same, then POST /api/block 0 (the page opens the first block at once);
- block, kept:  POST /api/block of a prompt already traced (the server kept its records);
- block, new:   POST /api/block of a prompt it does not have (traced up to that block:
                the first block, and the last, which costs a whole forward pass);
- stack, cell, vocab: another token's residual stream, one exact value, a vocabulary search;
- lens, heads:  the logit lens of one token, every head's map and summaries (records kept);
- step (greedy): one roll with its KV-cache view as the page asks it: every layer's query
                and weights, the keys and values of the layer shown (`cache_layer`); "all
                layers' cache" sends every layer's (the answer before the page asked for one);
- cache, another layer: POST /api/cache, the keys and values of a layer picked later.

Targets: first view <= 1.0 s server time and <= 1 MB on the wire; one block <= 250 ms.

The model is the bundled `dante` when present, else a random GPT of dante's shape (the `dante`
training preset: 4 layers x 128, 4 heads, sinusoidal positions, 1024-token BPE vocabulary,
128-token context). Target: /api/trace, /api/lens and /api/heads under 150 ms.

And the encoder–decoder page (`--only-seq2seq`, its own section): POST /api/seq2seq on the
bundled `numeri` (else a random encoder–decoder of its shape) for "1988" ->
"millenovecentottantotto": a view of the target half written, a greedy step, a seeded step
20 tokens into a run the server no longer keeps (replayed from BOS: the worst case) and the
next click of a kept run, against the model's plain teacher-forced forward of the same pair.
Target: each under 150 ms.

    .venv/bin/python bench/explain.py [--repeats 15] [--tokens 64] [--threads 1] [--no-write]
                  [--clients 1,8,25] [--requests 100] [--run-clicks 110] [--server-threads 1,2]
                  [--scale-repeats 5] [--no-scale] [--only-scale] [--only-seq2seq]

One torch thread by default: on a small shared machine, two OpenMP threads fighting other
processes for the cores make small-matrix timings erratic.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from fastapi.testclient import TestClient

from attento.explain.catalog import BUNDLED_DIR, Catalog
from attento.explain.server import create_app
from attento.explain.step_view import Runs, step_view
from attento.explain.trace_view import trace_view
from attento.explain.traces import Traces
from attento.models import GPT, GPTConfig
from attento.models.folder import save_model
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


def random_ids(vocab_size: int, n: int) -> list[int]:
    """The benchmark's prompt: n token ids drawn with a fixed seed."""
    gen = torch.Generator().manual_seed(0)
    return torch.randint(0, vocab_size, (n,), generator=gen).tolist()


def open_catalog(tmp: Path) -> tuple[Catalog, str]:
    """The bundled dante, else the stand-in; and how `attento explain --model` names it."""
    if (BUNDLED_DIR / "dante").is_dir():
        return Catalog.discover("dante"), "dante"
    path = stand_in(tmp)
    return Catalog.discover(str(path), bundled_dir=tmp / "none"), str(path)


def run(repeats: int, n_tokens: int, catalog: Catalog) -> tuple[str, dict[str, float], dict]:
    name = catalog.default
    model, tokenizer = catalog.load(name)
    facts = catalog.entry(name).facts()
    ids = random_ids(model.config.vocab_size, n_tokens)
    idx = torch.tensor([ids])
    client = TestClient(create_app(catalog, traces=Traces(0)), base_url="http://127.0.0.1")

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

    def ask(path: str, body: dict):
        def call():
            r = client.post(path, json={"model": name, "ids": ids, **body})
            assert r.status_code == 200, r.text[:200]

        return call

    times = best_times(
        {
            "forward": forward,
            "traced": traced,
            "trace view": lambda: trace_view(model, tokenizer, ids),
            "POST /api/trace": api,
            "POST /api/lens": ask("/api/lens", {"pos": len(ids) - 1}),
            "POST /api/heads": ask("/api/heads", {}),
        },
        repeats,
    )
    return name, {k: v * 1000 for k, v in times.items()}, {**facts, "json_bytes": api.size}


class Server:
    """`attento explain` in its own process on a free port, as a teacher starts it."""

    def __init__(self, model: str, threads: int) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        code = "import sys; from attento.cli import main; sys.exit(main(sys.argv[1:]))"
        argv = [sys.executable, "-c", code, "explain", "--model", model, "--no-browser"]
        self.proc = subprocess.Popen([*argv, "--threads", str(threads), "--port", str(self.port)])
        deadline = time.monotonic() + 120
        while True:
            try:
                if Client(self.port).request("GET", "/api/models")[0] == 200:
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


class Client:
    """One browser tab: a kept-alive connection."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body)
        self.conn.request(method, path, data, {"Content-Type": "application/json"})
        response = self.conn.getresponse()
        return response.status, response.read()


def load_level(port: int, clients: int, requests: int, make_work) -> tuple[float, list[float]]:
    """`clients` clients at once, `requests` in all: (requests per second, latencies in s)."""
    per_client = max(1, requests // clients)
    barrier = threading.Barrier(clients)

    def client(k: int) -> list[float]:
        c, work, times = Client(port), make_work(k), []
        barrier.wait()
        for _ in range(per_client):
            t0 = time.perf_counter()
            status, raw = work(c)
            assert status == 200, raw[:200]
            times.append(time.perf_counter() - t0)
        return times

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = [t for times in pool.map(client, range(clients)) for t in times]
    return len(latencies) / (time.perf_counter() - t0), latencies


def trace_work(name: str, ids: list[int]):
    return lambda k: lambda c: c.request("POST", "/api/trace", {"model": name, "ids": ids})


def step_work(name: str, ids: list[int]):
    """Client k rolls its own seeded run (seed k) from the first 8 ids, click after click."""

    def make(k: int):
        state = {"ids": ids[:8], "start": 8}

        def click(c: Client) -> tuple[int, bytes]:
            if len(state["ids"]) >= 120:  # near the context: a new run
                state.update(ids=ids[:8], start=8)
            body = {"model": name, "ids": state["ids"], "start": state["start"], "seed": k}
            status, raw = c.request("POST", "/api/step", body)
            if status == 200:
                data = json.loads(raw)
                state.update(ids=data["ids"], start=data["start"])
            return status, raw

        return click

    return make


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def classroom(
    model_arg: str, name: str, ids: list[int], levels: list[int], requests: int, threads: int
) -> list[str]:
    """Table rows for one server started with `--threads threads`."""
    server = Server(model_arg, threads)
    rows = []
    try:
        for label, make in [
            ("POST /api/trace", trace_work(name, ids)),
            ("POST /api/step", step_work(name, ids)),
        ]:
            load_level(server.port, 1, 3, make)  # warm-up
            base = None
            for clients in levels:
                rate, lat = load_level(server.port, clients, max(requests, clients), make)
                p50, p99 = percentile(lat, 0.5) * 1000, percentile(lat, 0.99) * 1000
                base = base or (rate, p50, p99)
                rows.append(
                    f"| {label} | {threads} | {clients} | {len(lat)} | {rate:.1f} | {rate / base[0]:.2f}x "
                    f"| {p50:.0f} | {p50 / base[1]:.1f}x | {p99:.0f} | {p99 / base[2]:.1f}x |"
                )
    finally:
        server.close()
    return rows


CLASSROOM_HEAD = [
    "| request | --threads | clients | requests | req/s | vs 1 client | p50 ms | vs 1 client "
    "| p99 ms | vs 1 client |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]


def long_run(catalog: Catalog, ids: list[int], clicks: int) -> str:
    """Median click time early in a seeded run and ~100 tokens in, kept vs replayed."""
    model, tokenizer = catalog.load(catalog.default)
    clicks = min(clicks, model.config.block_size - 9)
    rows = []
    for label, runs in [("kept between clicks (Runs)", Runs()), ("replayed from its start", None)]:
        state, times = (ids[:8], 8), []
        for _ in range(clicks):
            t0 = time.perf_counter()
            view = step_view(model, tokenizer, *state, seed=1, runs=runs)
            times.append(time.perf_counter() - t0)
            state = (view["ids"], view["start"])
        early, late = statistics.median(times[:10]), statistics.median(times[-10:])
        rows.append(f"| {label} | {early * 1000:.1f} | {late * 1000:.1f} | {late / early:.1f}x |")
    return "\n".join(
        [
            f"| seeded run | ms, clicks 1-10 | ms, clicks {clicks - 9}-{clicks} | late / early |",
            "|---|---:|---:|---:|",
            *rows,
        ]
    )


SCALES = {
    "GPT-2 small": dict(
        vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768, activation="gelu_tanh"
    ),
    "SmolLM2-135M": dict(
        vocab_size=49152,
        block_size=8192,
        n_layer=30,
        n_head=9,
        n_kv_head=3,
        n_embd=576,
        ffn_hidden=1536,
        pos_encoding="rope",
        rope_base=100000.0,
        norm="rmsnorm",
        activation="swiglu",
        bias=False,
    ),
}
FIRST_VIEW_MS, FIRST_VIEW_BYTES, BLOCK_MS = 1000.0, 1_000_000, 250.0


def scale_model(directory: Path, label: str) -> Path:
    """Random weights of exactly `label`'s shape, with a one-character-per-id tokenizer."""
    torch.manual_seed(0)
    config = GPTConfig(**SCALES[label])
    tokenizer = CharTokenizer([chr(0x100 + i) for i in range(config.vocab_size)])
    name = label.lower().replace(" ", "-")
    return save_model(GPT(config).eval(), tokenizer, directory / name)


def scale_rows(label: str, path: Path, repeats: int, n_tokens: int) -> list[str]:
    """Table rows (ms best of `repeats`, and bytes on the wire) for one real-model shape."""
    catalog = Catalog.discover(str(path), bundled_dir=path.parent / "none")
    name = catalog.default
    model, _ = catalog.load(name)
    V, n_layer = model.config.vocab_size, model.config.n_layer
    cold = TestClient(create_app(catalog, traces=Traces(0)), base_url="http://127.0.0.1")
    warm = TestClient(create_app(catalog), base_url="http://127.0.0.1")
    ids = random_ids(V, n_tokens)
    sizes: dict[str, int] = {}
    count = iter(range(10**9))

    def post(client: TestClient, label: str, path: str, body: dict) -> None:
        r = client.post(path, json={"model": name, **body})
        assert r.status_code == 200, r.text[:200]
        sizes[label] = len(r.content)

    def first_view() -> None:
        post(cold, "first view", "/api/trace", {"ids": ids})

    def with_block() -> None:
        fresh = [(ids[0] + next(count)) % V, *ids[1:]]  # a prompt the warm app has not seen
        post(warm, "+ block 0", "/api/trace", {"ids": fresh})
        trace_size = sizes["+ block 0"]
        post(warm, "+ block 0", "/api/block", {"ids": fresh, "block": 0})
        sizes["+ block 0"] += trace_size

    post(warm, "", "/api/trace", {"ids": ids})  # the records the "kept" rows read
    fns = {
        "first view": first_view,
        "+ block 0": with_block,
        "block, kept": lambda: post(
            warm, "block, kept", "/api/block", {"ids": ids, "block": next(count) % n_layer}
        ),
        "block 0, new": lambda: post(cold, "block 0, new", "/api/block", {"ids": ids, "block": 0}),
        "last block, new": lambda: post(
            cold, "last block, new", "/api/block", {"ids": ids, "block": n_layer - 1}
        ),
        "stack": lambda: post(warm, "stack", "/api/stack", {"ids": ids, "pos": 3}),
        "cell": lambda: post(
            warm, "cell", "/api/cell", {"ids": ids, "name": "blocks.1.attn.q", "index": [0, 1, 2]}
        ),
        "vocab": lambda: post(warm, "vocab", "/api/vocab", {"query": chr(0x100 + 77)}),
        "lens": lambda: post(warm, "lens", "/api/lens", {"ids": ids, "pos": n_tokens - 1}),
        "heads": lambda: post(warm, "heads", "/api/heads", {"ids": ids}),
        "step (greedy), all layers' cache": lambda: post(
            warm, "step (greedy), all layers' cache", "/api/step", {"ids": ids, "greedy": True}
        ),
        # what the page asks: the cache layer it shows, then another one when it is picked
        "step (greedy)": lambda: post(
            warm, "step (greedy)", "/api/step", {"ids": ids, "greedy": True, "cache_layer": 0}
        ),
        "cache, another layer": lambda: post(
            warm, "cache, another layer", "/api/cache", {"ids": ids, "layer": n_layer - 1}
        ),
    }
    ms = {k: v * 1000 for k, v in best_times(fns, repeats).items()}
    # the first view is the overview; block 0 follows it (the page opens it at once)
    targets = {"first view": (FIRST_VIEW_MS, FIRST_VIEW_BYTES), "+ block 0": (FIRST_VIEW_MS, None)}
    targets |= {k: (BLOCK_MS, None) for k in ("block, kept", "block 0, new", "last block, new")}
    rows = []
    for step, t in ms.items():
        target = targets.get(step)
        verdict = ""
        if target is not None:
            ok = t <= target[0] and (target[1] is None or sizes[step] <= target[1])
            limit = f"<= {target[0]:.0f} ms" + (
                f", <= {target[1] / 1e6:.0f} MB" if target[1] else ""
            )
            verdict = f"{'meets' if ok else 'misses'} {limit}"
        rows.append(f"| {label} | {step} | {t:.0f} | {sizes[step] / 1e3:.0f} | {verdict} |")
    return rows


def scale_table(repeats: int, n_tokens: int) -> str:
    """The real-model-scale table, both shapes."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label in SCALES:
            path = scale_model(Path(tmp), label)
            rows += scale_rows(label, path, repeats, n_tokens)
    return "\n".join(
        [
            f"Real-model scale (random weights), {n_tokens}-token prompt, best of {repeats}, "
            f"torch threads {torch.get_num_threads()}; KB as sent (JSON with base64 tensors).",
            "",
            "| shape | request | ms | KB | target |",
            "|---|---|---:|---:|---|",
            *rows,
        ]
    )


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
    for path in ("/api/lens", "/api/heads"):
        t = ms[f"POST {path}"]
        verdict = "meets" if t < TARGET_MS else "misses"
        lines.append(
            f"{path} answers in {t:.0f} ms with a forward pass of its own ({verdict} the "
            f"{TARGET_MS:.0f} ms target)."
        )
    return "\n".join(lines)


def seq2seq_table(repeats: int, tmp: Path) -> str:
    """POST /api/seq2seq on the bundled numeri (else a random model of its shape)."""
    from attento.data.numbers import italian, pairs_text
    from attento.models.seq2seq import Seq2Seq, Seq2SeqConfig
    from attento.train.config import preset
    from attento.train.setup import pair_tokenizer

    if (BUNDLED_DIR / "numeri").is_dir():
        catalog, name = Catalog.discover("numeri"), "numeri"
    else:
        torch.manual_seed(0)
        tokenizer = pair_tokenizer("char", pairs_text())
        shape = preset("numeri").model
        model = Seq2Seq(Seq2SeqConfig(vocab_size=tokenizer.vocab_size, **shape)).eval()
        path = save_model(model, tokenizer, tmp / "numeri-sized")
        catalog, name = Catalog.discover(str(path), bundled_dir=tmp / "none"), "numeri-sized"
    model, tokenizer = catalog.load(name)
    facts = catalog.entry(name).facts()
    client = TestClient(create_app(catalog), base_url="http://127.0.0.1")
    src, target = tokenizer.encode("1988"), tokenizer.encode(italian(1988))
    half, bos = target[: len(target) // 2], model.config.bos_id
    pair = (torch.tensor([src]), torch.tensor([[bos, *half]]))

    def forward():
        with torch.no_grad():
            model(*pair)

    def ask(body: dict):
        def call():
            r = client.post("/api/seq2seq", json={"model": name, "src": src, **body})
            assert r.status_code == 200, r.text[:200]

        return call

    clicks = {"target": half}

    def click():  # the next seeded click of one run: its cache waits in the server's Runs
        body = {"model": name, "src": src, "target": clicks["target"], "step": True, "seed": 1}
        r = client.post("/api/seq2seq", json=body)
        assert r.status_code == 200, r.text[:200]
        clicks["target"] = half if r.json()["done"] else r.json()["written"]

    ms = {
        k: v * 1000
        for k, v in best_times(
            {
                "forward (peer)": forward,
                "view, target half written": ask({"target": half}),
                "step, greedy": ask({"target": half, "step": True, "greedy": True}),
                "step, seeded, 20 tokens into its run, replayed": ask(
                    {"target": target[:20], "step": True, "seed": 1}
                ),
                "step, seeded, the next click of a kept run": click,
            },
            repeats,
        ).items()
    }
    lines = [
        f"Model `{name}` (encoder–decoder, {facts['n_layer']} + {facts['n_layer']} layers x "
        f"{facts['n_embd']}, {facts['n_head']} heads, {facts['parameters']:,} parameters), "
        f'source "1988", target "{italian(1988)}"; best of {repeats}, '
        f"torch threads {torch.get_num_threads()}, TestClient in process.",
        "",
        "| POST /api/seq2seq | ms | vs forward |",
        "|---|---:|---:|",
    ]
    peer = ms["forward (peer)"]
    for row, t in ms.items():
        lines.append(f"| {row} | {t:.1f} | {t / peer:.1f}x |")
    worst = max(t for row, t in ms.items() if row != "forward (peer)")
    verdict = "meets" if worst < TARGET_MS else "misses"
    lines += [
        "",
        f"The slowest answers in {worst:.0f} ms ({verdict} the {TARGET_MS:.0f} ms target).",
    ]
    return "\n".join(lines)


def command_line(command: str, load_at_start: float) -> str:
    return (
        f"Command: `{command}` ({time.strftime('%Y-%m-%d')}, "
        f"{torch.get_num_threads()} torch thread(s), 2-CPU machine shared with other jobs, "
        f"load average {load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end)\n\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    parser.add_argument("--clients", default="1,8,25", help="concurrent clients (default: 1,8,25)")
    parser.add_argument("--requests", type=int, default=100, help="requests per level")
    parser.add_argument("--run-clicks", type=int, default=110, help="clicks of the long run")
    parser.add_argument(
        "--server-threads", default="1,2", help="the server's --threads, each a table part"
    )
    parser.add_argument("--scale-repeats", type=int, default=5)
    parser.add_argument("--no-scale", action="store_true", help="skip the real-model shapes")
    parser.add_argument("--only-scale", action="store_true", help="only the real-model shapes")
    parser.add_argument(
        "--only-seq2seq", action="store_true", help="only the encoder–decoder page (own section)"
    )
    args = parser.parse_args()
    load_at_start = os.getloadavg()[0]
    if args.only_seq2seq:
        torch.set_num_threads(args.threads)
        with tempfile.TemporaryDirectory() as tmp:
            body = seq2seq_table(args.repeats, Path(tmp))
        print(body)
        if not args.no_write:
            command = "python " + " ".join(["bench/explain.py", *sys.argv[1:]])
            write_section("explain.py --only-seq2seq", command_line(command, load_at_start) + body)
        return
    if args.only_scale:
        torch.set_num_threads(args.threads)
        print(scale_table(args.scale_repeats, args.tokens))
        return
    torch.set_num_threads(args.threads)
    levels = [int(n) for n in args.clients.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        catalog, model_arg = open_catalog(Path(tmp))
        name, ms, facts = run(args.repeats, args.tokens, catalog)
        ids = random_ids(facts["vocab_size"], args.tokens)
        rows = [
            row
            for threads in (int(n) for n in args.server_threads.split(","))
            for row in classroom(model_arg, name, ids, levels, args.requests, threads)
        ]
        room = "\n".join([*CLASSROOM_HEAD, *rows])
        runs = long_run(catalog, ids, args.run_clicks)
    scale = "" if args.no_scale else "\n\n" + scale_table(args.scale_repeats, args.tokens)
    body = report(name, ms, facts, args.tokens, args.repeats)
    body += (
        f"\n\nA classroom: `attento explain --threads N` in its own process (real uvicorn), "
        f"clients at once sending {args.tokens}-token traces, or each rolling its own seeded "
        f"run click after click; {args.requests} requests per level (at least one per client)."
        f"\n\n{room}\n\nOne seeded run of {args.run_clicks} clicks on `{name}` (step_view in "
        f"process): the time of a click, with the run kept between clicks and replayed.\n\n{runs}"
        f"{scale}"
    )
    print(body)
    if not args.no_write:
        write_section(
            "explain.py",
            command_line("python " + " ".join(["bench/explain.py", *sys.argv[1:]]), load_at_start)
            + body,
        )


if __name__ == "__main__":
    main()

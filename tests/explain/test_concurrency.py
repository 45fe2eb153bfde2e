"""A classroom at once: the real server (`attento explain` in its own process, uvicorn on a free
port) answers many requests in parallel exactly as it answers each one alone, and its memory
does not grow with the number of requests."""

from __future__ import annotations

import http.client
import json
import random
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

MODEL = "shakespeare"  # bundled: a character model, 65-character vocabulary
LINE = "To be, or not to be, that is the question: Whether 'tis nobler in the mind to suffer"
CLIENTS = 25
RSS_MARGIN_MB = 40  # the second batch may not add more than this to the server's memory


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    code = "import sys; from attento.cli import main; sys.exit(main(sys.argv[1:]))"
    argv = [sys.executable, "-c", code, "explain", "--model", MODEL, "--no-browser"]
    proc = subprocess.Popen(
        [*argv, "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            status, _ = post(port, "GET", "/api/models")
            if status == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the server did not start: {proc.stdout.read()}")
        time.sleep(0.2)
    yield port, proc.pid
    proc.terminate()
    proc.wait(timeout=10)


def post(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        data = None if body is None else json.dumps(body)
        conn.request(method, path, data, {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def trace_bodies(n: int) -> list[dict]:
    """n different prompts: slices of one line, of 1 to 24 characters."""
    bodies = []
    for i in range(n):
        start, length = i % 40, 1 + (i * 7) % 24
        bodies.append({"model": MODEL, "prompt": LINE[start : start + length]})
    return bodies


def without_timing(raw: bytes) -> dict:
    data = json.loads(raw)
    data.pop("timing_ms")
    return data


def in_parallel(fn, items: list, clients: int = CLIENTS) -> list:
    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(fn, items))


pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the server's memory from /proc"
)


def test_200_traces_25_at_a_time_equal_each_trace_alone_and_memory_stays_flat(server, capsys):
    port, pid = server
    bodies = trace_bodies(200)
    alone = [post(port, "POST", "/api/trace", b) for b in bodies]
    assert all(status == 200 for status, _ in alone)
    expected = [without_timing(raw) for _, raw in alone]
    before = rss_mb(pid)
    t0 = time.perf_counter()
    for batch in range(2):
        order = list(range(len(bodies)))
        random.Random(batch).shuffle(order)
        answers = in_parallel(lambda i: (i, *post(port, "POST", "/api/trace", bodies[i])), order)
        assert [status for _, status, _ in answers] == [200] * len(bodies)
        for i, _, raw in answers:
            assert without_timing(raw) == expected[i], bodies[i]
        if batch == 0:
            after_first = rss_mb(pid)
    after_second = rss_mb(pid)
    seconds = time.perf_counter() - t0
    with capsys.disabled():
        print(
            f"\n[concurrency] 2 x 200 traces, {CLIENTS} at a time: {seconds:.1f} s; server RSS "
            f"{before:.0f} -> {after_first:.0f} -> {after_second:.0f} MB"
        )
    assert after_second - after_first < RSS_MARGIN_MB


def click_chain(port: int, prompt: str, clicks: int, settings: dict) -> list[tuple[dict, bytes]]:
    """A student rolling the die `clicks` times: each request continues the previous answer."""
    first = json.loads(post(port, "POST", "/api/trace", {"model": MODEL, "prompt": prompt})[1])
    ids, start, out = first["ids"], None, []
    for _ in range(clicks):
        body = {"model": MODEL, "ids": ids, **settings}
        if start is not None:
            body["start"] = start
        status, raw = post(port, "POST", "/api/step", body)
        assert status == 200, raw[:200]
        out.append((body, raw))
        data = json.loads(raw)
        ids, start = data["ids"], data["start"]
    return out


SEEDED = {"seed": 7, "temperature": 0.9, "top_k": 20}
GREEDY = {"greedy": True}


def test_steps_of_25_students_at_once_equal_the_same_steps_alone(server):
    """25 students x 8 rolls (seeded runs and greedy steps), alone, then all at once, then the
    same 200 requests shuffled (so most seeded runs are replayed instead of continued)."""
    port, _ = server
    students = [(LINE[i : i + 3 + i % 9], SEEDED if i % 2 else GREEDY) for i in range(CLIENTS)]
    clicks = 8
    alone = [click_chain(port, p, clicks, settings) for p, settings in students]
    together = in_parallel(lambda s: click_chain(port, s[0], clicks, s[1]), students)
    for a, b in zip(alone, together, strict=True):
        assert [raw for _, raw in a] == [raw for _, raw in b]  # byte for byte
    requests = [body for chain in alone for body, _ in chain]
    expected = {json.dumps(body): raw for chain in alone for body, raw in chain}
    random.Random(1).shuffle(requests)
    answers = in_parallel(lambda b: (b, *post(port, "POST", "/api/step", b)), requests)
    for body, status, raw in answers:
        assert status == 200 and raw == expected[json.dumps(body)]
    for chain, (_, settings) in zip(alone, students, strict=True):
        if settings is SEEDED:  # the 8 rolls are one run, begun at the prompt
            assert {json.loads(raw)["start"] for _, raw in chain} == {len(chain[0][0]["ids"])}


def test_a_model_asked_for_by_many_threads_at_once_is_loaded_once(tmp_path, make_ckpt, monkeypatch):
    """The first requests of a class arrive together: one load, one model object, in eval mode."""
    import threading

    import attento.models.folder as model_folder
    from attento.explain.catalog import Catalog

    path = make_ckpt(tmp_path / "m")
    catalog = Catalog.discover(str(path), None, bundled_dir=tmp_path / "none")
    loads, real = [], model_folder.load_model
    monkeypatch.setattr(model_folder, "load_model", lambda p: loads.append(p) or real(p))
    barrier = threading.Barrier(16)
    results: list = []

    def ask() -> None:
        barrier.wait()
        results.append((catalog.load("m"), catalog.entry("m").facts()))

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and len(results) == 16
    (model, tokenizer), facts = results[0]
    assert all(r[0][0] is model and r[0][1] is tokenizer and r[1] is facts for r in results)
    assert not model.training


def test_blocks_asked_by_25_clients_at_once_equal_each_block_alone(server):
    """25 students open blocks, another token's stack and logit lens, the heads grid, a cache
    layer, exact cells and vocabulary searches for prompts the server has not traced yet, all
    at once (so records are computed concurrently, and clients asking for the same prompt wait
    for one computation); every answer equals the same request answered alone, computed here in
    process without any kept records, byte for byte."""
    import torch
    from fastapi.testclient import TestClient

    from attento.explain.catalog import Catalog
    from attento.explain.server import create_app
    from attento.explain.traces import Traces

    port, _ = server
    catalog = Catalog.discover(MODEL)
    model, tokenizer = catalog.load(MODEL)
    layers, heads = model.config.n_layer, model.config.n_head
    prompts = [LINE[i : i + 5 + i % 17] + " block" for i in range(CLIENTS)]
    requests = []
    for k, prompt in enumerate(prompts):
        ids = tokenizer.encode(prompt)
        requests += [
            ("/api/block", {"model": MODEL, "ids": ids, "block": b}) for b in range(layers)
        ]
        requests.append(("/api/stack", {"model": MODEL, "ids": ids, "pos": k % len(ids)}))
        requests.append(("/api/lens", {"model": MODEL, "ids": ids, "pos": k % len(ids)}))
        requests.append(("/api/heads", {"model": MODEL, "ids": ids}))
        requests.append(("/api/cache", {"model": MODEL, "ids": ids, "layer": k % layers}))
        cell = {"name": f"blocks.{k % layers}.attn.weights", "index": [k % heads, len(ids) - 1, 0]}
        requests.append(("/api/cell", {"model": MODEL, "ids": ids, **cell}))
        requests.append(("/api/vocab", {"model": MODEL, "query": prompt[k % 5 : k % 5 + 2]}))
    random.Random(2).shuffle(requests)
    answers = in_parallel(lambda r: post(port, "POST", *r), requests)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the server (attento explain --threads 1, the default)
    try:
        alone = TestClient(create_app(catalog, traces=Traces(0)), base_url="http://127.0.0.1")
        for (path, body), (status, raw) in zip(requests, answers, strict=True):
            assert status == 200, raw[:200]
            assert raw == alone.post(path, json=body).content, (path, body)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
def test_attention_and_snapshots_asked_by_25_clients_at_once_equal_each_alone(server):
    """25 students compare GPT and BERT (/api/attention) and scrub the bundled training
    history (/api/snapshot at its steps, so snapshot models are built concurrently), all at
    once; every answer equals the same request answered alone, byte for byte."""
    import torch
    from fastapi.testclient import TestClient

    from attento.explain.catalog import Catalog
    from attento.explain.server import create_app
    from attento.explain.traces import Traces

    port, _ = server
    catalog = Catalog.discover(MODEL)
    history = "dante-history"
    steps = json.loads(post(port, "POST", "/api/history", {"model": history})[1])["steps"]
    models = catalog_models(port)
    encoders = [m["name"] for m in models if not m["decoder_only"] and not m["encoder_decoder"]]
    requests = []
    for k in range(CLIENTS):  # one request each: a third GPT, a third BERT, a third history
        prompt = "Nel mezzo del cammin"[: 4 + k % 16]
        if k % 3 == 0 or (k % 3 == 1 and not encoders):
            requests.append(("/api/attention", {"model": MODEL, "prompt": LINE[k : k + 12]}))
        elif k % 3 == 1:
            name = encoders[k % len(encoders)]
            requests.append(("/api/attention", {"model": name, "prompt": prompt + " [MASK]"}))
        else:
            step = steps[k % len(steps)]
            requests.append(("/api/snapshot", {"model": history, "step": step, "prompt": prompt}))
    random.Random(3).shuffle(requests)
    answers = in_parallel(lambda r: post(port, "POST", *r), requests)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the server (attento explain --threads 1, the default)
    try:
        alone = TestClient(create_app(catalog, traces=Traces(0)), base_url="http://127.0.0.1")
        for (path, body), (status, raw) in zip(requests, answers, strict=True):
            assert status == 200, raw[:200]
            assert raw == alone.post(path, json=body).content, (path, body)
    finally:
        torch.set_num_threads(threads)


def catalog_models(port: int) -> list[dict]:
    return json.loads(post(port, "GET", "/api/models")[1])["models"]

"""The encoder–decoder view (/api/seq2seq, seq2seq_view.py): its attentions are the model's
own (cross-attention = torch.nn.MultiheadAttention with the same weights), its steps write
what `transduce` writes, and the endpoint is hardened and safe under concurrency."""

from __future__ import annotations

import http.client
import itertools
import json
import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from attento.explain.catalog import Catalog, Entry
from attento.explain.seq2seq_view import record_pair, seq2seq_view
from attento.explain.server import ECHO_CHARS, MAX_IDS, create_app
from attento.generate import filter_logits, probabilities
from attento.generate.seq2seq import transduce
from attento.models.folder import load_model

from .conftest import make_seq2seq_checkpoint, serving


@pytest.fixture(scope="module")
def s2s_dir(tmp_path_factory):
    return make_seq2seq_checkpoint(tmp_path_factory.mktemp("s2s") / "tiny-s2s")


@pytest.fixture(scope="module")
def s2s_catalog(catalog, s2s_dir):
    return Catalog([*catalog.entries.values(), Entry("tiny-s2s", s2s_dir, "test")], "tiny")


@pytest.fixture(scope="module")
def client(s2s_catalog):
    return TestClient(create_app(s2s_catalog), base_url="http://127.0.0.1")


@pytest.fixture(scope="module")
def s2s(s2s_dir):
    """(model, tokenizer), loaded apart from the server's."""
    return load_model(s2s_dir)


def unpack(p: dict) -> np.ndarray:
    import base64

    dtype = {"f32": "<f4", "f16": "<f2"}[p["dtype"]]
    return np.frombuffer(base64.b64decode(p["b64"]), dtype=dtype).reshape(p["shape"])


def test_the_catalog_knows_an_encoder_decoder(s2s_catalog):
    facts = s2s_catalog.entry("tiny-s2s").facts()
    assert facts["encoder_decoder"] is True and facts["decoder_only"] is False
    assert facts["arch"] == "seq2seq" and facts["prompt"] == "347"
    assert s2s_catalog.entry("tiny").facts()["encoder_decoder"] is False


@pytest.mark.parametrize("norm_first", [False, True])
def test_cross_attention_weights_equal_torch_multihead_attention(tmp_path, norm_first):
    model, tok = load_model(make_seq2seq_checkpoint(tmp_path / "m", norm_first=norm_first))
    src, target = tok.encode("3470"), tok.encode("trec")
    rec = record_pair(model, src, target)
    c = model.config
    with torch.no_grad():
        memory = model.encode(torch.tensor([src]))[0]
        for i, block in enumerate(model.decoder):
            x = rec[f"decoder.{i}.resid_mid"][None]  # what enters the cross sub-layer
            query = block.ln_cross(x) if norm_first else x
            mha = torch.nn.MultiheadAttention(c.n_embd, c.n_head, batch_first=True).eval()
            mha.in_proj_weight.copy_(torch.cat([block.cross.q.weight, block.cross.kv.weight]))
            mha.in_proj_bias.copy_(torch.cat([block.cross.q.bias, block.cross.kv.bias]))
            mha.out_proj.load_state_dict(block.cross.proj.state_dict())
            out, weights = mha(query, memory, memory, average_attn_weights=False)
            torch.testing.assert_close(rec[f"decoder.{i}.cross.weights"], weights[0])
            torch.testing.assert_close(rec[f"decoder.{i}.cross.out"], out[0])
    assert rec["decoder.0.cross.weights"].shape == (c.n_head, len(target) + 1, len(src))


def test_the_view_carries_the_traced_weights_and_exact_logits(s2s):
    model, tok = s2s
    src, target = tok.encode("1988"), tok.encode("mil")
    view = json.loads(json.dumps(seq2seq_view(model, tok, src, target), default=str))
    rec = record_pair(model, src, target)
    for kind, name in (("encoder", "encoder.{}.attn"), ("decoder", "decoder.{}.attn")):
        for i in range(2):
            got = unpack(view[kind])[i]
            want = rec[name.format(i) + ".weights"].numpy()
            np.testing.assert_allclose(got, want, atol=1e-3)  # sent as f16
    np.testing.assert_allclose(unpack(view["cross"])[1], rec["decoder.1.cross.weights"], atol=1e-3)
    # the decoder's self-attention is causal: nothing above the diagonal
    assert np.all(np.triu(unpack(view["decoder"])[0][0], 1) == 0)
    assert np.all(unpack(view["encoder"]) > 0)  # the encoder's is not
    plain = model(torch.tensor([src]), torch.tensor([[1, *target]]))[0, -1]  # no trace: SDPA
    np.testing.assert_allclose(unpack(view["next"]["logits"]), plain.detach().numpy(), atol=1e-5)
    assert view["target"][0] == {"id": 1, "text": "<bos>", "special": True}
    assert view["text"] == "mil" and view["written"] == target and not view["done"]


def write(client, settings: dict, source: str = "347") -> tuple[list[int], list[dict]]:
    """Press "next token" until the answer is written; the ids and every answer."""
    target, start, answers = [], 0, []
    while True:
        body = {"model": "tiny-s2s", "source": source, "target": target, "start": start}
        r = client.post("/api/seq2seq", json=body | settings | {"step": True})
        assert r.status_code == 200, r.text
        data = r.json()
        answers.append(data)
        target, start = data["written"], data["start"]
        if data["done"]:
            return target, answers


@pytest.mark.parametrize(
    "settings",
    [
        {"greedy": True},
        {"seed": 3},
        {"seed": 11, "temperature": 0.7, "top_k": 5},
        {"seed": 5, "top_p": 0.8, "temperature": 1.5},
    ],
)
def test_stepping_writes_what_transduce_writes(client, s2s, settings):
    model, tok = s2s
    target, answers = write(client, settings)
    src = torch.tensor([tok.encode("347")])
    expected = transduce(model, src, **settings)[0]
    eos = model.config.eos_id
    assert [i for i in target if i != eos] == expected
    assert all(a["start"] == 0 for a in answers)  # one run, begun at BOS
    # each step's probability is that of the logits the previous view showed
    for before, after in itertools.pairwise(answers):
        logits = torch.tensor(unpack(before["next"]["logits"]).copy())
        p = probabilities(
            filter_logits(
                logits,
                settings.get("temperature", 1.0),
                settings.get("top_k"),
                settings.get("top_p"),
            )
        )
        assert after["prob"] == pytest.approx(float(p[after["token"]["id"]]), rel=1e-4)


def test_a_target_the_run_would_not_write_restarts_it_at_its_end(client, s2s):
    _, tok = s2s
    body = {"model": "tiny-s2s", "source": "12", "target": tok.encode("zz"), "seed": 1}
    r = client.post("/api/seq2seq", json=body | {"step": True})
    assert r.status_code == 200 and r.json()["start"] == 2


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": "tiny"}, 400, "not_seq2seq"),
        ({"model": "nope"}, 404, "unknown_model"),
        ({"source": "34x"}, 400, "unencodable"),
        ({"source": "3" * 17}, 400, "context_full"),
        ({"src": [0, 4]}, 400, "bad_source"),
        ({"src": [4, 99]}, 400, "token_out_of_vocab"),
        ({"target": [4, 1]}, 400, "bad_target"),
        ({"target": [2, 4]}, 400, "bad_target"),
        ({"target": [0]}, 400, "bad_target"),
        ({"target": [4] * 16}, 400, "context_full"),  # BOS + 16 > the 16 it reads
        ({"target": [4] * 15, "step": True}, 400, "context_full"),  # no room to write
        ({"target": [4, 2], "step": True}, 400, "seq2seq_done"),
        ({"target": [4] * (MAX_IDS + 1)}, 400, "too_many_tokens"),
        ({"source": "1", "src": [4]}, 422, "invalid_request"),
        ({"source": ""}, 422, "invalid_request"),
        ({"temperature": float("nan")}, 422, "invalid_request"),
        ({"start": -1}, 422, "invalid_request"),
        ({"target": "4"}, 422, "invalid_request"),
        ({"steps": True}, 422, "invalid_request"),
    ],
)
def test_bad_requests_get_one_short_error(client, body, status, code):
    content = json.dumps({"model": "tiny-s2s"} | body).encode()  # NaN as JSON5 writes it
    r = client.post("/api/seq2seq", content=content, headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert set(r.json()) == {"detail", "code", "params"} and len(r.json()["detail"]) < 150


def test_the_other_pages_endpoints_refuse_an_encoder_decoder(client):
    for path, body in (
        ("/api/trace", {"prompt": "347"}),
        ("/api/attention", {"prompt": "347"}),
        ("/api/step", {"ids": [4, 5]}),
    ):
        r = client.post(path, json={"model": "tiny-s2s"} | body)
        assert (r.status_code, r.json()["code"]) == (400, "seq2seq_model"), path


def test_errors_never_echo_the_request(client):
    marker = "Q7w" + "".join(chr(ord("a") + i % 26) for i in range(300))
    for body in ({"model": marker}, {"source": "ZZ" + marker}, {marker: 1}):
        r = client.post("/api/seq2seq", json={"model": "tiny-s2s"} | body)
        assert 400 <= r.status_code < 500
        assert not any(marker[i : i + ECHO_CHARS + 1] in r.text for i in range(29)), r.text


def test_25_clients_at_once_get_what_each_gets_alone(s2s_catalog):
    """A class steps through numbers at once (greedy, seeded, views of any prefix): every
    answer equals the same request answered alone, byte for byte."""
    rng = random.Random(4)
    requests = []
    for k in range(25):
        body = {"model": "tiny-s2s", "source": str(rng.randrange(10_000))}
        body |= {"target": [rng.randrange(3, 30) for _ in range(k % 5)], "step": k % 2 == 0}
        body |= {"greedy": True} if k % 3 == 0 else {"seed": k, "temperature": 0.8}
        requests.append(body)
    app = create_app(s2s_catalog)

    def ask(port: int, body: dict) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request(
                "POST", "/api/seq2seq", json.dumps(body), {"Content-Type": "application/json"}
            )
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    with serving(app) as port, ThreadPoolExecutor(25) as pool:
        answers = list(pool.map(lambda b: ask(port, b), requests))
    alone = TestClient(create_app(s2s_catalog), base_url="http://127.0.0.1")
    for body, (status, raw) in zip(requests, answers, strict=True):
        assert status == 200, raw[:200]
        assert raw == alone.post("/api/seq2seq", json=body).content, body


def test_a_seeded_run_waits_between_clicks_and_writes_the_same(s2s):
    """With the server's Runs and Writers the next click finds its run (no replay) and the
    tokens are still transduce's."""
    from attento.explain.seq2seq_view import Writers, seq2seq_step
    from attento.explain.step_view import Runs

    model, tok = s2s
    src, runs, writers = tok.encode("90"), Runs(), Writers()
    target: list[int] = []
    for _ in range(6):
        answer = seq2seq_step(model, tok, src, target, 0, seed=2, runs=runs, writers=writers)
        assert answer["start"] == 0 and len(runs) == (0 if answer["done"] else 1)
        target = answer["written"]
        if answer["done"]:
            break
    expected = transduce(model, torch.tensor([src]), seed=2)[0]
    assert [i for i in target if i != model.config.eos_id] == expected[: len(target)]
    assert writers.get(model, src) is writers.get(model, list(src))

"""The kept forward passes (traces.py) and the detail endpoints that read them."""

from __future__ import annotations

import threading

import numpy as np
import torch
from fastapi.testclient import TestClient

from attento.explain import trace_view as tv
from attento.explain import traces as tr_mod
from attento.explain.server import VOCAB_MATCHES, create_app
from attento.explain.tensors import tolerance, unpack
from attento.explain.traces import Traces, record
from attento.models.trace import Trace


def test_only_the_last_position_is_projected_and_only_inside_the_explainers_trace(tiny):
    model, tok = tiny
    ids = tok.encode("Nel mezzo del")
    rec = record(model, ids)
    assert tuple(rec["logits"].shape) == (1, model.config.vocab_size)
    with torch.no_grad():
        full = model(torch.tensor([ids]))
        with Trace() as plain:  # any other trace, or none, still gets every position
            model(torch.tensor([ids]))
    assert tuple(full.shape) == (1, len(ids), model.config.vocab_size)
    assert tuple(plain.records["logits"].shape) == tuple(full.shape)
    np.testing.assert_allclose(rec["logits"][0].numpy(), full[0, -1].numpy(), atol=1e-5)


def test_kept_traces_stay_within_their_byte_budget_oldest_out_first(tiny):
    model, tok = tiny
    one = record(model, tok.encode("Nel mezzo")).nbytes
    traces = Traces(max_bytes=int(2.5 * one))
    prompts = ["Nel mezzo", "del cammin", "di nostra ", "vita mi ri"]  # 9-10 characters each
    for p in prompts:
        traces.get(model, tok.encode(p))
    assert len(traces) == 2 and traces.nbytes <= traces.max_bytes
    assert traces.get(model, tok.encode(prompts[-1]))[1]  # kept
    assert not traces.get(model, tok.encode(prompts[0]))[1]  # evicted: traced again


def test_clients_asking_for_one_prompt_at_once_wait_for_one_trace(tiny, monkeypatch):
    model, tok = tiny
    calls, real = [], tr_mod.record
    monkeypatch.setattr(tr_mod, "record", lambda m, ids: calls.append(1) or real(m, ids))
    traces, barrier, got = Traces(), threading.Barrier(8), []

    def ask():
        barrier.wait()
        got.append(traces.get(model, tok.encode("la diritta via"))[0])

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and all(r is got[0] for r in got)


def test_block_stack_and_cell_answers_are_cut_from_one_forward_pass(catalog, tiny):
    model, tok = tiny
    client = TestClient(create_app(catalog), base_url="http://127.0.0.1")
    ids = tok.encode("mi ritrovai")
    rec = record(model, ids)
    block = client.post("/api/block", json={"ids": ids, "block": 1}).json()
    assert block == tv.block_view(rec, 1, model.config)
    stack = client.post("/api/stack", json={"ids": ids, "pos": 2}).json()
    assert stack["rows"] == tv.stream_names(model.config.n_layer)
    want = np.stack([rec[name][2].numpy() for name in stack["rows"]])
    np.testing.assert_allclose(
        unpack(stack["vectors"]), want, atol=tolerance(stack["vectors"]) + 1e-6, rtol=0
    )
    q = rec["blocks.1.attn.q"]
    cell = client.post(
        "/api/cell", json={"ids": ids, "name": "blocks.1.attn.q", "index": [1, 4, 3]}
    ).json()
    assert cell["value"] == float(q[1, 4, 3])  # exact: the float32 itself
    masked = client.post(
        "/api/cell", json={"ids": ids, "name": "blocks.0.attn.scaled_masked", "index": [0, 0, 5]}
    ).json()
    assert masked["value"] is None and masked["text"] == "-inf"


def test_the_vocabulary_search_lists_the_encoded_tokens_then_those_holding_the_text(catalog, tiny):
    _, tok = tiny
    client = TestClient(create_app(catalog), base_url="http://127.0.0.1")
    found = client.post("/api/vocab", json={"query": "a"}).json()
    assert [c["id"] for c in found["encoded"]] == tok.encode("a")
    assert found["matches"][0] == {"id": tok.encode("a")[0], "text": "a"}
    texts = [tok.token_str(i) for i in range(tok.vocab_size)]
    assert found["total"] == sum("a" in t.casefold() for t in texts)
    assert len(found["matches"]) <= VOCAB_MATCHES
    none = client.post("/api/vocab", json={"query": "§"}).json()  # not in the vocabulary
    assert none["encoded"] == [] and none["matches"] == [] and none["total"] == 0


def test_a_block_of_a_prompt_not_kept_is_traced_only_up_to_that_block(tiny, catalog):
    model, tok = tiny
    ids = tok.encode("per una selva")
    traces = Traces()
    part = traces.partial(model, ids, 0)
    assert "blocks.0.out" in part and "blocks.1.ln1" not in part and "logits" not in part
    assert len(traces) == 0  # not kept
    full = record(model, ids)
    for name, t in part.records.items():
        assert torch.equal(t, full[name]), name
    with torch.no_grad():  # the stopped pass left the model as it was for everyone else
        assert tuple(model(torch.tensor([ids])).shape) == (1, len(ids), model.config.vocab_size)
    client = TestClient(create_app(catalog, traces=Traces(0)), base_url="http://127.0.0.1")
    assert client.post("/api/block", json={"ids": ids, "block": 0}).json() == tv.block_view(
        full, 0, model.config
    )

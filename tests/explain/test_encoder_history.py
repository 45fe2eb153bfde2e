"""GPT vs BERT (POST /api/attention) and a training history (POST /api/history, /api/snapshot):
the numbers are the models' own, checked against fill_mask and against the snapshot loaded
here in Python; a decoder's view refuses an encoder with one clear code."""

from __future__ import annotations

import pytest
import torch
from fastapi.testclient import TestClient

from attento.explain.catalog import Catalog, Entry
from attento.explain.server import create_app
from attento.explain.tensors import unpack
from attento.explain.traces import record
from attento.generate.fill_mask import fill_mask
from attento.models.folder import load_model
from attento.train.snapshots import load_snapshot

from .builders import BERT_SENTENCE, HISTORY_STEPS, make_bert, make_history


@pytest.fixture(scope="module")
def folders(tmp_path_factory, make_ckpt):
    root = tmp_path_factory.mktemp("pair")
    return {
        "tiny": make_ckpt(root / "tiny"),
        "bert": make_bert(root / "bert"),
        "history": make_history(root / "history", make_ckpt),
    }


@pytest.fixture(scope="module")
def client(folders):
    catalog = Catalog([Entry(n, p, "models-dir") for n, p in folders.items()], "tiny")
    return TestClient(create_app(catalog), base_url="http://127.0.0.1")


def test_an_encoder_is_listed_as_one(client):
    facts = {m["name"]: m for m in client.get("/api/models").json()["models"]}
    assert facts["bert"]["decoder_only"] is False and facts["bert"]["mlm_head"] is True
    assert facts["bert"]["prompt"] == "Nel mezzo del [MASK] di nostra vita"
    assert facts["tiny"]["decoder_only"] is True and facts["tiny"]["snapshots"] == 0
    assert facts["history"]["snapshots"] == len(HISTORY_STEPS)


def test_the_mask_guess_is_fill_masks_distribution(client, folders):
    data = client.post("/api/attention", json={"model": "bert", "prompt": BERT_SENTENCE}).json()
    model, tok = load_model(folders["bert"])
    guesses = fill_mask(model, tok, BERT_SENTENCE, k=5)
    assert [m["pos"] for m in data["masks"]] == [
        i for i, t in enumerate(data["ids"]) if t == data["mask_id"]
    ]
    assert len(data["masks"]) == len(guesses) == 2
    for mask, guess in zip(data["masks"], guesses, strict=True):
        probs = torch.from_numpy(unpack(mask["logits"])).double().softmax(-1)
        assert [g["id"] for g in guess] == [c["id"] for c in mask["top"][:5]]
        for g in guess:
            assert abs(float(probs[g["id"]]) - g["prob"]) < 1e-6


def test_encoder_attention_is_bidirectional_and_decoder_attention_causal(client):
    enc = client.post("/api/attention", json={"model": "bert", "prompt": BERT_SENTENCE}).json()
    dec = client.post("/api/attention", json={"model": "tiny", "prompt": "Nel mezzo"}).json()
    w_enc, w_dec = unpack(enc["weights"]), unpack(dec["weights"])
    T = len(enc["ids"])
    assert w_enc.shape == (2, 2, T, T) and enc["causal"] is False
    assert w_dec.shape == (2, 2, len("Nel mezzo"), len("Nel mezzo")) and dec["causal"] is True
    upper = torch.triu(torch.ones(T, T, dtype=torch.bool), 1).numpy()
    assert (w_enc[..., upper] > 0).all()  # every token reads the ones after it
    upper = torch.triu(torch.ones(9, 9, dtype=torch.bool), 1).numpy()
    assert (w_dec[..., upper] == 0).all()  # the future is masked
    assert abs(w_enc.sum(-1) - 1).max() < 2e-3 and abs(w_dec.sum(-1) - 1).max() < 2e-3
    assert dec["next"]["top"] and dec["masks"] == []


def test_the_decoder_views_refuse_an_encoder_with_one_code(client):
    for path, body in [
        ("/api/trace", {"model": "bert"}),
        ("/api/step", {"model": "bert", "ids": [1, 2]}),
        ("/api/block", {"model": "bert", "ids": [1, 2], "block": 0}),
        ("/api/history", {"model": "bert"}),
    ]:
        r = client.post(path, json=body)
        assert r.status_code == 400 and r.json()["code"] == "encoder_model", path


def test_a_history_lists_its_snapshots_and_log(client):
    data = client.post("/api/history", json={"model": "history"}).json()
    assert data["steps"] == list(HISTORY_STEPS)
    assert data["log"]["step"] == list(range(1, 11))
    assert data["log"]["val_loss"][4] == pytest.approx(3.0) and data["log"]["val_loss"][0] is None


def test_each_snapshot_answers_with_its_own_numbers(client, folders):
    model, tok = load_model(folders["history"])
    prompt = "Nel mezzo del"
    ids = tok.encode(prompt)
    seen = []
    for step in HISTORY_STEPS:
        data = client.post(
            "/api/snapshot", json={"model": "history", "step": step, "prompt": prompt}
        ).json()
        assert data["step"] == step and data["ids"] == ids
        load_snapshot(model, folders["history"], step)
        expected = record(model, ids)["logits"][-1]
        got = torch.from_numpy(unpack(data["final"]["logits"]))
        assert torch.equal(got, expected)  # exact float32
        seen.append(got)
    assert not torch.equal(seen[0], seen[-1])


def test_history_mistakes_are_clear_codes(client):
    r = client.post("/api/snapshot", json={"model": "history", "step": 7, "prompt": "Nel"})
    assert r.status_code == 400 and r.json()["code"] == "bad_step"
    assert r.json()["params"] == {"step": 7, "steps": "0, 5, 10"}
    r = client.post("/api/history", json={"model": "tiny"})
    assert r.status_code == 400 and r.json()["code"] == "no_history"
    r = client.post("/api/snapshot", json={"model": "history", "step": -1})
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"

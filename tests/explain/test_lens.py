"""The logit lens (lens.py): the last row is the model's own final step, the earlier rows are
transformers' hidden states read through the final norm and the vocabulary projection."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from attento.explain.lens import LENS_TOP, lens_logits, lens_view
from attento.explain.server import create_app
from attento.explain.traces import record
from attento.generate import next_token_report
from attento.models.folder import load_model


@pytest.fixture(scope="module")
def client(catalog):
    return TestClient(create_app(catalog), base_url="http://127.0.0.1")


@pytest.mark.parametrize("name", ["tiny", "tiny-rope"])
def test_the_last_row_is_the_traced_final_step_bit_for_bit(models_dir, name):
    model, tok = load_model(models_dir / name)
    ids = tok.encode("Nel mezzo del cammin")
    rec = record(model, ids)
    logits = lens_logits(model, rec, len(ids) - 1)
    assert logits.shape == (model.config.n_layer + 1, model.config.vocab_size)
    assert torch.equal(logits[-1], rec["logits"][-1].float())


def test_the_last_row_gives_next_tokens_probabilities(tiny):
    model, tok = tiny
    prompt = "Nel mezzo del cammin"
    view = lens_view(model, tok, record(model, tok.encode(prompt)), len(tok.encode(prompt)) - 1)
    report = next_token_report(model, tok, prompt, n=LENS_TOP)
    last = view["rows"][-1]
    assert [c["id"] for c in last["top"]] == [c.id for c in report.candidates[:LENS_TOP]]
    np.testing.assert_allclose(
        [c["prob"] for c in last["top"]], [c.prob for c in report.candidates[:LENS_TOP]], atol=1e-6
    )
    assert view["target"]["text"] == report.greedy_text and last["target_rank"] == 1
    assert last["target_prob"] == last["top"][0]["prob"]


def test_every_row_matches_transformers_hidden_states(tmp_path):
    transformers = pytest.importorskip("transformers")
    from attento.models.gpt import GPT

    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=300, n_positions=32, n_embd=48, n_layer=3, n_head=4)
    hf = transformers.GPT2LMHeadModel(config).eval()
    hf.save_pretrained(tmp_path)
    ours = GPT.from_hf(tmp_path).eval()
    ids = [5, 17, 250, 3, 99, 42]
    with torch.no_grad():
        hidden = hf(torch.tensor([ids]), output_hidden_states=True).hidden_states
        # hidden_states[-1] already went through ln_f; the others are the bare residual stream
        want = [hf.lm_head(hf.transformer.ln_f(h[0])) for h in hidden[:-1]]
        want.append(hf.lm_head(hidden[-1][0]))
    rec = record(ours, ids)
    for pos in (0, 3, len(ids) - 1):
        got = lens_logits(ours, rec, pos).numpy()
        np.testing.assert_allclose(got, torch.stack([w[pos] for w in want]).numpy(), atol=2e-5)


def test_api_lens_rows_and_target(client, tiny):
    model, tok = tiny
    ids = tok.encode("Nel mezzo")
    data = client.post("/api/lens", json={"ids": ids, "pos": 2, "target": ids[3]}).json()
    assert data["pos"] == 2 and data["target"]["id"] == ids[3]
    assert [r["block"] for r in data["rows"]] == list(range(-1, model.config.n_layer))
    for row in data["rows"]:
        assert len(row["top"]) == LENS_TOP and 1 <= row["target_rank"] <= model.config.vocab_size
        probs = [c["prob"] for c in row["top"]]
        assert probs == sorted(probs, reverse=True) and 0 < row["target_prob"] <= 1


def test_api_lens_refuses_a_position_or_target_outside(client, tiny):
    _, tok = tiny
    ids = tok.encode("Nel")
    r = client.post("/api/lens", json={"ids": ids, "pos": 3})
    assert r.status_code == 400 and r.json()["code"] == "bad_position"
    r = client.post("/api/lens", json={"ids": ids, "pos": 0, "target": 10**6})
    assert r.status_code == 400 and r.json()["code"] == "token_out_of_vocab"


def test_a_model_without_a_final_norm_has_no_lens(tiny):
    from types import SimpleNamespace

    from attento.errors import UserError

    model, tok = tiny
    rec = record(model, tok.encode("Nel"))
    headless = SimpleNamespace(config=model.config, ln_f=model.ln_f)
    with pytest.raises(UserError) as e:
        lens_view(headless, tok, rec, 0)
    assert e.value.code == "no_lens"

"""next_token_report: the course figure's table, consistent with the model and with generate."""

from __future__ import annotations

import json

import pytest
import torch

from attento.generate import next_token_report, stream
from attento.models import GPT, GPTConfig
from attento.tokenize import CharTokenizer

TEXT = "nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura"


def _tiny():
    tok = CharTokenizer.from_text(TEXT)
    torch.manual_seed(0)
    model = GPT(
        GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=2, n_head=2, n_embd=16)
    ).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.mul_(6.0)
    return model, tok


MODEL, TOK = _tiny()


@pytest.mark.parametrize(
    "settings",
    [
        {"temperature": 1.0},
        {"temperature": 0.8, "top_k": 5},
        {"temperature": 1.2, "top_p": 0.9},
        {"temperature": 0.7, "top_k": 8, "top_p": 0.6},
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_die_picks_what_generate_writes(settings, seed):
    report = next_token_report(MODEL, TOK, "nel mezzo", seed=seed, **settings)
    first = next(iter(stream(MODEL, TOK, "nel mezzo", 1, seed=seed, **settings)))
    assert report.picked_id == first[0]
    assert report.picked_text == first[1]
    greedy = next(iter(stream(MODEL, TOK, "nel mezzo", 1, greedy=True)))
    assert report.greedy_id == greedy[0]
    assert sum(c.picked for c in report.candidates) == 1


def test_columns_follow_the_pipeline():
    t, k, p = 0.8, 5, 0.7
    report = next_token_report(
        MODEL, TOK, "per una", temperature=t, top_k=k, top_p=p, seed=0, n=TOK.vocab_size
    )
    with torch.no_grad():
        logits = MODEL(torch.tensor([TOK.encode("per una")]))[0, -1]
    rows = sorted(report.candidates, key=lambda c: c.rank)
    assert [c.id for c in rows] == torch.argsort(logits, descending=True, stable=True).tolist()
    probs = torch.softmax(logits / t, dim=-1)
    for c in rows:
        assert c.logit == pytest.approx(logits[c.id].item(), abs=1e-5)
        assert c.scaled_logit == pytest.approx(logits[c.id].item() / t, abs=1e-5)
        assert c.prob == pytest.approx(probs[c.id].item(), abs=1e-6)
    assert [c.kept_top_k for c in rows] == [r < k for r in range(len(rows))]
    cumulative = torch.cumsum(torch.tensor([c.prob for c in rows]), 0)
    assert [c.cumulative for c in rows] == pytest.approx(cumulative.tolist(), abs=1e-6)
    # top-p sees the top-k survivors renormalised: keep the smallest head reaching p
    head = torch.softmax(logits.sort(descending=True).values[:k] / t, 0).cumsum(0)
    n_kept = int((head < p).sum()) + 1
    assert [c.kept_top_p for c in rows] == [r < n_kept for r in range(len(rows))]
    assert report.kept == n_kept
    kept_probs = torch.tensor([c.final_prob for c in rows[:n_kept]])
    assert kept_probs.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert all(c.final_prob == 0.0 for c in rows[n_kept:])
    assert rows[0].greedy and report.greedy_id == rows[0].id


def test_picked_token_is_shown_even_outside_the_top_n():
    seeds = range(40)
    reports = [next_token_report(MODEL, TOK, "selva", temperature=3.0, seed=s, n=1) for s in seeds]
    outside = [r for r in reports if r.picked_id != r.greedy_id]
    assert outside, "a hot temperature should sometimes pick a non-favourite"
    for r in outside:
        assert len(r.candidates) == 2 and r.candidates[-1].picked


def test_to_dict_is_json_and_seed_is_reported():
    report = next_token_report(MODEL, TOK, "vita", top_k=3)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["candidates"][0]["rank"] == 1
    again = next_token_report(MODEL, TOK, "vita", top_k=3, seed=data["seed"])
    assert again.picked_id == report.picked_id

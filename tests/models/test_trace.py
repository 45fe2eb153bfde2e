"""Trace: records every documented intermediate without changing the result."""

from __future__ import annotations

import re

import pytest
import torch

from attento.models import trace
from attento.models.gpt import GPT, GPTConfig
from attento.models.trace import Trace


def documented_names(n_layer: int) -> set[str]:
    """The names listed in trace.py's docstring, with {i} expanded."""
    names = re.findall(r"^- `([^`]+)`", trace.__doc__, flags=re.M)
    assert len(names) > 15
    return {n.replace("{i}", str(i)) for n in names for i in range(n_layer)}


@pytest.mark.parametrize("pos_encoding", ["learned", "sinusoidal", "rope"])
def test_trace_records_every_documented_name(pos_encoding):
    torch.manual_seed(0)
    model = GPT(GPTConfig(40, 16, 2, 4, 32, pos_encoding=pos_encoding)).eval()
    idx = torch.randint(0, 40, (2, 9))
    plain = model(idx)
    with Trace() as tr:
        traced = model(idx)
    assert torch.allclose(traced, plain, atol=1e-6)
    expected = documented_names(2)
    if pos_encoding == "rope":
        expected.discard("embed.pos")
    assert set(tr.records) == expected
    assert torch.equal(tr.records["logits"], traced)
    for name, tensor in tr.records.items():
        assert tensor.device.type == "cpu" and not tensor.requires_grad, name
    for i in range(2):
        w = tr.records[f"blocks.{i}.attn.weights"]
        assert w.shape == (2, 4, 9, 9)
        assert torch.allclose(w.sum(-1), torch.ones(2, 4, 9), atol=1e-6)
        assert torch.triu(w, diagonal=1).abs().max() == 0
        assert tr.records[f"blocks.{i}.attn.q"].shape == (2, 4, 9, 8)
        assert torch.isinf(tr.records[f"blocks.{i}.attn.scaled_masked"][0, 0, 0, 1])
    emb = tr.records
    if pos_encoding != "rope":
        assert torch.allclose(emb["embed.tok"] + emb["embed.pos"], emb["embed.sum"], atol=1e-6)
    assert torch.allclose(
        emb["blocks.0.resid_mid"] + emb["blocks.0.mlp.out"], emb["blocks.0.out"], atol=1e-6
    )


def test_trace_with_cache_records_all_keys():
    torch.manual_seed(0)
    model = GPT(GPTConfig(40, 16, 1, 2, 16)).eval()
    cache = model.new_cache(1)
    model(torch.randint(0, 40, (1, 5)), cache=cache)
    with Trace() as tr:
        model(torch.randint(0, 40, (1, 1)), cache=cache)
    assert tr.records["blocks.0.attn.k"].shape == (1, 2, 6, 8)
    assert tr.records["blocks.0.attn.weights"].shape == (1, 2, 1, 6)


def test_no_trace_records_nothing_and_traces_nest():
    model = GPT(GPTConfig(40, 16, 1, 2, 16)).eval()
    idx = torch.randint(0, 40, (1, 4))
    with Trace() as outer:
        with Trace() as inner:
            model(idx)
        assert trace.current is outer
    assert trace.current is None
    assert "logits" in inner.records and outer.records == {}
    model(idx)
    assert outer.records == {}

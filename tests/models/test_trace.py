"""Trace: records every documented intermediate without changing the result."""

from __future__ import annotations

import re

import pytest
import torch

from attento.models import trace
from attento.models.gpt import GPT, GPTConfig
from attento.models.trace import Trace


def documented_names(n_layer: int) -> set[str]:
    """The decoder-only names listed in trace.py's docstring, with {i} expanded (the
    encoder–decoder's `encoder.*` / `decoder.*` records belong to Seq2Seq)."""
    names = re.findall(r"^- `([^`]+)`", trace.__doc__, flags=re.M)
    names = [n for n in names if not n.startswith(("encoder.", "decoder."))]
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
        assert trace.active() is outer
    assert trace.active() is None
    assert "logits" in inner.records and outer.records == {}
    model(idx)
    assert outer.records == {}


def test_a_trace_is_local_to_its_thread():
    """One thread traces while others run the same model plainly or trace other inputs: each
    caller gets its own records and its own logits, equal to the same call made alone."""
    import threading

    torch.manual_seed(0)
    model = GPT(GPTConfig(40, 16, 2, 2, 16)).eval()
    inputs = [torch.randint(0, 40, (1, 3 + i % 5)) for i in range(16)]
    with torch.no_grad():
        plain = [model(x) for x in inputs]
        traced = []
        for x in inputs:
            with Trace():
                traced.append(model(x))  # the explicit attention path: its own rounding
    results: dict[int, tuple] = {}
    barrier = threading.Barrier(8)

    def work(i: int) -> None:
        barrier.wait()
        for j in range(i, len(inputs), 8):
            with torch.no_grad():
                if j % 2:
                    with Trace() as tr:
                        out = model(inputs[j])
                    results[j] = (out, tr.records)
                else:
                    results[j] = (model(inputs[j]), None)
                    assert trace.active() is None

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == len(inputs)
    for j, (out, records) in results.items():
        assert torch.equal(out, (plain if records is None else traced)[j])
        if records is not None:
            assert torch.equal(records["logits"], traced[j])
            assert records["embed.sum"].shape[1] == inputs[j].shape[1]

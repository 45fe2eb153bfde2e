"""The explainer's views of a grouped-query model: each query head is shown with the key/value
head it reads (the trace holds n_kv_head of them; models/trace.py)."""

from __future__ import annotations

import torch

from attento.explain import step_view as sv
from attento.explain import trace_view as tv
from attento.explain.tensors import unpack
from attento.models.gpt import GPT, GPTConfig
from attento.models.trace import Trace
from attento.tokenize.char import CharTokenizer


def test_each_query_head_gets_the_key_value_head_it_reads():
    tok = CharTokenizer.from_text("abcdefgh ")
    torch.manual_seed(0)
    config = GPTConfig(tok.vocab_size, 16, 2, 4, 32, pos_encoding="rope", n_kv_head=2)
    model = GPT(config).eval()
    ids = tok.encode("abc defg")
    view = tv.trace_view(model, tok, ids)
    with Trace() as tr:
        model(torch.tensor([ids]))
    k, v = tr.records["blocks.1.attn.k"][0], tr.records["blocks.1.attn.v"][0]  # (2, T, 8)
    block = view["blocks"][1]
    for h in range(4):  # heads 0, 1 read key/value head 0; heads 2, 3 read head 1
        assert torch.equal(torch.tensor(unpack(block["k"])[h]), k[h // 2])
        assert torch.equal(torch.tensor(unpack(block["v"])[h]), v[h // 2])
    cache = sv.cache_view(model, tok, ids)
    assert unpack(cache["layers"][1]["k"]).shape == (4, len(ids), 8)
    assert cache["max_abs_diff"] < 1e-5

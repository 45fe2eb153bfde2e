"""The explainer's views of a grouped-query model, shown as it is: a block's keys and values have
n_kv_head heads (as the trace and the KV cache hold them; models/trace.py), and the page is told
how many query heads read each one."""

from __future__ import annotations

import torch

from attento.explain import step_view as sv
from attento.explain import trace_view as tv
from attento.explain.tensors import tolerance, unpack
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
    assert (block["n_head"], block["n_kv_head"]) == (4, 2)
    assert view["attention"] == {"n_head": 4, "n_kv_head": 2, "group": 2}
    for packed, want in [(block["k"], k), (block["v"], v)]:
        assert packed["shape"] == [2, len(ids), 8]
        torch.testing.assert_close(
            torch.tensor(unpack(packed)), want, atol=tolerance(packed) + 1e-6, rtol=0
        )
    # the weights of query heads 0 and 1 come from the same keys (head 0): softmax(q_h·k_0)
    q = tr.records["blocks.1.attn.q"][0]
    for h in range(4):
        scores = q[h] @ k[h // 2].T / 8**0.5
        scores = scores.masked_fill(torch.ones_like(scores).triu(1).bool(), float("-inf"))
        torch.testing.assert_close(
            torch.tensor(unpack(block["weights"])[h]), scores.softmax(-1), atol=1e-3, rtol=0
        )
    cache = sv.cache_view(model, tok, ids)
    assert unpack(cache["layers"][1]["k"]).shape == (2, len(ids), 8)
    assert (cache["n_head"], cache["n_kv_head"]) == (4, 2)
    assert cache["max_abs_diff"] < 1e-5

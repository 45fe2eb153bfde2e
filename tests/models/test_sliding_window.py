"""Sliding-window attention (GPTConfig.sliding_window = W): each query sees at most the last W
keys, itself included; the explicit path (the explainer's) equals the SDPA path, the KV cache
keeps only the last W positions whatever the length, and the model trains."""

from __future__ import annotations

import pytest
import torch

from attento.errors import UserError
from attento.generate import generate
from attento.models.gpt import GPT, GPTConfig
from attento.models.trace import Trace

W = 5


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny matrices: one thread is fastest, and much faster on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def windowed(**changes) -> GPT:
    torch.manual_seed(0)
    settings = dict(pos_encoding="rope", norm="rmsnorm", n_kv_head=1, sliding_window=W)
    model = GPT(GPTConfig(61, 64, 2, 2, 16, **settings | changes)).eval()
    with torch.no_grad():  # peaked logits: greedy tokens have no near-ties
        for p in model.parameters():
            p.mul_(6.0 if p.dim() > 1 else 1.0)
    return model


@pytest.mark.parametrize("pos_encoding", ["rope", "learned"])
def test_the_explicit_path_equals_sdpa_and_sees_only_the_window(pos_encoding):
    model = windowed(pos_encoding=pos_encoding)
    idx = torch.randint(0, 61, (2, 23), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        fast = model(idx)
        with Trace() as tr:
            explicit = model(idx)
    assert (explicit - fast).abs().max() < 1e-6
    weights = tr.records["blocks.0.attn.weights"]  # (B, H, T, T)
    q, k = torch.arange(23)[:, None], torch.arange(23)[None, :]
    seen = (k <= q) & (k > q - W)
    assert torch.all(weights[..., ~seen] == 0) and torch.all(weights[..., seen] > 0)
    # and the window changes the answer: without it the same weights give other logits
    model.config.sliding_window = None
    for block in model.blocks:
        block.attn.window = None
    with torch.no_grad():
        assert (model(idx) - fast).abs().max() > 1e-3


def test_cached_generation_equals_recomputing_and_the_cache_stays_bounded():
    model = windowed()
    prompt = torch.tensor([[3, 14, 15, 9, 26, 5, 35, 8]])
    cached = generate(model, prompt, 40, seed=3)
    recomputed = generate(model, prompt, 40, seed=3, use_cache=False)
    assert torch.equal(cached, recomputed) and len(set(cached[0, 8:].tolist())) > 3

    cache = model.new_cache(1)
    with torch.no_grad():
        model(prompt, cache=cache)
        full = model(cached[:, :47])
        for t in range(8, 47):
            step = model(cached[:, t : t + 1], cache=cache)[:, -1]
            assert (step - full[:, t]).abs().max() < 1e-5
    assert cache.length == 47  # positions seen: the next token's position
    for layer in cache.layers:
        assert layer.k.size(2) == W and layer.start == 47 - W
        assert layer._k.size(2) <= 2 * (W + prompt.size(1))  # memory: not the text's length


def test_padded_rows_with_a_window_equal_each_row_alone():
    model = windowed()
    rows = [[7, 1, 2, 3, 4, 5, 6, 7, 8, 9], [4, 4, 2, 9]]
    width = max(map(len, rows))
    idx = torch.tensor([[0] * (width - len(r)) + r for r in rows])
    valid = torch.tensor([[False] * (width - len(r)) + [True] * len(r) for r in rows])
    together = generate(model, idx, 12, temperature=0.5, seed=4, valid=valid)
    for i, r in enumerate(rows):
        alone = generate(model, torch.tensor([r]), 12, temperature=0.5, seed=4 + i)  # die of row i
        assert together[i, width:].tolist() == alone[0, len(r) :].tolist()


def test_a_windowed_model_trains():
    torch.manual_seed(0)
    model = GPT(GPTConfig(61, 32, 2, 2, 16, sliding_window=4))
    data = torch.randint(0, 61, (8, 33), generator=torch.Generator().manual_seed(2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(12):
        _, loss = model(data[:, :-1], data[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.5


@pytest.mark.parametrize("value", [0, -3, 2.5, True])
def test_a_bad_window_is_one_line(value):
    with pytest.raises(UserError, match="sliding_window"):
        GPTConfig(61, 32, 1, 2, 16, sliding_window=value)


def test_qwen2s_sliding_window_loads_and_exports_exactly(tmp_path):
    """transformers' Qwen2 with use_sliding_window in every layer (max_window_layers 0): the
    same logits on a text longer than the window, both ways."""
    transformers = pytest.importorskip("transformers")
    from .test_hf_llama import VOCAB, qwen2, same_logits

    theirs = qwen2(use_sliding_window=True, sliding_window=8, max_window_layers=0).eval()
    theirs.save_pretrained(tmp_path / "hf")
    ours = GPT.from_hf(tmp_path / "hf").eval()
    assert ours.config.sliding_window == 8
    assert same_logits(ours, theirs, T=40) < 1e-4
    unwindowed = GPT.from_hf(tmp_path / "hf").eval()
    for block in unwindowed.blocks:
        block.attn.window = None
    assert same_logits(unwindowed, theirs, T=40) > 1e-2  # the window matters at 40 tokens

    ours.export_hf(tmp_path / "back")
    back = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "back").eval()
    assert back.config.layer_types == ["sliding_attention"] * 2
    assert same_logits(ours, back, T=40) < 1e-4
    assert ours.config.vocab_size == VOCAB


def test_a_window_does_not_export_as_llama_or_gpt2(tmp_path):
    for settings in (
        dict(pos_encoding="rope", norm="rmsnorm", bias=False, activation="swiglu"),
        dict(),
    ):
        with pytest.raises(UserError, match=r"window|GPT-2"):
            GPT(GPTConfig(50, 16, 1, 2, 16, sliding_window=4, **settings)).export_hf(tmp_path)

"""Causal dilated CNN LM: causality and receptive field measured by perturbing tokens, the
window cache, left padding, config errors."""

from __future__ import annotations

import pytest
import torch

from attento.errors import UserError
from attento.models.conv import ConvConfig, ConvLM


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def influence(model, T: int = 40) -> torch.Tensor:
    """influence[t, s]: does changing the token at s change the logits at t?"""
    torch.manual_seed(0)
    idx = torch.randint(model.config.vocab_size, (1, T))
    with torch.no_grad():
        base = model(idx)[0]
        rows = []
        for s in range(T):
            changed = idx.clone()
            changed[0, s] = (changed[0, s] + 1) % model.config.vocab_size
            rows.append((model(changed)[0] - base).abs().amax(dim=-1) > 0)
    return torch.stack(rows, dim=1)  # (t, s)


@pytest.mark.parametrize(("kernel", "layers"), [(2, 3), (3, 2), (2, 1)])
def test_output_at_t_reads_exactly_the_receptive_field(kernel, layers):
    torch.manual_seed(1)
    model = ConvLM(ConvConfig(vocab_size=9, n_layer=layers, n_embd=8, kernel_size=kernel))
    rf = model.receptive_field
    assert rf == 1 + (kernel - 1) * sum(kernel**i for i in range(layers))
    seen = influence(model)
    t = torch.arange(seen.size(0))[:, None]
    s = torch.arange(seen.size(1))[None, :]
    expected = (s <= t) & (s >= t - rf + 1)
    assert torch.equal(seen, expected)


def test_window_cache_continues_exactly():
    torch.manual_seed(2)
    model = ConvLM(ConvConfig(vocab_size=9, n_layer=3, n_embd=8)).eval()
    idx = torch.randint(9, (2, 25))
    full = model(idx)
    cache = model.new_cache(2)
    parts = [model(idx[:, :3], cache=cache)]
    parts += [model(idx[:, t : t + 1], cache=cache) for t in range(3, 25)]
    assert cache.length == 25 and cache.ids.size(1) == model.receptive_field - 1
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=0)


def test_left_padded_row_gives_the_logits_of_the_row_alone():
    torch.manual_seed(3)
    model = ConvLM(ConvConfig(vocab_size=9, n_layer=3, n_embd=8)).eval()
    short = torch.randint(9, (1, 5))
    batch = torch.cat((torch.full((1, 4), 2), short), dim=1)
    valid = torch.ones(1, 9, dtype=torch.bool)
    valid[0, :4] = False
    torch.testing.assert_close(model(batch, valid=valid)[0, 4:], model(short)[0])
    # through the cache too: the prompt left-padded, then tokens without `valid`
    cache = model.new_cache(1)
    model(batch, cache=cache, valid=valid)
    nxt = torch.tensor([[3]])
    torch.testing.assert_close(
        model(nxt, cache=cache)[0], model(torch.cat((short, nxt), 1))[0, -1:], atol=1e-5, rtol=0
    )


def test_trains_loss_goes_down():
    torch.manual_seed(4)
    model = ConvLM(ConvConfig(vocab_size=5, n_layer=2, n_embd=16))
    idx = torch.tensor([[0, 1, 2, 3, 4] * 4])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        _, loss = model(idx[:, :-1], idx[:, 1:])
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first / 4


def test_config_round_trip_and_errors():
    config = ConvConfig(vocab_size=20, n_layer=4, kernel_size=3)
    assert ConvConfig.from_dict(config.to_dict()) == config
    assert config.dilations == [1, 3, 9, 27]
    with pytest.raises(UserError, match="kernel_size"):
        ConvConfig(vocab_size=5, kernel_size=1)
    with pytest.raises(UserError, match="unknown model setting"):
        ConvConfig.from_dict({"vocab_size": 5, "n_head": 2})
    with pytest.raises(UserError, match="n_layer"):
        ConvConfig(vocab_size=5, n_layer=True)

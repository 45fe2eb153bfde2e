"""Fixed-window MLP LM (Bengio et al., 2003): the window measured by perturbing tokens, the
concatenation against a hand-built window, cache, padding, config errors."""

from __future__ import annotations

import pytest
import torch

from attento.errors import UserError
from attento.models.mlp_lm import MLPLM, MLPConfig


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_output_at_t_reads_exactly_the_last_context_tokens():
    torch.manual_seed(0)
    model = MLPLM(MLPConfig(vocab_size=7, context=5, n_embd=4, n_hidden=8))
    T = 20
    idx = torch.randint(7, (1, T))
    with torch.no_grad():
        base = model(idx)[0]
        for s in range(T):
            changed = idx.clone()
            changed[0, s] = (changed[0, s] + 1) % 7
            moved = (model(changed)[0] - base).abs().amax(dim=-1) > 0
            t = torch.arange(T)
            assert torch.equal(moved, (t >= s) & (t < s + model.receptive_field))


def test_logits_are_the_mlp_of_the_concatenated_window():
    torch.manual_seed(1)
    model = MLPLM(MLPConfig(vocab_size=7, context=3, n_embd=4, n_hidden=8))
    idx = torch.tensor([[1, 2, 3, 4, 5]])
    e = model.embed.weight
    zero = torch.zeros(4)
    # position 1 sees (before the text, token 1, token 2); position 4 sees tokens 3, 4, 5
    for t, window in ((1, [zero, e[1], e[2]]), (4, [e[3], e[4], e[5]])):
        h = torch.tanh(model.hidden(torch.cat(window)))
        torch.testing.assert_close(model(idx)[0, t], model.lm_head(h))


def test_window_cache_and_left_padding():
    torch.manual_seed(2)
    model = MLPLM(MLPConfig(vocab_size=7, context=4, n_embd=4, n_hidden=8)).eval()
    idx = torch.randint(7, (2, 12))
    cache = model.new_cache(2)
    parts = [model(idx[:, :5], cache=cache)]
    parts += [model(idx[:, t : t + 1], cache=cache) for t in range(5, 12)]
    torch.testing.assert_close(torch.cat(parts, 1), model(idx), atol=1e-5, rtol=0)
    padded = torch.cat((torch.full((1, 3), 6), idx[:1, :5]), dim=1)
    valid = torch.tensor([[False] * 3 + [True] * 5])
    torch.testing.assert_close(model(padded, valid=valid)[0, 3:], model(idx[:1, :5])[0])


def test_config_round_trip_and_errors():
    config = MLPConfig(vocab_size=30, context=6, n_hidden=64)
    assert MLPConfig.from_dict(config.to_dict()) == config
    assert "POSITIVE" not in config.to_dict()
    with pytest.raises(UserError, match="context"):
        MLPConfig(vocab_size=5, context=0)
    with pytest.raises(UserError, match="JSON object"):
        MLPConfig.from_dict([1, 2])
    with pytest.raises(UserError, match="unknown model setting"):
        MLPConfig.from_dict({"vocab_size": 5, "window": 3})

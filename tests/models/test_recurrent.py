"""RNN/LSTM/GRU: the written-out cells against PyTorch's modules on the same weights, the LM's
two paths, its cache (the state) and left padding, config errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from attento.errors import UserError
from attento.models.recurrent import (
    CELLS,
    GRULM,
    LSTMLM,
    RNNLM,
    TORCH_MODULES,
    RecurrentConfig,
    run_cells,
)

ARCHS = {"rnn": RNNLM, "lstm": LSTMLM, "gru": GRULM}
TORCH_CELLS = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny step-by-step models run fastest on one thread (and the CPU is shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def flat(state) -> list[torch.Tensor]:
    return list(state) if isinstance(state, tuple) else [state]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_cells_match_torch_modules_outputs_states_and_gradients(cell):
    torch.manual_seed(0)
    module = TORCH_MODULES[cell](5, 7, num_layers=2, batch_first=True).double()
    x = torch.randn(3, 6, 5, dtype=torch.double, requires_grad=True)
    h0 = torch.randn(2, 3, 7, dtype=torch.double, requires_grad=True)
    state0 = (h0, torch.randn(2, 3, 7, dtype=torch.double, requires_grad=True))
    state0 = state0 if cell == "lstm" else h0
    cells = [CELLS[cell].from_torch(module, layer) for layer in range(2)]

    ref_out, ref_state = module(x, state0)
    out, state = run_cells(cells, x, state0)
    assert out.shape == ref_out.shape == (3, 6, 7)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=0)
    for a, b in zip(flat(state), flat(ref_state), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)

    # the same scalar of outputs and final states, differentiated through both paths
    weights = torch.randn_like(out)
    wrt = [x, *flat(state0), *module.parameters()]

    def grads(o, s):
        loss = (o * weights).sum() + sum((t**2).sum() for t in flat(s))
        return torch.autograd.grad(loss, wrt)

    for a, b in zip(grads(out, state), grads(ref_out, ref_state), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_one_step_matches_torch_cell(cell):
    torch.manual_seed(1)
    ref = TORCH_CELLS[cell](4, 6)
    mine = CELLS[cell](ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh)
    x, h = torch.randn(2, 4), torch.randn(2, 6)
    if cell == "lstm":
        c = torch.randn(2, 6)
        h_new, (_, c_new) = mine(x, (h, c))
        ref_h, ref_c = ref(x, (h, c))
        torch.testing.assert_close(c_new, ref_c, atol=1e-6, rtol=0)
    else:
        h_new, _ = mine(x, h)
        ref_h = ref(x, h)
    torch.testing.assert_close(h_new, ref_h, atol=1e-6, rtol=0)


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_lm_explicit_path_equals_fast_path_with_gradients(arch):
    torch.manual_seed(2)
    model = ARCHS[arch](RecurrentConfig(vocab_size=13, n_embd=6, n_hidden=9, n_layer=2))
    idx, targets = torch.randint(13, (3, 8)), torch.randint(13, (3, 8))
    fast_logits, fast_loss = model(idx, targets)
    fast_grads = torch.autograd.grad(fast_loss, list(model.parameters()))
    logits, loss = model(idx, targets, explicit=True)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    torch.testing.assert_close(logits, fast_logits, atol=1e-5, rtol=0)
    for (name, _), a, b in zip(model.named_parameters(), grads, fast_grads, strict=True):
        assert b.abs().sum() > 0, name
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0, msg=name)


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_cache_is_the_state_and_continues_exactly(arch):
    torch.manual_seed(3)
    model = ARCHS[arch](RecurrentConfig(vocab_size=11, n_embd=8, n_hidden=8, n_layer=2)).eval()
    idx = torch.randint(11, (2, 10))
    full = model(idx)
    cache = model.new_cache(2)
    parts = [model(idx[:, :4], cache=cache)]
    parts += [model(idx[:, t : t + 1], cache=cache) for t in range(4, 10)]
    assert cache.length == 10
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=0)
    with pytest.raises(UserError, match="rows"):
        model(idx[:1], cache=cache)


@pytest.mark.parametrize("explicit", [False, True])
@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_left_padded_row_gives_the_logits_of_the_row_alone(arch, explicit):
    torch.manual_seed(4)
    model = ARCHS[arch](RecurrentConfig(vocab_size=11, n_embd=8, n_hidden=8)).eval()
    short, long = torch.randint(11, (1, 4)), torch.randint(11, (1, 7))
    batch = torch.cat((torch.cat((torch.zeros(1, 3, dtype=torch.long), short), 1), long))
    valid = torch.ones(2, 7, dtype=torch.bool)
    valid[0, :3] = False
    logits = model(batch, valid=valid, explicit=explicit)
    torch.testing.assert_close(logits[0, 3:], model(short)[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(logits[1], model(long)[0], atol=1e-5, rtol=0)


def test_lstm_starts_remembering_forget_bias_one():
    model = LSTMLM(RecurrentConfig(vocab_size=5, n_hidden=4, n_layer=2))
    cell = model.cells()[1]
    forget = (cell.bias_ih + cell.bias_hh)[4:8]
    torch.testing.assert_close(forget, torch.ones(4))


def test_config_round_trip_and_errors():
    config = RecurrentConfig(vocab_size=20, n_hidden=32, n_layer=3, dropout=0.1)
    assert RecurrentConfig.from_dict(config.to_dict()) == config
    with pytest.raises(UserError, match="unknown model setting"):
        RecurrentConfig.from_dict({"vocab_size": 5, "n_head": 2})
    with pytest.raises(UserError, match="lacks: vocab_size"):
        RecurrentConfig.from_dict({"n_hidden": 5})
    with pytest.raises(UserError, match="n_hidden"):
        RecurrentConfig(vocab_size=5, n_hidden=0)
    with pytest.raises(UserError, match="dropout"):
        RecurrentConfig(vocab_size=5, dropout=1.5)
    with pytest.raises(UserError, match="batch, time"):
        RNNLM(RecurrentConfig(vocab_size=5))(torch.zeros(3, dtype=torch.long))

"""Each activation: its derivative against finite differences, its values against torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attento.errors import UserError
from attento.nn.activations import ACTIVATIONS, get_activation
from attento.nn.autograd import Tensor
from attento.nn.gradcheck import analytic_grads, numerical_grads

# Points away from 0, where relu and step have a kink or a jump, and spanning the curved parts.
POINTS = np.array([-4.0, -2.3, -1.1, -0.4, -0.05, 0.07, 0.3, 0.9, 1.7, 3.2, 5.0])

TORCH = {
    "linear": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "gelu": torch.nn.functional.gelu,
    "gelu_tanh": lambda z: torch.nn.functional.gelu(z, approximate="tanh"),
    "step": lambda z: torch.heaviside(z, torch.tensor(0.0, dtype=z.dtype)),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_derivative_matches_finite_differences(name: str) -> None:
    act = get_activation(name)
    x = Tensor(POINTS.copy())
    weights = np.linspace(0.5, 1.5, POINTS.size)
    (analytic,) = analytic_grads(lambda: (act(x) * weights).sum(), [x])
    (numeric,) = numerical_grads(lambda: (act(x) * weights).sum(), [x])
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(act.df(POINTS), numeric / weights, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_values_and_gradients_match_torch(name: str) -> None:
    z = np.concatenate([POINTS, [0.0, -30.0, 30.0]])
    ref = torch.tensor(z, requires_grad=True)
    out = TORCH[name](ref)
    np.testing.assert_allclose(
        get_activation(name).f(z), out.detach().numpy(), rtol=1e-12, atol=1e-15
    )
    if name != "step":  # torch.heaviside has no backward at all
        out.sum().backward()
        np.testing.assert_allclose(
            get_activation(name).df(z), ref.grad.numpy(), rtol=1e-10, atol=1e-15
        )


def test_step_is_all_or_nothing_and_teaches_nothing() -> None:
    step = get_activation("step")
    z = np.array([-1e-9, 0.0, 1e-9, 7.0])
    np.testing.assert_array_equal(step.f(z), [0.0, 0.0, 1.0, 1.0])
    x = Tensor(z)
    step(x).sum().backward()
    # the derivative is 0 everywhere it exists (it is undefined at the jump, z = 0):
    # no gradient reaches the weights before a step activation
    np.testing.assert_array_equal(x.grad, np.zeros(4))


def test_exact_and_tanh_gelu_are_different_functions() -> None:
    z = np.array([-1.5, 1.0, 2.0])
    diff = np.abs(get_activation("gelu").f(z) - get_activation("gelu_tanh").f(z))
    assert 0 < diff.max() < 1e-3


def test_unknown_activation_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown activation 'swish'"):
        get_activation("swish")

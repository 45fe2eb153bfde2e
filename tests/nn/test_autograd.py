"""Every autograd op: backward() against central finite differences in float64, and the
numerically delicate ones (log-softmax, cross-entropy) against torch autograd."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch

from attento.nn.autograd import Tensor
from attento.nn.gradcheck import analytic_grads, numerical_grads
from attento.nn.losses import cross_entropy, mse


def rand(rng: np.random.Generator, *shape: int, positive: bool = False) -> Tensor:
    data = rng.uniform(0.5, 2.0, shape) if positive else rng.standard_normal(shape)
    return Tensor(data)


def assert_grads_match(f, tensors) -> None:
    analytic = analytic_grads(f, tensors)
    numeric = numerical_grads(f, tensors)
    for a, n in zip(analytic, numeric, strict=True):
        assert a.shape == n.shape
        np.testing.assert_allclose(a, n, rtol=1e-6, atol=1e-8)
        assert np.abs(a).sum() > 0, "a test whose gradient is all zeros checks nothing"


# Each case: (name, shapes of the inputs, whether inputs must be positive, function). The
# function is reduced to one number with a weighted sum so every output element matters.
CASES = [
    ("add_broadcast", [(4, 3), (3,)], False, lambda a, b: a + b),
    ("add_keepdim_broadcast", [(4, 3), (4, 1)], False, lambda a, b: a + b),
    ("radd_scalar", [(2, 3)], False, lambda a: 2.5 + a),
    ("sub", [(2, 3), (2, 3)], False, lambda a, b: a - b),
    ("rsub", [(2, 3)], False, lambda a: 1.0 - a),
    ("mul_broadcast", [(2, 3, 4), (3, 1)], False, lambda a, b: a * b),
    ("div", [(3, 4), (3, 4)], True, lambda a, b: a / b),
    ("rdiv", [(3, 4)], True, lambda a: 2.0 / a),
    ("neg", [(5,)], False, lambda a: -a),
    ("pow", [(3, 2)], True, lambda a: a**3),
    ("pow_fraction", [(3, 2)], True, lambda a: a**-0.5),
    ("matmul", [(4, 3), (3, 5)], False, lambda a, b: a @ b),
    ("matmul_batched", [(2, 4, 3), (3, 5)], False, lambda a, b: a @ b),
    ("sum_all", [(3, 4)], False, lambda a: a.sum() * a.sum()),
    ("sum_axis", [(3, 4, 2)], False, lambda a: a.sum(axis=1)),
    ("sum_axes_keepdims", [(3, 4, 2)], False, lambda a: a.sum(axis=(0, 2), keepdims=True)),
    ("mean_axis", [(3, 4)], False, lambda a: a.mean(axis=-1)),
    ("mean_all", [(3, 4)], False, lambda a: a.mean() * a),
    ("reshape", [(3, 4)], False, lambda a: a.reshape(2, 6)),
    ("transpose", [(2, 3, 4)], False, lambda a: a.transpose(2, 0, 1)),
    ("T", [(3, 4)], False, lambda a: a.T),
    ("exp", [(3, 4)], False, lambda a: a.exp()),
    ("log", [(3, 4)], True, lambda a: a.log()),
    ("slice", [(5, 4)], False, lambda a: a[1:4, ::2]),
    ("embedding_repeated_ids", [(5, 3)], False, lambda w: w[np.array([[0, 2], [2, 2], [4, 0]])]),
    ("log_softmax", [(3, 5)], False, lambda a: a.log_softmax(axis=-1)),
    ("log_softmax_axis0", [(3, 5)], False, lambda a: a.log_softmax(axis=0)),
    ("used_twice", [(3,)], False, lambda a: a * a + a.exp() * a),
]


@pytest.mark.parametrize(("name", "shapes", "positive", "fn"), CASES, ids=[c[0] for c in CASES])
def test_op_gradient_matches_finite_differences(name, shapes, positive, fn) -> None:
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    tensors = [rand(rng, *s, positive=positive) for s in shapes]
    out_shape = fn(*tensors).shape
    weights = rng.standard_normal(out_shape)  # a random projection: every output counts

    def f() -> Tensor:
        return (fn(*tensors) * weights).sum()

    assert_grads_match(f, tensors)


def test_losses_match_finite_differences() -> None:
    rng = np.random.default_rng(0)
    logits, pred = rand(rng, 6, 4), rand(rng, 6, 2)
    targets, wanted = np.array([0, 3, 3, 1, 2, 0]), rng.standard_normal((6, 2))
    assert_grads_match(lambda: cross_entropy(logits, targets), [logits])
    assert_grads_match(lambda: mse(pred, wanted), [pred])


def test_cross_entropy_matches_torch_and_stays_finite_on_huge_logits() -> None:
    rng = np.random.default_rng(1)
    data = rng.standard_normal((5, 7)) * 30
    data[0, 3] = 1e4  # e^10000 overflows: only the max-shifted form stays finite
    targets = np.array([2, 0, 6, 6, 1])
    logits = Tensor(data)
    loss = cross_entropy(logits, targets)
    loss.backward()
    ref = torch.tensor(data, requires_grad=True)
    ref_loss = torch.nn.functional.cross_entropy(ref, torch.tensor(targets))
    ref_loss.backward()
    assert np.isfinite(loss.item())
    np.testing.assert_allclose(loss.item(), ref_loss.item(), rtol=1e-12)
    np.testing.assert_allclose(logits.grad, ref.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_gradients_accumulate_across_backward_calls() -> None:
    x = Tensor([1.0, 2.0])
    (x * 3.0).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])


def test_numpy_array_on_the_left_builds_a_graph_node() -> None:
    x = Tensor([1.0, 2.0])
    y = np.array([3.0, 4.0]) * x
    assert isinstance(y, Tensor)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


def test_backward_needs_a_scalar_or_an_explicit_gradient() -> None:
    x = Tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="single-number"):
        (x * 2.0).backward()
    (x * 2.0).backward(np.array([1.0, -1.0]))
    np.testing.assert_array_equal(x.grad, [2.0, -2.0])


def test_deep_graph_does_not_hit_the_recursion_limit() -> None:
    x = Tensor(1.0)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(x.grad, 1.0001**5000, rtol=1e-9)

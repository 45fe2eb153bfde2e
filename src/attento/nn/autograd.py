"""A tiny reverse-mode autograd engine over NumPy arrays (micrograd, but with arrays).

Every `Tensor` remembers the tensors it was computed from and a `_backward` function that
knows its own local derivative. Training a network needs d(loss)/d(weight) for every weight;
the chain rule says that this derivative is a product of local derivatives along the path
from the weight to the loss. `loss.backward()` walks the graph once, from the loss back to
the inputs (reverse topological order), and each node passes its gradient to its parents:

    parent.grad += (d out / d parent) * out.grad        ("local derivative" x "upstream grad")

Gradients *accumulate* (`+=`) because a tensor used twice receives gradient along both paths.

Arrays add one twist to the scalar story: broadcasting. When `x` of shape (3,) is added to
`y` of shape (4, 3), NumPy silently copies `x` four times; each copy affects the output, so the
gradient of `x` is the *sum* of the four rows of the upstream gradient (see `_unbroadcast`).

Everything is float64 by default, so gradients can be checked against finite differences.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

ArrayLike = Any  # a number, a nested list or an np.ndarray


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` over the axes that broadcasting added or stretched, back to `shape`."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def _expand_reduced(grad: np.ndarray, shape: tuple[int, ...], axis: Any, keepdims: bool):
    """Put back the axes that a sum removed, so `grad` broadcasts against the input `shape`."""
    if not keepdims:
        axes = range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else axis
        grad = np.expand_dims(grad, tuple(a % len(shape) for a in axes))
    return np.broadcast_to(grad, shape)


class Tensor:
    """An ndarray plus the gradient of the final loss with respect to it."""

    # Make `ndarray * Tensor` call Tensor.__rmul__ instead of NumPy looping over the Tensor.
    __array_ufunc__ = None

    def __init__(
        self,
        data: ArrayLike,
        _parents: tuple[Tensor, ...] = (),
        _op: str = "",
        dtype: Any = np.float64,
    ) -> None:
        self.data = np.asarray(data, dtype=dtype)
        self.grad = np.zeros_like(self.data)
        self._parents = _parents
        self._op = _op
        self._backward: Callable[[], None] = lambda: None

    def __repr__(self) -> str:
        return f"Tensor(shape={self.shape}, op={self._op!r})"

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def item(self) -> float:
        return float(self.data)

    # ---- element-wise arithmetic -------------------------------------------------------

    def __add__(self, other: ArrayLike) -> Tensor:
        """out = a + b.  d out/da = 1, d out/db = 1: the gradient flows through unchanged."""
        other = as_tensor(other)
        out = Tensor(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            self.grad += _unbroadcast(out.grad, self.shape)
            other.grad += _unbroadcast(out.grad, other.shape)

        out._backward = _backward
        return out

    def __mul__(self, other: ArrayLike) -> Tensor:
        """out = a * b.  d out/da = b, d out/db = a: each factor's grad is scaled by the other."""
        other = as_tensor(other)
        out = Tensor(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            self.grad += _unbroadcast(other.data * out.grad, self.shape)
            other.grad += _unbroadcast(self.data * out.grad, other.shape)

        out._backward = _backward
        return out

    def __pow__(self, exponent: float) -> Tensor:
        """out = a ** n for a constant n.  d out/da = n * a ** (n - 1)  (the power rule)."""
        if not isinstance(exponent, (int, float)):
            raise TypeError("only a constant (int or float) exponent is supported")
        out = Tensor(self.data**exponent, (self,), f"**{exponent}")

        def _backward() -> None:
            self.grad += exponent * self.data ** (exponent - 1) * out.grad

        out._backward = _backward
        return out

    def __truediv__(self, other: ArrayLike) -> Tensor:
        """out = a / b.  d out/da = 1/b, d out/db = -a / b**2."""
        other = as_tensor(other)
        out = Tensor(self.data / other.data, (self, other), "/")

        def _backward() -> None:
            self.grad += _unbroadcast(out.grad / other.data, self.shape)
            other.grad += _unbroadcast(-self.data / other.data**2 * out.grad, other.shape)

        out._backward = _backward
        return out

    def __neg__(self) -> Tensor:
        """out = -a.  d out/da = -1."""
        out = Tensor(-self.data, (self,), "neg")

        def _backward() -> None:
            self.grad -= out.grad

        out._backward = _backward
        return out

    def __sub__(self, other: ArrayLike) -> Tensor:
        """out = a - b, written as a + (-b) so it reuses the two rules above."""
        return self + (-as_tensor(other))

    def __radd__(self, other: ArrayLike) -> Tensor:
        return self + other

    def __rmul__(self, other: ArrayLike) -> Tensor:
        return self * other

    def __rsub__(self, other: ArrayLike) -> Tensor:
        return as_tensor(other) - self

    def __rtruediv__(self, other: ArrayLike) -> Tensor:
        return as_tensor(other) / self

    def exp(self) -> Tensor:
        """out = e^a.  d out/da = e^a, which is `out` itself."""
        out = Tensor(np.exp(self.data), (self,), "exp")

        def _backward() -> None:
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self) -> Tensor:
        """out = ln(a).  d out/da = 1/a."""
        out = Tensor(np.log(self.data), (self,), "log")

        def _backward() -> None:
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    # ---- matrix product ----------------------------------------------------------------

    def __matmul__(self, other: ArrayLike) -> Tensor:
        """out = A @ B.  dL/dA = dL/dout @ Bᵀ and dL/dB = Aᵀ @ dL/dout.

        Check the shapes: A (n, k) @ B (k, m) = out (n, m); dL/dout (n, m) @ Bᵀ (m, k) is
        (n, k) like A, and Aᵀ (k, n) @ dL/dout (n, m) is (k, m) like B. Leading (batch) axes
        broadcast like any other op, so their gradient is summed back by `_unbroadcast`.
        """
        other = as_tensor(other)
        if self.ndim < 2 or other.ndim < 2:
            raise ValueError("matmul needs tensors with at least 2 axes; reshape vectors first")
        out = Tensor(self.data @ other.data, (self, other), "@")

        def _backward() -> None:
            grad_a = out.grad @ np.swapaxes(other.data, -1, -2)
            grad_b = np.swapaxes(self.data, -1, -2) @ out.grad
            self.grad += _unbroadcast(grad_a, self.shape)
            other.grad += _unbroadcast(grad_b, other.shape)

        out._backward = _backward
        return out

    # ---- reductions and shape changes ----------------------------------------------------

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """out = Σ a.  Every summed element has d out/da_i = 1, so the upstream gradient is
        copied back to each of them (the reverse of a sum is a broadcast)."""
        out = Tensor(self.data.sum(axis=axis, keepdims=keepdims), (self,), "sum")

        def _backward() -> None:
            self.grad += _expand_reduced(out.grad, self.shape, axis, keepdims)

        out._backward = _backward
        return out

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """out = Σ a / n: a sum followed by a division, so each element gets grad / n."""
        total = self.sum(axis=axis, keepdims=keepdims)
        return total / (self.data.size // total.data.size)

    def reshape(self, *shape: int) -> Tensor:
        """Same numbers, another shape: the gradient is reshaped back."""
        out = Tensor(self.data.reshape(*shape), (self,), "reshape")

        def _backward() -> None:
            self.grad += out.grad.reshape(self.shape)

        out._backward = _backward
        return out

    def transpose(self, *axes: int) -> Tensor:
        """Permute axes (reverse them when none are given); the gradient is permuted back."""
        axes_ = axes or tuple(reversed(range(self.ndim)))
        out = Tensor(self.data.transpose(axes_), (self,), "transpose")

        def _backward() -> None:
            self.grad += out.grad.transpose(np.argsort(axes_))

        out._backward = _backward
        return out

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def __getitem__(self, index: Any) -> Tensor:
        """Pick elements (slices, integer arrays): this is also an embedding lookup, `W[ids]`.

        Each picked element receives the gradient of the place it went to. One row can be
        picked several times (the same token twice in a batch), so the gradients are added
        with `np.add.at`, which, unlike `grad[index] += g`, does not drop repeated indices.
        """
        if isinstance(index, Tensor):
            index = index.data.astype(np.int64)
        out = Tensor(self.data[index], (self,), "getitem")

        def _backward() -> None:
            np.add.at(self.grad, index, out.grad)

        out._backward = _backward
        return out

    # ---- softmax, in log space -------------------------------------------------------------

    def log_softmax(self, axis: int = -1) -> Tensor:
        """out_i = a_i - log Σ_j e^{a_j}: log-probabilities from scores ("logits").

        Stable form: subtracting m = max_j a_j changes nothing mathematically but keeps e^{a-m}
        <= 1, so nothing overflows. Gradient: d out_i / d a_k = [i = k] - softmax_k, hence
        dL/da = g - softmax * Σ_i g_i (with g = dL/dout along `axis`).
        """
        shifted = self.data - self.data.max(axis=axis, keepdims=True)
        logsumexp = np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        out = Tensor(shifted - logsumexp, (self,), "log_softmax")

        def _backward() -> None:
            softmax = np.exp(out.data)
            self.grad += out.grad - softmax * out.grad.sum(axis=axis, keepdims=True)

        out._backward = _backward
        return out

    # ---- backpropagation -----------------------------------------------------------------

    def backward(self, grad: ArrayLike | None = None) -> None:
        """Fill `.grad` of every tensor this one depends on, with d(self)/d(tensor).

        The graph is sorted so that each node runs its `_backward` only after every node that
        uses it has passed its gradient on: a depth-first post-order, then reversed.
        """
        if grad is None:
            if self.data.size != 1:
                raise ValueError("backward() without a gradient needs a single-number tensor")
            grad = np.ones_like(self.data)
        order: list[Tensor] = []
        visited: set[int] = set()
        stack: list[tuple[Tensor, bool]] = [(self, False)]
        while stack:
            node, parents_done = stack.pop()
            if parents_done:
                order.append(node)
            elif id(node) not in visited:
                visited.add(id(node))
                stack.append((node, True))
                stack.extend((p, False) for p in node._parents if id(p) not in visited)
        self.grad = self.grad + np.asarray(grad, dtype=self.data.dtype)
        for node in reversed(order):
            node._backward()


def as_tensor(x: ArrayLike) -> Tensor:
    """Wrap a constant (number, list, array) so it can take part in an operation."""
    return x if isinstance(x, Tensor) else Tensor(x)


def zero_grad(params: Iterable[Tensor]) -> None:
    """Reset gradients before the next backward pass (they accumulate otherwise)."""
    for p in params:
        p.grad = np.zeros_like(p.data)


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run NumPy's matrix products on one thread while training small networks.

    Our matrices are tiny (hundreds of rows): BLAS threads spend longer waiting for each other
    than computing, and on a busy machine they can make a step 10x slower. threadpoolctl (when
    installed) changes the thread count at run time; without it nothing changes.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield

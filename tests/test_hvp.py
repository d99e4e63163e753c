"""hvp: against the dense Hessian and against differences of the gradient, batched v, pytrees,
chunks, nesting, and bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import dualnumpy as dn
from dualnumpy import Dual
from dualnumpy.transforms.hvp import default_chunk_size, hvp


def rosenbrock(x: Any) -> Any:
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


_A = np.random.default_rng(7).standard_normal((5, 5))


FUNCTIONS = {
    "rosenbrock": rosenbrock,
    "sin-times-x": lambda x: np.sum(np.sin(x) * x ** 2),
    "quadratic-plus-quartic": lambda x: 0.5 * x @ (_A @ _A.T) @ x + np.sum(x ** 4) / 4.0,
    "logsumexp": lambda x: np.log(np.sum(np.exp(x))),
    "prod-and-norm": lambda x: np.prod(x) + np.linalg.norm(x) ** 3,
    "matrix": lambda x: np.trace(np.linalg.inv(np.eye(5) + np.outer(x, x) * 0.1)),
    "slices-and-where": lambda x: np.sum(np.where(x > 0, x ** 3, np.exp(x)) * np.roll(x, 1)),
}


def _point(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, 5)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_hvp_equals_the_hessian_times_v(name: str) -> None:
    f = FUNCTIONS[name]
    x, v = _point(0), np.random.default_rng(1).standard_normal(5)
    H = dn.hessian(f)(x)
    got = hvp(f, x, v)
    assert got.shape == x.shape
    np.testing.assert_allclose(got, H @ v, rtol=1e-11, atol=1e-11 * np.abs(H).max())


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_hvp_matches_differences_of_the_gradient(name: str) -> None:
    f = FUNCTIONS[name]
    x, v = _point(2), np.random.default_rng(3).standard_normal(5)
    g = dn.grad(f)

    def diff(h: float) -> Any:
        return (g(x + h * v) - g(x - h * v)) / (2 * h)

    fd = (4 * diff(1e-4) - diff(2e-4)) / 3  # Richardson
    np.testing.assert_allclose(hvp(f, x, v), fd, rtol=1e-6, atol=1e-7 * max(1.0, np.abs(fd).max()))


def test_batched_v_gives_one_product_per_row() -> None:
    x = _point(4)
    V = np.random.default_rng(5).standard_normal((3, 5))
    H = dn.hessian(rosenbrock)(x)
    got = hvp(rosenbrock, x, V)
    assert got.shape == (3, 5)
    np.testing.assert_allclose(got, V @ H, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(hvp(rosenbrock, x, np.eye(5)), H, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(hvp(rosenbrock, x, V, batched=True), got, rtol=0, atol=0)


def test_k_equal_to_the_input_size_is_still_unambiguous() -> None:
    x = np.random.default_rng(6).uniform(-1, 1, (2, 2))
    f = lambda x: np.sum(np.sin(x) * x[::-1])
    H = dn.hessian(f)(x).reshape(4, 4)
    V = np.random.default_rng(7).standard_normal((2, 2, 2))  # k = 2 directions of shape (2, 2)
    got = hvp(f, x, V)
    np.testing.assert_allclose(got.reshape(2, 4), V.reshape(2, 4) @ H, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(hvp(f, x, V[0]), (H @ V[0].ravel()).reshape(2, 2), rtol=1e-12)


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 100])
def test_chunks_give_the_same_result(chunk_size: int) -> None:
    x, v = _point(8), np.random.default_rng(9).standard_normal(5)
    np.testing.assert_allclose(hvp(rosenbrock, x, v, chunk_size=chunk_size), hvp(rosenbrock, x, v),
                               rtol=1e-14, atol=1e-12)


def test_pytree_input() -> None:
    def f(p: Any) -> Any:
        return np.sum(np.sin(p["a"]) * p["b"][0]) + p["b"][1] ** 3 * np.sum(p["a"] ** 2)

    x = {"a": np.array([0.1, 0.7, -0.3]), "b": (np.array([1.0, 2.0, 3.0]), 0.5)}
    v = {"a": np.array([1.0, -1.0, 2.0]), "b": (np.array([0.5, 0.0, 1.0]), -2.0)}

    def flat(z: Any) -> np.ndarray:
        return np.concatenate([z["a"], z["b"][0], [z["b"][1]]])

    def unflat(w: Any) -> Any:
        return {"a": w[:3], "b": (w[3:6], w[6])}

    H = dn.hessian(lambda w: f(unflat(w)))(flat(x))
    got = hvp(f, x, v)
    assert isinstance(got, dict) and isinstance(got["b"], tuple) and np.shape(got["b"][1]) == ()
    np.testing.assert_allclose(flat(got), H @ flat(v), rtol=1e-12, atol=1e-12)


def test_scalar_input() -> None:
    got = hvp(lambda x: x ** 4 * np.sin(x), 0.7, 2.0)
    want = 2.0 * dn.derivative(dn.derivative(lambda x: x ** 4 * np.sin(x)))(0.7)
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_a_linear_function_has_a_zero_hessian() -> None:
    np.testing.assert_array_equal(hvp(lambda x: np.sum(3.0 * x), np.ones(4), np.ones(4)), np.zeros(4))
    np.testing.assert_array_equal(hvp(lambda x: 2.0, np.ones(4), np.ones(4)), np.zeros(4))


def test_nested_hvp_differentiates_in_v_and_x() -> None:
    x, v = _point(10), np.random.default_rng(11).standard_normal(5)
    f = FUNCTIONS["sin-times-x"]
    H = dn.hessian(f)(x)
    np.testing.assert_allclose(dn.jacfwd(lambda v: hvp(f, x, v))(v), H, rtol=1e-12, atol=1e-12)
    third = dn.jacfwd(lambda x: hvp(f, x, v))(x)  # d/dx (H(x) v)
    h = 1e-5
    fd = np.stack([(hvp(f, x + h * e, v) - hvp(f, x - h * e, v)) / (2 * h) for e in np.eye(5)], axis=1)
    np.testing.assert_allclose(third, fd, rtol=1e-6, atol=1e-6)
    assert not isinstance(third, Dual)


def test_the_default_chunk_follows_the_memory_budget() -> None:
    old = dn.set_chunk_budget(8 * 10 * 3)  # three directions of 10 float64 inputs
    try:
        assert default_chunk_size(10) == 3
        assert default_chunk_size(10, k=2) == 1
        assert default_chunk_size(10, itemsize=4) == 6
        assert default_chunk_size(10**6) == 1
        x, v = _point(12), np.random.default_rng(13).standard_normal(5)
        np.testing.assert_allclose(hvp(rosenbrock, x, v), dn.hessian(rosenbrock)(x) @ v, rtol=1e-12)
    finally:
        dn.set_chunk_budget(old)
    assert default_chunk_size(10) == 10


def test_bad_input() -> None:
    x = np.ones(3)
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        hvp(rosenbrock, x, np.ones(4))
    with pytest.raises(ValueError, match="expected"):
        hvp(rosenbrock, x, np.ones((2, 2, 3)))
    with pytest.raises(ValueError):
        hvp(rosenbrock, x, np.ones(3), batched=True)
    with pytest.raises(TypeError, match="scalar output"):
        hvp(lambda x: x ** 2, x, x)
    with pytest.raises(TypeError, match="scalar output"):
        hvp(lambda x: (np.sum(x), np.sum(x)), x, x)
    with pytest.raises(TypeError, match="complex"):
        hvp(lambda z: np.sum(z ** 2), x.astype(complex), x)
    with pytest.raises(TypeError, match="real"):
        hvp(rosenbrock, x, x.astype(complex))
    with pytest.raises(ValueError, match="chunk_size"):
        hvp(rosenbrock, x, x, chunk_size=0)
    with pytest.raises(ValueError, match="structure"):
        hvp(lambda p: np.sum(p[0] * p[1]), (x, x), x)
    with pytest.raises(TypeError, match="boolean"):
        hvp(rosenbrock, np.ones(3, bool), x)

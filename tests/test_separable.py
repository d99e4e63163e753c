"""Partially separable functions, f = np.sum(F(x)): gradients, H v and sparse Hessians from
the colored Jacobian of the terms F, checked against the dense forward-mode results."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import dualnumpy as dn

pytest.importorskip("scipy", reason="coloring needs scipy (dualnumpy[sparse])")


from problems import rosenbrock

from dualnumpy.core import sums
from dualnumpy.sparsity.separable import SeparableHessian, analyse, gradient_and_hvp

rng = np.random.default_rng(7)




def chained(x: Any) -> Any:  # terms of three variables, and a method call for the sum
    return (np.sin(x[:-2] * x[1:-1]) + np.exp(0.1 * x[2:]) * x[:-2] ** 2).sum()


def grid_energy(u: Any) -> Any:  # a 2-D input: the terms read neighbours along both axes
    dx, dy = u[1:, :] - u[:-1, :], u[:, 1:] - u[:, :-1]
    return np.sum(np.sqrt(1.0 + dx[:, :-1] ** 2 + dy[:-1, :] ** 2))


def linear_terms(x: Any) -> Any:
    return np.sum(3.0 * x[1:] - x[:-1])


SEPARABLE = [(rosenbrock, (12,)), (chained, (9,)), (grid_energy, (5, 4)), (linear_terms, (6,))]


@pytest.mark.parametrize(("f", "shape"), SEPARABLE, ids=lambda v: getattr(v, "__name__", str(v)))
def test_gradient_and_hvp_equal_the_dense_results(f: Any, shape: tuple[int, ...]) -> None:
    x = rng.uniform(0.2, 1.2, shape)
    analysis = analyse(f, x)
    assert analysis is not None
    hessian = np.reshape(dn.hessian(f)(x), (x.size, x.size))
    v = rng.standard_normal(shape)
    gradient, hv = gradient_and_hvp(f, x, v, analysis, batched=False)
    np.testing.assert_allclose(gradient, dn.grad(f)(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.ravel(hv), hessian @ np.ravel(v), rtol=1e-11, atol=1e-11)
    vs = rng.standard_normal((3, *shape))
    _, hvs = gradient_and_hvp(f, x, vs, analysis, batched=True)
    np.testing.assert_allclose(np.reshape(hvs, (3, -1)), np.reshape(vs, (3, -1)) @ hessian, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize(("f", "shape"), SEPARABLE, ids=lambda v: getattr(v, "__name__", str(v)))
def test_sparse_hessian_takes_the_terms(f: Any, shape: tuple[int, ...]) -> None:
    x = rng.uniform(0.2, 1.2, shape)
    hess = dn.sparse_hessian(f)
    for point in (x, x * 0.7 + 0.1):
        np.testing.assert_allclose(hess(point).toarray(), np.reshape(dn.hessian(f)(point), (x.size, x.size)),
                                   rtol=1e-12, atol=1e-10)
    assert hess.separable is not None
    assert hess.separable.count <= 3


def test_rosenbrock_terms_need_two_colors() -> None:
    analysis = analyse(rosenbrock, np.zeros(100))
    assert analysis is not None and analysis.count == 2 and analysis.terms == 99


@pytest.mark.parametrize("f", [
    lambda x: 0.5 * np.sum(x[1:] * x[:-1]),          # something after the sum
    lambda x: np.mean(x ** 2),                       # a mean is not a bare sum
    lambda x: np.sum(x ** 2, axis=0),                # a sum along an axis
    lambda x: np.sum(x) * np.sum(x ** 2),            # the last sum is not the output
    lambda x: np.sum(x ** 2) if x[0] > 0 else 0.0,   # branching: detection refuses
])
def test_other_functions_are_not_taken_as_separable(f: Any) -> None:
    x = np.linspace(0.5, 1.5, 6)
    assert analyse(f, x) is None
    if np.ndim(f(x)) == 0:
        try:
            hess = dn.sparse_hessian(f)(x)
        except TypeError:  # detection refuses the branch; the message says what to do
            return
        np.testing.assert_allclose(hess.toarray(), dn.hessian(f)(x), rtol=1e-12, atol=1e-12)


def test_a_function_whose_terms_change_falls_back_to_forward_over_forward() -> None:
    def f(x: Any) -> Any:  # a sum of its terms at x > 0, not elsewhere
        terms = np.sum(x[1:] * x[:-1] ** 2)
        return terms if f.calls < 1 else 2.0 * terms

    f.calls = 0  # type: ignore[attr-defined]
    hess = dn.sparse_hessian(f)
    x = np.linspace(0.5, 1.5, 6)
    first = hess(x)
    assert hess.separable is not None
    f.calls = 1  # type: ignore[attr-defined]
    second = hess(x)
    np.testing.assert_allclose(second.toarray(), 2.0 * first.toarray(), rtol=1e-12)


def test_noting_is_off_outside_the_block() -> None:
    assert not sums.active()
    with sums.noting() as last:
        assert sums.active()
        dn.jvp(lambda x: np.sum(x * x), (np.ones(3),), (np.ones(3),))
    assert not sums.active() and len(last) == 2


def test_separable_hessian_values_on_a_given_pattern() -> None:
    import scipy.sparse as sp

    x = np.linspace(-1.0, 1.0, 10)
    analysis = analyse(rosenbrock, x)
    assert analysis is not None
    pattern = dn.hessian_sparsity(rosenbrock, x)
    gradient, data = SeparableHessian(analysis, pattern).data(rosenbrock, x)
    np.testing.assert_allclose(gradient, dn.grad(rosenbrock)(x), rtol=1e-12)
    hess = sp.csr_matrix((data, pattern.indices, pattern.indptr), shape=pattern.shape)
    np.testing.assert_allclose(hess.toarray(), dn.hessian(rosenbrock)(x), rtol=1e-13)


def test_hvp_takes_the_terms_of_a_separable_objective(monkeypatch: pytest.MonkeyPatch) -> None:
    from dualnumpy.sparsity import separable

    calls = []
    real = separable.gradient_and_hvp

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(separable, "gradient_and_hvp", counting)
    x = np.linspace(-1.0, 1.2, 40)
    v = np.cos(np.arange(40.0))
    hessian = dn.hessian(rosenbrock)(x)
    np.testing.assert_allclose(dn.hvp(rosenbrock, x, v), hessian @ v, rtol=1e-12, atol=1e-10)
    vs = np.stack([v, np.ones(40), np.arange(40.0)])
    np.testing.assert_allclose(dn.hvp(rosenbrock, x, vs), vs @ hessian, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(dn.hvp(rosenbrock, x, np.arange(40)), hessian @ np.arange(40.0), rtol=1e-12)
    assert len(calls) == 3
    scaled = lambda x: 2.0 * rosenbrock(x)  # not separable as written: the general method
    np.testing.assert_allclose(dn.hvp(scaled, x, v), 2.0 * hessian @ v, rtol=1e-12, atol=1e-10)
    assert len(calls) == 3


def test_hvp_of_a_separable_objective_at_a_large_size_is_fast() -> None:
    import time

    n = 100_000
    x = np.linspace(-1.0, 1.2, n)
    v = np.ones(n)
    start = time.perf_counter()
    hv = dn.hvp(rosenbrock, x, v)
    elapsed = time.perf_counter() - start
    # H v of Rosenbrock by hand: the tridiagonal Hessian times ones
    d = np.zeros(n)
    d[:-1] += 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    d[1:] += 200
    off = -400 * x[:-1]
    expected = d.copy()
    expected[:-1] += off
    expected[1:] += off
    np.testing.assert_allclose(hv, expected, rtol=1e-10, atol=1e-8)
    assert elapsed < 2.0, f"{elapsed:.2f} s"


def test_the_first_call_traces_the_objective_once() -> None:
    """Detection of the Hessian's pattern also finds the terms: no second trace for them."""
    from dualnumpy.sparsity.tracing import Traced

    traced_calls = []

    def f(x: Any) -> Any:
        if isinstance(x, Traced):
            traced_calls.append(1)
        return rosenbrock(x)

    hess = dn.sparse_hessian(f)
    x = np.linspace(-1.0, 1.0, 20)
    np.testing.assert_allclose(hess(x).toarray(), dn.hessian(rosenbrock)(x), rtol=1e-13)
    assert hess.separable is not None and len(traced_calls) == 1

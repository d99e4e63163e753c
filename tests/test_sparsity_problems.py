"""Sparsity detection on whole problems, and its refusals: the patterns are compared with
ones built independently (scipy.sparse), and with dense Jacobians."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from problems import bratu, rosenbrock

import dualnumpy as dn

sp = pytest.importorskip("scipy.sparse", reason="sparsity patterns are scipy.sparse matrices (dualnumpy[sparse])")




def stencil(u: Any) -> Any:
    """A 5-point Laplacian with zero boundary plus a nonlinearity, on a 2-D grid (raveled)."""
    n = round(np.sqrt(np.size(u)))
    g = np.reshape(u, (n, n))
    p = np.pad(g, 1)
    lap = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * g
    return np.ravel(lap + g ** 3)


def brusselator(y: Any) -> Any:
    """The 2-D Brusselator (periodic), state (N, N, 2) raveled: u and v interleaved per cell."""
    n = round(np.sqrt(np.size(y) // 2))
    s = np.reshape(y, (n, n, 2))
    u, v = s[..., 0], s[..., 1]

    def lap(w: Any) -> Any:
        return (np.roll(w, 1, 0) + np.roll(w, -1, 0) + np.roll(w, 1, 1) + np.roll(w, -1, 1) - 4 * w)

    du = 1.0 + u * u * v - 4.4 * u + 10.0 * lap(u)
    dv = 3.4 * u - u * u * v + 10.0 * lap(v)
    return np.ravel(np.stack([du, dv], axis=-1))




def _periodic_laplacian_pattern(n: int) -> Any:
    ring = sp.diags([1, 1, 1, 1, 1], [-(n - 1), -1, 0, 1, n - 1], shape=(n, n), dtype=bool)
    eye = sp.identity(n, dtype=bool)
    return (sp.kron(ring, eye) + sp.kron(eye, ring)).astype(bool)


def test_bratu_pattern_is_tridiagonal() -> None:
    n = 50
    pattern = dn.jacobian_sparsity(bratu, np.linspace(0, 1, n))
    expected = sp.diags([1, 1, 1], [-1, 0, 1], shape=(n, n), dtype=bool)
    assert pattern.dtype == bool and pattern.shape == (n, n)
    assert (pattern != expected).nnz == 0


def test_stencil_pattern_is_the_five_point_graph() -> None:
    n = 12
    pattern = dn.jacobian_sparsity(stencil, np.random.default_rng(0).uniform(size=n * n))
    tri = sp.diags([1, 1, 1], [-1, 0, 1], shape=(n, n), dtype=bool)
    eye = sp.identity(n, dtype=bool)
    expected = (sp.kron(tri, eye) + sp.kron(eye, tri)).astype(bool)
    assert (pattern != expected).nnz == 0


def test_brusselator_pattern_couples_the_species_per_cell() -> None:
    n = 8
    y = np.random.default_rng(1).uniform(size=2 * n * n)
    pattern = dn.jacobian_sparsity(brusselator, y)
    same_species = sp.kron(_periodic_laplacian_pattern(n), sp.identity(2, dtype=bool))
    within_cell = sp.kron(sp.identity(n * n, dtype=bool), np.ones((2, 2), bool))
    expected = (same_species + within_cell).astype(bool)
    assert (pattern != expected).nnz == 0
    dense = dn.jacfwd(brusselator)(y) != 0
    np.testing.assert_array_equal(pattern.toarray(), dense)


def test_rosenbrock_hessian_pattern_is_tridiagonal() -> None:
    n = 30
    pattern = dn.hessian_sparsity(rosenbrock, np.zeros(n))
    expected = sp.diags([1, 1, 1], [-1, 0, 1], shape=(n, n), dtype=bool)
    assert (pattern != expected).nnz == 0
    np.testing.assert_array_equal(pattern.toarray(), dn.hessian(rosenbrock)(np.full(n, 0.3)) != 0)


def test_hessian_pattern_of_a_separable_sum_is_diagonal() -> None:
    pattern = dn.hessian_sparsity(lambda x: np.sum(np.exp(x) + 3 * x), np.ones(6))
    np.testing.assert_array_equal(pattern.toarray(), np.eye(6, dtype=bool))


def test_linear_functions_have_an_empty_hessian_pattern() -> None:
    a = np.arange(12.0).reshape(3, 4)
    pattern = dn.hessian_sparsity(lambda x: np.sum(a @ x) + np.sum(np.abs(x)), np.ones(4))
    assert pattern.nnz == 0


def test_where_unites_both_branches_in_global_mode() -> None:
    f = lambda x: np.where(x > 0, x[::-1], 2 * x)
    x = np.array([1.0, -1.0, 2.0])
    glob = dn.jacobian_sparsity(f, x).toarray()
    np.testing.assert_array_equal(glob, np.eye(3, dtype=bool) | np.eye(3, dtype=bool)[::-1])
    local = dn.jacobian_sparsity(f, x, local=True).toarray()
    np.testing.assert_array_equal(local, dn.jacfwd(f)(x) != 0)


def test_branching_on_values_is_refused_in_global_mode_and_allowed_locally() -> None:
    def f(x: Any) -> Any:
        return x ** 2 if x[0] > 0 else x[::-1]

    with pytest.raises(TypeError, match=r"np\.where.*local=True"):
        dn.jacobian_sparsity(f, np.array([1.0, 2.0]))
    np.testing.assert_array_equal(dn.jacobian_sparsity(f, np.array([1.0, 2.0]), local=True).toarray(),
                                  np.eye(2, dtype=bool))
    np.testing.assert_array_equal(dn.jacobian_sparsity(f, np.array([-1.0, 2.0]), local=True).toarray(),
                                  np.eye(2, dtype=bool)[::-1])


def test_an_index_from_the_values_is_refused_in_global_mode() -> None:
    with pytest.raises(TypeError, match="local=True"):
        dn.jacobian_sparsity(lambda x: x[np.argmax(x)] * x, np.array([1.0, 3.0, 2.0]))
    local = dn.jacobian_sparsity(lambda x: x[np.argmax(x)] * x, np.array([1.0, 3.0, 2.0]), local=True)
    np.testing.assert_array_equal(local.toarray(), [[1, 1, 0], [0, 1, 0], [0, 1, 1]])


def test_sort_depends_on_the_whole_fiber_globally() -> None:
    x = np.array([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    pattern = dn.jacobian_sparsity(lambda x: np.sort(x, axis=1), x).toarray()
    expected = np.kron(np.eye(2, dtype=bool), np.ones((3, 3), bool))
    np.testing.assert_array_equal(pattern, expected)


def test_at_updates_follow_the_dual_semantics() -> None:
    x = np.arange(1.0, 6.0)
    cases = [
        lambda v: v.at[np.array([0, 0, 3])].add(v[1:4] * 2),
        lambda v: v.at[1:3].set(v[2:4] ** 2),
        lambda v: v.at[2].multiply(v[4]),
        lambda v: v.at[np.array([True, False, True, False, False])].set(0.0),
    ]
    for f in cases:
        np.testing.assert_array_equal(dn.jacobian_sparsity(f, x).toarray(), dn.jacfwd(f)(x) != 0)


def test_products_and_solves() -> None:
    a = np.zeros((4, 4))
    a[0, 1] = a[2, 3] = a[3, 0] = 1.0
    pattern = dn.jacobian_sparsity(lambda x: a @ x, np.ones(4)).toarray()
    np.testing.assert_array_equal(pattern, a != 0)
    m = np.eye(3) * 4 + 1
    solve = dn.jacobian_sparsity(lambda x: np.linalg.solve(m, x), np.ones(3)).toarray()
    assert solve.all()  # a dense block: every unknown depends on every right-hand side entry


def test_constant_outputs_and_untouched_inputs() -> None:
    pattern = dn.jacobian_sparsity(lambda x: np.zeros(3) + x[0], np.ones(4)).toarray()
    np.testing.assert_array_equal(pattern, [[1, 0, 0, 0]] * 3)
    assert dn.jacobian_sparsity(lambda x: np.ones(2), np.ones(3)).nnz == 0


def test_bad_input() -> None:
    with pytest.raises(TypeError, match="float"):
        dn.jacobian_sparsity(lambda x: x, np.array(["a"]))
    with pytest.raises(TypeError, match="scalar output"):
        dn.hessian_sparsity(lambda x: x ** 2, np.ones(3))
    with pytest.raises(TypeError, match="one array output"):
        dn.jacobian_sparsity(lambda x: (x, x), np.ones(3))
    with pytest.raises(TypeError, match=r"np\.asarray"):
        dn.jacobian_sparsity(lambda x: np.asarray(x) * 2, np.ones(3))
    with pytest.raises(TypeError, match="not supported"):
        dn.jacobian_sparsity(lambda x: np.invert(x), np.ones(3))


def test_integer_input_is_promoted() -> None:
    pattern = dn.jacobian_sparsity(lambda x: x[1:] * x[:-1], np.arange(4))
    assert pattern.shape == (3, 4) and pattern.nnz == 6


def test_large_bratu_is_detected_in_linear_time() -> None:
    import time

    n = 200_000
    start = time.perf_counter()
    pattern = dn.jacobian_sparsity(bratu, np.zeros(n))
    elapsed = time.perf_counter() - start
    assert pattern.nnz == 3 * n - 2
    assert elapsed < 5.0, f"{elapsed:.2f} s"


def test_without_scipy_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "scipy.sparse", None)
    with pytest.raises(ImportError, match=r"dualnumpy\[sparse\]"):
        dn.jacobian_sparsity(lambda x: x * 2, np.ones(3))
    with pytest.raises(ImportError, match=r"dualnumpy\[sparse\]"):
        dn.hessian_sparsity(lambda x: np.sum(x * x), np.ones(3))

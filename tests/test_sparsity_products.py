"""Sparsity detection of products and of linear maps with local structure: exact patterns.

Products (matmul, dot, einsum, kron, convolve, ...) are read from their terms as a boolean
sparse product, and np.gradient from banded probes; the patterns here are compared with the
nonzeros of dense Jacobians and Hessians at random points (exact, not only a superset), with
patterns built independently, and timed at n = 10**6 so that a return to the basis method
(cost in_size x the map's cost, dense beyond a limit) fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import dualnumpy as dn

sp = pytest.importorskip("scipy.sparse", reason="sparsity patterns are scipy.sparse matrices (dualnumpy[sparse])")

#: np.cross of 2-vectors (tested: detection reads them as z = 0) warns in NumPy 2.
pytestmark = pytest.mark.filterwarnings("ignore:Arrays of 2-dimensional vectors:DeprecationWarning")


def sparse_matrix(m: int, k: int, density: float = 0.3, seed: int = 0) -> Any:
    """A random constant with structural zeros (and no zero row or column pattern forced)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 1.5, (m, k)) * (rng.uniform(size=(m, k)) < density)


def banded(n: int, lower: int, upper: int, seed: int = 0) -> Any:
    rng = np.random.default_rng(seed)
    i, j = np.indices((n, n))
    return rng.uniform(0.5, 1.5, (n, n)) * ((j - i <= upper) & (i - j <= lower))


def _nonzero(m: Any) -> Any:
    m = np.asarray(m)
    return np.abs(m) > 1e-12 * (1.0 + np.max(np.abs(m), initial=0.0))


def dense_jacobian_nonzeros(f: Callable[[Any], Any], size: int, points: int = 2) -> Any:
    seen = None
    for p in range(points):
        x = np.random.default_rng(100 + p).uniform(0.5, 1.5, size)
        jac = np.asarray(dn.jacfwd(f)(x))
        out = int(np.size(f(x)))
        nz = _nonzero(np.reshape(jac, (out, size)))
        seen = nz if seen is None else seen | nz
    return seen


def assert_exact_jacobian(f: Callable[[Any], Any], size: int) -> Any:
    x = np.random.default_rng(7).uniform(0.5, 1.5, size)
    pattern = dn.jacobian_sparsity(f, x)
    assert pattern.dtype == bool
    expected = dense_jacobian_nonzeros(f, size)
    got = pattern.toarray()
    missing, extra = expected & ~got, got & ~expected
    assert not missing.any(), f"missing dependencies at {np.argwhere(missing)[:5].tolist()}"
    assert not extra.any(), f"entries that are zero at every point at {np.argwhere(extra)[:5].tolist()}"
    return pattern


def assert_exact_hessian(f: Callable[[Any], Any], size: int) -> Any:
    x = np.random.default_rng(8).uniform(0.5, 1.5, size)
    pattern = dn.hessian_sparsity(f, x).toarray()
    seen = np.zeros((size, size), dtype=bool)
    for p in range(2):
        y = np.random.default_rng(200 + p).uniform(0.5, 1.5, size)
        seen |= _nonzero(dn.hessian(f)(y))
    np.testing.assert_array_equal(pattern, seen)
    return pattern


def same(pattern: Any, expected: Any) -> None:
    expected = sp.csr_matrix(np.asarray(expected, dtype=bool)) if not sp.issparse(expected) else expected
    assert pattern.shape == expected.shape
    assert (pattern != expected.astype(bool)).nnz == 0


# ---------------------------------------------------------------- matmul and friends

A = sparse_matrix(5, 6, seed=1)
B = sparse_matrix(6, 4, seed=2)
C = sparse_matrix(4, 3, seed=3)
S3 = sparse_matrix(3, 3, density=0.5, seed=4)

JACOBIAN_CASES: dict[str, tuple[Callable[[Any], Any], int]] = {
    "A @ x": (lambda x: A @ x, 6),
    "x @ A": (lambda x: x @ A, 5),
    "X @ B": (lambda x: np.reshape(x, (3, 6)) @ B, 18),
    "A @ X": (lambda x: A @ np.reshape(x, (6, 2)), 12),
    "X @ Y": (lambda x: np.reshape(x[:6], (2, 3)) @ np.reshape(x[6:], (3, 4)), 18),
    "x @ x": (lambda x: x @ x, 5),
    "X @ X.T": (lambda x: np.reshape(x, (3, 4)) @ np.reshape(x, (3, 4)).T, 12),
    "stack @ B": (lambda x: np.reshape(x, (2, 3, 6)) @ B, 36),
    "stack @ stack": (lambda x: np.reshape(x[:12], (2, 2, 3)) @ np.reshape(x[12:], (2, 3, 2)), 24),
    "broadcast stack": (lambda x: np.reshape(x[:6], (1, 2, 3)) @ np.reshape(x[6:], (4, 3, 1)), 18),
    "const stack @ X": (lambda x: np.stack([A, A[::-1]]) @ np.reshape(x, (6, 2)), 12),
    "stack @ vector": (lambda x: np.reshape(x[:12], (2, 2, 3)) @ x[12:], 15),
    "vector @ stack": (lambda x: x[:3] @ np.reshape(x[3:], (2, 3, 2)), 15),
    "np.linalg.matmul": (lambda x: np.linalg.matmul(A, np.reshape(x, (6, 2))), 12),
    "multi_dot": (lambda x: np.linalg.multi_dot([A, np.reshape(x, (6, 4)), C]), 24),
    "multi_dot traced ends": (lambda x: np.linalg.multi_dot([x[:5], A, B, x[5:]]), 9),
    "dot N-D": (lambda x: np.dot(np.reshape(x, (2, 3, 6)), B), 36),
    "dot N-D const": (lambda x: np.dot(A, np.reshape(x, (2, 6, 2))), 24),
    "dot vector": (lambda x: np.dot(A, x), 6),
    "dot self": (lambda x: np.dot(x, x), 6),
    "dot scalar": (lambda x: np.dot(2.5, np.reshape(x, (2, 3))), 6),
    "dot traced scalar": (lambda x: np.dot(x[0], A @ x[1:7]), 7),
    "inner": (lambda x: np.inner(np.reshape(x, (2, 6)), A), 12),
    "inner both": (lambda x: np.inner(np.reshape(x[:6], (2, 3)), np.reshape(x[6:], (3, 3))), 15),
    "outer": (lambda x: np.outer(x, np.array([1.0, 0.0, 2.0])), 4),
    "outer both": (lambda x: np.outer(x[:2], np.reshape(x[2:], (2, 2))), 6),
    "vdot": (lambda x: np.vdot(A[:2], np.reshape(x, (2, 6))), 12),
    "tensordot 2": (lambda x: np.tensordot(np.reshape(x, (2, 5, 6)), A, axes=2), 60),
    "tensordot pairs": (lambda x: np.tensordot(np.reshape(x, (3, 2, 4)), np.reshape(C, (4, 3)), axes=([0, 2], [1, 0])), 24),
    "tensordot 0": (lambda x: np.tensordot(x, np.array([0.0, 1.0, 3.0]), axes=0), 3),
    "np.linalg.tensordot": (lambda x: np.linalg.tensordot(np.reshape(x, (2, 4)), C, axes=1), 8),
    "kron": (lambda x: np.kron(np.reshape(x, (2, 3)), np.array([[1.0, 0.0], [0.0, 2.0]])), 6),
    "kron both": (lambda x: np.kron(x[:2], np.reshape(x[2:], (2, 2))), 6),
    "kron scalar": (lambda x: np.kron(3.0, x), 4),
    "cross": (lambda x: np.cross(np.reshape(x, (4, 3)), np.array([1.0, 0.0, 2.0])), 12),
    "cross both": (lambda x: np.cross(np.reshape(x[:6], (2, 3)), x[6:]), 9),
    "cross axes": (lambda x: np.cross(np.reshape(x[:6], (3, 2)), np.reshape(x[6:], (2, 2, 3)), axisa=0, axisc=0), 18),
    "cross axis": (lambda x: np.cross(np.reshape(x, (3, 2)), np.array([[0.0, 1.0], [2.0, 0.0], [1.0, 1.0]]), axis=0), 6),
    "cross 2 and 3": (lambda x: np.cross(np.reshape(x[:4], (2, 2)), np.reshape(x[4:], (2, 3))), 10),
    "trace": (lambda x: np.trace(np.reshape(x, (3, 4))), 12),
    "trace offset axes": (lambda x: np.trace(np.reshape(x, (2, 3, 4)), -1, 0, 2), 24),
    "np.linalg.trace": (lambda x: np.linalg.trace(np.reshape(x, (2, 3, 3)), offset=1), 18),
    "times constant zeros": (lambda x: x * np.array([1.0, 0.0, 2.0, 0.0]), 4),
    "times masked": (lambda x: np.sin(x) * np.where(np.arange(4) % 2 == 0, x, 0.0), 4),
    "vecdot": (lambda x: np.vecdot(np.reshape(x, (3, 4)), C.T), 12),
    "matvec": (lambda x: np.matvec(A, np.reshape(x, (2, 6))), 12),
    "vecmat": (lambda x: np.vecmat(np.reshape(x, (2, 6)), B), 12),
    "np.linalg.vecdot": (lambda x: np.linalg.vecdot(np.reshape(x, (3, 2)), np.array([[0.0], [1.0], [2.0]]), axis=0), 6),
}
JACOBIAN_CASES = {k: v for k, v in JACOBIAN_CASES.items()
                  if not any(name in k for name in ("vecdot", "matvec", "vecmat")) or hasattr(np, "matvec")}


@pytest.mark.parametrize("name", sorted(JACOBIAN_CASES))
def test_product_patterns_are_exact(name: str) -> None:
    f, size = JACOBIAN_CASES[name]
    assert_exact_jacobian(f, size)


def test_banded_matrix_times_x_is_banded() -> None:
    n = 400
    a = banded(n, 2, 1, seed=5)
    pattern = dn.jacobian_sparsity(lambda x: a @ x, np.ones(n))
    same(pattern, a != 0)
    pattern = dn.jacobian_sparsity(lambda x: x @ a, np.ones(n))
    same(pattern, (a != 0).T)
    # through a traced intermediate: (A x)^2 then A again
    pattern = dn.jacobian_sparsity(lambda x: a @ np.sin(a @ x), np.ones(n))
    sa = sp.csr_matrix(a != 0).astype(np.int64)
    same(pattern, (sa @ sa) != 0)


def test_reshape_matmul_ones_is_block_rows() -> None:
    """The case the basis method made dense: 100 x 10**5 with 10**5 entries, exact."""
    n = 10 ** 5
    pattern = dn.jacobian_sparsity(lambda v: np.reshape(v, (100, 1000)) @ np.ones(1000), np.linspace(0, 1, n))
    assert pattern.shape == (100, n) and pattern.nnz == n
    same(pattern, sp.kron(sp.identity(100, dtype=bool), np.ones((1, 1000), dtype=bool)))


def test_zero_constant_gives_no_dependency() -> None:
    pattern = dn.jacobian_sparsity(lambda x: np.zeros((3, 4)) @ x, np.ones(4))
    assert pattern.shape == (3, 4) and pattern.nnz == 0


def test_gufunc_axes_option_is_refused_as_for_duals() -> None:
    """matmul(axes=...) has no rule for Duals, so detection refuses it the same way."""
    f = lambda v: np.matmul(np.reshape(v, (3, 2)), np.ones((3, 4)), axes=[(1, 0), (0, 1), (1, 0)])
    with pytest.raises(TypeError, match="moveaxis"):
        dn.jacobian_sparsity(f, np.arange(1.0, 7.0))
    with pytest.raises(TypeError, match="moveaxis"):
        dn.jacfwd(f)(np.arange(1.0, 7.0))


# ---------------------------------------------------------------- einsum

SQ = sparse_matrix(4, 4, density=0.5, seed=6)
EINSUM_CASES: dict[str, tuple[Callable[[Any], Any], int]] = {
    "ij,j->i": (lambda x: np.einsum("ij,j->i", A, x), 6),
    "ij,jk->ik traced right": (lambda x: np.einsum("ij,jk->ik", A, np.reshape(x, (6, 2))), 12),
    "ij,jk both": (lambda x: np.einsum("ij,jk", np.reshape(x[:6], (2, 3)), np.reshape(x[6:], (3, 2))), 12),
    "ii->i": (lambda x: np.einsum("ii->i", np.reshape(x, (4, 4))), 16),
    "ii->": (lambda x: np.einsum("ii->", np.reshape(x, (4, 4))), 16),
    "ii": (lambda x: np.einsum("ii", np.reshape(x, (3, 3))), 9),
    "ij->": (lambda x: np.einsum("ij->", np.reshape(x, (2, 3))), 6),
    "ij->j": (lambda x: np.einsum("ij->j", np.reshape(x, (2, 3))), 6),
    "i,i,i": (lambda x: np.einsum("i,i,i", x, x * 2, np.array([1.0, 0.0, 2.0, 3.0])), 4),
    "i,j->ij": (lambda x: np.einsum("i,j->ij", x, np.array([1.0, 0.0, 2.0])), 3),
    "ij,jk,kl->il": (lambda x: np.einsum("ij,jk,kl->il", A, np.reshape(x, (6, 4)), C), 24),
    "ijk,j->ik": (lambda x: np.einsum("ijk,j->ik", np.reshape(x, (2, 3, 2)), np.array([0.0, 1.0, 2.0])), 12),
    "ij,ij->i": (lambda x: np.einsum("ij,ij->i", np.reshape(x, (2, 6)), A[:2]), 12),
    "...ij,...jk->...ik": (lambda x: np.einsum("...ij,...jk->...ik", np.reshape(x, (2, 3, 4)), np.reshape(C, (1, 4, 3))), 24),
    "...ij,jk": (lambda x: np.einsum("...ij,jk", np.reshape(x, (2, 3, 4)), C), 24),
    "bij,jk optimize": (lambda x: np.einsum("bij,jk", np.reshape(x, (2, 3, 6)), B, optimize=True), 36),
    "sublists": (lambda x: np.einsum(A, [0, 1], np.reshape(x, (6, 2)), [1, 2], [2, 0]), 12),
    "sublist ellipsis": (lambda x: np.einsum(np.reshape(x, (2, 3)), [Ellipsis, 1]), 6),
    "i,ij,j quadratic": (lambda x: np.einsum("i,ij,j", x, SQ, x), 4),
    "ij,ji->": (lambda x: np.einsum("ij,ji->", np.reshape(x, (3, 3)), S3), 9),
}


@pytest.mark.parametrize("name", sorted(EINSUM_CASES))
def test_einsum_patterns_are_exact(name: str) -> None:
    f, size = EINSUM_CASES[name]
    assert_exact_jacobian(f, size)


def test_einsum_summed_index_against_expected() -> None:
    """einsum('ij,j->i') with a sparse constant: row i depends on the columns j with A[i, j]."""
    a = sparse_matrix(40, 60, density=0.05, seed=9)
    pattern = dn.jacobian_sparsity(lambda x: np.einsum("ij,j->i", a, x), np.ones(60))
    same(pattern, a != 0)
    trace = dn.jacobian_sparsity(lambda x: np.einsum("ii->", np.reshape(x, (8, 8))), np.ones(64))
    expected = np.zeros((1, 64), dtype=bool)
    expected[0, np.arange(8) * 9] = True
    same(trace, expected)


# ---------------------------------------------------------------- convolve and correlate

CONVOLUTION_CASES = [(func, mode, m, k, kernel_traced) for func in (np.convolve, np.correlate)
                     for mode in ("full", "same", "valid") for m, k in ((7, 3), (3, 5), (6, 4), (4, 4), (1, 3))
                     for kernel_traced in (False, True)]


@pytest.mark.parametrize(("func", "mode", "m", "k", "kernel_traced"), CONVOLUTION_CASES,
                         ids=lambda v: getattr(v, "__name__", str(v)))
def test_convolution_patterns_are_exact(func: Any, mode: str, m: int, k: int, kernel_traced: bool) -> None:
    kernel = np.array([1.0, 0.0, -2.0, 0.5, 3.0])[:k]  # a structural zero inside
    if kernel_traced:  # both operands traced
        assert_exact_jacobian(lambda x: func(x[:m], x[m:], mode=mode), m + k)
    else:  # the signal traced against a constant kernel, and the other way round
        assert_exact_jacobian(lambda x: func(x, kernel, mode=mode), m)
        assert_exact_jacobian(lambda x: func(kernel, x, mode=mode), m)


def test_convolve_same_is_banded() -> None:
    n = 1000
    pattern = dn.jacobian_sparsity(lambda v: np.convolve(v, [1.0, -2.0, 1.0], mode="same"), np.ones(n))
    same(pattern, sp.diags([1, 1, 1], [-1, 0, 1], shape=(n, n), dtype=bool))
    pattern = dn.jacobian_sparsity(lambda v: np.convolve(v, [1.0, 0.0, 1.0], mode="same"), np.ones(n))
    same(pattern, sp.diags([1, 1], [-1, 1], shape=(n, n), dtype=bool))


# ---------------------------------------------------------------- linear maps with local structure

XS = np.cumsum(np.random.default_rng(11).uniform(0.5, 1.5, 7))
LINEAR_CASES: dict[str, tuple[Callable[[Any], Any], int]] = {
    "gradient": (lambda x: np.gradient(x), 9),
    "gradient edge 2": (lambda x: np.gradient(x, edge_order=2), 9),
    "gradient spacing": (lambda x: np.gradient(x, 0.3), 6),
    "gradient coordinates": (lambda x: np.gradient(x, XS), 7),
    "gradient coordinates edge 2": (lambda x: np.gradient(x, XS, edge_order=2), 7),
    "gradient 2-D": (lambda x: np.concatenate([np.ravel(g) for g in np.gradient(np.reshape(x, (4, 5)))]), 20),
    "gradient 2-D axis": (lambda x: np.gradient(np.reshape(x, (4, 5)), axis=1, edge_order=2), 20),
    "gradient 3-D axes": (lambda x: np.concatenate([np.ravel(g) for g in
                                                    np.gradient(np.reshape(x, (2, 3, 5)), 2.0, XS[:5], axis=(0, 2))]), 30),
    "gradient permuted": (lambda x: np.gradient(x[::-1] * x), 8),
    "diff": (lambda x: np.diff(x), 8),
    "diff 2": (lambda x: np.diff(np.reshape(x, (3, 4)), 2, axis=1), 12),
    "ediff1d": (lambda x: np.ediff1d(x, to_begin=1.0), 6),
    "trapezoid": (lambda x: np.trapezoid(np.reshape(x, (3, 4)), axis=0), 12),
    "trapezoid x": (lambda x: np.trapezoid(x, XS[:6]), 6),
    "cumsum": (lambda x: np.cumsum(x), 6),
    "cumprod": (lambda x: np.cumprod(np.reshape(x, (2, 3)), axis=1), 6),
    "interp x": (lambda x: np.interp(x, [0.0, 1.0, 2.0], [1.0, 3.0, 2.0]), 5),
}


@pytest.mark.parametrize("name", sorted(LINEAR_CASES))
def test_linear_map_patterns_are_exact(name: str) -> None:
    f, size = LINEAR_CASES[name]
    assert_exact_jacobian(f, size)


def test_gradient_against_expected_band() -> None:
    n = 50
    pattern = dn.jacobian_sparsity(np.gradient, np.ones(n))
    expected = sp.lil_matrix((n, n), dtype=bool)
    for i in range(1, n - 1):
        expected[i, i - 1] = expected[i, i + 1] = True  # central difference: no diagonal
    expected[0, :2] = expected[n - 1, n - 2:] = True
    same(pattern, expected.tocsr())
    second = dn.jacobian_sparsity(lambda v: np.gradient(v, edge_order=2), np.ones(n))
    expected[0, 2] = expected[n - 1, n - 3] = True
    same(second, expected.tocsr())
    # uneven spacing: the centre coefficient is no longer zero (first order at the ends)
    uneven = dn.jacobian_sparsity(lambda v: np.gradient(v, np.cumsum(np.linspace(1.0, 2.0, n))), np.ones(n))
    same(uneven, sp.diags([1, 1, 1], [-1, 0, 1], shape=(n, n), dtype=bool))


def test_interp_in_fp_is_local_and_in_x_diagonal() -> None:
    xp = np.linspace(0.0, 1.0, 11)
    f = lambda v: np.interp(np.array([0.05, 0.55, 0.93]), xp, v)
    pattern = dn.jacobian_sparsity(f, np.ones(11)).toarray()
    assert pattern.sum(axis=1).tolist() == [2, 2, 2]
    assert np.flatnonzero(pattern[1]).tolist() == [5, 6]
    g = lambda v: np.interp(v[:4], xp, v[4:])  # globally: every fp (the interval moves with x)
    pattern = dn.jacobian_sparsity(g, np.linspace(0.1, 0.9, 15)).toarray()
    assert pattern[:, :4].tolist() == np.eye(4, dtype=bool).tolist() and pattern[:, 4:].all()
    local = dn.jacobian_sparsity(g, np.linspace(0.1, 0.9, 15), local=True).toarray()
    assert (local <= pattern).all() and local[:, 4:].sum() == 8


# ---------------------------------------------------------------- Hessians

HESSIAN_CASES: dict[str, tuple[Callable[[Any], Any], int]] = {
    "x A x": (lambda x: x @ SQ @ x, 4),
    "einsum i,ij,j": (lambda x: np.einsum("i,ij,j", x, SQ, x), 4),
    "dot self": (lambda x: np.dot(x, x), 5),
    "neighbours": (lambda x: np.sum(x[:-1] * x[1:]), 6),
    "X @ Y weighted": (lambda x: np.sum(np.arange(1.0, 9.0).reshape(2, 4) * (np.reshape(x[:6], (2, 3)) @ np.reshape(x[6:], (3, 4)))), 18),
    "einsum ij,ji": (lambda x: np.einsum("ij,ji->", np.reshape(x, (3, 3)), np.reshape(x, (3, 3))), 9),
    # a traced operand with constant zeros (np.where with a constant mask) pairs nothing there
    "X @ masked Y": (lambda x: np.sum(np.reshape(x[:4], (2, 2)) @ np.where(S3[:2, :2] != 0, np.reshape(x[4:], (2, 2)), 0.0)), 8),
    "kron both": (lambda x: np.sum(np.kron(x[:2], x[2:]) * np.array([1.0, 4.0, 2.0, 5.0, 1.0, 3.0])), 5),
    "convolve both": (lambda x: np.sum(np.convolve(x[:5], x[5:], mode="valid")), 8),
    "outer both": (lambda x: np.sum(np.outer(x[:2], x[2:]) * np.array([[1.0, 3.0], [4.0, 2.0]])), 4),
    "sin of product": (lambda x: np.sum(np.sin(SQ @ x)), 4),
    "cross both": (lambda x: np.sum(np.cross(x[:3], x[3:]) * np.array([1.0, 2.0, 3.0])), 6),
    "times constant zeros": (lambda x: np.sum(x * (x * np.array([1.0, 0.0, 2.0, 0.0]))), 4),
}


@pytest.mark.parametrize("name", sorted(HESSIAN_CASES))
def test_hessian_patterns_are_exact(name: str) -> None:
    f, size = HESSIAN_CASES[name]
    assert_exact_hessian(f, size)


def test_quadratic_form_hessian_is_a_plus_a_transpose() -> None:
    n = 300
    a = banded(n, 3, 1, seed=12)
    a[np.arange(n), np.arange(n)] = 0.0  # no diagonal: the pattern must not invent one
    pattern = dn.hessian_sparsity(lambda x: x @ a @ x, np.ones(n))
    same(pattern, (a + a.T) != 0)
    pattern = dn.hessian_sparsity(lambda x: np.einsum("i,ij,j->", x, a, x), np.ones(n))
    same(pattern, (a + a.T) != 0)


def test_neighbour_products_are_tridiagonal_without_diagonal() -> None:
    n = 200
    pattern = dn.hessian_sparsity(lambda x: np.sum(x[:-1] * x[1:]), np.ones(n))
    same(pattern, sp.diags([1, 1], [-1, 1], shape=(n, n), dtype=bool))
    pattern = dn.hessian_sparsity(lambda x: np.dot(x[:-1], x[1:]), np.ones(n))
    same(pattern, sp.diags([1, 1], [-1, 1], shape=(n, n), dtype=bool))


def test_bilinear_pairs_are_per_term_not_all_columns() -> None:
    """A block-diagonal product of two traced matrices couples only within a term."""
    x = np.ones(8)
    f = lambda v: np.sum(np.reshape(v[:4], (2, 1, 2)) @ np.reshape(v[4:], (2, 2, 1)))
    pattern = dn.hessian_sparsity(f, x).toarray()
    expected = np.zeros((8, 8), dtype=bool)
    for b in range(2):
        for j in range(2):
            expected[2 * b + j, 4 + 2 * b + j] = expected[4 + 2 * b + j, 2 * b + j] = True
    np.testing.assert_array_equal(pattern, expected)


# ---------------------------------------------------------------- scale

N = 10 ** 6
SCALE_CASES: dict[str, tuple[Callable[[Any], Any], int]] = {
    "reshape @ ones": (lambda v: np.reshape(v, (1000, 1000)) @ np.ones(1000), N),
    "blocks @ small": (lambda v: np.reshape(v, (-1, 4)) @ banded(4, 1, 1), 10 * N // 4),
    "einsum": (lambda v: np.einsum("ij,j->i", np.reshape(v, (1000, 1000)), np.ones(1000)), N),
    "gradient": (np.gradient, 2 * N),
    "gradient 2-D": (lambda v: np.gradient(np.reshape(v, (1000, 1000)), axis=0, edge_order=2), 2 * N + 2000),
    "convolve same": (lambda v: np.convolve(v, [1.0, -2.0, 1.0], mode="same"), 3 * N - 2),
    "correlate valid": (lambda v: np.correlate(v, [1.0, 0.0, 1.0], mode="valid"), 2 * (N - 2)),
    "dot": (lambda v: np.dot(v, v), N),
    "diff": (np.diff, 2 * (N - 1)),
    "cross": (lambda v: np.cross(np.reshape(v, (-1, 4))[:, :3], np.ones(3)), 6 * N // 4),
    "trace": (lambda v: np.trace(np.reshape(v, (1000, 1000))), 1000),
    "real, imag, astype": (lambda v: np.real(v) + np.imag(v * 1j) + np.astype(v, np.float32), N),
    "unwrap": (np.unwrap, N),
    "real_if_close": (np.real_if_close, N),
    "trapezoid": (np.trapezoid, N),
}


@pytest.mark.parametrize("name", sorted(SCALE_CASES))
def test_detection_at_a_million_is_fast(name: str) -> None:
    f, nnz = SCALE_CASES[name]
    x = np.linspace(0.0, 1.0, N)
    start = time.perf_counter()
    pattern = dn.jacobian_sparsity(f, x)
    elapsed = time.perf_counter() - start
    assert pattern.nnz == nnz
    assert elapsed < 5.0, f"{name}: {elapsed:.2f} s at n = 10**6 (the basis method is back?)"


def test_hessian_at_a_million_is_fast() -> None:
    x = np.linspace(0.0, 1.0, N)
    start = time.perf_counter()
    pattern = dn.hessian_sparsity(lambda v: np.dot(v[:-1], v[1:]) + np.dot(v, v), x)
    elapsed = time.perf_counter() - start
    assert pattern.nnz == 3 * N - 2
    assert elapsed < 5.0, f"{elapsed:.2f} s"


# ---------------------------------------------------------------- random contractions


def _operands_function(func: Callable[..., Any], shapes: list[tuple[int, ...]], traced: list[bool],
                       constants: list[Any], **kwargs: Any) -> Callable[[Any], Any]:
    sizes = [int(np.prod(s)) for s in shapes]

    def f(v: Any) -> Any:
        ops, at = [], 0
        for shape, is_traced, constant, size in zip(shapes, traced, constants, sizes, strict=True):
            if is_traced:
                ops.append(np.reshape(v[at:at + size], shape))
                at += size
            else:
                ops.append(constant)
        return func(*ops, **kwargs)

    return f


def _check_jacobian_and_weighted_hessian(f: Callable[[Any], Any], size: int) -> None:
    assert_exact_jacobian(f, size)
    x = np.random.default_rng(5).uniform(0.5, 1.5, size)
    out_shape = np.shape(f(x))
    weights = np.arange(1.0, 1.0 + int(np.prod(out_shape))).reshape(out_shape)
    assert_exact_hessian(lambda v: np.sum(f(v) * weights), size)


@pytest.mark.parametrize("seed", range(6))
def test_random_einsum_contractions_are_exact(seed: int) -> None:
    """Random subscripts (repeated and summed labels, outer products, traces), some operands
    traced and the others sparse constants: Jacobian and Hessian patterns exact."""
    rng = np.random.default_rng(seed)
    for _ in range(10):
        sizes = {c: int(rng.integers(1, 4)) for c in "ijkl"}
        specs = ["".join(rng.choice(list("ijkl"), int(rng.integers(0, 4)))) for _ in range(int(rng.integers(1, 4)))]
        used = sorted(set("".join(specs)))
        spec = ",".join(specs) + "->" + "".join(c for c in used if rng.random() < 0.5)
        traced = [bool(rng.random() < 0.6) for _ in specs]
        traced[0] = traced[0] or not any(traced)
        shapes = [tuple(sizes[c] for c in s) for s in specs]
        constants = [rng.uniform(0.5, 1.5, s) * (rng.random(s) < 0.6) for s in shapes]
        size = sum(int(np.prod(s)) for s, t in zip(shapes, traced, strict=True) if t)
        f = _operands_function(lambda *ops, spec=spec: np.einsum(spec, *ops), shapes, traced, constants)
        _check_jacobian_and_weighted_hessian(f, size)


def _random_products(rng: Any) -> list[tuple[Any, tuple[int, ...], tuple[int, ...], dict[str, Any]]]:
    n, k, m, b = (int(v) for v in rng.integers(1, 4, 4))
    mode = str(rng.choice(["full", "same", "valid"]))
    cases = [(np.matmul, (n, k), (k, m), {}), (np.matmul, (k,), (b, k, m), {}),
             (np.matmul, (b, 1, n, k), (2, k, m), {}), (np.dot, (b, n, k), (m, k, n), {}),
             (np.dot, (), (n, k), {}), (np.inner, (b, k), (n, m, k), {}), (np.outer, (n, k), (m,), {}),
             (np.vdot, (n, k), (n, k), {}), (np.tensordot, (n, k, m), (m, k, b), {"axes": ([1, 2], [1, 0])}),
             (np.tensordot, (n, k), (m,), {"axes": 0}), (np.kron, (b, n), (k, m, 2), {}),
             (np.cross, (b, 3), (3,), {}), (np.cross, (3, b), (b, 2), {"axisa": 0}),
             (np.convolve, (n + 2,), (k,), {"mode": mode}), (np.correlate, (k,), (n + 2,), {"mode": mode})]
    if hasattr(np, "matvec"):
        cases += [(np.vecdot, (b, n, k), (n, k), {}), (np.matvec, (b, n, k), (k,), {}),
                  (np.vecmat, (k,), (b, k, m), {})]
    return cases


@pytest.mark.parametrize("seed", range(3))
def test_random_products_are_exact(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for func, sa, sb, kwargs in _random_products(rng):
        for traced in ([True, False], [False, True], [True, True]):
            constants = [rng.uniform(0.5, 1.5, s) * (rng.random(s) < 0.6) for s in (sa, sb)]
            size = sum(int(np.prod(s)) for s, t in zip((sa, sb), traced, strict=True) if t)
            f = _operands_function(func, [sa, sb], traced, constants, **kwargs)
            if all(traced):
                _check_jacobian_and_weighted_hessian(f, size)
            else:
                assert_exact_jacobian(f, size)


def test_above_the_term_limit_the_old_methods_still_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond TERM_LIMIT terms a Bilinear rule falls back to its basis images (exact) and
    einsum to dense (a superset): never a missing dependency."""
    from dualnumpy.sparsity import tracing

    monkeypatch.setattr(tracing, "TERM_LIMIT", 4)
    a = banded(12, 1, 1, seed=3)
    same(dn.jacobian_sparsity(lambda x: a @ x, np.ones(12)), a != 0)
    same(dn.jacobian_sparsity(lambda x: np.convolve(x, [1.0, 0.0, 1.0], mode="same"), np.ones(12)),
         sp.diags([1, 1], [-1, 1], shape=(12, 12), dtype=bool))
    dense = dn.jacobian_sparsity(lambda x: np.einsum("ij,j->i", a, x), np.ones(12)).toarray()
    assert dense.all()
    hessian = dn.hessian_sparsity(lambda x: x @ a @ x, np.ones(12)).toarray()
    assert (hessian >= ((a + a.T) != 0)).all()

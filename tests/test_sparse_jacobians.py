"""sparse_jacfwd and sparse_hessian: equal to the dense jacfwd / hessian reshaped, reused
across points, strict about shapes, check=True naming missing entries, and SciPy optional."""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

pytest.importorskip("scipy", reason="sparse Jacobians are scipy.sparse matrices (dualnumpy[sparse])")

import scipy.sparse as sp
from problems import bratu, rosenbrock

import dualnumpy as dn
from dualnumpy.sparsity import (
    SparseHessian,
    SparseJacobian,
    SparsityWarning,
    hessian_sparsity,
    jacobian_sparsity,
    sparse_hessian,
    sparse_jacfwd,
)

# ---------------------------------------------------------------- functions




def stencil_2d(u: Any) -> Any:
    """A 5-point nonlinear Poisson residual on a grid, boundary by np.pad."""
    up = np.pad(u, 1)
    return up[:-2, 1:-1] + up[2:, 1:-1] + up[1:-1, :-2] + up[1:-1, 2:] - 4 * u + 0.1 * u ** 3


def brusselator(x: Any) -> Any:
    def lap(a: Any) -> Any:
        return np.roll(a, 1, 0) + np.roll(a, -1, 0) + np.roll(a, 1, 1) + np.roll(a, -1, 1) - 4 * a

    u, v = x[..., 0], x[..., 1]
    return np.stack([1 + u * u * v - 4.4 * u + 3.4 * lap(u), 3.4 * u - u * u * v + 3.4 * lap(v)], axis=-1)


_A = np.where(np.random.default_rng(7).random((9, 12)) < 0.25, np.random.default_rng(8).standard_normal((9, 12)), 0.0)


def sparse_matmul(x: Any) -> Any:
    return np.sin(_A @ x) + x[:9] ** 2


def grid_product(x: Any) -> Any:
    """Input (3, 4), output (2, 4): neighbouring rows multiplied, plus a column sum."""
    return x[1:] * x[:-1] + np.sum(np.exp(x), axis=0)


def transpose_mix(x: Any) -> Any:
    return np.tanh(x.T) * x[:, 0]




def arrowhead_objective(x: Any) -> Any:
    return x[0] * np.sum(x ** 2) + np.sum(np.cos(x))


def chain_objective(x: Any) -> Any:
    return np.sum(np.sin(x[1:] * x[:-1])) + np.sum(x ** 3)


def matrix_objective(x: Any) -> Any:
    return np.sum(x[:, 1:] * x[:, :-1] ** 2) + np.sum(np.log1p(x ** 2))


rng = np.random.default_rng(0)
JACOBIAN_CASES: list[tuple[Callable[[Any], Any], Any]] = [
    (bratu, rng.random(40)),
    (stencil_2d, rng.random((7, 6))),
    (brusselator, rng.random((6, 6, 2))),
    (sparse_matmul, rng.random(12)),
    (grid_product, rng.random((3, 4))),
    (transpose_mix, rng.random((3, 4))),
    (np.cumsum, rng.random(10)),  # a dense lower triangle
]
HESSIAN_CASES: list[tuple[Callable[[Any], Any], Any]] = [
    (rosenbrock, rng.random(10)),
    (rosenbrock, rng.random(100)),
    (arrowhead_objective, rng.random(20)),
    (chain_objective, rng.random(15)),
    (matrix_objective, rng.random((3, 4))),
]


def dense_jacobian(f: Callable[[Any], Any], x: Any) -> Any:
    jac = dn.jacfwd(f)(x)
    return np.reshape(jac, (-1, np.size(x)))


def assert_matches(got: Any, expected: Any) -> None:
    assert isinstance(got, sp.csr_matrix)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.toarray(), expected, rtol=1e-12, atol=1e-13)


# ---------------------------------------------------------------- equal to the dense ones


@pytest.mark.parametrize(("f", "x"), JACOBIAN_CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_sparse_jacfwd_equals_dense(f: Callable[[Any], Any], x: Any) -> None:
    jac = sparse_jacfwd(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SparsityWarning)
        got = jac(x)
    expected = dense_jacobian(f, x)
    assert_matches(got, expected)
    assert jac.sparsity.shape == expected.shape and jac.sparsity.dtype == bool
    assert not np.any(expected[~jac.sparsity.toarray()]), "a nonzero outside the pattern"
    assert got.nnz == jac.sparsity.nnz
    assert jac.colors is not None and jac.colors.shape == (np.size(x),)
    assert jac.coloring is not None and jac.coloring.count == int(jac.colors.max()) + 1


def test_colors_are_few_on_stencils() -> None:
    # (count, lower bound): the 5-point stencil's optimum is 5, which greedy orders miss
    cases = {bratu: (rng.random(500), 3, 3), stencil_2d: (rng.random((20, 20)), 7, 5),
             brusselator: (rng.random((32, 32, 2)), 8, 6)}
    for f, (x, count, bound) in cases.items():
        jac = sparse_jacfwd(f)
        assert_matches(jac(x), dense_jacobian(f, x))
        assert jac.coloring is not None, f.__name__
        assert (jac.coloring.count, jac.coloring.lower_bound) == (count, bound), f.__name__


@pytest.mark.parametrize(("f", "x"), HESSIAN_CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_sparse_hessian_equals_dense(f: Callable[[Any], Any], x: Any) -> None:
    hess = sparse_hessian(f)
    got = hess(x)
    expected = np.reshape(dn.hessian(f)(x), (x.size, x.size))
    assert_matches(got, expected)
    np.testing.assert_array_equal(got.toarray(), got.toarray().T)
    assert (hess.sparsity != hess.sparsity.T).nnz == 0
    assert hess.coloring is not None and hess.coloring.symmetric


def test_hessian_color_counts() -> None:
    rosen = sparse_hessian(rosenbrock)
    rosen(rng.random(100))
    assert rosen.coloring is not None and rosen.coloring.count == 3
    arrow = sparse_hessian(arrowhead_objective)
    arrow(rng.random(50))
    assert arrow.coloring is not None and arrow.coloring.count == 2  # star coloring; columns: 50


# ---------------------------------------------------------------- reuse


def test_reuse_across_points_detects_once() -> None:
    calls = []

    def f(x: Any) -> Any:
        calls.append(type(x).__name__)
        return bratu(x)

    jac = sparse_jacfwd(f)
    assert (jac.sparsity, jac.colors, jac.coloring) == (None, None, None)
    assert "not called yet" in repr(jac)
    points = [rng.random(30) for _ in range(3)]
    first = jac(points[0])
    coloring, sparsity = jac.coloring, jac.sparsity
    results = [first] + [jac(p) for p in points[1:]]
    assert calls == ["Traced", "Dual", "Dual", "Dual"]  # one detection, then one pass a call
    assert jac.coloring is coloring and jac.sparsity is sparsity
    for p, got in zip(points, results, strict=True):
        assert_matches(got, dense_jacobian(bratu, p))
    # every result is its own matrix: changing one leaves the others and the next call alone
    results[0].data[:] = 0.0
    results[0].indices[:] = 0
    assert_matches(results[1], dense_jacobian(bratu, points[1]))
    assert_matches(jac(points[0]), dense_jacobian(bratu, points[0]))
    assert "3 colors" in repr(jac)


def test_value_and_jacobian_and_gradient_and_hessian() -> None:
    x = rng.random(25)
    value, jac = sparse_jacfwd(bratu).value_and_jacobian(x)
    np.testing.assert_array_equal(value, bratu(x))
    assert_matches(jac, dense_jacobian(bratu, x))
    gradient, hess = sparse_hessian(rosenbrock).gradient_and_hessian(x)
    np.testing.assert_allclose(gradient, dn.grad(rosenbrock)(x), rtol=1e-12)
    assert_matches(hess, dn.hessian(rosenbrock)(x))


def test_further_arguments_are_constants() -> None:
    def scaled(x: Any, a: float, *, shift: float = 0.0) -> Any:
        return a * x[1:] * x[:-1] + shift

    def objective(x: Any, a: float) -> Any:
        return a * rosenbrock(x)

    x = rng.random(9)
    jac = sparse_jacfwd(scaled)
    for a in (2.0, 3.0):
        expected = dn.jacfwd(lambda v, a=a: scaled(v, a))(x)
        assert_matches(jac(x, a, shift=1.0), expected)
    value, _ = jac.value_and_jacobian(x, 2.0, shift=1.0)
    np.testing.assert_array_equal(value, scaled(x, 2.0, shift=1.0))
    hess = sparse_hessian(objective)
    for a in (1.0, 0.5):
        assert_matches(hess(x, a), a * dn.hessian(rosenbrock)(x))


def test_hessian_reuse_across_points() -> None:
    hess = sparse_hessian(chain_objective)
    for _ in range(3):
        x = rng.random(12)
        assert_matches(hess(x), dn.hessian(chain_objective)(x))


# ---------------------------------------------------------------- a given pattern


def test_given_pattern_as_scipy_or_dense() -> None:
    x = rng.random(20)
    pattern = jacobian_sparsity(bratu, x)
    for given in [pattern, pattern.tocsc(), pattern.toarray(), pattern.toarray().astype(int)]:
        jac = sparse_jacfwd(bratu, sparsity=given)
        assert_matches(jac(x), dense_jacobian(bratu, x))
        assert (jac.sparsity != pattern).nnz == 0
    # a superset is fine: the extra entries come out as zeros
    wider = sp.csr_matrix(np.abs(np.subtract.outer(np.arange(20), np.arange(20))) <= 2)
    jac = sparse_jacfwd(bratu, sparsity=wider)
    got = jac(x)
    assert got.nnz == wider.nnz
    assert_matches(got, dense_jacobian(bratu, x))


def test_given_hessian_triangle_is_enough() -> None:
    x = rng.random(10)
    upper = sp.triu(hessian_sparsity(rosenbrock, x)).tocsr()
    hess = sparse_hessian(rosenbrock, sparsity=upper)
    assert_matches(hess(x), dn.hessian(rosenbrock)(x))
    assert hess.sparsity.nnz == 3 * 10 - 2


def test_wrong_pattern_shape_names_both_shapes() -> None:
    x = rng.random(10)
    with pytest.raises(ValueError, match=r"has shape \(10, 9\), but an input of shape \(10,\) needs \(10, 10\)"):
        sparse_jacfwd(bratu, sparsity=np.eye(10, 9, dtype=bool))(x)
    with pytest.raises(ValueError, match=r"has shape \(8, 10\), but a function of output shape \(10,\) "
                                         r"and input shape \(10,\) needs \(10, 10\)"):
        sparse_jacfwd(bratu, sparsity=np.eye(8, 10, dtype=bool))(x)
    with pytest.raises(ValueError, match=r"has shape \(9, 9\), but an input of shape \(10,\) needs \(10, 10\)"):
        sparse_hessian(rosenbrock, sparsity=np.eye(9, dtype=bool))(x)
    with pytest.raises(TypeError, match="sparsity must be"):
        sparse_jacfwd(bratu, sparsity="tridiagonal")


def test_changed_shapes_are_refused() -> None:
    jac = sparse_jacfwd(bratu)
    jac(rng.random(10))
    with pytest.raises(ValueError, match=r"x has shape \(11,\).*shape \(10,\).*make a new sparse_jacfwd"):
        jac(rng.random(11))
    state = {"long": False}

    def f(x: Any) -> Any:
        return np.concatenate([x, x[:1]]) if state["long"] else x * 2.0

    jac = sparse_jacfwd(f)
    jac(rng.random(5))
    state["long"] = True
    with pytest.raises(ValueError, match=r"output shape changed from \(5,\) \(the first call\) to \(6,\)"):
        jac(rng.random(5))
    hess = sparse_hessian(rosenbrock)
    hess(rng.random(6))
    with pytest.raises(ValueError, match=r"x has shape \(2, 3\)"):
        hess(rng.random((2, 3)))


# ---------------------------------------------------------------- check=True


def test_check_names_the_missing_entries() -> None:
    x = rng.random(12)
    diagonal = sp.eye(12, format="csr", dtype=bool)
    with pytest.raises(ValueError, match=r"misses 22 entries that detection finds \(row, column\): "
                                         r"\(0, 1\), \(1, 0\), \(1, 2\), \(2, 1\), \(2, 3\), \.\.\."):
        sparse_jacfwd(bratu, sparsity=diagonal, check=True)(x)
    one_short = jacobian_sparsity(bratu, x).tolil()
    one_short[3, 4] = False
    with pytest.raises(ValueError, match=r"misses 1 entry that detection finds \(row, column\): \(3, 4\)\."):
        sparse_jacfwd(bratu, sparsity=one_short.tocsr(), check=True)(x)
    # without check the missing entry is silently lost: why check=True exists
    assert sparse_jacfwd(bratu, sparsity=one_short.tocsr())(x)[3, 4] == 0.0
    jac = sparse_jacfwd(bratu, sparsity=jacobian_sparsity(bratu, x), check=True)
    assert_matches(jac(x), dense_jacobian(bratu, x))
    assert_matches(sparse_jacfwd(bratu, check=True)(x), dense_jacobian(bratu, x))
    with pytest.raises(ValueError, match=r"misses 18 entries.*\(0, 1\)"):
        sparse_hessian(rosenbrock, sparsity=np.eye(10, dtype=bool), check=True)(x[:10])


def test_check_falls_back_to_a_dense_jacobian_for_branching_code() -> None:
    def branching(x: Any) -> Any:
        return x[1:] * x[:-1] if x[0] > 0 else x[1:]

    x = rng.random(8) + 0.5
    with pytest.raises(TypeError, match="local=True") as info:
        sparse_jacfwd(branching)(x)
    assert any("sparsity=dn.jacobian_sparsity(f, x, local=True)" in note for note in info.value.__notes__)
    local = jacobian_sparsity(branching, x, local=True)
    assert_matches(sparse_jacfwd(branching, sparsity=local, check=True)(x), dense_jacobian(branching, x))
    with pytest.raises(ValueError, match=r"misses 7 entries that a dense evaluation at x finds.*\(0, 0\)"):
        sparse_jacfwd(branching, sparsity=sp.eye(7, 8, k=1, format="csr"), check=True)(x)


# ---------------------------------------------------------------- inputs and dtypes


def test_inputs_are_promoted_like_jacfwd() -> None:
    jac = sparse_jacfwd(lambda x: x[1:] * x[:-1])
    got = jac(np.arange(5))
    assert got.dtype == np.float64
    assert_matches(got, dn.jacfwd(lambda x: x[1:] * x[:-1])(np.arange(5)))
    assert_matches(sparse_jacfwd(np.sin)([0.0, 1.0, 2.0]), np.diag(np.cos([0.0, 1.0, 2.0])))
    x32 = rng.random(6).astype(np.float32)
    got32 = sparse_jacfwd(bratu)(x32)
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32.toarray(), dense_jacobian(bratu, x32), rtol=1e-6)
    with pytest.raises(TypeError, match="complex"):
        sparse_jacfwd(bratu)(np.ones(4, dtype=complex))
    with pytest.raises(TypeError, match="boolean"):
        sparse_jacfwd(bratu)(np.ones(4, dtype=bool))
    with pytest.raises(TypeError, match="needs a function"):
        sparse_jacfwd(np.ones(3))
    with pytest.raises(TypeError, match="do not nest"):
        dn.jvp(lambda x: sparse_jacfwd(np.sin)(x).sum(), (np.ones(3),), (np.ones(3),))


def test_complex_outputs_of_real_inputs() -> None:
    def f(x: Any) -> Any:
        return np.exp(1j * x[1:]) * x[:-1]

    x = rng.random(7)
    got = sparse_jacfwd(f)(x)
    assert got.dtype == np.complex128
    np.testing.assert_allclose(got.toarray(), dense_jacobian(f, x), rtol=1e-12)


def test_scalar_and_constant_outputs() -> None:
    x = rng.random(4)
    assert_matches(sparse_jacfwd(lambda x: np.sum(x ** 2))(x), 2 * x[None, :])
    zero = sparse_jacfwd(lambda x: np.ones(3))(x)
    assert zero.shape == (3, 4) and zero.nnz == 0


def test_arrowhead_jacobian_warns_and_is_still_right() -> None:
    def arrow(x: Any) -> Any:
        return np.concatenate([np.sum(x, keepdims=True), x[1:] * x[0]])

    x = rng.random(64)
    with pytest.warns(SparsityWarning, match="dense row: row 0 has 64 of the 64 columns") as record:
        got = sparse_jacfwd(arrow)(x)
    assert record[0].filename == __file__  # points at the caller
    assert_matches(got, dense_jacobian(arrow, x))


def test_several_outputs_are_refused() -> None:
    def pair(x: Any) -> Any:
        return x * 2.0, x * 3.0

    with pytest.raises(TypeError, match="one array output; got a tuple"):
        sparse_jacfwd(pair)(rng.random(3))
    with pytest.raises(TypeError, match="one array output; got a tuple"):
        sparse_jacfwd(pair, sparsity=np.ones((6, 3), dtype=bool))(rng.random(3))


def test_non_scalar_objective_is_refused() -> None:
    with pytest.raises(TypeError, match="scalar output"):
        sparse_hessian(np.sin)(rng.random(3))


def test_classes_are_exposed() -> None:
    assert isinstance(sparse_jacfwd(bratu), SparseJacobian)
    assert isinstance(sparse_hessian(rosenbrock), SparseHessian)


# ---------------------------------------------------------------- SciPy is optional


def test_without_scipy_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "scipy" or m.startswith("scipy.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "scipy", None)
    with pytest.raises(ImportError, match=r"pip install '?dualnumpy\[sparse\]"):
        sparse_jacfwd(bratu)
    with pytest.raises(ImportError, match=r"pip install '?dualnumpy\[sparse\]"):
        sparse_hessian(rosenbrock)


def test_dualnumpy_imports_without_scipy() -> None:
    code = ("import sys; sys.modules['scipy'] = None\n"
            "import numpy as np, dualnumpy as dn\n"
            "from dualnumpy.sparsity import sparse_jacfwd, color_columns\n"
            "assert dn.jacfwd(np.sin)(np.zeros(2)).shape == (2, 2)\n"
            "try:\n    sparse_jacfwd(np.sin)\nexcept ImportError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "dualnumpy[sparse]" in done.stdout


def test_hessian_inner_gradient_is_chunked(monkeypatch: pytest.MonkeyPatch) -> None:
    from dualnumpy.sparsity import compressed

    chunks = []

    def recording_grad(fun: Any, chunk_size: int | None = None) -> Any:
        chunks.append(chunk_size)
        return dn.grad(fun, chunk_size=chunk_size)

    monkeypatch.setattr(compressed, "grad", recording_grad)
    monkeypatch.setattr(compressed, "HESSIAN_CHUNK_ELEMENTS", 3 * 30 * 7)  # 7 directions a chunk

    def scaled(x: Any) -> Any:  # not a bare np.sum of terms: forward over forward
        return 2.0 * rosenbrock(x)

    x = rng.random(30)
    hess = sparse_hessian(scaled)
    assert_matches(hess(x), dn.hessian(scaled)(x))
    assert_matches(hess(x + 1), dn.hessian(scaled)(x + 1))
    assert hess.separable is None
    assert chunks == [7]  # made once, chunked
    monkeypatch.setattr(compressed, "HESSIAN_CHUNK_ELEMENTS", 1 << 21)
    sparse_hessian(scaled)(x)
    assert chunks == [7, None]  # small: all directions at once

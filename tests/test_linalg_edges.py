"""np.linalg at its edges: the conventions of rules/linalg.py, one test each.

The generated tests (tests/test_function_rules.py) sample every rule away from kinks;
these tests sit on the kinks: zero vectors, repeated eigenvalues and singular values,
singular and defective matrices, and the gradients and nesting the issue names.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import dualnumpy as dn
from dualnumpy import Dual

RNG = np.random.default_rng(2024)
LinAlgError = np.linalg.LinAlgError


def fd(f: Any, x: Any, dx: Any, h: float = 1e-5) -> Any:
    """Richardson-extrapolated central difference of f at x along dx."""
    def central(step: float) -> Any:
        return (np.asarray(f(x + step * dx)) - np.asarray(f(x - step * dx))) / (2 * step)
    return (4 * central(h / 2) - central(h)) / 3


def rotated(eigenvalues: list[float], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Q diag(eigenvalues) Qᵀ with a random orthogonal Q, and Q."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(eigenvalues),) * 2))
    return q @ np.diag(eigenvalues) @ q.T, q


def symmetric_direction(n: int, seed: int = 1) -> np.ndarray:
    d = np.random.default_rng(seed).standard_normal((n, n))
    return d + d.T


# ---------------------------------------------------------------- norms of zero vectors

VECTOR_ORDS = [None, 2, 1, np.inf, -np.inf, 0, 3, 0.5, -1, -2, -0.5]
MATRIX_ORDS = [None, "fro", "nuc", 1, -1, np.inf, -np.inf, 2, -2]


@pytest.mark.parametrize("ord", VECTOR_ORDS)
def test_norm_of_a_zero_vector_has_the_zero_subgradient(ord: Any) -> None:
    """Every ord: the value is NumPy's and the tangent is 0 (never NaN), also batched."""
    zero = np.zeros(4)
    with np.errstate(divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")  # the rule itself must not warn
        want = np.linalg.norm(zero, ord)
        for norm in (lambda x: np.linalg.norm(x, ord),
                     lambda x: np.linalg.vector_norm(x, ord=2 if ord is None else ord)):
            value, tangent = dn.jvp(norm, (zero,), (np.arange(1.0, 5.0),))
            assert value == want and tangent == 0.0
            _, batched = dn.jvp(norm, (zero,), (RNG.standard_normal((3, 4)),), batched=True)
            np.testing.assert_array_equal(batched, np.zeros(3))
            np.testing.assert_array_equal(dn.grad(norm)(zero), np.zeros(4))


@pytest.mark.parametrize("ord", MATRIX_ORDS)
def test_norm_of_a_zero_matrix_has_the_zero_subgradient(ord: Any) -> None:
    zero = np.zeros((2, 3, 3))
    direction = RNG.standard_normal((2, 3, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for norm in (lambda x: np.linalg.norm(x, ord, axis=(1, 2)),
                     lambda x: np.linalg.matrix_norm(x, ord="fro" if ord is None else ord)):
            value, tangent = dn.jvp(norm, (zero,), (direction,))
            np.testing.assert_array_equal(value, np.zeros(2))
            np.testing.assert_array_equal(tangent, np.zeros(2))


def test_norm_whole_array_at_zero_and_with_zero_components() -> None:
    zero = np.zeros((2, 3))
    assert dn.jvp(np.linalg.norm, (zero,), (np.ones((2, 3)),))[1] == 0.0
    x, dx = np.array([0.0, 3.0, 4.0]), np.array([7.0, 1.0, 2.0])
    # the 2-norm is smooth here; p-norms with p > 1 too (d|x_i|^p = 0 at x_i = 0)
    for ord in (None, 3, 1.5):
        _, tangent = dn.jvp(lambda x: np.linalg.norm(x, ord), (x,), (dx,))
        np.testing.assert_allclose(tangent, fd(lambda x: np.linalg.norm(x, ord), x, dx), rtol=1e-8)
    _, tangent = dn.jvp(np.linalg.norm, (x,), (dx,))
    assert tangent == pytest.approx((3 * 1 + 4 * 2) / 5)
    # the 1-norm at a zero component: abs'(0) = 0
    _, tangent = dn.jvp(lambda x: np.linalg.norm(x, 1), (x,), (dx,))
    assert tangent == pytest.approx(3.0)


def test_second_derivative_of_the_norm_away_from_zero() -> None:
    x = np.array([1.0, -2.0, 2.0])
    hessian = dn.hessian(np.linalg.norm)(x)
    n = np.linalg.norm(x)
    np.testing.assert_allclose(hessian, (np.eye(3) - np.outer(x, x) / n**2) / n, rtol=1e-12)


# ---------------------------------------------------------------- repeated eigenvalues


def test_eigvalsh_at_a_repeated_eigenvalue_shares_the_cluster_mean() -> None:
    a, q = rotated([1.0, 1.0, 2.0])
    da = symmetric_direction(3)
    values, tangent = dn.jvp(np.linalg.eigvalsh, (a,), (da,))
    np.testing.assert_array_equal(values, np.linalg.eigvalsh(a))
    block = q[:, :2].T @ da @ q[:, :2]
    np.testing.assert_allclose(tangent[:2], [np.trace(block) / 2] * 2, rtol=1e-10)
    np.testing.assert_allclose(tangent[2], q[:, 2] @ da @ q[:, 2], rtol=1e-10)
    assert np.isfinite(tangent).all()


def test_eigvalsh_ties_are_exact_for_spectral_functions() -> None:
    """tr f(A) = Σ f(λ_i) is smooth at ties; its derivative tr(f'(A) dA) comes out exact."""
    a, _ = rotated([0.5, 0.5, 0.5, 2.0], seed=3)
    da = symmetric_direction(4, seed=4)

    def spectral(m: Any) -> Any:
        return np.sum(np.exp(np.linalg.eigvalsh(m)))

    _, tangent = dn.jvp(spectral, (a,), (da,))
    w, v = np.linalg.eigh(a)
    np.testing.assert_allclose(tangent, np.trace(v @ np.diag(np.exp(w)) @ v.T @ da), rtol=1e-10)
    np.testing.assert_allclose(tangent, fd(spectral, a, da), rtol=1e-7)
    # the identity: each eigenvalue gets tr(dA)/n
    _, tangent = dn.jvp(np.linalg.eigvalsh, (np.eye(3),), (symmetric_direction(3),))
    np.testing.assert_allclose(tangent, np.full(3, np.trace(symmetric_direction(3)) / 3), rtol=1e-12)


def test_eigh_refuses_eigenvectors_at_a_repeated_eigenvalue() -> None:
    a, _ = rotated([1.0, 1.0, 2.0])
    with pytest.raises(ValueError, match=r"repeated.*eigvalsh"):
        dn.jvp(np.linalg.eigh, (a,), (symmetric_direction(3),))
    with pytest.raises(ValueError, match="eigvalsh"):
        dn.jacfwd(lambda m: np.linalg.eigh(m)[1])(np.eye(2))


def test_svd_at_repeated_and_zero_singular_values() -> None:
    a, _ = rotated([3.0, 3.0, 1.0], seed=5)
    da = RNG.standard_normal((3, 3))
    with pytest.raises(ValueError, match=r"repeated.*svdvals"):
        dn.jvp(np.linalg.svd, (a,), (da,))
    s, ds = dn.jvp(np.linalg.svdvals, (a,), (da,))
    assert np.isfinite(ds).all() and ds[0] == pytest.approx(ds[1])
    # the sum of the singular values (the nuclear norm) is smooth there: exact
    np.testing.assert_allclose(ds.sum(), fd(lambda m: np.linalg.svdvals(m).sum(), a, da), rtol=1e-7)
    # a zero singular value: U and V flip with the sign of the perturbation
    rank_one = np.outer([1.0, 2.0, 2.0], [2.0, -1.0, 0.5])
    with pytest.raises(ValueError, match=r"zero.*svdvals"):
        dn.jvp(lambda m: np.linalg.svd(m, full_matrices=False), (rank_one,), (da,))
    s, ds = dn.jvp(lambda m: np.linalg.svd(m, compute_uv=False), (rank_one,), (da,))
    assert s[1] < 1e-12 and ds[1] == 0.0 and ds[2] == 0.0  # the kink of |x| at 0: zero subgradient


def test_eig_at_repeated_and_defective_eigenvalues() -> None:
    s = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 1.0]])
    a = s @ np.diag([1.0, 1.0, 2.0]) @ np.linalg.inv(s)  # diagonalisable, repeated eigenvalue
    da = RNG.standard_normal((3, 3))
    with pytest.raises(ValueError, match=r"repeated.*eigvals"):
        dn.jvp(np.linalg.eig, (a,), (da,))
    w, dw = dn.jvp(np.linalg.eigvals, (a,), (da,))
    np.testing.assert_array_equal(w, np.linalg.eigvals(a))
    np.testing.assert_allclose(np.sum(dw), np.trace(da), rtol=1e-10)  # the trace is smooth
    tied = np.isclose(w, 1.0)
    assert np.ptp(dw[tied]) < 1e-12
    jordan = np.array([[1.0, 1.0], [0.0, 1.0]])
    for f in (np.linalg.eig, np.linalg.eigvals):
        with pytest.raises(ValueError, match="not diagonalisable"):
            dn.jvp(f, (jordan,), (np.ones((2, 2)),))


# ---------------------------------------------------------------- singular matrices


def test_singular_solve_and_inv_raise_numpys_linalgerror() -> None:
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    b = np.array([1.0, 1.0])
    with pytest.raises(LinAlgError, match="Singular matrix"):
        dn.jvp(np.linalg.inv, (singular,), (np.eye(2),))
    with pytest.raises(LinAlgError, match="Singular matrix"):
        dn.jvp(lambda a: np.linalg.solve(a, b), (singular,), (np.eye(2),))
    with pytest.raises(LinAlgError, match="Singular matrix"):
        dn.jvp(lambda b: np.linalg.solve(singular, b), (b,), (b,))
    stack = np.stack([np.eye(2), singular])
    with pytest.raises(LinAlgError):
        dn.jvp(np.linalg.inv, (stack,), (RNG.standard_normal((3, 2, 2, 2)),), batched=True)


def test_determinants_at_singular_matrices() -> None:
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    # det is smooth everywhere: its gradient is the adjugate's transpose
    np.testing.assert_allclose(dn.grad(np.linalg.det)(singular), [[4.0, -2.0], [-2.0, 1.0]], atol=1e-12)
    rank_one = np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 2.0])
    np.testing.assert_allclose(dn.grad(np.linalg.det)(rank_one), np.zeros((3, 3)), atol=1e-12)
    with pytest.raises(LinAlgError, match=r"singular.*np.linalg.det"):
        dn.jvp(np.linalg.slogdet, (singular,), (np.eye(2),))
    with pytest.raises(LinAlgError, match="singular"):
        dn.jvp(np.linalg.cond, (singular,), (np.eye(2),))


# ---------------------------------------------------------------- slogdet and logdet


def test_slogdet_sign_is_plain_and_logabsdet_differentiable() -> None:
    a = RNG.standard_normal((2, 3, 3))
    out = np.linalg.slogdet(Dual(a, RNG.standard_normal((4, 2, 3, 3))))
    assert type(out) is type(np.linalg.slogdet(a))
    assert not isinstance(out.sign, Dual)
    np.testing.assert_array_equal(out.sign, np.linalg.slogdet(a).sign)
    assert isinstance(out.logabsdet, Dual) and out.logabsdet.tangent.shape == (4, 2)
    (sign, _), (t_sign, _) = dn.jvp(np.linalg.slogdet, (a[0],), (a[1],))
    assert t_sign == 0.0 and not isinstance(sign, Dual)


def test_complex_slogdet_sign_moves_on_the_unit_circle() -> None:
    a = RNG.standard_normal((3, 3)) + 1j * RNG.standard_normal((3, 3))
    da = RNG.standard_normal((3, 3)) + 1j * RNG.standard_normal((3, 3))
    (sign, _), (t_sign, t_log) = dn.jvp(np.linalg.slogdet, (a,), (da,))
    np.testing.assert_allclose(t_sign, fd(lambda m: np.linalg.slogdet(m).sign, a, da), rtol=1e-7)
    np.testing.assert_allclose(t_log, fd(lambda m: np.linalg.slogdet(m).logabsdet, a, da), rtol=1e-7)
    assert abs(np.real(np.conj(sign) * t_sign)) < 1e-12  # tangent to the circle


def test_gradient_of_logdet_is_the_inverse_transpose() -> None:
    a = RNG.standard_normal((4, 4)) + 4 * np.eye(4)
    gradient = dn.grad(lambda m: np.linalg.slogdet(m).logabsdet)(a)
    np.testing.assert_allclose(gradient, np.linalg.inv(a).T, rtol=1e-12, atol=1e-14)
    gradient = dn.grad(np.linalg.det)(a)
    np.testing.assert_allclose(gradient, np.linalg.det(a) * np.linalg.inv(a).T, rtol=1e-12)
    # one direction (the solve path) and k directions (one inverse) agree
    directions = RNG.standard_normal((3, 4, 4))
    _, batched = dn.jvp(lambda m: np.linalg.slogdet(m)[1], (a,), (directions,), batched=True)
    singles = [dn.jvp(lambda m: np.linalg.slogdet(m)[1], (a,), (d,))[1] for d in directions]
    np.testing.assert_allclose(batched, singles, rtol=1e-12)


# ---------------------------------------------------------------- nesting through solve


def test_hessian_vector_product_through_solve_by_nesting() -> None:
    n = 4
    base = RNG.standard_normal((n, n)) + 4 * np.eye(n)
    b = RNG.standard_normal(n)
    x0, v = RNG.standard_normal(n), RNG.standard_normal(n)

    def f(x: Any) -> Any:  # x enters the matrix and the right-hand side
        a = base + x[:, None] * x[None, :] * 0.1
        y = np.linalg.solve(a, b * np.sin(x))
        return np.sum(y * y) + np.linalg.slogdet(a)[1]

    gradient = dn.grad(f)

    def hvp(x: Any) -> Any:
        return dn.jvp(gradient, (x,), (v,))[1]

    np.testing.assert_allclose(gradient(x0), [fd(f, x0, e) for e in np.eye(n)], rtol=1e-7)
    np.testing.assert_allclose(hvp(x0), fd(gradient, x0, v), rtol=1e-6)
    np.testing.assert_allclose(dn.hessian(f)(x0) @ v, hvp(x0), rtol=1e-10)


def test_solve_with_k_equal_to_the_stack_size() -> None:
    """k = 2 directions against a stack of 2 matrices and a vector b (alignment)."""
    a = RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3)
    b = RNG.standard_normal(3)
    ta, tb = RNG.standard_normal((2, 2, 3, 3)), RNG.standard_normal((2, 3))
    _, batched = dn.jvp(np.linalg.solve, (a, b), (ta, tb), batched=True)
    for i in range(2):
        _, single = dn.jvp(np.linalg.solve, (a, b), (ta[i], tb[i]))
        np.testing.assert_allclose(batched[i], single, rtol=1e-12)
        np.testing.assert_allclose(single, fd(lambda s: np.linalg.solve(a + s * ta[i], b + s * tb[i]),
                                              0.0, 1.0), rtol=1e-7)


# ---------------------------------------------------------------- gauges and ranks


def test_complex_hermitian_eigenvectors_in_phase_invariant_form() -> None:
    """The phase of complex eigenvectors is a gauge; V f(Λ) Vᴴ and |V| are not."""
    m = RNG.standard_normal((3, 3)) + 1j * RNG.standard_normal((3, 3))
    a = m @ m.conj().T + np.eye(3)
    d = RNG.standard_normal((3, 3)) + 1j * RNG.standard_normal((3, 3))
    da = d + d.conj().T

    def projector(x: Any) -> Any:
        w, v = np.linalg.eigh(x)
        return (v * np.sqrt(w)) @ np.conjugate(np.swapaxes(v, -1, -2))

    def moduli(x: Any) -> Any:
        return np.abs(np.linalg.eigh(x)[1])

    for f in (projector, moduli):
        np.testing.assert_allclose(dn.jvp(f, (a,), (da,))[1], fd(f, a, da), rtol=1e-6, atol=1e-9)


def test_pinv_and_lstsq_at_constant_rank() -> None:
    u, w = RNG.standard_normal((4, 1)), RNG.standard_normal((1, 3))
    du, dw = RNG.standard_normal((4, 1)), RNG.standard_normal((1, 3))
    rank_one, direction = u @ w, du @ w + u @ dw  # stays rank one to first order

    def along(s: float) -> Any:
        return np.linalg.pinv((u + s * du) @ (w + s * dw))

    np.testing.assert_allclose(dn.jvp(np.linalg.pinv, (rank_one,), (direction,))[1], fd(along, 0.0, 1.0),
                               rtol=1e-6, atol=1e-10)
    b = RNG.standard_normal(4)
    (_, residuals, rank, _), (dx, d_res, _, ds) = dn.jvp(
        lambda a, b: np.linalg.lstsq(a, b), (rank_one, b), (direction, b))
    assert rank == 1 and residuals.shape == (0,) and d_res.shape == (0,)
    np.testing.assert_allclose(dx, fd(lambda s: np.linalg.lstsq((u + s * du) @ (w + s * dw), b + s * b)[0],
                                      0.0, 1.0), rtol=1e-6, atol=1e-10)
    assert ds[1] == 0.0 and ds[2] == 0.0
    full = RNG.standard_normal((5, 3))
    out = np.linalg.lstsq(Dual(full, np.ones((5, 3))), [*b[:4].tolist(), 1.0])
    assert not isinstance(out[2], Dual) and isinstance(out[1], Dual)


def test_refusals_name_the_fix() -> None:
    tall = RNG.standard_normal((4, 3))
    with pytest.raises(TypeError, match="full_matrices=False"):
        dn.jvp(np.linalg.svd, (tall,), (tall,))
    with pytest.raises(TypeError, match="mode='reduced'"):
        dn.jvp(lambda a: np.linalg.qr(a, mode="raw"), (tall,), (tall,))
    with pytest.raises(TypeError, match="mode='reduced'"):
        dn.jvp(lambda a: np.linalg.qr(a, mode="complete"), (tall,), (tall,))
    with pytest.raises(LinAlgError, match="full column rank"):
        dn.jvp(np.linalg.qr, (np.outer([1.0, 2, 3, 4], [1.0, 1, 1]),), (tall,))
    with pytest.raises(TypeError, match="cannot be a Dual"):
        np.linalg.pinv(Dual(np.eye(2), np.eye(2)), rcond=Dual(1e-15, 1.0))
    assert not isinstance(np.linalg.matrix_rank(Dual(tall, tall)), Dual)

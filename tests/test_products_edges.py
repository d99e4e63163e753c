"""Edge cases of the product, polynomial, signal and FFT rules (rules/products.py, rules/fft.py).

The generated tests (test_function_rules.py) sample every rule away from kinks;
these check the cases chosen on purpose: traces and diagonals in einsum,
broadcasting ellipses, k equal to a data dimension, complex conjugation in vdot
and correlate, convolution modes, breakpoints of interp, refusals.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import dualnumpy as dn
from dualnumpy import Dual
from dualnumpy.rules.functions import FUNCTION_RULES
from dualnumpy.rules.products import PRODUCT_RULES

RNG = np.random.default_rng(2024)


def rand(*shape: int) -> np.ndarray[Any, Any]:
    return RNG.standard_normal(shape)


def crand(*shape: int) -> np.ndarray[Any, Any]:
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


def fd(f: Any, xs: tuple[Any, ...], ts: tuple[Any, ...], h: float = 1e-5) -> Any:
    plus = f(*(x + h * t for x, t in zip(xs, ts, strict=True)))
    minus = f(*(x - h * t for x, t in zip(xs, ts, strict=True)))
    return (np.asarray(plus) - np.asarray(minus)) / (2 * h)


def batched_jvp(f: Any, xs: tuple[Any, ...], ts: tuple[Any, ...]) -> Any:
    return dn.jvp(f, xs, ts, batched=True)[1]


def assert_batched_matches_singles(f: Any, xs: tuple[Any, ...], k: int) -> Any:
    """k directions at once equal k single JVPs, and each single JVP equals finite differences."""
    ts = tuple(rand(k, *np.shape(x)) if not np.iscomplexobj(x) else crand(k, *np.shape(x)) for x in xs)
    together = batched_jvp(f, xs, ts)
    for i in range(k):
        single = dn.jvp(f, xs, tuple(t[i] for t in ts))[1]
        np.testing.assert_allclose(together[i], single, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(single, fd(f, xs, tuple(t[i] for t in ts)), rtol=1e-6, atol=1e-8)
    return together


# ---------------------------------------------------------------- einsum


def test_einsum_trace_and_diagonal_with_k_equal_to_the_dimension() -> None:
    a = rand(3, 3)
    t = rand(3, 3, 3)  # k == 3 == n: a wrongly placed batch axis would still broadcast
    for spec, expected in (("ii->", np.trace(t, axis1=1, axis2=2)),
                           ("ii", np.trace(t, axis1=1, axis2=2)),
                           ("ii->i", np.diagonal(t, axis1=1, axis2=2))):
        got = batched_jvp(lambda x, s=spec: np.einsum(s, x), (a,), (t,))
        np.testing.assert_allclose(got, expected, rtol=1e-14)


def test_einsum_repeated_labels_across_and_within_operands() -> None:
    a, b = rand(3, 3, 4), rand(4)
    assert_batched_matches_singles(lambda x, y: np.einsum("iij,j->i", x, y), (a, b), k=3)
    assert_batched_matches_singles(lambda x, y: np.einsum("iij,j", x, y), (a, b), k=4)


def test_einsum_same_dual_twice_is_the_product_rule() -> None:
    x = rand(4)
    t = rand(4)
    _, got = dn.jvp(lambda v: np.einsum("i,i", v, v), (x,), (t,))
    np.testing.assert_allclose(got, 2 * x @ t)


def test_einsum_broadcasting_ellipsis() -> None:
    a, b = rand(2, 3, 4), rand(4, 5)
    out = assert_batched_matches_singles(lambda x, y: np.einsum("...ij,...jk->...ik", x, y), (a, b), k=2)
    assert out.shape == (2, 2, 3, 5)
    c = rand(1, 4, 5)
    assert_batched_matches_singles(lambda x, y: np.einsum("...ij,...jk->...ik", x, y), (a, c), k=2)
    # implicit output with an ellipsis: broadcast dimensions first
    assert_batched_matches_singles(lambda x, y: np.einsum("...ij,jk", x, y), (a, b), k=3)
    # an ellipsis in the middle
    assert_batched_matches_singles(lambda x: np.einsum("i...j->j...i", x), (rand(2, 3, 4),), k=4)


def test_einsum_implicit_output_orders_upper_before_lower_case() -> None:
    a, b = rand(2, 3), rand(4, 2)
    out = assert_batched_matches_singles(lambda x, y: np.einsum("ba,Ab", x, y), (a, b), k=2)
    assert out.shape == (2, 4, 3)


def test_einsum_interleaved_operands_and_optimize() -> None:
    a, b, c = rand(2, 3), rand(3, 4), rand(4, 2)
    assert_batched_matches_singles(lambda x, y: np.einsum(x, [0, 1], y, [1, 27], [27, 0]), (a, b), k=3)
    assert_batched_matches_singles(lambda x, z: np.einsum(x, [Ellipsis, 1], b, [1, 2], z, [2, 0]), (a, c), k=2)
    for optimize in (True, "greedy", "optimal"):
        assert_batched_matches_singles(
            lambda x, y, z, o=optimize: np.einsum("ij,jk,ki->", x, y, z, optimize=o), (a, b, c), k=2)


def test_einsum_with_python_scalar_and_0d_operands() -> None:
    x = rand(3)
    assert_batched_matches_singles(lambda v, s: np.einsum("i,->i", v, s), (x, np.float64(1.5)), k=3)


def test_einsum_path_is_plain() -> None:
    a = Dual(rand(2, 3), rand(2, 3))
    path = np.einsum_path("ij,jk", a, rand(3, 4))
    assert path[0][0] == "einsum_path" and isinstance(path[1], str)


def test_einsum_refuses_out() -> None:
    a = Dual(rand(2, 3), rand(2, 3))
    with pytest.raises(TypeError, match="out="):
        np.einsum("ij->ji", a, out=np.empty((3, 2)))


# ---------------------------------------------------------------- dot and friends


def test_dot_is_registered_once_in_the_products_table() -> None:
    assert np.dot in PRODUCT_RULES and FUNCTION_RULES[np.dot] is PRODUCT_RULES[np.dot]


@pytest.mark.parametrize("shapes", [((2, 3, 4), (5, 4, 2)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)),
                                    ((3,), (3,)), ((), (2, 3)), ((2, 3), ()), ((2, 2), (2, 2))])
def test_dot_has_nd_semantics_with_k_equal_to_a_dimension(shapes: Any) -> None:
    a, b = (rand(*s) for s in shapes)
    out = assert_batched_matches_singles(np.dot, (a, b), k=2)
    assert out.shape == (2, *np.shape(np.dot(a, b)))


def test_dot_method_and_complex() -> None:
    a, b = crand(3, 4), crand(4)
    assert_batched_matches_singles(lambda x, y: x.dot(y) if isinstance(x, Dual) else np.dot(x, y), (a, b), k=3)


def test_complex_vdot_conjugates_its_first_argument() -> None:
    a, b = crand(2, 3), crand(3, 2)
    ta, tb = crand(2, 3), crand(3, 2)
    value, got = dn.jvp(np.vdot, (a, b), (ta, tb))
    assert value == np.vdot(a, b)
    np.testing.assert_allclose(got, np.sum(np.conj(ta).ravel() * b.ravel()) + np.sum(np.conj(a).ravel() * tb.ravel()))
    np.testing.assert_allclose(got, fd(np.vdot, (a, b), (ta, tb)), rtol=1e-8)
    # not holomorphic in a: an imaginary direction turns the sign of its term
    _, real_dir = dn.jvp(lambda x: np.vdot(x, b), (a,), (ta.real,))
    _, imag_dir = dn.jvp(lambda x: np.vdot(x, b), (a,), (1j * ta.real,))
    np.testing.assert_allclose(imag_dir, -1j * real_dir)


def test_inner_outer_kron_cross_tensordot_batched() -> None:
    assert_batched_matches_singles(np.inner, (rand(2, 3, 4), rand(5, 4)), k=2)
    assert_batched_matches_singles(np.outer, (rand(2, 2), rand(3)), k=2)  # outer flattens
    assert_batched_matches_singles(np.kron, (rand(2, 3), rand(2, 2, 2)), k=2)
    assert_batched_matches_singles(np.kron, (rand(2, 2, 2), rand(3)), k=2)
    assert_batched_matches_singles(lambda x, y: np.cross(x, y, axisa=0, axisb=-1, axisc=1),
                                   (rand(3, 2), rand(2, 2, 3)), k=2)
    assert_batched_matches_singles(lambda x, y: np.cross(x, y, axis=0), (rand(3, 4), rand(3, 4)), k=3)
    for axes in (0, 1, ([0, 2], [2, 0]), (1, 1), [[2], [0]], ([-1, 0], [0, -1])):
        assert_batched_matches_singles(lambda x, y, ax=axes: np.tensordot(x, y, ax), (rand(2, 3, 2), rand(2, 3, 2)), k=2)
    assert_batched_matches_singles(lambda x, y: np.tensordot(x, y), (rand(2, 3, 4), rand(3, 4, 3)), k=3)


# ---------------------------------------------------------------- convolution


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("lengths", [(6, 3), (3, 6), (4, 4), (1, 5)])
def test_convolve_modes(mode: str, lengths: tuple[int, int]) -> None:
    a, v = rand(lengths[0]), rand(lengths[1])
    out = assert_batched_matches_singles(lambda x, y: np.convolve(x, y, mode=mode), (a, v), k=lengths[0])
    assert out.shape[1:] == np.convolve(a, v, mode=mode).shape


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_correlate_conjugates_its_second_argument(mode: str) -> None:
    a, v = crand(5), crand(3)
    ta, tv = crand(5), crand(3)
    _, got = dn.jvp(lambda x, y: np.correlate(x, y, mode), (a, v), (ta, tv))
    expected = np.correlate(ta, v, mode) + np.correlate(a, tv, mode)
    np.testing.assert_allclose(got, expected)
    np.testing.assert_allclose(got, fd(lambda x, y: np.correlate(x, y, mode), (a, v), (ta, tv)), rtol=1e-7)


# ---------------------------------------------------------------- polynomials


def test_polydiv_refuses_a_numerically_trimmed_remainder() -> None:
    v = np.array([1.5, -0.7, 0.3])
    u = np.polymul(v, [1.0, 0.0]) + np.array([0.0, 0.0, 0.0, 2.0])  # remainder [0, 0, 2] -> [2.]
    with pytest.raises(ValueError, match="polydiv"):
        dn.jvp(lambda d: np.polydiv(u, d), (v,), (np.ones(3),))


def test_polydiv_exact_division_keeps_the_full_remainder() -> None:
    u, v = np.polymul([1.0, 2.0], [1.0, -3.0, 0.5]), np.array([1.0, 2.0])
    tu, tv = rand(4), rand(2)
    (_, r), (tq, tr) = dn.jvp(np.polydiv, (u, v), (tu, tv))
    assert r.shape == tr.shape == (1,)
    np.testing.assert_allclose(tq, fd(lambda a, b: np.polydiv(a, b)[0], (u, v), (tu, tv)), rtol=1e-7)
    np.testing.assert_allclose(tr, fd(lambda a, b: np.polydiv(a, b)[1], (u, v), (tu, tv)), rtol=1e-6)


def test_polymul_refuses_a_dual_with_a_leading_zero() -> None:
    with pytest.raises(ValueError, match="leading zero"):
        np.polymul(Dual(np.array([0.0, 1.0, 2.0]), np.ones(3)), np.array([1.0, 1.0]))
    # a constant with a leading zero is trimmed as NumPy does
    out = np.polymul(np.array([0.0, 1.0, 2.0]), Dual(np.array([1.0, 1.0]), np.ones(2)))
    np.testing.assert_array_equal(out.value, [1.0, 3.0, 2.0])
    np.testing.assert_array_equal(out.tangent, [1.0, 3.0, 2.0])


def test_roots_move_by_minus_pdot_over_pprime() -> None:
    p = np.poly([0.5, -1.2, 2.0])
    t = rand(4)
    z, tz = dn.jvp(np.roots, (p,), (t,))
    np.testing.assert_allclose(tz, -np.polyval(t, z) / np.polyval(np.polyder(p), z))
    # leading and trailing zeros: the tangents of the nonzero coefficients still move the roots
    padded = np.concatenate(([0.0], p, [0.0]))
    tp = np.concatenate(([0.0], t, [0.0]))
    z2, tz2 = dn.jvp(np.roots, (padded,), (tp,))
    assert z2.shape == tz2.shape == (4,)
    np.testing.assert_allclose(np.sort(tz2[:3]), np.sort(tz), rtol=1e-10)
    assert tz2[3] == 0.0


def test_roots_of_a_list_of_dual_coefficients() -> None:
    p, t = np.array([1.0, -0.5, -2.0]), rand(3)
    _, expected = dn.jvp(np.roots, (p,), (t,))
    _, got = dn.jvp(lambda c: np.roots([c[0], 2.0 * c[1] / 2.0, c[2]]), (p,), (t,))
    np.testing.assert_allclose(got, expected)


def test_poly_of_a_list_of_dual_roots_and_of_a_matrix() -> None:
    r = rand(3)
    t = rand(3)
    _, got = dn.jvp(lambda x: np.poly([x[0], x[1], x[2]]), (r,), (t,))
    np.testing.assert_allclose(got, fd(np.poly, (r,), (t,)), rtol=1e-7)
    m, tm = rand(3, 3), rand(3, 3)
    _, got = dn.jvp(np.poly, (m,), (tm,))
    np.testing.assert_allclose(got, fd(np.poly, (m,), (tm,)), rtol=1e-6, atol=1e-9)


def test_polyfit_refusals() -> None:
    x, y = np.linspace(0, 1, 6), rand(6)
    with pytest.raises(TypeError, match="'w' cannot be a Dual"):
        np.polyfit(x, y, 2, w=Dual(np.ones(6), np.ones(6)))
    with pytest.raises(ValueError, match="rank-deficient"):
        np.polyfit(Dual(np.ones(6), rand(6)), y, 2)
    with pytest.raises(TypeError, match="full=True"):
        np.polyfit(Dual(x, rand(6)), y, 2, full=True)


def test_polyfit_in_x_matches_the_normal_equations() -> None:
    x, y, w = np.linspace(-1, 1, 9), rand(9), np.linspace(0.5, 2, 9)
    tx, ty = rand(9), rand(9)

    def normal(xv: Any, yv: Any) -> Any:
        a = np.vander(xv, 3) * w[:, None]
        return np.linalg.solve(a.T @ a, a.T @ (w * yv))

    _, got = dn.jvp(lambda a, b: np.polyfit(a, b, 2, w=w), (x, y), (tx, ty))
    np.testing.assert_allclose(got, fd(normal, (x, y), (tx, ty)), rtol=1e-7)


def test_polyint_with_dual_constants_alone_is_refused_clearly() -> None:
    # NumPy dispatches polyint on p only: a Dual k with a constant p never reaches the rule
    with pytest.raises(TypeError, match="Dual"):
        np.polyint(np.array([1.0, 2.0]), 1, Dual(np.array([0.5]), np.ones(1)))


# ---------------------------------------------------------------- interp, sinc, i0, unwrap


def test_interp_at_breakpoints_takes_the_derivative_from_the_right() -> None:
    xp, fp = np.array([0.0, 1.0, 3.0]), np.array([0.0, 2.0, 3.0])
    x = np.array([0.0, 1.0, 3.0, -1.0, 4.0, 2.0])
    _, t = dn.jvp(lambda v: np.interp(v, xp, fp), (x,), (np.ones(6),))
    # slopes: [0, 1) -> 2, [1, 3) -> 0.5, at/after xp[-1] and before xp[0] constant
    np.testing.assert_array_equal(t, [2.0, 0.5, 0.0, 0.0, 0.0, 0.5])
    # moving every breakpoint with x together leaves the value unchanged: tangents cancel
    _, t_all = dn.jvp(lambda v, q: np.interp(v, q, fp), (x[:3], xp), (np.ones(3), np.ones(3)))
    np.testing.assert_allclose(t_all, 0.0, atol=1e-15)
    # fp tangent at a breakpoint is the tangent of that coefficient
    _, t_fp = dn.jvp(lambda f: np.interp(x, xp, f), (fp,), (np.array([1.0, 10.0, 100.0]),))
    np.testing.assert_allclose(t_fp, [1.0, 10.0, 100.0, 1.0, 100.0, 55.0])


def test_interp_left_right_and_period() -> None:
    xp, fp = np.array([0.0, 1.0, 3.0]), np.array([0.0, 2.0, 3.0])
    x = np.array([-1.0, 0.5, 4.0])
    # NumPy dispatches interp on x, xp and fp only: Dual left/right need one of those to be a Dual
    _, t = dn.jvp(lambda lo, hi, f: np.interp(x, xp, f, lo, hi), (-5.0, 7.0, fp), (1.0, 10.0, 0 * fp))
    np.testing.assert_array_equal(t, [1.0, 0.0, 10.0])
    x2 = np.array([-0.7, 0.3, 5.2, 7.9])
    assert_batched_matches_singles(lambda v, q, f: np.interp(v, q, f, period=4.0),
                                   (x2, np.array([0.5, 1.7, 3.1]), np.array([1.0, -1.0, 2.0])), k=3)


def test_sinc_at_zero_has_every_derivative() -> None:
    d1 = dn.derivative(np.sinc)
    d2 = dn.derivative(d1)
    assert d1(0.0) == 0.0
    np.testing.assert_allclose(d2(0.0), -np.pi ** 2 / 3, rtol=1e-12)
    np.testing.assert_allclose(d2(0.2), fd(d1, (0.2,), (1.0,)), rtol=1e-6)


def test_i0_at_zero_and_its_pieces() -> None:
    d1 = dn.derivative(np.i0)
    d2 = dn.derivative(d1)
    assert d1(0.0) == 0.0
    np.testing.assert_allclose(d2(0.0), 0.5, rtol=1e-12)
    x = np.array([0.999, 1.001, 7.999, 8.001, 30.0])
    np.testing.assert_allclose(dn.jvp(np.i0, (x,), (np.ones(5),))[1], fd(np.i0, (x,), (np.ones(5),), 1e-6), rtol=1e-7)


def test_unwrap_tangent_passes_through_the_jumps() -> None:
    p = np.array([0.0, 3.0, -3.0, 0.5, 3.1])
    t = rand(5)
    value, got = dn.jvp(np.unwrap, (p,), (t,))
    np.testing.assert_array_equal(value, np.unwrap(p))
    np.testing.assert_array_equal(got, t)
    # a Dual period adds the number of periods added at each point
    # (NumPy dispatches unwrap on p only, so p is a Dual here too, with a zero tangent)
    _, tp = dn.jvp(lambda q, per: np.unwrap(q, period=per), (p, 5.0), (0 * p, 1.0))
    np.testing.assert_allclose(tp, np.round((np.unwrap(p, period=5.0) - p) / 5.0))
    np.testing.assert_allclose(tp, fd(lambda per: np.unwrap(p, period=per), (5.0,), (1.0,)), atol=1e-8)
    assert np.any(tp != 0)


# ---------------------------------------------------------------- differences, gradient, covariance


def test_gradient_refuses_dual_spacing_and_returns_tuples() -> None:
    f = Dual(rand(4, 5), rand(4, 5))
    with pytest.raises(TypeError, match="spacing"):
        np.gradient(f, Dual(0.5, 1.0))
    out = np.gradient(f, 0.5, 2.0)
    assert isinstance(out, tuple) and len(out) == 2
    for got, want, t in zip(out, np.gradient(f.value, 0.5, 2.0), np.gradient(f.tangent, 0.5, 2.0), strict=True):
        np.testing.assert_array_equal(got.value, want)
        np.testing.assert_allclose(got.tangent, t)


def test_diff_with_dual_prepend_and_trapezoid_with_dual_x() -> None:
    assert_batched_matches_singles(lambda a, b: np.diff(a, 2, axis=0, prepend=b), (rand(4, 3), rand(1, 3)), k=4)
    assert_batched_matches_singles(lambda y, x: np.trapezoid(y, x, axis=0), (rand(5, 3), np.linspace(0, 1, 5)), k=3)


def test_cov_with_dual_aweights_and_corrcoef_of_one_variable() -> None:
    m, aw = rand(2, 6), np.linspace(0.5, 2.0, 6)
    assert_batched_matches_singles(lambda a, w: np.cov(a, aweights=w), (m, aw), k=2)
    value, tangent = dn.jvp(np.corrcoef, (rand(5),), (rand(5),))
    assert value == 1.0 and tangent == 0.0


# ---------------------------------------------------------------- FFT


def test_fft_batched_with_k_equal_to_a_dimension_and_s_without_axes() -> None:
    a = rand(3, 4, 5)
    assert_batched_matches_singles(lambda x: np.fft.fftn(x, s=(4, 6), axes=(-2, -1)), (a,), k=3)
    assert_batched_matches_singles(lambda x: np.fft.rfftn(x, axes=(0, 1)), (a,), k=3)
    assert_batched_matches_singles(lambda x: np.fft.irfft(x, n=8, axis=0), (crand(3, 4),), k=3)
    assert_batched_matches_singles(np.fft.fftshift, (a,), k=4)


def test_rfft_gives_a_complex_tangent_and_irfft_a_real_one() -> None:
    x, t = rand(8), rand(8)
    out = np.fft.rfft(Dual(x, t))
    assert np.iscomplexobj(out.tangent) and out.tangent.shape == (5,)
    back = np.fft.irfft(out)
    assert back.tangent.dtype == np.float64
    np.testing.assert_allclose(back.tangent, t, atol=1e-14)
    assert np.fft.hfft(Dual(crand(5), crand(5))).tangent.dtype == np.float64


def test_polyfit_in_a_complex_x_is_the_real_linear_derivative() -> None:
    """Least squares is not holomorphic in x: the JVP along a complex direction must pair the
    conjugate terms (a plain-transpose rule gave a different, wrong number)."""
    rng = np.random.default_rng(0)
    x = np.linspace(-1, 1, 7) + 0.3j * rng.uniform(-1, 1, 7)
    y = rng.uniform(-1, 1, 7) + 0j
    v = rng.uniform(-1, 1, 7) + 1j * rng.uniform(-1, 1, 7)

    def fit(x: Any) -> Any:
        return np.polyfit(x, y, 2)

    _, slope = dn.jvp(fit, (x,), (v,))
    np.testing.assert_allclose(slope, (fit(x + 1e-6 * v) - fit(x - 1e-6 * v)) / 2e-6, rtol=1e-7, atol=1e-9)
    with pytest.raises(TypeError, match="complex Dual x"):
        dn.jvp(lambda x: np.polyfit(x, y, 2, cov=True), (x,), (v,))

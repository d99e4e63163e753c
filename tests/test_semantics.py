"""DESIGN.md section 6, semantics at kinks and edges: one test per line of the table."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

import numpy as np
import pytest

import dualnumpy as dn
from dualnumpy import Dual
from dualnumpy.core import interpreter
from dualnumpy.core.scalar import ScalarDual


def fd_directional(f: Any, z: Any, dz: Any, h: float = 1e-6) -> Any:
    return (f(z + h * dz) - f(z - h * dz)) / (2 * h)


# | comparisons `<`, `==`, ... | primal only, plain bool arrays |
@pytest.mark.parametrize(
    "op",
    [np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal],
)
def test_comparisons_are_primal_only_plain_bool(op: Any) -> None:
    a = Dual(np.array([1.0, 2.0, 3.0]), np.array([5.0, -1.0, 0.0]))
    b = Dual(np.array([2.0, 2.0, 1.0]), np.array([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]]))
    for left, right in ((a, b), (a, b.value), (a.value, b), (a, 2.0), (2.0, a)):
        out = op(left, right)
        assert type(out) is np.ndarray and out.dtype == np.bool_
        lv = left.value if isinstance(left, Dual) else left
        rv = right.value if isinstance(right, Dual) else right
        np.testing.assert_array_equal(out, op(lv, rv))
    # the operators say the same as the ufuncs; trichotomy holds elementwise
    np.testing.assert_array_equal((a < b) ^ (a == b) ^ (a > b), [True, True, True])
    np.testing.assert_array_equal((a <= b), ~(a > b))
    np.testing.assert_array_equal((a != b), ~(a == b))
    # a 0-d comparison is a NumPy bool usable in `if`
    s = Dual(1.0, 1.0)
    result = s < 2.0
    assert isinstance(result, np.bool_) and bool(result)
    assert not (s > 2.0)
    # inside transforms too, scalar and nested arguments included
    seen: list[Any] = []

    def f(x: Any, y: Any) -> Any:
        seen.append(op(x, y))
        seen.append(op(x, 1.0))
        return dn.derivative(lambda z: (seen.append(op(z, x)), z * x)[1])(y)

    dn.grad(f, argnums=(0, 1))(1.0, 2.0)
    dn.grad(lambda v: f(v[0], v[1]))(np.array([1.0, 2.0]))
    assert len(seen) == 6
    for result in seen:
        assert isinstance(result, (np.bool_, np.ndarray)) and np.asarray(result).dtype == np.bool_


# | abs'(0), fabs'(0) | 0 (d|x| = sign(x)·dx) |
@pytest.mark.parametrize("fn", [np.abs, np.fabs, abs])
def test_abs_and_fabs_derivative_at_zero_is_zero(fn: Any) -> None:
    assert dn.derivative(fn)(0.0) == 0.0
    assert dn.derivative(fn)(-0.0) == 0.0
    np.testing.assert_array_equal(dn.jacfwd(lambda v: fn(v))(np.array([-2.0, 0.0, 3.0])),
                                  np.diag([-1.0, 0.0, 1.0]))
    # the subgradient convention matches np.sign(0)
    assert dn.derivative(fn)(0.0) == np.sign(0.0)


# | maximum/minimum/fmax/fmin at ties | 0.5 / 0.5 |
@pytest.mark.parametrize("fn", [np.maximum, np.minimum, np.fmax, np.fmin])
def test_extrema_ties_split_evenly(fn: Any) -> None:
    x = np.array([1.0, 2.0, 3.0])
    y = np.array([1.0, 1.0, 4.0])
    gx, gy = dn.grad(lambda a, b: np.sum(fn(a, b) * np.array([1.0, 10.0, 100.0])), argnums=(0, 1))(x, y)
    first_wins = (x > y) if fn in (np.maximum, np.fmax) else (x < y)
    weights = np.array([1.0, 10.0, 100.0])
    np.testing.assert_array_equal(gx, weights * np.where(x == y, 0.5, first_wins))
    np.testing.assert_array_equal(gy, weights * np.where(x == y, 0.5, ~first_wins))
    # max(x, x)' = 1
    assert dn.derivative(lambda t: fn(t, t))(2.0) == 1.0
    # scalar arguments (the scalar fast path) split ties the same way
    assert dn.grad(lambda a, b: fn(a, b), argnums=(0, 1))(1.0, 1.0) == (0.5, 0.5)
    # max(x, y) + min(x, y) = x + y, derivatives included, also at ties
    other = {np.maximum: np.minimum, np.minimum: np.maximum, np.fmax: np.fmin, np.fmin: np.fmax}[fn]
    gs = dn.grad(lambda a, b: np.sum(fn(a, b) + other(a, b)), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gs[0], np.ones(3))
    np.testing.assert_array_equal(gs[1], np.ones(3))


# | `x**0.0` at x = 0; `0**y` for y > 0 | 0; 0 |
def test_power_edge_cases_have_no_nan() -> None:
    # x**0.0 at x = 0: x^0 is constant 1
    assert dn.derivative(lambda x: x**0.0)(0.0) == 0.0
    assert dn.derivative(lambda x: np.power(x, 0.0))(0.0) == 0.0
    assert dn.derivative(lambda x: x ** np.float64(0.0))(0.0) == 0.0
    assert dn.derivative(lambda x: np.power(x, np.zeros(2)))(0.0).tolist() == [0.0, 0.0]
    # exponent a Dual that happens to be 0, base 0: d/dx of x**y at (0, 0)
    gx, gy = dn.grad(lambda x, y: x**y, argnums=(0, 1))(0.0, 0.0)
    assert gx == 0.0 and not np.isnan(gy)
    # 0**y for y > 0 is identically 0, so d/dy is 0 (no 0 * log(0) = NaN)
    for y in (0.5, 1.0, 2.0, 3.5):
        assert dn.derivative(lambda e: 0.0**e)(y) == 0.0
        assert dn.derivative(lambda e: np.power(np.zeros(3), e))(y).tolist() == [0.0, 0.0, 0.0]
    # and the ordinary derivatives stay right
    np.testing.assert_allclose(dn.derivative(lambda e: 2.0**e)(1.5), 2.0**1.5 * np.log(2.0))
    assert dn.derivative(lambda x: x**2.0)(0.0) == 0.0


# | `hypot` and `arctan2` at (0, 0) | 0 | the minimum-norm subgradient; no NaN, and no
#   floating-point warning (0/0 is never computed) |
# The origin in every sign of zero, and points with one coordinate (a signed) zero.
_ORIGIN_AND_AXES = [(0.0, 0.0), (-0.0, 0.0), (0.0, -0.0), (-0.0, -0.0),
                    (0.0, 1.5), (-0.0, -2.0), (1.5, 0.0), (-2.0, -0.0), (0.0, 1e-100)]


def _plane_partials(fn: Any, a: float, b: float) -> tuple[float, float]:
    """The partials of fn(a, b) written out: 0 at the origin, the textbook quotients elsewhere."""
    if a == 0 and b == 0:
        return 0.0, 0.0
    if fn is np.hypot:
        r = np.hypot(a, b)
        return a / r, b / r
    r2 = b * b + a * a  # arctan2(y=a, x=b): (x, -y) / (x**2 + y**2), in the rule's order
    return b / r2, -a / r2


def _strict() -> contextlib.ExitStack:
    """Warnings as errors and NumPy raising on any floating-point event, for one block."""
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("error")
    stack.enter_context(np.errstate(all="raise"))
    return stack


@pytest.mark.parametrize("fn", [np.hypot, np.arctan2], ids=lambda f: f.__name__)
@pytest.mark.parametrize("path", ["general", "array fast path"])
def test_hypot_and_arctan2_at_the_origin_and_on_the_axes(fn: Any, path: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(interpreter, "fast_elementwise", path != "general")
    a = np.array([p[0] for p in _ORIGIN_AND_AXES])
    b = np.array([p[1] for p in _ORIGIN_AND_AXES])
    expected = np.array([_plane_partials(fn, x, y) for x, y in _ORIGIN_AND_AXES]).T
    rng = np.random.default_rng(3)
    ta, tb = rng.standard_normal((2, 3, a.size))
    with _strict():
        # one direction per argument, then three directions at once (batched tangents)
        for out in (fn(Dual(a, np.ones_like(a)), b), fn(a, Dual(b, np.ones_like(b)))):
            np.testing.assert_array_equal(out.value, fn(a, b), strict=True)
            assert np.all(np.signbit(out.value) == np.signbit(fn(a, b)))  # arctan2(-0.0, 0.0) = -0.0
        np.testing.assert_array_equal(fn(Dual(a, np.ones_like(a)), b).tangent, expected[0])
        np.testing.assert_array_equal(fn(a, Dual(b, np.ones_like(b))).tangent, expected[1])
        both = fn(Dual(a, ta), Dual(b, tb))
        np.testing.assert_array_equal(both.tangent, expected[0] * ta + expected[1] * tb)
        # float32 stays float32, with the same zeros at the origin (1e-100 is no float32)
        a32, b32 = a[:-1].astype(np.float32), b[:-1].astype(np.float32)
        out32 = fn(Dual(a32, np.ones_like(a32)), Dual(b32, np.ones_like(b32)))
        assert out32.tangent.dtype == np.float32
        np.testing.assert_array_equal(out32.value, fn(a32, b32), strict=True)
        np.testing.assert_allclose(out32.tangent, expected[0, :-1] + expected[1, :-1], rtol=1e-6)
        assert out32.tangent[0] == 0.0
        # jacfwd: the Jacobian of the elementwise map is diagonal, 0 at the origin
        j = dn.jacfwd(lambda u, v: fn(u, v), argnums=(0, 1))(a, b)
        np.testing.assert_array_equal(j[0], np.diag(expected[0]))
        np.testing.assert_array_equal(j[1], np.diag(expected[1]))


@pytest.mark.parametrize("fn", [np.hypot, np.arctan2], ids=lambda f: f.__name__)
def test_hypot_and_arctan2_at_the_origin_on_scalars_and_nested(fn: Any) -> None:
    with _strict():
        for x, y in _ORIGIN_AND_AXES:
            expected = _plane_partials(fn, x, y)
            # the scalar fast path: grad of a function of Python floats, two directions at once
            seen: list[type] = []
            g = dn.grad(lambda u, v: (seen.append(type(u)), fn(u, v))[1], argnums=(0, 1))(x, y)
            assert seen == [ScalarDual] and g == expected, (x, y, g)
            assert dn.derivative(lambda u: fn(u, y))(x) == expected[0]
            assert dn.derivative(lambda v: fn(x, v))(y) == expected[1]
            value, t = dn.jvp(fn, (x, y), (1.0, -1.0))
            assert value == fn(x, y) and np.signbit(value) == np.signbit(fn(x, y))
            assert t == expected[0] * 1.0 + expected[1] * -1.0
            # nested: the Hessian exists off the origin and is finite; at the origin the
            # convention gives 0 (the partial selected there is the constant 0)
            h = dn.hessian(lambda v: fn(v[0], v[1]))(np.array([x, y]))
            assert np.all(np.isfinite(h)), (x, y, h)
            h_scalar = dn.hessian(lambda u, v: fn(u, v), argnums=(0, 1))(x, y)
            np.testing.assert_array_equal(np.array(h_scalar, dtype=float), h)
            if x == 0 and y == 0:
                np.testing.assert_array_equal(h, np.zeros((2, 2)))
        # the Hessian off the origin against the textbook second derivatives
        h = dn.hessian(lambda v: fn(v[0], v[1]))(np.array([0.0, 2.0]))
        if fn is np.hypot:  # d2/dx2 = y**2 / r**3, d2/dy2 = x**2 / r**3, d2/dxdy = -xy / r**3
            np.testing.assert_allclose(h, [[0.5, 0.0], [0.0, 0.0]], rtol=1e-15)
        else:  # arctan2(y, x) at y = 0, x = 2: d2/dy2 = d2/dx2 = 0, d2/dydx = (y**2 - x**2) / r**4
            np.testing.assert_allclose(h, [[0.0, -0.25], [-0.25, 0.0]], rtol=1e-15)


# | `where(c, a, b)` | selects tangents elementwise |
def test_where_selects_tangents_elementwise() -> None:
    f = lambda x: np.where(x > 0, np.sqrt(x), 0.0)
    assert dn.derivative(f)(0.0) == 0.0
    x = np.array([0.0, 4.0, -1.0])
    with np.errstate(invalid="ignore"):  # NumPy's own sqrt(-1) in the unselected branch
        np.testing.assert_array_equal(dn.jacfwd(f)(x), np.diag([0.0, 0.25, 0.0]))
    a = Dual(np.array([1.0, 2.0]), np.array([10.0, 20.0]))
    b = Dual(np.array([3.0, 4.0]), np.array([30.0, 40.0]))
    out = np.where(np.array([True, False]), a, b)
    np.testing.assert_array_equal(out.value, [1.0, 4.0])
    np.testing.assert_array_equal(out.tangent, [10.0, 40.0])


# | zero tangent x infinite partial | 0, not NaN |
def test_zero_tangent_times_infinite_partial_is_zero() -> None:
    j = dn.jacfwd(lambda v: np.sqrt(v[0]) + v[1])(np.array([0.0, 1.0]))
    assert np.isposinf(j[0]) and j[1] == 1.0
    np.testing.assert_array_equal(j, [np.inf, 1.0])
    # the same through jvp along a direction that does not move the singular input
    _, t = dn.jvp(np.sqrt, (np.array([0.0, 4.0]),), (np.array([0.0, 1.0]),))
    np.testing.assert_array_equal(t, [0.0, 0.25])
    with np.errstate(divide="ignore"):  # NumPy's own log(0) = -inf
        y, t = dn.jvp(np.log, (np.array([0.0, 1.0]),), (np.array([0.0, 1.0]),))
    np.testing.assert_array_equal(y, [-np.inf, 0.0])
    np.testing.assert_array_equal(t, [0.0, 1.0])


# | prod with zeros | exact ([6,0,0] for prod at [0,2,3]) |
def test_prod_with_zeros_is_exact() -> None:
    np.testing.assert_array_equal(dn.grad(np.prod)(np.array([0.0, 2.0, 3.0])), [6.0, 0.0, 0.0])
    np.testing.assert_array_equal(dn.grad(np.prod)(np.array([0.0, 2.0, 0.0])), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(dn.grad(lambda v: v.prod())(np.array([2.0, 0.0, 5.0])), [0.0, 10.0, 0.0])
    j = dn.jacfwd(lambda v: np.prod(v, axis=1))(np.array([[0.0, 2.0, 3.0], [1.0, 0.0, 4.0]]))
    np.testing.assert_array_equal(j[0, 0], [6.0, 0.0, 0.0])
    np.testing.assert_array_equal(j[1, 1], [0.0, 4.0, 0.0])
    np.testing.assert_array_equal(dn.grad(lambda v: np.cumprod(v)[-1])(np.array([0.0, 2.0, 3.0])),
                                  [6.0, 0.0, 0.0])


# | logaddexp / logaddexp2 | stable (exp(x - ans)) |
def test_logaddexp_is_stable() -> None:
    assert dn.derivative(lambda x: np.logaddexp(x, 0.0))(1000.0) == 1.0
    assert dn.derivative(lambda x: np.logaddexp2(x, 0.0))(1000.0) == 1.0
    assert dn.derivative(lambda y: np.logaddexp(1000.0, y))(0.0) == 0.0
    assert np.isclose(dn.derivative(lambda x: np.logaddexp(x, x))(800.0), 1.0, rtol=1e-12)
    g = dn.grad(lambda v: np.logaddexp.reduce(v))(np.array([1000.0, 1000.0]))
    np.testing.assert_allclose(g, [0.5, 0.5], rtol=1e-12)  # exp(-log 2), rounded
    assert np.isclose(dn.derivative(lambda x: np.logaddexp(x, 0.0))(0.0), 0.5)


# | floor, ceil, trunc, rint, sign, round | zero tangent |
@pytest.mark.parametrize(
    "fn",
    [np.floor, np.ceil, np.trunc, np.rint, np.sign, np.round, np.around, round,
     lambda v: np.round(v, 2), lambda v: v.round()],
)
def test_piecewise_constant_functions_have_zero_tangent(fn: Any) -> None:
    x = np.array([-1.7, -0.5, 0.0, 0.3, 2.5])
    d = Dual(x, np.ones_like(x))
    if fn is round:  # Python's round() on a 0-d Dual
        out = round(Dual(2.6, 1.0))
        assert isinstance(out, Dual) and out.value == 3.0 and out.tangent == 0.0
        return
    out = fn(d)
    assert isinstance(out, Dual)
    np.testing.assert_array_equal(out.value, fn(x))
    np.testing.assert_array_equal(out.tangent, np.zeros_like(x))
    np.testing.assert_array_equal(dn.jacfwd(fn)(x), np.zeros((5, 5)))
    for scalar in (-1.7, 0.0, 0.3, 2.5):
        assert dn.derivative(fn)(scalar) == 0.0
    x32 = x.astype(np.float32)
    out32 = fn(Dual(x32, np.ones_like(x32)))
    assert out32.tangent.dtype == np.float32


# | integer inputs to grad/jacfwd | promoted to float64 |
def test_integer_inputs_are_promoted_to_float64() -> None:
    g = dn.grad(lambda v: np.sum(v**3))(np.array([1, 2]))
    assert g.dtype == np.float64
    np.testing.assert_array_equal(g, [3.0, 12.0])
    assert dn.grad(lambda v: v / 2)(3) == 0.5
    j = dn.jacfwd(lambda v: v // 1 + v / 4)(np.array([1, 2], dtype=np.int32))
    assert j.dtype == np.float64
    np.testing.assert_array_equal(j, np.eye(2) / 4)
    _, t = dn.jvp(lambda v: v * 2, (np.array([1, 2], dtype=np.uint8),), (np.array([1, 1]),))
    assert t.dtype == np.float64
    d = Dual(np.array([1, 2]), np.array([1, 0]))
    assert d.tangent.dtype == np.float64
    assert dn.derivative(lambda v: v**2)(3) == 6.0
    assert dn.hessian(lambda v: v**3)(2) == 12.0


# | complex values | holomorphic JVP; abs/real/imag/conj as R-linear maps |
def test_complex_holomorphic_and_r_linear_maps() -> None:
    z = np.array([1.0 + 2.0j, -0.5 + 0.25j, 0.3 - 1.1j])
    dz = np.array([0.3 - 0.7j, 1.0 + 0.0j, -0.2 + 0.4j])
    # holomorphic: the JVP is f'(z) dz
    for f, fprime in ((np.exp, np.exp), (np.sin, np.cos), (lambda v: v**3 + 2 * v, lambda v: 3 * v**2 + 2),
                      (np.log, lambda v: 1 / v), (np.sqrt, lambda v: 0.5 / np.sqrt(v))):
        y, t = dn.jvp(f, (z,), (dz,))
        np.testing.assert_array_equal(y, f(z))
        np.testing.assert_allclose(t, fprime(z) * dz, rtol=1e-13)
    # R-linear maps: the JVP equals the directional difference, and is R- but not C-linear
    for f in (np.abs, np.real, np.imag, np.conj, np.conjugate, abs, lambda v: v.real,
              lambda v: v.imag, lambda v: v.conj()):
        _, t = dn.jvp(f, (z,), (dz,))
        np.testing.assert_allclose(t, fd_directional(f, z, dz), rtol=1e-8, atol=1e-10)
        _, t2 = dn.jvp(f, (z,), (2.5 * dz,))
        np.testing.assert_allclose(t2, 2.5 * t, rtol=1e-14)
        _, ti = dn.jvp(f, (z,), (1j * dz,))
        np.testing.assert_allclose(ti, fd_directional(f, z, 1j * dz), rtol=1e-8, atol=1e-10)
    _, t = dn.jvp(np.real, (z,), (dz,))
    np.testing.assert_array_equal(t, dz.real)
    assert np.asarray(t).dtype == np.float64
    _, t = dn.jvp(np.imag, (z,), (dz,))
    np.testing.assert_array_equal(t, dz.imag)
    _, t = dn.jvp(np.conj, (z,), (dz,))
    np.testing.assert_array_equal(t, np.conj(dz))
    _, t = dn.jvp(np.abs, (z,), (dz,))
    np.testing.assert_allclose(t, np.real(np.conj(z) * dz) / np.abs(z), rtol=1e-14)
    assert np.asarray(t).dtype == np.float64
    # |z| at 0: the minimum-norm subgradient, 0
    _, t0 = dn.jvp(np.abs, (np.array([0j]),), (np.array([1 + 1j]),))
    np.testing.assert_array_equal(t0, [0.0])


def test_sort_at_ties_follows_numpys_permutation() -> None:
    x = np.array([2.0, 1.0, 2.0])
    t = np.array([10.0, 20.0, 30.0])
    out = np.sort(dn.Dual(x, t))
    order = np.argsort(x)
    np.testing.assert_array_equal(out.value, x[order])
    np.testing.assert_array_equal(out.tangent, t[order])
    assert np.sum(out).tangent == t.sum()


# | branch cuts of complex functions | the derivative on a cut is the limit from the side
#   NumPy's value takes there, which the sign of the zero picks (arcsin(2+0j) vs arcsin(2-0j)) |
_CUT_POINTS = [complex(r, z) for r in (-3.0, -1.5, -0.5, 0.5, 1.5, 3.0) for z in (0.0, -0.0)]
_COMPLEX_UNARY = sorted((uf for uf, rule in dn.rules.ufuncs.UFUNC_RULES.items()
                         if getattr(getattr(rule, "domain", None), "complex_ok", False)
                         and uf.nin == 1 and uf.nout == 1 and uf.signature is None),
                        key=lambda uf: uf.__name__)


@pytest.mark.parametrize("uf", _COMPLEX_UNARY, ids=lambda uf: uf.__name__)
@pytest.mark.parametrize("axis", ["real", "imaginary"])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # log(0), reciprocal(0) at the origin
def test_derivative_on_a_branch_cut_follows_numpys_side(uf: np.ufunc, axis: str) -> None:
    points = np.array(_CUT_POINTS if axis == "real" else [complex(p.imag, p.real) for p in _CUT_POINTS])
    # just off the axis, on the side the signed zero selects
    if axis == "real":
        nearby = points.real + 1j * np.copysign(1e-13, points.imag)
    else:
        nearby = np.copysign(1e-13, points.real) + 1j * points.imag
    ones = np.ones(points.shape, complex)
    on, off = uf(Dual(points, ones)), uf(Dual(nearby, ones))
    np.testing.assert_allclose(on.value, off.value, rtol=1e-9, atol=1e-9)  # the side NumPy takes
    np.testing.assert_allclose(on.tangent, off.tangent, rtol=1e-6, atol=1e-9)


def test_arcsin_on_its_cut_by_hand() -> None:
    z = Dual(np.array([complex(2, 0.0), complex(2, -0.0)]), np.ones(2, complex))
    np.testing.assert_allclose(np.arcsin(z).tangent, [1j / np.sqrt(3), -1j / np.sqrt(3)])
    np.testing.assert_allclose(np.arccos(z).tangent, [-1j / np.sqrt(3), 1j / np.sqrt(3)])
    w = Dual(np.array([complex(0.0, 2), complex(-0.0, 2)]), np.ones(2, complex))
    np.testing.assert_allclose(np.arcsinh(w).tangent, [-1j / np.sqrt(3), 1j / np.sqrt(3)])


@pytest.mark.parametrize("fn, slope", [(np.arcsin, np.inf), (np.arccos, -np.inf),
                                       (np.lib.scimath.arcsin, np.inf), (np.lib.scimath.arccos, -np.inf)])
def test_inverse_sine_and_cosine_are_infinitely_steep_at_the_ends(fn: Any, slope: float) -> None:
    for end in (-1.0, 1.0):
        assert dn.derivative(fn)(end) == slope
        assert dn.derivative(fn)(np.array(end)) == slope

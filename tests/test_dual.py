"""The Dual type: operators, the array surface, indexing, methods, .at updates, construction."""

from __future__ import annotations

import dataclasses
import operator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dualnumpy as dn
from dualnumpy import Dual

RNG = np.random.default_rng(2)


def assert_dual_equal(a: Any, b: Any) -> None:
    assert isinstance(a, Dual) and isinstance(b, Dual)
    assert a.tag == b.tag
    np.testing.assert_array_equal(a.value, b.value)
    np.testing.assert_array_equal(a.tangent, b.tangent)
    assert np.shape(a.tangent) == np.shape(b.tangent)


def per_direction(d: Dual) -> list[np.ndarray]:
    t = np.asarray(d.tangent)
    return list(t) if d.batched else [t]


def fd(f: Any, x: np.ndarray, t: np.ndarray, h: float = 1e-6) -> Any:
    return (np.asarray(f(x + h * t)) - np.asarray(f(x - h * t))) / (2 * h)


def check_against_fd(f: Any, x: np.ndarray, t: np.ndarray, rtol: float = 1e-6, atol: float = 1e-8) -> Any:
    """f on a Dual: value is NumPy's exactly, each tangent direction matches central differences."""
    d = Dual(x, t)
    out = f(d)
    np.testing.assert_array_equal(out.value, f(x))
    directions = list(t) if t.ndim == x.ndim + 1 else [t]
    outs = per_direction(out)
    assert len(outs) == len(directions)
    for ti, oi in zip(directions, outs, strict=True):
        np.testing.assert_allclose(oi, fd(f, x, ti), rtol=rtol, atol=atol)
    return out


# ---------------------------------------------------------------- operators

X = np.array([[0.7, 1.3, 2.1], [1.1, 0.4, 1.9]])
Y = np.array([[1.6, 0.9, 1.2], [0.3, 1.7, 0.8]])
TX = np.array([[[1.0, 0.5, -0.3], [0.2, 0.0, 1.0]], [[0.0, 1.0, 0.0], [-1.0, 0.3, 0.6]]])
TY = np.array([[[0.4, -0.2, 1.0], [0.0, 1.0, 0.7]], [[0.9, 0.1, 0.0], [0.5, 0.5, 0.5]]])

BINARY = [
    (operator.add, np.add),
    (operator.sub, np.subtract),
    (operator.mul, np.multiply),
    (operator.truediv, np.divide),
    (operator.floordiv, np.floor_divide),
    (operator.mod, np.remainder),
    (operator.pow, np.power),
]


@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize(("op", "ufunc"), BINARY, ids=[u.__name__ for _, u in BINARY])
def test_binary_operator_equals_ufunc(op: Any, ufunc: Any, batched: bool) -> None:
    tx, ty = (TX, TY) if batched else (TX[0], TY[0])
    a, b = Dual(X, tx), Dual(Y, ty)
    assert_dual_equal(op(a, b), ufunc(a, b))
    # Dual with a constant, both sides (reflected operators), array and scalar constants
    for c in (Y, 1.5, np.float64(0.8), 2):
        assert_dual_equal(op(a, c), ufunc(a, c))
        assert_dual_equal(op(c, a), ufunc(c, a))
        np.testing.assert_array_equal(op(a, c).value, op(X, c))
        np.testing.assert_array_equal(op(c, a).value, op(c, X))


@pytest.mark.parametrize(("op", "ufunc"), BINARY, ids=[u.__name__ for _, u in BINARY])
def test_binary_operator_tangent_against_finite_differences(op: Any, ufunc: Any) -> None:
    for k in range(2):
        check_against_fd(lambda v: op(v, Y), X, TX[k])
        check_against_fd(lambda v: op(Y, v), X, TX[k])
        check_against_fd(lambda v: op(v, v * 0.5 + 1.0), X, TX[k])


def test_matmul_operator_and_reflected() -> None:
    a = Dual(X, TX)
    m = RNG.normal(size=(3, 4))
    assert_dual_equal(a @ m, np.matmul(a, m))
    assert_dual_equal(m.T @ a.T, np.matmul(m.T, a.T))
    out = a @ m
    for i in range(2):
        np.testing.assert_allclose(out.tangent[i], TX[i] @ m, rtol=1e-14)
    b = Dual(Y.T, np.swapaxes(TY, 1, 2))
    ab = a @ b
    for i in range(2):
        np.testing.assert_allclose(ab.tangent[i], TX[i] @ Y.T + X @ TY[i].T, rtol=1e-14)
    v = Dual(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.0]))
    assert_dual_equal(v @ v, np.matmul(v, v))
    assert (v @ v).value == 14.0 and (v @ v).tangent == 4.0
    vec = np.array([1.0, -1.0])
    assert_dual_equal(vec @ a, np.matmul(vec, a))


def test_divmod_and_reflected_divmod() -> None:
    a = Dual(X * 3, TX[0])
    q, r = divmod(a, 0.7)
    q2, r2 = np.divmod(a, 0.7)
    assert_dual_equal(q, q2)
    assert_dual_equal(r, r2)
    np.testing.assert_array_equal(q.value, (X * 3) // 0.7)
    np.testing.assert_array_equal(q.tangent, np.zeros_like(X))
    np.testing.assert_array_equal(r.tangent, TX[0])
    q, r = divmod(5.0, a)
    q2, r2 = np.divmod(5.0, a)
    assert_dual_equal(q, q2)
    assert_dual_equal(r, r2)
    np.testing.assert_array_equal(r.tangent, -np.floor_divide(5.0, X * 3) * TX[0])


@pytest.mark.parametrize(
    ("op", "ufunc"),
    [(operator.neg, np.negative), (operator.pos, np.positive), (abs, np.absolute),
     (operator.abs, np.absolute)],
)
@pytest.mark.parametrize("batched", [False, True])
def test_unary_operators(op: Any, ufunc: Any, batched: bool) -> None:
    x = X - 1.0
    a = Dual(x, TX if batched else TX[0])
    assert_dual_equal(op(a), ufunc(a))
    np.testing.assert_array_equal(op(a).value, op(x))
    for ti, oi in zip(per_direction(a), per_direction(op(a)), strict=True):
        np.testing.assert_array_equal(oi, fd(op, x, ti, h=1e-3).round(12))


@pytest.mark.parametrize(
    ("op", "ufunc"),
    [(operator.lt, np.less), (operator.le, np.less_equal), (operator.gt, np.greater),
     (operator.ge, np.greater_equal), (operator.eq, np.equal), (operator.ne, np.not_equal)],
)
def test_comparison_operators(op: Any, ufunc: Any) -> None:
    a, b = Dual(X, TX), Dual(np.where(X > 1, X, Y), TY[0])
    for left, right, lv, rv in ((a, b, X, b.value), (a, 1.2, X, 1.2), (1.2, a, 1.2, X), (Y, a, Y, X)):
        out = op(left, right)
        assert isinstance(out, np.ndarray) and out.dtype == np.bool_
        np.testing.assert_array_equal(out, ufunc(left, right))
        np.testing.assert_array_equal(out, op(lv, rv))


def test_operators_with_integer_and_float32_operands() -> None:
    a = Dual(np.array([1.0, 2.0], np.float32), np.array([1.0, 1.0], np.float32))
    for out in (a + 1, 2 * a, a / 3.0, a**2, 1.0 - a, a * np.float32(2)):
        assert out.dtype == np.float32 and out.tangent.dtype == np.float32
    b = Dual(np.array([1, 2]), np.array([1, 1]))
    assert (b * 2).tangent.dtype == np.float64
    np.testing.assert_array_equal((b / 2).tangent, [0.5, 0.5])


def test_power_with_modulo_is_refused() -> None:
    with pytest.raises(TypeError, match="modulus"):
        pow(Dual(2.0, 1.0), 2, 5)


def test_operators_on_scalar_duals() -> None:
    x = Dual(2.0, 1.0)
    y = (x * x - 3 * x + 1 / x) ** 2
    # f = (x^2 - 3x + 1/x)^2, f' = 2 (x^2 - 3x + 1/x)(2x - 3 - 1/x^2)
    inner = 4 - 6 + 0.5
    assert y.value == inner**2
    assert y.tangent == pytest.approx(2 * inner * (4 - 3 - 0.25), rel=1e-15)


@settings(max_examples=40, deadline=None)
@given(
    a=st.floats(0.5, 3.0), b=st.floats(0.5, 3.0), ta=st.floats(-2, 2), tb=st.floats(-2, 2),
)
def test_operator_algebra_property(a: float, b: float, ta: float, tb: float) -> None:
    x, y = Dual(a, ta), Dual(b, tb)
    # product and quotient rules
    assert (x * y).tangent == pytest.approx(ta * b + a * tb, rel=1e-12, abs=1e-12)
    assert (x / y).tangent == pytest.approx(ta / b - a * tb / b**2, rel=1e-12, abs=1e-12)
    assert (x**y).tangent == pytest.approx(b * a ** (b - 1) * ta + a**b * np.log(a) * tb, rel=1e-10, abs=1e-12)
    assert (x - y).tangent == pytest.approx(ta - tb, abs=1e-15)
    assert (-(x + y)).tangent == pytest.approx(-(ta + tb), abs=1e-15)


# ---------------------------------------------------------------- array surface


def test_array_attributes() -> None:
    d = Dual(np.ones((2, 3, 4), np.float32), np.zeros((5, 2, 3, 4), np.float32))
    assert d.shape == (2, 3, 4)
    assert d.ndim == 3
    assert d.size == 24
    assert d.dtype == np.float32
    assert len(d) == 2
    assert d.batched
    assert d.T.shape == (4, 3, 2) and d.T.tangent.shape == (5, 4, 3, 2)
    assert d.mT.shape == (2, 4, 3)
    s = Dual(1.0, 2.0)
    assert s.shape == () and s.ndim == 0 and s.size == 1 and s.dtype == np.float64
    assert not s.batched
    with pytest.raises(TypeError, match="len"):
        len(s)


def test_transpose_property_values() -> None:
    d = Dual(X, TX)
    np.testing.assert_array_equal(d.T.value, X.T)
    for i in range(2):
        np.testing.assert_array_equal(d.T.tangent[i], TX[i].T)


@pytest.mark.parametrize("batched", [False, True])
def test_iteration_yields_rows(batched: bool) -> None:
    d = Dual(X, TX if batched else TX[0])
    rows = list(d)
    assert len(rows) == 2
    for i, row in enumerate(rows):
        assert_dual_equal(row, d[i])
        np.testing.assert_array_equal(row.value, X[i])
        if batched:
            np.testing.assert_array_equal(row.tangent, TX[:, i])
        else:
            np.testing.assert_array_equal(row.tangent, TX[0][i])


def test_bool_of_scalar_dual_follows_value() -> None:
    assert bool(Dual(1.0, 0.0))
    assert not bool(Dual(0.0, 5.0))
    if Dual(3.0, 1.0) > 2:
        pass
    else:  # pragma: no cover
        pytest.fail("comparison of a Dual must be usable in an if")


A3 = np.arange(24.0).reshape(2, 3, 4) / 7.0
T3 = RNG.normal(size=(3, 2, 3, 4))

INDICES: list[Any] = [
    0,
    -1,
    (1, 2),
    (1, 2, 3),
    slice(None, None, -1),
    (slice(None), 1),
    (0, slice(1, None), slice(None, None, 2)),
    np.array([1, 0, 1]),
    [0, 1],
    (slice(None), np.array([0, 2])),
    (np.array([0, 1]), np.array([2, 0])),
    (np.array([[0], [1]]), np.array([[0, 1, 2]])),
    A3 > 1.5,
    np.array([True, False]),
    (slice(None), np.array([True, False, True])),
    Ellipsis,
    (Ellipsis, 0),
    (0, Ellipsis),
    (Ellipsis, np.array([0, 3])),
    (np.array([1, 0]), Ellipsis),
    None,
    (slice(None), None, 1),
    (None, Ellipsis, None),
    (np.array([0, 1]), slice(None), np.array([1, 2])),  # advanced separated by a slice
    (np.array([[0], [1]]), slice(1, 3), np.array([[3, 2]])),
    (1, slice(None), np.array([0, 0, 3])),  # integer + slice + array: also separated
    (slice(None), np.array([0, 2]), np.array([1, 3])),  # adjacent advanced indices
    (np.array([0, 1]), None, slice(None), np.array([1, 2])),
    (Ellipsis, None, np.array([1, 2])),
]


def _index_id(index: Any) -> str:
    return repr(index).replace("\n", "")[:40]


@pytest.mark.parametrize("index", INDICES, ids=[_index_id(i) for i in INDICES])
@pytest.mark.parametrize("batched", [False, True])
def test_getitem_matches_numpy(index: Any, batched: bool) -> None:
    t = T3 if batched else T3[0]
    d = Dual(A3, t)
    out = d[index]
    np.testing.assert_array_equal(out.value, A3[index])
    if batched:
        assert out.tangent.shape == (3, *A3[index].shape)
        for i in range(3):
            np.testing.assert_array_equal(out.tangent[i], T3[i][index])
    else:
        assert np.shape(out.tangent) == A3[index].shape
        np.testing.assert_array_equal(out.tangent, t[index])


def test_getitem_of_zero_d_dual() -> None:
    d = Dual(np.array(2.0), np.array([1.0, 3.0]))
    assert_dual_equal(d[()], d)
    e = d[None]
    assert e.shape == (1,) and e.tangent.shape == (2, 1)


@settings(max_examples=40, deadline=None)
@given(
    st.tuples(
        st.one_of(st.integers(-2, 1), st.slices(2), st.lists(st.integers(-2, 1), min_size=1, max_size=3)),
        st.one_of(st.integers(-3, 2), st.slices(3), st.just(None)),
        st.one_of(st.integers(-4, 3), st.slices(4), st.lists(st.integers(-4, 3), min_size=1, max_size=3)),
    )
)
def test_getitem_property(index: tuple[Any, ...]) -> None:
    index = tuple(np.array(i) if isinstance(i, list) else i for i in index)
    try:
        expected = A3[index]
    except IndexError:
        return
    out = Dual(A3, T3)[index]
    np.testing.assert_array_equal(out.value, expected)
    for i in range(3):
        np.testing.assert_array_equal(out.tangent[i], T3[i][index])


# ---------------------------------------------------------------- ndarray methods


M = np.array([[0.7, -1.3, 2.1, 0.2], [1.1, 0.4, -1.9, 0.9], [0.3, 1.6, 0.5, -0.8]])
TM = RNG.normal(size=(2, 3, 4))

METHODS: list[tuple[str, Any]] = [
    ("sum", lambda v: v.sum()),
    ("sum0", lambda v: v.sum(axis=0)),
    ("sum-1k", lambda v: v.sum(axis=-1, keepdims=True)),
    ("sum01", lambda v: v.sum(axis=(0, 1))),
    ("mean", lambda v: v.mean()),
    ("mean1", lambda v: v.mean(axis=1)),
    ("prod", lambda v: v.prod()),
    ("prod0", lambda v: v.prod(axis=0)),
    ("max", lambda v: v.max()),
    ("max1", lambda v: v.max(axis=1)),
    ("min0k", lambda v: v.min(axis=0, keepdims=True)),
    ("var", lambda v: v.var()),
    ("var0ddof", lambda v: v.var(axis=0, ddof=1)),
    ("std", lambda v: v.std()),
    ("std1", lambda v: v.std(axis=1)),
    ("reshape", lambda v: v.reshape(4, 3)),
    ("reshape_tuple", lambda v: v.reshape((2, 6))),
    ("reshape-1", lambda v: v.reshape(-1)),
    ("reshape_F", lambda v: v.reshape((4, 3), order="F")),
    ("transpose", lambda v: v.transpose()),
    ("transpose_args", lambda v: v.transpose(1, 0)),
    ("transpose_tuple", lambda v: v.transpose((1, 0))),
    ("ravel", lambda v: v.ravel()),
    ("ravel_F", lambda v: v.ravel(order="F")),
    ("flatten", lambda v: v.flatten()),
    ("squeeze", lambda v: v.reshape(1, 3, 1, 4).squeeze()),
    ("squeeze_axis", lambda v: v.reshape(1, 3, 1, 4).squeeze(axis=2)),
    ("swapaxes", lambda v: v.swapaxes(0, 1)),
    ("dot_vec", lambda v: v.dot(np.array([1.0, 2.0, -1.0, 0.5]))),
    ("dot_mat", lambda v: v.dot(np.ones((4, 2)))),
    ("dot_self", lambda v: v.dot(v.T)),
    ("cumsum", lambda v: v.cumsum()),
    ("cumsum1", lambda v: v.cumsum(axis=1)),
    ("cumprod", lambda v: v.cumprod()),
    ("cumprod0", lambda v: v.cumprod(axis=0)),
    ("clip", lambda v: v.clip(-1.0, 1.0)),
    ("clip_min", lambda v: v.clip(min=0.0)),
    ("conj", lambda v: v.conj()),
    ("conjugate", lambda v: v.conjugate()),
    ("copy", lambda v: v.copy()),
    ("diagonal", lambda v: v.diagonal()),
    ("diagonal1", lambda v: v.diagonal(1)),
    ("trace", lambda v: v.trace()),
    ("trace_offset", lambda v: v.trace(offset=-1)),
    ("repeat", lambda v: v.repeat(2)),
    ("repeat_axis", lambda v: v.repeat([1, 0, 2], axis=0)),
    ("take", lambda v: v.take([0, 5, 5])),
    ("take_axis", lambda v: v.take([3, 0], axis=1)),
    ("real", lambda v: v.real),
    ("getitem_T", lambda v: v.T[1:, ::2]),
]


@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize(("name", "method"), METHODS, ids=[n for n, _ in METHODS])
def test_method_matches_ndarray_and_finite_differences(name: str, method: Any, batched: bool) -> None:
    t = TM if batched else TM[0]
    out = check_against_fd(method, M, t)
    assert isinstance(out, Dual)
    if batched:
        assert out.tangent.shape == (2, *np.shape(out.value))


def test_method_astype() -> None:
    d = Dual(M, TM)
    out = d.astype(np.float32)
    assert out.dtype == np.float32 and out.tangent.dtype == np.float32
    np.testing.assert_array_equal(out.value, M.astype(np.float32))
    np.testing.assert_array_equal(out.tangent, TM.astype(np.float32))
    out = d.astype(np.complex128)
    assert out.dtype == np.complex128 and out.tangent.dtype == np.complex128
    with pytest.raises(TypeError, match="non-float"):
        d.astype(np.int64)


def test_method_round_has_zero_tangent() -> None:
    d = Dual(M, TM)
    for out in (d.round(), d.round(1), np.round(d, 2)):
        np.testing.assert_array_equal(out.tangent, np.zeros_like(TM))
    np.testing.assert_array_equal(d.round(1).value, M.round(1))


def test_index_methods_return_plain_arrays() -> None:
    d = Dual(M, TM)
    for name, expected in (("argmax", M.argmax()), ("argmin", M.argmin())):
        out = getattr(d, name)()
        assert not isinstance(out, Dual)
        assert out == expected
    np.testing.assert_array_equal(d.argmax(axis=1), M.argmax(axis=1))
    np.testing.assert_array_equal(d.argmin(axis=0, keepdims=True), M.argmin(axis=0, keepdims=True))
    np.testing.assert_array_equal(d.argsort(), M.argsort())
    np.testing.assert_array_equal(d.argsort(axis=0), M.argsort(axis=0))
    for got, want in zip(d.nonzero(), M.nonzero(), strict=True):
        np.testing.assert_array_equal(got, want)
    nz = (d > 0.5).nonzero()
    for got, want in zip(nz, (M > 0.5).nonzero(), strict=True):
        np.testing.assert_array_equal(got, want)
    assert d.all() == M.all() and d.any() == M.any()
    np.testing.assert_array_equal(d.all(axis=0), M.all(axis=0))


def test_in_place_methods_are_refused() -> None:
    d = Dual(M, TM)
    with pytest.raises(TypeError, match="immutable"):
        d.sort()
    with pytest.raises(TypeError, match="immutable"):
        d.fill(0.0)


def test_complex_methods() -> None:
    z = M + 1j * M[::-1]
    tz = TM[0] - 1j * TM[1]
    d = Dual(z, tz)
    np.testing.assert_array_equal(d.conj().tangent, np.conj(tz))
    np.testing.assert_array_equal(d.real.tangent, tz.real)
    np.testing.assert_array_equal(d.imag.tangent, tz.imag)
    np.testing.assert_array_equal(d.real.value, z.real)


# ---------------------------------------------------------------- .at updates


def test_at_set_constant_zeroes_the_tangent() -> None:
    d = Dual(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0]))
    out = d.at[1].set(10.0)
    np.testing.assert_array_equal(out.value, [1.0, 10.0, 3.0])
    np.testing.assert_array_equal(out.tangent, [1.0, 0.0, 1.0])
    # the original is untouched
    np.testing.assert_array_equal(d.value, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(d.tangent, [1.0, 1.0, 1.0])


def test_at_set_dual_into_dual() -> None:
    d = Dual(np.zeros((2, 3)), np.ones((2, 3)))
    new = Dual(np.array([5.0, 6.0, 7.0]), np.array([0.5, 0.6, 0.7]))
    out = d.at[1].set(new)
    np.testing.assert_array_equal(out.value, [[0, 0, 0], [5, 6, 7]])
    np.testing.assert_array_equal(out.tangent, [[1, 1, 1], [0.5, 0.6, 0.7]])
    # broadcasting a scalar Dual into a slice
    out = d.at[:, 0].set(Dual(4.0, 2.0))
    np.testing.assert_array_equal(out.value[:, 0], [4.0, 4.0])
    np.testing.assert_array_equal(out.tangent[:, 0], [2.0, 2.0])


def test_at_add_repeated_indices_accumulate() -> None:
    d = Dual(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0]))
    idx = np.array([0, 0, 2, 0])
    out = d.at[idx].add(Dual(np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 20.0, 30.0, 40.0])))
    expected = d.value.copy()
    np.add.at(expected, idx, [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(out.value, expected)
    np.testing.assert_array_equal(out.tangent, [71.0, 1.0, 31.0])
    out = d.at[idx].add(1.0)
    np.testing.assert_array_equal(out.value, [4.0, 2.0, 4.0])
    np.testing.assert_array_equal(out.tangent, [1.0, 1.0, 1.0])


def test_at_multiply_product_rule() -> None:
    d = Dual(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0]))
    out = d.at[1:].multiply(Dual(np.array([2.0, 3.0]), np.array([0.5, 0.0])))
    np.testing.assert_array_equal(out.value, [1.0, 4.0, 9.0])
    np.testing.assert_array_equal(out.tangent, [1.0, 2.0 + 2.0 * 0.5, 3.0])


def test_at_multiply_repeated_indices_apply_every_update() -> None:
    # As .add here and JAX's .at[].multiply: all updates apply, not only the last.
    d = Dual(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0]))
    out = d.at[np.array([0, 0, 1])].multiply(Dual(np.array([2.0, 3.0, 4.0]), np.array([1.0, 0.0, 0.0])))
    np.testing.assert_array_equal(out.value, [6.0, 8.0, 3.0])
    # d(x0 * 2 * 3) = 6 dx0 + x0 * 1 * 3 ; d(x1 * 4) = 4 dx1
    np.testing.assert_array_equal(out.tangent, [9.0, 4.0, 1.0])
    out = d.at[[0, 0]].multiply(2.0)
    np.testing.assert_array_equal(out.value, [4.0, 2.0, 3.0])
    np.testing.assert_array_equal(out.tangent, [4.0, 1.0, 1.0])


@pytest.mark.parametrize("how", ["set", "add", "multiply"])
def test_at_updates_with_batched_tangents(how: str) -> None:
    x = np.arange(1.0, 7.0).reshape(2, 3)
    tx = RNG.normal(size=(4, 2, 3))
    v = np.array([2.0, -1.0])
    tv = RNG.normal(size=(4, 2))
    index = (slice(None), np.array([2, 0]))
    out = getattr(Dual(x, tx).at[index], how)(Dual(v, tv))
    assert out.tangent.shape == (4, 2, 3)
    for i in range(4):
        ref_v, ref_t = x.copy(), tx[i].copy()
        if how == "set":
            ref_v[index], ref_t[index] = v, tv[i]
        elif how == "add":
            ref_v[index] += v
            ref_t[index] += tv[i]
        else:
            ref_t[index] = tx[i][index] * v + x[index] * tv[i]
            ref_v[index] *= v
        np.testing.assert_array_equal(out.value, ref_v)
        np.testing.assert_allclose(out.tangent[i], ref_t, rtol=1e-15)


AT_INDICES: list[Any] = [
    0,
    (Ellipsis, 0),
    (slice(None), np.array([0, 2])),
    (np.array([0, 1]), slice(None), np.array([1, 2])),  # advanced separated by a slice
    A3 > 1.5,
    (None, 1),
    (1, Ellipsis, None),
    (np.array([[0], [1]]), slice(1, 3), np.array([[3, 2]])),
    (np.array([0, 0, 1]),),  # repeated
    (slice(None), np.array([1, 1]), np.array([0, 0])),  # repeated, advanced adjacent
]


def _reference_update(x: np.ndarray, t: np.ndarray, index: Any, how: str, nv: Any, nt: Any) -> Any:
    """NumPy reference, one direction: add/multiply apply every update (np.add.at semantics)."""
    shape = x[index].shape
    x, t = x.copy(), t.copy()
    if how == "set":
        x[index] = nv
        t[index] = nt
        return x, t
    if how == "add":
        np.add.at(x, index, nv)
        np.add.at(t, index, np.broadcast_to(nt, shape))
        return x, t
    pos = np.arange(x.size).reshape(x.shape)[index].ravel()
    xf, tf = x.ravel(), t.ravel()
    for p, a, b in zip(pos, np.broadcast_to(nv, shape).ravel(), np.broadcast_to(nt, shape).ravel(),
                       strict=True):
        tf[p] = tf[p] * a + xf[p] * b
        xf[p] *= a
    return xf.reshape(x.shape), tf.reshape(x.shape)


@pytest.mark.parametrize("how", ["set", "add", "multiply"])
@pytest.mark.parametrize("index", AT_INDICES, ids=[_index_id(i) for i in AT_INDICES])
@pytest.mark.parametrize("batched", [False, True])
def test_at_updates_match_numpy_reference(index: Any, how: str, batched: bool) -> None:
    rng = np.random.default_rng(7)
    shape = A3[index].shape
    tx = T3 if batched else T3[0]
    lead = (3,) if batched else ()
    news: list[tuple[Any, Any, Any]] = []
    value = rng.normal(size=shape)
    news.append((value, value, None))
    value, tangent = rng.normal(size=shape), rng.normal(size=lead + shape)
    news.append((Dual(value, tangent), value, tangent))
    last = shape[-1:]  # broadcast along the leading axes of the indexed result
    value, tangent = rng.normal(size=last), rng.normal(size=lead + last)
    news.append((Dual(value, tangent), value, tangent))
    d = Dual(A3.copy(), np.copy(tx))
    for new, nv, nt in news:
        out = getattr(d.at[index], how)(new)
        assert out.tangent.shape == np.shape(tx)
        directions = range(3) if batched else [None]
        for i in directions:
            ti = tx if i is None else tx[i]
            nti = np.zeros(np.shape(nv)) if nt is None else (nt if i is None else nt[i])
            ref_v, ref_t = _reference_update(A3, ti, index, how, nv, nti)
            np.testing.assert_allclose(out.value, ref_v, rtol=1e-13)
            np.testing.assert_allclose(out.tangent if i is None else out.tangent[i], ref_t,
                                       rtol=1e-13, atol=1e-15)
    # the original Dual is never mutated
    np.testing.assert_array_equal(d.value, A3)
    np.testing.assert_array_equal(d.tangent, tx)


def test_at_with_boolean_mask_and_plain_new() -> None:
    x = Dual(M, TM)
    out = x.at[M > 0].set(0.0)
    np.testing.assert_array_equal(out.value, np.where(M > 0, 0.0, M))
    np.testing.assert_array_equal(out.tangent, np.where(M > 0, 0.0, TM))


def test_at_get() -> None:
    d = Dual(M, TM)
    assert_dual_equal(d.at[1, ::2].get(), d[1, ::2])


def test_at_set_higher_tag_dual_into_lower_tag_dual() -> None:
    # Inside grad, writing the outer variable into a buffer built from an inner one.
    def f(x: Any) -> Any:
        buf = np.zeros(3) * x  # a Dual of x's tag
        return dn.derivative(lambda y: np.sum(buf.at[1].set(y * x) * np.arange(3.0)))(1.0)

    # inner derivative: x * 1 ; outer derivative: 1
    assert dn.derivative(f)(2.0) == 1.0


def test_at_set_newer_tag_dual_into_hand_built_dual() -> None:
    def f(x: Any) -> Any:
        d = Dual(np.zeros(2), np.ones(2))  # tag 0: older than any transform's tag
        out = d.at[0].set(x * 2.0)
        assert out.tag == x.tag and out.value.tag == 0
        np.testing.assert_array_equal(out.value.value, [6.0, 0.0])
        np.testing.assert_array_equal(out.value.tangent, [0.0, 1.0])  # d's own perturbation
        return out

    np.testing.assert_array_equal(dn.jacfwd(f)(3.0), [2.0, 0.0])


def test_at_set_batched_newer_tag_dual_into_older_dual() -> None:
    d = Dual(np.zeros(3), np.ones(3), tag=1)
    new = Dual(np.array([1.0, 2.0]), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), tag=2)
    out = d.at[1:].set(new)
    assert out.tag == 2 and out.tangent.shape == (3, 3)
    np.testing.assert_array_equal(out.tangent, [[0, 1, 0], [0, 0, 1], [0, 1, 1]])
    np.testing.assert_array_equal(out.value.value, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(out.value.tangent, [1.0, 0.0, 0.0])


def test_at_set_keeps_float32() -> None:
    d = Dual(np.ones(3, np.float32), np.ones(3, np.float32))
    out = d.at[0].set(2.0)
    assert out.dtype == np.float32 and out.tangent.dtype == np.float32
    out = d.at[0].add(Dual(np.float32(2.0), np.float32(1.0)))
    assert out.dtype == np.float32 and out.tangent.dtype == np.float32
    np.testing.assert_array_equal(out.tangent, [2.0, 1.0, 1.0])


# ---------------------------------------------------------------- construction


def test_construction_scalars_and_arrays() -> None:
    d = Dual(1.5, 2.0)
    assert d.value == 1.5 and d.tangent == 2.0 and d.tag == 0
    d = Dual(np.array([1.0, 2.0]), np.array([3.0, 4.0]), tag=5)
    assert d.tag == 5 and not d.batched
    d = Dual(np.array([1.0, 2.0]), np.zeros((3, 2)))
    assert d.batched and d.tangent.shape == (3, 2)
    d = Dual(1.0, np.array([1.0, 2.0, 3.0]))  # a 0-d value with 3 directions
    assert d.batched and d.shape == ()


def test_construction_from_lists() -> None:
    d = Dual([1.0, 2.0], [0.5, 0.5])
    assert isinstance(d.value, np.ndarray) and d.shape == (2,)


def test_construction_dtype_rules() -> None:
    d = Dual(np.array([1, 2]), np.array([1, 1]))
    assert d.tangent.dtype == np.float64
    d = Dual(np.ones(2, np.float32), np.ones(2))
    assert d.tangent.dtype == np.float32
    d = Dual(np.ones(2, np.float32), np.ones(2, np.int64))
    assert d.tangent.dtype == np.float32
    d = Dual(np.ones(2, complex), np.ones(2))
    assert d.tangent.dtype == np.complex128
    d = Dual(np.float32(1.0), 1.0)
    assert np.asarray(d.tangent).dtype == np.float32


def test_construction_tag_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        Dual(1.0, 1.0, 3)  # type: ignore[misc]


def test_dual_is_frozen_and_unhashable() -> None:
    d = Dual(1.0, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.value = 2.0  # type: ignore[misc]
    with pytest.raises(TypeError, match="unhashable"):
        hash(d)


def test_nested_construction_requires_lower_inner_tag() -> None:
    inner = Dual(1.0, 1.0, tag=1)
    outer = Dual(inner, Dual(0.0, 0.0, tag=1), tag=2)
    assert outer.value is inner
    with pytest.raises(ValueError, match="lower tag"):
        Dual(inner, 1.0, tag=1)
    with pytest.raises(ValueError, match="lower tag"):
        Dual(Dual(1.0, 1.0, tag=3), 1.0, tag=2)


def test_repr_shows_fields() -> None:
    r = repr(Dual(1.0, 2.0, tag=3))
    assert "value=1.0" in r and "tangent=2.0" in r and "tag=3" in r
    assert "tag" not in repr(Dual(1.0, 2.0))


def test_equality_is_elementwise_not_field_comparison() -> None:
    a = Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    b = Dual(np.array([1.0, 3.0]), np.array([5.0, 5.0]))
    np.testing.assert_array_equal(a == b, [True, False])
    np.testing.assert_array_equal(a != b, [False, True])

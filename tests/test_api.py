"""The functional front end: jvp, grad, value_and_grad, derivative, jacfwd, hessian.

Every derivative is checked against an analytic formula or a central finite
difference; values are NumPy's own and are compared with equality.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dualnumpy as dn

RNG = np.random.default_rng(0)

Pair = namedtuple("Pair", ["first", "second"])


# ---------------------------------------------------------------- helpers


def fd_jacobian(f: Any, x: Any, eps: float = 1e-6) -> np.ndarray:
    """Central differences: shape out.shape + x.shape."""
    x = np.asarray(x, dtype=np.float64)
    out_shape = np.shape(f(x))
    flat = x.ravel()
    cols = []
    for i in range(flat.size):
        e = np.zeros_like(flat)
        e[i] = eps
        hi = np.asarray(f((flat + e).reshape(x.shape)), dtype=np.float64)
        lo = np.asarray(f((flat - e).reshape(x.shape)), dtype=np.float64)
        cols.append(((hi - lo) / (2 * eps)).ravel())
    jac = np.stack(cols, axis=-1) if cols else np.zeros((int(np.prod(out_shape)), 0))
    return jac.reshape(out_shape + x.shape)


def rosenbrock(x: Any) -> Any:
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_grad(x: np.ndarray) -> np.ndarray:
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return g


def rosenbrock_hessian(x: np.ndarray) -> np.ndarray:
    n = x.size
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2.0
        h[i, i + 1] = h[i + 1, i] = -400.0 * x[i]
        h[i + 1, i + 1] += 200.0
    return h


def assert_tree_equal(a: Any, b: Any) -> None:
    """Identical structure, shapes, dtypes and bits."""
    assert type(a) is type(b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_tree_equal(a[key], b[key])
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_tree_equal(x, y)
    elif a is None:
        assert b is None
    else:
        assert np.shape(a) == np.shape(b)
        assert np.asarray(a).dtype == np.asarray(b).dtype
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- jvp


def test_jvp_single_direction_value_exact_and_tangent_analytic() -> None:
    x = np.linspace(-2.0, 2.0, 7)
    t = RNG.normal(size=7)
    y, ty = dn.jvp(lambda v: np.sin(v) * v, (x,), (t,))
    np.testing.assert_array_equal(y, np.sin(x) * x)
    np.testing.assert_allclose(ty, (np.cos(x) * x + np.sin(x)) * t, rtol=1e-14)


def test_jvp_scalar_returns_numpy_scalars() -> None:
    y, ty = dn.jvp(np.sin, (0.0,), (2.0,))
    assert y == 0.0 and ty == 2.0


def test_jvp_several_arguments() -> None:
    a, b = RNG.normal(size=3), RNG.normal(size=(2, 3))
    ta, tb = RNG.normal(size=3), RNG.normal(size=(2, 3))
    y, ty = dn.jvp(lambda u, v: u * v + np.exp(u), (a, b), (ta, tb))
    np.testing.assert_array_equal(y, a * b + np.exp(a))
    np.testing.assert_allclose(ty, ta * b + a * tb + np.exp(a) * ta, rtol=1e-13)


def test_jvp_accepts_lists_like_tuples() -> None:
    y, ty = dn.jvp(lambda u: u**3, [2.0], [1.0])
    assert y == 8.0 and ty == 12.0


@pytest.mark.parametrize("k", [1, 2, 3])
def test_jvp_batched_matches_one_direction_at_a_time(k: int) -> None:
    # k == 2 equals a broadcast dimension of the output on purpose (DESIGN.md s3).
    a, b = RNG.normal(size=3), RNG.normal(size=(2, 3))
    ta, tb = RNG.normal(size=(k, 3)), RNG.normal(size=(k, 2, 3))

    def f(u: Any, v: Any) -> Any:
        return np.tanh(u) * v - u / (1.0 + v * v)

    y, ty = dn.jvp(f, (a, b), (ta, tb), batched=True)
    assert ty.shape == (k, 2, 3)
    np.testing.assert_array_equal(y, f(a, b))
    for i in range(k):
        yi, tyi = dn.jvp(f, (a, b), (ta[i], tb[i]))
        np.testing.assert_array_equal(yi, y)
        np.testing.assert_allclose(ty[i], tyi, rtol=1e-13, atol=1e-15)


def test_jvp_batched_identity_gives_jacobian() -> None:
    x = np.array([1.0, 2.0, 3.0])
    _, jac_t = dn.jvp(lambda v: v**2, (x,), (np.eye(3),), batched=True)
    np.testing.assert_allclose(jac_t, np.diag(2 * x))


def test_jvp_batched_output_independent_of_input_gets_zero_rows() -> None:
    x = np.ones(2)
    out, t = dn.jvp(lambda v: (v * 2.0, np.arange(3.0)), (x,), (np.ones((4, 2)),), batched=True)
    np.testing.assert_array_equal(out[1], np.arange(3.0))
    assert t[1].shape == (4, 3)
    np.testing.assert_array_equal(t[1], 0.0)
    np.testing.assert_array_equal(t[0], 2.0 * np.ones((4, 2)))


def test_jvp_pytree_primals_and_outputs() -> None:
    params = {"w": RNG.normal(size=(2, 3)), "b": RNG.normal(size=2)}
    dparams = {"w": RNG.normal(size=(2, 3)), "b": RNG.normal(size=2)}
    x = RNG.normal(size=3)

    def f(p: dict[str, Any], xs: tuple[Any, None]) -> Any:
        h = p["w"] @ xs[0] + p["b"]
        return {"h": np.tanh(h), "extra": Pair(np.sum(h), None), "list": [h * 2.0]}

    out, t = dn.jvp(f, (params, (x, None)), (dparams, (np.zeros(3), None)))
    h = params["w"] @ x + params["b"]
    dh = dparams["w"] @ x + dparams["b"]
    assert set(out) == {"h", "extra", "list"}
    assert isinstance(out["extra"], Pair) and isinstance(t["extra"], Pair)
    assert out["extra"].second is None and t["extra"].second is None
    assert isinstance(t["list"], list)
    np.testing.assert_allclose(out["h"], np.tanh(h), rtol=1e-15)
    np.testing.assert_allclose(t["h"], (1 - np.tanh(h) ** 2) * dh, rtol=1e-13)
    np.testing.assert_allclose(t["extra"].first, np.sum(dh), rtol=1e-13)
    np.testing.assert_allclose(t["list"][0], 2 * dh, rtol=1e-13)


def test_jvp_batched_pytrees() -> None:
    p = {"a": np.array([1.0, 2.0]), "b": 3.0}
    t = {"a": np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), "b": np.array([0.0, 0.0, 1.0])}
    out, tout = dn.jvp(lambda d: d["a"] * d["b"], (p,), (t,), batched=True)
    np.testing.assert_array_equal(out, [3.0, 6.0])
    np.testing.assert_array_equal(tout, [[3.0, 0.0], [0.0, 3.0], [1.0, 2.0]])


def test_jvp_has_aux_returns_aux_without_perturbation() -> None:
    x = np.array([0.5, 1.5])

    def f(v: Any) -> Any:
        y = np.exp(v)
        return np.sum(y), {"y": y, "label": "hello", "n": 3}

    out, t, aux = dn.jvp(f, (x,), (np.ones(2),), has_aux=True)
    assert out == np.sum(np.exp(x))
    np.testing.assert_allclose(t, np.sum(np.exp(x)))
    # As in JAX: aux comes back as primal values, not Duals.
    assert isinstance(aux["y"], np.ndarray)
    np.testing.assert_array_equal(aux["y"], np.exp(x))
    assert aux["label"] == "hello" and aux["n"] == 3


def test_jvp_integer_primals_are_promoted_to_float64() -> None:
    y, t = dn.jvp(lambda v: v * v, (3,), (1.0,))
    assert y == 9.0 and t == 6.0
    y, t = dn.jvp(lambda v: v / 2, (np.array([1, 2, 3]),), (np.ones(3),))
    assert y.dtype == np.float64 and t.dtype == np.float64
    np.testing.assert_array_equal(y, [0.5, 1.0, 1.5])
    np.testing.assert_array_equal(t, [0.5, 0.5, 0.5])


def test_jvp_integer_tangents_are_promoted() -> None:
    y, t = dn.jvp(lambda v: v**2, (np.array([1.0, 2.0]),), (np.array([1, 2]),))
    assert t.dtype == np.float64
    np.testing.assert_array_equal(t, [2.0, 8.0])
    x32 = np.array([1.0, 2.0], dtype=np.float32)
    y, t = dn.jvp(lambda v: v**2, (x32,), (np.array([1, 1]),))
    assert y.dtype == np.float32 and t.dtype == np.float32
    y, t = dn.jvp(lambda v: v * 3, (2.0,), (1,))
    assert t == 3.0


def test_jvp_float32_stays_float32() -> None:
    x = np.linspace(0.1, 1.0, 4, dtype=np.float32)
    y, t = dn.jvp(lambda v: np.exp(v) * 2.0 + np.sin(v), (x,), (np.ones(4, np.float32),))
    assert y.dtype == np.float32 and t.dtype == np.float32


def test_jvp_complex_primal_and_tangent() -> None:
    z = np.array([1.0 + 2.0j, -0.5 + 0.1j])
    dz = np.array([1.0 + 0.0j, 0.0 + 1.0j])
    _, t = dn.jvp(lambda v: v**3, (z,), (dz,))
    np.testing.assert_allclose(t, 3 * z**2 * dz, rtol=1e-13)


@settings(max_examples=30, deadline=None)
@given(
    x=st.lists(st.floats(-2.0, 2.0), min_size=1, max_size=5),
    alpha=st.floats(-3.0, 3.0),
    beta=st.floats(-3.0, 3.0),
)
def test_jvp_is_linear_in_the_tangent(x: list[float], alpha: float, beta: float) -> None:
    xs = np.array(x)
    u = np.cos(np.arange(xs.size) + 1.0)
    w = np.sin(np.arange(xs.size) + 2.0)

    def f(v: Any) -> Any:
        return np.exp(np.sin(v)) * v + np.cumsum(v * v)

    _, tu = dn.jvp(f, (xs,), (u,))
    _, tw = dn.jvp(f, (xs,), (w,))
    _, tc = dn.jvp(f, (xs,), (alpha * u + beta * w,))
    np.testing.assert_allclose(tc, alpha * tu + beta * tw, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------- grad


def test_grad_rosenbrock_analytic() -> None:
    x = np.array([-1.2, 1.0, 0.3, 2.0])
    np.testing.assert_allclose(dn.grad(rosenbrock)(x), rosenbrock_grad(x), rtol=1e-13)


def test_grad_scalar_input_and_python_int() -> None:
    g = dn.grad(lambda v: v**3)(2)
    assert g == 12.0
    assert np.asarray(g).dtype == np.float64


def test_grad_integer_array_promoted_to_float64() -> None:
    g = dn.grad(lambda v: np.sum(v**2))(np.array([1, 2, 3]))
    assert g.dtype == np.float64
    np.testing.assert_array_equal(g, [2.0, 4.0, 6.0])


def test_grad_float32_stays_float32() -> None:
    x = np.array([1.0, 2.0, 0.5], dtype=np.float32)
    g = dn.grad(lambda v: np.sum(np.sin(v) * v))(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, np.sin(x) + x * np.cos(x), rtol=1e-6)
    g2 = dn.grad(lambda v: np.sum(np.sin(v) * v), chunk_size=2)(x)
    assert g2.dtype == np.float32


def test_grad_argnums_int_and_tuple() -> None:
    a, b, c = 1.5, np.array([1.0, 2.0]), np.array([[0.5, -1.0], [2.0, 3.0]])

    def f(u: Any, v: Any, w: Any) -> Any:
        return u * np.sum(v @ w) + np.sum(np.sin(w))

    ga = dn.grad(f)(a, b, c)
    np.testing.assert_allclose(ga, np.sum(b @ c))
    gb = dn.grad(f, argnums=1)(a, b, c)
    np.testing.assert_allclose(gb, a * c.sum(axis=1))
    g = dn.grad(f, argnums=(0, 2))(a, b, c)
    assert isinstance(g, tuple) and len(g) == 2
    np.testing.assert_allclose(g[0], ga)
    np.testing.assert_allclose(g[1], a * np.outer(b, np.ones(2)) + np.cos(c), rtol=1e-14)
    single = dn.grad(f, argnums=(1,))(a, b, c)
    assert isinstance(single, tuple) and len(single) == 1
    np.testing.assert_array_equal(single[0], gb)
    np.testing.assert_array_equal(dn.grad(f, argnums=-2)(a, b, c), gb)


def test_grad_pytree_argument_dict_of_arrays() -> None:
    params = {"w": RNG.normal(size=(2, 3)), "b": RNG.normal(size=2)}
    xs, ys = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 2))

    def loss(p: dict[str, Any], x: Any, y: Any) -> Any:
        pred = x @ p["w"].T + p["b"]
        return np.mean((pred - y) ** 2)

    g = dn.grad(loss)(params, xs, ys)
    assert isinstance(g, dict) and list(g) == ["w", "b"]
    assert g["w"].shape == (2, 3) and g["b"].shape == (2,)
    resid = xs @ params["w"].T + params["b"] - ys
    np.testing.assert_allclose(g["w"], 2.0 / resid.size * resid.T @ xs, rtol=1e-12)
    np.testing.assert_allclose(g["b"], 2.0 / resid.size * resid.sum(axis=0), rtol=1e-12)


def test_grad_nested_pytree_with_none_and_namedtuple() -> None:
    arg = {"layers": [Pair(np.array([1.0, 2.0]), 3.0), None]}

    def f(tree: Any) -> Any:
        pair = tree["layers"][0]
        return np.sum(pair.first**2) * pair.second

    g = dn.grad(f)(arg)
    assert g["layers"][1] is None
    assert isinstance(g["layers"][0], Pair)
    np.testing.assert_allclose(g["layers"][0].first, [6.0, 12.0])
    np.testing.assert_allclose(g["layers"][0].second, 5.0)


def test_grad_scalar_arguments_tuple_and_chunks() -> None:
    def f(a: Any, b: Any, c: Any) -> Any:
        return a * b**2 * np.sin(c) + a / c

    a, b, c = 1.0, 2.0, 3.0
    expected = (b**2 * np.sin(c) + 1 / c, 2 * a * b * np.sin(c), a * b**2 * np.cos(c) - a / c**2)
    ref = dn.grad(f, argnums=(0, 1, 2))(a, b, c)
    np.testing.assert_allclose(ref, expected, rtol=1e-14)
    for chunk in (1, 2, 3, 4):
        assert_tree_equal(ref, dn.grad(f, argnums=(0, 1, 2), chunk_size=chunk)(a, b, c))
    h = dn.hessian(f, argnums=(0, 1, 2))(a, b, c)
    np.testing.assert_allclose(h[1][2], 2 * b * np.cos(c), rtol=1e-14)
    np.testing.assert_allclose(h[2][2], -a * b**2 * np.sin(c) + 2 * a / c**3, rtol=1e-14)


def _many_operators(a: Any, b: Any) -> Any:
    q, r = divmod(a * 3.0, b)
    return ((a + b) * (a - 2.0) / (b + 0.5) + 3.0 / a - 2.0**b + a**b + (-a) * (+b) + abs(a - b)
            + a // b + a % b + 5.0 % b + 4.0 // a + q + r + (a > b) * a + np.sin(a) * np.exp(-b)
            + np.maximum(a, b) + np.hypot(a, b) + np.sqrt(a) + np.log(b) + np.tanh(a * b)
            + np.arctan2(a, b))


@pytest.mark.parametrize(("a", "b"), [(1.3, 0.7), (0.45, 2.1), (1.0, 1.0)])
def test_grad_of_scalar_arguments_equals_array_path(a: float, b: float) -> None:
    g = dn.grad(_many_operators, argnums=(0, 1))(a, b)
    g_array = dn.grad(lambda v: _many_operators(v[0], v[1]))(np.array([a, b]))
    assert g == tuple(g_array)
    h = dn.hessian(_many_operators, argnums=(0, 1))(a, b)
    np.testing.assert_array_equal(np.reshape(h, (2, 2)),
                                  dn.hessian(lambda v: _many_operators(v[0], v[1]))(np.array([a, b])))
    if a != b:  # away from the kinks of max, abs, //, %
        fd = fd_jacobian(lambda v: _many_operators(v[0], v[1]), np.array([a, b]))
        np.testing.assert_allclose(g, fd, rtol=1e-7)


def test_grad_list_argument() -> None:
    g = dn.grad(lambda xs: xs[0] * xs[1] ** 2)([2.0, 3.0])
    assert isinstance(g, list)
    np.testing.assert_array_equal(g, [9.0, 12.0])


def test_grad_has_aux() -> None:
    x = np.array([1.0, 2.0])

    def f(v: Any) -> Any:
        return np.sum(v**2), {"norm": np.sqrt(np.sum(v**2)), "tag": "aux"}

    g, aux = dn.grad(f, has_aux=True)(x)
    np.testing.assert_array_equal(g, 2 * x)
    assert isinstance(aux["norm"], (float, np.floating, np.ndarray))
    np.testing.assert_allclose(aux["norm"], np.sqrt(5.0))
    assert aux["tag"] == "aux"


def test_grad_kwargs_are_passed_through() -> None:
    def f(v: Any, *, scale: float = 1.0, power: int = 2) -> Any:
        return scale * np.sum(v**power)

    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(dn.grad(f)(x, scale=3.0, power=3), 9.0 * x**2)
    val, g = dn.value_and_grad(f)(x, scale=2.0)
    assert val == 10.0
    np.testing.assert_allclose(g, 4.0 * x)
    np.testing.assert_allclose(dn.jacfwd(f)(x, scale=0.5), x)
    np.testing.assert_allclose(dn.hessian(f)(x, power=3), np.diag(6.0 * x))
    assert dn.derivative(f)(2.0, scale=3.0) == 12.0


def test_grad_of_constant_function_is_zero() -> None:
    g = dn.grad(lambda v: 4.0)(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0])


def test_grad_matches_finite_differences() -> None:
    x = RNG.uniform(0.5, 1.5, size=(2, 3))

    def f(v: Any) -> Any:
        return np.sum(np.log(v) * np.cos(v)) / np.max(v) + np.prod(v) ** 0.5

    np.testing.assert_allclose(dn.grad(f)(x), fd_jacobian(f, x), rtol=1e-7, atol=1e-9)


N_CHUNK = 7


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 4, 5, 6, 7, 8, 100])
def test_grad_chunk_size_gives_identical_results(chunk_size: int) -> None:
    x = RNG.normal(size=N_CHUNK)
    y = {"a": RNG.normal(size=(2, 2)), "b": 0.7}

    def f(u: Any, v: dict[str, Any]) -> Any:
        return rosenbrock(u) * np.sum(np.tanh(v["a"])) + v["b"] * np.sum(u**3)

    ref = dn.grad(f, argnums=(0, 1))(x, y)
    chunked = dn.grad(f, argnums=(0, 1), chunk_size=chunk_size)(x, y)
    assert_tree_equal(ref, chunked)
    v_ref, g_ref = dn.value_and_grad(f)(x, y)
    v_ch, g_ch = dn.value_and_grad(f, chunk_size=chunk_size)(x, y)
    assert v_ref == v_ch
    assert_tree_equal(g_ref, g_ch)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 9), chunk=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_grad_chunk_size_property(n: int, chunk: int, seed: int) -> None:
    x = np.random.default_rng(seed).normal(size=n)

    def f(v: Any) -> Any:
        return np.sum(np.sin(v) * v[::-1]) + np.prod(np.cos(v))

    assert_tree_equal(dn.grad(f)(x), dn.grad(f, chunk_size=chunk)(x))


# ---------------------------------------------------------------- value_and_grad


def test_value_and_grad_value_is_numpys() -> None:
    x = np.array([-1.2, 1.0, 0.7])
    value, g = dn.value_and_grad(rosenbrock)(x)
    assert value == rosenbrock(x)
    assert not isinstance(value, dn.Dual)
    np.testing.assert_allclose(g, rosenbrock_grad(x), rtol=1e-13)


def test_value_and_grad_has_aux_and_argnums() -> None:
    def f(a: Any, b: Any) -> Any:
        return a * b**2, a + b

    (value, aux), (ga, gb) = dn.value_and_grad(f, argnums=(0, 1), has_aux=True)(2.0, 3.0)
    assert value == 18.0 and aux == 5.0
    assert ga == 9.0 and gb == 12.0


# ---------------------------------------------------------------- derivative


def test_derivative_scalar() -> None:
    xs = np.linspace(-2, 2, 5)
    for x in xs:
        assert np.isclose(dn.derivative(np.sin)(x), np.cos(x), rtol=1e-15)


def test_derivative_array_outputs() -> None:
    out = dn.derivative(lambda t: np.stack([np.cos(t), t**3]))(1.0)
    np.testing.assert_allclose(out, [-np.sin(1.0), 3.0])
    mat = np.arange(6.0).reshape(2, 3)
    d = dn.derivative(lambda t: np.exp(t * mat))(0.5)
    assert d.shape == (2, 3)
    np.testing.assert_allclose(d, mat * np.exp(0.5 * mat), rtol=1e-14)


def test_derivative_pytree_outputs() -> None:
    def f(t: Any) -> Any:
        return {"sq": t**2, "pair": Pair(np.sin(t), [t * np.ones(2), None]), "const": 1.0}

    d = dn.derivative(f)(2.0)
    assert d["sq"] == 4.0
    assert isinstance(d["pair"], Pair)
    np.testing.assert_allclose(d["pair"].first, np.cos(2.0))
    np.testing.assert_array_equal(d["pair"].second[0], np.ones(2))
    assert d["pair"].second[1] is None
    assert d["const"] == 0.0


def test_derivative_argnum_and_has_aux() -> None:
    d = dn.derivative(lambda a, b: a * b**2, argnum=1)(3.0, 2.0)
    assert d == 12.0
    d, aux = dn.derivative(lambda t: (t**2, "info"), has_aux=True)(3.0)
    assert d == 6.0 and aux == "info"


def test_derivative_integer_argument() -> None:
    d = dn.derivative(lambda t: t**3)(2)
    assert d == 12.0 and np.asarray(d).dtype == np.float64


# ---------------------------------------------------------------- jacfwd


SHAPES = [(), (3,), (2, 3)]


def _make_map(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> tuple[Any, Any]:
    n, m = int(np.prod(in_shape)), int(np.prod(out_shape))
    a = np.arange(1.0, 1.0 + m * n).reshape(m, n) / (m * n)

    def f(x: Any) -> Any:
        return np.reshape(a @ np.ravel(np.sin(x)), out_shape)

    def jac(x: np.ndarray) -> np.ndarray:
        return (a * np.cos(np.ravel(x))).reshape(out_shape + in_shape)

    return f, jac


@pytest.mark.parametrize("in_shape", SHAPES)
@pytest.mark.parametrize("out_shape", SHAPES)
def test_jacfwd_shape_is_out_plus_in(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> None:
    f, jac = _make_map(in_shape, out_shape)
    x = np.asarray(RNG.normal(size=in_shape))
    j = dn.jacfwd(f)(x)
    assert np.shape(j) == out_shape + in_shape
    np.testing.assert_allclose(j, jac(x), rtol=1e-13, atol=1e-15)


def test_jacfwd_elementwise_is_diagonal() -> None:
    x = np.array([0.1, 0.5, 2.0])
    np.testing.assert_allclose(dn.jacfwd(np.exp)(x), np.diag(np.exp(x)))


def test_jacfwd_matches_finite_differences() -> None:
    x = RNG.uniform(0.5, 1.5, size=(2, 2))

    def f(v: Any) -> Any:
        return np.stack([np.sum(v * v, axis=0), np.prod(v, axis=1), np.max(v, axis=0)])

    np.testing.assert_allclose(dn.jacfwd(f)(x), fd_jacobian(f, x), rtol=1e-7, atol=1e-9)


def test_jacfwd_pytree_input_and_output() -> None:
    x = {"a": np.array([1.0, 2.0]), "b": 3.0}

    def f(d: dict[str, Any]) -> Any:
        return (d["a"] * d["b"], np.sum(d["a"]) ** 2)

    j = dn.jacfwd(f)(x)
    assert isinstance(j, tuple) and len(j) == 2
    assert list(j[0]) == ["a", "b"]
    assert j[0]["a"].shape == (2, 2) and np.shape(j[0]["b"]) == (2,)
    assert j[1]["a"].shape == (2,) and np.shape(j[1]["b"]) == ()
    np.testing.assert_array_equal(j[0]["a"], 3.0 * np.eye(2))
    np.testing.assert_array_equal(j[0]["b"], [1.0, 2.0])
    np.testing.assert_array_equal(j[1]["a"], [6.0, 6.0])
    assert j[1]["b"] == 0.0


def test_jacfwd_argnums_tuple() -> None:
    x, y = np.array([1.0, 2.0, 3.0]), np.array([[1.0, 2.0], [3.0, 4.0]])

    def f(u: Any, v: Any) -> Any:
        return u[:2] * np.sum(v, axis=1)

    jx, jy = dn.jacfwd(f, argnums=(0, 1))(x, y)
    assert jx.shape == (2, 3) and jy.shape == (2, 2, 2)
    np.testing.assert_array_equal(jx, [[3.0, 0, 0], [0, 7.0, 0]])
    expected = np.zeros((2, 2, 2))
    expected[0, 0, :] = x[0]
    expected[1, 1, :] = x[1]
    np.testing.assert_array_equal(jy, expected)
    (only_y,) = dn.jacfwd(f, argnums=(1,))(x, y)
    np.testing.assert_array_equal(only_y, jy)


def test_jacfwd_has_aux() -> None:
    j, aux = dn.jacfwd(lambda v: (v**2, {"s": np.sum(v)}), has_aux=True)(np.array([1.0, 3.0]))
    np.testing.assert_array_equal(j, np.diag([2.0, 6.0]))
    assert aux["s"] == 4.0 and not isinstance(aux["s"], dn.Dual)


def test_jacfwd_integer_input_promoted() -> None:
    j = dn.jacfwd(lambda v: v * v)(np.array([1, 2]))
    assert j.dtype == np.float64
    np.testing.assert_array_equal(j, np.diag([2.0, 4.0]))


def test_jacfwd_float32_stays_float32() -> None:
    j = dn.jacfwd(lambda v: np.sin(v) * 2.0)(np.ones(3, np.float32))
    assert j.dtype == np.float32


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 4, 5, 6, 50])
def test_jacfwd_chunk_size_gives_identical_results(chunk_size: int) -> None:
    x = {"a": RNG.normal(size=(2, 2)), "b": RNG.normal(size=1)}

    def f(d: dict[str, Any]) -> Any:
        s = np.sum(d["a"] * d["b"])
        return {"vec": np.tanh(d["a"]).ravel() * s, "scalar": s**2, "mat": np.exp(d["a"])}

    assert_tree_equal(dn.jacfwd(f)(x), dn.jacfwd(f, chunk_size=chunk_size)(x))


def test_jacfwd_chunk_size_with_argnums_tuple() -> None:
    a, b = RNG.normal(size=3), RNG.normal(size=2)

    def f(u: Any, v: Any) -> Any:
        return np.concatenate([u * v[0], v * np.sum(u)])

    ref = dn.jacfwd(f, argnums=(0, 1))(a, b)
    for chunk in (1, 2, 4):
        assert_tree_equal(ref, dn.jacfwd(f, argnums=(0, 1), chunk_size=chunk)(a, b))


def test_jacfwd_and_grad_of_empty_inputs() -> None:
    assert dn.jacfwd(lambda v: v * 2.0)(np.ones(0)).shape == (0, 0)
    assert dn.jacfwd(lambda v: v * 2.0)(np.ones((0, 3))).shape == (0, 3, 0, 3)
    assert dn.jacfwd(lambda v: np.ones(2) * np.sum(v))(np.ones(0)).shape == (2, 0)
    assert dn.grad(np.sum)(np.ones(0)).shape == (0,)
    assert dn.grad(np.sum, chunk_size=2)(np.ones(0)).shape == (0,)


def test_jacfwd_output_with_none_and_constant_leaves() -> None:
    j = dn.jacfwd(lambda v: (v * 2.0, None, 3, np.arange(2)))(np.ones(2))
    np.testing.assert_array_equal(j[0], 2.0 * np.eye(2))
    assert j[1] is None
    np.testing.assert_array_equal(j[2], [0.0, 0.0])
    np.testing.assert_array_equal(j[3], np.zeros((2, 2)))
    assert j[3].dtype == np.float64


def test_jacfwd_of_scalar_input_scalar_output() -> None:
    assert dn.jacfwd(lambda t: t**3)(2.0) == 12.0


# ---------------------------------------------------------------- hessian


@pytest.mark.parametrize("n", [2, 3, 5])
def test_hessian_rosenbrock_analytic(n: int) -> None:
    x = np.linspace(-1.0, 1.5, n)
    h = dn.hessian(rosenbrock)(x)
    assert h.shape == (n, n)
    np.testing.assert_allclose(h, rosenbrock_hessian(x), rtol=1e-13, atol=1e-12)


def test_hessian_quadratic_form() -> None:
    a = RNG.normal(size=(4, 4))
    x = RNG.normal(size=4)
    h = dn.hessian(lambda v: v @ a @ v)(x)
    np.testing.assert_allclose(h, a + a.T, rtol=1e-13, atol=1e-14)


def test_hessian_of_matrix_input_has_shape_in_plus_in() -> None:
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    h = dn.hessian(lambda v: np.sum(v**3))(x)
    assert h.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(h.reshape(4, 4), np.diag(6.0 * x.ravel()))


def test_hessian_argnums_tuple_gives_blocks() -> None:
    def f(a: Any, b: Any) -> Any:
        return np.sum(a**2 * b) + np.sum(b**3)

    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    h = dn.hessian(f, argnums=(0, 1))(a, b)
    (haa, hab), (hba, hbb) = h
    np.testing.assert_allclose(haa, np.diag(2 * b))
    np.testing.assert_allclose(hab, np.diag(2 * a))
    np.testing.assert_allclose(hba, np.diag(2 * a))
    np.testing.assert_allclose(hbb, np.diag(6 * b))


def test_hessian_has_aux_and_float32() -> None:
    h, aux = dn.hessian(lambda v: (np.sum(v**3), {"s": np.sum(v)}), has_aux=True)(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(h, np.diag([6.0, 12.0]))
    assert aux["s"] == 3.0 and not isinstance(aux["s"], dn.Dual)
    h32 = dn.hessian(lambda v: np.sum(v**3))(np.array([1.0, 2.0], dtype=np.float32))
    assert h32.dtype == np.float32


@pytest.mark.parametrize("chunk_size", [1, 2, 3])
def test_hessian_chunk_size_identical(chunk_size: int) -> None:
    x = np.array([-1.0, 0.5, 2.0, 1.0])
    assert_tree_equal(dn.hessian(rosenbrock)(x), dn.hessian(rosenbrock, chunk_size=chunk_size)(x))


def test_hessian_scalar() -> None:
    assert np.isclose(dn.hessian(lambda t: np.sin(t) * t)(1.0), 2 * np.cos(1.0) - np.sin(1.0))


# ---------------------------------------------------------------- supported()


def test_supported_lists_ufuncs_and_functions() -> None:
    table = dn.supported()
    assert table["ufuncs"]["sin"] == "Elementwise"
    assert table["ufuncs"]["bitwise_and"] == "Unsupported"
    assert "np.sum" in table["functions"]

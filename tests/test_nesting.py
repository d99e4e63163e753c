"""Nested transforms and perturbation confusion (DESIGN.md section 4)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import dualnumpy as dn

RNG = np.random.default_rng(1)


# ---------------------------------------------------------------- the required answers


def test_required_no_perturbation_confusion_sum() -> None:
    # d/dx [x * (d/dy (x + y))(1)] at x = 1 is 1; a confused library gives 2.
    def f(x: Any) -> Any:
        return x * dn.derivative(lambda y: x + y)(1.0)

    assert dn.derivative(f)(1.0) == 1.0


def test_required_no_perturbation_confusion_product() -> None:
    # d/dx [x * (d/dy (x * y))(2)] at x = 1 is 2.
    def f(x: Any) -> Any:
        return x * dn.derivative(lambda y: x * y)(2.0)

    assert dn.derivative(f)(1.0) == 2.0


def test_required_inner_derivative_of_outer_variable_is_zero() -> None:
    # d/dx [(d/dy x)] is 0.
    def f(x: Any) -> Any:
        return dn.derivative(lambda y: x)(3.0)

    assert dn.derivative(f)(1.0) == 0.0


def test_required_third_derivative_of_sin_by_triple_nesting() -> None:
    d3 = dn.derivative(dn.derivative(dn.derivative(np.sin)))
    assert d3(0.0) == -1.0
    x = 0.7
    np.testing.assert_allclose(d3(x), -np.cos(x), rtol=1e-15)


def test_required_answers_with_jvp_and_grad_spelling() -> None:
    def inner_jvp(x: Any) -> Any:
        return x * dn.jvp(lambda y: x + y, (1.0,), (1.0,))[1]

    assert dn.jvp(inner_jvp, (1.0,), (1.0,))[1] == 1.0

    def inner_grad(x: Any) -> Any:
        return x * dn.grad(lambda y: x * y)(2.0)

    assert dn.grad(inner_grad)(1.0) == 2.0


def test_nesting_on_arrays_no_confusion() -> None:
    x = np.array([1.0, 2.0])

    def f(v: Any) -> Any:
        inner = dn.grad(lambda w: np.sum(v * w))(np.array([5.0, 7.0]))  # = v
        return np.sum(v * inner)  # = |v|^2

    np.testing.assert_array_equal(dn.grad(f)(x), 2 * x)


# ---------------------------------------------------------------- higher derivatives


def test_derivative_of_derivative() -> None:
    f = lambda t: t**4 * np.exp(t)
    d2 = dn.derivative(dn.derivative(f))
    t = 0.8
    np.testing.assert_allclose(d2(t), (12 * t**2 + 8 * t**3 + t**4) * np.exp(t), rtol=1e-14)


def test_fourth_derivative_of_exp() -> None:
    d4 = dn.derivative(dn.derivative(dn.derivative(dn.derivative(np.exp))))
    np.testing.assert_allclose(d4(0.3), np.exp(0.3), rtol=1e-15)


def test_derivative_of_derivative_with_array_output() -> None:
    c = np.array([1.0, 2.0, 3.0])
    d2 = dn.derivative(dn.derivative(lambda t: np.sin(c * t)))
    np.testing.assert_allclose(d2(0.5), -(c**2) * np.sin(0.5 * c), rtol=1e-14)


def test_jacfwd_of_grad_is_hessian() -> None:
    a = RNG.normal(size=(3, 3))
    x = RNG.normal(size=3)

    def f(v: Any) -> Any:
        return np.sum(np.sin(v)) + v @ a @ v

    h1 = dn.jacfwd(dn.grad(f))(x)
    expected = np.diag(-np.sin(x)) + a + a.T
    np.testing.assert_allclose(h1, expected, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(dn.hessian(f)(x), h1, rtol=1e-13, atol=1e-14)


def test_hessian_equals_jacfwd_of_jacfwd() -> None:
    x = RNG.uniform(0.5, 1.5, size=(2, 2))

    def f(v: Any) -> Any:
        return np.sum(np.log(v) * v**2) + np.prod(v)

    h = dn.hessian(f)(x)
    hj = dn.jacfwd(dn.jacfwd(f))(x)
    assert h.shape == (2, 2, 2, 2)
    np.testing.assert_array_equal(h, hj)
    hm = h.reshape(4, 4)
    np.testing.assert_allclose(hm, hm.T, rtol=1e-13)


def test_jacfwd_of_jacfwd_vector_output_shape() -> None:
    x = np.array([0.3, 0.6])
    t = dn.jacfwd(dn.jacfwd(lambda v: np.stack([v[0] * v[1] ** 2, np.sin(v[0])])))(x)
    assert t.shape == (2, 2, 2)
    expected = np.zeros((2, 2, 2))
    expected[0, 0, 1] = expected[0, 1, 0] = 2 * x[1]
    expected[0, 1, 1] = 2 * x[0]
    expected[1, 0, 0] = -np.sin(x[0])
    np.testing.assert_allclose(t, expected, rtol=1e-15)


def test_grad_of_function_that_calls_grad_closing_over_outer_duals() -> None:
    # g(x) = |grad_w L(x, w)|^2 at fixed w, with L(x, w) = sum(x^2 * w^3).
    w0 = np.array([1.0, 2.0, 0.5])

    def outer(x: Any) -> Any:
        gw = dn.grad(lambda w: np.sum(x**2 * w**3))(w0)  # 3 x^2 w^2
        return np.sum(gw**2)  # 9 x^4 w^4

    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(dn.grad(outer)(x), 36 * x**3 * w0**4, rtol=1e-14)


def test_grad_closing_over_outer_dual_in_inner_chunks() -> None:
    w0 = np.arange(1.0, 6.0)

    def outer(x: Any) -> Any:
        return np.sum(dn.grad(lambda w: np.sum(np.sin(x * w)), chunk_size=2)(w0))

    x = 0.3
    # d/dx sum_i x cos(x w_i) = sum_i cos(x w_i) - x w_i sin(x w_i)
    expected = np.sum(np.cos(x * w0) - x * w0 * np.sin(x * w0))
    np.testing.assert_allclose(dn.grad(outer)(x), expected, rtol=1e-14)


def test_nested_batched_tangents_on_both_levels() -> None:
    x = np.array([0.2, 0.4, 0.6])
    w = np.array([1.0, -1.0, 2.0])
    k_outer, k_inner = 2, 3
    tx = RNG.normal(size=(k_outer, 3))
    tw = np.eye(3)[:k_inner]

    def inner(v: Any) -> Any:
        # batched inner jvp: directional derivatives of sum(exp(v * w)) wrt w
        _, dw = dn.jvp(lambda u: np.sum(np.exp(v * u)), (w,), (tw,), batched=True)
        return dw  # shape (k_inner,): v_i exp(v_i w_i)

    out, tout = dn.jvp(inner, (x,), (tx,), batched=True)
    np.testing.assert_allclose(out, x * np.exp(x * w), rtol=1e-14)
    assert tout.shape == (k_outer, k_inner)
    d = (1.0 + x * w) * np.exp(x * w)
    np.testing.assert_allclose(tout, tx * d, rtol=1e-13)


def test_nested_hand_built_duals_with_batched_tangents() -> None:
    inner = dn.Dual(np.array([1.0, 2.0]), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), tag=1)
    outer = dn.Dual(inner, dn.Dual(np.ones((2, 2)), np.zeros((3, 2, 2)), tag=1), tag=2)
    y = outer * outer  # value x^2 (inner: 2x dx), outer tangent 2x t
    assert y.tag == 2 and y.value.tag == 1
    np.testing.assert_array_equal(y.value.value, [1.0, 4.0])
    np.testing.assert_array_equal(y.value.tangent, [[2.0, 0.0], [0.0, 4.0], [2.0, 4.0]])
    np.testing.assert_array_equal(y.tangent.value, [[2.0, 4.0], [2.0, 4.0]])
    # d/d(inner) of 2 x t with t = 1: 2 * dx in each inner direction, per outer direction
    np.testing.assert_array_equal(y.tangent.tangent[:, 0, :], [[2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])


# ---------------------------------------------------------------- nesting through operations


def test_nesting_through_where() -> None:
    def f(x: Any) -> Any:
        d = dn.derivative(lambda y: np.where(y > 0, x * y**2, x**2 * y))
        return d(np.array(1.5)) + d(np.array(-1.0))  # 2*x*1.5 + x**2

    x = 0.7
    np.testing.assert_allclose(dn.derivative(f)(x), 3.0 + 2 * x, rtol=1e-15)


def test_nesting_through_max() -> None:
    def f(x: Any) -> Any:
        return dn.grad(lambda y: np.max(x * y))(np.array([1.0, 3.0, 2.0]))

    # grad_y max(x y) for x > 0 is e_1 * x; its Jacobian wrt x is e_1.
    np.testing.assert_array_equal(dn.jacfwd(f)(2.0), [0.0, 1.0, 0.0])


def test_nesting_through_indexing() -> None:
    def f(x: Any) -> Any:
        return dn.grad(lambda y: y[1] * x[0] + y[np.array([0, 0])].sum() * x[2])(np.ones(3))

    # grad_y = [2 x2, x0, 0] ; jacobian wrt x:
    expected = np.array([[0.0, 0.0, 2.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(dn.jacfwd(f)(np.array([1.0, 2.0, 3.0])), expected)


def test_nesting_through_matmul() -> None:
    a = RNG.normal(size=(3, 3))

    def f(m: Any) -> Any:
        # grad_v of v^T M A v is (M A + (M A)^T) v
        return dn.grad(lambda v: v @ (m @ a) @ v)(np.array([1.0, 0.0, -1.0]))

    m = RNG.normal(size=(3, 3))
    v = np.array([1.0, 0.0, -1.0])
    j = dn.jacfwd(f)(m)
    assert j.shape == (3, 3, 3)
    # d/dM_{pq} [(M A + A^T M^T) v]_i = delta_ip (A v)_q + A^T_{iq} v_p
    expected = np.einsum("ip,q->ipq", np.eye(3), a @ v) + np.einsum("qi,p->ipq", a, v)
    np.testing.assert_allclose(j, expected, rtol=1e-13, atol=1e-14)


def test_nesting_through_reductions() -> None:
    def f(x: Any) -> Any:
        inner = lambda y: np.sum(y * x) + np.mean(y**2) * np.prod(x) + np.cumsum(y * x)[-1]
        return np.sum(dn.grad(inner)(np.array([1.0, 2.0])))

    # grad_y inner = 2x + (2y/2) prod(x) ; summed = 2 sum(x) + 3 prod(x)
    x = np.array([0.5, 4.0])
    expected = 2.0 + 3.0 * np.array([x[1], x[0]])
    np.testing.assert_allclose(dn.grad(f)(x), expected, rtol=1e-14)


def test_nesting_with_outer_dual_as_inner_primal() -> None:
    # The inner transform differentiates at a point that is itself an outer Dual.
    def f(x: Any) -> Any:
        return dn.derivative(lambda y: y**3)(x)  # 3 x^2

    np.testing.assert_allclose(dn.derivative(f)(2.0), 12.0)
    np.testing.assert_allclose(dn.grad(lambda v: np.sum(dn.jacfwd(np.sin)(v)))(np.array([0.1, 0.2])),
                               -np.sin([0.1, 0.2]), rtol=1e-15)


@pytest.mark.parametrize("chunk_size", [None, 1, 2])
def test_hessian_of_vector_input_through_jvp_inside(chunk_size: int | None) -> None:
    def f(v: Any) -> Any:
        # directional derivative along e0 inside: d/dv0 of sum(v**3) = 3 v0^2
        return dn.jvp(lambda u: np.sum(u**3), (v,), (np.array([1.0, 0.0]),))[1] * v[1]

    h = dn.hessian(f, chunk_size=chunk_size)(np.array([1.0, 2.0]))
    # f = 3 v0^2 v1 ; H = [[6 v1, 6 v0], [6 v0, 0]]
    np.testing.assert_allclose(h, [[12.0, 6.0], [6.0, 0.0]], rtol=1e-15)


def test_hessian_through_many_operations_matches_finite_differences_of_grad() -> None:
    def f(x: Any) -> Any:
        m = x.reshape(2, 3)
        a = m[np.array([0, 1]), :][:, np.array([2, 0])]
        b = m[..., None][np.array([1, 0]), 1:, 0]  # mixed advanced, slice, Ellipsis, newaxis
        c = m.at[0, np.array([0, 2])].set(m[1, :2] ** 2)
        c = c.at[1, np.array([1, 1])].add(m[0, 0])
        c = c.at[0, 1].multiply(m[1, 2])
        w = np.where(m > 0.3, m**3, np.sin(m))
        s = np.sort(m, axis=1)
        return (np.sum(a * b[:, :2]) + np.sum(np.cumsum(c, axis=1) ** 2) + np.max(w) * np.prod(s[:, 1])
                + np.sum(m @ m.T) + np.var(m) + np.std(m, axis=0).sum() + np.mean(np.clip(m, 0.2, 0.9) ** 2))

    x = np.array([0.15, 0.62, 0.41, 0.93, 0.27, 0.78])
    h = dn.hessian(f)(x)
    g = dn.grad(f)
    eps = 1e-6
    h_fd = np.stack([(g(x + eps * e) - g(x - eps * e)) / (2 * eps) for e in np.eye(6)], axis=1)
    np.testing.assert_allclose(h, h_fd, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(h, h.T)
    for chunk in (1, 4):
        np.testing.assert_array_equal(dn.hessian(f, chunk_size=chunk)(x), h)


def test_escaped_inner_perturbation_is_refused() -> None:
    leaked: list[Any] = []

    def inner(y: Any) -> Any:
        leaked.append(y)
        return y

    def outer(x: Any) -> Any:
        dn.derivative(inner)(x)
        return x + leaked[-1]  # a Dual of the inner (newer) tag escapes its transform

    with pytest.raises(ValueError, match="escaped"):
        dn.derivative(outer)(1.0)

"""dualnumpy.custom_jvp: a user's rule serves jvp, batched jacfwd/grad, nesting, pytrees,
and the harness; bad rules and bad calls get clear errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import dualnumpy as dn
from dualnumpy import Dual, testing

# ---------------------------------------------------------------- fixtures


def opaque_erf(x: Any) -> Any:
    """erf through Python's math module: NumPy's protocols cannot see inside it."""
    return np.vectorize(math.erf, otypes=[float])(x)


@dn.custom_jvp
def erf(x: Any) -> Any:
    return opaque_erf(x)


@erf.defjvp
def _erf_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    (x,), (t,) = primals, tangents
    return erf(x), t * (2.0 / math.sqrt(math.pi)) * np.exp(-x * x)


def erf_slope(x: Any) -> Any:
    return 2.0 / math.sqrt(math.pi) * np.exp(-x * x)


CALLS: list[str] = []


@dn.custom_jvp
def sine(x: Any) -> Any:
    return np.sin(x)


@sine.defjvp
def _sine_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    CALLS.append("rule")
    (x,), (t,) = primals, tangents
    return sine(x), np.cos(x) * t


# ---------------------------------------------------------------- the transforms


def test_opaque_code_gets_derivatives_of_every_order() -> None:
    x = np.array([-0.7, 0.1, 1.3])
    with pytest.raises(TypeError):  # without the rule, the opaque body refuses a Dual
        dn.jacfwd(opaque_erf)(x)
    np.testing.assert_allclose(dn.jacfwd(erf)(x), np.diag(erf_slope(x)), rtol=1e-14)
    y, t = dn.jvp(erf, (x,), (np.ones(3),))
    np.testing.assert_array_equal(y, opaque_erf(x))
    np.testing.assert_allclose(t, erf_slope(x), rtol=1e-14)
    assert float(dn.grad(erf)(0.4)) == pytest.approx(float(erf_slope(0.4)), rel=1e-14)
    # second order: the rule's own NumPy calls carry the inner derivative
    h = dn.hessian(lambda v: np.sum(erf(v)))(x)
    np.testing.assert_allclose(h, np.diag(-2.0 * x * erf_slope(x)), rtol=1e-13)


def test_the_rule_runs_once_for_k_directions() -> None:
    CALLS.clear()
    x = np.linspace(0.1, 1.0, 6)
    jac = dn.jacfwd(sine)(x)
    assert CALLS == ["rule"]
    np.testing.assert_allclose(jac, np.diag(np.cos(x)), rtol=1e-15)
    CALLS.clear()
    _, t = dn.jvp(sine, (x,), (np.ones((4, 6)),), batched=True)
    assert CALLS == ["rule"] and t.shape == (4, 6)
    np.testing.assert_allclose(t, np.broadcast_to(np.cos(x), (4, 6)))


def test_a_better_conditioned_derivative_replaces_the_traced_one() -> None:
    def naive(x: Any) -> Any:
        return np.log1p(np.exp(x))

    @dn.custom_jvp
    def softplus(x: Any) -> Any:
        return np.logaddexp(0.0, x)

    @softplus.defjvp
    def _jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
        (x,), (t,) = primals, tangents
        return softplus(x), t * 0.5 * (1.0 + np.tanh(0.5 * x))

    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(float(dn.grad(naive)(800.0)))
    assert float(dn.grad(softplus)(800.0)) == 1.0
    assert float(dn.grad(softplus)(-800.0)) == 0.0
    assert float(dn.grad(softplus)(0.0)) == 0.5
    d2 = dn.derivative(dn.derivative(softplus))(0.3)
    s = 1.0 / (1.0 + math.exp(-0.3))
    assert float(d2) == pytest.approx(s * (1.0 - s), rel=1e-12)


def test_no_perturbation_confusion_through_a_rule() -> None:
    """d/dx [x * d/dy sine(x * y) at y = 1] = d/dx [x^2 cos(x)] = 2x cos x - x^2 sin x."""

    def inner(x: Any) -> Any:
        return x * dn.derivative(lambda y: sine(x * y))(1.0)

    x = 0.7
    assert float(dn.derivative(inner)(x)) == pytest.approx(
        2 * x * math.cos(x) - x * x * math.sin(x), rel=1e-13)


def test_pytrees_in_and_out() -> None:
    @dn.custom_jvp
    def stats(p: dict[str, Any]) -> tuple[Any, Any]:
        return p["a"] * p["b"], np.sum(p["a"])

    @stats.defjvp
    def _jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
        (p,), (t,) = primals, tangents
        out = stats(p)
        return out, (t["a"] * p["b"] + p["a"] * t["b"], np.sum(t["a"]))

    p = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, -1.0])}
    jac = dn.jacfwd(stats)(p)
    np.testing.assert_allclose(jac[0]["a"], np.diag(p["b"]))
    np.testing.assert_allclose(jac[0]["b"], np.diag(p["a"]))
    np.testing.assert_allclose(jac[1]["a"], [1.0, 1.0])
    np.testing.assert_allclose(jac[1]["b"], [0.0, 0.0])
    g = dn.grad(lambda q: stats(q)[1] + np.sum(stats(q)[0]))(p)
    np.testing.assert_allclose(g["a"], 1.0 + p["b"])
    np.testing.assert_allclose(g["b"], p["a"])


def test_nondiff_argnums_are_passed_first_and_refuse_tangents() -> None:
    @dn.custom_jvp
    def power(n: int, x: Any) -> Any:
        return x ** n

    power = dn.custom_jvp(power.fun, nondiff_argnums=(0,))

    @power.defjvp
    def _jvp(n: int, primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
        (x,), (t,) = primals, tangents
        return power(n, x), n * x ** (n - 1) * t

    assert float(dn.derivative(lambda x: power(3, x))(2.0)) == 12.0
    np.testing.assert_allclose(dn.hessian(lambda x: np.sum(power(3, x)))(np.array([1.0, 2.0])),
                               np.diag([6.0, 12.0]))
    with pytest.raises(TypeError, match="argument 0 is in nondiff_argnums"):
        dn.derivative(lambda n: power(n, 2.0))(3.0)


def test_defjvps_sums_one_rule_per_argument() -> None:
    @dn.custom_jvp
    def product(x: Any, y: Any) -> Any:
        return x * y

    product.defjvps(lambda t, ans, x, y: t * y, lambda t, ans, x, y: x * t)
    gx, gy = dn.grad(lambda a, b: np.sum(product(a, b)), argnums=(0, 1))(np.array([1.0, 2.0]), np.array([3.0, 5.0]))
    np.testing.assert_array_equal(gx, [3.0, 5.0])
    np.testing.assert_array_equal(gy, [1.0, 2.0])

    @dn.custom_jvp
    def scaled(x: Any, c: Any) -> Any:
        return c * x

    scaled.defjvps(lambda t, ans, x, c: c * t, None)
    assert float(dn.derivative(lambda x: scaled(x, 3.0))(1.0)) == 3.0
    with pytest.raises(TypeError, match="defjvps entry is None"):
        dn.derivative(lambda c: scaled(1.0, c))(3.0)


def test_a_dual_passed_by_keyword_reaches_the_rule() -> None:
    CALLS.clear()
    assert float(dn.derivative(lambda x: sine(x=x))(0.2)) == pytest.approx(math.cos(0.2), rel=1e-15)
    assert CALLS == ["rule"]

    @dn.custom_jvp
    def keyword_only(x: Any, *, scale: Any = 1.0) -> Any:
        return scale * x

    keyword_only.defjvp(lambda primals, tangents: (keyword_only(*primals), tangents[0]))
    with pytest.raises(TypeError, match="keyword-only argument 'scale' carries a tangent"):
        dn.derivative(lambda s: keyword_only(1.0, scale=s))(2.0)


def test_np_vectorize_does_not_silently_drop_the_rule() -> None:
    with pytest.raises(TypeError, match="cannot become a plain NumPy array"):
        dn.derivative(np.vectorize(sine))(0.3)


def test_a_rule_whose_tangent_code_is_opaque_runs_once_per_direction() -> None:
    @dn.custom_jvp
    def double(x: Any) -> Any:
        return 2.0 * x

    @double.defjvp
    def _jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
        (x,), (t,) = primals, tangents
        return double(x), np.array([2.0 * float(v) for v in np.ravel(t)]).reshape(np.shape(t))

    np.testing.assert_array_equal(dn.jacfwd(double)(np.array([1.0, 2.0, 3.0])), 2.0 * np.eye(3))


# ---------------------------------------------------------------- the harness


def test_check_grads_passes_a_right_rule_and_catches_a_wrong_one() -> None:
    x = np.array([0.3, -0.8])
    testing.check_grads(erf, (x,), order=2, modes=("fwd", "fd"))
    testing.check_grads(sine, (x,), order=1)

    @dn.custom_jvp
    def wrong(v: Any) -> Any:
        return np.sin(v)

    wrong.defjvp(lambda primals, tangents: (wrong(*primals), 2.0 * np.cos(primals[0]) * tangents[0]))
    with pytest.raises(AssertionError):
        testing.check_grads(wrong, (x,), order=1)


# ---------------------------------------------------------------- bad rules, bad calls


def _rule(result: Any) -> Any:
    @dn.custom_jvp
    def f(x: Any) -> Any:
        return np.sin(x)

    f.defjvp(lambda primals, tangents: result(primals[0], tangents[0]))
    return f


@pytest.mark.parametrize("result,error,message", [
    (lambda x, t: (np.sin(x), np.ones(5)), ValueError, r"tangent of shape \(5,\) for an output of shape \(3,\)"),
    (lambda x, t: (np.sin(x), np.ones(3, dtype=int)), TypeError, "tangent of dtype int64"),
    (lambda x, t: (np.sin(x), t.astype(np.float32)), TypeError, "dtype float32 for an output of dtype float64"),
    (lambda x, t: (np.sin(x), t, t), TypeError, "must return a pair"),
    (lambda x, t: np.sin(x), TypeError, "must return a pair"),
    (lambda x, t: (np.sin(x), (t, t)), TypeError, "structure"),
])
def test_a_bad_rule_is_named_with_the_fix(result: Any, error: type[Exception], message: str) -> None:
    f = _rule(result)
    with pytest.raises(error, match=message) as info:
        dn.jvp(f, (np.ones(3),), (np.ones(3),))
    assert "f:" in str(info.value) or "f " in str(info.value)


def test_a_rule_must_be_linear_in_the_tangents() -> None:
    f = _rule(lambda x, t: (np.sin(x), np.cos(x) * t + 1.0))
    with pytest.raises(TypeError, match="not linear"):
        dn.jacfwd(f)(np.ones(3))


def test_the_primal_output_may_not_depend_on_tangents() -> None:
    f = _rule(lambda x, t: (np.sin(x) + t, np.cos(x) * t))
    with pytest.raises(TypeError, match="primal output depends on the tangents"):
        dn.jacfwd(f)(np.ones(3))


def test_float32_stays_float32_and_no_rule_is_an_error() -> None:
    x = np.ones(3, dtype=np.float32)
    y, t = dn.jvp(sine, (x,), (np.ones(3, dtype=np.float32),))
    assert y.dtype == np.float32 and t.dtype == np.float32

    @dn.custom_jvp
    def bare(v: Any) -> Any:
        return v

    assert bare(2.0) == 2.0  # without Duals it is the function
    with pytest.raises(TypeError, match=r"without a rule; define one with @.*bare\.defjvp"):
        dn.derivative(bare)(1.0)


def test_plain_calls_run_the_function_unchanged() -> None:
    CALLS.clear()
    x = np.array([0.5, 1.5])
    np.testing.assert_array_equal(sine(x), np.sin(x))
    assert CALLS == []
    d = Dual(x, np.ones(2))
    out = sine(d)
    assert isinstance(out, Dual) and CALLS == ["rule"]
    np.testing.assert_array_equal(out.tangent, np.cos(x))


def test_a_rule_that_branches_on_the_tangent_is_run_per_direction() -> None:
    """k directions reach a rule as one carrier whose value is not the tangent's: comparing
    it is refused inside, and the rule runs once per direction (once wrong numbers)."""
    calls = []

    @dn.custom_jvp
    def f(x: Any) -> Any:
        return np.sin(x)

    @f.defjvp
    def f_jvp(primals: Any, tangents: Any) -> Any:
        (x,), (t,) = primals, tangents
        calls.append(1)
        if np.all(t == 0):  # a shortcut for a zero tangent
            return np.sin(x), t
        return np.sin(x), np.cos(x) * t

    x = np.array([0.5, 1.0, 2.0])
    np.testing.assert_allclose(dn.jacfwd(f)(x), np.diag(np.cos(x)), rtol=1e-15)
    assert len(calls) == 1 + 3  # the refused batched call, then one per direction

    @dn.custom_jvp
    def g(x: Any) -> Any:
        return x ** 3

    @g.defjvp
    def g_jvp(primals: Any, tangents: Any) -> Any:
        (x,), (t,) = primals, tangents
        return x ** 3, (3 * x ** 2 * t if t.any() else t)

    np.testing.assert_allclose(dn.jacfwd(g)(x), np.diag(3 * x ** 2), rtol=1e-15)
    np.testing.assert_allclose(dn.hessian(lambda v: np.sum(g(v)))(x), np.diag(6 * x), rtol=1e-14)

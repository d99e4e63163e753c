"""dualnumpy.finite_diff: accuracy, honest error estimates, step scaling, shapes, refusals,
and agreement with scipy.differentiate (a test dependency, never a runtime one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from dualnumpy import finite_diff
from dualnumpy.finite_diff import Estimate, central_step

SMOOTH: list[tuple[str, Callable[[Any], Any], Callable[[Any], Any], np.ndarray]] = [
    ("sin", np.sin, np.cos, np.array([-2.0, 0.3, 1.7, 40.0])),
    ("exp", np.exp, np.exp, np.array([-3.0, 0.0, 2.5, 10.0])),
    ("log", np.log, lambda x: 1 / x, np.array([0.05, 1.0, 7.0, 1e4])),
    ("cubic", lambda x: x ** 3 - 2 * x, lambda x: 3 * x ** 2 - 2, np.array([-1.0, 0.0, 3.0, 1e3])),
    ("arctan", np.arctan, lambda x: 1 / (1 + x * x), np.array([-5.0, 0.1, 2.0, 1e5])),
]


@pytest.mark.parametrize("method", ["richardson", "central", "complex"])
@pytest.mark.parametrize("name,f,df,x", SMOOTH, ids=[s[0] for s in SMOOTH])
def test_error_estimate_bounds_the_actual_error(method: Any, name: str, f: Any, df: Any, x: np.ndarray) -> None:
    for point in x:  # one step per direction: entries of very different sizes go one by one
        est = finite_diff.jvp(f, (point,), (1.0,), method=method)
        exact = df(point)
        actual = abs(float(est.value) - exact)
        assert actual <= float(est.error), (point, actual, est.error)
        accuracy = {"richardson": 1e-9, "central": 1e-6, "complex": 1e-14}[method]
        assert float(est.error) <= accuracy * max(1.0, abs(exact)), (point, est.error)
        assert est.method == method


def test_richardson_beats_central() -> None:
    x = np.array([0.5, 1.5])
    exact = np.exp(x) * (np.sin(x) + np.cos(x))
    fine = finite_diff.jvp(lambda x: np.exp(x) * np.sin(x), (x,), (np.ones(2),))
    rough = finite_diff.jvp(lambda x: np.exp(x) * np.sin(x), (x,), (np.ones(2),), method="central")
    assert np.max(np.abs(fine.value - exact)) < 0.1 * np.max(np.abs(rough.value - exact))


def test_step_scales_with_the_input() -> None:
    assert central_step(0.5) == central_step(1.0) == central_step(-1.0)
    assert central_step(1e6) == pytest.approx(1e6 * central_step(1.0))
    assert central_step(np.float32(2.0)) == pytest.approx(2 * np.finfo(np.float32).eps ** (1 / 3))
    # far from 1 the relative accuracy holds: a fixed step would lose it
    est = finite_diff.jvp(np.log, (1e8,), (1.0,), method="central")
    assert est.value == pytest.approx(1e-8, rel=1e-6)


@pytest.mark.parametrize("method", ["richardson", "central"])
def test_steps_shrink_to_fit_the_domain(method: Any) -> None:
    """log at 1e-8: the default step would reach past 0; the stencil shrinks until f is finite."""
    for x in (1e-8, 1e-3):
        est = finite_diff.jvp(np.log, (x,), (1.0,), method=method)
        assert est.value == pytest.approx(1 / x, rel=1e-5 if method == "richardson" else 0.1)
        assert abs(float(est.value) - 1 / x) <= float(est.error)
    est = finite_diff.jvp(np.sqrt, (np.array([1e-7, 4.0]),), (np.array([1.0, 0.0]),))
    np.testing.assert_allclose(est.value, [0.5 / np.sqrt(1e-7), 0.0], rtol=1e-6)


def test_direction_length_does_not_change_the_derivative_estimate() -> None:
    x = np.array([0.4, 2.0])
    for scale in (1e-6, 1.0, 1e6):
        est = finite_diff.jvp(np.sin, (x,), (scale * np.array([1.0, -2.0]),))
        np.testing.assert_allclose(est.value, scale * np.cos(x) * [1.0, -2.0], rtol=1e-9)


def test_float32_inputs_get_float32_steps() -> None:
    x = np.array([0.3, 2.0], dtype=np.float32)
    est = finite_diff.jvp(np.sin, (x,), (np.ones(2, np.float32),))
    np.testing.assert_allclose(est.value, np.cos(x.astype(np.float64)), rtol=1e-4)
    assert np.all(np.abs(est.value - np.cos(x.astype(np.float64))) <= est.error)


def test_pytrees_in_and_out() -> None:
    def f(p: dict[str, Any], s: float) -> Any:
        return {"a": p["w"] * s, "b": (np.sum(p["w"] ** 2), s ** 3)}

    w = np.array([1.0, 2.0])
    est = finite_diff.jvp(f, ({"w": w}, 2.0), ({"w": np.array([1.0, 0.0])}, 1.0))
    np.testing.assert_allclose(est.value["a"], [1.0 * 2 + 1.0, 2.0], rtol=1e-10)
    assert est.value["b"][0] == pytest.approx(2.0, rel=1e-10)
    assert est.value["b"][1] == pytest.approx(12.0, rel=1e-10)
    assert set(est.error) == {"a", "b"}


def test_complex_inputs_take_complex_directions() -> None:
    z = np.array([1 + 1j, 2 - 0.5j])
    v = np.array([1j, 1.0])
    est = finite_diff.jvp(np.sqrt, (z,), (v,))
    np.testing.assert_allclose(est.value, 0.5 / np.sqrt(z) * v, rtol=1e-9)
    # an R-linear, non-holomorphic map too: d|z| along v is Re(conj(z) v) / |z|
    est = finite_diff.jvp(np.abs, (z,), (v,))
    np.testing.assert_allclose(est.value, np.real(np.conj(z) * v) / np.abs(z), rtol=1e-9)


def test_complex_step_refuses_what_it_cannot_do() -> None:
    with pytest.raises(ValueError, match="not analytic"):
        finite_diff.jvp(np.abs, (np.array([1.0, -2.0]),), (np.ones(2),), method="complex")
    with pytest.raises(ValueError, match="real inputs"):
        finite_diff.jvp(np.exp, (np.array([1j]),), (np.ones(1, complex),), method="complex")


def test_jacobian_shapes_follow_jacfwd() -> None:
    x = np.arange(6.0).reshape(2, 3) / 7
    est = finite_diff.jacobian(lambda x: np.sin(x).sum(axis=0), x)
    assert est.value.shape == (3, 2, 3)
    expected = np.zeros((3, 2, 3))
    for i in range(2):
        for j in range(3):
            expected[j, i, j] = np.cos(x[i, j])
    np.testing.assert_allclose(est.value, expected, atol=1e-11)
    assert est.error.shape == (3, 2, 3)

    est = finite_diff.jacobian(lambda a, b: (a * b, np.sum(a)), np.array([1.0, 2.0]), 3.0, argnums=(0, 1))
    (d_prod_a, d_prod_b), (d_sum_a, d_sum_b) = est.value
    np.testing.assert_allclose(d_prod_a, 3 * np.eye(2), atol=1e-10)
    np.testing.assert_allclose(d_prod_b, [1.0, 2.0], rtol=1e-10)
    np.testing.assert_allclose(d_sum_a, [1.0, 1.0], rtol=1e-10)
    assert abs(d_sum_b) < 1e-12


def test_jacobian_per_entry_steps() -> None:
    """Each basis direction is scaled to its own entry: tiny and huge entries side by side."""
    x = np.array([1e-6, 1.0, 1e6])
    est = finite_diff.jacobian(np.log, x)
    np.testing.assert_allclose(np.diag(est.value), 1 / x, rtol=1e-8)


def test_kink_away_from_the_point_is_harmless_and_near_it_is_flagged() -> None:
    far = finite_diff.jvp(np.abs, (np.array([-0.5, 1e-3, 2.0]),), (np.ones(3),))
    np.testing.assert_allclose(far.value, [-1.0, 1.0, 1.0], rtol=1e-12)
    near = finite_diff.jvp(np.abs, (1e-5,), (1.0,))  # the larger stencils straddle the kink
    assert float(near.error) > 0.1, "an estimate across a kink must not claim accuracy"


def test_constant_and_integer_outputs_have_zero_derivative() -> None:
    est = finite_diff.jvp(lambda x: (np.floor(x), np.argmax(x), x > 0), (np.array([0.5, 0.7]),),
                          (np.ones(2),))
    assert all(np.all(np.asarray(v) == 0) for v in est.value)


def test_zero_direction_is_exact() -> None:
    est = finite_diff.jvp(np.exp, (np.array([1.0, 2.0]),), (np.zeros(2),))
    assert np.all(est.value == 0) and np.all(est.error == 0)


def test_estimate_is_a_small_frozen_record() -> None:
    est = finite_diff.jvp(np.sin, (0.0,), (1.0,))
    assert isinstance(est, Estimate)
    with pytest.raises(AttributeError):
        est.value = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("call,error,match", [
    (lambda: finite_diff.jvp(np.sin, (1.0,), (1.0,), method="forward"), ValueError, "method"),  # type: ignore[arg-type]
    (lambda: finite_diff.jvp(np.sin, (1.0,), (1.0,), step=-1.0), ValueError, "step"),
    (lambda: finite_diff.jvp(np.sin, (1.0,), (1.0,), levels=1), ValueError, "levels"),
    (lambda: finite_diff.jvp(np.sin, 1.0, 1.0), TypeError, "tuples"),  # type: ignore[arg-type]
    (lambda: finite_diff.jvp(np.sin, (np.ones(2),), (np.ones(3),)), ValueError, "shape"),
    (lambda: finite_diff.jvp(np.sin, (True,), (1.0,)), TypeError, "boolean"),
    (lambda: finite_diff.jvp(np.sin, (1.0,), (1j,)), TypeError, "complex"),
    (lambda: finite_diff.jvp(lambda x: "text", (1.0,), (1.0,)), TypeError, "str"),
    (lambda: finite_diff.jacobian(np.sin, np.array([1j])), TypeError, "complex"),
    (lambda: finite_diff.jacobian(np.sin, 1.0, argnums=3), ValueError, "argnums"),
])
def test_refusals(call: Callable[[], Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------- scipy.differentiate


@pytest.mark.parametrize("name,f,df,x", SMOOTH, ids=[s[0] for s in SMOOTH])
def test_agrees_with_scipy_derivative(name: str, f: Any, df: Any, x: np.ndarray) -> None:
    x = x[:3]  # scipy's default first step (0.5) needs room, and its tolerance moderate values
    ours = finite_diff.jacobian(f, x)  # per-entry steps
    ours = Estimate(np.diag(ours.value), np.diag(ours.error), ours.method, ours.step)
    differentiate = pytest.importorskip("scipy.differentiate", reason="scipy is a test extra")
    theirs = differentiate.derivative(f, x, initial_step=0.01)
    assert np.all(theirs.success)
    # each within the other's error estimate (and both near the truth)
    np.testing.assert_array_less(np.abs(ours.value - theirs.df), ours.error + theirs.error + 1e-14)
    np.testing.assert_allclose(ours.value, df(x), rtol=1e-9)


def test_jacobian_agrees_with_scipy_jacobian() -> None:
    def f(x: np.ndarray) -> np.ndarray:
        # scipy evaluates x with extra trailing axes: write f for x of shape (3, ...)
        return np.stack([x[0] * np.sin(x[1]), np.exp(x[2]) * x[0], x[1] ** 2 + np.log1p(x[2] ** 2)])

    x = np.array([0.7, -1.2, 0.4])
    ours = finite_diff.jacobian(f, x)
    differentiate = pytest.importorskip("scipy.differentiate", reason="scipy is a test extra")
    theirs = differentiate.jacobian(f, x)
    assert np.all(theirs.success | (np.abs(theirs.df) < 1e-10))  # its relative test cannot converge on 0
    np.testing.assert_allclose(ours.value, theirs.df, rtol=1e-9, atol=1e-12)
    assert np.all(np.abs(ours.value - theirs.df) <= ours.error + theirs.error + 1e-13)

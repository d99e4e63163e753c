"""dualnumpy.testing: check_jvp, check_grads and compare catch wrong derivatives, stay quiet
on correct ones (kinks included, at points that avoid them), and report what they could not
check instead of failing silently."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dualnumpy as dn
from conftest import needs_autograd
from dualnumpy import Dual, testing
from dualnumpy.rules import Elementwise, domain
from dualnumpy.rules.ufuncs import UFUNC_RULES

X = np.array([0.3, -1.2, 2.0])


# ---------------------------------------------------------------- deliberately wrong derivatives


@pytest.fixture
def wrong_sin(monkeypatch: pytest.MonkeyPatch) -> None:
    """A temporary rule for np.sin with the wrong sign: d sin = -cos."""
    monkeypatch.setitem(UFUNC_RULES, np.sin, Elementwise((lambda ans, x: -np.cos(x),),
                                                         domain((-3.0, 3.0))))


def hacked_tanh(x: Any) -> Any:
    """A Dual-level hack: the right value, twice the right tangent."""
    if isinstance(x, Dual):
        return Dual(np.tanh(x.value), 2.0 * (1.0 - np.tanh(x.value) ** 2) * x.tangent, tag=x.tag)
    return np.tanh(x)


def test_check_jvp_catches_a_wrong_custom_derivative() -> None:
    with pytest.raises(AssertionError) as info:
        testing.check_jvp(hacked_tanh, (X,))
    message = str(info.value)
    assert "disagree on 3 of 3 output entries" in message
    assert "output" in message and "fwd" in message and "fd" in message and "allowed" in message
    assert "out[0]" in message and "out[2]" in message
    assert "Traceback" not in message


def test_check_grads_catches_a_wrong_rule(wrong_sin: None) -> None:
    with pytest.raises(AssertionError) as info:
        testing.check_grads(lambda x: np.sin(x) * 2.0, (X,), modes=("fwd", "fd"))
    message = str(info.value)
    assert message.startswith("check_grads: first derivatives disagree")
    assert "fwd and fd disagree on 3 of 9 entries" in message
    lines = message.splitlines()
    header = next(line for line in lines if "output" in line)
    assert header.split() == ["output", "input", "fwd", "fd", "|diff|", "allowed"]
    row = next(line for line in lines if line.split()[:2] == ["out[0]", "x[0]"])
    assert float(row.split()[2]) == pytest.approx(-2 * np.cos(0.3))
    assert float(row.split()[3]) == pytest.approx(2 * np.cos(0.3))


def test_check_jvp_and_compare_catch_the_wrong_rule(wrong_sin: None) -> None:
    with pytest.raises(AssertionError):
        testing.check_jvp(lambda x: np.sum(np.sin(x) ** 2), (X,))
    report = testing.compare(lambda x: np.sin(x), X)
    assert not report.ok
    assert "fd" in report.disagreements
    assert report.methods["fd"].disagreeing == 3
    assert "DISAGREES on 3 entries" in str(report)
    assert "result: DISAGREE" in str(report)


def test_order_two_catches_a_wrong_second_derivative(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong rule for cos spoils only sin's second derivative: order 1 passes, order 2 fails."""
    monkeypatch.setitem(UFUNC_RULES, np.cos, Elementwise((lambda ans, x: np.sin(x),), domain((-3.0, 3.0))))

    def f(x: Any) -> Any:
        return np.sum(np.sin(x))

    testing.check_grads(f, (X,), order=1, modes=("fwd", "fd"))
    with pytest.raises(AssertionError, match="second derivatives disagree") as info:
        testing.check_grads(f, (X,), order=2, modes=("fwd", "fd"))
    assert "out / x[0]" in str(info.value)


def test_messages_list_at_most_ten_rows() -> None:
    x = np.linspace(0.1, 1.0, 12)
    with pytest.raises(AssertionError, match=r"\.\.\. and 2 more"):
        testing.check_jvp(hacked_tanh, (x,))


# ---------------------------------------------------------------- no false alarms


def _away_from(kinks: tuple[float, ...], margin: float = 1e-3) -> st.SearchStrategy[float]:
    return st.floats(-3.0, 3.0, allow_nan=False).filter(lambda v: min(abs(v - k) for k in kinks) > margin)


KINKED: list[tuple[str, Callable[[Any], Any], tuple[float, ...]]] = [
    ("abs", np.abs, (0.0,)),
    ("relu", lambda x: np.maximum(x, 0.0), (0.0,)),
    ("clip", lambda x: np.clip(x, -1.0, 1.0) * x, (-1.0, 1.0)),
    ("where", lambda x: np.where(x > 0.5, x ** 2, -x), (0.5,)),
    ("floor", lambda x: np.floor(x) * np.sin(x), tuple(float(k) for k in range(-3, 4))),
    ("hinge", lambda x: np.sum(np.maximum(1.0 - x * np.array([1.0, 2.0]), 0.0)), (1.0, 0.5)),
    ("fmod", lambda x: np.fmod(x, 0.75), (-2.25, -1.5, -0.75, 0.0, 0.75, 1.5, 2.25)),
]


@pytest.mark.parametrize("name,f,kinks", KINKED, ids=[k[0] for k in KINKED])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_no_false_alarm_near_kinks(name: str, f: Callable[[Any], Any], kinks: tuple[float, ...],
                                   data: st.DataObject) -> None:
    x = np.array([data.draw(_away_from(kinks)), data.draw(_away_from(kinks))])
    testing.check_grads(f, (x,), modes=("fwd", "fd"))
    testing.check_jvp(f, (x,))
    report = testing.compare(f, x)
    assert report.methods["fd"].agrees, str(report)


def test_no_false_alarm_on_smooth_functions_of_many_shapes() -> None:
    def f(a: Any, b: Any, c: float) -> Any:
        return {"m": np.tanh(a @ b) * c, "s": (np.sum(np.exp(-a ** 2)), np.log1p(b ** 2).mean(axis=0))}

    rng = np.random.default_rng(3)
    args = (rng.normal(size=(2, 3)), rng.normal(size=(3, 2)), 1.5)
    testing.check_grads(f, args, modes=("fwd", "fd"))
    testing.check_grads(f, args, order=2, modes=("fwd", "fd"), rtol=1e-5)
    testing.check_jvp(f, args)
    testing.check_jvp(f, args, method="central", rtol=1e-5)
    testing.check_jvp(f, args, method="complex")


def test_complex_inputs_and_outputs() -> None:
    z = np.array([1.0 + 0.5j, -0.3 + 2.0j])
    testing.check_jvp(lambda z: np.exp(z) * np.conj(z), (z,))
    testing.check_grads(lambda z: np.abs(z) ** 2 + np.sin(z), (z,), modes=("fwd", "fd"))
    report = testing.compare(lambda z: np.exp(z), z)
    assert report.inputs == ["Re x[0]", "Im x[0]", "Re x[1]", "Im x[1]"]
    assert report.methods["fd"].agrees
    # a real input with a complex output
    testing.check_grads(lambda t: np.exp(1j * t), (np.array([0.1, 2.0]),), modes=("fwd", "fd"))


# ---------------------------------------------------------------- the reverse-mode reference


def fake_reverse(kind: str) -> types.ModuleType:
    """A stand-in for dualnumpy.reverse with its contract, to test the harness's handling."""
    module = types.ModuleType("dualnumpy.reverse")

    class NoReference(TypeError):
        pass

    def vjp(f: Callable[..., Any], *primals: Any) -> Any:
        if kind == "missing":
            raise NoReference("np.sin: no VJP rule in the reference")
        if kind == "broken":
            raise RuntimeError("the tape fell over")
        nums = tuple(range(len(primals)))
        jac = dn.jacfwd(f, argnums=nums)(*primals)
        out = f(*primals)
        scale = 2.0 if kind == "wrong" else 1.0

        def pull(u: Any) -> tuple[Any, ...]:
            return tuple(scale * np.tensordot(np.conj(u), j, axes=np.ndim(u)).conj() for j in jac)

        return out, pull

    module.NoReference = NoReference  # type: ignore[attr-defined]
    module.vjp = vjp  # type: ignore[attr-defined]
    module.jacrev = lambda f, argnums=0: dn.jacfwd(f, argnums=argnums)  # type: ignore[attr-defined]
    return module


def test_reverse_reference_that_agrees(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dualnumpy.reverse", fake_reverse("right"))
    f = lambda x, y: (np.sin(x) * y, np.sum(x ** 2))
    report = testing.compare(f, X, 2.0)
    assert report.ok and report.methods["rev"].status == "ok" and report.methods["rev"].agrees
    testing.check_grads(f, (X, 2.0))
    testing.check_grads(lambda x: np.sum(np.sin(x) * x), (X,), order=2)


def test_reverse_reference_that_disagrees_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dualnumpy.reverse", fake_reverse("wrong"))
    report = testing.compare(np.sin, X)
    assert report.disagreements == ["rev"] and not report.ok
    with pytest.raises(AssertionError, match="fwd and rev disagree on 3 of 9 entries"):
        testing.check_grads(np.sin, (X,), modes=("fwd", "rev"))


def test_no_reference_is_reported_never_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dualnumpy.reverse", fake_reverse("missing"))
    report = testing.compare(np.sin, X)
    rev = report.methods["rev"]
    assert rev.status == "no reference" and rev.agrees is None
    assert "np.sin: no VJP rule" in rev.detail
    assert report.ok  # not a disagreement: forward mode still agrees with finite differences
    assert "no reference" in str(report)
    with pytest.raises(TypeError, match=r"mode 'rev' cannot compute this derivative.*np\.sin"):
        testing.check_grads(np.sin, (X,))
    testing.check_grads(np.sin, (X,), modes=("fwd", "fd"))


def test_a_crashing_reference_is_an_error_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dualnumpy.reverse", fake_reverse("broken"))
    rev = testing.compare(np.sin, X).methods["rev"]
    assert rev.status == "error" and "RuntimeError: the tape fell over" in rev.detail
    with pytest.raises(RuntimeError, match="tape fell over") as info:
        testing.check_grads(np.sin, (X,))
    assert any("mode 'rev'" in note for note in info.value.__notes__)


def test_the_real_reverse_reference() -> None:
    f = lambda x, y: np.sum(np.sin(x) * np.exp(y) * x)
    report = testing.compare(f, X, np.array([0.1, 0.2, 0.3]))
    assert report.methods["rev"].status == "ok", str(report)
    assert report.ok, str(report)
    testing.check_grads(f, (X, np.array([0.1, 0.2, 0.3])))


# ---------------------------------------------------------------- external references


@needs_autograd
def test_autograd_reference_agrees() -> None:
    f = lambda x: np.tanh(x) * np.sum(x ** 2)
    report = testing.compare(f, X, against=("autograd",))
    ag = report.methods["autograd"]
    assert ag.status == "ok" and ag.agrees, str(report)
    assert ag.max_rel_diff is not None and ag.max_rel_diff < 1e-12


@needs_autograd
def test_explicit_reference_functions() -> None:
    import autograd.numpy as anp

    report = testing.compare(lambda x: np.sin(x), X, against=("autograd",),
                             references={"autograd": lambda x: anp.sin(x)})
    assert report.methods["autograd"].agrees


def test_jax_reference_agrees_or_is_skipped() -> None:
    report = testing.compare(lambda x: np.sin(x) * x[0], X, against=("jax",))
    jax = report.methods["jax"]
    try:
        import jax as _  # noqa: F401
    except ImportError:
        assert jax.status == "skipped" and jax.detail == "jax is not installed"
    else:
        assert jax.status == "ok" and jax.agrees, str(report)


@pytest.mark.parametrize("name", ["jax", "autograd"])
def test_absent_references_are_skipped_not_errors(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setitem(sys.modules, name, None)  # import now raises ImportError
    report = testing.compare(np.sin, X, against=(name,))
    assert report.methods[name].status == "skipped"
    assert report.methods[name].detail == f"{name} is not installed"
    assert report.ok
    assert "skipped" in str(report)


def test_complex_step_reference() -> None:
    report = testing.compare(lambda x: np.exp(x) * np.sin(x), X, against=("complex-step",))
    assert report.methods["complex-step"].agrees
    report = testing.compare(np.abs, X, against=("complex-step",))
    assert report.methods["complex-step"].status == "no reference"
    assert "not analytic" in report.methods["complex-step"].detail


# ---------------------------------------------------------------- reports


def test_report_table_and_dict() -> None:
    report = testing.compare(lambda x: (np.sin(x), np.sum(x)), X, name="two outputs")
    assert list(report.methods) == ["fwd", "rev", "fd"]
    assert report.outputs == ["out[0][0]", "out[0][1]", "out[0][2]", "out[1]"]
    assert report.inputs == ["x[0]", "x[1]", "x[2]"]
    text = str(report)
    assert text.splitlines()[0].startswith("compare two outputs: Jacobian of 4 output entries by 3 input")
    assert text.splitlines()[1].split()[:6] == ["method", "status", "time", "max", "abs", "diff"]
    assert text.splitlines()[-1] == "result: agree"
    data = report.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["ok"] is True and data["function"] == "two outputs"
    fd = data["methods"]["fd"]
    assert fd["status"] == "ok" and fd["agrees"] is True and fd["seconds"] > 0
    assert np.allclose(fd["value"], data["methods"]["fwd"]["value"])
    assert np.shape(fd["value"]) == (4, 3) and np.shape(fd["error"]) == (4, 3)
    assert "value" not in report.to_dict(with_values=False)["methods"]["fd"]


def test_complex_jacobians_serialise() -> None:
    data = testing.compare(np.exp, np.array([1j, 0.5])).to_dict()
    json.dumps(data, allow_nan=False)
    assert set(data["methods"]["fwd"]["value"]) == {"real", "imag"}


def test_infinite_derivatives_serialise() -> None:
    report = testing.compare(lambda x: np.sqrt(x[0]) + x[1], np.array([0.0, 1.0]))
    json.dumps(report.to_dict(), allow_nan=False)
    assert report.to_dict()["methods"]["fwd"]["value"] == [["inf", 1.0]]


def test_forward_mode_failure_is_reported() -> None:
    report = testing.compare(lambda x: x * float(x[0]), X)  # float() drops a tangent: refused
    fwd = report.methods["fwd"]
    assert fwd.status == "error" and "TypeError" in fwd.detail
    assert "result: DISAGREE" in str(report)
    assert not report.ok


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("call,error,match", [
    (lambda: testing.check_grads(np.sin, (X,), order=3), ValueError, "order"),
    (lambda: testing.check_grads(np.sin, (X,), modes=("fwd",)), ValueError, "at least two"),
    (lambda: testing.check_grads(np.sin, (X,), modes=("fwd", "bwd")), ValueError, "modes"),
    (lambda: testing.check_grads(np.sin, (X,), modes=("fd", "fd")), ValueError, "modes"),
    (lambda: testing.check_grads(np.sin, X), TypeError, "tuple"),
    (lambda: testing.check_grads(np.sin, (X,), rtol=-1.0), ValueError, "rtol"),
    (lambda: testing.check_grads(np.sin, (X + 1j,), order=2, modes=("fwd", "fd")), TypeError, "real"),
    (lambda: testing.check_jvp(np.sin, X), TypeError, "tuple"),
    (lambda: testing.check_jvp(lambda x: "text", (X,)), TypeError, "str"),
    (lambda: testing.compare(np.sin, X, against=("torch",)), ValueError, "against"),
    (lambda: testing.compare(np.sin, np.array([True])), TypeError, "boolean"),
    (lambda: testing.compare(3.0, X), TypeError, "callable"),
])
def test_bad_input(call: Callable[[], Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()

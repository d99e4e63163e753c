"""Tests generated from the NumPy-function tables (rules/functions.py and its siblings).

Every differentiable rule carries ``samples``; each sample is checked for:
(a) the value equals NumPy's exactly, (b) the tangent matches Richardson
central differences (and complex directions where ``complex_ok``), (c) k
directions at once equal k single ones, (d) linearity in the tangent,
(e) float32 stays float32, (f) forward-over-forward nesting matches finite
differences of the JVP. Adding a rule line with samples is enough to test it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import dualnumpy as dn
from dualnumpy import Dual
from dualnumpy.numpy_facts.sampling import Sample
from dualnumpy.numpy_facts.signatures import public_name
from dualnumpy.numpy_facts.trees import flatten
from dualnumpy.rules import Linear
from dualnumpy.rules import NonDiff as NonDiffFn
from dualnumpy.rules import Unsupported as UnsupportedFn
from dualnumpy.rules.functions import FUNCTION_RULES
from dualnumpy.rules.kinds import DIFFERENTIABLE_KINDS

DIFFERENTIABLE = DIFFERENTIABLE_KINDS
RULES = sorted(FUNCTION_RULES.items(), key=lambda item: public_name(item[0]))
DIFF = [(f, r) for f, r in RULES if isinstance(r, DIFFERENTIABLE)]
CASES = [pytest.param(f, s, id=f"{public_name(f)}-{i}") for f, r in DIFF for i, s in enumerate(r.samples)]
COMPLEX_CASES = [c for c in CASES if c.values[1].complex_ok]
FLOAT32_CASES = [c for c in CASES if c.values[1].float32]


# ---------------------------------------------------------------- helpers


def _get(args: tuple[Any, ...], path: int | tuple[int, int]) -> Any:
    return args[path] if isinstance(path, int) else args[path[0]][path[1]]


def _with(args: tuple[Any, ...], replacements: dict[Any, Any]) -> tuple[Any, ...]:
    out = list(args)
    for path, value in replacements.items():
        if isinstance(path, int):
            out[path] = value
        else:
            seq = list(out[path[0]])
            seq[path[1]] = value
            out[path[0]] = type(args[path[0]])(seq)
    return tuple(out)


def _primals(s: Sample, dtype: Any = np.float64, imaginary: bool = False) -> dict[Any, Any]:
    out = {}
    for i, path in enumerate(s.duals):
        x = np.asarray(_get(s.args, path), dtype=np.float64)
        if imaginary:
            x = x + 0.5j * np.random.default_rng(100 + i).uniform(-1, 1, x.shape)
        out[path] = x.astype(dtype) if x.ndim else dtype(x) if not imaginary else x
    return out


def _directions(s: Sample, primals: dict[Any, Any], seed: int, k: int | None = None) -> dict[Any, Any]:
    rng = np.random.default_rng(seed)
    out = {}
    for path, x in primals.items():
        shape = np.shape(x) if k is None else (k, *np.shape(x))
        t = rng.standard_normal(shape)
        if np.iscomplexobj(x):
            t = t + 1j * rng.standard_normal(shape)
        out[path] = t.astype(np.result_type(x, np.float32)) if np.ndim(x) or k else t
    return out


def _call(func: Any, s: Sample, values: dict[Any, Any]) -> Any:
    return func(*_with(s.args, values), **s.kwargs)


def _jvp(func: Any, s: Sample, primals: dict[Any, Any], tangents: dict[Any, Any],
         batched: bool = False) -> tuple[list[Any], list[Any]]:
    paths = list(primals)

    def f(*xs: Any) -> Any:
        return _call(func, s, dict(zip(paths, xs, strict=True)))

    out, t_out = dn.jvp(f, tuple(primals[p] for p in paths), tuple(tangents[p] for p in paths),
                        batched=batched)
    return flatten(out)[0], flatten(t_out)[0]


def _inexact(x: Any) -> bool:
    return np.asarray(x).dtype.kind in "fc"


def _fd(func: Any, s: Sample, primals: dict[Any, Any], tangents: dict[Any, Any]) -> list[Any]:
    """Richardson-extrapolated central difference along the tangents."""
    def at(h: float) -> list[Any]:
        plus = flatten(_call(func, s, {p: primals[p] + h * tangents[p] for p in primals}))[0]
        minus = flatten(_call(func, s, {p: primals[p] - h * tangents[p] for p in primals}))[0]
        return [(np.asarray(a, dtype=complex if _inexact(a) else float) - b) / (2 * h) if _inexact(a) else None
                for a, b in zip(plus, minus, strict=True)]

    h = 1e-3
    coarse, fine = at(h), at(h / 2)
    return [None if c is None else (4 * f - c) / 3 for c, f in zip(coarse, fine, strict=True)]


def _scale(primals: dict[Any, Any]) -> float:
    return max([1.0] + [float(np.max(np.abs(x))) for x in primals.values() if np.size(x)])


# ---------------------------------------------------------------- table shape


@pytest.mark.parametrize("func,rule", [pytest.param(f, r, id=public_name(f)) for f, r in DIFF])
def test_differentiable_rules_have_samples(func: Any, rule: Any) -> None:
    assert rule.samples, f"{public_name(func)} has no samples: its rule is untested"


def test_supported_lists_every_function() -> None:
    listed = dn.supported()["functions"]
    for func, _ in RULES:
        assert public_name(func) in listed


# ---------------------------------------------------------------- generated checks


@pytest.mark.parametrize("func,s", CASES)
def test_value_is_numpys(func: Any, s: Sample) -> None:
    primals = _primals(s)
    expected = flatten(_call(func, s, primals))[0]
    out, _ = _jvp(func, s, primals, _directions(s, primals, 0))
    assert len(out) == len(expected)
    for got, want in zip(out, expected, strict=True):
        assert not isinstance(got, Dual)
        np.testing.assert_array_equal(got, want, strict=True)


def _check_tangent(func: Any, s: Sample, primals: dict[Any, Any], seed: int) -> None:
    tangents = _directions(s, primals, seed)
    _, t_out = _jvp(func, s, primals, tangents)
    fd = _fd(func, s, primals, tangents)
    for i, (t, want) in enumerate(zip(t_out, fd, strict=True)):
        if want is None:
            continue
        atol = 1e-6 * _scale(primals) * max(1.0, float(np.max(np.abs(want), initial=0.0)))
        np.testing.assert_allclose(t, want, rtol=max(s.rtol, 1e-6), atol=atol,
                                   err_msg=f"output {i}: tangent against finite differences")


@pytest.mark.parametrize("func,s", CASES)
def test_tangent_matches_finite_differences(func: Any, s: Sample) -> None:
    _check_tangent(func, s, _primals(s), seed=1)


@pytest.mark.parametrize("func,s", COMPLEX_CASES)
def test_complex_tangent_matches_finite_differences(func: Any, s: Sample) -> None:
    _check_tangent(func, s, _primals(s, np.complex128, imaginary=True), seed=2)


@pytest.mark.parametrize("func,s", CASES)
def test_batched_equals_stacked(func: Any, s: Sample) -> None:
    primals = _primals(s)
    k = 3
    batch = _directions(s, primals, 3, k=k)
    _, t_batched = _jvp(func, s, primals, batch, batched=True)
    singles = [_jvp(func, s, primals, {p: t[i] for p, t in batch.items()})[1] for i in range(k)]
    for j, t in enumerate(t_batched):
        np.testing.assert_allclose(t, np.stack([np.asarray(single[j]) for single in singles]),
                                   rtol=1e-12, atol=1e-12, err_msg=f"output {j}")


@pytest.mark.parametrize("func,s", CASES)
def test_linear_in_the_tangent(func: Any, s: Sample) -> None:
    primals = _primals(s)
    t1, t2 = _directions(s, primals, 4), _directions(s, primals, 5)
    combined = {p: 2.0 * t1[p] - 0.5 * t2[p] for p in primals}
    _, a = _jvp(func, s, primals, t1)
    _, b = _jvp(func, s, primals, t2)
    _, c = _jvp(func, s, primals, combined)
    for x, y, z in zip(a, b, c, strict=True):
        np.testing.assert_allclose(z, 2.0 * np.asarray(x) - 0.5 * np.asarray(y), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("func,s", FLOAT32_CASES)
def test_float32_stays_float32(func: Any, s: Sample) -> None:
    primals = _primals(s, np.float32)
    expected = flatten(_call(func, s, primals))[0]
    out, t_out = _jvp(func, s, primals, _directions(s, primals, 6))
    for got, want, t in zip(out, expected, t_out, strict=True):
        np.testing.assert_array_equal(got, want, strict=True)
        if _inexact(want):
            assert np.asarray(t).dtype == np.asarray(want).dtype


@pytest.mark.parametrize("func,s", CASES)
def test_forward_over_forward_matches_differences_of_the_jvp(func: Any, s: Sample) -> None:
    """Nested Duals: every rule must work on Dual values (no np.asarray inside a rule)."""
    primals = _primals(s)
    tangents = _directions(s, primals, 7)
    paths = list(primals)

    def inner(*xs: Any) -> Any:
        return _jvp(func, s, dict(zip(paths, xs, strict=True)), tangents)[1]

    _, second = dn.jvp(inner, tuple(primals[p] for p in paths), tuple(tangents[p] for p in paths))
    h = 1e-4
    plus = inner(*(primals[p] + h * tangents[p] for p in paths))
    minus = inner(*(primals[p] - h * tangents[p] for p in paths))
    for got, a, b in zip(second, plus, minus, strict=True):
        fd = (np.asarray(a) - np.asarray(b)) / (2 * h)
        np.testing.assert_allclose(got, fd, rtol=1e-4, atol=1e-5 * _scale(primals) * max(1.0, np.max(np.abs(fd), initial=0)))


# ---------------------------------------------------------------- other kinds


NONDIFF = [(f, r) for f, r in RULES if isinstance(r, NonDiffFn) and r.samples]
UNSUPPORTED = [(f, r) for f, r in RULES if isinstance(r, UnsupportedFn)]


@pytest.mark.parametrize("func,rule", [pytest.param(f, r, id=public_name(f)) for f, r in NONDIFF])
def test_nondiff_results_are_plain(func: Any, rule: Any) -> None:
    for s in rule.samples:
        primals = _primals(s)
        duals = {p: Dual(x, np.ones_like(x)) for p, x in primals.items()}
        got = flatten(_call(func, s, duals))[0]
        want = flatten(_call(func, s, primals))[0]
        for g, w in zip(got, want, strict=True):
            assert not isinstance(g, Dual)
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("func,rule", [pytest.param(f, r, id=public_name(f)) for f, r in UNSUPPORTED])
def test_unsupported_functions_raise_naming_the_fix(func: Any, rule: Any) -> None:
    d = Dual(np.arange(1.0, 7.0).reshape(2, 3), np.ones((2, 3)))
    calls = [((s.args, s.kwargs), s.duals) for s in rule.samples] or [
        ((tuple([d] * n), {}), ()) for n in range(1, 5)]
    messages = []
    for (args, kwargs), paths in calls:
        if paths:
            args = _with(args, {p: Dual(np.asarray(_get(args, p), dtype=float),
                                        np.ones(np.shape(_get(args, p)))) for p in paths})
        try:
            func(*args, **kwargs)
        except TypeError as error:
            messages.append(str(error))
            if "not supported for Duals" in str(error):
                assert rule.fix in str(error)
                return
    pytest.fail(f"{public_name(func)} did not raise dualnumpy's TypeError (give its rule a sample): "
                f"{messages}")


LINEAR_WITH_BATCHING = [c for c in CASES
                        if isinstance(FUNCTION_RULES[c.values[0]], Linear)
                        and not FUNCTION_RULES[c.values[0]].sequence
                        and FUNCTION_RULES[c.values[0]].tangent is not None]


@pytest.mark.parametrize("func,s", LINEAR_WITH_BATCHING)
def test_batching_rule_agrees_with_the_per_direction_fallback(func: Any, s: Sample) -> None:
    """A linear rule's batched tangent equals applying the function once per direction."""
    from dualnumpy.numpy_facts.signatures import bind
    from dualnumpy.rules.kinds import per_direction as _per_direction

    rule = FUNCTION_RULES[func]
    primals = _primals(s)
    bound = bind(func, _with(s.args, primals), dict(s.kwargs))
    x = bound[rule.arg]
    t = np.random.default_rng(8).standard_normal((3, *np.shape(x)))
    batched = rule.tangent(t, np.ndim(x), bound)
    looped = _per_direction(func, rule.arg, t, bound)
    pairs = zip(flatten(batched)[0], flatten(looped)[0], strict=True)  # split, unstack: several outputs
    for j, (b, loop) in enumerate(pairs):
        np.testing.assert_allclose(b, loop, rtol=1e-13, atol=1e-13, err_msg=f"output {j}")

"""The scalar fast path (ScalarDual) gives bit-identical results to the general path.

Generated from the ufunc table: every unary or binary rule the fast path has a
kernel for is run on scalars both ways, with one and with several directions.
"""

from __future__ import annotations

import math
import operator
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dualnumpy as dn
from dualnumpy.core import scalar as _scalar
from dualnumpy.core.dual import Dual
from dualnumpy.core.scalar import ScalarDual, make_scalar
from dualnumpy.rules.ufuncs import UFUNC_RULES

UNARY = sorted(_scalar._UNARY, key=lambda u: u.__name__)
BINARY = sorted(_scalar._BINARY, key=lambda u: u.__name__)


def _general(value: Any, t: tuple[float, ...], tag: int, batched: bool) -> Dual:
    return Dual(np.float64(value), np.array(t) if batched else t[0], tag=tag)


def _same(a: Any, b: Any) -> None:
    """Equal to the bit: NaNs in the same places, zeros of the same sign."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    np.testing.assert_array_equal(np.signbit(a), np.signbit(b))
    np.testing.assert_array_equal(a, b)


def _check(fast: Any, general: Any) -> None:
    if not isinstance(general, Dual):
        assert not isinstance(fast, Dual)
        _same(fast, general)
        return
    assert isinstance(fast, ScalarDual), "the fast path fell back to the general one"
    _same(fast.value, general.value)
    _same(fast.tangent, general.tangent)
    assert type(fast.value) is type(general.value)


def _sample(draw: Any, interval: tuple[float, float]) -> float:
    return float(draw(st.floats(*interval, allow_nan=False)))


directions = st.sampled_from([(1.0,), (1.0, 0.0, -2.5), (0.0, 0.0), (3.0, 1e-3, 0.0, -1.0)])


@pytest.mark.parametrize("ufunc", UNARY, ids=lambda u: u.__name__)
@settings(max_examples=30, deadline=None)
@given(data=st.data(), t=directions, batched=st.booleans())
def test_unary_kernels_match_the_general_path(ufunc: np.ufunc, data: Any, t: tuple[float, ...],
                                              batched: bool) -> None:
    t = t if batched else t[:1]
    x = _sample(data.draw, UFUNC_RULES[ufunc].domain.intervals[0])  # type: ignore[union-attr]
    fast = ufunc(make_scalar(np.float64(x), t, 7, batched))
    _check(fast, ufunc(_general(x, t, 7, batched)))


@pytest.mark.parametrize("ufunc", BINARY, ids=lambda u: u.__name__)
@settings(max_examples=30, deadline=None)
@given(data=st.data(), t=directions, batched=st.booleans(), pattern=st.sampled_from(["both", "left", "right"]))
def test_binary_kernels_match_the_general_path(ufunc: np.ufunc, data: Any, t: tuple[float, ...],
                                               batched: bool, pattern: str) -> None:
    rule = UFUNC_RULES[ufunc]
    t = t if batched else t[:1]
    domain = getattr(rule, "domain", None)
    intervals = domain.intervals if domain is not None else ((-3.0, 3.0), (-3.0, 3.0))
    x, y = (_sample(data.draw, interval) for interval in intervals)
    if domain is not None and 1 in domain.integer_args:
        y = int(y)
    if ufunc is np.power or (domain is not None and 1 in domain.constant_args):
        pattern = "left"
    u = tuple(reversed(t))
    if pattern == "both":
        fast = ufunc(make_scalar(np.float64(x), t, 7, batched), make_scalar(np.float64(y), u, 7, batched))
        general = ufunc(_general(x, t, 7, batched), _general(y, u, 7, batched))
    elif pattern == "left":
        y_const: Any = data.draw(st.sampled_from([2, 0.5, 3, -1.0, 1, 0])) if ufunc is np.power else y
        fast = ufunc(make_scalar(np.float64(x), t, 7, batched), y_const)
        general = ufunc(_general(x, t, 7, batched), y_const)
    else:
        fast = ufunc(x, make_scalar(np.float64(y), t, 7, batched))
        general = ufunc(x, _general(y, t, 7, batched))
    _check(fast, general)


OPERATORS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow]


@pytest.mark.parametrize("op", OPERATORS, ids=lambda o: o.__name__)
@pytest.mark.parametrize("constant", [2, 0.5, -1.5, 0, 1])
def test_operators_with_constants_match(op: Any, constant: float) -> None:
    t = (1.0, -2.0, 0.0)
    fast = op(make_scalar(np.float64(1.7), t, 7, True), constant)
    _check(fast, op(_general(1.7, t, 7, True), constant))
    if op is not operator.pow:
        fast = op(constant, make_scalar(np.float64(1.7), t, 7, True))
        general = op(constant, _general(1.7, t, 7, True))
        if isinstance(fast, ScalarDual) or isinstance(general, Dual):
            _same(fast.value, general.value)
            _same(fast.tangent, general.tangent)


def test_singular_points_mask_zero_directions_like_the_general_path() -> None:
    t = (1.0, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # derivatives must not warn where the value did not
        fast = np.sqrt(make_scalar(np.float64(0.0), t, 7, True))
    general = np.sqrt(_general(0.0, t, 7, True))
    _check(fast, general)
    assert math.isinf(fast.tangent[0]) and fast.tangent[1] == 0.0


@pytest.mark.parametrize("ufunc", [np.hypot, np.arctan2], ids=lambda u: u.__name__)
@pytest.mark.parametrize("point", [(0.0, 0.0), (-0.0, 0.0), (0.0, -0.0), (-0.0, -0.0),
                                   (0.0, 1.5), (-2.0, -0.0)])
def test_origin_and_axes_match_the_general_path(ufunc: np.ufunc, point: tuple[float, float]) -> None:
    """hypot and arctan2 where a coordinate is zero: bit-identical, 0 at the origin, no warning."""
    x, y = point
    t, u = (1.0, 0.0, -2.5), (0.5, 1.0, 0.0)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        for batched in (False, True):
            tt, uu = (t, u) if batched else (t[:1], u[:1])
            cases = [
                (ufunc(make_scalar(np.float64(x), tt, 7, batched), make_scalar(np.float64(y), uu, 7, batched)),
                 ufunc(_general(x, tt, 7, batched), _general(y, uu, 7, batched))),
                (ufunc(make_scalar(np.float64(x), tt, 7, batched), y), ufunc(_general(x, tt, 7, batched), y)),
                (ufunc(x, make_scalar(np.float64(y), tt, 7, batched)), ufunc(x, _general(y, tt, 7, batched))),
            ]
            for fast, general in cases:
                _check(fast, general)
                if x == 0 and y == 0:
                    assert np.all(np.asarray(fast.tangent) == 0.0)


def test_grad_of_scalars_equals_the_array_path() -> None:
    def f(a: Any, b: Any, c: Any) -> Any:
        return np.log((np.sin(a * b) + np.exp(c - a / b)) ** 2) * c + np.sqrt(a * a + b * b) - b ** 3

    fast = dn.grad(f, argnums=(0, 1, 2))(1.3, 0.7, 2.1)
    general = dn.grad(lambda v: f(v[0], v[1], v[2]))(np.array([1.3, 0.7, 2.1]))
    _same(np.array(fast), general)


def test_mixing_with_arrays_falls_back_to_the_general_path() -> None:
    def f(a: Any) -> Any:
        return np.sum(a * np.array([1.0, 2.0, 3.0])) + a ** 2

    assert dn.grad(f)(2.0) == 6.0 + 4.0


def test_scalar_dual_is_a_dual() -> None:
    d = make_scalar(np.float64(2.0), (1.0, 0.0), 3, True)
    assert isinstance(d, Dual) and d.batched and d.shape == ()
    np.testing.assert_array_equal(d.tangent, [1.0, 0.0])
    assert "Dual(" in repr(d)

"""A fast path for real scalar Duals with a few directions (gradients of scalar code).

For a function of a handful of Python floats, NumPy's per-call cost on tiny
tangent arrays (about half a microsecond an operation) would dominate, ten
times over, the arithmetic itself. ``ScalarDual`` keeps its k directions as a
tuple of floats instead. It is a Dual in every respect: ``.tangent``
materialises the array, so any operation without a fast form goes through the
general rules unchanged. The fast forms apply the very partials of the rule
table, term by term in the same order, so results are bit-identical to the
general path (tests/test_scalar_fast_path.py checks this).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from dualnumpy.core import interpreter
from dualnumpy.core.dual import Dual, _set_tag, _set_value
from dualnumpy.rules import ufuncs as ufunc_table
from dualnumpy.rules.kinds import MINUS_ONE, ONE, ZERO, Elementwise, Linear, NonDiff, loud, quiet

_new = object.__new__

Directions = tuple[Any, ...]


class ScalarDual(Dual):
    """A real scalar Dual whose directions are a tuple of floats (internal fast path)."""

    __slots__ = ("_batched", "_t")

    _t: Directions
    _batched: bool

    @property
    def tangent(self) -> Any:
        if self._batched:
            return np.array(self._t, dtype=np.float64)
        return np.float64(self._t[0])

    @property
    def batched(self) -> bool:
        return self._batched

    def __reduce__(self) -> Any:
        return (_rebuild, (self.value, self.tangent, self.tag))

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method == "__call__" and not kwargs:
            result = fast_call(ufunc, inputs)
            if result is not None:
                return result
        return interpreter.ufunc(ufunc, method, inputs, kwargs)


def _rebuild(value: Any, tangent: Any, tag: int) -> Dual:
    return Dual(value, tangent, tag=tag)


_set_t = ScalarDual.__dict__["_t"].__set__
_set_batched = ScalarDual.__dict__["_batched"].__set__


def make_scalar(value: Any, t: Directions, tag: int, batched: bool) -> ScalarDual:
    dual: ScalarDual = _new(ScalarDual)
    _set_value(dual, value)
    _set_tag(dual, tag)
    _set_t(dual, t)
    _set_batched(dual, batched)
    return dual


def _scaled(d: float, t: Directions, singular: bool) -> Directions:
    """Per direction ``d * t``; a zero direction wins over an infinite partial (as times_tangent)."""
    if singular and not math.isfinite(d):
        return tuple([0.0 if a == 0 else d * a for a in t])
    return tuple([d * a for a in t])


def _combine(coefficients: list[float], directions: list[Directions], singular: bool) -> Directions:
    """The sum of ``d_i * t_i`` in input order, as add_terms sums the general path's terms."""
    total = _scaled(coefficients[0], directions[0], singular)
    for d, t in zip(coefficients[1:], directions[1:], strict=True):
        total = tuple([a + b for a, b in zip(total, _scaled(d, t, singular), strict=True)])
    return total


def _evaluate(partial: Any, ans: Any, values: tuple[Any, ...], singular: bool) -> float:
    if not singular:
        return float(partial(ans, *values))
    token = quiet()
    try:
        return float(partial(ans, *values))
    finally:
        loud(token)


def _as_float(c: Any) -> Any:
    """Partials see constants as float64 scalars, as promote_int makes them in the general path."""
    return c if type(c) is np.float64 else np.float64(c)


# IEEE arithmetic on float64 scalars is what the ufunc computes, bit for bit, at a
# tenth of the cost of a ufunc call on scalars. (Not so for power: NumPy's scalar
# power and np.power differ in the last bit, so power calls the ufunc.)
_SCALAR_ARITHMETIC: dict[np.ufunc, Callable[[Any, Any], Any]] = {
    np.add: operator.add,
    np.subtract: operator.sub,
    np.multiply: operator.mul,
    np.divide: operator.truediv,
}

# A unit partial becomes the coefficient +-1.0: exact in IEEE arithmetic
# (1.0 * a == a, -1.0 * a == -a), so sums match the general path's t + (-t2).
_UNIT_COEFFICIENT = {id(ONE): 1.0, id(MINUS_ONE): -1.0}

Unary = Callable[[ScalarDual], ScalarDual]
Binary = Callable[[Any, Any], Any]


# Linear maps that Python applies to a float exactly as the ufunc does.
_SCALAR_LINEAR: dict[np.ufunc, Callable[[Any], Any]] = {np.negative: operator.neg, np.positive: operator.pos}


def _unary_kernel(ufunc: np.ufunc, rule: Any) -> Unary | None:
    if type(rule) is Linear:
        apply = _SCALAR_LINEAR.get(ufunc, ufunc)

        def linear(x: ScalarDual) -> ScalarDual:
            return make_scalar(ufunc(x.value), tuple([apply(a) for a in x._t]), x.tag, x._batched)
        return linear
    if type(rule) is not Elementwise:
        return None
    partial: Any = rule.partials[0]
    if partial is ZERO or _UNIT_COEFFICIENT.get(id(partial)) is not None:
        return None  # no unary table line has a constant partial; the general path copes
    if rule.singular:
        def singular(x: ScalarDual) -> ScalarDual:
            v = x.value
            ans = ufunc(v)
            return make_scalar(ans, _scaled(_evaluate(partial, ans, (v,), True), x._t, True),
                               x.tag, x._batched)
        return singular

    def smooth(x: ScalarDual) -> ScalarDual:
        v = x.value
        ans = ufunc(v)
        d = float(partial(ans, v))
        return make_scalar(ans, tuple([d * a for a in x._t]), x.tag, x._batched)

    return smooth


def _binary_kernels(ufunc: np.ufunc, rule: Any) -> tuple[Binary, Binary, Binary] | None:
    """Kernels for (Dual, Dual), (Dual, constant) and (constant, Dual); None means general path."""
    if type(rule) is NonDiff:
        def plain(a: Any, b: Any) -> Any:
            return ufunc(a.value if type(a) is ScalarDual else a, b.value if type(b) is ScalarDual else b)
        return plain, plain, plain
    if ufunc is np.power:
        return _no_kernel, _power_left, _no_kernel
    if type(rule) is not Elementwise:
        return None
    p0: Any = rule.partials[0]
    p1: Any = rule.partials[1]
    u0, u1 = _UNIT_COEFFICIENT.get(id(p0)), _UNIT_COEFFICIENT.get(id(p1))
    singular = rule.singular
    value = _SCALAR_ARITHMETIC.get(ufunc, ufunc)

    def coefficient(partial: Any, unit: float | None, ans: Any, xv: Any, yv: Any) -> float:
        return unit if unit is not None else _evaluate(partial, ans, (xv, yv), singular)

    def c0(ans: Any, xv: Any, yv: Any) -> float:
        return 0.0 if p0 is ZERO else float(p0(ans, xv, yv))

    def c1(ans: Any, xv: Any, yv: Any) -> float:
        return 0.0 if p1 is ZERO else float(p1(ans, xv, yv))

    def partials(ans: Any, xv: Any, yv: Any) -> tuple[float, float]:
        """Both partials at once, under one quiet error state where they may divide by zero."""
        if not singular:
            return (u0 if u0 is not None else c0(ans, xv, yv), u1 if u1 is not None else c1(ans, xv, yv))
        token = quiet()
        try:
            return (u0 if u0 is not None else c0(ans, xv, yv), u1 if u1 is not None else c1(ans, xv, yv))
        finally:
            loud(token)

    if u0 == 1.0 and u1 == 1.0:
        def both(x: ScalarDual, y: ScalarDual) -> ScalarDual:
            return make_scalar(value(x.value, y.value), tuple([a + b for a, b in zip(x._t, y._t, strict=True)]),
                               x.tag, x._batched)
    elif u0 == 1.0 and u1 == -1.0:
        def both(x: ScalarDual, y: ScalarDual) -> ScalarDual:
            # a - b is a + (-b) exactly, as the general path sums it
            return make_scalar(value(x.value, y.value), tuple([a - b for a, b in zip(x._t, y._t, strict=True)]),
                               x.tag, x._batched)
    elif p0 is not ZERO and p1 is not ZERO:
        def both(x: ScalarDual, y: ScalarDual) -> ScalarDual:
            xv, yv = x.value, y.value
            ans = value(xv, yv)
            d0, d1 = partials(ans, xv, yv)
            if math.isfinite(d0) and math.isfinite(d1):
                t = tuple([d0 * a + d1 * b for a, b in zip(x._t, y._t, strict=True)])
            else:
                t = _combine([d0, d1], [x._t, y._t], singular)
            return make_scalar(ans, t, x.tag, x._batched)
    else:
        def both(x: ScalarDual, y: ScalarDual) -> ScalarDual:
            xv, yv = x.value, y.value
            ans = value(xv, yv)
            if p0 is ZERO:
                t = _scaled(coefficient(p1, u1, ans, xv, yv), y._t, singular)
            else:
                t = _scaled(coefficient(p0, u0, ans, xv, yv), x._t, singular)
            return make_scalar(ans, t, x.tag, x._batched)

    def left(x: ScalarDual, c: Any) -> ScalarDual:
        xv = x.value
        ans = value(xv, c)
        if p0 is ZERO:
            return make_scalar(ans, tuple([0.0] * len(x._t)), x.tag, x._batched)
        if u0 == 1.0:
            return make_scalar(ans, x._t, x.tag, x._batched)
        d = partials(ans, xv, _as_float(c))[0]
        if math.isfinite(d):
            return make_scalar(ans, tuple([d * a for a in x._t]), x.tag, x._batched)
        return make_scalar(ans, _scaled(d, x._t, singular), x.tag, x._batched)

    def right(c: Any, y: ScalarDual) -> ScalarDual:
        yv = y.value
        ans = value(c if type(c) is np.float64 else np.float64(c), yv)
        if p1 is ZERO:
            return make_scalar(ans, tuple([0.0] * len(y._t)), y.tag, y._batched)
        if u1 == 1.0:
            return make_scalar(ans, y._t, y.tag, y._batched)
        d = partials(ans, _as_float(c), yv)[1]
        if math.isfinite(d):
            return make_scalar(ans, tuple([d * a for a in y._t]), y.tag, y._batched)
        return make_scalar(ans, _scaled(d, y._t, singular), y.tag, y._batched)

    return both, left, right


def _no_kernel(a: Any, b: Any) -> None:
    return None


def _power_left(x: ScalarDual, c: Any) -> ScalarDual | None:
    """x ** c for a constant Python exponent, by the rule's constant-exponent partial."""
    if type(c) is not int and type(c) is not float:
        return None
    xv = x.value
    ans = np.power(xv, c)
    exponent = float(c)
    if exponent < 1:  # x**(c-1) may divide by zero
        token = quiet()
        try:
            d, singular = ufunc_table.constant_exponent_partial(xv, exponent)
        finally:
            loud(token)
    else:
        d, singular = ufunc_table.constant_exponent_partial(xv, exponent)
    if d is ONE:
        return make_scalar(ans, x._t, x.tag, x._batched)
    if d is None:
        return make_scalar(ans, tuple([0.0] * len(x._t)), x.tag, x._batched)
    return make_scalar(ans, _scaled(float(d), x._t, singular), x.tag, x._batched)


_UNARY: dict[np.ufunc, Unary] = {}
_BINARY: dict[np.ufunc, tuple[Binary, Binary, Binary]] = {}
for _ufunc, _rule in ufunc_table.UFUNC_RULES.items():
    if _ufunc.nout != 1:
        continue
    if _ufunc.nin == 1 and (_unary := _unary_kernel(_ufunc, _rule)) is not None:
        _UNARY[_ufunc] = _unary
    elif _ufunc.nin == 2 and _ufunc.signature is None:
        _kernels = _binary_kernels(_ufunc, _rule)
        if _kernels is not None:
            _BINARY[_ufunc] = _kernels


def _is_constant(x: Any) -> bool:
    cls = type(x)
    return cls is float or cls is np.float64 or cls is int


def _binary(kernels: tuple[Binary, Binary, Binary], a: Any, b: Any) -> Any:
    both, left, right = kernels
    if type(a) is ScalarDual:
        if type(b) is ScalarDual:
            if a.tag == b.tag:
                return both(a, b)
            return None
        return left(a, b) if _is_constant(b) else None
    if type(b) is ScalarDual and _is_constant(a):
        return right(a, b)
    return None


def fast_call(ufunc: np.ufunc, inputs: tuple[Any, ...]) -> Any:
    """``ufunc(*inputs)`` by a fast kernel, or None to take the general path."""
    if len(inputs) == 1:
        unary = _UNARY.get(ufunc)
        return None if unary is None or type(inputs[0]) is not ScalarDual else unary(inputs[0])
    kernels = _BINARY.get(ufunc)
    if kernels is None or len(inputs) != 2:
        return None
    return _binary(kernels, inputs[0], inputs[1])


def _operator(ufunc: np.ufunc, general: Callable[[Dual, Any], Any], reflected: bool) -> Any:
    both, left, right = _BINARY[ufunc]

    def method(self: ScalarDual, other: Any) -> Any:
        cls = type(other)
        if cls is ScalarDual:
            if other.tag == self.tag:
                result = both(other, self) if reflected else both(self, other)
                if result is not None:
                    return result
        elif cls is float or cls is np.float64 or cls is int:
            result = right(other, self) if reflected else left(self, other)
            if result is not None:
                return result
        return general(self, other)

    method.__name__ = general.__name__
    return method


def _unary_operator(ufunc: np.ufunc, general: Callable[[Dual], Any]) -> Any:
    kernel = _UNARY[ufunc]

    def method(self: ScalarDual) -> Any:
        return kernel(self)

    method.__name__ = general.__name__
    return method


for _name, _op_ufunc, _reflected in (
    ("__add__", np.add, False), ("__radd__", np.add, True),
    ("__sub__", np.subtract, False), ("__rsub__", np.subtract, True),
    ("__mul__", np.multiply, False), ("__rmul__", np.multiply, True),
    ("__truediv__", np.divide, False), ("__rtruediv__", np.divide, True),
    ("__pow__", np.power, False), ("__rpow__", np.power, True),
    ("__lt__", np.less, False), ("__le__", np.less_equal, False),
    ("__gt__", np.greater, False), ("__ge__", np.greater_equal, False),
    ("__eq__", np.equal, False), ("__ne__", np.not_equal, False),
):
    setattr(ScalarDual, _name, _operator(_op_ufunc, getattr(Dual, _name), _reflected))
for _name, _unary_ufunc in (("__neg__", np.negative), ("__pos__", np.positive), ("__abs__", np.absolute)):
    if _unary_ufunc in _UNARY:
        setattr(ScalarDual, _name, _unary_operator(_unary_ufunc, getattr(Dual, _name)))


#: Beyond this many directions a tangent array beats a tuple of floats.
MAX_DIRECTIONS = 16


def is_fast_scalar(x: Any) -> bool:
    """A real float64 scalar input (not a Dual, not an array) that may take the fast path."""
    return type(x) in (float, np.float64)

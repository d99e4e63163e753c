"""The VJP rules of NumPy's ufuncs: elementwise ufuncs from their partial derivatives,
the matrix-product ufuncs (matmul, vecdot, matvec, vecmat) as einsum nodes, the
ufuncs without a derivative, the pullbacks of ``ufunc.reduce`` and ``ufunc.accumulate``
(``REDUCE_VJPS``, ``ACCUMULATE_VJPS``; the ones np.sum and friends share live in
``common``), and ``apply_ufunc``, the ``__array_ufunc__`` of a Var.

The forward counterpart is ``dualnumpy.rules.ufuncs``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy._core import umath as _umath

from ...numpy_facts.sampling import OPEN_UNIT, POSITIVE, REAL_LINE
from ..node import NoReference, Var, value_of
from .common import (
    _accumulate_add,
    _accumulate_multiply,
    _accumulate_node,
    _axes,
    _expand,
    _has_var,
    _missing,
    _promote,
    _reduce_add,
    _reduce_extremum,
    _reduce_multiply,
    _refuse_out,
    _weights,
    _where_mask,
    clip_cotangents,
    einsum_node,
    node,
    strip,
    times,
)

#: A ufunc pullback: ``(g, ans, xs, i) -> cotangent of input i``; None means "no contribution".
UfuncVJP = Callable[[Any, Any, Sequence[Any], int], Any]

umath: Any = _umath

LN2 = math.log(2.0)
LN10 = math.log(10.0)
DEG = math.pi / 180.0


# ---------------------------------------------------------------- sample points


@dataclass(frozen=True)
class UfuncSample:
    """Where the tests may sample a ufunc rule.

    ``intervals`` holds one closed interval per input (values drawn uniformly,
    away from kinks); ``shapes`` the input shapes of each test case (they
    broadcast, so the reduction of broadcast cotangents is tested);
    ``constant`` lists inputs that are never differentiated and ``integer``
    inputs drawn as integers.
    """

    intervals: tuple[tuple[float, float], ...]
    shapes: tuple[tuple[tuple[int, ...], ...], ...] = ()
    constant: tuple[int, ...] = ()
    integer: tuple[int, ...] = ()

    def cases(self) -> tuple[tuple[tuple[int, ...], ...], ...]:
        if self.shapes:
            return self.shapes
        return {
            1: (((2, 3),), ((),)),
            2: (((2, 3), (3,)), ((3, 1), (1, 2)), ((), (2,))),
            3: (((2, 3), (3,), (2, 1)),),
        }[len(self.intervals)]


# ---------------------------------------------------------------- ufunc rules


@dataclass(frozen=True)
class UfuncRule:
    """A ufunc called elementwise: one pullback per output and input.

    ``vjps[o]`` is ``None`` for an output without derivative (piecewise
    constant); otherwise a function ``(g, ans, xs, i)`` giving the cotangent of
    input ``i`` (it may return ``None`` for no contribution). ``complex_ok``
    says complex inputs are covered; ``constant`` inputs must not be Vars.
    """

    vjps: tuple[UfuncVJP | None, ...]
    sample: UfuncSample
    complex_ok: bool = False
    constant: tuple[int, ...] = ()


@dataclass(frozen=True)
class GufuncRule:
    """A matrix-product ufunc, as an einsum over its core dimensions.

    ``spec(ndim_a, ndim_b)`` gives the einsum string with ``...`` for the loop
    dimensions; ``conj_first`` says the first operand enters conjugated
    (``vecdot`` and ``vecmat`` take ``conj(a)``).
    """

    spec: Callable[[int, int], str]
    conj_first: bool
    sample: UfuncSample
    complex_ok: bool = True


def elementwise(*partials: Callable[..., Any], sample: UfuncSample, complex_ok: bool = False,
                constant: tuple[int, ...] = ()) -> UfuncRule:
    """A single-output ufunc from its partial derivatives ``partial_i(ans, *xs)``."""

    def vjp(g: Any, ans: Any, xs: Sequence[Any], i: int) -> Any:
        return times(g, partials[i](ans, *xs))

    return UfuncRule((vjp,), sample, complex_ok, constant)


def custom(vjp: UfuncVJP, sample: UfuncSample, complex_ok: bool = False) -> UfuncRule:
    return UfuncRule((vjp,), sample, complex_ok)


def _piecewise_constant(sample: UfuncSample) -> UfuncRule:
    return UfuncRule((None,), sample)


def _vjp_absolute(g: Any, ans: Any, xs: Sequence[Any], i: int) -> Any:
    """|z| is R-linear to first order: d|z| = Re(conj(z) dz) / |z|, adjoint g z / |z|; 0 at z = 0."""
    (x,) = xs
    with np.errstate(all="ignore"):
        return np.where(ans == 0, 0, g * (x / ans))


def _vjp_sign(g: Any, ans: Any, xs: Sequence[Any], i: int) -> Any:
    """Real sign is piecewise constant. Complex s = z/|z|: ds = (dz - s Re(conj(s) dz)) / |z|,
    a self-adjoint projection divided by |z|; 0 at z = 0."""
    (x,) = xs
    if not np.iscomplexobj(x):
        return None
    r = np.abs(x)
    with np.errstate(all="ignore"):
        out = (g - ans * np.real(np.conjugate(ans) * g)) / r
    return np.where(r == 0, 0, out)


def _vjp_conjugate(g: Any, ans: Any, xs: Sequence[Any], i: int) -> Any:
    """conj is R-linear: <w, conj(t)> = Re(w t) = <conj(w), t>."""
    return np.conjugate(g)


def _extremum(first_wins: Callable[[Any, Any], Any]) -> UfuncRule:
    def vjp(g: Any, ans: Any, xs: Sequence[Any], i: int) -> Any:
        x, y = xs
        w = _weights(x, y, first_wins(x, y))
        return g * w[i]

    return custom(vjp, UfuncSample(((-3.0, 3.0), (-3.0, 3.0))))


def _max_wins(x: Any, y: Any) -> Any:
    return (x > y) | np.isnan(x)


def _min_wins(x: Any, y: Any) -> Any:
    return (x < y) | np.isnan(x)


def _fmax_wins(x: Any, y: Any) -> Any:
    return (x > y) | np.isnan(y)


def _fmin_wins(x: Any, y: Any) -> Any:
    return (x < y) | np.isnan(y)


def _vjp_clip(g: Any, ans: Any, xs: Sequence[Any], i: int) -> Any:
    return clip_cotangents(g, *xs)[i]


def _vjp_remainder(g: Any, ans: Any, xs: Sequence[Any], i: int) -> Any:
    """x - y floor(x / y): d/dx = 1, d/dy = -floor(x / y)."""
    x, y = xs
    return g if i == 0 else times(g, -np.floor_divide(x, y))


def _vjp_modf_fraction(g: Any, ans: Any, xs: Sequence[Any], i: int) -> Any:
    return g


def _vjp_frexp_mantissa(g: Any, ans: Any, xs: Sequence[Any], i: int) -> Any:
    """x = m 2**e with e locally constant: dm/dx = 2**-e."""
    (x,) = xs
    return g * np.ldexp(1.0, -np.frexp(x)[1])


def _power_dx(a: Any, x: Any, y: Any) -> Any:
    """d(x**y)/dx = y x**(y-1); flat where y = 0 (x**0 is the constant 1, also at x = 0)."""
    return np.where(np.equal(y, 0), 0.0, y * x ** (y - 1))


def _power_dy(a: Any, x: Any, y: Any) -> Any:
    """d(x**y)/dy = x**y log x; flat where x = 0 (0**y is the constant 0 for y > 0)."""
    return np.where(np.equal(x, 0), 0.0, a * np.log(x))


def _float_power_dx(a: Any, x: Any, y: Any) -> Any:
    return np.where(np.equal(y, 0), 0.0, y * np.float_power(x, np.subtract(y, 1)))


def _float_power_dy(a: Any, x: Any, y: Any) -> Any:
    return np.where(np.equal(x, 0), 0.0, a * np.log(np.asarray(x, dtype=np.result_type(a))))


def _atan2_d(a: Any, y: Any, x: Any, which: int) -> Any:
    """atan2(y, x): d/dy = x / r**2, d/dx = -y / r**2; 0 at the origin."""
    r2 = x * x + y * y
    num = x if which == 0 else -y
    return np.where(r2 == 0, 0.0, num / r2)


def _hypot_d(a: Any, x: Any, y: Any, which: int) -> Any:
    return np.where(a == 0, 0.0, (x if which == 0 else y) / a)


def _sigmoid(z: Any) -> Any:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


REAL, POS, UNIT = REAL_LINE, POSITIVE, OPEN_UNIT  # numpy_facts.sampling: the forward tables' too
_S1 = UfuncSample((REAL,))
_S2 = UfuncSample((REAL, REAL))
_MATMUL_SHAPES = (((2, 3, 4), (4, 2)), ((3,), (3, 2)), ((2, 3), (3,)), ((3,), (3,)),
                  ((2, 1, 2, 3), (3, 3, 2)))


def _matmul_spec(na: int, nb: int) -> str:
    a = "j" if na == 1 else "...ij"
    b = "j" if nb == 1 else "...jk"
    out = ("..." if max(na, nb) > 1 else "") + ("i" if na > 1 else "") + ("k" if nb > 1 else "")
    return f"{a},{b}->{out}"


UFUNC_VJPS: dict[np.ufunc, UfuncRule | GufuncRule] = {
    # --- arithmetic
    np.add:          elementwise(lambda a, x, y: 1.0, lambda a, x, y: 1.0, sample=_S2, complex_ok=True),
    np.subtract:     elementwise(lambda a, x, y: 1.0, lambda a, x, y: -1.0, sample=_S2, complex_ok=True),
    np.multiply:     elementwise(lambda a, x, y: y, lambda a, x, y: x, sample=_S2, complex_ok=True),
    np.divide:       elementwise(lambda a, x, y: 1.0 / y, lambda a, x, y: -x / (y * y),
                                 sample=UfuncSample((REAL, (0.5, 3.0))), complex_ok=True),
    np.floor_divide: _piecewise_constant(UfuncSample(((0.2, 0.8), (1.0, 2.0)))),
    np.remainder:    custom(_vjp_remainder, UfuncSample(((0.2, 0.8), (1.0, 2.0)))),
    np.fmod:         elementwise(lambda a, x, y: 1.0, lambda a, x, y: -np.trunc(x / y),
                                 sample=UfuncSample(((-0.8, -0.2), (1.0, 2.0)))),
    np.divmod:       UfuncRule((None, _vjp_remainder), UfuncSample(((0.2, 0.8), (1.0, 2.0)))),
    np.power:        elementwise(_power_dx, _power_dy, sample=UfuncSample(((0.2, 3.0), (-2.0, 2.0))),
                                 complex_ok=True),
    np.float_power:  elementwise(_float_power_dx, _float_power_dy,
                                 sample=UfuncSample(((0.2, 3.0), (-2.0, 2.0))), complex_ok=True),
    np.square:       elementwise(lambda a, x: x + x, sample=_S1, complex_ok=True),
    np.reciprocal:   elementwise(lambda a, x: -1.0 / (x * x), sample=UfuncSample(((0.3, 3.0),)),
                                 complex_ok=True),
    np.sqrt:         elementwise(lambda a, x: 0.5 / np.sqrt(x), sample=UfuncSample((POS,)), complex_ok=True),
    np.cbrt:         elementwise(lambda a, x: 1.0 / (3.0 * np.cbrt(x) ** 2), sample=UfuncSample((POS,))),
    # --- linear maps
    np.negative:     elementwise(lambda a, x: -1.0, sample=_S1, complex_ok=True),
    np.positive:     elementwise(lambda a, x: 1.0, sample=_S1, complex_ok=True),
    np.conjugate:    custom(_vjp_conjugate, _S1, complex_ok=True),
    np.deg2rad:      elementwise(lambda a, x: DEG, sample=_S1),
    np.radians:      elementwise(lambda a, x: DEG, sample=_S1),
    np.rad2deg:      elementwise(lambda a, x: 1.0 / DEG, sample=_S1),
    np.degrees:      elementwise(lambda a, x: 1.0 / DEG, sample=_S1),
    np.absolute:     custom(_vjp_absolute, UfuncSample(((0.2, 3.0),)), complex_ok=True),
    np.fabs:         elementwise(lambda a, x: np.sign(x), sample=UfuncSample(((-3.0, -0.2),))),
    # --- exponentials and logarithms
    np.exp:          elementwise(lambda a, x: np.exp(x), sample=_S1, complex_ok=True),
    np.exp2:         elementwise(lambda a, x: LN2 * np.exp2(x), sample=_S1, complex_ok=True),
    np.expm1:        elementwise(lambda a, x: np.exp(x), sample=_S1, complex_ok=True),
    np.log:          elementwise(lambda a, x: 1.0 / x, sample=UfuncSample((POS,)), complex_ok=True),
    np.log2:         elementwise(lambda a, x: 1.0 / (LN2 * x), sample=UfuncSample((POS,)), complex_ok=True),
    np.log10:        elementwise(lambda a, x: 1.0 / (LN10 * x), sample=UfuncSample((POS,)), complex_ok=True),
    np.log1p:        elementwise(lambda a, x: 1.0 / (x + 1.0), sample=UfuncSample(((-0.5, 3.0),)),
                                 complex_ok=True),
    np.logaddexp:    elementwise(lambda a, x, y: _sigmoid(x - y), lambda a, x, y: _sigmoid(y - x), sample=_S2),
    np.logaddexp2:   elementwise(lambda a, x, y: _sigmoid(LN2 * (x - y)),
                                 lambda a, x, y: _sigmoid(LN2 * (y - x)), sample=_S2),
    # --- trigonometric and hyperbolic
    np.sin:          elementwise(lambda a, x: np.cos(x), sample=_S1, complex_ok=True),
    np.cos:          elementwise(lambda a, x: -np.sin(x), sample=_S1, complex_ok=True),
    np.tan:          elementwise(lambda a, x: 1.0 / np.cos(x) ** 2, sample=UfuncSample(((-1.2, 1.2),)),
                                 complex_ok=True),
    np.arcsin:       elementwise(lambda a, x: (1.0 - x * x) ** -0.5, sample=UfuncSample((UNIT,)),
                                 complex_ok=True),
    np.arccos:       elementwise(lambda a, x: -((1.0 - x * x) ** -0.5), sample=UfuncSample((UNIT,)),
                                 complex_ok=True),
    np.arctan:       elementwise(lambda a, x: 1.0 / (1.0 + x * x), sample=_S1, complex_ok=True),
    np.arctan2:      elementwise(lambda a, y, x: _atan2_d(a, y, x, 0), lambda a, y, x: _atan2_d(a, y, x, 1),
                                 sample=UfuncSample(((-2.0, 2.0), (0.5, 2.0)))),
    np.hypot:        elementwise(lambda a, x, y: _hypot_d(a, x, y, 0), lambda a, x, y: _hypot_d(a, x, y, 1),
                                 sample=UfuncSample(((-2.0, 2.0), (0.5, 2.0)))),
    np.sinh:         elementwise(lambda a, x: np.cosh(x), sample=_S1, complex_ok=True),
    np.cosh:         elementwise(lambda a, x: np.sinh(x), sample=_S1, complex_ok=True),
    np.tanh:         elementwise(lambda a, x: 1.0 / np.cosh(x) ** 2, sample=_S1, complex_ok=True),
    np.arcsinh:      elementwise(lambda a, x: (1.0 + x * x) ** -0.5, sample=_S1, complex_ok=True),
    np.arccosh:      elementwise(lambda a, x: 1.0 / (np.sqrt(x - 1.0) * np.sqrt(x + 1.0)),
                                 sample=UfuncSample(((1.2, 4.0),)), complex_ok=True),
    np.arctanh:      elementwise(lambda a, x: 1.0 / ((1.0 - x) * (1.0 + x)), sample=UfuncSample((UNIT,)),
                                 complex_ok=True),
    # --- selection and sign manipulation
    np.maximum:      _extremum(_max_wins),
    np.minimum:      _extremum(_min_wins),
    np.fmax:         _extremum(_fmax_wins),
    np.fmin:         _extremum(_fmin_wins),
    np.copysign:     elementwise(lambda a, x, y: np.sign(x) * np.copysign(1.0, y), lambda a, x, y: 0.0,
                                 sample=UfuncSample(((0.2, 3.0), (-3.0, -0.2)))),
    np.heaviside:    elementwise(lambda a, x, h: 0.0, lambda a, x, h: np.equal(x, 0).astype(float),
                                 sample=UfuncSample(((0.2, 3.0), (0.0, 1.0)))),
    np.nextafter:    elementwise(lambda a, x, y: 1.0, lambda a, x, y: 0.0, sample=_S2),
    np.ldexp:        elementwise(lambda a, x, n: np.exp2(n), lambda a, x, n: 0.0,
                                 sample=UfuncSample((REAL, (-4.0, 4.0)), constant=(1,), integer=(1,)),
                                 constant=(1,)),
    np.modf:         UfuncRule((_vjp_modf_fraction, None), UfuncSample(((0.1, 0.9),))),
    np.frexp:        UfuncRule((_vjp_frexp_mantissa, None), UfuncSample(((0.3, 0.45),))),
    umath.clip:      custom(_vjp_clip, UfuncSample((REAL, (-3.0, -1.0), (1.0, 3.0)))),
    np.sign:         custom(_vjp_sign, UfuncSample(((0.2, 3.0),)), complex_ok=True),
    # --- piecewise constant
    np.floor:        _piecewise_constant(UfuncSample(((-2.9, -2.1),))),
    np.ceil:         _piecewise_constant(UfuncSample(((1.1, 1.9),))),
    np.trunc:        _piecewise_constant(UfuncSample(((-0.9, 0.9),))),
    np.rint:         _piecewise_constant(UfuncSample(((2.6, 3.4),))),
    np.spacing:      _piecewise_constant(UfuncSample(((1.1, 1.9),))),
    # --- matrix products
    np.matmul:       GufuncRule(_matmul_spec, False, UfuncSample(((-2.0, 2.0),) * 2, _MATMUL_SHAPES)),
    np.vecdot:       GufuncRule(lambda na, nb: "...j,...j->...", True,
                                UfuncSample(((-2.0, 2.0),) * 2, (((2, 3), (3,)), ((3,), (2, 3))))),
    np.matvec:       GufuncRule(lambda na, nb: "...ij,...j->...i", False,
                                UfuncSample(((-2.0, 2.0),) * 2, (((2, 3, 4), (4,)), ((3, 4), (2, 4))))),
    np.vecmat:       GufuncRule(lambda na, nb: "...j,...jk->...k", True,
                                UfuncSample(((-2.0, 2.0),) * 2, (((4,), (2, 4, 3)), ((2, 4), (4, 3))))),
}

#: Ufuncs without a derivative by nature: the plain NumPy result, no node.
NONDIFF_UFUNCS: frozenset[np.ufunc] = frozenset({
    np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal,
    np.logical_and, np.logical_or, np.logical_xor, np.logical_not,
    np.isfinite, np.isinf, np.isnan, np.isnat, np.signbit,
})


# ---------------------------------------------------------------- ufunc.reduce / accumulate
#
# The pullbacks that np.sum, np.max, np.cumsum, ... share are in common.py, which
# also says what a reducer and an accumulator get.


def _reduce_logsumexp(base: float) -> Callable[..., Any]:
    """logaddexp.reduce: the softmax weights base**(x - m) / sum(base**(x - m))."""

    def reduce(g: Any, x: Any, ans: Any, axes: tuple[int, ...], initial: Any, mask: Any) -> Any:
        inside = x if mask is None else np.where(mask, x, -np.inf)
        m = np.max(inside, axis=axes, keepdims=True) if np.size(x) else np.zeros_like(ans)
        if initial is not None:
            m = np.maximum(m, initial)
        e = np.power(base, inside - m)
        total = np.sum(e, axis=axes, keepdims=True)
        if initial is not None:
            total = total + np.power(base, initial - m)
        return g * (e / total)

    return reduce


REDUCE_VJPS: dict[np.ufunc, Callable[..., Any]] = {
    np.add:        _reduce_add,
    np.multiply:   _reduce_multiply,
    np.maximum:    _reduce_extremum,
    np.minimum:    _reduce_extremum,
    np.fmax:       _reduce_extremum,
    np.fmin:       _reduce_extremum,
    np.logaddexp:  _reduce_logsumexp(math.e),
    np.logaddexp2: _reduce_logsumexp(2.0),
}
#: Reductions that also take complex input.
_COMPLEX_REDUCE = frozenset({np.add, np.multiply})


def _accumulate_extremum(g: Any, x: Any, ans: Any) -> Any:
    """Running max/min: y_k shares its cotangent evenly among the x_i (i <= k) equal to it.

    y is monotone, so those x_i lie in the run of equal y that contains k; a
    forward sweep counts them, a backward sweep sums the shares within each run.
    """
    n = np.shape(x)[-1]
    tied = np.equal(x, ans)
    counts = np.zeros(np.shape(ans))
    count = np.zeros(np.shape(ans)[:-1])
    for k in range(n):
        new_run = np.ones_like(count, dtype=bool) if k == 0 else ans[..., k] != ans[..., k - 1]
        count = np.where(new_run, 0.0, count) + tied[..., k]
        counts[..., k] = count
    share = g / np.maximum(counts, 1.0)
    out = np.zeros(np.shape(share), dtype=share.dtype)
    acc = np.zeros(np.shape(share)[:-1], dtype=share.dtype)
    for k in range(n - 1, -1, -1):
        run_ends = np.ones_like(count, dtype=bool) if k == n - 1 else ans[..., k] != ans[..., k + 1]
        acc = np.where(run_ends, 0.0, acc) + share[..., k]
        out[..., k] = np.where(tied[..., k], acc, 0.0)
    return out


ACCUMULATE_VJPS: dict[np.ufunc, Callable[[Any, Any, Any], Any]] = {
    np.add:      _accumulate_add,
    np.multiply: _accumulate_multiply,
    np.maximum:  _accumulate_extremum,
    np.minimum:  _accumulate_extremum,
    np.fmax:     _accumulate_extremum,
    np.fmin:     _accumulate_extremum,
}


# ---------------------------------------------------------------- ufunc dispatch


_UFUNC_KWARGS = frozenset({"dtype", "casting", "order", "subok", "signature"})


def _check_inputs(name: str, inputs: Sequence[Any]) -> None:
    for x in inputs:
        if isinstance(x, Var) or x is None:
            continue
        if isinstance(x, (np.ndarray, np.generic, int, float, complex, list, tuple)):
            if _has_var(x):
                raise NoReference(f"{name} on a list holding Vars: the reference cannot follow it; "
                                  f"use np.stack first")
            continue
        raise NoReference(f"{name} mixes a reverse Var with a {type(x).__name__}; the reference "
                          f"does not nest with other array types")


def apply_ufunc(uf: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``__array_ufunc__`` of a Var: build the node of ``uf`` (or its method)."""
    name = f"np.{uf.__name__}" + ("" if method == "__call__" else f".{method}")
    _refuse_out(name, kwargs)
    _check_inputs(name, inputs)
    if uf in NONDIFF_UFUNCS:
        return getattr(uf, method)(*strip(inputs), **kwargs)
    if method == "__call__":
        return _ufunc_call(uf, name, inputs, kwargs)
    if method == "reduce":
        return _ufunc_reduce(uf, name, inputs, kwargs)
    if method == "accumulate":
        return _ufunc_accumulate(uf, name, inputs, kwargs)
    if method == "outer":
        a, b = inputs
        shape_a, ndim_b = np.shape(value_of(a)), np.ndim(value_of(b))
        return uf(np.reshape(a, shape_a + (1,) * ndim_b), b, **kwargs)
    if method == "at":
        raise TypeError(f"{name} updates its first argument in place; a Var is immutable "
                        f"(use x.at[index].add(v))")
    raise _missing(name)


def _ufunc_call(uf: np.ufunc, name: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    rule = UFUNC_VJPS.get(uf)
    if rule is None:
        raise _missing(name)
    for key, v in kwargs.items():
        if key == "where" and v is True:
            continue
        if key not in _UFUNC_KWARGS:
            raise _missing(f"{name}({key}=...)")
    kwargs.pop("where", None)
    values = [value_of(x) for x in inputs]
    if not rule.complex_ok and any(np.iscomplexobj(v) for v in values):
        raise _missing(f"{name} of complex input", " (it is covered for real input only)")
    if isinstance(rule, GufuncRule):
        ans = uf(*values, **kwargs)
        spec = rule.spec(np.ndim(values[0]), np.ndim(values[1]))
        return einsum_node(ans, spec, list(inputs), [rule.conj_first, False])
    for i in rule.constant:
        if isinstance(inputs[i], Var):
            raise _missing(f"{name} with a differentiated argument {i}", " (an integer argument)")
    ans = uf(*values, **kwargs)
    xs = [_promote(v) for v in values]
    outs = ans if uf.nout > 1 else (ans,)
    results: list[Any] = []
    for out, vjp in zip(outs, rule.vjps, strict=True):
        if np.asarray(out).dtype.kind not in "fc":
            results.append(out)  # an integer output (frexp's exponent) has no cotangent
            continue
        edges = [] if vjp is None else [
            (x, functools.partial(_run_ufunc_vjp, vjp, out, xs, i))
            for i, x in enumerate(inputs) if isinstance(x, Var)]
        results.append(node(out, edges))
    return tuple(results) if uf.nout > 1 else results[0]


def _run_ufunc_vjp(vjp: UfuncVJP, ans: Any, xs: Sequence[Any], i: int, g: Any) -> Any:
    return vjp(g, ans, xs, i)


def _ufunc_reduce(uf: np.ufunc, name: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    reducer = REDUCE_VJPS.get(uf)
    if reducer is None:
        raise _missing(name)
    (x,) = inputs
    if not isinstance(x, Var) or isinstance(kwargs.get("initial"), Var):
        raise _missing(f"{name} with a Var as initial=")
    if np.iscomplexobj(x.value) and uf not in _COMPLEX_REDUCE:
        raise _missing(f"{name} of complex input", " (it is covered for real input only)")
    ans = uf.reduce(x.value, **kwargs)
    mask = _where_mask(kwargs.get("where", True), x, name)
    axes = _axes(kwargs.get("axis", 0), x.ndim)
    keepdims = bool(kwargs.get("keepdims", False))
    initial = kwargs.get("initial")
    ans_k = _expand(ans, axes, keepdims)

    def vjp(g: Any) -> Any:
        return reducer(_expand(g, axes, keepdims), x.value, ans_k, axes, initial, mask)

    return node(ans, [(x, vjp)])


def _ufunc_accumulate(uf: np.ufunc, name: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    accumulator = ACCUMULATE_VJPS.get(uf)
    if accumulator is None:
        raise _missing(name)
    (x,) = inputs
    if np.iscomplexobj(x.value) and uf not in _COMPLEX_REDUCE:
        raise _missing(f"{name} of complex input", " (it is covered for real input only)")
    ans = uf.accumulate(x.value, **kwargs)
    axis = int(kwargs.get("axis", 0)) % max(x.ndim, 1)
    return _accumulate_node(ans, x, axis, False, accumulator)

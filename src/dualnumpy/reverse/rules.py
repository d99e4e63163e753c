"""The VJP table of the reverse-mode reference, written from the math.

Nothing here is imported from ``dualnumpy.rules``: each pullback is derived
anew, often in a different but equivalent form (``tan' = 1 / cos**2`` where the
forward table has ``1 + tan**2``), so that agreement between the two modes
checks the formulas and not only the plumbing.

Conventions (DESIGN.md section 6 and :mod:`dualnumpy.reverse._node`):

* the VJP is the adjoint of the JVP for ``<u, v> = Re(sum(conj(u) * v))``:
  ``g * conj(f')`` for a holomorphic elementwise ``f``;
* ``abs'(0) = fabs'(0) = 0``; ``copysign(x, y)`` has ``d/dx = sign(x) * sign(y)``
  (0 at x = 0, as for abs); ``maximum``/``minimum``/``fmax``/``fmin`` (and
  ``max``/``min``/``clip``) split a tie evenly; ``x**0`` and ``0**y`` are flat;
* a zero cotangent times an infinite or NaN partial is 0 (sqrt at 0);
* piecewise-constant operations (floor, sign of reals, round, ...) give nodes
  without parents: their cotangent stops there;
* a running max/min, a tied max/min reduction, and a cluster of equal
  eigenvalues (eigvalsh) share the cotangent evenly among the tied entries;
* functions that read one triangle (cholesky, eigh, eigvalsh, pinv(hermitian=True))
  are differentiated as functions of that triangle, as NumPy computes them.

How the rules are built:

* elementwise ufuncs from their partial derivatives; the matrix-product ufuncs,
  dot, inner, outer, vdot, tensordot and einsum as one multilinear einsum node
  whose adjoint is again an einsum;
* copying functions (reshape, transpose, concatenate, indexing, pad, ...) by
  applying the function to an array of element positions: the pullback adds
  each cotangent back where it was read from;
* longer functions (ptp, the nan-reductions, quantile, n-d FFTs, polynomials, ...)
  as compositions of covered operations on Vars; ``with_value`` then puts
  NumPy's own value on top, so every value is exactly NumPy's.

Each rule carries the sample points its tests draw from (``UfuncSample`` for
ufuncs, ``Case`` for functions); ``tests/test_reverse.py`` is generated from them.
"""

from __future__ import annotations

import functools
import inspect
import math
import string
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy._core import umath as _umath

from ._node import VJP, NoReference, Var, value_of

umath: Any = _umath
_np: Any = np
_NOVALUE: Any = getattr(np, "_NoValue", object())
_SLOGDET_RESULT: Any = type(np.linalg.slogdet(np.eye(1)))

LN2 = math.log(2.0)
LN10 = math.log(10.0)
DEG = math.pi / 180.0

Array = Any
#: A ufunc pullback: ``(g, ans, xs, i) -> cotangent of input i``; None means "no contribution".
UfuncVJP = Callable[[Any, Any, Sequence[Any], int], Any]


# ---------------------------------------------------------------- helpers


def public_name(func: Any) -> str:
    """``np.sum``, ``np.linalg.inv``, ``np.emath.sqrt``: how a NumPy function is named."""
    module = getattr(func, "__module__", "") or ""
    name = getattr(func, "__name__", repr(func))
    for prefix, public in (("numpy.lib.scimath", "emath"), ("numpy.lib.stride_tricks", "lib.stride_tricks"),
                           ("numpy.linalg", "linalg"), ("numpy.fft", "fft"), ("numpy.random", "random"),
                           ("numpy.polynomial", "polynomial")):
        if module.startswith(prefix):
            return f"np.{public}.{name}"
    return f"np.{name}"


def _missing(name: str, why: str = "") -> NoReference:
    return NoReference(f"{name}: the reverse reference has no VJP rule for it{why}")


def _given(v: Any) -> bool:
    return v is not _NOVALUE


def node(value: Any, edges: Sequence[tuple[Var, VJP]]) -> Var:
    """A new tape node computed from the parents in ``edges``."""
    return Var(value, [p for p, _ in edges], [f for _, f in edges])


def strip(obj: Any) -> Any:
    """Values instead of Vars, inside lists and tuples too."""
    if isinstance(obj, Var):
        return obj.value
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return type(obj)(strip(o) for o in obj)
    return obj


def _has_var(obj: Any) -> bool:
    if isinstance(obj, Var):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_has_var(o) for o in obj)
    return False


def _promote(v: Any) -> Any:
    """Integer and bool arrays become float64 before a partial is evaluated."""
    if isinstance(v, (np.ndarray, np.generic)) and v.dtype.kind in "biu":
        return v.astype(np.float64)
    return v


def times(g: Any, d: Any) -> Any:
    """``g * conj(d)``, where a zero cotangent wins over an infinite or NaN partial."""
    with np.errstate(all="ignore"):
        r = g * np.conjugate(d)
        if not bool(np.all(np.isfinite(d))):
            r = np.where(g == 0, 0, r)
    return r


def _mH(a: Any) -> Any:
    return np.conjugate(np.swapaxes(a, -1, -2))


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(sorted(int(a) % ndim if ndim else 0 for a in axes))


def _expand(g: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    """A reduced array with its reduced axes back, as size 1."""
    g = np.asarray(g)
    return g if keepdims or not axes else np.expand_dims(g, axes)


def _exclusive_prod(x: Any, axis: int = -1) -> Any:
    """``prod(x[j] for j != i)`` along ``axis`` without dividing: exact through zeros."""
    x = np.moveaxis(np.asarray(x), axis, -1)
    ones = np.ones_like(x[..., :1])
    before = np.cumprod(np.concatenate([ones, x[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, x[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return np.moveaxis(before * after, -1, axis)


def _flatten_axes(x: Any, axes: tuple[int, ...]) -> tuple[Any, Callable[[Any], Any]]:
    """Move ``axes`` to the end as one axis; also return the inverse map."""
    x = np.asarray(x)
    kept = tuple(i for i in range(x.ndim) if i not in axes)
    perm = kept + axes
    moved = np.transpose(x, perm)
    shape = moved.shape
    flat = np.reshape(moved, (*shape[:len(kept)], -1))
    inverse = np.argsort(perm)

    def back(y: Any) -> Any:
        return np.transpose(np.reshape(y, shape), inverse)

    return flat, back


def _weights(first: Any, second: Any, first_wins: Any) -> tuple[Any, Any]:
    """Selection weights of a max-like choice; a tie gives half to each."""
    tie = first == second
    w1 = np.where(tie, 0.5, np.where(first_wins, 1.0, 0.0))
    return w1, 1.0 - w1


def _bincount(p: Any, w: Any, n: int) -> Any:
    if np.iscomplexobj(w):
        return np.bincount(p, np.real(w), minlength=n) + 1j * np.bincount(p, np.imag(w), minlength=n)
    return np.bincount(p, np.asarray(w, dtype=np.float64), minlength=n)


def scatter(g: Any, pos: Any, offset: int, size: int, shape: tuple[int, ...]) -> Any:
    """The adjoint of a gather: add ``g`` into the positions ``pos - offset`` it was read from."""
    p = np.ravel(pos)
    w = np.ravel(np.broadcast_to(g, np.shape(pos)))
    mask = (p >= offset) & (p < offset + size)
    return np.reshape(_bincount(p[mask] - offset, w[mask], size), shape)


@functools.cache
def _signature(func: Any) -> inspect.Signature:
    return inspect.signature(func)


def _bind(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
          allow_where: bool = False) -> dict[str, Any]:
    bound = _signature(func).bind(*args, **kwargs)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    out = arguments.get("out")
    if out is not None and _given(out):
        raise TypeError(f"{name}: out= is not supported by the reverse reference (a Var is immutable); "
                        f"assign the result instead")
    where = arguments.get("where", True)
    if not allow_where and _given(where) and where is not True:
        raise _missing(f"{name}(where=...)", "; use np.where(mask, x, fill) first")
    return arguments


def _call_values(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return func(*strip(args), **{k: strip(v) for k, v in kwargs.items()})


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


@dataclass(frozen=True)
class Case:
    """One test call of a function rule: ``call(*arrays)``, arrays of ``shapes``.

    Entries are drawn uniformly from ``[low, high]`` (plus an imaginary part in
    ``[-0.5, 0.5]`` when ``complex_ok``); ``shift`` adds ``shift * I`` to square
    matrices, to keep them well conditioned; ``rtol`` is the tolerance of the
    finite-difference check; ``forward`` says the forward mode takes the call too
    (so the dot-product test against it applies; it refuses ``where=``, for one).
    """

    call: Callable[..., Any]
    shapes: tuple[tuple[int, ...], ...]
    low: float = -2.0
    high: float = 2.0
    complex_ok: bool = False
    shift: float = 0.0
    rtol: float = 1e-6
    forward: bool = True


def _case(call: Callable[..., Any], *shapes: tuple[int, ...], complex_ok: bool = False,
          low: float = -2.0, high: float = 2.0, shift: float = 0.0, rtol: float = 1e-6,
          forward: bool = True) -> Case:
    return Case(call, tuple(shapes), low, high, complex_ok, shift, rtol, forward)


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


def clip_cotangents(g: Any, x: Any, lo: Any, hi: Any) -> tuple[Any, Any, Any]:
    """clip(x, lo, hi) = minimum(maximum(x, lo), hi), ties split evenly; None bounds are absent."""
    low = x if lo is None else np.maximum(x, lo)
    if hi is None:
        w_low, w_hi = np.ones_like(np.asarray(low, dtype=float)), None
    else:
        w_low, w_hi = _weights(low, hi, (low < hi) | np.isnan(low))
    if lo is None:
        w_x, w_lo = np.ones_like(np.asarray(x, dtype=float)), None
    else:
        w_x, w_lo = _weights(x, lo, (x > lo) | np.isnan(x))
    return (g * w_low * w_x, None if w_lo is None else g * w_low * w_lo,
            None if w_hi is None else g * w_hi)


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


REAL = (-3.0, 3.0)
POS = (0.2, 4.0)
UNIT = (-0.9, 0.9)
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
# A reducer gets the cotangent ``g`` and the answer ``ans`` with the reduced
# axes kept (size 1), the input ``x``, the reduced ``axes``, ``initial`` (None
# when not given) and ``mask`` (the where= argument broadcast to x, or None);
# it returns the cotangent of ``x``. Masked-out elements take no part.


def _masked(c: Any, mask: Any) -> Any:
    return c if mask is None else np.where(mask, c, 0)


def _reduce_add(g: Any, x: Any, ans: Any, axes: tuple[int, ...], initial: Any, mask: Any) -> Any:
    return _masked(np.broadcast_to(g, np.shape(x)), mask)


def _reduce_multiply(g: Any, x: Any, ans: Any, axes: tuple[int, ...], initial: Any, mask: Any) -> Any:
    flat, back = _flatten_axes(x if mask is None else np.where(mask, x, 1), axes)
    others = back(_exclusive_prod(flat))
    if initial is not None:
        others = others * initial
    return _masked(times(g, others), mask)


def _reduce_extremum(g: Any, x: Any, ans: Any, axes: tuple[int, ...], initial: Any, mask: Any) -> Any:
    """max/min: the cotangent is shared evenly by every element equal to the answer
    (an ``initial`` equal to it counts as one of them)."""
    tied = np.equal(x, ans) if mask is None else np.equal(x, ans) & mask
    count = np.sum(tied, axis=axes, keepdims=True) + (0 if initial is None else np.equal(ans, initial))
    return np.where(tied, g / np.maximum(count, 1), 0.0)


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


# An accumulator sees the accumulated axis last: g, x, ans of shape (..., n).


def _accumulate_add(g: Any, x: Any, ans: Any) -> Any:
    return np.cumsum(g[..., ::-1], axis=-1)[..., ::-1]


def _accumulate_multiply(g: Any, x: Any, ans: Any) -> Any:
    """y_k = y_{k-1} x_k: the classic backward sweep, exact through zeros (no division).

    The cotangent of y_k is complete once every later y has passed its share
    back (g_k plus x_{k+1}'s factor of the cotangent of y_{k+1}).
    """
    n = np.shape(x)[-1]
    dtype = np.result_type(g, x, ans)
    out = np.zeros(np.broadcast_shapes(np.shape(g), np.shape(x)), dtype=dtype)
    bar = np.zeros(out.shape[:-1], dtype=dtype)
    for k in range(n - 1, -1, -1):
        bar = bar + g[..., k]
        out[..., k] = bar * np.conjugate(ans[..., k - 1]) if k else bar
        bar = bar * np.conjugate(x[..., k])
    return out


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


def _refuse_out(name: str, kwargs: dict[str, Any]) -> None:
    out = kwargs.pop("out", None)
    outs = out if isinstance(out, tuple) else (out,)
    if any(o is not None for o in outs):
        raise TypeError(f"{name}: out= is not supported by the reverse reference (a Var is "
                        f"immutable); assign the result instead")


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


def _where_mask(where: Any, x: Var, name: str) -> Any:
    """The where= argument of a reduction broadcast to x (None when absent)."""
    if isinstance(where, Var):
        raise _missing(f"{name} with a Var as where=")
    if where is True or not _given(where):
        return None
    return np.broadcast_to(np.asarray(where, dtype=bool), x.shape)


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


def _accumulate_node(ans: Any, x: Var, axis: int, flat: bool,
                     accumulator: Callable[[Any, Any, Any], Any]) -> Var:
    xv = np.ravel(x.value) if flat else x.value
    a = np.moveaxis(np.asarray(ans), axis, -1)
    xl = np.moveaxis(xv, axis, -1)

    def vjp(g: Any) -> Any:
        c = np.moveaxis(accumulator(np.moveaxis(np.asarray(g), axis, -1), xl, a), -1, axis)
        return np.reshape(c, x.shape)

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


# ---------------------------------------------------------------- einsum


_LETTERS = string.ascii_letters


def parse_einsum(spec: str, ndims: Sequence[int]) -> tuple[list[str], str]:
    """Explicit subscripts (no ellipsis, explicit output) for an einsum ``spec``."""
    spec = spec.replace(" ", "")
    inputs, arrow, out = spec.partition("->")
    subs = inputs.split(",")
    if len(subs) != len(ndims):
        raise ValueError(f"np.einsum: {len(subs)} subscripts for {len(ndims)} operands")
    pool = [c for c in _LETTERS if c not in spec]
    n_ell = max((nd - len(s.replace("...", "")) for s, nd in zip(subs, ndims, strict=True) if "..." in s),
                default=0)
    if n_ell > len(pool):
        raise _missing("np.einsum with this many indices")
    ell = pool[:n_ell]
    explicit = []
    for s, nd in zip(subs, ndims, strict=True):
        if "..." in s:
            k = nd - len(s.replace("...", ""))
            s = s.replace("...", "".join(ell[n_ell - k:]))
        explicit.append(s)
    if not arrow:
        letters = "".join(s.replace("...", "") for s in subs)
        out = "".join(ell) + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    else:
        out = out.replace("...", "".join(ell))
    return explicit, out


def _einsum_cotangent(g: Any, out: str, subs: Sequence[str], appear: Sequence[Any], k: int) -> Any:
    """The adjoint of ``einsum(out <- subs)`` for operand k (others held at ``appear``).

    The einsum of ``g`` with the conjugated other operands, back to operand k's
    subscripts. A letter repeated in operand k (a diagonal) gets a fresh letter
    joined to it by an identity matrix; a letter of operand k found nowhere else
    (summed over k alone) by a vector of ones.
    """
    others = [j for j in range(len(subs)) if j != k]
    in_subs, ops = [out], [g]
    for j in others:
        in_subs.append(subs[j])
        ops.append(np.conjugate(appear[j]))
    present = set(out).union(*(subs[j] for j in others))
    fresh = iter(c for c in _LETTERS if c not in set(out).union(*subs))
    shape = np.shape(appear[k])
    target, seen = [], set()
    for letter, n in zip(subs[k], shape, strict=True):
        if letter in seen:
            new = next(fresh)
            in_subs.append(letter + new)
            ops.append(np.eye(n))
            target.append(new)
            continue
        seen.add(letter)
        target.append(letter)
        if letter not in present:
            in_subs.append(letter)
            ops.append(np.ones(n))
    return np.einsum(",".join(in_subs) + "->" + "".join(target), *ops)


def einsum_node(value: Any, spec: str, operands: list[Any], conj: Sequence[bool]) -> Var:
    """A multilinear node ``value = einsum(spec, *operands')``, where operand i enters
    conjugated when ``conj[i]``; ``value`` is NumPy's own result."""
    values = [np.asarray(value_of(op)) for op in operands]
    subs, out = parse_einsum(spec, [v.ndim for v in values])
    appear = [np.conjugate(v) if c else v for v, c in zip(values, conj, strict=True)]
    edges = []
    for k, op in enumerate(operands):
        if not isinstance(op, Var):
            continue

        def vjp(g: Any, k: int = k) -> Any:
            c = _einsum_cotangent(g, out, subs, appear, k)
            return np.conjugate(c) if conj[k] else c  # d(conj a) = conj(da): adjoint conj(.)

        edges.append((op, vjp))
    return node(value, edges)


# ---------------------------------------------------------------- function rules

FunctionApply = Callable[[Any, str, tuple[Any, ...], dict[str, Any]], Any]


@dataclass(frozen=True)
class FunctionRule:
    """A NumPy function: ``apply(func, name, args, kwargs)`` builds its node(s)."""

    apply: FunctionApply
    cases: tuple[Case, ...] = field(default=())
    differentiable: bool = True


def _nondiff(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _call_values(func, args, kwargs)


def _constant(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Piecewise constant (round): a node without parents."""
    return Var(_call_values(func, args, kwargs))


#: The arguments of a gather function that hold the arrays it copies from (default: the first).
_GATHER_ARRAYS: dict[Any, tuple[str, ...]] = {
    np.compress: ("a",), np.extract: ("arr",), np.choose: ("choices",),
    np.select: ("choicelist", "default"), np.insert: ("arr", "values"), np.append: ("arr", "values"),
}
#: np.pad modes that copy elements (the others compute new values).
_COPYING_PAD_MODES = frozenset({"constant", "edge", "reflect", "symmetric", "wrap"})


def _gather(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A function each of whose output elements is a copy of one input element, or a constant.

    The function is applied to arrays of element positions (1, 2, ... for the
    Vars; 0 for constants, and for the zeros such functions fill in); its
    pullback adds each output cotangent into the position it was read from
    (the transpose of the selection), so repeated reads accumulate.
    """
    sig = _signature(func)
    bound = sig.bind(*args, **kwargs)
    arguments = bound.arguments
    if arguments.get("out") is not None:
        raise TypeError(f"{name}: out= is not supported by the reverse reference")
    if arguments.get("dtype") is not None:
        raise _missing(f"{name}(dtype=...)")
    if func is np.pad:
        mode = arguments.get("mode", "constant")
        if not isinstance(mode, str) or mode not in _COPYING_PAD_MODES:
            raise _missing(f"{name}(mode={mode!r})", " (only the modes that copy elements)")
        if arguments.get("kwargs", {}).get("reflect_type", "even") != "even":
            raise _missing(f"{name}(reflect_type='odd')", " (it computes 2 * edge - x)")
    names = _GATHER_ARRAYS.get(func, (next(iter(sig.parameters)),))
    for key, v in arguments.items():
        if key not in names and _has_var(v):
            raise _missing(f"{name} with a Var as {key}")
    found: list[tuple[Var, int]] = []
    offset = 1

    def positions(a: Any) -> Any:
        nonlocal offset
        if isinstance(a, Var):
            found.append((a, offset))
            pos = np.arange(offset, offset + a.size, dtype=np.intp).reshape(a.shape)
            offset += a.size
            return pos
        if isinstance(a, (list, tuple)):
            return type(a)(positions(e) for e in a)
        return np.zeros(np.shape(a), dtype=np.intp)

    value = _call_values(func, args, kwargs)
    for key in names:
        if key in arguments:
            arguments[key] = positions(arguments[key])
    if func is np.pad and arguments.get("mode", "constant") == "constant":
        arguments["kwargs"] = {**arguments.get("kwargs", {}), "constant_values": 0}
    pos_out = func(*bound.args, **bound.kwargs)
    many = isinstance(value, (list, tuple))
    results = []
    for v, p in zip(value if many else [value], pos_out if many else [pos_out], strict=True):
        assert np.shape(v) == np.shape(p), f"{name}: positions do not follow the value"
        p = np.asarray(p)
        edges: list[tuple[Var, VJP]] = []
        for x, off in found:
            if np.any((p >= off) & (p < off + x.size)):
                edges.append((x, functools.partial(scatter, pos=p, offset=off, size=x.size, shape=x.shape)))
        results.append(node(v, edges))
    return type(value)(results) if many else results[0]


def _is_basic(index: Any) -> bool:
    """Only integers, slices, None and Ellipsis: a view, never a repeated element."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, slice)
               or (isinstance(p, (int, np.integer)) and not isinstance(p, (bool, np.bool_)))
               for p in parts)


def getitem(x: Var, index: Any) -> Var:
    """``x[index]``: basic, integer-array (repeats accumulate) and boolean indexing."""
    parts = index if isinstance(index, tuple) else (index,)
    if any(_has_var(p) for p in parts):
        raise TypeError("an index cannot be a Var (indices have no derivative); index with x.value")
    value = x.value[index]
    if _is_basic(index):

        def vjp(g: Any) -> Any:
            out = np.zeros(x.shape, dtype=np.result_type(g))
            out[index] = g
            return out

        return node(value, [(x, vjp)])
    pos = np.arange(x.size, dtype=np.intp).reshape(x.shape)[index]
    return node(value, [(x, functools.partial(scatter, pos=pos, offset=0, size=x.size, shape=x.shape))])


def index_update(x: Var, index: Any, new: Any, how: str) -> Var:
    """``x.at[index].set(new)`` / ``.add(new)`` without mutating x."""
    parts = index if isinstance(index, tuple) else (index,)
    if any(_has_var(p) for p in parts):
        raise TypeError("an index cannot be a Var; index with x.value")
    nv = value_of(new)
    value = np.array(x.value, dtype=np.result_type(x.value, nv), copy=True)
    pos = np.arange(x.size, dtype=np.intp).reshape(x.shape)[index]
    flat = np.ravel(pos)
    if how == "set":
        value[index] = nv
        ids = np.full(x.shape, -1, dtype=np.intp)
        ids[index] = np.arange(flat.size, dtype=np.intp).reshape(np.shape(pos))
        wins = np.ravel(ids)[flat] == np.arange(flat.size)  # the write that stayed
    else:
        np.add.at(value, index, nv)
        wins = np.ones(flat.size, dtype=bool)

    def vjp_x(g: Any) -> Any:
        if how == "add":
            return g
        out = np.array(g, copy=True)
        np.reshape(out, -1)[flat] = 0
        return out

    def vjp_new(g: Any) -> Any:
        taken = np.ravel(np.asarray(g))[flat]
        return np.reshape(np.where(wins, taken, 0), np.shape(pos))

    edges: list[tuple[Var, VJP]] = [(x, vjp_x)]
    if isinstance(new, Var):
        edges.append((new, vjp_new))
    return node(value, edges)


def _reduction(reducer: Callable[..., Any]) -> FunctionApply:
    """sum, prod, max, min as a function: NumPy's value, the ufunc reducer's pullback."""

    def apply(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        b = _bind(func, name, args, kwargs, allow_where=True)
        x = b["a"]
        if not isinstance(x, Var) or isinstance(b.get("initial"), Var):
            raise _missing(f"{name} with a Var outside the array argument")
        if np.iscomplexobj(x.value) and reducer is _reduce_extremum:
            raise _missing(f"{name} of complex input", " (it is covered for real input only)")
        ans = _call_values(func, args, kwargs)
        mask = _where_mask(b.get("where", True), x, name)
        axes = _axes(b["axis"], x.ndim)
        keepdims = b.get("keepdims") is True
        initial = b.get("initial") if _given(b.get("initial", _NOVALUE)) else None
        ans_k = _expand(ans, axes, keepdims)

        def vjp(g: Any) -> Any:
            return reducer(_expand(g, axes, keepdims), x.value, ans_k, axes, initial, mask)

        return node(ans, [(x, vjp)])

    return apply


def _mean(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    b = _bind(func, name, args, kwargs, allow_where=True)
    x = b["a"]
    ans = _call_values(func, args, kwargs)
    mask = _where_mask(b.get("where", True), x, name)
    axes = _axes(b["axis"], x.ndim)
    keepdims = b.get("keepdims") is True
    if mask is None:
        n: Any = math.prod(x.shape[i] for i in axes)
    else:
        n = np.sum(mask, axis=axes, keepdims=True)

    def vjp(g: Any) -> Any:
        return _masked(np.broadcast_to(_expand(g, axes, keepdims) / n, x.shape), mask)

    return node(ans, [(x, vjp)])


def _moment(square_root: bool) -> FunctionApply:
    """var = sum |x - mean|**2 / (n - ddof): dvar = 2 Re(sum conj(x - mean) dx) / (n - ddof)
    (the mean's own variation drops out, as sum(x - mean) = 0); dstd = dvar / (2 std)."""

    def apply(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        b = _bind(func, name, args, kwargs)
        if _given(b.get("mean", _NOVALUE)):
            raise _missing(f"{name}(mean=...)")
        x = b["a"]
        ans = _call_values(func, args, kwargs)
        ddof = b["correction"] if _given(b.get("correction", _NOVALUE)) else b["ddof"]
        axes = _axes(b["axis"], x.ndim)
        keepdims = b.get("keepdims") is True
        n = math.prod(x.shape[i] for i in axes)
        centered = x.value - np.mean(x.value, axis=axes, keepdims=True)
        ans_k = _expand(ans, axes, keepdims)

        def vjp(g: Any) -> Any:
            g = _expand(g, axes, keepdims)
            if not square_root:
                return g * (2.0 * centered / (n - ddof))
            with np.errstate(all="ignore"):
                return np.where(ans_k == 0, 0, g * (centered / ((n - ddof) * ans_k)))

        return node(ans, [(x, vjp)])

    return apply


def _cumulative(accumulator: Callable[[Any, Any, Any], Any], complex_ok: bool) -> FunctionApply:
    def apply(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        b = _bind(func, name, args, kwargs)
        x = b["a"]
        if np.iscomplexobj(x.value) and not complex_ok:
            raise _missing(f"{name} of complex input")
        ans = _call_values(func, args, kwargs)
        flat = b["axis"] is None
        axis = 0 if flat else int(b["axis"]) % max(x.ndim, 1)
        return _accumulate_node(ans, x, axis, flat, accumulator)

    return apply


def _where(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if len(args) + len(kwargs) == 1:
        return _call_values(func, args, kwargs)
    cond, x, y = args
    c = np.asarray(value_of(cond), dtype=bool)
    ans = np.where(c, value_of(x), value_of(y))
    edges: list[tuple[Var, VJP]] = []
    if isinstance(x, Var):
        edges.append((x, lambda g: np.where(c, g, 0)))
    if isinstance(y, Var):
        edges.append((y, lambda g: np.where(c, 0, g)))
    return node(ans, edges)


def _clip(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    b = _bind(func, name, args, kwargs)
    lo = b["a_min"] if _given(b["a_min"]) else b.get("min", _NOVALUE)
    hi = b["a_max"] if _given(b["a_max"]) else b.get("max", _NOVALUE)
    lo = None if not _given(lo) else lo
    hi = None if not _given(hi) else hi
    x = b["a"]
    parts = [x, lo, hi]
    values = [_promote(value_of(p)) if p is not None else None for p in parts]
    if any(v is not None and np.iscomplexobj(v) for v in values):
        raise _missing(f"{name} of complex input")
    ans = _call_values(func, args, kwargs)
    edges = []
    for i, p in enumerate(parts):
        if isinstance(p, Var):
            edges.append((p, functools.partial(lambda i, g: clip_cotangents(g, *values)[i], i)))
    return node(ans, edges)


def _letters(n: int, skip: str = "") -> str:
    return "".join([c for c in _LETTERS if c not in skip][:n])


def _dot(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    b = _bind(func, name, args, kwargs)
    a, c = b["a"], b["b"]
    value = _call_values(func, (a, c), {})
    na, nc = np.ndim(value_of(a)), np.ndim(value_of(c))
    if na == 0 or nc == 0:
        return einsum_node(value, f"{_letters(na)},{_letters(nc)}->{_letters(max(na, nc))}", [a, c],
                           [False, False])
    la = _letters(na - 1, "yz") + "z"
    if nc == 1:
        lc, out = "z", la[:-1]
    else:
        rest = _letters(nc - 2, la + "yz")
        lc, out = rest + "zy", la[:-1] + rest + "y"
    return einsum_node(value, f"{la},{lc}->{out}", [a, c], [False, False])


def _inner(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    a, c = args
    value = _call_values(func, args, kwargs)
    na, nc = np.ndim(value_of(a)), np.ndim(value_of(c))
    if na == 0 or nc == 0:
        return einsum_node(value, f"{_letters(na)},{_letters(nc)}->{_letters(max(na, nc))}", [a, c],
                           [False, False])
    la = _letters(na - 1, "z")
    lc = _letters(nc - 1, la + "z")
    return einsum_node(value, f"{la}z,{lc}z->{la}{lc}", [a, c], [False, False])


def _flat_pair(spec: str, conj_first: bool) -> FunctionApply:
    """outer and vdot: both operands are flattened first."""

    def apply(f: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        b = _bind(f, name, args, kwargs)
        a, c = b["a"], b["b"]
        value = _call_values(f, (a, c), {})
        flat = [np.ravel(o) if isinstance(o, Var) else np.ravel(np.asarray(o)) for o in (a, c)]
        return einsum_node(value, spec, flat, [conj_first, False])

    return apply


def _tensordot(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    b = _bind(func, name, args, kwargs)
    a, c, axes = b["a"], b["b"], b["axes"]
    value = _call_values(func, (a, c), {"axes": axes})
    na, nc = np.ndim(value_of(a)), np.ndim(value_of(c))
    if isinstance(axes, (int, np.integer)):
        ax_a, ax_c = list(range(na - int(axes), na)), list(range(int(axes)))
    else:
        ax_a, ax_c = axes
        ax_a = [int(ax_a)] if isinstance(ax_a, (int, np.integer)) else [int(i) for i in ax_a]
        ax_c = [int(ax_c)] if isinstance(ax_c, (int, np.integer)) else [int(i) for i in ax_c]
    ax_a = [i % na for i in ax_a]
    ax_c = [i % nc for i in ax_c]
    letters = iter(_LETTERS)
    sa = [next(letters) for _ in range(na)]
    sc = [""] * nc
    for i, j in zip(ax_a, ax_c, strict=True):
        sc[j] = sa[i]
    sc = [s or next(letters) for s in sc]
    out = [s for i, s in enumerate(sa) if i not in ax_a] + [s for j, s in enumerate(sc) if j not in ax_c]
    return einsum_node(value, f"{''.join(sa)},{''.join(sc)}->{''.join(out)}", [a, c], [False, False])


def _sublist(sub: Any) -> str:
    try:
        return "".join("..." if s is Ellipsis else _LETTERS[int(s)] for s in sub)
    except (TypeError, ValueError, IndexError):
        raise _missing("np.einsum with this sublist", f" ({sub!r})") from None


def _einsum(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _refuse_out(name, kwargs)
    value = _call_values(func, args, kwargs)
    if args and isinstance(args[0], str):
        return einsum_node(value, args[0], list(args[1:]), [False] * (len(args) - 1))
    # the interleaved form: op0, sublist0, op1, sublist1, ..., [sublist_out]
    operands = list(args[0:len(args) - len(args) % 2:2])
    spec = ",".join(_sublist(sub) for sub in args[1::2][:len(operands)])
    if len(args) % 2:
        spec += "->" + _sublist(args[-1])
    return einsum_node(value, spec, operands, [False] * len(operands))


def _trace(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    b = _bind(func, name, args, kwargs)
    x = b["a"]
    ans = _call_values(func, args, kwargs)
    pos = np.diagonal(np.arange(x.size).reshape(x.shape), b["offset"], b["axis1"], b["axis2"])

    def vjp(g: Any) -> Any:
        return scatter(np.asarray(g)[..., None], pos, 0, x.size, x.shape)

    return node(ans, [(x, vjp)])


def _sort(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """sort gathers by the stable argsort of the value."""
    b = _bind(func, name, args, kwargs)
    x = b["a"]
    if np.iscomplexobj(x.value):
        raise _missing(f"{name} of complex input")
    ans = _call_values(func, args, kwargs)
    axis = b["axis"]
    base = np.arange(x.size).reshape(x.shape)
    if axis is None:
        base, v, axis = base.ravel(), x.value.ravel(), -1
    else:
        v = x.value
    pos = np.take_along_axis(base, np.argsort(v, axis=axis, kind="stable"), axis=axis)
    return node(ans, [(x, functools.partial(scatter, pos=pos, offset=0, size=x.size, shape=x.shape))])


def _diff(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """diff as NumPy computes it: n rounds of a[1:] - a[:-1] along the axis."""
    b = _bind(func, name, args, kwargs)
    a, axis = b["a"], b["axis"]
    ndim = np.ndim(value_of(a))
    axis = int(axis) % ndim
    combined = []
    for key in ("prepend", "append"):
        extra = b[key]
        if _given(extra):
            if np.ndim(value_of(extra)) == 0:
                shape = list(np.shape(value_of(a)))
                shape[axis] = 1
                extra = np.broadcast_to(extra, tuple(shape))
            combined.append(extra)
        if key == "prepend":
            combined.append(a)
    if len(combined) > 1:
        a = np.concatenate(combined, axis)
    if not isinstance(a, Var):
        raise _missing(f"{name} with a Var outside the array argument")
    hi = tuple(slice(1, None) if i == axis else slice(None) for i in range(a.ndim))
    lo = tuple(slice(None, -1) if i == axis else slice(None) for i in range(a.ndim))
    for _ in range(int(b["n"])):
        a = a[hi] - a[lo]
    return with_value(_call_values(func, args, kwargs), a)


def _real(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Re is R-linear; its adjoint embeds a real cotangent in C."""
    (x,) = args
    if not np.iscomplexobj(x.value):
        return x
    return node(np.real(x.value), [(x, lambda g: np.asarray(g, dtype=x.dtype))])


def _imag(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Im t = Re(conj(i) t): the adjoint of Im is g -> i g."""
    (x,) = args
    if not np.iscomplexobj(x.value):
        return Var(np.imag(x.value))
    return node(np.imag(x.value), [(x, lambda g: 1j * np.asarray(g))])


def _astype(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    b = _bind(func, name, args, kwargs)
    x = b["x"]
    dtype = np.dtype(b["dtype"])
    if dtype.kind not in "fc":
        raise _missing(f"{name} to {dtype}", " (only float and complex targets)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        ans = x.value.astype(dtype)
    return node(ans, [(x, lambda g: g)])


# ---------------------------------------------------------------- linear algebra


def _inv(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Y = A^-1: dY = -Y dA Y, adjoint G -> -Y^H G Y^H."""
    (a,) = args
    y = np.linalg.inv(a.value)
    yh = _mH(y)
    return node(y, [(a, lambda g: -(yh @ g @ yh))])


def _solve(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """x = A^-1 b: dx = A^-1 (db - dA x); adjoint: gb = A^-H g, gA = -gb x^H.

    As in NumPy 2, b is a vector only when it is 1-D.
    """
    b_ = _bind(func, name, args, kwargs)
    a, b = b_["a"], b_["b"]
    av, bv = value_of(a), value_of(b)
    x = np.linalg.solve(av, bv)
    vector = np.ndim(bv) == 1
    x2 = x[..., None] if vector else x

    def grad_b(g: Any) -> Any:
        g2 = np.asarray(g)[..., None] if vector else g
        gb = np.linalg.solve(_mH(av), g2)
        return gb[..., 0] if vector else gb

    def grad_a(g: Any) -> Any:
        gb = grad_b(g)
        gb2 = gb[..., None] if vector else gb
        return -(gb2 @ _mH(x2))

    edges: list[tuple[Var, VJP]] = []
    if isinstance(a, Var):
        edges.append((a, grad_a))
    if isinstance(b, Var):
        edges.append((b, grad_b))
    return node(x, edges)


def adjugate(a: Any) -> Any:
    """adj(A) (with A adj(A) = det(A) I) from the SVD, valid for singular A too.

    A = U S V^H gives adj(A) = adj(V^H) adj(S) adj(U) = det(U) det(V^H) V adj(S) U^H,
    where adj(S) is diagonal with the products of the other singular values.
    """
    u, s, vh = np.linalg.svd(a)
    phase = np.linalg.det(u) * np.linalg.det(vh)
    v = _mH(vh)
    return phase[..., None, None] * ((v * _exclusive_prod(s)[..., None, :]) @ _mH(u))


def _det(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """d det = tr(adj(A) dA), so d det / dA_ij = adj(A)_ji; adjoint g -> g adj(A)^H."""
    (a,) = args
    ans = np.linalg.det(a.value)

    def vjp(g: Any) -> Any:
        return np.asarray(g)[..., None, None] * _mH(adjugate(a.value))

    return node(ans, [(a, vjp)])


def _slogdet(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """With tau = tr(A^-1 dA): d logabsdet = Re tau, d sign = i sign Im tau.

    Adjoints: logabsdet g -> g A^-H; sign w -> i c A^-H with c = -Im(conj(w) sign)
    (a real sign is piecewise constant).
    """
    (a,) = args
    sign, logabs = np.linalg.slogdet(a.value)

    def inv_h() -> Any:
        return _mH(np.linalg.inv(a.value))

    def vjp_logabs(g: Any) -> Any:
        return np.asarray(g)[..., None, None] * inv_h()

    def vjp_sign(w: Any) -> Any:
        c = -np.imag(np.conjugate(w) * sign)
        return np.asarray(1j * c)[..., None, None] * inv_h()

    sign_node = node(sign, [(a, vjp_sign)] if np.iscomplexobj(a.value) else [])
    return _SLOGDET_RESULT(sign_node, node(logabs, [(a, vjp_logabs)]))


def _two_norm(x: Var, ans: Any, axes: tuple[int, ...], keepdims: bool) -> Var:
    """||x||_2 = sqrt(sum |x|**2): d = Re(sum conj(x) dx) / ||x||, adjoint g x / ||x||; 0 at x = 0."""
    n = _expand(ans, axes, keepdims)

    def vjp(g: Any) -> Any:
        with np.errstate(all="ignore"):
            return np.where(n == 0, 0, _expand(g, axes, keepdims) * (x.value / n))

    return node(ans, [(x, vjp)])


def _norm(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    b = _bind(func, name, args, kwargs)
    x, ord_, axis, keepdims = b["x"], b["ord"], b["axis"], bool(b["keepdims"])
    if not isinstance(x, Var):
        raise _missing(f"{name} with a Var outside x")
    ans = _call_values(func, args, kwargs)
    if axis is None:
        axes = tuple(range(x.ndim))
        if ord_ is not None and x.ndim not in (1, 2):
            raise _missing(f"{name}(ord={ord_!r}) of a {x.ndim}-d array")
    else:
        axes = _axes(axis, x.ndim)
    vector = len(axes) == 1 or (axis is None and ord_ is None)
    if vector:
        if ord_ is None or ord_ == 2:
            return _two_norm(x, ans, axes, keepdims)
        if ord_ == 0:
            return Var(ans)
        ax = axes if axis is not None else None
        absx = np.abs(x)
        if ord_ == np.inf:
            return np.max(absx, axis=ax, keepdims=keepdims)
        if ord_ == -np.inf:
            return np.min(absx, axis=ax, keepdims=keepdims)
        if ord_ == 1:
            return _np.add.reduce(absx, axis=ax, keepdims=keepdims)
        return _np.add.reduce(absx ** ord_, axis=ax, keepdims=keepdims) ** (1.0 / ord_)
    if ord_ in (None, "fro"):
        return _two_norm(x, ans, axes, keepdims)
    if ord_ == "nuc":
        return _nuclear_norm(x, ans, axes, keepdims)
    if ord_ in (2, -2):
        return with_value(ans, _spectral_norm(x, axes, keepdims, ord_ == 2))
    if ord_ in (1, -1, np.inf, -np.inf):
        # NumPy's order: ord +-1 sums over axis[0] (rows) and picks among axis[1]; +-inf the reverse
        row, col = (int(a) % x.ndim for a in axis) if axis is not None else (0, 1)
        summed, picked = (row, col) if ord_ in (1, -1) else (col, row)
        sums = np.sum(np.abs(x), axis=summed, keepdims=True)
        out = np.max(sums, axis=picked, keepdims=True) if ord_ in (1, np.inf) else (
            np.min(sums, axis=picked, keepdims=True))
        return with_value(ans, out if keepdims else np.squeeze(out, axis=axes))
    raise _missing(f"{name}(ord={ord_!r}) of a matrix")


def _nuclear_norm(x: Var, ans: Any, axes: tuple[int, ...], keepdims: bool) -> Var:
    """||A||_* = sum of singular values: d = Re tr(U^H dA V), adjoint g U V^H (full rank)."""
    moved = np.moveaxis(x.value, axes, (-2, -1))
    u, _, vh = np.linalg.svd(moved, full_matrices=False)
    uvh = np.moveaxis(u @ vh, (-2, -1), axes)

    def vjp(g: Any) -> Any:
        return _expand(g, axes, keepdims) * uvh

    return node(ans, [(x, vjp)])


# ---------------------------------------------------------------- compositions and extras


def with_value(value: Any, composed: Any) -> Var:
    """NumPy's own ``value`` on top of a composition of covered operations.

    The composition carries the derivative; the identity edge makes the
    returned value exactly the one NumPy computes (their values agree to
    rounding, the order of operations may differ).
    """
    if not isinstance(composed, Var):
        return Var(value)
    if composed.shape != np.shape(value):
        raise AssertionError(f"reverse reference: a composition of shape {composed.shape} stands for a "
                             f"value of shape {np.shape(value)} (a bug in a rule)")
    return node(value, [(composed, lambda g: g)])


def _composite(build: Callable[[dict[str, Any]], Any], where_ok: bool = False) -> FunctionApply:
    """A function written as a composition of covered operations on the bound arguments
    (``where_ok``: the composition passes a where= argument on)."""

    def apply(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        b = _bind(func, name, args, kwargs, allow_where=where_ok)
        value = _call_values(func, args, kwargs)
        composed = build(b)
        if isinstance(value, (tuple, list)):
            return type(value)(with_value(v, c) for v, c in zip(value, composed, strict=True))
        return with_value(value, composed)

    return apply


def _vector_norm(b: dict[str, Any]) -> Any:
    x, axis, keepdims, ord_ = b["x"], b["axis"], b["keepdims"], b["ord"]
    ndim = np.ndim(value_of(x))
    axes = _axes(axis, ndim)
    kept = [i for i in range(ndim) if i not in axes]
    shape = np.shape(value_of(x))
    moved = np.reshape(np.transpose(x, kept + list(axes)), [shape[i] for i in kept] + [-1])
    out = np.linalg.norm(moved, ord=ord_, axis=-1)
    if keepdims:
        out = np.reshape(out, [1 if i in axes else shape[i] for i in range(ndim)])
    return out


def _matrix_power(b: dict[str, Any]) -> Any:
    a, n = b["a"], int(b["n"])
    if n < 0:
        return np.linalg.matrix_power(np.linalg.inv(a), -n)
    value = np.linalg.matrix_power(value_of(a), n)
    if n == 0:
        return Var(value)
    powers = [np.broadcast_to(np.eye(a.shape[-1]), a.shape)]
    for _ in range(n - 1):
        powers.append(powers[-1] @ a.value)

    def vjp(g: Any) -> Any:
        """d(A^n) = sum_k A^k dA A^(n-1-k): adjoint sum_k (A^k)^H G (A^(n-1-k))^H."""
        return sum(_mH(powers[k]) @ g @ _mH(powers[n - 1 - k]) for k in range(n))

    return node(value, [(a, vjp)])


def _multi_dot(b: dict[str, Any]) -> Any:
    arrays = list(b["arrays"])
    first_vector, last_vector = np.ndim(value_of(arrays[0])) == 1, np.ndim(value_of(arrays[-1])) == 1
    if first_vector:
        arrays[0] = np.reshape(arrays[0], (1, -1))
    if last_vector:
        arrays[-1] = np.reshape(arrays[-1], (-1, 1))
    out = arrays[0]
    for m in arrays[1:]:
        out = np.matmul(out, m)
    if first_vector:
        out = out[0]
    if last_vector:
        out = out[..., 0]
    return out


def _tensorinv(b: dict[str, Any]) -> Any:
    a, ind = b["a"], int(b["ind"])
    shape = np.shape(value_of(a))
    rows = math.prod(shape[:ind])
    return np.reshape(np.linalg.inv(np.reshape(a, (rows, -1))), shape[ind:] + shape[:ind])


def _tensorsolve(b: dict[str, Any]) -> Any:
    a, rhs, axes = b["a"], b["b"], b["axes"]
    an = np.ndim(value_of(a))
    if axes is not None:
        order = [i for i in range(an) if i not in [int(k) % an for k in axes]]
        order += [int(k) % an for k in axes]
        a = np.transpose(a, order)
    old = np.shape(value_of(a))[-(an - np.ndim(value_of(rhs))):]
    n = math.prod(old)
    return np.reshape(np.linalg.solve(np.reshape(a, (n, n)), np.ravel(rhs)), old)


def _svdvals_node(x: Var, value: Any) -> Var:
    """d sigma_i = Re(u_i^H dA v_i) (distinct singular values): adjoint sum_i g_i u_i v_i^H."""
    u, _, vh = np.linalg.svd(x.value, full_matrices=False)

    def vjp(g: Any) -> Any:
        return (u * np.asarray(g)[..., None, :]) @ vh

    return node(value, [(x, vjp)])


def _svdvals(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    (x,) = args
    return _svdvals_node(x, _call_values(func, args, kwargs))


def _svd(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    b = _bind(func, name, args, kwargs)
    if b["compute_uv"] or b["hermitian"]:
        raise _missing(f"{name} with singular vectors", " (only compute_uv=False, the singular values)")
    return _svdvals_node(b["a"], _call_values(func, args, kwargs))


def _spectral_norm(x: Var, axes: tuple[int, ...], keepdims: bool, largest: bool) -> Any:
    moved = _np.moveaxis(x, axes, (-2, -1))
    s = _svdvals_node(moved, np.linalg.svd(moved.value, compute_uv=False))
    out = np.max(s, axis=-1) if largest else np.min(s, axis=-1)
    if keepdims:
        out = np.expand_dims(out, axes)
    return out


def _triangle(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """tril/triu keep a triangle and zero the rest: a mask, its own adjoint."""
    b = _bind(func, name, args, kwargs)
    m, k = b["m"], b["k"]
    return node(_call_values(func, args, kwargs), [(m, lambda g: func(g, k))])


def _sinc(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """sinc(x) = sin(pi x) / (pi x): sinc' = (cos(pi x) - sinc(x)) / x, 0 at x = 0."""
    (x,) = args
    value = np.sinc(x.value)

    def vjp(g: Any) -> Any:
        with np.errstate(all="ignore"):
            d = np.where(x.value == 0, 0.0, (np.cos(np.pi * x.value) - value) / x.value)
        return times(g, d)

    return node(value, [(x, vjp)])


def _kron(b: dict[str, Any]) -> Any:
    """kron: an outer product whose axes are interleaved, then merged pairwise."""
    a, c = b["a"], b["b"]
    sa, sc = np.shape(value_of(a)), np.shape(value_of(c))
    nd = max(len(sa), len(sc))
    sa, sc = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sc)) + sc
    a = np.reshape(a, sa) if isinstance(a, Var) else np.reshape(np.asarray(a), sa)
    c = np.reshape(c, sc) if isinstance(c, Var) else np.reshape(np.asarray(c), sc)
    la, lc = _letters(nd), _letters(nd, _letters(nd))
    spec = f"{la},{lc}->{''.join(x + y for x, y in zip(la, lc, strict=True))}"
    outer = einsum_node(np.einsum(spec, value_of(a), value_of(c)), spec, [a, c], [False, False])
    return np.reshape(outer, [p * q for p, q in zip(sa, sc, strict=True)])


# ---------------------------------------------------------------- Hermitian eigenproblems, Cholesky


def hermitian_part(a: Any, lower: bool) -> Any:
    """The Hermitian matrix NumPy reads from one triangle of ``a`` (the diagonal's
    imaginary part ignored), as a composition of covered operations."""
    n = np.shape(value_of(a))[-1]
    strict = np.tri(n, k=-1, dtype=bool)
    if not lower:
        strict = strict.T
    low = np.where(strict, a, 0.0)
    return low + np.conjugate(np.swapaxes(low, -1, -2)) + np.where(np.eye(n, dtype=bool), np.real(a), 0.0)


def _cluster_mean(g: Any, w: Any) -> Any:
    """Each eigenvalue's cotangent replaced by the mean over its cluster (values closer
    than n eps max|w|): the adjoint of giving a cluster its mean tangent."""
    n = np.shape(w)[-1]
    tol = n * np.finfo(np.result_type(w, float)).eps * np.max(np.abs(w), axis=-1, keepdims=True)
    near = np.abs(w[..., :, None] - w[..., None, :]) <= tol[..., None]
    return np.sum(near * np.asarray(g)[..., None, :], axis=-1) / np.sum(near, axis=-1)


def _eigen_common(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
                  ) -> tuple[Any, Any, Any]:
    b = _bind(func, name, args, kwargs)
    a = b["a"]
    if not isinstance(a, Var):
        raise _missing(f"{name} with a Var outside a")
    h = hermitian_part(a, str(b["UPLO"]).upper() == "L")
    w, v = np.linalg.eigh(a.value, UPLO=b["UPLO"])
    return h, w, v


def _eigvalsh(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """d lambda_i = Re(v_i^H dH v_i): adjoint H = V diag(g) V^H."""
    h, w, v = _eigen_common(func, name, args, kwargs)
    value = _call_values(func, args, kwargs)
    return node(value, [(h, lambda g: (v * _cluster_mean(g, w)[..., None, :]) @ _mH(v))])


_EIGH_RESULT: Any = type(np.linalg.eigh(np.eye(1)))


def _eigh(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """dV = V (F o V^H dH V) with F_ij = 1 / (w_j - w_i), F_ii = 0 (gauge Im diag(V^H dV) = 0):
    adjoint of the vectors V (F o V^H gV) V^H; of the values V diag(g) V^H."""
    h, w, v = _eigen_common(func, name, args, kwargs)
    value = _call_values(func, args, kwargs)
    with np.errstate(divide="ignore"):
        gap = w[..., None, :] - w[..., :, None]
        f = np.where(np.eye(np.shape(w)[-1], dtype=bool), 0.0, 1.0 / np.where(gap == 0, 0.0, gap))

    def vjp_vectors(g: Any) -> Any:
        return v @ (f * (_mH(v) @ g)) @ _mH(v)

    values_node = node(value[0], [(h, lambda g: (v * _cluster_mean(g, w)[..., None, :]) @ _mH(v))])
    return _EIGH_RESULT(values_node, node(value[1], [(h, vjp_vectors)]))


def _cholesky(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """dL = L Phi(L^-1 dH L^-H), Phi = lower triangle with the diagonal halved:
    adjoint H = L^-H Phi(L^H gL) L^-1 (gL = gU^H for the upper factor U = L^H)."""
    b = _bind(func, name, args, kwargs)
    a, upper = b["a"], bool(b.get("upper", False))
    if not isinstance(a, Var):
        raise _missing(f"{name} with a Var outside a")
    h = hermitian_part(a, not upper)
    value = _call_values(func, args, kwargs)
    low = _mH(value) if upper else value
    inv_low = np.linalg.inv(low)
    n = np.shape(low)[-1]

    def vjp(g: Any) -> Any:
        g_low = _mH(g) if upper else g
        x = _mH(low) @ g_low
        phi = np.tril(x, -1) + 0.5 * (x * np.eye(n))
        return _mH(inv_low) @ phi @ inv_low

    return node(value, [(h, vjp)])


# ---------------------------------------------------------------- more compositions


def _angle(b: dict[str, Any]) -> Any:
    """angle(z) = atan2(Im z, Re z); the angle of a real number is piecewise constant."""
    z = b["z"]
    if not np.iscomplexobj(value_of(z)):
        return Var(np.angle(value_of(z), deg=b["deg"]))
    out = np.arctan2(np.imag(z), np.real(z))
    return out * (180.0 / np.pi) if b["deg"] else out


def _cumulative_api(kind: str) -> Callable[[dict[str, Any]], Any]:
    """cumulative_sum / cumulative_prod (NumPy 2.1): cumsum / cumprod with an optional
    initial identity."""

    def build(b: dict[str, Any]) -> Any:
        x, axis = b["x"], b["axis"]
        ndim = np.ndim(value_of(x))
        axis = 0 if axis is None else int(axis) % ndim
        out = np.cumsum(x, axis=axis) if kind == "sum" else np.cumprod(x, axis=axis)
        if b.get("include_initial"):
            shape = list(np.shape(value_of(x)))
            shape[axis] = 1
            start = np.zeros(shape) if kind == "sum" else np.ones(shape)
            out = np.concatenate([start, out], axis=axis)
        return out

    return build


def _nan_replaced(a: Any, fill: float) -> Any:
    return np.where(np.isnan(value_of(a)), fill, a)


def _kw(b: dict[str, Any], *names: str) -> dict[str, Any]:
    """The given (not defaulted to NumPy's no-value) arguments among ``names``."""
    return {k: b[k] for k in names if k in b and _given(b[k]) and b[k] is not None}


def _nanvar(square_root: bool) -> Callable[[dict[str, Any]], Any]:
    def build(b: dict[str, Any]) -> Any:
        if _given(b.get("where", _NOVALUE)) or _given(b.get("mean", _NOVALUE)):
            raise _missing("np.nanvar/nanstd(where=/mean=...)")
        a, axis = b["a"], b["axis"]
        ddof = b["correction"] if _given(b.get("correction", _NOVALUE)) else b["ddof"]
        keep = b.get("keepdims") is True
        good = ~np.isnan(value_of(a))
        count = np.sum(good, axis=axis, keepdims=True)
        avg = np.sum(np.where(good, a, 0.0), axis=axis, keepdims=True) / count
        d = np.where(good, a - avg, 0.0)
        sq = np.real(d * np.conjugate(d)) if np.iscomplexobj(value_of(a)) else d * d
        var = np.sum(sq, axis=axis, keepdims=keep) / (np.sum(good, axis=axis, keepdims=keep) - ddof)
        return np.sqrt(var) if square_root else var

    return build


def _average(b: dict[str, Any]) -> Any:
    a, axis, weights = b["a"], b["axis"], b["weights"]
    keep = b.get("keepdims") is True
    if weights is None:
        avg = np.mean(a, axis=axis, keepdims=keep)
        scale = np.full(np.shape(value_of(avg)), np.size(value_of(a)) / max(np.size(value_of(avg)), 1))
    else:
        w = weights
        shape_a, shape_w = np.shape(value_of(a)), np.shape(value_of(w))
        if shape_a != shape_w:
            ndim = len(shape_a)
            w = np.swapaxes(np.broadcast_to(w, (1,) * (ndim - 1) + shape_w), -1, int(axis))
        scale = np.sum(w, axis=axis, keepdims=keep)
        avg = np.sum(np.multiply(a, w), axis=axis, keepdims=keep) / scale
    if b["returned"]:
        return avg, np.broadcast_to(scale, np.shape(value_of(avg)))
    return avg


def _trapezoid(b: dict[str, Any]) -> Any:
    y, x, dx, axis = b["y"], b["x"], b["dx"], int(b["axis"])
    ndim = np.ndim(value_of(y))
    axis %= ndim
    if x is None:
        d: Any = dx
    elif np.ndim(value_of(x)) == 1:
        d = np.diff(x)
        shape = [1] * ndim
        shape[axis] = np.shape(value_of(d))[0]
        d = np.reshape(d, shape)
    else:
        d = np.diff(x, axis=axis)
    hi = tuple(slice(1, None) if i == axis else slice(None) for i in range(ndim))
    lo = tuple(slice(None, -1) if i == axis else slice(None) for i in range(ndim))
    return np.sum(d * (y[hi] + y[lo]) / 2.0, axis=axis)


def _cross(b: dict[str, Any]) -> Any:
    """The cross product from its components (2-vectors have a zero third one)."""
    axisa, axisb, axisc = b.get("axisa", -1), b.get("axisb", -1), b.get("axisc", -1)
    if b.get("axis") is not None:
        axisa = axisb = axisc = b["axis"]
    a = np.moveaxis(b["a"], axisa, -1)
    c = np.moveaxis(b["b"], axisb, -1)
    na, nc = np.shape(value_of(a))[-1], np.shape(value_of(c))[-1]
    a0, a1, c0, c1 = a[..., 0], a[..., 1], c[..., 0], c[..., 1]
    if na == 2 and nc == 2:
        return a0 * c1 - a1 * c0
    a2: Any = a[..., 2] if na == 3 else 0.0
    c2: Any = c[..., 2] if nc == 3 else 0.0
    out = np.stack([a1 * c2 - a2 * c1, a2 * c0 - a0 * c2, a0 * c1 - a1 * c0], axis=-1)
    return np.moveaxis(out, -1, axisc)


def _cov(b: dict[str, Any]) -> Any:
    if b.get("fweights") is not None or b.get("aweights") is not None:
        raise _missing("np.cov with weights")
    m, y, rowvar = b["m"], b["y"], b["rowvar"]
    x = np.atleast_2d(m)
    if not rowvar and np.shape(value_of(x))[0] != 1:
        x = np.transpose(x)
    if y is not None:
        y = np.atleast_2d(y)
        if not rowvar and np.shape(value_of(y))[0] != 1:
            y = np.transpose(y)
        x = np.concatenate((x, y), axis=0)
    ddof = b["ddof"] if b["ddof"] is not None else (0 if b["bias"] else 1)
    fact = np.shape(value_of(x))[1] - ddof
    x = x - np.mean(x, axis=1)[:, None]
    return np.squeeze(np.dot(x, np.conjugate(np.transpose(x))) / fact)


def _corrcoef(b: dict[str, Any]) -> Any:
    """cov normalised by the standard deviations (NumPy's clip to [-1, 1] only
    touches the exact diagonal ones, where the derivative is zero anyway)."""
    c = _cov({"m": b["x"], "y": b["y"], "rowvar": b["rowvar"], "bias": False, "ddof": None})
    if np.ndim(value_of(c)) == 0:
        return c / c
    std = np.sqrt(np.real(np.diagonal(c)))
    return c / std[:, None] / std[None, :]


def _convolve_node(value: Any, a: Any, v: Any) -> Var:
    """The full convolution y = a * v: the adjoint of da is g correlated with v
    (a_bar[k] = sum_n g[n] conj(v[n - k])), and likewise for dv."""
    av, vv = np.asarray(value_of(a)), np.asarray(value_of(v))
    edges: list[tuple[Var, VJP]] = []
    if isinstance(a, Var):
        edges.append((a, lambda g: np.correlate(g, vv, "valid")))
    if isinstance(v, Var):
        edges.append((v, lambda g: np.correlate(g, av, "valid")))
    return node(value, edges)


def _convolution(correlate: bool) -> Callable[[dict[str, Any]], Any]:
    def build(b: dict[str, Any]) -> Any:
        a, v, mode = b["a"], b["v"], b["mode"]
        if correlate:  # c_k = sum_n a[n + k] conj(v[n]): the convolution with conj(v) reversed
            v = np.conjugate(v[::-1]) if isinstance(v, Var) else np.conjugate(np.asarray(v)[::-1])
        na, nv = np.size(value_of(a)), np.size(value_of(v))
        full = _convolve_node(np.convolve(value_of(a), value_of(v)), a, v)
        long, short = max(na, nv), min(na, nv)
        if mode == "full":
            return full
        if mode == "same":
            start = (short - 1) // 2 if not correlate or na >= nv else short // 2
            return full[start:start + long]
        if mode == "valid":
            return full[short - 1:long]
        raise _missing(f"np.convolve(mode={mode!r})")

    return build


# ---------------------------------------------------------------- discrete Fourier transforms
#
# The unnormalised DFT F has the adjoint F^H = n ifft; with NumPy's norm
# modes, the adjoint of fft(norm=m) is ifft(norm=dual(m)) and vice versa.

_DUAL_NORM: dict[Any, Any] = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}


def _fit_length(c: Any, length: int, axis: int) -> Any:
    """Truncate or zero-pad ``c`` along ``axis`` to ``length`` (the adjoint of the reverse)."""
    n = np.shape(c)[axis]
    if n > length:
        return np.take(c, np.arange(length), axis=axis)
    if n < length:
        pad = [(0, 0)] * np.ndim(c)
        pad[axis] = (0, length - n)
        return np.pad(c, pad)
    return c


def _fft1(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """fft/ifft (complex linear), rfft (real to half spectrum), irfft (half spectrum to real)."""
    b = _bind(func, name, args, kwargs)
    x, n, axis, norm = b["a"], b["n"], int(b["axis"]), b["norm"]
    if not isinstance(x, Var):
        raise _missing(f"{name} with a Var outside a")
    value = _call_values(func, args, kwargs)
    axis %= max(x.ndim, 1)
    length = x.shape[axis]
    dual = _DUAL_NORM[norm]
    if func in (np.fft.fft, np.fft.ifft):
        adjoint = np.fft.ifft if func is np.fft.fft else np.fft.fft

        def vjp(g: Any) -> Any:
            return _fit_length(adjoint(g, axis=axis, norm=dual), length, axis)
    elif func is np.fft.rfft:
        size = length if n is None else int(n)

        def vjp(g: Any) -> Any:
            # rows 0..size//2 of the DFT: the adjoint pads the half spectrum and inverts
            return _fit_length(np.fft.ifft(_fit_length(g, size, axis), axis=axis, norm=dual), length, axis)
    else:  # irfft: x_t = sum_k w_k Re(X_k e^(2 pi i k t / N)) / N, w_k = 2 inside, 1 at 0 and N/2
        size = 2 * (length - 1) if n is None else int(n)

        def vjp(g: Any) -> Any:
            c = np.fft.rfft(g, axis=axis, norm=dual)
            m = np.shape(c)[axis]
            w = np.full(m, 2.0)
            w[0] = 1.0
            if size % 2 == 0:
                w[-1] = 1.0
            shape = [1] * np.ndim(c)
            shape[axis] = m
            return _fit_length(c * np.reshape(w, shape), length, axis)

    return node(value, [(x, vjp)])


def _fftn_axes(b: dict[str, Any], ndim: int, default_axes: Any) -> tuple[list[Any], list[int]]:
    s, axes = b["s"], b["axes"] if b["axes"] is not None else default_axes
    if axes is None:
        axes = list(range(-len(s), 0)) if s is not None else list(range(ndim))
    axes = [int(a) for a in axes]
    sizes: list[Any] = list(s) if s is not None else [None] * len(axes)
    return sizes, axes


def _fftn(one: Any, default_axes: Any) -> Callable[[dict[str, Any]], Any]:
    """fftn/ifftn/fft2/ifft2 as the 1-D transform along each axis (last first, as NumPy)."""

    def build(b: dict[str, Any]) -> Any:
        a = b["a"]
        sizes, axes = _fftn_axes(b, np.ndim(value_of(a)), default_axes)
        for ii in reversed(range(len(axes))):
            a = one(a, n=sizes[ii], axis=axes[ii], norm=b["norm"])
        return a

    return build


def _rfftn(inverse: bool, default_axes: Any) -> Callable[[dict[str, Any]], Any]:
    """rfftn: rfft along the last axis, then fft along the others; irfftn the reverse."""

    def build(b: dict[str, Any]) -> Any:
        a = b["a"]
        sizes, axes = _fftn_axes(b, np.ndim(value_of(a)), default_axes)
        if not inverse:
            a = np.fft.rfft(a, n=sizes[-1], axis=axes[-1], norm=b["norm"])
            for ii in range(len(axes) - 1):
                a = np.fft.fft(a, n=sizes[ii], axis=axes[ii], norm=b["norm"])
            return a
        for ii in range(len(axes) - 1):
            a = np.fft.ifft(a, n=sizes[ii], axis=axes[ii], norm=b["norm"])
        return np.fft.irfft(a, n=sizes[-1], axis=axes[-1], norm=b["norm"])

    return build


def _hfft(b: dict[str, Any]) -> Any:
    return np.fft.irfft(np.conjugate(b["a"]), n=b["n"], axis=b["axis"], norm=_DUAL_NORM[b["norm"]])


def _ihfft(b: dict[str, Any]) -> Any:
    return np.conjugate(np.fft.rfft(b["a"], n=b["n"], axis=b["axis"], norm=_DUAL_NORM[b["norm"]]))


# ---------------------------------------------------------------- polynomials, quantiles, misc


def _as_var_or_array(x: Any) -> Any:
    return x if isinstance(x, Var) else np.asarray(x)


def _polyval(b: dict[str, Any]) -> Any:
    """Horner's scheme, as NumPy evaluates it."""
    p, x = _as_var_or_array(b["p"]), b["x"]
    y: Any = np.zeros(np.shape(value_of(x)))
    for i in range(np.shape(value_of(p))[0]):
        y = y * x + p[i]
    return y


def _strip_leading_zeros(a: Any) -> Any:
    """As np.poly1d does (polymul goes through it): drop leading zero coefficients."""
    a = np.atleast_1d(_as_var_or_array(a))
    nonzero = np.flatnonzero(np.asarray(value_of(a)))
    return a[nonzero[0]:] if nonzero.size else a[-1:]


def _poly_pad(a: Any, n: int) -> Any:
    extra = n - np.shape(value_of(a))[0]
    return np.concatenate([np.zeros(extra), a]) if extra > 0 else a


def _polyadd(sign: float) -> Callable[[dict[str, Any]], Any]:
    def build(b: dict[str, Any]) -> Any:
        a1, a2 = np.atleast_1d(_as_var_or_array(b["a1"])), np.atleast_1d(_as_var_or_array(b["a2"]))
        n = max(np.shape(value_of(a1))[0], np.shape(value_of(a2))[0])
        return _poly_pad(a1, n) + sign * _poly_pad(a2, n)

    return build


def _polyder(b: dict[str, Any]) -> Any:
    p = np.atleast_1d(_as_var_or_array(b["p"]))
    for _ in range(int(b["m"])):
        n = np.shape(value_of(p))[0] - 1
        p = p[:-1] * np.arange(n, 0, -1)
    return p


def _polyint(b: dict[str, Any]) -> Any:
    p, m, k = np.atleast_1d(_as_var_or_array(b["p"])), int(b["m"]), b["k"]
    ks: Any = np.zeros(m) if k is None else (np.broadcast_to(k, (m,)) if np.ndim(value_of(k)) == 0 else k)
    for i in range(m):
        n = np.shape(value_of(p))[0]
        p = np.concatenate([p / np.arange(n, 0, -1), np.reshape(ks[i], (1,))])
    return p


def _poly(b: dict[str, Any]) -> Any:
    zeros = b["seq_of_zeros"]
    if np.ndim(value_of(zeros)) != 1:
        raise _missing("np.poly of a matrix", " (pass its eigenvalues)")
    a: Any = np.ones(1)
    for k in range(np.shape(value_of(zeros))[0]):
        a = np.convolve(a, np.concatenate([np.ones(1), -zeros[k:k + 1]]))
    return a


def _vander(b: dict[str, Any]) -> Any:
    x, n = b["x"], b["N"]
    n = np.shape(value_of(x))[0] if n is None else int(n)
    if n == 0:
        return Var(np.zeros((np.shape(value_of(x))[0], 0)))
    cols = [np.power(x, k) if k else np.ones(np.shape(value_of(x))) for k in range(n)]
    out = np.stack(cols, axis=1)
    return out if b["increasing"] else out[:, ::-1]


def _quantile_of(a: Any, q: Any, axis: Any) -> Any:
    """Linear interpolation between order statistics (NumPy's default method)."""
    if axis is None:
        a, axis = np.ravel(a), 0
        nd = np.ndim(value_of(a))
    else:
        nd = np.ndim(value_of(a))
        if isinstance(axis, (tuple, list)):  # the reduced axes moved last and merged
            axes = sorted(int(i) % nd for i in axis)
            kept = [i for i in range(nd) if i not in axes]
            shape = np.shape(value_of(a))
            a = np.reshape(np.transpose(a, kept + axes), [shape[i] for i in kept] + [-1])
            nd, axis = len(kept) + 1, len(kept)
        axis = int(axis) % nd
    moved = np.moveaxis(a, axis, -1)
    n = np.shape(value_of(moved))[-1]
    srt = np.sort(moved, axis=-1)
    qv = np.asarray(value_of(q), dtype=float)
    index = qv * (n - 1)
    lo = np.clip(np.floor(index).astype(np.intp), 0, n - 1)
    hi = np.clip(lo + 1, 0, n - 1)
    t = q * (n - 1) - lo
    lower, upper = srt[..., lo], srt[..., hi]
    out = lower + (upper - lower) * t  # shape (..., *q.shape)
    qnd = qv.ndim
    return np.moveaxis(out, tuple(range(-qnd, 0)), tuple(range(qnd))) if qnd else out


def _quantile(scale: float) -> Callable[[dict[str, Any]], Any]:
    def build(b: dict[str, Any]) -> Any:
        if b.get("method", "linear") != "linear" or b.get("weights") is not None:
            raise _missing("np.quantile with a method other than 'linear' or weights")
        a, axis, keep = b["a"], b.get("axis"), bool(b.get("keepdims", False))
        q = b["q"] if isinstance(b["q"], Var) else np.asarray(b["q"], dtype=float)
        q = q if scale == 1.0 else q / scale
        out = _quantile_of(a, q, axis)
        if keep:
            nd = np.ndim(value_of(a))
            qnd = np.ndim(value_of(q))
            if axis is None:
                reduced: Any = range(nd)
            elif isinstance(axis, (tuple, list)):
                reduced = sorted(int(i) % nd for i in axis)
            else:
                reduced = [int(axis) % nd]
            out = np.expand_dims(out, tuple(qnd + i for i in reduced))
        return out

    return build


def _median(b: dict[str, Any]) -> Any:
    return _quantile(1.0)({"a": b["a"], "q": 0.5, "axis": b["axis"], "keepdims": b["keepdims"]})


def _pinv_node(value: Any, a: Var) -> Var:
    """The constant-rank derivative of P = A+:
    dP = -P dA P + P P^H dA^H (I - A P) + (I - P A) dA^H P^H P, whose adjoint is
    -P^H G P^H + (I - A P) G^H P P^H + P^H P G^H (I - P A)."""
    av, pv = a.value, value
    m, n = np.shape(av)[-2:]
    left = np.eye(m) - av @ pv
    right = np.eye(n) - pv @ av

    def vjp(g: Any) -> Any:
        gh = _mH(g)
        return -(_mH(pv) @ g @ _mH(pv)) + left @ gh @ pv @ _mH(pv) + _mH(pv) @ pv @ gh @ right

    return node(value, [(a, vjp)])


def _pinv(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    b = _bind(func, name, args, kwargs)
    a = b["a"]
    if not isinstance(a, Var):
        raise _missing(f"{name} with a Var outside a")
    value = _call_values(func, args, kwargs)
    h = hermitian_part(a, True) if b["hermitian"] else a
    return with_value(value, _pinv_node(np.linalg.pinv(h.value), h)) if b["hermitian"] else _pinv_node(value, a)


def _lstsq(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """x = A+ b (constant rank); residuals |b - A x|^2 when NumPy reports them; s = svdvals(A)."""
    b_ = _bind(func, name, args, kwargs)
    a, rhs = b_["a"], b_["b"]
    x, res, rank, sv = _call_values(func, args, kwargs)
    av = np.asarray(value_of(a))
    pinv_value = np.linalg.pinv(av, rcond=np.finfo(float).eps * max(av.shape) if b_["rcond"] is None
                                else b_["rcond"])
    p = _pinv_node(pinv_value, a) if isinstance(a, Var) else pinv_value
    x_c = with_value(x, np.matmul(p, rhs))
    if np.size(res):
        r = rhs - np.matmul(a, x_c)
        res_c = with_value(res, np.reshape(np.sum(np.real(r * np.conjugate(r)), axis=0), np.shape(res)))
    else:
        res_c = Var(res)
    s_c = _svdvals_node(a, sv) if isinstance(a, Var) else Var(sv)
    return (x_c, res_c, rank, s_c)


def _cond(b: dict[str, Any]) -> Any:
    x, p = b["x"], b["p"]
    if p is None or p in (2, -2):
        s = np.linalg.svdvals(x)
        big, small = np.max(s, axis=-1), np.min(s, axis=-1)
        return big / small if p != -2 else small / big
    return np.linalg.norm(x, p, axis=(-2, -1)) * np.linalg.norm(np.linalg.inv(x), p, axis=(-2, -1))


_QR_RESULT: Any = type(np.linalg.qr(np.eye(1)))


def _qr(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Reduced QR of a tall matrix, in LAPACK's gauge (real diagonal of R).

    With Z = dA R^-1, C = Q^H Z, O = tril(C, -1) - tril(C, -1)^H + i Im diag(C):
    dQ = Q (O - C) + Z, dR = (C - O) R. The adjoint, with D = Q^H gQ - gR R^H:
    gA = (gQ + Q Cbar) R^-H, Cbar = -D + tril(D, -1) - tril(D^H, -1) + i Im diag(D).
    """
    b = _bind(func, name, args, kwargs)
    a, mode = b["a"], b["mode"]
    if not isinstance(a, Var) or mode not in ("reduced", "r", "complete"):
        raise _missing(f"{name}(mode={mode!r})")
    m, n = a.shape[-2:]
    if m < n or (mode == "complete" and m != n):
        raise _missing(f"{name} of a wide matrix or mode='complete'", " (only tall or square, reduced)")
    q, r = np.linalg.qr(a.value)
    value = _call_values(func, args, kwargs)
    r_inv_h = _mH(np.linalg.inv(r))
    eye = np.eye(n, dtype=bool)

    def pull(gq: Any, gr: Any) -> Any:
        d = _mH(q) @ gq - gr @ _mH(r)
        c_bar = -d + np.tril(d, -1) - np.tril(_mH(d), -1) + np.where(eye, 1j * np.imag(d), 0)
        return (gq + q @ c_bar) @ r_inv_h

    zero_q, zero_r = np.zeros_like(q), np.zeros_like(r)
    if mode == "r":
        return node(value, [(a, lambda g: pull(zero_q, g))])
    return _QR_RESULT(node(value[0], [(a, lambda g: pull(g, zero_r))]),
                      node(value[1], [(a, lambda g: pull(zero_q, g))]))


def _interp(b: dict[str, Any]) -> Any:
    """Piecewise linear: fp[i] + (x - xp[i]) (fp[i+1] - fp[i]) / (xp[i+1] - xp[i]) on each piece,
    the end values (or left/right) outside."""
    if b["period"] is not None:
        raise _missing("np.interp(period=...)")
    x, xp, fp = b["x"], _as_var_or_array(b["xp"]), _as_var_or_array(b["fp"])
    xv, xpv = np.asarray(value_of(x)), np.asarray(value_of(xp))
    n = xpv.shape[0]
    i = np.clip(np.searchsorted(xpv, xv, side="right") - 1, 0, n - 2)
    x0, x1, f0, f1 = xp[i], xp[i + 1], fp[i], fp[i + 1]
    inside = f0 + (x - x0) * (f1 - f0) / (x1 - x0)
    left = fp[0] if b["left"] is None else b["left"]
    right = fp[n - 1] if b["right"] is None else b["right"]
    out = np.where(xv < xpv[0], left, np.where(xv > xpv[-1], right, inside))
    return np.where(xv == xpv[-1], fp[n - 1], out)


def _linspace(b: dict[str, Any]) -> Any:
    start, stop, num = b["start"], b["stop"], int(b["num"])
    div = (num - 1) if b["endpoint"] else num
    shape = np.broadcast_shapes(np.shape(value_of(start)), np.shape(value_of(stop)))
    t = np.reshape(np.arange(num) / max(div, 1), (-1,) + (1,) * len(shape))
    y = start + t * (stop - start)
    if b["endpoint"] and num > 1:
        y = y.at[-1].set(np.broadcast_to(stop, shape)) if isinstance(y, Var) else y
    if int(b["axis"]) != 0:
        y = np.moveaxis(y, 0, int(b["axis"]))
    if b["retstep"]:
        return y, (stop - start) / div if div > 0 else Var(np.nan)
    return y


def _logspace(b: dict[str, Any]) -> Any:
    """base ** linspace(start, stop), with NumPy's broadcasting of an array base."""
    start, stop, base = b["start"], b["stop"], b["base"]
    ndmax = np.broadcast(np.asarray(value_of(start)), np.asarray(value_of(stop)), np.asarray(value_of(base))).ndim

    def lift(v: Any) -> Any:
        extra = ndmax - np.ndim(value_of(v))
        return np.reshape(v, (1,) * extra + np.shape(value_of(v))) if extra > 0 else v

    lin = _linspace({**b, "start": lift(start), "stop": lift(stop), "retstep": False})
    base = lift(base)
    if np.ndim(value_of(base)):
        base = np.expand_dims(base, int(b["axis"]))
    return np.power(base, lin)


def _nan_to_num(b: dict[str, Any]) -> Any:
    """Finite entries pass through; the replaced ones are constants (real and imaginary parts
    separately for complex input)."""
    x = b["x"]
    fixed = np.nan_to_num(np.asarray(value_of(x)), nan=b["nan"], posinf=b["posinf"], neginf=b["neginf"])
    if not np.iscomplexobj(value_of(x)):
        return np.where(np.isfinite(value_of(x)), x, fixed)
    re = np.where(np.isfinite(np.real(value_of(x))), np.real(x), np.real(fixed))
    im = np.where(np.isfinite(np.imag(value_of(x))), np.imag(x), np.imag(fixed))
    return re + 1j * im


def _unwrap(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """unwrap adds multiples of the period, constant between jumps: the identity to first order."""
    (p, *_rest) = args
    value = _call_values(func, args, kwargs)
    return node(value, [(p, lambda g: g)])


def _scimath(ufunc: Any, limit: float | None) -> Callable[[dict[str, Any]], Any]:
    """np.emath: the ufunc, in complex arithmetic where a real input leaves its real domain."""

    def build(b: dict[str, Any]) -> Any:
        x = b["x"]
        xv = np.asarray(value_of(x))
        outside = np.any(xv < 0) if limit is None else np.any(np.abs(xv) > limit)
        if limit is not None and outside:
            raise _missing(f"np.emath.{ufunc.__name__} outside [-1, 1]",
                           " (its value lies on a branch cut, where the complex derivative formula "
                           "does not know NumPy's side)")
        if not np.iscomplexobj(xv) and outside:
            x = _np.astype(x, np.complex128) if isinstance(x, Var) else xv.astype(np.complex128)
        return ufunc(x)

    return build


def _scimath_power(b: dict[str, Any]) -> Any:
    x, p = b["x"], b["p"]
    xv = np.asarray(value_of(x))
    if not np.iscomplexobj(xv) and np.any(xv < 0):
        x = _np.astype(x, np.complex128) if isinstance(x, Var) else xv.astype(np.complex128)
    return np.power(x, p)


def _scimath_logn(b: dict[str, Any]) -> Any:
    def fix(v: Any) -> Any:
        vv = np.asarray(value_of(v))
        if not np.iscomplexobj(vv) and np.any(vv < 0):
            return _np.astype(v, np.complex128) if isinstance(v, Var) else vv.astype(np.complex128)
        return v

    return np.log(fix(b["x"])) / np.log(fix(b["n"]))


def _sort_complex(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    (x,) = args
    value = _call_values(func, args, kwargs)
    pos = np.take_along_axis(np.arange(x.size).reshape(x.shape),
                             np.argsort(x.value.astype(complex), axis=-1, kind="stable"), axis=-1)
    return node(value, [(x, functools.partial(scatter, pos=pos, offset=0, size=x.size, shape=x.shape))])


def _partition(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    b = _bind(func, name, args, kwargs)
    x = b["a"]
    value = _call_values(func, args, kwargs)
    axis = b["axis"]
    base = np.arange(x.size).reshape(x.shape)
    v = x.value
    if axis is None:
        base, v, axis = base.ravel(), v.ravel(), -1
    order = np.argpartition(v, b["kth"], axis=axis, kind=b["kind"])
    pos = np.take_along_axis(base, order, axis=axis)
    if not np.array_equal(np.ravel(x.value)[pos], value):
        raise _missing(f"{name}: argpartition did not reproduce the partition")
    return node(value, [(x, functools.partial(scatter, pos=pos, offset=0, size=x.size, shape=x.shape))])


# ---------------------------------------------------------------- the function table

A = (2, 3)
A3 = (2, 3, 4)
V = (4,)
SQ = (3, 3)
SQS = (2, 3, 3)
_I = np.array([0, 2, 0, 1])
_MASK = np.array([[True, False, True], [False, True, True]])


def _eig_reconstruct(w: Any, v: Any) -> Any:
    """V diag(w) V^H: independent of the eigenvectors' phases."""
    return (v * w[..., None, :]) @ np.conjugate(np.swapaxes(v, -1, -2))


def _cases(*cases: Case) -> tuple[Case, ...]:
    return tuple(cases)


_GATHER_FUNCTIONS: dict[Any, tuple[Case, ...]] = {
    np.reshape: _cases(_case(lambda a: np.reshape(a, (3, 2)), A, complex_ok=True),
                       _case(lambda a: np.reshape(a, (4, -1), order="F"), A3)),
    np.ravel: _cases(_case(lambda a: np.ravel(a), A3, complex_ok=True),
                     _case(lambda a: np.ravel(a, order="F"), A)),
    np.transpose: _cases(_case(lambda a: np.transpose(a), A3, complex_ok=True),
                         _case(lambda a: np.transpose(a, (1, 2, 0)), A3), _case(lambda a: a.T, A)),
    np.matrix_transpose: _cases(_case(lambda a: np.matrix_transpose(a), A3)),
    np.moveaxis: _cases(_case(lambda a: np.moveaxis(a, 0, -1), A3),
                        _case(lambda a: np.moveaxis(a, (0, 1), (2, 0)), A3)),
    np.swapaxes: _cases(_case(lambda a: np.swapaxes(a, 0, 2), A3, complex_ok=True)),
    np.squeeze: _cases(_case(lambda a: np.squeeze(a), (2, 1, 3)),
                       _case(lambda a: np.squeeze(a, axis=1), (2, 1, 1))),
    np.expand_dims: _cases(_case(lambda a: np.expand_dims(a, 1), A),
                           _case(lambda a: np.expand_dims(a, (0, -1)), A)),
    np.broadcast_to: _cases(_case(lambda a: np.broadcast_to(a, (4, 2, 3)), A),
                            _case(lambda a: np.broadcast_to(a, (2, 3)), (2, 1))),
    np.broadcast_arrays: _cases(_case(lambda a, b: np.broadcast_arrays(a, b), (2, 1), (3,))),
    np.atleast_1d: _cases(_case(lambda a: np.atleast_1d(a), ())),
    np.atleast_2d: _cases(_case(lambda a: np.atleast_2d(a), (3,))),
    np.atleast_3d: _cases(_case(lambda a: np.atleast_3d(a), (3,))),
    np.concatenate: _cases(_case(lambda a, b: np.concatenate([a, b, a]), A, (1, 3), complex_ok=True),
                           _case(lambda a, b: np.concatenate([a, b], axis=1), A, (2, 2)),
                           _case(lambda a: np.concatenate([a, np.ones((2, 3))], axis=None), A)),
    np.stack: _cases(_case(lambda a, b: np.stack([a, b]), A, A),
                     _case(lambda a, b: np.stack([b, a, np.zeros(3)], axis=-1), (3,), (3,))),
    np.vstack: _cases(_case(lambda a, b: np.vstack([a, b]), A, (3,))),
    np.hstack: _cases(_case(lambda a, b: np.hstack([a, b]), A, (2, 1))),
    np.dstack: _cases(_case(lambda a, b: np.dstack([a, b]), A, A)),
    np.column_stack: _cases(_case(lambda a, b: np.column_stack([a, b]), (3,), (3, 2))),
    np.unstack: _cases(_case(lambda a: np.unstack(a, axis=1), A)),
    np.split: _cases(_case(lambda a: np.split(a, [1, 3], axis=1), (2, 4))),
    np.array_split: _cases(_case(lambda a: np.array_split(a, 3), (5,))),
    np.hsplit: _cases(_case(lambda a: np.hsplit(a, 2), (2, 4))),
    np.vsplit: _cases(_case(lambda a: np.vsplit(a, 2), (4, 2))),
    np.diagonal: _cases(_case(lambda a: np.diagonal(a), SQ, complex_ok=True),
                        _case(lambda a: np.diagonal(a, 1, 2, 0), A3)),
    np.flip: _cases(_case(lambda a: np.flip(a), A), _case(lambda a: np.flip(a, 1), A3)),
    np.fliplr: _cases(_case(lambda a: np.fliplr(a), A)),
    np.flipud: _cases(_case(lambda a: np.flipud(a), A)),
    np.roll: _cases(_case(lambda a: np.roll(a, 2), A), _case(lambda a: np.roll(a, -1, axis=0), A)),
    np.rot90: _cases(_case(lambda a: np.rot90(a), A)),
    np.take: _cases(_case(lambda a: np.take(a, _I), A), _case(lambda a: np.take(a, [0, 0], axis=1), A)),
    np.take_along_axis: _cases(_case(lambda a: np.take_along_axis(a, np.array([[0, 0, 2]]), axis=1), A)),
    np.repeat: _cases(_case(lambda a: np.repeat(a, 2), A), _case(lambda a: np.repeat(a, [1, 3], axis=0), A)),
    np.tile: _cases(_case(lambda a: np.tile(a, (2, 1, 2)), A)),
    np.copy: _cases(_case(lambda a: np.copy(a), A)),
    np.linalg.matrix_transpose: _cases(_case(lambda a: np.linalg.matrix_transpose(a), A3)),
    np.rollaxis: _cases(_case(lambda a: np.rollaxis(a, 2), A3)),
    np.resize: _cases(_case(lambda a: np.resize(a, (4, 2)), A)),
    np.dsplit: _cases(_case(lambda a: np.dsplit(a, 2), A3)),
    np.diag: _cases(_case(lambda a: np.diag(a, 1), (3,), complex_ok=True), _case(lambda a: np.diag(a, -1), SQ)),
    np.diagflat: _cases(_case(lambda a: np.diagflat(a), A)),
    np.linalg.diagonal: _cases(_case(lambda a: np.linalg.diagonal(a, offset=1), A3)),
    np.pad: _cases(_case(lambda a: np.pad(a, ((1, 0), (2, 1)), constant_values=3.0), A),
                   _case(lambda a: np.pad(a, 2, mode="reflect"), A), _case(lambda a: np.pad(a, 1, mode="edge"), A),
                   _case(lambda a: np.pad(a, (1, 3), mode="wrap"), (3,)),
                   _case(lambda a: np.pad(a, 2, mode="symmetric"), A)),
    np.insert: _cases(_case(lambda a, b: np.insert(a, [1, 1, 3], b), (4,), (3,)),
                      _case(lambda a: np.insert(a, 1, 7.0, axis=1), A)),
    np.append: _cases(_case(lambda a, b: np.append(a, b), A, (2,)),
                      _case(lambda a, b: np.append(a, b, axis=0), A, (1, 3))),
    np.delete: _cases(_case(lambda a: np.delete(a, [0, 2], axis=1), A)),
    np.compress: _cases(_case(lambda a: np.compress([True, False, True], a, axis=1), A)),
    np.extract: _cases(_case(lambda a: np.extract(_MASK, a), A)),
    np.choose: _cases(_case(lambda a, b: np.choose(np.array([[0, 1, 1], [1, 0, 0]]), [a, b]), A, (3,))),
    np.select: _cases(_case(lambda a, b: np.select([_MASK, ~_MASK], [a, b]), A, A),
                      _case(lambda a: np.select([_MASK[0]], [a], default=2.0), A)),
    np.block: _cases(_case(lambda a, b: np.block([[a, b], [b, a]]), (2, 2), (2, 2))),
    np.meshgrid: _cases(_case(lambda a, b: np.meshgrid(a, b), (3,), (2,)),
                        _case(lambda a, b: np.meshgrid(a, b, indexing="ij", sparse=True), (3,), (2,))),
    np.lib.stride_tricks.sliding_window_view: _cases(
        _case(lambda a: np.lib.stride_tricks.sliding_window_view(a, 3), (5,))),
    np.fft.fftshift: _cases(_case(lambda a: np.fft.fftshift(a), A), _case(lambda a: np.fft.fftshift(a, axes=1), A3)),
    np.fft.ifftshift: _cases(_case(lambda a: np.fft.ifftshift(a), (5,))),
}


FUNCTION_VJPS: dict[Any, FunctionRule] = {
    **{f: FunctionRule(_gather, cases) for f, cases in _GATHER_FUNCTIONS.items()},
    # --- reductions
    np.sum: FunctionRule(_reduction(_reduce_add), _cases(
        _case(lambda a: np.sum(a), A3, complex_ok=True),
        _case(lambda a: np.sum(a, axis=1), A3),
        _case(lambda a: np.sum(a, axis=(0, 2), keepdims=True), A3),
        _case(lambda a: a.sum(-1, initial=2.0), A),
        _case(lambda a: np.sum(a, axis=0, where=_MASK), A, forward=False))),
    np.mean: FunctionRule(_mean, _cases(
        _case(lambda a: np.mean(a), A3, complex_ok=True),
        _case(lambda a: np.mean(a, axis=(0, 2)), A3),
        _case(lambda a: np.mean(a, axis=1, keepdims=True), A),
        _case(lambda a: np.mean(a, axis=1, where=_MASK), A, complex_ok=True, forward=False))),
    np.prod: FunctionRule(_reduction(_reduce_multiply), _cases(
        _case(lambda a: np.prod(a), A, complex_ok=True, low=0.5),
        _case(lambda a: np.prod(a, axis=(0, 2), keepdims=True), A3),
        _case(lambda a: np.prod(a, axis=0, initial=3.0), A),
        _case(lambda a: np.prod(a, axis=1, where=_MASK, keepdims=True), A, forward=False))),
    np.max: FunctionRule(_reduction(_reduce_extremum), _cases(
        _case(lambda a: np.max(a), A3), _case(lambda a: np.max(a, axis=1), A3),
        _case(lambda a: a.max(axis=(0, 2), keepdims=True), A3),
        _case(lambda a: np.max(a, axis=1, where=_MASK, initial=-5.0), A, forward=False))),
    np.amax: FunctionRule(_reduction(_reduce_extremum), _cases(_case(lambda a: np.amax(a, axis=0), A))),
    np.min: FunctionRule(_reduction(_reduce_extremum), _cases(
        _case(lambda a: np.min(a), A3), _case(lambda a: np.min(a, axis=-1, keepdims=True), A3))),
    np.amin: FunctionRule(_reduction(_reduce_extremum), _cases(_case(lambda a: np.amin(a, axis=1), A))),
    np.var: FunctionRule(_moment(False), _cases(
        _case(lambda a: np.var(a), A3, complex_ok=True),
        _case(lambda a: np.var(a, axis=1, ddof=1), A3),
        _case(lambda a: np.var(a, axis=(0, 2), keepdims=True), A3))),
    np.std: FunctionRule(_moment(True), _cases(
        _case(lambda a: np.std(a), A3, complex_ok=True),
        _case(lambda a: np.std(a, axis=0, ddof=1), A3),
        _case(lambda a: np.std(a, axis=-1, keepdims=True), A))),
    np.cumsum: FunctionRule(_cumulative(_accumulate_add, True), _cases(
        _case(lambda a: np.cumsum(a), A, complex_ok=True), _case(lambda a: np.cumsum(a, axis=1), A3))),
    np.cumprod: FunctionRule(_cumulative(_accumulate_multiply, True), _cases(
        _case(lambda a: np.cumprod(a), A, complex_ok=True), _case(lambda a: np.cumprod(a, axis=0), A3))),
    np.sort: FunctionRule(_sort, _cases(_case(lambda a: np.sort(a), A3),
                                        _case(lambda a: np.sort(a, axis=None), A))),
    np.diff: FunctionRule(_diff, _cases(_case(lambda a: np.diff(a), A3, complex_ok=True),
                                        _case(lambda a: np.diff(a, n=2, axis=0), (4, 2)))),
    # --- selection
    np.where: FunctionRule(_where, _cases(
        _case(lambda a, b: np.where(_MASK, a, b), A, (3,), complex_ok=True),
        _case(lambda a: np.where(_MASK, a, 0.0), A),
        _case(lambda a: np.where(_MASK[0], 1.0, a), A))),
    np.clip: FunctionRule(_clip, _cases(
        _case(lambda a: np.clip(a, -1.0, 1.0), A3),
        _case(lambda a, lo, hi: np.clip(a, lo, hi), A, (3,), (2, 1)),
        _case(lambda a: np.clip(a, None, 0.5), A))),
    np.round: FunctionRule(_constant, _cases(_case(lambda a: np.round(a, 1), A, low=0.31, high=0.34))),
    np.around: FunctionRule(_constant, _cases(_case(lambda a: np.around(a), A, low=0.1, high=0.4))),
    # --- products
    np.dot: FunctionRule(_dot, _cases(
        _case(lambda a, b: np.dot(a, b), V, V, complex_ok=True),
        _case(lambda a, b: np.dot(a, b), A, (3, 2)),
        _case(lambda a, b: np.dot(a, b), A3, V),
        _case(lambda a, b: np.dot(a, b), A3, (3, 4, 2)),
        _case(lambda a, b: np.dot(a, b), (), A),
        _case(lambda a, b: a.dot(b), (3,), (2, 3, 4)))),
    np.inner: FunctionRule(_inner, _cases(_case(lambda a, b: np.inner(a, b), A, (4, 3), complex_ok=True),
                                          _case(lambda a, b: np.inner(a, b), (), V))),
    np.outer: FunctionRule(_flat_pair("i,j->ij", False), _cases(
        _case(lambda a, b: np.outer(a, b), (3,), A, complex_ok=True))),
    np.vdot: FunctionRule(_flat_pair("i,i->", True), _cases(
        _case(lambda a, b: np.vdot(a, b), A, A, complex_ok=True))),
    np.tensordot: FunctionRule(_tensordot, _cases(
        _case(lambda a, b: np.tensordot(a, b), A3, (3, 4, 2), complex_ok=True),
        _case(lambda a, b: np.tensordot(a, b, axes=([0, 2], [2, 0])), A3, (4, 5, 2)),
        _case(lambda a, b: np.tensordot(a, b, axes=0), (2,), (3,)),
        _case(lambda a, b: np.tensordot(a, b, axes=(1, 0)), A, (3, 2)))),
    np.einsum: FunctionRule(_einsum, _cases(
        _case(lambda a, b: np.einsum("ij,jk->ik", a, b), A, (3, 2), complex_ok=True),
        _case(lambda a: np.einsum("ii->", a), SQ),
        _case(lambda a: np.einsum("ii->i", a), SQ),
        _case(lambda a: np.einsum("ijj->ij", a), (2, 3, 3)),
        _case(lambda a, b: np.einsum("...ij,...jk", a, b), (2, 2, 3), (3, 2)),
        _case(lambda a, b: np.einsum("ij,k", a, b), A, (2,)),
        _case(lambda a, b: np.einsum("i,i->i", a, b), (3,), (1,)),
        _case(lambda a, b, c: np.einsum("ab,bc,ca->", a, b, c), A, (3, 4), (4, 2)))),
    np.trace: FunctionRule(_trace, _cases(_case(lambda a: np.trace(a), SQ, complex_ok=True),
                                          _case(lambda a: np.trace(a, 1, 2, 0), A3))),
    # --- complex parts and dtype
    np.real: FunctionRule(_real, _cases(_case(lambda a: np.real(a), A, complex_ok=True),
                                        _case(lambda a: np.real(a * (1.0 + 2.0j)), A))),
    np.imag: FunctionRule(_imag, _cases(_case(lambda a: np.imag(a), A, complex_ok=True),
                                        _case(lambda a: np.imag(a * (1.0 + 2.0j)), A))),
    np.astype: FunctionRule(_astype, _cases(_case(lambda a: np.astype(a, np.complex128) * 1j, A),
                                            _case(lambda a: np.astype(a, np.float32), A, rtol=1e-2))),
    # --- linear algebra
    np.linalg.inv: FunctionRule(_inv, _cases(_case(lambda a: np.linalg.inv(a), SQ, shift=3.0, complex_ok=True),
                                             _case(lambda a: np.linalg.inv(a), SQS, shift=3.0))),
    np.linalg.solve: FunctionRule(_solve, _cases(
        _case(lambda a, b: np.linalg.solve(a, b), SQ, (3,), shift=3.0, complex_ok=True),
        _case(lambda a, b: np.linalg.solve(a, b), SQS, (3, 2), shift=3.0),
        _case(lambda a, b: np.linalg.solve(a, b), SQS, (3,), shift=3.0))),
    np.linalg.det: FunctionRule(_det, _cases(_case(lambda a: np.linalg.det(a), SQ, complex_ok=True),
                                             _case(lambda a: np.linalg.det(a), SQS),
                                             _case(lambda a: np.linalg.det(a), (1, 1)))),
    np.linalg.slogdet: FunctionRule(_slogdet, _cases(
        _case(lambda a: np.linalg.slogdet(a), SQ, shift=3.0, complex_ok=True),
        _case(lambda a: np.linalg.slogdet(a)[1], SQS, shift=3.0))),
    np.linalg.norm: FunctionRule(_norm, _cases(
        _case(lambda a: np.linalg.norm(a), V, complex_ok=True),
        _case(lambda a: np.linalg.norm(a), A3),
        _case(lambda a: np.linalg.norm(a, axis=1, keepdims=True), A3, complex_ok=True),
        _case(lambda a: np.linalg.norm(a, ord=1), V),
        _case(lambda a: np.linalg.norm(a, ord=np.inf, axis=0), A),
        _case(lambda a: np.linalg.norm(a, ord=-np.inf), V),
        _case(lambda a: np.linalg.norm(a, ord=3), V, low=0.2),
        _case(lambda a: np.linalg.norm(a, ord="fro"), A),
        _case(lambda a: np.linalg.norm(a, ord="nuc"), A),
        _case(lambda a: np.linalg.norm(a, ord=2), A, complex_ok=True),
        _case(lambda a: np.linalg.norm(a, ord=-2, axis=(2, 0), keepdims=True), A3),
        _case(lambda a: np.linalg.norm(a, ord=1), A),
        _case(lambda a: np.linalg.norm(a, ord=-np.inf, axis=(0, 1)), A3),
        _case(lambda a: np.linalg.norm(a, ord=1, axis=(-1, 1)), A3),
        _case(lambda a: np.linalg.norm(a, ord=np.inf, axis=(2, 0), keepdims=True), A3),
        _case(lambda a: np.linalg.norm(a, axis=(0, 2)), A3))),
    # --- compositions of covered operations (the value is NumPy's own)
    np.ptp: FunctionRule(_composite(lambda b: np.max(b["a"], axis=b["axis"], keepdims=b["keepdims"] is True)
                                    - np.min(b["a"], axis=b["axis"], keepdims=b["keepdims"] is True)),
                         _cases(_case(lambda a: np.ptp(a), A), _case(lambda a: np.ptp(a, axis=1), A3))),
    np.nansum: FunctionRule(_composite(lambda b: np.sum(np.where(np.isnan(value_of(b["a"])), 0.0, b["a"]),
                                                        axis=b["axis"], **_kw(b, "keepdims", "initial", "where")),
                                       where_ok=True),
                            _cases(_case(lambda a: np.nansum(np.where(_MASK, a, np.nan)), A),
                                   _case(lambda a: np.nansum(a, axis=0, where=_MASK), A, forward=False))),
    np.nanmean: FunctionRule(_composite(lambda b: np.sum(np.where(np.isnan(value_of(b["a"])), 0.0, b["a"]),
                                                         axis=b["axis"], **_kw(b, "keepdims", "where"))
                                        / np.sum(~np.isnan(value_of(b["a"])), axis=b["axis"],
                                                 **_kw(b, "keepdims", "where")), where_ok=True),
                             _cases(_case(lambda a: np.nanmean(np.where(_MASK, a, np.nan), axis=1), A))),
    np.nanmax: FunctionRule(_composite(lambda b: _np.fmax.reduce(b["a"], axis=b["axis"],
                                                                **_kw(b, "keepdims", "initial", "where")),
                                       where_ok=True),
                            _cases(_case(lambda a: np.nanmax(np.where(_MASK, a, np.nan), axis=0), A),
                                   _case(lambda a: np.nanmax(a, axis=1, where=_MASK, initial=-3.0), A,
                                         forward=False))),
    np.nanmin: FunctionRule(_composite(lambda b: _np.fmin.reduce(b["a"], axis=b["axis"],
                                                                **_kw(b, "keepdims", "initial", "where")),
                                       where_ok=True),
                            _cases(_case(lambda a: np.nanmin(np.where(_MASK, a, np.nan)), A))),
    np.kron: FunctionRule(_composite(_kron), _cases(_case(lambda a, b: np.kron(a, b), A, (2, 2), complex_ok=True),
                                                    _case(lambda a, b: np.kron(a, b), (3,), A))),
    np.sinc: FunctionRule(_sinc, _cases(_case(lambda a: np.sinc(a), A, complex_ok=True))),
    np.tril: FunctionRule(_triangle, _cases(_case(lambda a: np.tril(a), SQ), _case(lambda a: np.tril(a, 1), A3))),
    np.triu: FunctionRule(_triangle, _cases(_case(lambda a: np.triu(a, -1), A3))),
    np.linalg.matmul: FunctionRule(_composite(lambda b: np.matmul(b["x1"], b["x2"])),
                                   _cases(_case(lambda a, b: np.linalg.matmul(a, b), A3, (4, 2)))),
    np.linalg.outer: FunctionRule(_composite(lambda b: np.outer(b["x1"], b["x2"])),
                                  _cases(_case(lambda a, b: np.linalg.outer(a, b), (3,), (2,)))),
    np.linalg.tensordot: FunctionRule(_composite(lambda b: np.tensordot(b["x1"], b["x2"], axes=b["axes"])),
                                      _cases(_case(lambda a, b: np.linalg.tensordot(a, b, axes=1), A, (3, 2)))),
    np.linalg.vecdot: FunctionRule(_composite(lambda b: _np.vecdot(np.moveaxis(b["x1"], b["axis"], -1),
                                                                  np.moveaxis(b["x2"], b["axis"], -1))),
                                   _cases(_case(lambda a, b: _np.linalg.vecdot(a, b, axis=0), A, A,
                                                complex_ok=True))),
    np.linalg.trace: FunctionRule(_composite(lambda b: np.trace(b["x"], b["offset"], -2, -1)),
                                  _cases(_case(lambda a: np.linalg.trace(a, offset=1), A3))),
    np.linalg.vector_norm: FunctionRule(_composite(_vector_norm), _cases(
        _case(lambda a: np.linalg.vector_norm(a), A3, complex_ok=True),
        _case(lambda a: np.linalg.vector_norm(a, axis=(0, 2), keepdims=True, ord=3), A3, low=0.2),
        _case(lambda a: np.linalg.vector_norm(a, axis=1, ord=np.inf), A3))),
    np.linalg.matrix_norm: FunctionRule(_composite(lambda b: _np.linalg.norm(b["x"], b["ord"], (-2, -1),
                                                                            b["keepdims"])), _cases(
        _case(lambda a: np.linalg.matrix_norm(a), A3, complex_ok=True),
        _case(lambda a: np.linalg.matrix_norm(a, ord=2, keepdims=True), A3))),
    np.linalg.matrix_power: FunctionRule(_composite(_matrix_power), _cases(
        _case(lambda a: np.linalg.matrix_power(a, 3), SQ, low=-1.0, high=1.0, complex_ok=True),
        _case(lambda a: np.linalg.matrix_power(a, -2), SQS, shift=3.0),
        _case(lambda a: np.linalg.matrix_power(a, 0), SQ),
        _case(lambda a: np.linalg.matrix_power(a, 1), SQ))),
    np.linalg.multi_dot: FunctionRule(_composite(_multi_dot), _cases(
        _case(lambda a, b, c: np.linalg.multi_dot([a, b, c]), (3,), (3, 4), (4,)),
        _case(lambda a, b, c: np.linalg.multi_dot([a, b, c]), A, (3, 4), (4, 2), complex_ok=True))),
    np.linalg.tensorinv: FunctionRule(_composite(_tensorinv), _cases(
        _case(lambda a: np.linalg.tensorinv(np.reshape(a, (2, 2, 4)), ind=2), (4, 4), shift=3.0))),
    np.linalg.tensorsolve: FunctionRule(_composite(_tensorsolve), _cases(
        _case(lambda a, b: np.linalg.tensorsolve(np.reshape(a, (4, 2, 2)), b), (4, 4), (4,), shift=3.0),
        _case(lambda a, b: np.linalg.tensorsolve(np.reshape(np.transpose(a), (2, 2, 4)), b, axes=(2,)),
              (4, 4), (2, 2), shift=3.0))),
    np.linalg.svdvals: FunctionRule(_svdvals, _cases(_case(lambda a: np.linalg.svdvals(a), A3, complex_ok=True))),
    # --- Hermitian eigenproblems and Cholesky (NumPy reads one triangle)
    np.linalg.eigvalsh: FunctionRule(_eigvalsh, _cases(
        _case(lambda a: np.linalg.eigvalsh(a), SQ, complex_ok=True),
        _case(lambda a: np.linalg.eigvalsh(a, UPLO="U"), SQS))),
    np.linalg.eigh: FunctionRule(_eigh, _cases(
        _case(lambda a: np.linalg.eigh(a)[0], SQ, complex_ok=True),
        _case(lambda a: np.abs(np.linalg.eigh(a, UPLO="U")[1]), SQS),
        _case(lambda a: _eig_reconstruct(*np.linalg.eigh(a)), SQ, complex_ok=True))),
    np.linalg.cholesky: FunctionRule(_cholesky, _cases(
        _case(lambda a: np.linalg.cholesky(a @ np.swapaxes(np.conjugate(a), -1, -2)), SQ, shift=3.0,
              complex_ok=True),
        _case(lambda a: np.linalg.cholesky(a + 4.0 * np.eye(3), upper=True), SQS, low=-0.5, high=0.5))),
    # --- more compositions
    np.fix: FunctionRule(_constant, _cases(_case(lambda a: np.fix(a), A, low=0.1, high=0.9))),
    np.angle: FunctionRule(_composite(_angle), _cases(_case(lambda a: np.angle(a), A, complex_ok=True),
                                                      _case(lambda a: np.angle(a * (1 + 1j), deg=True), A))),
    np.cumulative_sum: FunctionRule(_composite(_cumulative_api("sum")), _cases(
        _case(lambda a: np.cumulative_sum(a, axis=1, include_initial=True), A, complex_ok=True),
        _case(lambda a: np.cumulative_sum(a), (4,)))),
    np.cumulative_prod: FunctionRule(_composite(_cumulative_api("prod")), _cases(
        _case(lambda a: np.cumulative_prod(a, axis=0, include_initial=True), A, complex_ok=True))),
    np.nancumsum: FunctionRule(_composite(lambda b: np.cumsum(_nan_replaced(b["a"], 0.0), axis=b["axis"])),
                               _cases(_case(lambda a: np.nancumsum(np.where(_MASK, a, np.nan), axis=1), A))),
    np.nancumprod: FunctionRule(_composite(lambda b: np.cumprod(_nan_replaced(b["a"], 1.0), axis=b["axis"])),
                                _cases(_case(lambda a: np.nancumprod(np.where(_MASK, a, np.nan)), A))),
    np.nanprod: FunctionRule(_composite(lambda b: np.prod(_nan_replaced(b["a"], 1.0), axis=b["axis"],
                                                          **_kw(b, "keepdims", "initial", "where")),
                                        where_ok=True),
                             _cases(_case(lambda a: np.nanprod(np.where(_MASK, a, np.nan), axis=0), A))),
    np.nanvar: FunctionRule(_composite(_nanvar(False)), _cases(
        _case(lambda a: np.nanvar(np.where(_MASK, a, np.nan), axis=1, ddof=1), A),
        _case(lambda a: np.nanvar(np.where(_MASK, a, np.nan)), A, complex_ok=True))),
    np.nanstd: FunctionRule(_composite(_nanvar(True)), _cases(
        _case(lambda a: np.nanstd(np.where(_MASK, a, np.nan), axis=1, keepdims=True), A))),
    np.average: FunctionRule(_composite(_average), _cases(
        _case(lambda a: np.average(a, axis=1), A),
        _case(lambda a, w: np.average(a, axis=1, weights=w, returned=True), A, (3,), low=0.5),
        _case(lambda a, w: np.average(a, weights=w, keepdims=True), A, A, low=0.5))),
    np.trapezoid: FunctionRule(_composite(_trapezoid), _cases(
        _case(lambda y: np.trapezoid(y, dx=0.5), A),
        _case(lambda y, x: np.trapezoid(y, x), A, (3,)),
        _case(lambda y, x: np.trapezoid(y, x, axis=0), A, A))),
    np.cross: FunctionRule(_composite(_cross), _cases(
        _case(lambda a, b: np.cross(a, b), (2, 3), (3,), complex_ok=True),
        _case(lambda a, b: np.cross(a, b, axisa=0, axisb=1, axisc=0), (3, 2), (2, 3)))),
    np.linalg.cross: FunctionRule(_composite(lambda b: np.cross(b["x1"], b["x2"], axis=b["axis"])),
                                  _cases(_case(lambda a, b: np.linalg.cross(a, b), (3,), (3,)))),
    np.cov: FunctionRule(_composite(_cov), _cases(
        _case(lambda m: np.cov(m), (3, 5), complex_ok=True),
        _case(lambda m, y: np.cov(m, y, rowvar=False, bias=True), (5, 2), (5,)))),
    np.corrcoef: FunctionRule(_composite(_corrcoef), _cases(_case(lambda m: np.corrcoef(m), (3, 5)))),
    np.convolve: FunctionRule(_composite(_convolution(False)), _cases(
        _case(lambda a, v: np.convolve(a, v), (5,), (3,), complex_ok=True),
        _case(lambda a, v: np.convolve(a, v, "same"), (5,), (4,)),
        _case(lambda a, v: np.convolve(a, v, "same"), (3,), (6,)),
        _case(lambda a, v: np.convolve(a, v, "valid"), (4,), (6,)))),
    np.correlate: FunctionRule(_composite(_convolution(True)), _cases(
        _case(lambda a, v: np.correlate(a, v), (5,), (3,), complex_ok=True),
        _case(lambda a, v: np.correlate(a, v, "same"), (5,), (4,)),
        _case(lambda a, v: np.correlate(a, v, "same"), (3,), (6,), complex_ok=True),
        _case(lambda a, v: np.correlate(a, v, "full"), (4,), (6,), complex_ok=True))),
    # --- Fourier transforms
    np.fft.fft: FunctionRule(_fft1, _cases(
        _case(lambda a: np.fft.fft(a), (5,), complex_ok=True),
        _case(lambda a: np.fft.fft(a, n=6, axis=0, norm="ortho"), A, complex_ok=True),
        _case(lambda a: np.fft.fft(a, n=2, norm="forward"), A, complex_ok=True))),
    np.fft.ifft: FunctionRule(_fft1, _cases(
        _case(lambda a: np.fft.ifft(a), (5,), complex_ok=True),
        _case(lambda a: np.fft.ifft(a, n=4, axis=0, norm="forward"), A, complex_ok=True))),
    np.fft.rfft: FunctionRule(_fft1, _cases(
        _case(lambda a: np.fft.rfft(a), (6,)), _case(lambda a: np.fft.rfft(a), (5,)),
        _case(lambda a: np.fft.rfft(a, n=4, axis=0, norm="ortho"), (3, 2)))),
    np.fft.irfft: FunctionRule(_fft1, _cases(
        _case(lambda a: np.fft.irfft(a), (4,), complex_ok=True),
        _case(lambda a: np.fft.irfft(a, n=5), (3,), complex_ok=True),
        _case(lambda a: np.fft.irfft(a, n=8, axis=0, norm="forward"), (3, 2), complex_ok=True))),
    np.fft.fft2: FunctionRule(_composite(_fftn(np.fft.fft, (-2, -1))), _cases(
        _case(lambda a: np.fft.fft2(a), A, complex_ok=True))),
    np.fft.ifft2: FunctionRule(_composite(_fftn(np.fft.ifft, (-2, -1))), _cases(
        _case(lambda a: np.fft.ifft2(a, s=(3, 2)), A, complex_ok=True))),
    np.fft.fftn: FunctionRule(_composite(_fftn(np.fft.fft, None)), _cases(
        _case(lambda a: np.fft.fftn(a, norm="ortho"), A3, complex_ok=True),
        _case(lambda a: np.fft.fftn(a, axes=(0, 2)), A3, complex_ok=True))),
    np.fft.ifftn: FunctionRule(_composite(_fftn(np.fft.ifft, None)), _cases(
        _case(lambda a: np.fft.ifftn(a), A3, complex_ok=True))),
    np.fft.rfft2: FunctionRule(_composite(_rfftn(False, (-2, -1))), _cases(_case(lambda a: np.fft.rfft2(a), A3))),
    np.fft.irfft2: FunctionRule(_composite(_rfftn(True, (-2, -1))), _cases(
        _case(lambda a: np.fft.irfft2(a), A3, complex_ok=True))),
    np.fft.rfftn: FunctionRule(_composite(_rfftn(False, None)), _cases(_case(lambda a: np.fft.rfftn(a), A3))),
    np.fft.irfftn: FunctionRule(_composite(_rfftn(True, None)), _cases(
        _case(lambda a: np.fft.irfftn(a, s=(2, 3, 5), axes=(0, 1, 2)), A3, complex_ok=True))),
    np.fft.hfft: FunctionRule(_composite(_hfft), _cases(_case(lambda a: np.fft.hfft(a), (4,), complex_ok=True))),
    np.fft.ihfft: FunctionRule(_composite(_ihfft), _cases(_case(lambda a: np.fft.ihfft(a), (5,)))),
    # --- polynomials
    np.polyval: FunctionRule(_composite(_polyval), _cases(
        _case(lambda p, x: np.polyval(p, x), (4,), A, complex_ok=True))),
    np.polyadd: FunctionRule(_composite(_polyadd(1.0)), _cases(_case(lambda a, b: np.polyadd(a, b), (4,), (2,)))),
    np.polysub: FunctionRule(_composite(_polyadd(-1.0)), _cases(_case(lambda a, b: np.polysub(a, b), (2,), (3,)))),
    np.polymul: FunctionRule(_composite(lambda b: np.convolve(_strip_leading_zeros(b["a1"]),
                                                              _strip_leading_zeros(b["a2"]))),
                             _cases(_case(lambda a, b: np.polymul(a, b), (3,), (2,), complex_ok=True),
                                    _case(lambda b: np.polymul([0.0, 1.0, 2.0], b), (4,)))),
    np.polyder: FunctionRule(_composite(_polyder), _cases(_case(lambda p: np.polyder(p, 2), (5,)))),
    np.polyint: FunctionRule(_composite(_polyint), _cases(_case(lambda p: np.polyint(p), (3,)),
                                                          _case(lambda p, k: np.polyint(p, 2, k), (3,), (2,)),
                                                          _case(lambda p, k: np.polyint(p, 3, k), (2,), ()))),
    np.poly: FunctionRule(_composite(_poly), _cases(_case(lambda z: np.poly(z), (3,), complex_ok=True))),
    np.vander: FunctionRule(_composite(_vander), _cases(_case(lambda x: np.vander(x), (3,)),
                                                        _case(lambda x: np.vander(x, 0), (3,)),
                                                        _case(lambda x: np.vander(x, 4, increasing=True), (3,)))),
    # --- order statistics
    np.median: FunctionRule(_composite(_median), _cases(
        _case(lambda a: np.median(a), A3), _case(lambda a: np.median(a, axis=1, keepdims=True), A3),
        _case(lambda a: np.median(a, axis=0), (3, 2)),
        _case(lambda a: np.median(a, axis=(0, 2), keepdims=True), A3))),
    np.partition: FunctionRule(_partition, _cases(_case(lambda a: np.partition(a, 2), (2, 5)),
                                                  _case(lambda a: np.partition(a, (0, 3), axis=None), A))),
    np.sort_complex: FunctionRule(_sort_complex, _cases(_case(lambda a: np.sort_complex(a), (4,)))),
    # --- more linear algebra
    np.linalg.pinv: FunctionRule(_pinv, _cases(
        _case(lambda a: np.linalg.pinv(a), (4, 3), complex_ok=True),
        _case(lambda a: np.linalg.pinv(a), (2, 3, 5)),
        _case(lambda a: np.linalg.pinv(a @ np.swapaxes(a, -1, -2)), (3, 2)),
        _case(lambda a: np.linalg.pinv(a, hermitian=True), SQ, shift=3.0))),
    np.linalg.lstsq: FunctionRule(_lstsq, _cases(
        _case(lambda a, b: np.linalg.lstsq(a, b)[0], (4, 3), (4,), complex_ok=True),
        _case(lambda a, b: np.linalg.lstsq(a, b)[:2], (5, 2), (5, 3)),
        _case(lambda a, b: np.linalg.lstsq(a, b)[3], (3, 4), (3,)))),
    np.linalg.cond: FunctionRule(_composite(_cond), _cases(
        _case(lambda a: np.linalg.cond(a), SQ, complex_ok=True), _case(lambda a: np.linalg.cond(a, -2), (2, 3, 2)),
        _case(lambda a: np.linalg.cond(a, "fro"), SQ, shift=3.0), _case(lambda a: np.linalg.cond(a, 1), SQ, shift=3.0))),
    # --- assorted
    np.interp: FunctionRule(_composite(_interp), _cases(
        _case(lambda x, fp: np.interp(x, [-1.0, 0.0, 0.5, 1.5], fp), (5,), (4,), low=-1.9, high=1.9),
        _case(lambda x, xp: np.interp(x, xp, [1.0, 3.0, 2.0], left=-1.0), (3,), (3,), low=0.0, high=1.0,
              forward=False),
    )),
    np.linspace: FunctionRule(_composite(_linspace), _cases(
        _case(lambda a, b: np.linspace(a, b, 5), (), ()), _case(lambda a, b: np.linspace(a, b, 4, endpoint=False), (2,), ()),
        _case(lambda a, b: np.linspace(a, b, 3, axis=1), (2, 1), (3,)),
        _case(lambda a, b: np.linspace(a, b, 4, retstep=True), (), ()))),
    np.logspace: FunctionRule(_composite(_logspace), _cases(
        _case(lambda a, b: np.logspace(a, b, 4), (), (), low=-1.0, high=1.0),
        _case(lambda a, b, c: np.logspace(a, b, 4, base=c, axis=-1), (), (), (3,), low=0.5, high=1.5))),
    np.nan_to_num: FunctionRule(_composite(_nan_to_num),
                                _cases(_case(lambda a: np.nan_to_num(np.where(_MASK, a, np.inf), posinf=2.0), A),
               _case(lambda a: np.nan_to_num(a + np.where(_MASK, 0.0, np.inf), posinf=2.0), A, complex_ok=True))),
    np.ediff1d: FunctionRule(_composite(lambda b: np.concatenate(
        [np.ravel(_as_var_or_array(b["to_begin"])) if b["to_begin"] is not None else np.zeros(0),
         np.diff(np.ravel(b["ary"])),
         np.ravel(_as_var_or_array(b["to_end"])) if b["to_end"] is not None else np.zeros(0)])),
        _cases(_case(lambda a: np.ediff1d(a), A), _case(lambda a, e: np.ediff1d(a, to_end=e, to_begin=-1.0), A, (2,)))),
    np.unwrap: FunctionRule(_unwrap, _cases(_case(lambda a: np.unwrap(a * 3.0), (6,)))),
    np.real_if_close: FunctionRule(_composite(lambda b: np.real(b["a"]) if np.isrealobj(
        np.real_if_close(value_of(b["a"]), b["tol"])) else b["a"]), _cases(
        _case(lambda a: np.real_if_close(a + 0j), A), _case(lambda a: np.real_if_close(a), A, complex_ok=True))),
    np.lib.scimath.sqrt: FunctionRule(_composite(_scimath(np.sqrt, None)), _cases(_case(lambda a: np.emath.sqrt(a), A))),
    np.lib.scimath.log: FunctionRule(_composite(_scimath(np.log, None)), _cases(
        _case(lambda a: np.emath.log(a), A, low=-2.0, high=-0.5), _case(lambda a: np.emath.log(a), A, low=0.5))),
    np.lib.scimath.log2: FunctionRule(_composite(_scimath(np.log2, None)), _cases(
        _case(lambda a: np.emath.log2(a), A, low=-2.0, high=-0.5))),
    np.lib.scimath.log10: FunctionRule(_composite(_scimath(np.log10, None)), _cases(
        _case(lambda a: np.emath.log10(a), A, low=-2.0, high=-0.5))),
    np.lib.scimath.logn: FunctionRule(_composite(_scimath_logn), _cases(
        _case(lambda n, a: np.emath.logn(n, a), (), A, low=-2.0, high=-0.5))),
    np.lib.scimath.power: FunctionRule(_composite(_scimath_power), _cases(
        _case(lambda a: np.emath.power(a, 1.5), A, low=-2.0, high=-0.5),
        _case(lambda a, p: np.emath.power(a, p), A, (3,), low=0.5, high=2.0))),
    np.lib.scimath.arcsin: FunctionRule(_composite(_scimath(np.arcsin, 1.0)), _cases(
        _case(lambda a: np.emath.arcsin(a), A, low=-0.8, high=0.8, complex_ok=True))),
    np.lib.scimath.arccos: FunctionRule(_composite(_scimath(np.arccos, 1.0)), _cases(
        _case(lambda a: np.emath.arccos(a), A, low=-0.8, high=0.8))),
    np.lib.scimath.arctanh: FunctionRule(_composite(_scimath(np.arctanh, 1.0)), _cases(
        _case(lambda a: np.emath.arctanh(a), A, low=-0.8, high=0.8))),
    # --- no derivative by nature: plain NumPy results
    **{f: FunctionRule(_nondiff, differentiable=False) for f in (
        np.shape, np.ndim, np.size, np.argmax, np.argmin, np.argsort, np.nonzero, np.flatnonzero,
        np.argwhere, np.count_nonzero, np.iscomplexobj, np.isrealobj, np.isclose, np.allclose,
        np.array_equal, np.zeros_like, np.ones_like, np.empty_like, np.result_type, np.any, np.all,
    )},
}


def _join(*tables: dict[Any, FunctionRule]) -> None:
    """Add the sibling tables to FUNCTION_VJPS; a function may have one rule only."""
    for table in tables:
        twice = [public_name(f) for f in table if f in FUNCTION_VJPS]
        if twice:
            raise AssertionError(f"reverse rules defined twice: {twice}")
        FUNCTION_VJPS.update(table)


# The sibling tables build on the helpers above, so they join at the end.
from . import rules_decompositions, rules_statistics  # noqa: E402

_join(rules_decompositions.FUNCTION_VJPS, rules_statistics.FUNCTION_VJPS, rules_statistics.QUANTILE_VJPS)


def apply_function(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``__array_function__`` of a Var: the node(s) of a NumPy function."""
    rule = FUNCTION_VJPS.get(func)
    name = public_name(func)
    if rule is None:
        raise _missing(name)
    return rule.apply(func, name, args, kwargs)


def covered() -> dict[str, list[str]]:
    """The ufuncs, ufunc methods and functions the reference has VJP rules for."""
    functions = sorted(public_name(f)[3:] for f, r in FUNCTION_VJPS.items() if r.differentiable)
    return {
        "ufuncs": sorted(u.__name__ for u in UFUNC_VJPS),
        "ufunc.reduce": sorted(u.__name__ for u in REDUCE_VJPS),
        "ufunc.accumulate": sorted(u.__name__ for u in ACCUMULATE_VJPS),
        "functions": functions,
        "methods": ["Var.__getitem__", "Var.at[...].add", "Var.at[...].set"],
    }

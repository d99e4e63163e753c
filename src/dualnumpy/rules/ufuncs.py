"""The calculus of NumPy's ufuncs, one line per ufunc, grouped by kind.

A partial is ``partial(ans, *inputs)``: ``ans`` is NumPy's own output, the
inputs are the values (integers already promoted to float64). Constants are
Python floats so that float32 stays float32 (NEP 50: Python scalars are weak).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy._core import umath as _umath

from dualnumpy.core.tangent import align, shape_of, to_shape
from dualnumpy.core.types import ArrayLike
from dualnumpy.numpy_facts.sampling import OPEN_UNIT, POSITIVE, REAL_LINE, Domain, domain
from dualnumpy.rules.kinds import (
    MINUS_ONE,
    NO_PARAMS,
    ONE,
    TANGENT_KINDS,
    ZERO,
    Bilinear,
    Custom,
    Elementwise,
    Linear,
    NonDiff,
    Params,
    PiecewiseConstant,
    Rule,
    Tangents,
    Unsupported,
    add_terms,
    batch_size,
    promote_int,
    result_dtype,
    times_tangent,
)

# NumPy's private umath holds the clip ufunc and the string ufuncs; its stubs do not.
umath: Any = _umath

LN2 = math.log(2.0)
LN10 = math.log(10.0)


# Sampling domains shared by many lines.
REAL = domain(REAL_LINE)
REAL_C = domain(REAL_LINE, complex_ok=True)
POSITIVE_C = domain(POSITIVE, complex_ok=True)
UNIT_OPEN_C = domain(OPEN_UNIT, complex_ok=True)
PAIR = domain(REAL_LINE, REAL_LINE)
PAIR_C = domain(REAL_LINE, REAL_LINE, complex_ok=True)
QUOTIENT = domain((0.2, 0.8), (1.0, 2.0))  # x / y stays between kinks


def _where_zero(cond: ArrayLike, value: ArrayLike) -> ArrayLike:
    return np.where(cond, 0.0, value)


def _any(mask: Any) -> bool:
    """Whether a comparison holds anywhere: a bool (a 0-d Dual compares to one) or an array."""
    return bool(mask) if type(mask) is bool or type(mask) is np.bool_ else bool(mask.any())


def _quotient_or_zero(at_origin: ArrayLike, numerator: ArrayLike, denominator: ArrayLike) -> ArrayLike:
    """``numerator / denominator``, and 0 where ``at_origin`` (there both are 0).

    The denominator is made 1 at the origin before dividing, so 0/0 is never computed:
    no RuntimeWarning, no FloatingPointError under ``np.seterr(all="raise")``, and no
    ``singular=True`` (its silencing and masking) is needed. Elsewhere the quotient is
    the plain one, bit for bit; NumPy calls only, so nested Duals dispatch (and their
    tangent is 0 at the origin too: a Hessian there is 0, not the derivative of v / 1).
    """
    return np.where(at_origin, 0.0, numerator / np.where(at_origin, 1.0, denominator))


def _hypot_partial(ans: ArrayLike, v: ArrayLike) -> ArrayLike:
    """d hypot(x, y) / dv = v / hypot(x, y), for v = x or y; 0 at the origin (the only zero
    of hypot, where the subgradients form the unit disc: the minimum-norm one is 0)."""
    at_origin = ans == 0
    if not _any(at_origin):  # the common case: the plain quotient, without a select
        return v / ans
    return _quotient_or_zero(at_origin, v, ans)


def _arctan2_partial(numerator: ArrayLike, y: ArrayLike, x: ArrayLike) -> ArrayLike:
    """d arctan2(y, x) = (x dy - y dx) / (x**2 + y**2): ``numerator`` is x for dy and -y for dx;
    0 at the origin (the convention of hypot).

    The origin is found from x and y, not from x*x + y*y: that sum also underflows to 0 for
    nonzero inputs below about 1e-162, where masking it would hide a large derivative. There
    (and above about 1e154, where it overflows) the quotient warns as it always did; a
    power-of-two rescaling would fix it (bit-identical while x*x + y*y stays normal) at about
    twice the cost.
    """
    r2 = x * x + y * y
    if not _any(r2 == 0):  # no origin here (r2 is 0 there): the plain quotient
        return numerator / r2
    return _quotient_or_zero((x == 0) & (y == 0), numerator, r2)


# ---------------------------------------------------------------- custom rules


def _jvp_absolute(ans: ArrayLike, values: Sequence[ArrayLike], tangents: Tangents,
                params: Params = NO_PARAMS) -> ArrayLike:
    """d|x| = sign(x) dx; for complex x the R-linear map Re(conj(x) dx) / |x|."""
    (x,), (t,) = values, tangents
    t = align(t, len(shape_of(ans)))
    if np.iscomplexobj(x):
        with np.errstate(all="ignore"):
            out = np.real(np.conjugate(x) * t) / ans
        return np.where(ans == 0, 0.0, out)  # minimum-norm subgradient at 0
    return np.sign(promote_int(x)) * t


def _jvp_sign(ans: ArrayLike, values: Sequence[ArrayLike], tangents: Tangents,
                params: Params = NO_PARAMS) -> ArrayLike:
    """Real sign is piecewise constant; complex sign is z/|z|, smooth away from 0."""
    (x,), (t,) = values, tangents
    t = align(t, len(shape_of(ans)))
    if not np.iscomplexobj(x):
        return np.zeros((shape_of(t)[0], *shape_of(ans)), dtype=result_dtype(ans))
    with np.errstate(all="ignore"):
        out = (t - ans * np.real(np.conjugate(ans) * t)) / np.absolute(x)
    return np.where(ans == 0, 0.0, out)


def constant_exponent_partial(x: ArrayLike, y: float) -> tuple[Any, bool]:
    """d(x**y)/dx for a constant Python exponent, and whether it may be infinite.

    The common x**2 needs no masks; x**1 passes the tangent through (ONE);
    x**0 is constant (None).
    """
    if y == 2:
        return 2.0 * x, False
    if y == 1:
        return ONE, False
    if y == 0:
        return None, False
    return y * x ** (y - 1), y < 1


def _jvp_power(ans: ArrayLike, values: Sequence[ArrayLike], tangents: Tangents,
                params: Params = NO_PARAMS) -> ArrayLike:
    """x**y: y x**(y-1) dx + x**y log(x) dy, with x**0 and 0**y flat (DESIGN.md s6)."""
    dtype = result_dtype(ans)
    x, y = promote_int(values[0], dtype), values[1]
    if not isinstance(y, (int, float)) or isinstance(y, bool):
        y = promote_int(y, dtype)  # a Python exponent stays weakly typed: float32 stays float32
    tx, ty = tangents
    ndim = len(shape_of(ans))
    terms: list[ArrayLike] = []
    with np.errstate(all="ignore"):
        if tx is not None:
            tx = align(tx, ndim)
            if type(y) in (int, float):
                d, singular = constant_exponent_partial(x, float(y))
                if d is ONE:
                    terms.append(tx)
                elif d is not None:
                    terms.append(times_tangent(d, tx, singular, (x,)))
            else:
                d = _where_zero(y == 0, y * x ** (y - 1))
                terms.append(times_tangent(d, tx, True))
        if ty is not None:
            d = _where_zero(x == 0, ans * np.log(x))
            terms.append(times_tangent(d, align(ty, ndim), True))
    return add_terms(terms, batch_size(tangents), shape_of(ans), result_dtype(ans))


def _extremum(first_wins: Callable[[ArrayLike, ArrayLike], ArrayLike]) -> Custom:
    """maximum/minimum/fmax/fmin select a tangent; a tie takes half of each.

    The even split keeps max(x, y) + min(x, y) = x + y differentiable as a sum
    and gives max(x, x)' = 1.
    """

    def jvp(ans: ArrayLike, values: Sequence[ArrayLike], tangents: Tangents,
                params: Params = NO_PARAMS) -> ArrayLike:
        x, y = values
        tx, ty = tangents
        ndim = len(shape_of(ans))
        zero = 0.0 * align(tx if tx is not None else ty, ndim)
        tx = zero if tx is None else align(tx, ndim)
        ty = zero if ty is None else align(ty, ndim)
        chosen = np.where(first_wins(x, y), tx, ty)
        return to_shape(np.where(x == y, 0.5 * (tx + ty), chosen), shape_of(ans))

    return Custom(jvp, domain((-3.0, 3.0), (-3.0, 3.0)), nin=2)


def _jvp_divmod(ans: Any, values: Sequence[ArrayLike], tangents: Tangents,
                params: Params = NO_PARAMS) -> tuple[Any, Any]:
    quotient, remainder = ans
    k = batch_size(tangents)
    zero = np.zeros((k, *shape_of(quotient)), dtype=result_dtype(quotient))
    return zero, REMAINDER.jvp(remainder, values, tangents)


def _jvp_modf(ans: Any, values: Sequence[ArrayLike], tangents: Tangents,
                params: Params = NO_PARAMS) -> tuple[Any, Any]:
    fraction, _ = ans
    (t,) = tangents
    t = to_shape(t, shape_of(fraction))
    return t, np.zeros_like(t)


def _jvp_frexp(ans: Any, values: Sequence[ArrayLike], tangents: Tangents,
                params: Params = NO_PARAMS) -> tuple[Any, None]:
    """x = m * 2**e with e piecewise constant: dm = dx / 2**e; e is an integer output."""
    mantissa, exponent = ans
    (t,) = tangents
    scale = np.ldexp(np.ones_like(mantissa), -exponent)
    return to_shape(scale * align(t, len(shape_of(mantissa))), shape_of(mantissa)), None


def _jvp_clip(ans: ArrayLike, values: Sequence[ArrayLike], tangents: Tangents,
                params: Params = NO_PARAMS) -> ArrayLike:
    """clip(x, lo, hi) is minimum(maximum(x, lo), hi): the same tie convention."""
    x, lo, hi = values
    tx, tlo, thi = tangents
    low = np.maximum(x, lo)
    t_low = MAXIMUM.jvp(low, (x, lo), (tx, tlo), params) if (tx is not None or tlo is not None) else None
    return MINIMUM.jvp(ans, (low, hi), (t_low, thi), params)


def _promote_vector(x: ArrayLike, t: ArrayLike | None, axis: int) -> tuple[ArrayLike, ArrayLike | None]:
    """A 1-D matmul operand as a matrix, so its batched tangent is a stack of matrices."""
    if len(shape_of(x)) != 1:
        return x, t
    x = np.expand_dims(x, axis)
    return x, None if t is None else np.expand_dims(t, axis if axis < 0 else axis + 1)


def _matmul_term(i: int, t: ArrayLike, operands: list[Any], args: Any) -> ArrayLike:
    """Operand i's term of the product rule; 1-D operands are promoted first so the batch
    axis stays a stack axis, and the promoted axes are dropped again."""
    a, b = operands
    a_vector, b_vector = len(shape_of(a)) == 1, len(shape_of(b)) == 1
    a, ta = _promote_vector(a, t if i == 0 else None, 0)
    b, tb = _promote_vector(b, t if i == 1 else None, -1)
    ndim = max(len(shape_of(a)), len(shape_of(b)))
    term = np.matmul(align(ta, ndim), b) if i == 0 else np.matmul(a, align(tb, ndim))
    if b_vector:
        term = term[..., 0]
    if a_vector:
        term = term[..., 0, :] if not b_vector else term[..., 0]
    return term


def _gufunc_term(ufunc: np.ufunc, core_ndims: tuple[int, int]) -> Callable[..., ArrayLike]:
    """Operand i's term for vecdot/matvec/vecmat: align loop dimensions, then apply."""

    def term(i: int, t: ArrayLike, operands: list[Any], args: Any) -> ArrayLike:
        a, b = operands
        loop_ndim = max(len(shape_of(a)) - core_ndims[0], len(shape_of(b)) - core_ndims[1])
        if i == 0:
            return ufunc(align(t, loop_ndim + core_ndims[0]), b)
        return ufunc(a, align(t, loop_ndim + core_ndims[1]))

    return term


# ---------------------------------------------------------------- shared rule objects

REMAINDER = Elementwise((ONE, lambda ans, x, y: -np.floor_divide(x, y)), QUOTIENT)
MAXIMUM = _extremum(lambda x, y: (x > y) | np.isnan(x))
MINIMUM = _extremum(lambda x, y: (x < y) | np.isnan(x))
DIVIDE = Elementwise(
    (
        lambda ans, x, y: 1.0 / y,
        lambda ans, x, y: -ans / y,  # not x * (1/y): the value must stay NumPy's x / y
    ),
    domain((-3.0, 3.0), (0.5, 3.0), complex_ok=True),
    singular=True,
)
MATMUL_DOMAIN = domain((-2.0, 2.0), (-2.0, 2.0), complex_ok=True)

# ---------------------------------------------------------------- the table

UFUNC_RULES: dict[np.ufunc, Rule] = {
    # --- arithmetic
    np.add:          Elementwise((ONE, ONE), PAIR_C),
    np.subtract:     Elementwise((ONE, MINUS_ONE), PAIR_C),
    np.multiply:     Elementwise((lambda ans, x, y: y, lambda ans, x, y: x), PAIR_C),
    np.divide:       DIVIDE,
    np.floor_divide: PiecewiseConstant(QUOTIENT),
    np.remainder:    REMAINDER,
    np.fmod:         Elementwise((ONE, lambda ans, x, y: -np.trunc(x / y)), QUOTIENT),
    np.divmod:       Custom(_jvp_divmod, QUOTIENT, nin=2),
    np.power:        Custom(_jvp_power, domain((0.2, 3.0), (-2.0, 2.0), complex_ok=True), nin=2),
    np.float_power:  Custom(_jvp_power, domain((0.2, 3.0), (-2.0, 2.0), complex_ok=True), nin=2),
    np.square:       Elementwise((lambda ans, x: 2.0 * x,), REAL_C),
    np.reciprocal:   Elementwise((lambda ans, x: -ans * ans,), domain((0.3, 3.0), complex_ok=True),
                                 singular=True),
    np.sqrt:         Elementwise((lambda ans, x: 0.5 / ans,), POSITIVE_C, singular=True),
    np.cbrt:         Elementwise((lambda ans, x: 1.0 / (3.0 * ans * ans),), domain((0.2, 4.0)),
                                 singular=True),
    # --- linear maps: apply the ufunc to the tangent
    np.negative:     Linear(REAL_C),
    np.positive:     Linear(REAL_C),
    np.conjugate:    Linear(REAL_C),  # R-linear: d conj(z) = conj(dz)
    np.deg2rad:      Linear(REAL),
    np.rad2deg:      Linear(REAL),
    np.radians:      Linear(REAL),
    np.degrees:      Linear(REAL),
    np.absolute:     Custom(_jvp_absolute, domain((0.2, 3.0), complex_ok=True)),
    np.fabs:         Elementwise((lambda ans, x: np.sign(x),), domain((0.2, 3.0))),
    # --- exponentials and logarithms
    np.exp:          Elementwise((lambda ans, x: ans,), REAL_C),
    np.exp2:         Elementwise((lambda ans, x: ans * LN2,), REAL_C),
    np.expm1:        Elementwise((lambda ans, x: ans + 1.0,), REAL_C),
    np.log:          Elementwise((lambda ans, x: 1.0 / x,), POSITIVE_C, singular=True),
    np.log2:         Elementwise((lambda ans, x: 1.0 / (x * LN2),), POSITIVE_C, singular=True),
    np.log10:        Elementwise((lambda ans, x: 1.0 / (x * LN10),), POSITIVE_C, singular=True),
    np.log1p:        Elementwise((lambda ans, x: 1.0 / (1.0 + x),), domain((-0.5, 3.0), complex_ok=True),
                                 singular=True),
    np.logaddexp:    Elementwise((lambda ans, x, y: np.exp(x - ans),  # stable: never exp(x) alone
                                  lambda ans, x, y: np.exp(y - ans)), PAIR),
    np.logaddexp2:   Elementwise((lambda ans, x, y: np.exp2(x - ans),
                                  lambda ans, x, y: np.exp2(y - ans)), PAIR),
    # --- trigonometric and hyperbolic
    np.sin:          Elementwise((lambda ans, x: np.cos(x),), REAL_C),
    np.cos:          Elementwise((lambda ans, x: -np.sin(x),), REAL_C),
    np.tan:          Elementwise((lambda ans, x: 1.0 + ans * ans,), domain((-1.2, 1.2), complex_ok=True)),
    # On the branch cuts a signed zero picks NumPy's side: 1 + x or 1 - x * x would turn -0j into
    # +0j; x - (-1.0) and -x - (-1.0) keep it (and equal 1 + x and 1 - x, +0 at the ends, for real
    # x; more accurate near +-1 than 1 - x * x). tests/test_semantics.py checks both sides of the cuts.
    np.arcsin:       Elementwise((lambda ans, x: 1.0 / (np.sqrt(x - (-1.0)) * np.sqrt(-x - (-1.0))),),
                                 UNIT_OPEN_C, singular=True),
    np.arccos:       Elementwise((lambda ans, x: -1.0 / (np.sqrt(x - (-1.0)) * np.sqrt(-x - (-1.0))),),
                                 UNIT_OPEN_C, singular=True),
    np.arctan:       Elementwise((lambda ans, x: 1.0 / (1.0 + x * x),), REAL_C),
    # 0 at the origin without computing 0/0 there; finite wherever x*x + y*y neither under-
    # nor overflows, so no singular=True. tests/test_semantics.py samples the origin and axes.
    np.arctan2:      Elementwise((lambda ans, y, x: _arctan2_partial(x, y, x),
                                  lambda ans, y, x: _arctan2_partial(-y, y, x)),
                                 domain((-2.0, 2.0), (0.5, 2.0))),
    np.hypot:        Elementwise((lambda ans, x, y: _hypot_partial(ans, x),
                                  lambda ans, x, y: _hypot_partial(ans, y)),
                                 domain((-2.0, 2.0), (0.5, 2.0))),
    np.sinh:         Elementwise((lambda ans, x: np.cosh(x),), REAL_C),
    np.cosh:         Elementwise((lambda ans, x: np.sinh(x),), REAL_C),
    np.tanh:         Elementwise((lambda ans, x: 1.0 - ans * ans,), REAL_C),
    np.arcsinh:      Elementwise((lambda ans, x: 1.0 / np.sqrt(x * x - (-1.0)),), REAL_C),
    # sqrt(x-1)*sqrt(x+1), not sqrt(x*x-1): the principal branch for complex x
    np.arccosh:      Elementwise((lambda ans, x: 1.0 / (np.sqrt(x - 1.0) * np.sqrt(x - (-1.0))),),
                                 domain((1.2, 4.0), complex_ok=True), singular=True),
    np.arctanh:      Elementwise((lambda ans, x: 1.0 / (1.0 - x * x),), UNIT_OPEN_C, singular=True),
    # --- selection and sign manipulation
    np.maximum:      MAXIMUM,
    np.minimum:      MINIMUM,
    np.fmax:         _extremum(lambda x, y: (x > y) | np.isnan(y)),
    np.fmin:         _extremum(lambda x, y: (x < y) | np.isnan(y)),
    # y keeps one sign: copysign jumps at y = 0 (and has a kink at x = 0)
    # |x| sign(y): flat at x = 0, as abs'(0) = 0
    np.copysign:     Elementwise((lambda ans, x, y: np.sign(x) * np.copysign(1.0, y), ZERO),
                                 domain((0.2, 3.0), (-3.0, -0.2))),
    np.heaviside:    Elementwise((ZERO, lambda ans, x, h: x == 0), domain((0.2, 3.0), (0.0, 1.0))),
    np.nextafter:    Elementwise((ONE, ZERO), PAIR),
    # n arrives promoted to float64, which ldexp refuses: cast the integer exponent back
    np.ldexp:        Elementwise((lambda ans, x, n: np.ldexp(np.ones_like(x), np.asarray(n, dtype=np.int64)),
                                  lambda ans, x, n: ans * LN2),
                                 domain((-3.0, 3.0), (-4.0, 4.0), integer_args=(1,), constant_args=(1,))),
    np.modf:         Custom(_jvp_modf, domain((0.1, 0.9))),
    np.frexp:        Custom(_jvp_frexp, domain((0.3, 0.45))),
    umath.clip:      Custom(_jvp_clip, domain((-3.0, 3.0), (-3.0, -1.0), (1.0, 3.0)), nin=3),
    # --- matrix products (generalised ufuncs)
    np.matmul:       Bilinear(_matmul_term, MATMUL_DOMAIN, args=(0, 1)),
    np.vecdot:       Bilinear(_gufunc_term(np.vecdot, (1, 1)), MATMUL_DOMAIN, args=(0, 1)),
    np.matvec:       Bilinear(_gufunc_term(np.matvec, (2, 1)), MATMUL_DOMAIN, args=(0, 1)),
    np.vecmat:       Bilinear(_gufunc_term(np.vecmat, (1, 2)), MATMUL_DOMAIN, args=(0, 1)),
    # --- piecewise constant: a Dual with a zero tangent; each domain lies between two jumps
    np.floor:        PiecewiseConstant(domain((-2.9, -2.1))),
    np.ceil:         PiecewiseConstant(domain((1.1, 1.9))),
    np.trunc:        PiecewiseConstant(domain((-0.9, 0.9))),
    np.rint:         PiecewiseConstant(domain((2.6, 3.4))),
    np.spacing:      PiecewiseConstant(domain((1.1, 1.9))),  # constant on [2**e, 2**(e+1))
    np.sign:         Custom(_jvp_sign, domain((0.2, 3.0), complex_ok=True)),
    # --- no derivative by nature: plain NumPy results
    np.equal:         NonDiff("comparison"),
    np.not_equal:     NonDiff("comparison"),
    np.less:          NonDiff("comparison"),
    np.less_equal:    NonDiff("comparison"),
    np.greater:       NonDiff("comparison"),
    np.greater_equal: NonDiff("comparison"),
    np.logical_and:   NonDiff("logical"),
    np.logical_or:    NonDiff("logical"),
    np.logical_xor:   NonDiff("logical"),
    np.logical_not:   NonDiff("logical"),
    np.isfinite:      NonDiff("predicate"),
    np.isinf:         NonDiff("predicate"),
    np.isnan:         NonDiff("predicate"),
    np.isnat:         NonDiff("predicate"),
    np.signbit:       NonDiff("predicate"),
}

_BITWISE_FIX = "bitwise and integer operations have no derivative; apply it to d.value"
for _name in ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_count", "invert",
              "left_shift", "right_shift", "gcd", "lcm"):
    UFUNC_RULES[getattr(np, _name)] = Unsupported(_BITWISE_FIX)

# The string ufuncs of np.strings (NumPy lists them as overridable too).
_STRING_FIX = "string operations do not take Duals; apply them to plain arrays"
for _ufunc in sorted(
    (u for u in vars(_umath).values() if isinstance(u, np.ufunc) and u not in UFUNC_RULES),
    key=lambda u: u.__name__,
):
    if _ufunc.__name__.lstrip("_") in {
        "center", "expandtabs", "expandtabs_length", "ljust", "lstrip_chars", "lstrip_whitespace",
        "partition", "partition_index", "replace", "rjust", "rpartition", "rpartition_index",
        "rstrip_chars", "rstrip_whitespace", "slice", "strip_chars", "strip_whitespace", "zfill",
        "count", "endswith", "find", "index", "isalnum", "isalpha", "isdecimal", "isdigit",
        "islower", "isnumeric", "isspace", "istitle", "isupper", "rfind", "rindex",
        "startswith", "str_len",
    }:
        UFUNC_RULES[_ufunc] = Unsupported(_STRING_FIX)

UFUNC_RULES[umath._ones_like] = NonDiff("constant result")


def differentiable(rule: Rule) -> bool:  # the kinds that carry a derivative
    return isinstance(rule, TANGENT_KINDS)


def rule_domain(rule: Rule) -> Domain | None:
    return getattr(rule, "domain", None)


# ---------------------------------------------------------------- ufunc.reduce / accumulate
#
# Reducers see the reduced axes moved to the end and flattened into one:
# values ``x`` of shape ``(*kept, n)``, tangents ``t`` of shape ``(k, *kept, n)``
# and NumPy's answer ``ans`` of shape ``kept``. A binary ufunc without an entry
# here falls back to folding its own elementwise rule along the axis.


def _reduce_linear(ufunc: np.ufunc) -> Callable[..., ArrayLike]:
    return lambda x, t, ans: ufunc.reduce(t, axis=-1)


def _reduce_multiply(x: ArrayLike, t: ArrayLike, ans: ArrayLike) -> ArrayLike:
    """Product rule with exclusive prefix and suffix products: exact through zeros."""
    ones = np.ones_like(x[..., :1])
    before = np.multiply.accumulate(np.concatenate([ones, x[..., :-1]], axis=-1), axis=-1)
    after = np.flip(np.multiply.accumulate(
        np.concatenate([ones, np.flip(x[..., 1:], axis=-1)], axis=-1), axis=-1), axis=-1)
    return np.sum(t * (before * after), axis=-1)


def _reduce_extremum(x: ArrayLike, t: ArrayLike, ans: ArrayLike) -> ArrayLike:
    """max/min: ties split the tangent evenly among every tied element."""
    tied = x == np.expand_dims(ans, -1)
    count = np.maximum(np.sum(tied, axis=-1), 1)
    return np.sum(np.where(tied, t, 0.0), axis=-1) / count


def _reduce_logaddexp(base_exp: np.ufunc) -> Callable[..., ArrayLike]:
    return lambda x, t, ans: np.sum(t * base_exp(x - np.expand_dims(ans, -1)), axis=-1)


# NumPy 2.4's vectorised reduce of a contiguous float row returns x[0] op x[-1] for
# these (np.power.reduce([2., 3., 2.]) is 4.0, not 64.0); the value would not be the
# fold its tangent differentiates, so they are refused rather than answered wrongly.
UNRELIABLE_REDUCE: dict[np.ufunc, str] = {
    np.power: "functools.reduce(np.power, x) (or np.power.accumulate(x)[-1])",
    np.arctan2: "functools.reduce(np.arctan2, x) (or np.arctan2.accumulate(x)[-1])",
}

REDUCERS: dict[np.ufunc, Callable[[ArrayLike, ArrayLike, ArrayLike], ArrayLike]] = {
    np.add:        _reduce_linear(np.add),
    np.subtract:   _reduce_linear(np.subtract),
    np.multiply:   _reduce_multiply,
    np.maximum:    _reduce_extremum,
    np.minimum:    _reduce_extremum,
    np.fmax:       _reduce_extremum,
    np.fmin:       _reduce_extremum,
    np.logaddexp:  _reduce_logaddexp(np.exp),
    np.logaddexp2: _reduce_logaddexp(np.exp2),
}


def _accumulate_multiply(x: ArrayLike, t: ArrayLike, ans: ArrayLike) -> ArrayLike:
    """cumprod as a Hillis-Steele scan of dual-number products: exact through zeros."""
    value, tangent = x, t
    n = shape_of(x)[-1]
    step = 1
    while step < n:
        prev_value = value[..., :-step]
        prev_tangent = tangent[..., :-step]
        cur_value = value[..., step:]
        cur_tangent = tangent[..., step:]
        tangent = np.concatenate(
            [tangent[..., :step], prev_tangent * cur_value + prev_value * cur_tangent], axis=-1)
        value = np.concatenate([value[..., :step], prev_value * cur_value], axis=-1)
        step *= 2
    return tangent


def _accumulate_extremum(is_better: Callable[[ArrayLike, ArrayLike], ArrayLike]) -> Callable[..., ArrayLike]:
    """Running max/min: the tangent is the mean over every element tied for the lead."""

    def accumulate(x: ArrayLike, t: ArrayLike, ans: ArrayLike) -> ArrayLike:
        n = shape_of(x)[-1]
        total, count = t[..., 0], np.ones_like(promote_int(x[..., 0]))
        out = [total / count]
        for i in range(1, n):
            lead, xi, ti = ans[..., i - 1], x[..., i], t[..., i]
            better = is_better(xi, lead)
            tied = xi == lead
            total = np.where(better, ti, np.where(tied, total + ti, total))
            count = np.where(better, 1.0, np.where(tied, count + 1.0, count))
            out.append(total / count)
        return np.stack(out, axis=-1)

    return accumulate


ACCUMULATORS: dict[np.ufunc, Callable[[ArrayLike, ArrayLike, ArrayLike], ArrayLike]] = {
    np.add:      lambda x, t, ans: np.add.accumulate(t, axis=-1),
    np.subtract: lambda x, t, ans: np.subtract.accumulate(t, axis=-1),
    np.multiply: _accumulate_multiply,
    np.maximum:  _accumulate_extremum(lambda a, b: (a > b) | np.isnan(a)),
    np.minimum:  _accumulate_extremum(lambda a, b: (a < b) | np.isnan(a)),
    np.fmax:     _accumulate_extremum(lambda a, b: (a > b) | np.isnan(b)),
    np.fmin:     _accumulate_extremum(lambda a, b: (a < b) | np.isnan(b)),
}

"""Rule kinds: the plumbing that turns a line of calculus into a tangent.

A rule line in a table states only the calculus (partial derivatives, or the
fact that a function is linear, or that it has no derivative). The kind says
how those pieces combine with tangents in the batched layout ``(k, *shape)``
of DESIGN.md section 3. Tangents arrive here already batched; ``None`` stands
for an argument that is a constant at this level (no tangent, never
multiplied by zero).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dualnumpy.core.tangent import align, dtype_of, ndim_of, shape_of, tangent_dtype, to_shape, zeros
from dualnumpy.core.types import ArrayLike

Partial = Callable[..., ArrayLike]
Tangents = Sequence[ArrayLike | None]


class _Unit:
    """A constant partial of +1 or -1: the tangent passes through unmultiplied."""

    __slots__ = ("sign",)

    def __init__(self, sign: int) -> None:
        self.sign = sign

    def __repr__(self) -> str:
        return {1: "ONE", -1: "MINUS_ONE", 0: "ZERO"}[self.sign]


ONE = _Unit(+1)
MINUS_ONE = _Unit(-1)
#: The input has no influence on the output (the sign source of copysign).
ZERO = _Unit(0)


@dataclass(frozen=True)
class Domain:
    """Where tests may sample a rule: one closed interval per argument.

    ``integer_args`` are drawn as integers (an exponent of ``ldexp``);
    ``constant_args`` are never made Duals (they take no tangent);
    ``complex_ok`` says the rule is holomorphic, so tests also try complex values.
    """

    intervals: tuple[tuple[float, float], ...]
    integer_args: tuple[int, ...] = ()
    constant_args: tuple[int, ...] = ()
    complex_ok: bool = False
    rtol: float = 1e-6


def domain(*intervals: tuple[float, float], integer_args: tuple[int, ...] = (),
           constant_args: tuple[int, ...] = (), complex_ok: bool = False,
           rtol: float = 1e-6) -> Domain:
    return Domain(tuple(intervals), integer_args, constant_args, complex_ok, rtol)


try:
    # np.errstate costs a microsecond a call, as much as a whole scalar rule;
    # setting NumPy's error-state context variable directly does the same for a tenth.
    from numpy._core.umath import _extobj_contextvar, _make_extobj

    _QUIET = _make_extobj(all="ignore")

    def quiet() -> Any:
        """Silence floating-point warnings while a derivative is evaluated."""
        return _extobj_contextvar.set(_QUIET)

    def loud(token: Any) -> None:
        _extobj_contextvar.reset(token)

except ImportError:  # pragma: no cover - a NumPy without the context variable

    def quiet() -> Any:
        state = np.errstate(all="ignore")
        state.__enter__()
        return state

    def loud(token: Any) -> None:
        token.__exit__(None, None, None)


def promote_int(x: ArrayLike, dtype: Any = np.float64) -> ArrayLike:
    """Integer and bool values become float64 before a partial is evaluated, and
    Python scalars become NumPy scalars of the tangent's ``dtype``.

    Partials such as ``y * x**(y - 1)`` would otherwise hit NumPy's refusal of
    negative integer powers, or truncate; and ``1.0 / y`` on a Python float
    constant ``y = 0`` would raise ZeroDivisionError instead of giving inf.
    """
    if isinstance(x, (np.ndarray, np.generic)):
        if x.dtype.kind in "biu":
            return x.astype(np.float64)
        return x
    if isinstance(x, complex):
        return np.complex128(x) if np.dtype(dtype).kind != "c" else np.dtype(dtype).type(x)
    if isinstance(x, (bool, int, float)):
        return np.dtype(dtype).type(x)
    return x


# Below this many elements an allocation costs less than the checks that avoid it.
_IN_PLACE_MIN_SIZE = 1 << 14


def overwritable(x: Any, like: Any, protected: Sequence[Any]) -> bool:
    """True when ``x`` is a large temporary of this rule, shaped and typed as ``like``, that
    may take a product in place (never an input or ``ans``: those are ``protected``)."""
    return (type(x) is np.ndarray and x.size >= _IN_PLACE_MIN_SIZE and type(like) is np.ndarray
            and x.base is None and x.flags.writeable and x.dtype == like.dtype
            and x.shape == like.shape and not any(x is p for p in protected))


def _owned(x: Any, t: Any, protected: Sequence[Any]) -> bool:
    """``overwritable`` against one direction of a batched tangent with k = 1."""
    # x's size first: most calls are small and never build the view t[0]
    return (type(x) is np.ndarray and x.size >= _IN_PLACE_MIN_SIZE and type(t) is np.ndarray
            and t.ndim > 0 and t.shape[0] == 1 and overwritable(x, t[0], protected))


def times_tangent(d: ArrayLike, t: ArrayLike, singular: bool,
                  protected: Sequence[Any] = ()) -> ArrayLike:
    """``d * t``, where a zero tangent wins over an infinite or NaN partial.

    DESIGN.md section 6: the Jacobian of ``sqrt(x0) + x1`` at (0, 1) is
    ``[inf, 1]``, so the direction that does not move ``x0`` must give 0, not NaN.
    A partial that is a fresh temporary (not an input, not ``ans``: those are
    ``protected``) takes the product in place, saving an allocation per rule.
    """
    if singular and not bool(np.all(np.isfinite(d))):
        return np.where(t == 0, 0, d * t)
    if _owned(d, t, protected):
        np.multiply(d, t[0], out=d)
        return d[None]
    return d * t


def add_terms(terms: list[ArrayLike], k: int, shape: tuple[int, ...], dtype: Any,
              owned: Sequence[bool] = ()) -> ArrayLike:
    """Sum the terms of a chain rule in order.

    ``owned[i]`` says term i is a temporary of this rule; the sum then
    accumulates into it instead of allocating (never into an input's tangent).
    """
    if not terms:
        return zeros(k, shape, np.float64 if dtype is None else dtype)
    total: Any = None
    total_owned = False
    for i, term in enumerate(terms):
        total, total_owned = accumulate(total, total_owned, term, bool(owned) and owned[i])
    return to_shape(total, shape)


def accumulate(total: Any, total_owned: bool, term: ArrayLike, owned: bool) -> tuple[Any, bool]:
    """``total + term`` (``term`` alone when ``total`` is None), summed into ``total`` when it
    is a large temporary of this rule; returns the sum and whether the rule owns it."""
    if total is None:
        return term, owned
    if (total_owned and type(total) is np.ndarray and type(term) is np.ndarray
            and total.size >= _IN_PLACE_MIN_SIZE and total.shape == term.shape
            and total.dtype == term.dtype):
        np.add(total, term, out=total)
        return total, True
    return total + term, True


def batch_size(tangents: Tangents) -> int:
    for t in tangents:
        if t is not None:
            return shape_of(t)[0]
    raise AssertionError("a rule was called without any tangent")


def result_dtype(ans: ArrayLike) -> Any:
    return tangent_dtype(dtype_of(ans))


@dataclass(frozen=True)
class Elementwise:
    """One partial per input, each a function ``partial(ans, *inputs)``.

    ``singular`` marks partials that may be infinite or NaN inside the closure
    of the domain (sqrt at 0); only those pay for the zero-tangent mask.
    """

    partials: tuple[Partial | _Unit, ...]
    domain: Domain
    singular: bool = False

    @property
    def nin(self) -> int:
        return len(self.partials)

    def jvp(self, ans: ArrayLike, values: Sequence[ArrayLike], tangents: Tangents) -> ArrayLike:
        shape = shape_of(ans)
        ndim = len(shape)
        promoted: list[ArrayLike] | None = None
        terms: list[ArrayLike] = []
        owned: list[bool] = []
        for partial, t in zip(self.partials, tangents, strict=True):
            if t is None:
                continue
            t = align(t, ndim)
            if isinstance(partial, _Unit):
                if partial.sign:
                    terms.append(t if partial.sign > 0 else -t)
                    owned.append(partial.sign < 0)
                continue
            if promoted is None:
                dtype = result_dtype(ans)
                promoted = [promote_int(v, dtype) for v in values]
            # Only a singular partial can warn where the value did not (sqrt'(0) = 1/0).
            token = quiet() if self.singular else None
            try:
                d = partial(ans, *promoted)
                terms.append(times_tangent(d, t, self.singular, (ans, *values, *promoted)))
            finally:
                if token is not None:
                    loud(token)
            owned.append(True)
        return add_terms(terms, batch_size(tangents), shape,
                         None if terms else result_dtype(ans), owned)


@dataclass(frozen=True)
class Linear:
    """A function that is linear in its inputs: apply it to the tangent."""

    domain: Domain

    def jvp(self, ufunc: np.ufunc, ans: ArrayLike, tangents: Tangents) -> ArrayLike:
        (t,) = tangents
        return ufunc(t)


@dataclass(frozen=True)
class Custom:
    """A rule that needs code: ``jvp(ans, values, tangents)`` returns the tangent.

    For a ufunc with several outputs it returns one entry per output, ``None``
    for an output that carries no derivative (an integer exponent).
    """

    jvp: Callable[[ArrayLike, Sequence[ArrayLike], Tangents], Any]
    domain: Domain
    nin: int = 1


@dataclass(frozen=True)
class NonDiff:
    """No derivative by nature (comparisons, predicates): the plain NumPy result."""

    why: str = ""


@dataclass(frozen=True)
class PiecewiseConstant:
    """Piecewise constant (floor, sign): a Dual with a zero tangent.

    The ``domain`` must lie inside one flat piece (no default: a wide one would put a jump
    inside the finite-difference stencil of the generated tests).
    """

    domain: Domain


@dataclass(frozen=True)
class Unsupported:
    """Refused with a TypeError; ``fix`` tells the user what to do instead."""

    fix: str


def zero_like_batched(k: int, ans: ArrayLike) -> ArrayLike:
    return zeros(k, shape_of(ans), result_dtype(ans))


__all__ = [
    "ONE", "MINUS_ONE", "ZERO", "quiet", "loud", "Domain", "domain", "Elementwise", "Linear", "Custom", "NonDiff",
    "PiecewiseConstant", "Unsupported", "promote_int", "times_tangent", "add_terms", "accumulate",
    "overwritable",
    "batch_size", "result_dtype", "zero_like_batched", "align", "ndim_of", "shape_of",
    "to_shape",
]

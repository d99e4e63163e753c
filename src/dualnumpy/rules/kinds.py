"""The rule kinds: one vocabulary for ufuncs and NumPy functions.

A rule line in a table states only the calculus: partial derivatives, the fact
that a function is linear or bilinear, a composition of other operations, or
that it has no derivative. The kind turns that line into a tangent. Every kind
that produces a tangent is called the same way, by the interpreter alone
(``dualnumpy.core.interpreter``)::

    kind.jvp(ans, primals, tangents, params)

``ans`` is NumPy's own result on the values; ``primals`` and ``tangents`` hold
the values and batched tangents ``(k, *shape)`` of the differentiable arguments
(``None`` for a constant: no tangent, never multiplied by zero), by position for
a ufunc and by name for a function; ``params`` are the other arguments (by
name). A kind returns the tangent of ``ans`` (a tuple for several outputs,
``None`` for an output without a derivative). It never sees a Dual, a tag or
the single-direction layout, so other numbers (Duals of lower tags, index sets,
duck arrays) flow through the same tables.

Each kind states which inputs an output entry depends on (``dependence``), the
structural fact that sparsity detection reads.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, cast

import numpy as np

from dualnumpy.core.tangent import (
    align,
    dtype_of,
    ndim_of,
    shape_of,
    shift_axis,
    tangent_dtype,
    to_shape,
    zeros,
)
from dualnumpy.core.types import ArrayLike
from dualnumpy.numpy_facts.sampling import Domain, Samples
from dualnumpy.numpy_facts.signatures import Args, call, default

Partial = Callable[..., ArrayLike]
Tangents = Sequence[ArrayLike | None]


class Unit:
    """A constant partial of +1 or -1: the tangent passes through unmultiplied."""

    __slots__ = ("sign",)

    def __init__(self, sign: int) -> None:
        self.sign = sign

    def __repr__(self) -> str:
        return {1: "ONE", -1: "MINUS_ONE", 0: "ZERO"}[self.sign]


ONE = Unit(+1)
MINUS_ONE = Unit(-1)
#: The input has no influence on the output (the sign source of copysign).
ZERO = Unit(0)


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
IN_PLACE_MIN_SIZE = 1 << 14


def overwritable(x: Any, like: Any, protected: Sequence[Any]) -> bool:
    """True when ``x`` is a large temporary of this rule, shaped and typed as ``like``, that
    may take a product in place (never an input or ``ans``: those are ``protected``)."""
    return (type(x) is np.ndarray and x.size >= IN_PLACE_MIN_SIZE and type(like) is np.ndarray
            and x.base is None and x.flags.writeable and x.dtype == like.dtype
            and x.shape == like.shape and not any(x is p for p in protected))


def _owned(x: Any, t: Any, protected: Sequence[Any]) -> bool:
    """``overwritable`` against one direction of a batched tangent with k = 1."""
    # x's size first: most calls are small and never build the view t[0]
    return (type(x) is np.ndarray and x.size >= IN_PLACE_MIN_SIZE and type(t) is np.ndarray
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
            and total.size >= IN_PLACE_MIN_SIZE and total.shape == term.shape
            and total.dtype == term.dtype):
        np.add(total, term, out=total)
        return total, True
    if (owned and type(total) is np.ndarray and type(term) is np.ndarray
            and term.size >= IN_PLACE_MIN_SIZE and total.shape == term.shape
            and total.dtype == term.dtype and term.flags.writeable):
        np.add(term, total, out=term)  # the same bits as total + term: addition commutes
        return term, True
    return total + term, True


def batch_size(tangents: Tangents) -> int:
    for t in tangents:
        if t is not None:
            return shape_of(t)[0]
    raise AssertionError("a rule was called without any tangent")


def result_dtype(ans: ArrayLike) -> Any:
    return tangent_dtype(dtype_of(ans))


# ---------------------------------------------------------------- structural facts


class Dependence(enum.Enum):
    """Which input entries an output entry of a rule depends on."""

    #: Output entry i depends on input entry i (after broadcasting) only.
    ELEMENTWISE = "elementwise"
    #: Each output entry is one input entry, or zero (reshapes, permutations, selections).
    GATHER = "gather"
    #: An output entry depends on the input entries along the reduced axes.
    REDUCTION = "reduction"
    #: Any output entry may depend on any input entry (the conservative answer).
    DENSE = "dense"
    #: Read from the operations the rule is made of (a composition, a choice per call).
    COMPOSED = "composed"
    #: No output carries a derivative.
    NONE = "none"


Params = Mapping[str, Any]
NO_PARAMS: Params = MappingProxyType({})
Primals = Sequence[Any] | Mapping[Any, Any]
TangentsIn = Sequence[Any] | Mapping[Any, Any]


def _argument(given: Primals | TangentsIn, arg: int | str) -> Any:
    """The primal or tangent of ``arg`` (a position or a name), None for an argument not given."""
    if type(given) is dict or isinstance(given, Mapping):  # the exact type first: no ABC check
        return given.get(arg)
    return given[arg] if isinstance(arg, int) and arg < len(given) else None


def merged(primals: Primals, params: Params) -> Args:
    """Every argument by name, the differentiable ones first (what a line's helper reads)."""
    if type(primals) is dict or isinstance(primals, Mapping):
        return {**primals, **params} if params else dict(primals)
    return dict(params)


# ---------------------------------------------------------------- the kinds


class _Kind:
    """What every kind has: where it is tested (``domain``: a Domain for a ufunc,
    sample calls for a function)."""

    __slots__ = ()
    domain: Domain | Samples | None

    @property
    def samples(self) -> Samples:
        """A function rule's sample calls (empty for a ufunc rule)."""
        return self.domain if isinstance(self.domain, tuple) else ()


@dataclass(frozen=True)
class Elementwise(_Kind):
    """One partial per input, each a function ``partial(ans, *inputs)``; ufuncs only.

    ``singular`` marks partials that may be infinite or NaN inside the closure
    of the domain (sqrt at 0); only those pay for the zero-tangent mask.
    """

    partials: tuple[Partial | Unit, ...]
    domain: Domain
    singular: bool = False
    dependence: ClassVar[Dependence] = Dependence.ELEMENTWISE

    @property
    def nin(self) -> int:
        return len(self.partials)

    @property
    def args(self) -> tuple[int, ...]:
        return tuple(range(len(self.partials)))

    def jvp(self, ans: ArrayLike, primals: Sequence[ArrayLike], tangents: Tangents,
            params: Params = NO_PARAMS) -> ArrayLike:
        shape = shape_of(ans)
        ndim = len(shape)
        promoted: list[ArrayLike] | None = None
        terms: list[ArrayLike] = []
        owned: list[bool] = []
        for partial, t in zip(self.partials, tangents, strict=True):
            if t is None:
                continue
            t = align(t, ndim)
            if isinstance(partial, Unit):
                if partial.sign:
                    terms.append(t if partial.sign > 0 else -t)
                    owned.append(partial.sign < 0)
                continue
            if promoted is None:
                dtype = result_dtype(ans)
                promoted = [promote_int(v, dtype) for v in primals]
            # Only a singular partial can warn where the value did not (sqrt'(0) = 1/0).
            token = quiet() if self.singular else None
            try:
                d = partial(ans, *promoted)
                terms.append(times_tangent(d, t, self.singular, (ans, *primals, *promoted)))
            finally:
                if token is not None:
                    loud(token)
            owned.append(True)
        return add_terms(terms, batch_size(tangents), shape,
                         None if terms else result_dtype(ans), owned)


LinearTangent = Callable[[ArrayLike, int, Args], ArrayLike]


@dataclass(frozen=True)
class Linear(_Kind):
    """Linear in one argument ``arg``: the tangent is the function applied to the tangent.

    ``tangent(t, ndim, args)`` maps the batched tangent (``ndim`` is the value's
    rank, for shifting axes; ``args`` every argument by name). Without it a ufunc
    is applied to the batched tangent directly, and a function once per direction,
    the results stacked (correct for any linear function, slower). With
    ``sequence`` the argument is a sequence of arrays (concatenate, stack) whose
    constant items get zero tangents. ``func`` is filled in at registration.
    """

    domain: Domain | Samples
    arg: int | str = 0
    tangent: Callable[..., ArrayLike] | None = None
    sequence: bool = False
    dependence: Dependence = Dependence.DENSE
    func: Any = field(default=None, compare=False, repr=False)

    @property
    def args(self) -> tuple[int | str, ...]:
        return (self.arg,)

    def jvp(self, ans: ArrayLike, primals: Primals, tangents: TangentsIn,
            params: Params = NO_PARAMS) -> Any:
        t = _argument(tangents, self.arg)
        x = _argument(primals, self.arg)
        if self.sequence:
            items = list(x)
            k = next(shape_of(ti)[0] for ti in t if ti is not None)
            dtype = tangent_dtype(np.result_type(*[dtype_of(v) for v in items]))
            filled = [np.zeros((k, *shape_of(v)), dtype) if ti is None else ti
                      for v, ti in zip(items, t, strict=True)]
            ndim = max(len(shape_of(v)) for v in items)
            assert self.tangent is not None, "a sequence rule needs its tangent map"
            return self.tangent(filled, ndim, merged(primals, params))
        if self.tangent is not None:
            return self.tangent(t, ndim_of(x), merged(primals, params))
        if isinstance(self.func, np.ufunc):
            return self.func(t)
        return per_direction(self.func, str(self.arg), t, merged(primals, params))


BilinearTerm = Callable[[int, ArrayLike, list[Any], Args], ArrayLike]


@dataclass(frozen=True)
class Bilinear(_Kind):
    """A product: linear in each of ``args`` separately (dot, matmul, einsum, kron, ...).

    The tangent is the product rule, ``sum_i term(i, t_i, operands, args)`` over the
    operands that carry a tangent; ``term`` returns operand i's term in the layout
    ``(k, *out)`` (the batch axis kept leading, lower-rank operands aligned first).
    """

    term: BilinearTerm
    domain: Domain | Samples
    args: tuple[int | str, ...] = ("a", "b")
    dependence: Dependence = Dependence.DENSE

    def jvp(self, ans: ArrayLike, primals: Primals, tangents: TangentsIn,
            params: Params = NO_PARAMS) -> Any:
        operands = [_argument(primals, a) for a in self.args]
        everything = merged(primals, params)
        total: Any = None
        for i, arg in enumerate(self.args):
            t = _argument(tangents, arg)
            if t is not None:
                term = self.term(i, t, operands, everything)
                total = term if total is None else total + term
        return total


@dataclass(frozen=True)
class Composite(_Kind):
    """A composition of supported operations: the interpreter runs ``compose`` on the
    arguments as given (Duals included) and keeps NumPy's own value.

    ``args`` are the arguments that may carry a tangent; a Dual anywhere else is refused.
    With ``own_value`` the composition's result is returned as it is, NumPy is not called
    first, and any argument may carry a tangent: for functions that run the user's code
    (``np.piecewise``, ``np.apply_along_axis``), whose functions may close over other Duals
    and must run once.
    """

    compose: Callable[..., Any]
    domain: Domain | Samples
    args: tuple[int | str, ...] = ("a",)
    own_value: bool = False
    dependence: ClassVar[Dependence] = Dependence.COMPOSED


CustomJVP = Callable[[Any, Any, Any, Params], Any]


@dataclass(frozen=True)
class Custom(_Kind):
    """A rule that needs code: ``jvp(ans, primals, tangents, params)`` returns the tangent.

    For several outputs it returns one entry per output, ``None`` for an output that
    carries no derivative (an integer exponent, a rank). ``args`` are the
    differentiable arguments (names; positions ``0..nin-1`` for a ufunc, the default).
    With ``sequence`` the one argument in ``args`` is a sequence of arrays (``*operands``):
    ``primals`` and ``tangents`` then hold a list for it (``None`` for a constant item).
    """

    jvp: CustomJVP
    domain: Domain | Samples
    args: tuple[int | str, ...] = ()
    nin: int = 1
    dependence: Dependence = Dependence.DENSE
    sequence: bool = False  # as for Linear: the one argument is a sequence (einsum's *operands)

    def __post_init__(self) -> None:
        if not self.args:  # a ufunc's rule: every input, by position
            object.__setattr__(self, "args", tuple(range(self.nin)))


@dataclass(frozen=True)
class Switch(_Kind):
    """A rule chosen per call from the arguments' values (``np.linalg.norm`` by ``ord``).

    ``choose(args)`` gets every argument by name (values, no tangents) and returns
    the rule that applies; ``domain`` holds the samples that test every branch.
    """

    choose: Callable[[Args], Any]
    domain: Domain | Samples
    dependence: ClassVar[Dependence] = Dependence.COMPOSED


@dataclass(frozen=True)
class PiecewiseConstant(_Kind):
    """Piecewise constant (floor, sign, round): a Dual with a zero tangent.

    The ``domain`` must lie inside one flat piece (no default: a wide one would put a jump
    inside the finite-difference stencil of the generated tests).
    """

    domain: Domain | Samples
    args: tuple[int | str, ...] = (0,)
    dependence: ClassVar[Dependence] = Dependence.NONE

    def jvp(self, ans: Any, primals: Primals, tangents: TangentsIn, params: Params = NO_PARAMS) -> Any:
        given = tangents.values() if isinstance(tangents, Mapping) else tangents
        k = next(shape_of(t)[0] for t in given if t is not None)
        if isinstance(ans, tuple):
            return tuple(zero_like_batched(k, a) for a in ans)
        return zero_like_batched(k, ans)


@dataclass(frozen=True)
class NonDiff(_Kind):
    """No derivative by nature (comparisons, predicates, indices): the plain NumPy result."""

    why: str = ""
    domain: Domain | Samples | None = None
    dependence: ClassVar[Dependence] = Dependence.NONE


@dataclass(frozen=True)
class Unsupported(_Kind):
    """Refused with a TypeError; ``fix`` tells the user what to do instead."""

    fix: str
    domain: Domain | Samples | None = None
    dependence: ClassVar[Dependence] = Dependence.NONE


Rule = Elementwise | Linear | Bilinear | Composite | Custom | Switch | PiecewiseConstant | NonDiff | Unsupported

#: The kinds whose ``jvp`` the interpreter calls.
TANGENT_KINDS = (Elementwise, Linear, Bilinear, Custom, PiecewiseConstant)
#: The kinds that carry a derivative (and so must carry a domain to test it on).
DIFFERENTIABLE_KINDS: tuple[type, ...] = (*TANGENT_KINDS, Composite, Switch)


def zero_like_batched(k: int, ans: ArrayLike) -> ArrayLike:
    return zeros(k, shape_of(ans), result_dtype(ans))


# ---------------------------------------------------------------- numbers a rule may meet

_NUMBER_TYPES: tuple[type, ...] = ()


def register_number_type(cls: type) -> type:
    """Declare a type that carries a perturbation over a ``.value`` (the Dual does, at import).

    Rules never import such types; ``primal`` and ``is_number`` see through them.
    """
    global _NUMBER_TYPES
    if cls not in _NUMBER_TYPES:
        _NUMBER_TYPES = (*_NUMBER_TYPES, cls)
    return cls


def is_number(x: Any) -> bool:
    """True for a perturbed number (a Dual of any level), False for plain data."""
    return isinstance(x, _NUMBER_TYPES)


def primal(x: Any) -> Any:
    """The plain value under every level of perturbation: for choices (indices, masks,
    orders, ranks), never for results or tangents."""
    while isinstance(x, _NUMBER_TYPES):
        x = cast(Any, x).value
    return x


def as_array(x: Any) -> Any:
    """An array-like as an array; perturbed numbers (of any level) as they are."""
    return x if isinstance(x, _NUMBER_TYPES) else np.asarray(x)


# ---------------------------------------------------------------- helpers for rule lines


def per_direction(func: Any, arg: str, t: ArrayLike, args: Args) -> ArrayLike:
    """Apply a linear function to each direction and stack: the fallback batching rule."""
    outs = [call(func, {**args, arg: t[i]}) for i in range(shape_of(t)[0])]
    if outs and isinstance(outs[0], (tuple, list)):  # several outputs (split, unstack): stack each
        return type(outs[0])(np.stack([out[j] for out in outs]) for j in range(len(outs[0])))
    return np.stack(outs)


def axis_call(func: Any, *axis_names: str) -> LinearTangent:
    """Call ``func`` on the tangent with the named axis arguments shifted past the batch axis."""

    def tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
        first = next(iter(args))
        shifted = {key: (shift_axis(value, ndim) if key in axis_names else value)
                   for key, value in args.items() if key != first}
        for key in axis_names:
            if key not in args:
                shifted[key] = shift_axis(default(func, key), ndim)
        return func(t, **shifted)

    return tangent


__all__ = [
    "ONE", "MINUS_ONE", "ZERO", "Dependence", "Elementwise", "Linear", "Bilinear", "Composite",
    "Custom", "Switch", "PiecewiseConstant", "NonDiff", "Unsupported", "Rule", "TANGENT_KINDS",
    "DIFFERENTIABLE_KINDS", "quiet", "loud", "promote_int", "times_tangent", "add_terms",
    "accumulate", "overwritable", "batch_size", "result_dtype", "zero_like_batched", "align",
    "ndim_of", "shape_of", "to_shape", "register_number_type", "is_number",
    "primal", "as_array", "per_direction", "axis_call", "merged",
]

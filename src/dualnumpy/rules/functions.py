"""The calculus of NumPy's core array functions (``__array_function__``), by kind.

The kinds are in ``rules/kinds.py``: a line says only the calculus (linear in an
argument, a composition, a ``Custom`` ``jvp(ans, primals, tangents, params)`` on the
values and batched tangents, a ``Switch`` that picks one of those per call); the
interpreter does the binding, the Duals and the wrapping. Other tables (linear
algebra, FFT, ...) sit in sibling modules and join ``FUNCTION_RULES`` at the end of
this one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from dualnumpy.core.tangent import dtype_of, shape_of, shift_axis, tangent_dtype, to_shape
from dualnumpy.core.types import ArrayLike
from dualnumpy.numpy_facts.sampling import Sample, arr, sample
from dualnumpy.numpy_facts.signatures import Args, public_name
from dualnumpy.rules.kinds import (
    Composite,
    Custom,
    Dependence,
    Linear,
    NonDiff,
    Params,
    PiecewiseConstant,
    Rule,
    Switch,
    Unsupported,
    primal,
    zero_like_batched,
)
from dualnumpy.rules.kinds import axis_call as _axis_call
from dualnumpy.rules.kinds import per_direction as _per_direction

# ---------------------------------------------------------------- tangent helpers


def _sum_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    kw = {key: args[key] for key in ("dtype", "keepdims") if key in args}
    if args.get("where", True) is not True:
        raise TypeError("np.sum(where=...) is not supported with Duals; use np.where(mask, x, 0).sum()")
    return np.sum(t, axis=shift_axis(args.get("axis"), ndim), **kw)


def _reshape_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    shape = args.get("shape", args.get("newshape"))
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape or ())
    return np.reshape(t, (shape_of(t)[0], *shape), order=args.get("order", "C"))


def _transpose_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    axes = args.get("axes")
    if axes is None:
        axes = tuple(range(ndim))[::-1]
    return np.transpose(t, (0, *(int(a) % ndim + 1 for a in axes)))


def _broadcast_to_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    return to_shape(t, tuple(np.broadcast_shapes(tuple(args["shape"]))))


def _expand_dims_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    axis = args["axis"]
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out_ndim = ndim + len(axes)
    return np.expand_dims(t, tuple(int(a) % out_ndim + 1 for a in axes))


def _squeeze_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    axis = args.get("axis")
    if axis is None:
        axis = tuple(i for i, n in enumerate(shape_of(t)[1:]) if n == 1)
    return np.squeeze(t, axis=shift_axis(axis, ndim))


def _moveaxis_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    def shift(a: Any) -> Any:
        if isinstance(a, (tuple, list)):
            return tuple(int(i) % ndim + 1 for i in a)
        return int(a) % ndim + 1

    return np.moveaxis(t, shift(args["source"]), shift(args["destination"]))


def _ravel_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    order = args.get("order", "C")
    if order not in ("C", "K", "A"):
        return _per_direction(np.ravel, "a", t, args)
    return np.reshape(t, (shape_of(t)[0], -1))


def _diagonal_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    return np.diagonal(t, args.get("offset", 0), int(args.get("axis1", 0)) % ndim + 1,
                       int(args.get("axis2", 1)) % ndim + 1)


def _trace_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    return np.trace(t, args.get("offset", 0), int(args.get("axis1", 0)) % ndim + 1,
                    int(args.get("axis2", 1)) % ndim + 1, args.get("dtype"))


def _repeat_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    axis = args.get("axis")
    if axis is None:
        t, axis = np.reshape(t, (shape_of(t)[0], -1)), 0
    return np.repeat(t, args["repeats"], axis=shift_axis(axis, ndim))


def _take_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    axis = args.get("axis")
    if axis is None:
        t, axis = np.reshape(t, (shape_of(t)[0], -1)), 0
    return np.take(t, args["indices"], axis=shift_axis(axis, ndim), mode=args.get("mode", "raise"))


def _astype_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    dtype = np.dtype(args["dtype"])
    if dtype.kind not in "fc":
        raise TypeError(
            f"np.astype(d, {dtype}) to a non-float dtype has no derivative; use "
            f"np.floor/np.round for piecewise-constant values, or cast d.value"
        )
    return np.astype(t, dtype)


def _concatenate_tangent(ts: list[ArrayLike], ndim: int, args: Args) -> ArrayLike:
    axis = args.get("axis", 0)
    if axis is None:
        return np.concatenate([np.reshape(t, (shape_of(t)[0], -1)) for t in ts], axis=1)
    return np.concatenate(ts, axis=shift_axis(axis, ndim))


def _stack_tangent(ts: list[ArrayLike], ndim: int, args: Args) -> ArrayLike:
    shape = np.broadcast_shapes(*(shape_of(t)[1:] for t in ts))
    ts = [to_shape(t, shape) for t in ts]
    axis = int(args.get("axis", 0)) % (len(shape) + 1)
    return np.stack(ts, axis=axis + 1)


def _jvp_where(ans: Any, primals: Args, tangents: Args, params: Params) -> Any:
    """np.where(c, x, y) selects the tangents of x and y; the condition is a mask (its own
    tangent, if it is a Dual, moves nothing: the choice is piecewise constant)."""
    condition = primal(primals["condition"])
    tx, ty = tangents["x"], tangents["y"]
    if tx is None and ty is None:  # only the condition is a Dual
        return zero_like_batched(shape_of(tangents["condition"])[0], ans)
    shape = shape_of(ans)
    k = shape_of(ty if tx is None else tx)[0]
    dtype = tangent_dtype(dtype_of(ans))
    ts = [np.zeros((k,) + (1,) * len(shape), dtype) if t is None else to_shape(t, shape)
          for t in (tx, ty)]
    return np.where(condition, *ts)


_WHERE_SELECTS = Custom(_jvp_where, (), args=("condition", "x", "y"))
_WHERE_INDICES = NonDiff("the indices of the nonzero entries")


def _choose_where(values: Args) -> Rule:
    if "x" not in values:
        return _WHERE_INDICES
    return _WHERE_SELECTS


def _clip(a: Any, a_min: Any = np._NoValue, a_max: Any = np._NoValue, out: Any = None, *,
          min: Any = np._NoValue, max: Any = np._NoValue, **kwargs: Any) -> Any:
    """np.clip composed of maximum and minimum (their convention at ties); the bounds are
    a_min/a_max or the keywords min/max."""
    low = a_min if a_min is not np._NoValue else None if min is np._NoValue else min
    high = a_max if a_max is not np._NoValue else None if max is np._NoValue else max
    lower = a if low is None else np.maximum(a, low)
    return lower if high is None else np.minimum(lower, high)


def _var(a: Any, axis: Any = None, dtype: Any = None, ddof: float = 0, keepdims: bool = False,
         *, mean: Any = None, correction: Any = None, where: Any = True) -> Any:
    if where is not True or mean is not None:
        raise TypeError("np.var/np.std with where= or mean= are not supported with Duals")
    if correction is not None:
        ddof = correction
    centered = a - np.mean(a, axis=axis, keepdims=True)
    squares = np.real(centered * np.conjugate(centered)) if np.iscomplexobj(centered) else centered * centered
    n = _count(centered, axis)
    return np.sum(squares, axis=axis, dtype=dtype, keepdims=keepdims) / max(n - ddof, 0)


def _count(a: Any, axis: Any) -> int:
    """How many entries a reduction over ``axis`` averages: a Python int, so float32 stays float32."""
    shape = shape_of(a)
    axes = range(len(shape)) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
    return math.prod(shape[int(i)] for i in axes)


def _std(*args: Any, **kwargs: Any) -> Any:
    return np.sqrt(_var(*args, **kwargs))


def _mean(a: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False, *,
          where: Any = True) -> Any:
    if where is not True:
        raise TypeError("np.mean(where=...) is not supported with Duals; use a weighted sum")
    n = _count(a, axis)
    return np.sum(a, axis=axis, dtype=dtype, keepdims=keepdims) / n


def _reduction(ufunc: np.ufunc) -> Callable[..., Any]:
    def compose(a: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False,
                initial: Any = np._NoValue, where: Any = True) -> Any:
        kw: dict[str, Any] = {} if initial is np._NoValue else {"initial": initial}
        if dtype is not None:
            kw["dtype"] = dtype
        if where is not True:
            kw["where"] = where
        return ufunc.reduce(a, axis=axis, keepdims=keepdims, **kw)

    return compose


def _extreme(ufunc: np.ufunc) -> Callable[..., Any]:
    def compose(a: Any, axis: Any = None, keepdims: bool = False,
                initial: Any = np._NoValue, where: Any = True) -> Any:
        kw: dict[str, Any] = {} if initial is np._NoValue else {"initial": initial}
        if where is not True:
            kw["where"] = where
        return ufunc.reduce(a, axis=axis, keepdims=keepdims, **kw)

    return compose


def _jvp_extreme(ans: Any, primals: Args, tangents: Args, params: Params) -> Any:
    """np.max and friends along an axis: ties share the tangent evenly (as maximum.reduce)."""
    x, t = primals["a"], tangents["a"]
    axis, keepdims = params.get("axis"), bool(params.get("keepdims", False))
    ndim = len(shape_of(x))
    kept = ans if keepdims else np.reshape(ans, _kept_shape(shape_of(x), axis))
    tied = x == kept
    count = np.maximum(np.sum(tied, axis=axis, keepdims=keepdims), 1)
    return np.sum(np.where(tied, t, 0), axis=shift_axis(axis, ndim), keepdims=keepdims) / count


_EXTREME = Custom(_jvp_extreme, (), args=("a",))
_MAX_COMPOSED = Composite(_extreme(np.maximum), (), args=("a",))
_MIN_COMPOSED = Composite(_extreme(np.minimum), (), args=("a",))


def _extreme_choice(composed: Composite) -> Callable[[Args], Rule]:
    """np.max and friends: the common call (an axis, keepdims) is direct; initial= and where=
    (and axis=()) take the composition through ``ufunc.reduce``, which handles them."""

    def choose(values: Args) -> Rule:
        if values.keys() - {"a", "axis", "keepdims"} or values.get("axis") == ():
            return composed
        return _EXTREME

    return choose


_CHOOSE_MAX, _CHOOSE_MIN = _extreme_choice(_MAX_COMPOSED), _extreme_choice(_MIN_COMPOSED)


def _kept_shape(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    """``shape`` with the reduced axes kept as 1s (what keepdims=True gives)."""
    axes = range(len(shape)) if axis is None else axis if isinstance(axis, tuple) else (axis,)
    reduced = {int(i) % len(shape) for i in axes}
    return tuple(1 if i in reduced else n for i, n in enumerate(shape))


def _accumulation(ufunc: np.ufunc) -> Callable[..., Any]:
    def compose(a: Any, axis: Any = None, dtype: Any = None) -> Any:
        if axis is None:
            a, axis = np.ravel(a), 0
        return ufunc.accumulate(a, axis=axis, **({} if dtype is None else {"dtype": dtype}))

    return compose


def _sort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *, stable: Any = None) -> Any:
    """The permutation NumPy's argsort picks, applied to the Duals (ties follow it)."""
    perm = np.argsort(primal(a), axis=axis, kind=kind, stable=stable)
    if axis is None:
        return np.ravel(a)[perm]
    return np.take_along_axis(a, perm, axis=axis)


def _take_along_axis_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    axis = args.get("axis", -1)
    indices = args["indices"]
    if axis is None:
        return np.take_along_axis(np.reshape(t, (shape_of(t)[0], -1)), indices[None], axis=1)
    k = shape_of(t)[0]
    shape = np.broadcast_shapes(shape_of(indices), tuple(
        1 if i == int(axis) % ndim else n for i, n in enumerate(shape_of(t)[1:])))
    del shape
    return np.take_along_axis(t, np.broadcast_to(indices, (k, *shape_of(indices))), axis=shift_axis(axis, ndim))


A = arr(3, 4)
A3 = arr(2, 3, 4, seed=1)
V = arr(5, seed=2)
SQ = arr(4, 4, seed=3)


def _on_matrix(**kwargs: Any) -> Sample:
    return sample(A, complex_ok=True, **kwargs)


# ---------------------------------------------------------------- the table

FUNCTION_RULES: dict[Any, Rule] = {
    # --- reductions and statistics
    np.sum:        Linear((_on_matrix(), _on_matrix(axis=1), _on_matrix(axis=(0, 1), keepdims=True),
                           sample(A3, axis=-1), sample(V)), arg="a", tangent=_sum_tangent,
                          dependence=Dependence.REDUCTION),
    np.mean:       Composite(_mean, (_on_matrix(), _on_matrix(axis=0, keepdims=True), sample(A3, axis=(0, 2)))),
    np.prod:       Composite(_reduction(np.multiply), (_on_matrix(), _on_matrix(axis=1), sample(V * 0 + [0, 2, 3, 1, 2]))),
    np.max:        Switch(_CHOOSE_MAX, (sample(A), sample(A, axis=0), sample(A3, axis=(1, 2), keepdims=True),
                                        sample(A, axis=-1, initial=-1.0), sample(V, axis=0))),
    np.min:        Switch(_CHOOSE_MIN, (sample(A), sample(A, axis=1), sample(A3, axis=(0, -1)),
                                        sample(A, axis=0, initial=1.5))),
    np.amax:       Switch(_CHOOSE_MAX, (sample(A, axis=0), sample(A3, keepdims=True))),
    np.amin:       Switch(_CHOOSE_MIN, (sample(A, axis=0),)),
    np.var:        Composite(_var, (_on_matrix(), _on_matrix(axis=1, ddof=1), sample(A3, axis=(0, 2), keepdims=True))),
    np.std:        Composite(_std, (sample(A), sample(A, axis=0, ddof=1))),
    np.cumsum:     Composite(_accumulation(np.add), (_on_matrix(), _on_matrix(axis=1))),
    np.cumprod:    Composite(_accumulation(np.multiply), (_on_matrix(axis=0), sample(V))),
    # --- shape and structure
    np.reshape:    Linear((_on_matrix(shape=(2, 6)), sample(A3, (4, -1)),
                                                    sample(A, (12,), order="F")), arg="a", tangent=_reshape_tangent),
    np.ravel:      Linear((_on_matrix(), sample(A3, order="F")), arg="a", tangent=_ravel_tangent),
    np.transpose:  Linear((_on_matrix(), sample(A3, (2, 0, 1))), arg="a", tangent=_transpose_tangent),
    np.matrix_transpose: Linear((sample(A3, complex_ok=True),), arg="x", tangent=lambda t, n, a: np.swapaxes(t, -1, -2)),
    np.swapaxes:   Linear((sample(A3, 0, 2, complex_ok=True),), arg="a", tangent=_axis_call(np.swapaxes, "axis1", "axis2")),
    np.flip:       Linear((_on_matrix(), sample(A3, axis=(0, 2))), arg="m", tangent=_axis_call(np.flip, "axis")),
    np.moveaxis:   Linear((sample(A3, 0, -1), sample(A3, (0, 1), (2, 0))), arg="a", tangent=_moveaxis_tangent),
    np.squeeze:    Linear((sample(arr(3, 1, 4)), sample(arr(1, 3, 1), axis=2)), arg="a", tangent=_squeeze_tangent),
    np.expand_dims: Linear((sample(A, 1), sample(A, (0, -1))), arg="a", tangent=_expand_dims_tangent),
    np.broadcast_to: Linear((sample(V, (3, 5)), sample(arr(3, 1), (2, 3, 4))), arg="array", tangent=_broadcast_to_tangent),
    np.diagonal:   Linear((sample(SQ), sample(A3, 1, 1, 2)), arg="a", tangent=_diagonal_tangent),
    np.trace:      Linear((sample(SQ, complex_ok=True), sample(A3, -1, 0, 2)), arg="a", tangent=_trace_tangent,
                          dependence=Dependence.REDUCTION),
    np.repeat:     Linear((sample(A, 2), sample(A, [1, 0, 2], axis=0)), arg="a", tangent=_repeat_tangent),
    np.take:       Linear((sample(A, [0, 5, 5, 11]), sample(A, [[0, 2], [1, 1]], axis=1)), arg="a", tangent=_take_tangent),
    np.take_along_axis: Linear((sample(A, np.argsort(A, axis=1), axis=1), sample(V, np.array([4, 0, 0]), axis=None)), arg="arr", tangent=_take_along_axis_tangent),
    np.copy:       Linear((_on_matrix(),), arg="a", tangent=lambda t, n, a: np.copy(t)),
    np.real:       Linear((_on_matrix(),), arg="val", tangent=lambda t, n, a: np.real(t), dependence=Dependence.ELEMENTWISE),
    np.imag:       Linear((_on_matrix(),), arg="val", tangent=lambda t, n, a: np.imag(t), dependence=Dependence.ELEMENTWISE),
    np.astype:     Linear((sample(A, np.float64), sample(A, np.complex128, float32=False)), arg="x", tangent=_astype_tangent, dependence=Dependence.ELEMENTWISE),
    np.concatenate: Linear((sample([A, arr(2, 4)], duals=((0, 0), (0, 1)), complex_ok=True),
                                      sample([A, arr(3, 2)], axis=1, duals=((0, 1),)),
                                      sample([A, A], axis=None, duals=((0, 0),))), arg="arrays", tangent=_concatenate_tangent, sequence=True),
    np.stack:      Linear((sample([A, A * 2], duals=((0, 0), (0, 1)), complex_ok=True),
                                     sample([V, V], axis=-1, duals=((0, 1),))), arg="arrays", tangent=_stack_tangent, sequence=True),
    # --- selection
    np.where:      Switch(_choose_where, (sample(A > 0, A, arr(3, 4, seed=9), duals=(1, 2)),
                                          sample(A > 0, A, 0.0, duals=(1,)), sample(V > 0, arr(3, 1), V, duals=(1, 2)))),
    np.clip:       Composite(_clip, (sample(A, -1.0, 1.0), sample(A, arr(3, 4, seed=5) - 1, 1.5, duals=(0, 1)),
                                     sample(A, None, 0.5)), args=("a", "a_min", "a_max", "min", "max")),
    np.sort:       Composite(_sort, (sample(A), sample(A, axis=0), sample(A, axis=None))),
    np.round:      PiecewiseConstant((sample(A), sample(np.arange(12.0).reshape(3, 4) * 0.1 + 0.025, 1)), args=("a",)),
    np.around:     PiecewiseConstant((sample(A, 1),), args=("a",)),
    # --- products: np.dot and the other bilinear products live in products.py
    # --- results without a derivative
    np.all:        NonDiff("predicate", (sample(A),)),
    np.any:        NonDiff("predicate", (sample(A, axis=0),)),
    np.argmax:     NonDiff("index", (sample(A), sample(A, axis=1))),
    np.argmin:     NonDiff("index", (sample(A, axis=0),)),
    np.argsort:    NonDiff("index", (sample(A, axis=1),)),
    np.nonzero:    NonDiff("index", (sample(A),)),
    np.shape:      NonDiff("shape", (sample(A3),)),
    np.ndim:       NonDiff("shape", (sample(A3),)),
    np.size:       NonDiff("shape", (sample(A3),)),
    np.zeros_like: NonDiff("constant", (sample(A),)),
    np.ones_like:  NonDiff("constant", (sample(A),)),
    np.empty_like: NonDiff("constant"),
    np.full_like:  NonDiff("constant", (sample(A, 2.5),)),
    np.isclose:    NonDiff("predicate", (sample(A, A + 1e-12, duals=(0, 1)),)),
    np.allclose:   NonDiff("predicate", (sample(A, A, duals=(0, 1)),)),
    np.array_equal: NonDiff("predicate", (sample(A, A, duals=(0,)),)),
    np.iscomplexobj: NonDiff("predicate", (sample(A),)),
    np.isrealobj:  NonDiff("predicate", (sample(A),)),
    # --- in place: a Dual is immutable
    np.put:        Unsupported("it writes in place and a Dual is immutable; use d.at[indices].set(values)", (sample(A, [0, 1], [1.0, 2.0]),)),
    np.put_along_axis: Unsupported("it writes in place; use d.at[...].set(values) with the same indices, "
                                     "or np.where", (sample(A, np.zeros((3, 1), int), 1.0, 1),)),
    np.place:      Unsupported("it writes in place; use np.where(mask, values, d)", (sample(A, A > 0, [1.0]),)),
    np.putmask:    Unsupported("it writes in place; use np.where(mask, values, d)", (sample(A, A > 0, 1.0),)),
    np.copyto:     Unsupported("it writes in place; use dst = np.where(mask, src, dst) or dst = src", (sample(A, A, duals=(1,)),)),
    np.fill_diagonal: Unsupported("it writes in place; use d.at[np.diag_indices(n)].set(value)", (sample(SQ, 1.0),)),
}


# ---------------------------------------------------------------- the sibling tables

def _merge(*tables: dict[Any, Rule]) -> None:
    """Join the sibling tables, refusing a function registered twice."""
    for table in tables:
        twice = FUNCTION_RULES.keys() & table.keys()
        if twice:
            raise ImportError(f"functions registered twice: {sorted(public_name(f) for f in twice)}")
        FUNCTION_RULES.update(table)


from dualnumpy.rules.fft import FFT_RULES  # noqa: E402  (the siblings import this module's helpers)
from dualnumpy.rules.linalg import LINALG_RULES  # noqa: E402
from dualnumpy.rules.products import PRODUCT_RULES  # noqa: E402
from dualnumpy.rules.statistics import STATISTICS_RULES  # noqa: E402
from dualnumpy.rules.structure import STRUCTURE_RULES  # noqa: E402

_merge(LINALG_RULES, FFT_RULES, PRODUCT_RULES, STATISTICS_RULES, STRUCTURE_RULES)

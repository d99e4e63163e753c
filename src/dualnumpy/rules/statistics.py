"""The calculus of reductions, statistics, selection and set operations: one line per function.

The kinds are those of rules/kinds.py. Order statistics, unique and intersect1d
are ``Custom`` rules (a tangent from NumPy's answer, the values and the tangents);
the nan-functions and most selections are ``Composite`` ones; a histogram is a
``Switch`` between its weighted counts (``Custom``) and their density
(``Composite``). NumPy's value of median and friends (overwrite_input=) and of
nan_to_num (copy=False) is computed with those options off by the interpreter
(``numpy_facts.signatures.IN_PLACE_OPTIONS``), so a Dual's value never changes in place.
np.piecewise and np.apply_along_axis run the user's functions on Duals and keep
that run's value (``Composite(..., own_value=True)``).

Conventions of this table (the README's semantics section and
tests/test_statistics_edges.py state and check them):

* Order statistics (median, percentile, quantile, partition, sort_complex): the
  tangent of the j-th smallest value is the tangent of the entry that sits
  there; where several entries tie for it, the MEAN of their tangents. This is
  the convention of np.max/np.min (ties split evenly), so percentile 0 and 100
  agree with min and max, the answer does not depend on the order of the
  input, and the tangents of a sorted or partitioned array still sum to those
  of the input. Interpolating methods mix the two neighbouring order
  statistics with NumPy's own weight. A quantile level q may be a Dual: the
  slope of the piecewise-linear interpolation (the right derivative at a data
  point); the discrete methods are piecewise constant in q (zero).
* Where the answer is NaN (a NaN in the data for median/percentile/quantile,
  an all-NaN slice for the nan-versions), so is the tangent.
* nan-functions: NaN entries contribute nothing (their tangents are ignored).
* unique and friends: a unique value carries the tangent of its FIRST
  occurrence; union1d and setxor1d follow (first occurrence in ar1, then ar2);
  intersect1d takes its values from ar1 (a Dual ar2 is refused).
* Histograms: counts and bin edges are taken on the values (no derivative,
  also for edges computed from Dual data); weighted counts are linear in the
  weights (density= normalises them, composed on Duals); a Dual bins/range is
  refused. bincount is linear in its weights.
* Selection follows the selected entries: select/choose/compress/extract/
  trim_zeros; choose selects by the VALUE of its index array. piecewise,
  apply_along_axis and apply_over_axes run NumPy's own algorithm with the
  user's functions applied to Dual sub-arrays, so tangents (batched or
  nested) flow through them.
* nan_to_num: zero tangent where a value was replaced (or the replacement's
  tangent if that is a Dual); fix is piecewise constant (zero tangent).
* Indices, predicates and counts are plain NumPy results.

A few order statistics (median, a handful of quantiles) cost O(n) like NumPy's
own partition; many of them sort once. Both give the same tie-averaged answer.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from dualnumpy.core.tangent import dtype_of, ndim_of, shape_of, shift_axis
from dualnumpy.core.types import ArrayLike
from dualnumpy.numpy_facts.sampling import Samples, arr, sample
from dualnumpy.numpy_facts.signatures import Args, call, public_name
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
    is_number,
    primal,
    result_dtype,
)

_NoValue: Any = np._NoValue
# NumPy's stubs cannot know that a Dual dispatches through the array protocols.
_np: Any = np

# ---------------------------------------------------------------- small helpers


def _walk(x: Any) -> list[Any]:
    """The items of nested lists and tuples (anything else is one item)."""
    if isinstance(x, (list, tuple)):
        return [y for item in x for y in _walk(item)]
    return [x]


def _plain_tree(x: Any) -> Any:
    """``x`` with every number inside lists and tuples replaced by its plain value."""
    if isinstance(x, list):
        return [_plain_tree(y) for y in x]
    if isinstance(x, tuple):
        return tuple(_plain_tree(y) for y in x)
    return primal(x)


def _given(**kwargs: Any) -> dict[str, Any]:
    """The keyword arguments the caller actually gave (NumPy's ``_NoValue`` means absent)."""
    return {key: value for key, value in kwargs.items() if value is not _NoValue}


def _as_dtype(piece: Any, dtype: Any) -> Any:
    """Cast like NumPy's ``y[...] = piece`` into an array of ``dtype``."""
    if is_number(piece):
        return piece if piece.dtype == dtype else _np.astype(piece, dtype)
    return np.asarray(piece).astype(dtype)


def _tangent_as(t: Any, ans: Any) -> Any:
    """A nested (perturbed) tangent in the result's dtype; plain ones are cast by the interpreter."""
    dtype = result_dtype(ans)
    if is_number(t) and t.dtype != dtype:
        return _np.astype(t, dtype)
    return t


def _nan_where_nan(r: Any) -> Any:
    """A NaN answer gets a NaN tangent: no derivative exists there (inside a composition)."""
    if not is_number(r):
        return r
    mask = np.isnan(primal(r))
    if not np.any(mask):
        return r
    # A constant NaN tangent where the answer is NaN, the tangent elsewhere: np.floor's tangent
    # is a plain zero, so floor(r) * nan carries a plain NaN (its own derivatives are 0, and the
    # real part leaves a complex tangent's imaginary part 0), as np.where(mask, nan, t) would.
    poison = np.floor(np.real(r) if dtype_of(r).kind == "c" else r) * np.nan
    return np.where(mask, poison, r)


def _to_last(x: Any, axis: Any, ndim: int, lead: int = 0) -> Any:
    """Move the reduced axes last and merge them: ``(*kept, n)`` (``lead`` batch axes in front)."""
    shape = shape_of(x)[lead:]
    axes = tuple(range(ndim)) if axis is None else normalize_axis_tuple(axis, ndim)
    kept = tuple(i for i in range(ndim) if i not in axes)
    perm = tuple(range(lead)) + tuple(i + lead for i in kept + axes)
    if perm != tuple(range(len(perm))):
        x = np.transpose(x, perm)
    n = math.prod(shape[i] for i in axes)
    return np.reshape(x, shape_of(x)[:lead] + tuple(shape[i] for i in kept) + (n,))


# ---------------------------------------------------------------- order statistics


def _runs(sp: Any) -> tuple[Any, Any]:
    """For each position of sorted values, where its run of equal values starts and stops."""
    n = shape_of(sp)[-1]
    idx = np.arange(n)
    differs = sp[..., 1:] != sp[..., :-1]
    edge = np.ones((*shape_of(sp)[:-1], 1), dtype=bool)
    start = np.maximum.accumulate(np.where(np.concatenate([edge, differs], axis=-1), idx, 0), axis=-1)
    last = np.where(np.concatenate([differs, edge], axis=-1), idx, n - 1)
    stop = np.flip(np.minimum.accumulate(np.flip(last, axis=-1), axis=-1), axis=-1) + 1
    return start, stop


def _tied_gather(ts: Any, sp: Any) -> Callable[[Any], Any]:
    """Tangents of order statistics: ``at(J)`` takes positions J of the sorted tangents ``ts``
    (``(k, *kept, n)``), each replaced by the mean over its run of tied values."""
    ties = bool(np.any(sp[..., 1:] == sp[..., :-1]))
    start, stop = _runs(sp) if ties else (None, None)
    k = shape_of(ts)[0]
    if ties:
        zero = np.zeros((k, *shape_of(ts)[1:-1], 1), dtype=dtype_of(ts))
        csum = np.concatenate([zero, np.cumsum(ts, axis=-1)], axis=-1)

    def at(positions: Any) -> Any:
        full = (k, *shape_of(positions))
        direct = np.take_along_axis(ts, np.broadcast_to(positions, full), axis=-1)
        if not ties:
            return direct
        first = np.take_along_axis(start, positions, axis=-1)
        stop_at = np.take_along_axis(stop, positions, axis=-1)
        total = (np.take_along_axis(csum, np.broadcast_to(stop_at, full), axis=-1)
                 - np.take_along_axis(csum, np.broadcast_to(first, full), axis=-1))
        count = (stop_at - first).astype(dtype_of(ts))
        return np.where(stop_at - first == 1, direct, total / count)

    return at


def _at_values(xp: Any, y: Any, v: Any) -> Any:
    """``y`` (``(lead, *kept, n)``) at the entries whose values are ``v`` (``(*kept, m)``),
    tied entries averaged: one comparison pass per wanted value, O(n) for a few of them."""
    eq = xp[..., None, :] == v[..., :, None]
    count = np.sum(eq, axis=-1)
    lead = shape_of(y)[0]
    if np.all(count <= 1):  # no ties (a NaN value matches nothing; its answer is NaN anyway)
        first = np.argmax(eq, axis=-1)
        return np.take_along_axis(y, np.broadcast_to(first, (lead, *shape_of(first))), axis=-1)
    total = np.sum(np.where(eq, np.expand_dims(y, -2), 0.0), axis=-1)
    return total / np.maximum(count, 1).astype(dtype_of(y))


def _at_data_values(xp: Any, v: Any) -> Callable[[Any], list[Any]]:
    return lambda y: [_at_values(xp, y, v)]


#: Up to this many distinct order statistics, np.partition and comparisons (O(n) each)
#: beat a full sort; beyond, sort once. Both give the same tie-averaged answer.
_FEW_ORDER_STATISTICS = 8


def _order_statistics(xp: Any, positions: list[Any]) -> Callable[[Any], list[Any]]:
    """``get(y)``: for each array of positions (``(*kept, m)``), ``y`` at those order statistics
    of the slices of ``xp`` (``(*kept, n)``, sorted along the last axis), tied entries averaged."""
    wanted = np.unique(np.concatenate([np.ravel(p) for p in positions]))
    if wanted.size <= _FEW_ORDER_STATISTICS:
        values = np.partition(xp, wanted, axis=-1)[..., wanted]
        where = [np.searchsorted(wanted, p) for p in positions]

        def few(y: Any) -> list[Any]:
            at = _at_values(xp, y, values)
            lead = shape_of(y)[0]
            return [np.take_along_axis(at, np.broadcast_to(w, (lead, *shape_of(w))), axis=-1) for w in where]

        return few
    order = np.argsort(xp, axis=-1)
    sp = np.take_along_axis(xp, order, axis=-1)

    def many(y: Any) -> list[Any]:
        lead = shape_of(y)[0]
        at = _tied_gather(np.take_along_axis(y, np.broadcast_to(order, (lead, *shape_of(order))), axis=-1), sp)
        return [at(p) for p in positions]

    return many


#: Continuous quantile methods: NumPy's (alpha, beta) of Hyndman and Fan; the
#: virtual index n*q + alpha + q*(1 - alpha - beta) - 1 has slope n + 1 - alpha - beta.
_CONTINUOUS = {
    "linear": (1.0, 1.0),
    "interpolated_inverted_cdf": (0.0, 1.0),
    "hazen": (0.5, 0.5),
    "weibull": (0.0, 0.0),
    "median_unbiased": (1 / 3, 1 / 3),
    "normal_unbiased": (3 / 8, 3 / 8),
}

_POSITIONS = {(False, False): np.quantile, (True, False): np.percentile,
              (False, True): np.nanquantile, (True, True): np.nanpercentile}


def _quantile_jvp(*, percent: bool = False, nan: bool = False, median: bool = False) -> Callable[..., Any]:
    """median, percentile, quantile and their nan-versions.

    NumPy's own function applied to the positions 0..n-1 of the sorted data
    gives, for every method, the (fractional) order statistic it picks: j + g.
    The tangent mixes the tie-averaged tangents of order statistics j and j+1
    with weight g; a Dual q adds the slope of the interpolation.
    """

    def jvp(ans: Any, primals: Mapping[str, Any], tangents: Mapping[str, Any], params: Params) -> Any:
        av, ta = primals["a"], tangents["a"]
        qv, tq = (0.5, None) if median else (primals["q"], tangents["q"])
        if ta is None and tq is None:  # only Dual weights: piecewise constant in them
            return None
        k = shape_of(ta if ta is not None else tq)[0]
        method = params.get("method", "linear")
        axis = params.get("axis")
        ndim = len(shape_of(av))
        x = _to_last(av, axis, ndim)
        kept, n = shape_of(x)[:-1], shape_of(x)[-1]
        nq = math.prod(shape_of(qv) if is_number(qv) else np.shape(qv))
        out_shape = shape_of(ans)
        if n == 0 or nq == 0 or math.prod(kept) == 0:
            return np.full((k, *out_shape), np.nan)

        def core(y: Any) -> Any:  # an answer-shaped array as (*kept, nq)
            return np.moveaxis(np.reshape(y, (nq, *kept)), 0, -1)

        xp = primal(x)
        weights = primals.get("weights")
        g: Any = None
        count: Any = n
        if weights is not None:  # inverted_cdf: every answer is a data value
            stats = _at_data_values(xp, core(primal(ans)))
        else:
            positions_of = _POSITIONS[(percent, nan)]
            if nan:  # NaNs sort last: the valid entries are the first `count` order statistics
                count = np.sum(~np.isnan(xp), axis=-1, keepdims=True)
                pos = np.where(np.arange(n) < count, np.arange(n, dtype=np.float64), np.nan)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    idx = core(positions_of(pos, qv, axis=-1, method=method))
            else:
                idx = np.reshape(positions_of(np.arange(n, dtype=np.float64), qv, method=method), (nq,))
            bad = np.isnan(primal(idx))
            ip = np.where(bad, 0.0, primal(idx))
            top = np.maximum(np.asarray(count) - 1, 0)
            j = np.broadcast_to(np.clip(np.floor(ip).astype(np.intp), 0, top), (*kept, nq))
            j1 = np.minimum(j + 1, top)
            g = np.broadcast_to(np.where(bad, 0.0, idx) - j, (*kept, nq))
            if not is_number(g):
                g = g.astype(result_dtype(ans))
            stats = _order_statistics(xp, [j, j1])
        t_out: Any = None
        if ta is not None:
            picked = stats(_to_last(ta, axis, ndim, lead=1))
            t_out = picked[0] if g is None else (1.0 - g) * picked[0] + g * picked[1]
        if tq is not None and g is not None and method in _CONTINUOUS:
            alpha, beta = _CONTINUOUS[method]
            qq = np.reshape(np.asarray(primal(qv), dtype=np.float64), (nq,)) / (100.0 if percent else 1.0)
            nn = np.asarray(count, dtype=np.float64)
            virtual = (nn - 1) * qq if method == "linear" else nn * qq + alpha + qq * (1 - alpha - beta) - 1
            slope = np.where((virtual >= 0) & (virtual < nn - 1), nn + 1 - alpha - beta, 0.0)
            lower, upper = stats(np.expand_dims(x, 0))
            rise = upper[0] - lower[0]
            step = (slope / (100.0 if percent else 1.0)).astype(result_dtype(ans)) * rise
            t_q = step * np.reshape(tq, (k, *(1,) * len(kept), nq))
            t_out = t_q if t_out is None else t_out + t_q
        if t_out is None:
            t_out = np.zeros((k, *kept, nq), dtype=result_dtype(ans))
        nan_out = np.isnan(core(primal(ans)))
        if np.any(nan_out):
            t_out = np.where(nan_out, np.nan, t_out)
        return np.reshape(np.moveaxis(t_out, -1, 1), (k, *out_shape))

    return jvp


def _order_statistic_rule(samples: Samples, *, percent: bool = False, nan: bool = False,
                          median: bool = False) -> Custom:
    """The Custom rule of one order statistic (median: of ``a`` alone)."""
    args = ("a",) if median else ("a", "q", "weights")
    return Custom(_quantile_jvp(percent=percent, nan=nan, median=median), samples, args=args)


def _sorted_tangent(x: Any, t: Any, axis: Any) -> tuple[Any, Any, Any]:
    """The tie-averaging gather of the sorted tangents of ``x``, and the layout (axis moved last)."""
    k, ndim = shape_of(t)[0], ndim_of(x)
    if axis is None:
        xv, tx, ax = np.reshape(x, (-1,)), np.reshape(t, (k, -1)), -1
    else:
        ax = normalize_axis_index(axis, ndim)
        xv, tx = np.moveaxis(x, ax, -1), np.moveaxis(t, ax + 1, -1)
    xp = primal(xv)
    order = np.argsort(xp, axis=-1)  # the order inside a run of ties does not matter: they are averaged
    ts = np.take_along_axis(tx, np.broadcast_to(order, (k, *shape_of(order))), axis=-1)
    return _tied_gather(ts, np.take_along_axis(xp, order, axis=-1)), ax, k


def _partition(ans: Any, primals: Mapping[str, Any], tangents: Mapping[str, Any], params: Params) -> Any:
    """The value is NumPy's; each output entry gets the (tie-averaged) tangent of its order statistic."""
    axis = params.get("axis", -1)
    at, ax, k = _sorted_tangent(primals["a"], tangents["a"], axis)
    out = primal(ans) if axis is None else np.moveaxis(primal(ans), ax, -1)
    if shape_of(out)[-1] == 0:
        return np.zeros((k, *shape_of(ans)), result_dtype(ans))
    # each output entry's position in sorted order (any position within its run of ties will do)
    rank = np.empty(shape_of(out), dtype=np.intp)
    np.put_along_axis(rank, np.argsort(out, axis=-1), np.broadcast_to(np.arange(shape_of(out)[-1]), shape_of(out)),
                      axis=-1)
    t_out = at(rank)
    if axis is not None:
        t_out = np.moveaxis(t_out, -1, ax + 1)
    return t_out


def _sort_complex(ans: Any, primals: Mapping[str, Any], tangents: Mapping[str, Any], params: Params) -> Any:
    at, _, k = _sorted_tangent(primals["a"], tangents["a"], -1)
    n = shape_of(ans)[-1] if shape_of(ans) else 0
    t_out = at(np.broadcast_to(np.arange(n), shape_of(ans))) if n else np.zeros((k, *shape_of(ans)))
    return _tangent_as(t_out, ans)


# ---------------------------------------------------------------- nan-functions (NaN entries contribute nothing)


def _masked(a: Any, fill: float, where: Any) -> tuple[Any, Any]:
    """``a`` with NaN entries (and entries outside ``where``) replaced by ``fill``, and that mask."""
    mask = np.isnan(a)
    if where is not _NoValue and where is not True:
        mask = np.logical_or(mask, np.logical_not(where))
    return np.where(mask, fill, a), mask


def _nansum(a: Any, axis: Any = None, dtype: Any = None, keepdims: Any = _NoValue,
            initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    filled, _ = _masked(a, 0.0, where)
    return np.sum(filled, axis=axis, dtype=dtype, **_given(keepdims=keepdims, initial=initial))


def _nanprod(a: Any, axis: Any = None, dtype: Any = None, keepdims: Any = _NoValue,
             initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    filled, _ = _masked(a, 1.0, where)
    return np.prod(filled, axis=axis, dtype=dtype, **_given(keepdims=keepdims, initial=initial))


def _nanextreme(ufunc: np.ufunc) -> Callable[..., Any]:
    """nanmax/nanmin: fmax/fmin skip NaN; ties split the tangent as max/min do."""

    def compose(a: Any, axis: Any = None, keepdims: Any = _NoValue, initial: Any = _NoValue,
                where: Any = _NoValue) -> Any:
        filled, _ = _masked(a, np.nan, where)
        return _nan_where_nan(ufunc.reduce(filled, axis=axis, **_given(keepdims=keepdims, initial=initial)))

    return compose


def _count(mask: Any, axis: Any, like: Any, keepdims: Any = _NoValue) -> Any:
    """How many entries are not masked, in the dtype of ``like`` (so float32 stays float32)."""
    return np.sum(~mask, axis=axis, **_given(keepdims=keepdims)).astype(dtype_of(like))


def _nanmean(a: Any, axis: Any = None, dtype: Any = None, keepdims: Any = _NoValue, *,
             where: Any = _NoValue) -> Any:
    filled, mask = _masked(a, 0.0, where)
    total = np.sum(filled, axis=axis, dtype=dtype, **_given(keepdims=keepdims))
    with np.errstate(divide="ignore", invalid="ignore"):
        return _nan_where_nan(total / _count(mask, axis, total, keepdims))


def _nanvar(a: Any, axis: Any = None, dtype: Any = None, ddof: float = 0, keepdims: Any = _NoValue, *,
            where: Any = _NoValue, mean: Any = _NoValue, correction: Any = _NoValue) -> Any:
    if mean is not _NoValue:
        raise TypeError("np.nanvar/np.nanstd with mean= are not supported with Duals; leave it out "
                        "(the mean is recomputed on the Duals)")
    if correction is not _NoValue:
        ddof = correction
    filled, mask = _masked(a, 0.0, where)
    total = np.sum(filled, axis=axis, dtype=dtype, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        centered = np.where(mask, 0.0, a - total / _count(mask, axis, total, True))
        squares = np.real(centered * np.conjugate(centered)) if np.iscomplexobj(centered) else centered * centered
        sums = np.sum(squares, axis=axis, dtype=dtype, **_given(keepdims=keepdims))
        dof = np.maximum(_count(mask, axis, sums, keepdims) - ddof, 0)
        return _nan_where_nan(sums / dof)


def _nanstd(*args: Any, **kwargs: Any) -> Any:
    return np.sqrt(_nanvar(*args, **kwargs))


def _nan_accumulate(fill: float, accumulate: Any) -> Callable[..., Any]:
    def compose(a: Any, axis: Any = None, dtype: Any = None) -> Any:
        return accumulate(np.where(np.isnan(a), fill, a), axis=axis, dtype=dtype)

    return compose


# ---------------------------------------------------------------- reductions and statistics


def _average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False, *,
             keepdims: Any = _NoValue) -> Any:
    """sum(a * w) / sum(w), both differentiable; ``returned`` adds sum(w) broadcast to the average."""
    nd = len(shape_of(a))
    axes = None if axis is None else normalize_axis_tuple(axis, nd)
    kd = _given(keepdims=keepdims)
    if weights is None:
        return (np.mean(a, axis=axes, **kd), None) if returned else np.mean(a, axis=axes, **kd)
    w = weights
    if shape_of(w) != shape_of(a):  # weights along the axes (NumPy has checked the shapes)
        assert axes is not None
        w = np.reshape(np.transpose(w, tuple(int(i) for i in np.argsort(axes))),
                       tuple(s if ax in axes else 1 for ax, s in enumerate(shape_of(a))))
    scale = np.sum(w, axis=axes, **kd)
    avg = np.sum(a * w, axis=axes, **kd) / scale
    if not returned:
        return avg
    if shape_of(scale) != shape_of(avg):
        scale = np.broadcast_to(scale, shape_of(avg))
    return avg, scale


def _ptp(a: Any, axis: Any = None, keepdims: Any = _NoValue) -> Any:
    kd = _given(keepdims=keepdims)
    return np.max(a, axis=axis, **kd) - np.min(a, axis=axis, **kd)


def _cumulative(accumulate: Any, initial: float) -> Callable[..., Any]:
    """cumulative_sum/cumulative_prod (NumPy 2): cumsum/cumprod, after the identity if include_initial."""

    def compose(x: Any, /, *, axis: Any = None, dtype: Any = None, include_initial: bool = False) -> Any:
        axis = 0 if axis is None else axis
        out = accumulate(x, axis=axis, dtype=dtype)
        if not include_initial:
            return out
        shape = list(shape_of(out))
        shape[axis] = 1
        return np.concatenate([np.full(shape, initial, dtype=dtype_of(out)), out], axis=axis)

    return compose


# ---------------------------------------------------------------- selection


def _select(condlist: Any, choicelist: Any, default: Any = 0) -> Any:
    """The first true condition wins: a chain of np.where from the last choice back."""
    result = default
    for cond, choice in zip(reversed(list(condlist)), reversed(list(choicelist)), strict=True):
        result = np.where(cond, choice, result)
    return result


def _choose(a: Any, choices: Any, out: Any = None, mode: str = "raise") -> Any:
    """np.choose by the VALUE of the index array (a Dual index is used by value): a chain of
    np.where from the last choice back."""
    index = np.asarray(primal(a))
    n = len(choices)
    index = index % n if mode == "wrap" else np.clip(index, 0, n - 1) if mode == "clip" else index
    result = choices[n - 1]
    for i in range(n - 2, -1, -1):
        result = np.where(index == i, choices[i], result)
    shape = np.broadcast_shapes(np.shape(index), *(np.shape(_plain_tree(c)) for c in choices))  # NumPy's
    if shape_of(result) != shape:
        result = np.broadcast_to(result, shape)
    return result


def _piecewise(x: Any, condlist: Any, funclist: Any, *args: Any, **kw: Any) -> Any:
    """NumPy's algorithm on Duals: each function sees the Dual sub-array x[cond]."""
    funclist = list(funclist)
    if any(is_number(c) for c in _walk(condlist)):
        raise TypeError("np.piecewise: the conditions cannot be Duals; pass boolean arrays (e.g. x.value < 0)")
    scalar = len(shape_of(x)) == 0
    if np.isscalar(condlist) or (not isinstance(condlist[0], (list, np.ndarray)) and not scalar):
        condlist = [condlist]
    conds = np.asarray(condlist, dtype=bool)
    n, n2 = len(conds), len(funclist)
    if n == n2 - 1:
        conds = np.concatenate([conds, ~np.any(conds, axis=0, keepdims=True)], axis=0)
        n += 1
    elif n != n2:
        raise ValueError(f"with {n} condition(s), either {n} or {n + 1} functions are expected")
    if scalar:  # work on shape (1,); a 0-d boolean index would add an axis
        x, conds = np.reshape(x, (1,)), np.reshape(conds, (n, 1))
    dtype = dtype_of(x)
    # NumPy dispatches np.piecewise on x (or a condition, refused above): x is a Dual here,
    # and x with every entry set to 0 is the zero start carrying x's directions.
    y: Any = x.at[...].set(0)
    for cond, f in zip(conds, funclist, strict=True):
        if not callable(f):
            piece = f
        else:
            sub = x[cond]
            if sub.size == 0:
                continue
            piece = f(sub, *args, **kw)
        y = y.at[cond].set(_as_dtype(piece, dtype))
    return np.reshape(y, ()) if scalar else y


def _compress_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    axis = args.get("axis")
    if axis is None:
        return np.compress(args["condition"], np.reshape(t, (shape_of(t)[0], -1)), axis=1)
    return np.compress(args["condition"], t, axis=shift_axis(axis, ndim))


def _extract_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    chosen = np.flatnonzero(np.ravel(args["condition"]))
    return np.take(np.reshape(t, (shape_of(t)[0], -1)), chosen, axis=1)


def _bincount_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    """Linear in the weights: one bincount over k shifted copies of the bins."""
    x = np.asarray(args["x"])
    m = max(int(x.max()) + 1 if x.size else 0, int(args.get("minlength", 0) or 0))
    k = shape_of(t)[0]
    shifted = (x.reshape(1, -1) + m * np.arange(k).reshape(-1, 1)).reshape(-1)
    return np.reshape(np.bincount(shifted, weights=np.reshape(t, (-1,)), minlength=k * m), (k, m))


def _trim_zeros(filt: Any, trim: str = "fb", axis: Any = None) -> Any:
    """NumPy's bounding box of the nonzero values, as a basic slice of the Dual."""
    value = np.asarray(primal(filt))
    ndim = value.ndim
    axes = tuple(range(ndim)) if axis is None else normalize_axis_tuple(axis, ndim)
    if not axes:
        return filt
    nonzero = np.argwhere(value)
    start: Any
    stop: Any
    if nonzero.size == 0:
        start = stop = np.zeros(ndim, dtype=np.intp)
    else:
        start, stop = nonzero.min(axis=0), nonzero.max(axis=0) + 1
        if "f" not in trim.lower():
            start = (None,) * ndim
        if "b" not in trim.lower():
            stop = (None,) * ndim
    sl = tuple(slice(start[i], stop[i]) if i in axes else slice(None) for i in range(ndim))
    return filt[sl[0]] if len(sl) == 1 else filt[sl]


def _nan_to_num(x: Any, copy: bool = True, nan: Any = 0.0, posinf: Any = None, neginf: Any = None) -> Any:
    """Replaced entries take the replacement's tangent (zero for a constant); complex parts separately."""
    if dtype_of(x).kind not in "fc":
        return x

    def fix(part: Any) -> Any:
        big = 0.0 if posinf is None else posinf
        small = 0.0 if neginf is None else neginf
        return np.where(np.isnan(part), nan, np.where(np.isposinf(part), big,
                                                      np.where(np.isneginf(part), small, part)))

    if dtype_of(x).kind == "c":
        return fix(np.real(x)) + 1j * fix(np.imag(x))
    return fix(x)


def _real_if_close(ans: Any, primals: Mapping[str, Any], tangents: Mapping[str, Any], params: Params) -> Any:
    """The tangent as it is, or its real part where NumPy dropped a negligible imaginary part."""
    t = tangents["a"]
    if dtype_of(primals["a"]).kind == "c" and dtype_of(ans).kind != "c":
        t = np.real(t)
    return t


# ---------------------------------------------------------------- histograms


def _edges_from_data(bins: Any, per_axis: bool) -> bool:
    """Whether NumPy places the bin edges from the data: a count or an estimator name (for
    histogram2d/dd, on some axis); a sequence for np.histogram is the edges themselves."""
    if isinstance(bins, (str, int, np.integer)) or bins is None:
        return True
    return per_axis and any(isinstance(b, (str, int, np.integer)) for b in bins)


_HISTOGRAM_DATA: dict[Any, tuple[str, ...]] = {np.histogram: ("a",), np.histogram2d: ("x", "y"),
                                               np.histogramdd: ("sample",)}


def _refuse_perturbed_bins(func: Any, values: Mapping[str, Any], perturbed: Callable[[str], bool]) -> None:
    """Bin edges take no derivative: a Dual bins/range/density is refused, and so is a density of
    Dual data whose edges NumPy places from the data's min and max."""
    name = public_name(func)
    for key in ("bins", "range", "density"):
        if perturbed(key):
            raise TypeError(f"{name}: {key} cannot be a Dual (bin edges take no derivative here); "
                            f"pass its value (d.value)")
    if (values.get("density") and values.get("range") is None
            and _edges_from_data(values.get("bins"), func is not np.histogram)
            and any(perturbed(key) for key in _HISTOGRAM_DATA[func])):
        raise TypeError(f"{name}(density=True) of Dual data without range=: the bin widths follow the "
                        f"data's min and max, a derivative this rule does not take; pass range=(lo, hi), "
                        f"or the data's value")


def _histogram_counts(func: Any, samples: Samples) -> Custom:
    """Counts and edges on the values; weighted counts are linear in the weights."""

    def jvp(ans: Any, primals: Mapping[str, Any], tangents: Mapping[str, Any], params: Params) -> Any:
        # A Dual given directly has a tangent; one inside a list or tuple reaches a rule as it is.
        def perturbed(key: str) -> bool:
            return tangents.get(key) is not None or any(is_number(v) for v in _walk(primals.get(key)))

        _refuse_perturbed_bins(func, {**primals, **params}, perturbed)
        t = tangents.get("weights")
        if t is None:
            return None  # Dual data: counts are piecewise constant; edges are taken on the values
        # the data only place entries in bins: their plain values do
        raw = {**{key: _plain_tree(v) for key, v in primals.items()}, **params, "density": None}
        t_hist = np.stack([call(func, {**raw, "weights": t[i]})[0] for i in range(shape_of(t)[0])])
        return (t_hist, *(None,) * (len(ans) - 1))

    return Custom(jvp, samples, args=(*_HISTOGRAM_DATA[func], "bins", "range", "density", "weights"))


def _histogram_density(func: Any, samples: Samples) -> Composite:
    """density=True: the weighted counts (the rule above) divided by the bin widths and the total."""

    def compose(**given: Any) -> Any:
        def perturbed(key: str) -> bool:
            return any(is_number(v) for v in _walk(given.get(key)))

        _refuse_perturbed_bins(func, given, perturbed)
        if not is_number(given.get("weights")):
            return None  # counts are piecewise constant in the data: NumPy's value stands
        counts, *rest = call(func, {**given, "density": None})
        edges = list(rest[0]) if func is np.histogramdd else rest
        total = np.sum(counts)
        for i, e in enumerate(edges):
            shape = [1] * len(edges)
            shape[i] = len(e) - 1
            counts = counts / np.reshape(np.diff(e), shape)
        return (counts / total, *rest)

    return Composite(compose, samples, args=(*_HISTOGRAM_DATA[func], "bins", "range", "density", "weights"))


def _histogram_rule(func: Any, samples: Samples) -> Switch:
    """Weighted counts (Custom), or their density (Composite) when density= is true."""
    counts, density = _histogram_counts(func, samples), _histogram_density(func, samples)
    return Switch(lambda values: density if values.get("density") else counts, samples)


# ---------------------------------------------------------------- unique and set operations


def _first_occurrence(xp: Any, uniq: Any, axis: Any, equal_nan: bool) -> Any:
    """Index of the first occurrence of each returned unique value (or subarray along ``axis``)."""
    if axis is not None:
        return np.unique(xp, return_index=True, axis=axis, equal_nan=equal_nan)[1]
    flat = np.ravel(xp)
    if flat.size == 0:
        return np.zeros(0, dtype=np.intp)
    order = np.argsort(flat)  # any order inside a run of equal values: the minimum index is taken
    s = flat[order]
    new = np.empty(s.size, dtype=bool)
    new[0] = True
    new[1:] = s[1:] != s[:-1]
    nans = np.flatnonzero(np.isnan(s)) if s.dtype.kind in "fc" else np.zeros(0, np.intp)
    if equal_nan:  # NaNs sort last; with equal_nan they are one value
        new[nans[1:]] = False
    starts = np.flatnonzero(new)
    first = np.minimum.reduceat(order, starts)
    sorted_uniq = s[starts]
    if sorted_uniq.shape == uniq.shape and np.array_equal(sorted_uniq, uniq, equal_nan=True):
        return first
    # NumPy's hash-based unique (sorted=False) returns another order: map by value.
    pos = np.searchsorted(sorted_uniq, uniq)
    is_nan = np.isnan(uniq) if uniq.dtype.kind in "fc" else np.zeros(uniq.shape, bool)
    pos[is_nan] = pos[is_nan] + np.arange(int(is_nan.sum()))
    return first[np.minimum(pos, first.size - 1)]


def _unique_rule(arg: str, equal_nan: bool | None, samples: Samples) -> Custom:
    """unique, unique_all/counts/inverse/values: values carry the tangent of the FIRST occurrence;
    the other outputs (indices, inverse, counts) are plain."""

    def jvp(ans: Any, primals: Mapping[str, Any], tangents: Mapping[str, Any], params: Params) -> Any:
        x, t = primals[arg], tangents[arg]
        uniq = ans[0] if isinstance(ans, tuple) else ans
        axis = params.get("axis")
        eq = params.get("equal_nan", True) if equal_nan is None else equal_nan
        first = _first_occurrence(primal(x), primal(uniq), axis, eq)
        k = shape_of(t)[0]
        if axis is None:
            t_out = np.take(np.reshape(t, (k, -1)), first, axis=1)
        else:
            t_out = np.take(t, first, axis=shift_axis(normalize_axis_index(axis, ndim_of(x)), ndim_of(x)))
        if not isinstance(ans, tuple):
            return t_out
        return (t_out, *(None,) * (len(ans) - 1))  # the values come first, also in the named tuples

    return Custom(jvp, samples, args=(arg,))




def _union1d(ar1: Any, ar2: Any) -> Any:
    return np.unique(np.concatenate((ar1, ar2), axis=None))


def _setdiff1d(ar1: Any, ar2: Any, assume_unique: bool = False) -> Any:
    """Values from ar1 (first occurrence); ar2 only decides membership (used by value)."""
    kept = np.ravel(ar1) if assume_unique else np.unique(ar1)
    other = primal(ar2) if assume_unique else np.unique(primal(ar2))
    return kept[np.isin(primal(kept), other, assume_unique=True, invert=True)]


def _setxor1d(ar1: Any, ar2: Any, assume_unique: bool = False) -> Any:
    """Each value kept lies in exactly one input: its tangent (first occurrence there)."""
    if not assume_unique:
        ar1, ar2 = np.unique(ar1), np.unique(ar2)
    aux = np.concatenate((ar1, ar2), axis=None)
    if aux.size == 0:
        return aux
    aux = aux[np.argsort(primal(aux), kind="stable")]
    values = primal(aux)
    flag = np.concatenate(([True], values[1:] != values[:-1], [True]))
    return aux[flag[1:] & flag[:-1]]


def _intersect1d(ans: Any, primals: Mapping[str, Any], tangents: Mapping[str, Any], params: Params) -> Any:
    """The common values are taken from ar1: the tangent of their first occurrence in ar1."""
    if tangents["ar2"] is not None:
        raise TypeError("np.intersect1d takes the common values from ar1, so a Dual ar2 would lose its "
                        "tangent; pass ar2.value, or swap the arguments so that the Dual comes first")
    common = ans[0] if isinstance(ans, tuple) else ans
    flat = np.ravel(primal(primals["ar1"]))
    sorted_uniq, first = np.unique(flat, return_index=True)
    values = primal(common)
    t = np.reshape(tangents["ar1"], (-1, flat.size))
    if sorted_uniq.size == 0:
        t_out = np.zeros((shape_of(t)[0], *shape_of(common)), result_dtype(common))
    else:
        pos = np.minimum(np.searchsorted(sorted_uniq, values), sorted_uniq.size - 1)
        found = sorted_uniq[pos] == values  # False only where assume_unique was not true of ar2
        t_out = np.where(found, np.take(t, first[pos], axis=1), 0.0)
    return (t_out, *(None,) * (len(ans) - 1)) if isinstance(ans, tuple) else t_out


# ---------------------------------------------------------------- apply_along_axis / apply_over_axes


def _user_code_rule(algorithm: Callable[..., Any], samples: Samples) -> Composite:
    """NumPy's algorithm run on the arguments as given, its result kept as it is: the user's
    functions may close over other Duals, and run once."""
    return Composite(algorithm, samples, own_value=True)


def _apply_along_axis(func1d: Any, axis: Any, arr: Any, *args: Any, **kwargs: Any) -> Any:
    """NumPy's loop over 1-D slices, on Duals: the user function sees Dual slices."""
    if is_number(axis):
        raise TypeError("np.apply_along_axis: axis cannot be a Dual; pass an int")
    ndim = len(shape_of(arr))
    axis = normalize_axis_index(axis, ndim)
    inarr = np.moveaxis(arr, axis, -1)
    outer = shape_of(inarr)[:-1]
    if any(s == 0 for s in outer):
        raise ValueError("Cannot apply_along_axis when any iteration dimensions are 0")
    results = [func1d(inarr[ind], *args, **kwargs) for ind in np.ndindex(*outer)]
    results = [r if is_number(r) else np.asanyarray(r) for r in results]
    dtype = dtype_of(results[0])
    res_shape = shape_of(results[0])
    stacked = np.reshape(np.stack([_as_dtype(r, dtype) for r in results]), outer + res_shape)
    dims = list(range(len(outer) + len(res_shape)))
    permute = dims[:axis] + dims[len(outer):] + dims[axis:len(outer)]
    return np.transpose(stacked, permute)


def _apply_over_axes(func: Any, a: Any, axes: Any) -> Any:
    """NumPy's loop over the axes, on Duals: the user function sees the Dual."""
    val = a
    n = len(shape_of(val))
    if np.ndim(axes) == 0:
        axes = (axes,)
    for axis in axes:
        axis = n + axis if axis < 0 else axis
        res = func(val, axis)
        if np.ndim(res) != np.ndim(val):
            res = np.expand_dims(res, axis)
            if np.ndim(res) != np.ndim(val):
                raise ValueError("function is not returning an array of the correct shape")
        val = res
    return val


# ---------------------------------------------------------------- sample points

A = arr(3, 4)
A3 = arr(2, 3, 4, seed=1)
V = arr(5, seed=2)
W5 = arr(5, seed=3, low=0.5, high=2.0)
W4 = arr(4, seed=4, low=0.5, high=2.0)
WA = arr(3, 4, seed=5, low=0.5, high=2.0)
B = arr(3, 4, seed=6)
C = arr(3, 4, seed=7)
ANAN = A.copy()
ANAN[0, 1] = ANAN[2, 3] = ANAN[1, 0] = np.nan
NANV = np.array([0.3, np.nan, -1.2, 0.7, np.nan, 1.9, -0.4])
INF = A.copy()
INF[0, 0], INF[1, 1], INF[2, 2] = np.nan, np.inf, -np.inf
IDX = np.array([[0, 1, 2, 1], [2, 0, 1, 0], [1, 1, 0, 2]])
H2 = arr(6, 2, seed=8)
W6 = arr(6, seed=9, low=0.5, high=2.0)
BOX = ((-2.0, 2.0), (-2.0, 2.0))


def _square(v: Any) -> Any:
    return v * v


def _scaled_sin(v: Any, c: float, *, shift: float = 0.0) -> Any:
    return c * np.sin(v) + shift


def _shifted_square(v: Any, c: float, *, shift: float = 0.0) -> Any:
    return c * v * v - shift


def _pairs(v: Any) -> Any:
    return v[:2] * v[1:3]


# ---------------------------------------------------------------- the table

STATISTICS_RULES: dict[Any, Rule] = {
    # --- order statistics: tied entries share the tangent evenly; a Dual q differentiates too
    np.median:        _order_statistic_rule((sample(A), sample(A, axis=0), sample(V),
                                             sample(A3, axis=(0, 2), keepdims=True)), median=True),
    np.nanmedian:     _order_statistic_rule((sample(ANAN), sample(ANAN, axis=1),
                                             sample(ANAN, axis=0, keepdims=True)), nan=True, median=True),
    np.percentile:    _order_statistic_rule((
        sample(A, 30.0), sample(A, [10.0, 50.0, 95.0], axis=1), sample(A, 40.0, axis=0, method="hazen"),
        sample(V, np.array([30.0, 70.0]), duals=(0, 1)), sample(A, 35.0, axis=1, method="lower", keepdims=True),
        sample(V, 62.0, method="midpoint"), sample(V, 62.0, method="nearest")), percent=True),
    np.quantile:      _order_statistic_rule((
        sample(A, 0.3), sample(A3, [0.1, 0.6], axis=(1, 2)), sample(V, 0.37, duals=(0, 1)),
        sample(V, np.array([0.15, 0.8]), method="weibull", duals=(0, 1)),
        sample(A, 0.42, axis=1, method="median_unbiased", duals=(0, 1)),
        sample(V, 0.4, method="inverted_cdf", weights=W5), sample(V, 0.55, method="averaged_inverted_cdf"),
        sample(V, 0.61, method="closest_observation"), sample(V, 0.33, method="interpolated_inverted_cdf",
                                                             duals=(0, 1)))),
    np.nanpercentile: _order_statistic_rule((
        sample(ANAN, 30.0), sample(ANAN, [20.0, 70.0], axis=0), sample(NANV, 44.0, duals=(0, 1))),
        percent=True, nan=True),
    np.nanquantile:   _order_statistic_rule((
        sample(ANAN, 0.3, axis=1), sample(NANV, np.array([0.2, 0.9]), duals=(0, 1)),
        sample(ANAN, 0.7, axis=0, method="hazen", keepdims=True)), nan=True),
    np.partition:     Custom(_partition, (sample(V, 2), sample(A, 1, axis=0), sample(A, [0, 3], axis=1),
                                          sample(A, 5, axis=None)), args=("a",)),
    np.sort_complex:  Custom(_sort_complex, (sample(V, complex_ok=True), sample(A, complex_ok=True)), args=("a",)),
    # --- reductions and statistics
    np.average:       Composite(_average, (sample(A), sample(A, 1, W4, duals=(0, 2)),
                                           sample(A, None, WA, True, duals=(0, 2)),
                                           sample(A, 0, WA, True, keepdims=True, duals=(2,)),
                                           sample(A3, (0, 2), None, True, complex_ok=True)), args=("a", "weights")),
    np.ptp:           Composite(_ptp, (sample(A), sample(A, axis=1), sample(A3, axis=(0, 2), keepdims=True))),
    np.cumulative_sum:  Composite(_cumulative(np.cumsum, 0.0), (sample(V, complex_ok=True),
                                                                sample(A, axis=1, include_initial=True)), args=("x",)),
    np.cumulative_prod: Composite(_cumulative(np.cumprod, 1.0), (sample(V, complex_ok=True),
                                                                 sample(A, axis=0, include_initial=True)), args=("x",)),
    # --- nan-functions: NaN entries contribute nothing
    np.nansum:        Composite(_nansum, (sample(ANAN, complex_ok=True), sample(ANAN, axis=1),
                                          sample(ANAN, axis=0, keepdims=True, where=A > -1.5))),
    np.nanprod:       Composite(_nanprod, (sample(ANAN), sample(ANAN, axis=1, keepdims=True))),
    np.nanmean:       Composite(_nanmean, (sample(ANAN, complex_ok=True), sample(ANAN, axis=0),
                                           sample(ANAN, axis=1, keepdims=True, where=A > -1.5))),
    np.nanvar:        Composite(_nanvar, (sample(ANAN, complex_ok=True), sample(ANAN, axis=1, ddof=1),
                                          sample(ANAN, axis=0, keepdims=True))),
    np.nanstd:        Composite(_nanstd, (sample(ANAN), sample(ANAN, axis=1, correction=1))),
    np.nanmax:        Composite(_nanextreme(np.fmax), (sample(ANAN), sample(ANAN, axis=0),
                                                       sample(ANAN, axis=1, keepdims=True),
                                                       sample(ANAN, axis=1, initial=-5.0, where=A < 1.0))),
    np.nanmin:        Composite(_nanextreme(np.fmin), (sample(ANAN), sample(ANAN, axis=1))),
    np.nancumsum:     Composite(_nan_accumulate(0.0, np.cumsum), (sample(ANAN, complex_ok=True),
                                                                  sample(ANAN, axis=1))),
    np.nancumprod:    Composite(_nan_accumulate(1.0, np.cumprod), (sample(ANAN), sample(ANAN, axis=0))),
    # --- weighted counts: linear in the weights
    np.bincount:      Linear((sample(np.array([0, 1, 1, 3, 2]), V, duals=(1,)),
                                                              sample(np.array([2, 0, 2]), V[:3], 6, duals=(1,))), arg="weights", tangent=_bincount_tangent),
    np.histogram:     _histogram_rule(np.histogram, (sample(V, 4, (-2.0, 2.0), None, W5, duals=(4,), complex_ok=True),
                                                     sample(V, 3, None, True, W5, duals=(4,)),
                                                     sample(V, [-2.0, -0.5, 0.5, 2.0], duals=(0,)))),
    np.histogram2d:   _histogram_rule(np.histogram2d, (sample(H2[:, 0], H2[:, 1], 3, BOX, None, W6, duals=(5,)),
                                                       sample(H2[:, 0], H2[:, 1], [2, 3], BOX, True, W6, duals=(5,)))),
    np.histogramdd:   _histogram_rule(np.histogramdd, (sample(H2, 3, BOX, None, W6, duals=(4,)),
                                                       sample(H2, (2, 3), BOX, True, W6, duals=(4,)),
                                                       sample(H2, 2, BOX, duals=(0,)))),
    # --- selection: tangents follow the selected entries
    np.select:        Composite(_select, (sample([A > 0, A < -1], [A, B], duals=((1, 0), (1, 1))),
                                          sample([A > 0.5], [A], C, duals=((1, 0), 2)),
                                          sample([V > 0, V < -1], [V, 2.0], 0.5, duals=((1, 0),))), args=("choicelist", "default")),
    np.choose:        Composite(_choose, (sample(IDX, [A, B, C], duals=((1, 0), (1, 2))),
                                         sample(IDX + 1, [A, B, C], mode="wrap", duals=((1, 1),)),
                                         sample(IDX * 2 - 1, [A, B, C], mode="clip", duals=((1, 0), (1, 2))),
                                         sample(np.array([1, 0, 1]), [arr(3, 1), B[:, :1] * 0 + 2.0],
                                                duals=((1, 0),))), args=("a", "choices")),
    np.piecewise:     _user_code_rule(_piecewise, (sample(V, [V < 0, V >= 0], [_square, np.sin]),
                                                   sample(A, [A < -1, A > 1], [0.5, _square, np.cos]),
                                                   sample(V, V > 0.2, [_scaled_sin, _shifted_square], 3.0, shift=1.0))),
    np.compress:      Linear((sample(np.array([True, False, True]), A, axis=0, duals=(1,)),
                                                        sample([1, 0, 1, 1, 0], V, duals=(1,)),
                                                        sample(A[0] > 0, A, axis=-1, duals=(1,)),
                                                        sample([0, 1, 1, 0, 0, 1], A, duals=(1,))), arg="a", tangent=_compress_tangent),
    np.extract:       Linear((sample(A > 0, A, duals=(1,)),
                                                         sample(np.array([1, 0, 3]), V, duals=(1,))), arg="arr", tangent=_extract_tangent),
    np.trim_zeros:    Composite(_trim_zeros, (sample(V), sample(A, "f", axis=1)), args=("filt",)),
    np.nan_to_num:    Composite(_nan_to_num, (
        sample(INF, complex_ok=True), sample(INF, nan=1.5, posinf=9.0, neginf=-9.0),
        sample(INF, False, 2.0, 3.0, -3.0, duals=(0, 2, 3, 4))), args=("x", "nan", "posinf", "neginf")),
    np.real_if_close: Custom(_real_if_close, (sample(A, complex_ok=True),), args=("a",), dependence=Dependence.ELEMENTWISE),
    np.fix:           PiecewiseConstant((sample(A * 3.0 + 0.05),), args=("x",)),
    # --- unique and set operations: the tangent of the first occurrence
    np.unique:        _unique_rule("ar", None, (
        sample(V), sample(V, True, True, True), sample(A, axis=0, return_index=True),
        sample(A, return_inverse=True, sorted=False), sample(A, axis=1, return_counts=True))),
    np.unique_all:    _unique_rule("x", False, (sample(V),)),
    np.unique_counts: _unique_rule("x", False, (sample(A),)),
    np.unique_inverse: _unique_rule("x", False, (sample(A),)),
    np.unique_values: _unique_rule("x", False, (sample(V),)),
    np.union1d:       Composite(_union1d, (sample(V, arr(3, seed=10), duals=(0, 1)), sample(A, V, duals=(1,))), args=("ar1", "ar2")),
    np.intersect1d:   Custom(_intersect1d, (sample(V, arr(3, seed=10)),
                                            sample(V, arr(3, seed=10), return_indices=True)), args=("ar1", "ar2")),
    np.setdiff1d:     Composite(_setdiff1d, (sample(V, np.array([5.0, 7.0])), sample(A, V, True, duals=(0, 1))), args=("ar1", "ar2")),
    np.setxor1d:      Composite(_setxor1d, (sample(V, arr(3, seed=10), duals=(0, 1)),
                                            sample(A, V, True, duals=(1,))), args=("ar1", "ar2")),
    # --- apply a user function to Dual slices
    np.apply_along_axis: _user_code_rule(_apply_along_axis, (sample(_square, 1, A, duals=(2,)),
                                                             sample(np.sum, -1, A3, duals=(2,)),
                                                             sample(_pairs, 0, A3, duals=(2,)),
                                                             sample(_scaled_sin, 0, A, 2.0, shift=0.5, duals=(2,)))),
    np.apply_over_axes:  _user_code_rule(_apply_over_axes, (sample(np.sum, A3, [0, 2], duals=(1,)),
                                                            sample(np.mean, A, -1, duals=(1,)))),
    # --- results without a derivative: indices, counts, predicates, bin edges
    np.nanargmax:     NonDiff("index", (sample(ANAN, axis=1),)),
    np.nanargmin:     NonDiff("index", (sample(ANAN),)),
    np.argpartition:  NonDiff("index", (sample(V, 2),)),
    np.argwhere:      NonDiff("index", (sample(A),)),
    np.flatnonzero:   NonDiff("index", (sample(A),)),
    np.lexsort:       NonDiff("index", (sample(A),)),
    np.searchsorted:  NonDiff("index", (sample(np.sort(V), A, duals=(0, 1)),)),
    np.digitize:      NonDiff("index", (sample(V, np.array([-1.0, 0.0, 1.0]), duals=(0, 1)),)),
    np.count_nonzero: NonDiff("count", (sample(A, axis=0),)),
    np.histogram_bin_edges: NonDiff("bin edges are taken on the values", (sample(V, 4),)),
    np.isin:          NonDiff("predicate", (sample(V, V[:2], duals=(0, 1)),)),
    np.isreal:        NonDiff("predicate", (sample(A),)),
    np.iscomplex:     NonDiff("predicate", (sample(A),)),
    np.isneginf:      NonDiff("predicate", (sample(INF),)),
    np.isposinf:      NonDiff("predicate", (sample(INF),)),
}

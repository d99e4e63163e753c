"""The calculus of reductions, statistics, selection and set operations: one line per function (see rules/_fnkinds.py for the kinds).

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
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from dualnumpy.core import dual as _dual
from dualnumpy.core import indexing as _indexing  # TRANSITION
from dualnumpy.core import interpreter as _dispatch
from dualnumpy.core.tangent import dtype_of, shape_of, shift_axis
from dualnumpy.core.types import ArrayLike
from dualnumpy.numpy_facts.sampling import arr, sample
from dualnumpy.numpy_facts.signatures import Args, call, public_name
from dualnumpy.rules.function_kinds import (  # TRANSITION
    CustomFn,
    _duals_in,
    _refuse_duals_outside,
    _replace_value,
    _value_of,
    _walk,
    values_at,
)
from dualnumpy.rules.function_kinds import primal as _plain
from dualnumpy.rules.kinds import Composite, Linear, NonDiff, Rule, result_dtype
from dualnumpy.rules.kinds import is_number as _is_number

_NoValue: Any = np._NoValue
# NumPy's stubs cannot know that a Dual dispatches through the array protocols.
_np: Any = np

# ---------------------------------------------------------------- small helpers


def _top(x: Any, tag: int) -> bool:
    return _is_number(x) and x.tag == tag


def _given(**kwargs: Any) -> dict[str, Any]:
    """The keyword arguments the caller actually gave (NumPy's ``_NoValue`` means absent)."""
    return {key: value for key, value in kwargs.items() if value is not _NoValue}


def _as_dtype(piece: Any, dtype: Any) -> Any:
    """Cast like NumPy's ``y[...] = piece`` into an array of ``dtype``."""
    if _is_number(piece):
        return piece if piece.dtype == dtype else _np.astype(piece, dtype)
    return np.asarray(piece).astype(dtype)


def _tangent_as(t: Any, ans: Any) -> Any:
    """A nested (Dual) tangent in the result's dtype; plain ones are cast by wrap()."""
    dtype = result_dtype(ans)
    if _is_number(t) and t.dtype != dtype:
        return _np.astype(t, dtype)
    return t


def _nan_where_nan(r: Any) -> Any:
    """A NaN answer gets a NaN tangent: no derivative exists there."""
    if not _is_number(r):
        return r
    mask = np.isnan(_plain(r.value))
    if not np.any(mask):
        return r
    return _dual.make(r.value, np.where(mask, np.nan, r.tangent), r.tag)


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


def _quantile_apply(*, percent: bool = False, nan: bool = False, median: bool = False) -> Callable[..., Any]:
    """median, percentile, quantile and their nan-versions.

    NumPy's own function applied to the positions 0..n-1 of the sorted data
    gives, for every method, the (fractional) order statistic it picks: j + g.
    The tangent mixes the tie-averaged tangents of order statistics j and j+1
    with weight g; a Dual q adds the slope of the interpolation.
    """

    def apply(func: Any, args: Args, tag: int) -> Any:
        name = public_name(func)
        _refuse_duals_outside(name, args, ("a", "q", "weights"), tag)
        vals = values_at(args, tag)
        if vals.get("overwrite_input"):  # a Dual's value is never scrambled in place
            vals["overwrite_input"] = False
        ans = call(func, vals)
        q_arg = 0.5 if median else args["q"]
        values, tangents, batched = _dispatch.split([args["a"], q_arg], tag)
        av, qv = values
        ta, tq = tangents
        if ta is None and tq is None:  # only Dual weights: piecewise constant in them
            return ans
        k = shape_of(ta if ta is not None else tq)[0]
        method = vals.get("method", "linear")
        ndim = len(shape_of(av))
        x = _to_last(av, vals.get("axis"), ndim)
        kept, n = shape_of(x)[:-1], shape_of(x)[-1]
        nq = math.prod(shape_of(qv) if _is_number(qv) else np.shape(qv))
        out_shape = shape_of(ans)
        if n == 0 or nq == 0 or math.prod(kept) == 0:
            return _dispatch.wrap(ans, np.full((k, *out_shape), np.nan), tag, batched)

        def core(y: Any) -> Any:  # an answer-shaped array as (*kept, nq)
            return np.moveaxis(np.reshape(y, (nq, *kept)), 0, -1)

        xp = _plain(x)
        weights = vals.get("weights")
        g: Any = None
        count: Any = n
        if weights is not None:  # inverted_cdf: every answer is a data value
            stats = _at_data_values(xp, core(_plain(ans)))
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
            bad = np.isnan(_plain(idx))
            ip = np.where(bad, 0.0, _plain(idx))
            top = np.maximum(np.asarray(count) - 1, 0)
            j = np.broadcast_to(np.clip(np.floor(ip).astype(np.intp), 0, top), (*kept, nq))
            j1 = np.minimum(j + 1, top)
            g = np.broadcast_to(np.where(bad, 0.0, idx) - j, (*kept, nq))
            if not _is_number(g):
                g = g.astype(result_dtype(ans))
            stats = _order_statistics(xp, [j, j1])
        t_out: Any = None
        if ta is not None:
            picked = stats(_to_last(ta, vals.get("axis"), ndim, lead=1))
            t_out = picked[0] if g is None else (1.0 - g) * picked[0] + g * picked[1]
        if tq is not None and g is not None and method in _CONTINUOUS:
            alpha, beta = _CONTINUOUS[method]
            qq = np.reshape(np.asarray(_plain(qv), dtype=np.float64), (nq,)) / (100.0 if percent else 1.0)
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
        nan_out = np.isnan(core(_plain(ans)))
        if np.any(nan_out):
            t_out = np.where(nan_out, np.nan, t_out)
        t_out = np.reshape(np.moveaxis(t_out, -1, 1), (k, *out_shape))
        return _dispatch.wrap(ans, t_out, tag, batched)

    return apply


def _sorted_tangent(func: Any, args: Args, tag: int, arg: str, axis: Any) -> tuple[Any, Any, Any, Any]:
    """NumPy's answer, the tie-averaging gather of sorted tangents, and the layout (axis moved last)."""
    x = args[arg]
    ans = call(func, values_at(args, tag))
    t = _dispatch.batched_tangent(x)
    k, ndim = shape_of(t)[0], len(x.shape)
    if axis is None:
        xv, tx, ax = np.reshape(x.value, (-1,)), np.reshape(t, (k, -1)), -1
    else:
        ax = normalize_axis_index(axis, ndim)
        xv, tx = np.moveaxis(x.value, ax, -1), np.moveaxis(t, ax + 1, -1)
    xp = _plain(xv)
    order = np.argsort(xp, axis=-1)  # the order inside a run of ties does not matter: they are averaged
    ts = np.take_along_axis(tx, np.broadcast_to(order, (k, *shape_of(order))), axis=-1)
    return ans, _tied_gather(ts, np.take_along_axis(xp, order, axis=-1)), ax, k


def _partition(func: Any, args: Args, tag: int) -> Any:
    """The value is NumPy's; each output entry gets the (tie-averaged) tangent of its order statistic."""
    _refuse_duals_outside("np.partition", args, ("a",), tag)
    axis = args.get("axis", -1)
    ans, at, ax, k = _sorted_tangent(func, args, tag, "a", axis)
    out = _plain(ans) if axis is None else np.moveaxis(_plain(ans), ax, -1)
    if shape_of(out)[-1] == 0:
        return _dispatch.wrap(ans, np.zeros((k, *shape_of(ans)), result_dtype(ans)), tag, args["a"].batched)
    # each output entry's position in sorted order (any position within its run of ties will do)
    rank = np.empty(shape_of(out), dtype=np.intp)
    np.put_along_axis(rank, np.argsort(out, axis=-1), np.broadcast_to(np.arange(shape_of(out)[-1]), shape_of(out)),
                      axis=-1)
    t_out = at(rank)
    if axis is not None:
        t_out = np.moveaxis(t_out, -1, ax + 1)
    return _dispatch.wrap(ans, t_out, tag, args["a"].batched)


def _sort_complex(func: Any, args: Args, tag: int) -> Any:
    ans, at, _, k = _sorted_tangent(func, args, tag, "a", -1)
    n = shape_of(ans)[-1] if shape_of(ans) else 0
    t_out = at(np.broadcast_to(np.arange(n), shape_of(ans))) if n else np.zeros((k, *shape_of(ans)))
    return _dispatch.wrap(ans, _tangent_as(t_out, ans), tag, args["a"].batched)


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
    return np.asarray(np.sum(~mask, axis=axis, **_given(keepdims=keepdims))).astype(dtype_of(like))


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


def _choose(func: Any, args: Args, tag: int) -> Any:
    """np.choose by the VALUE of the index array (a Dual index is used by value)."""
    vals = values_at(args, tag)
    ans = call(func, vals)
    choices = args["choices"]
    if not any(_top(c, tag) for c in _walk(choices)):
        return ans
    index = np.asarray(_plain(args["a"]))
    n = len(choices)
    mode = vals.get("mode", "raise")
    index = index % n if mode == "wrap" else np.clip(index, 0, n - 1) if mode == "clip" else index
    result = choices[n - 1]
    for i in range(n - 2, -1, -1):
        result = np.where(index == i, choices[i], result)
    if shape_of(result) != shape_of(ans):
        result = np.broadcast_to(result, shape_of(ans))
    return _replace_value(result, ans, tag)


def _piecewise(func: Any, args: Args, tag: int) -> Any:
    """NumPy's algorithm on Duals: each function sees the Dual sub-array x[cond]."""
    x = args["x"]
    condlist = args["condlist"]
    funclist = list(args["funclist"])
    extra = tuple(args.get("args", ()))
    kw = {key: value for key, value in args.items() if key not in ("x", "condlist", "funclist", "args")}
    if any(_is_number(c) for c in _walk(condlist)):
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
    like = next(d for d in _duals_in(args) if d.tag == tag)
    dtype = dtype_of(x)
    y: Any = _indexing._zero_lift(np.zeros_like(_value_of(x, tag)), like)
    for cond, f in zip(conds, funclist, strict=True):
        if not callable(f):
            piece = f
        else:
            sub = x[cond]
            if sub.size == 0:
                continue
            piece = f(sub, *extra, **kw)
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
    value = np.asarray(_plain(filt))
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


def _nan_to_num_apply(func: Any, args: Args, tag: int) -> Any:
    """copy=False would overwrite the Dual's value in place: NumPy's value comes from a copy."""
    _refuse_duals_outside("np.nan_to_num", args, ("x", "nan", "posinf", "neginf"), tag)
    ans = call(func, {**values_at(args, tag), "copy": True})
    return _replace_value(call(_nan_to_num, args), ans, tag)


def _real_if_close(func: Any, args: Args, tag: int) -> Any:
    _refuse_duals_outside("np.real_if_close", args, ("a",), tag)
    a = args["a"]
    ans = call(func, values_at(args, tag))
    t = _dispatch.batched_tangent(a)
    if dtype_of(a).kind == "c" and dtype_of(ans).kind != "c":
        t = np.real(t)
    return _dispatch.wrap(ans, t, tag, a.batched)


def _zero_tangent(arg: str) -> Callable[[Any, Args, int], Any]:
    """Piecewise constant (np.fix): the value is NumPy's, the tangent zero."""

    def apply(func: Any, args: Args, tag: int) -> Any:
        x = args[arg]
        ans = call(func, values_at(args, tag))
        k = shape_of(_dispatch.batched_tangent(x))[0]
        return _dispatch.wrap(ans, np.zeros((k, *shape_of(ans)), result_dtype(ans)), tag, x.batched)

    return apply


# ---------------------------------------------------------------- histograms




def _edges_from_data(bins: Any, per_axis: bool) -> bool:
    """Whether NumPy places the bin edges from the data: a count or an estimator name (for
    histogram2d/dd, on some axis); a sequence for np.histogram is the edges themselves."""
    if isinstance(bins, (str, int, np.integer)) or bins is None:
        return True
    return per_axis and any(isinstance(b, (str, int, np.integer)) for b in bins)


def _histogram(func: Any, args: Args, tag: int) -> Any:
    """Counts and edges on the values; weighted counts linear in the weights (density composed)."""
    name = public_name(func)
    for key in ("bins", "range", "density"):
        if any(_top(v, tag) for v in _walk(args.get(key))):
            raise TypeError(f"{name}: {key} cannot be a Dual (bin edges take no derivative here); "
                            f"pass its value (d.value)")
    vals = values_at(args, tag)
    data_keys = ("a",) if func is np.histogram else ("x", "y") if func is np.histogram2d else ("sample",)
    if (vals.get("density") and vals.get("range") is None and _edges_from_data(vals.get("bins"), func is not np.histogram)
            and any(_top(v, tag) for key in data_keys for v in _walk(args.get(key)))):
        raise TypeError(f"{name}(density=True) of Dual data without range=: the bin widths follow the "
                        f"data's min and max, a derivative this rule does not take; pass range=(lo, hi), "
                        f"or the data's value")
    ans = call(func, vals)
    weights: Any = args.get("weights")
    if not _top(weights, tag):
        return ans  # Dual data: counts are piecewise constant; edges are taken on the values
    t = _dispatch.batched_tangent(weights)
    raw = {**vals, "density": None}
    t_hist = np.stack([call(func, {**raw, "weights": t[i]})[0] for i in range(shape_of(t)[0])])
    if not vals.get("density"):
        hist = _dispatch.wrap(ans[0], t_hist, tag, weights.batched)
        return (hist, *ans[1:])
    counts: Any = _dispatch.wrap(call(func, raw)[0], t_hist, tag, weights.batched)
    edges = [ans[1]] if func is np.histogram else list(ans[1]) if func is np.histogramdd else [ans[1], ans[2]]
    total = np.sum(counts)
    for i, e in enumerate(edges):
        shape = [1] * len(edges)
        shape[i] = len(e) - 1
        counts = counts / np.reshape(np.diff(np.asarray(e, dtype=float)), shape)
    density = counts / total
    return (_dual.make(ans[0], _tangent_as(density.tangent, ans[0]), tag), *ans[1:])


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


def _unique_apply(arg: str, equal_nan: bool | None) -> Callable[[Any, Args, int], Any]:
    """unique, unique_all/counts/inverse/values: values carry the tangent of the FIRST occurrence."""

    def apply(func: Any, args: Args, tag: int) -> Any:
        x = args[arg]
        vals = values_at(args, tag)
        # the Array API unique_* take x positionally only (their signature does not say so)
        ans = call(func, vals) if arg == "ar" else func(vals[arg])
        uniq = ans[0] if isinstance(ans, tuple) else ans
        axis = args.get("axis")
        eq = args.get("equal_nan", True) if equal_nan is None else equal_nan
        first = _first_occurrence(_plain(x.value), _plain(uniq), axis, eq)
        t = _dispatch.batched_tangent(x)
        k = shape_of(t)[0]
        if axis is None:
            t_out = np.take(np.reshape(t, (k, -1)), first, axis=1)
        else:
            t_out = np.take(t, first, axis=shift_axis(normalize_axis_index(axis, len(x.shape)), len(x.shape)))
        values = _dispatch.wrap(uniq, t_out, tag, x.batched)
        if not isinstance(ans, tuple):
            return values
        if hasattr(ans, "_replace"):
            return ans._replace(values=values)
        return (values, *ans[1:])

    return apply


def _union1d(ar1: Any, ar2: Any) -> Any:
    return np.unique(np.concatenate((ar1, ar2), axis=None))


def _setdiff1d(ar1: Any, ar2: Any, assume_unique: bool = False) -> Any:
    """Values from ar1 (first occurrence); ar2 only decides membership (used by value)."""
    kept = np.ravel(ar1) if assume_unique else np.unique(ar1)
    other = _plain(ar2) if assume_unique else np.unique(_plain(ar2))
    return kept[np.isin(_plain(kept), other, assume_unique=True, invert=True)]


def _setxor1d(ar1: Any, ar2: Any, assume_unique: bool = False) -> Any:
    """Each value kept lies in exactly one input: its tangent (first occurrence there)."""
    if not assume_unique:
        ar1, ar2 = np.unique(ar1), np.unique(ar2)
    aux = np.concatenate((ar1, ar2), axis=None)
    if aux.size == 0:
        return aux
    aux = aux[np.argsort(_plain(aux), kind="stable")]
    values = _plain(aux)
    flag = np.concatenate(([True], values[1:] != values[:-1], [True]))
    return aux[flag[1:] & flag[:-1]]


def _intersect1d(func: Any, args: Args, tag: int) -> Any:
    """The common values are taken from ar1: the tangent of their first occurrence in ar1."""
    if _top(args["ar2"], tag):
        raise TypeError("np.intersect1d takes the common values from ar1, so a Dual ar2 would lose its "
                        "tangent; pass ar2.value, or swap the arguments so that the Dual comes first")
    vals = values_at(args, tag)
    ans = call(func, vals)
    ar1 = args["ar1"]
    common = ans[0] if isinstance(ans, tuple) else ans
    flat = np.ravel(_plain(ar1.value))
    sorted_uniq, first = np.unique(flat, return_index=True)
    values = _plain(common)
    t = np.reshape(_dispatch.batched_tangent(ar1), (-1, flat.size))
    if sorted_uniq.size == 0:
        t_out = np.zeros((shape_of(t)[0], *shape_of(common)), result_dtype(common))
    else:
        pos = np.minimum(np.searchsorted(sorted_uniq, values), sorted_uniq.size - 1)
        found = sorted_uniq[pos] == values  # False only where assume_unique was not true of ar2
        t_out = np.where(found, np.take(t, first[pos], axis=1), 0.0)
    out = _dispatch.wrap(common, t_out, tag, ar1.batched)
    return (out, *ans[1:]) if isinstance(ans, tuple) else out


# ---------------------------------------------------------------- apply_along_axis / apply_over_axes


def _apply_along_axis(func: Any, args: Args, tag: int) -> Any:
    """NumPy's loop over 1-D slices, on Duals: the user function sees Dual slices."""
    func1d, axis, a = args["func1d"], args["axis"], args["arr"]
    if _is_number(axis):
        raise TypeError("np.apply_along_axis: axis cannot be a Dual; pass an int")
    extra = tuple(args.get("args", ()))
    kw = {key: value for key, value in args.items() if key not in ("func1d", "axis", "arr", "args")}
    ndim = len(shape_of(a))
    axis = normalize_axis_index(axis, ndim)
    inarr = np.moveaxis(a, axis, -1)
    outer = shape_of(inarr)[:-1]
    if any(s == 0 for s in outer):
        raise ValueError("Cannot apply_along_axis when any iteration dimensions are 0")
    results = [func1d(inarr[ind], *extra, **kw) for ind in np.ndindex(*outer)]
    results = [r if _is_number(r) else np.asanyarray(r) for r in results]
    dtype = dtype_of(results[0])
    res_shape = shape_of(results[0])
    stacked = np.reshape(np.stack([_as_dtype(r, dtype) for r in results]), outer + res_shape)
    dims = list(range(len(outer) + len(res_shape)))
    permute = dims[:axis] + dims[len(outer):] + dims[axis:len(outer)]
    return np.transpose(stacked, permute)


def _apply_over_axes(func: Any, args: Args, tag: int) -> Any:
    f, val, axes = args["func"], args["a"], args["axes"]
    n = len(shape_of(val))
    if np.ndim(axes) == 0:
        axes = (axes,)
    for axis in axes:
        axis = n + axis if axis < 0 else axis
        res = f(val, axis)
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
    np.median:        CustomFn(_quantile_apply(median=True), (sample(A), sample(A, axis=0), sample(V),
                                                              sample(A3, axis=(0, 2), keepdims=True))),
    np.nanmedian:     CustomFn(_quantile_apply(nan=True, median=True), (sample(ANAN), sample(ANAN, axis=1),
                                                                        sample(ANAN, axis=0, keepdims=True))),
    np.percentile:    CustomFn(_quantile_apply(percent=True), (
        sample(A, 30.0), sample(A, [10.0, 50.0, 95.0], axis=1), sample(A, 40.0, axis=0, method="hazen"),
        sample(V, np.array([30.0, 70.0]), duals=(0, 1)), sample(A, 35.0, axis=1, method="lower", keepdims=True),
        sample(V, 62.0, method="midpoint"), sample(V, 62.0, method="nearest"))),
    np.quantile:      CustomFn(_quantile_apply(), (
        sample(A, 0.3), sample(A3, [0.1, 0.6], axis=(1, 2)), sample(V, 0.37, duals=(0, 1)),
        sample(V, np.array([0.15, 0.8]), method="weibull", duals=(0, 1)),
        sample(A, 0.42, axis=1, method="median_unbiased", duals=(0, 1)),
        sample(V, 0.4, method="inverted_cdf", weights=W5), sample(V, 0.55, method="averaged_inverted_cdf"),
        sample(V, 0.61, method="closest_observation"), sample(V, 0.33, method="interpolated_inverted_cdf",
                                                             duals=(0, 1)))),
    np.nanpercentile: CustomFn(_quantile_apply(percent=True, nan=True), (
        sample(ANAN, 30.0), sample(ANAN, [20.0, 70.0], axis=0), sample(NANV, 44.0, duals=(0, 1)))),
    np.nanquantile:   CustomFn(_quantile_apply(nan=True), (
        sample(ANAN, 0.3, axis=1), sample(NANV, np.array([0.2, 0.9]), duals=(0, 1)),
        sample(ANAN, 0.7, axis=0, method="hazen", keepdims=True))),
    np.partition:     CustomFn(_partition, (sample(V, 2), sample(A, 1, axis=0), sample(A, [0, 3], axis=1),
                                            sample(A, 5, axis=None))),
    np.sort_complex:  CustomFn(_sort_complex, (sample(V, complex_ok=True), sample(A, complex_ok=True))),
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
    np.histogram:     CustomFn(_histogram, (sample(V, 4, (-2.0, 2.0), None, W5, duals=(4,), complex_ok=True),
                                            sample(V, 3, None, True, W5, duals=(4,)),
                                            sample(V, [-2.0, -0.5, 0.5, 2.0], duals=(0,)))),
    np.histogram2d:   CustomFn(_histogram, (sample(H2[:, 0], H2[:, 1], 3, BOX, None, W6, duals=(5,)),
                                            sample(H2[:, 0], H2[:, 1], [2, 3], BOX, True, W6, duals=(5,)))),
    np.histogramdd:   CustomFn(_histogram, (sample(H2, 3, BOX, None, W6, duals=(4,)),
                                            sample(H2, (2, 3), BOX, True, W6, duals=(4,)),
                                            sample(H2, 2, BOX, duals=(0,)))),
    # --- selection: tangents follow the selected entries
    np.select:        Composite(_select, (sample([A > 0, A < -1], [A, B], duals=((1, 0), (1, 1))),
                                          sample([A > 0.5], [A], C, duals=((1, 0), 2)),
                                          sample([V > 0, V < -1], [V, 2.0], 0.5, duals=((1, 0),))), args=("choicelist", "default")),
    np.choose:        CustomFn(_choose, (sample(IDX, [A, B, C], duals=((1, 0), (1, 2))),
                                         sample(IDX + 1, [A, B, C], mode="wrap", duals=((1, 1),)),
                                         sample(IDX * 2 - 1, [A, B, C], mode="clip", duals=((1, 0), (1, 2))),
                                         sample(np.array([1, 0, 1]), [arr(3, 1), B[:, :1] * 0 + 2.0],
                                                duals=((1, 0),)))),
    np.piecewise:     CustomFn(_piecewise, (sample(V, [V < 0, V >= 0], [_square, np.sin]),
                                            sample(A, [A < -1, A > 1], [0.5, _square, np.cos]),
                                            sample(V, V > 0.2, [_scaled_sin, _shifted_square], 3.0, shift=1.0))),
    np.compress:      Linear((sample(np.array([True, False, True]), A, axis=0, duals=(1,)),
                                                        sample([1, 0, 1, 1, 0], V, duals=(1,)),
                                                        sample(A[0] > 0, A, axis=-1, duals=(1,)),
                                                        sample([0, 1, 1, 0, 0, 1], A, duals=(1,))), arg="a", tangent=_compress_tangent),
    np.extract:       Linear((sample(A > 0, A, duals=(1,)),
                                                         sample(np.array([1, 0, 3]), V, duals=(1,))), arg="arr", tangent=_extract_tangent),
    np.trim_zeros:    Composite(_trim_zeros, (sample(V), sample(A, "f", axis=1)), args=("filt",)),
    np.nan_to_num:    CustomFn(_nan_to_num_apply, (sample(INF, complex_ok=True), sample(INF, nan=1.5, posinf=9.0, neginf=-9.0),
                                                   sample(INF, False, 2.0, 3.0, -3.0, duals=(0, 2, 3, 4)))),
    np.real_if_close: CustomFn(_real_if_close, (sample(A, complex_ok=True),)),
    np.fix:           CustomFn(_zero_tangent("x"), (sample(A * 3.0 + 0.05),)),
    # --- unique and set operations: the tangent of the first occurrence
    np.unique:        CustomFn(_unique_apply("ar", None), (
        sample(V), sample(V, True, True, True), sample(A, axis=0, return_index=True),
        sample(A, return_inverse=True, sorted=False), sample(A, axis=1, return_counts=True))),
    np.unique_all:    CustomFn(_unique_apply("x", False), (sample(V),)),
    np.unique_counts: CustomFn(_unique_apply("x", False), (sample(A),)),
    np.unique_inverse: CustomFn(_unique_apply("x", False), (sample(A),)),
    np.unique_values: CustomFn(_unique_apply("x", False), (sample(V),)),
    np.union1d:       Composite(_union1d, (sample(V, arr(3, seed=10), duals=(0, 1)), sample(A, V, duals=(1,))), args=("ar1", "ar2")),
    np.intersect1d:   CustomFn(_intersect1d, (sample(V, arr(3, seed=10)),
                                              sample(V, arr(3, seed=10), return_indices=True))),
    np.setdiff1d:     Composite(_setdiff1d, (sample(V, np.array([5.0, 7.0])), sample(A, V, True, duals=(0, 1))), args=("ar1", "ar2")),
    np.setxor1d:      Composite(_setxor1d, (sample(V, arr(3, seed=10), duals=(0, 1)),
                                            sample(A, V, True, duals=(1,))), args=("ar1", "ar2")),
    # --- apply a user function to Dual slices
    np.apply_along_axis: CustomFn(_apply_along_axis, (sample(_square, 1, A, duals=(2,)),
                                                      sample(np.sum, -1, A3, duals=(2,)),
                                                      sample(_pairs, 0, A3, duals=(2,)),
                                                      sample(_scaled_sin, 0, A, 2.0, shift=0.5, duals=(2,)))),
    np.apply_over_axes:  CustomFn(_apply_over_axes, (sample(np.sum, A3, [0, 2], duals=(1,)),
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

"""The VJP rules of statistics and selection: ptp, average, the nan-functions, the
cumulative_* functions, order statistics with every method (median, quantile,
percentile, their nan-versions, partition, sort_complex), selection (compress,
extract, choose, select, trim_zeros, nan_to_num, real_if_close), histograms and
bincount, unique and the set operations, piecewise and apply_along_axis/apply_over_axes.

The forward counterpart is ``dualnumpy.rules.statistics``.

* Order statistics: NumPy's quantile methods (Hyndman & Fan 1996, as the ``np.quantile``
  documentation defines them) are all ``(1 - g) s[j] + g s[j + 1]`` for order statistics
  ``s`` of the slice and a weight ``g``: the continuous methods have the virtual index
  ``h = n q + alpha + q (1 - alpha - beta) - 1`` (``(n - 1) q`` for linear), ``j = floor(h)``,
  ``g = h - j``, clamped to the ends; the discrete ones pick one order statistic (or the mean
  of two) by a rule that is piecewise constant in ``q``. So ``d/da`` is a selection, and
  ``d/dq = (s[j + 1] - s[j]) dh/dq`` for the continuous methods (the right derivative at a
  data point), 0 for the discrete ones. Where entries tie for ``s[j]`` they share its
  cotangent evenly (the README's convention for order statistics). The nan-versions do the
  same on the non-NaN entries of each slice; a slice whose answer is NaN passes a NaN
  cotangent to all its entries (a zero cotangent stays zero).
* unique and the set operations: each value is a copy of its first occurrence (in ``ar1``,
  then ``ar2``); the adjoint adds its cotangent there. Counts and indices are plain.
* Histograms: counts are piecewise constant in the data; weighted counts are linear in the
  weights, ``n_k = sum_{i in bin k} w_i``, adjoint ``w_i <- g_{bin(i)}``. The bin edges are
  ``linspace(lo, hi, nbins + 1)``, where ``(lo, hi)`` is ``range`` or ``(min, max)`` of the data,
  or the given edges: composed on Vars, so their derivative is the true one; ``density``
  composes ``n / widths / sum(n)`` on top. bincount is linear in its weights.
* piecewise, apply_along_axis and apply_over_axes run NumPy's documented algorithm with the
  user's functions applied to Var slices, so the cotangents flow through them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..node import VJP, Var, value_of
from .common import (
    _MASK,
    _NOVALUE,
    A3,
    A,
    Case,
    FunctionApply,
    FunctionRule,
    _axes,
    _bind,
    _call_values,
    _case,
    _cases,
    _composite,
    _constant,
    _gather,
    _given,
    _missing,
    _nondiff,
    getitem,
    node,
    scatter,
    times,
    with_value,
)

_np: Any = np


# ---------------------------------------------------------------- compositions


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


# ---------------------------------------------------------------- median, partition, sort_complex, selection


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


def _trim_zeros(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A slice of the input, chosen by its values (piecewise constant): the getitem of it."""
    b = _bind(func, name, args, kwargs)
    filt, trim, axis = b["filt"], str(b["trim"]).lower(), b.get("axis")
    if not isinstance(filt, Var):
        raise _missing(f"{name} with a Var outside filt")
    value = _call_values(func, args, kwargs)
    nd = filt.ndim
    axes = range(nd) if axis is None else [int(a) % nd for a in np.atleast_1d(axis)]
    nonzero = np.argwhere(filt.value)
    if nonzero.size == 0:
        return Var(value)
    start, stop = nonzero.min(axis=0), nonzero.max(axis=0) + 1
    index = tuple(slice(start[i] if "f" in trim else None, stop[i] if "b" in trim else None)
                  if i in axes else slice(None) for i in range(nd))
    return with_value(value, getitem(filt, index))


# ---------------------------------------------------------------- order statistics


#: (alpha, beta) of the continuous Hyndman & Fan methods; None for linear, h = (n - 1) q.
_CONTINUOUS: dict[str, tuple[float, float] | None] = {
    "linear": None, "weibull": (0.0, 0.0), "hazen": (0.5, 0.5), "median_unbiased": (1 / 3.0, 1 / 3.0),
    "normal_unbiased": (3 / 8.0, 3 / 8.0), "interpolated_inverted_cdf": (0.0, 1.0),
}
_DISCRETE = frozenset({"inverted_cdf", "averaged_inverted_cdf", "closest_observation", "lower", "higher",
                       "midpoint", "nearest"})


def _bracket(h: Any, n: Any) -> tuple[Any, Any, Any]:
    """The order statistics around the virtual index h: (j, j + 1, h - j), clamped to the ends."""
    j = np.floor(h)
    above = h >= n - 1
    below = h < 0
    prev = np.where(above, n - 1, np.where(below, 0, j))
    nxt = np.where(above, n - 1, np.where(below, 0, j + 1))
    gamma = np.where(above | below, 0.0, h - j)
    return prev, nxt, gamma


def _discrete_index(index: Any, take_previous: Callable[[Any, Any], Any]) -> Any:
    """floor(index) where ``take_previous(g, index)`` holds (g the fractional part), else the
    next order statistic; never below 0."""
    prev = np.floor(index)
    chosen = np.where(take_previous(index - prev, index), prev, prev + 1)
    return np.maximum(chosen, 0)


def _order_positions(method: str, n: Any, q: Any) -> tuple[Any, Any, Any, Any]:
    """(j, k, g, dh/dq): the answer is (1 - g) s[j] + g s[k], with n (M, 1) counts, q (1, Q)."""
    shape = np.broadcast_shapes(np.shape(n), np.shape(q))
    zero = np.zeros(shape)
    with np.errstate(invalid="ignore"):
        if method in _CONTINUOUS:
            ab = _CONTINUOUS[method]
            if ab is None:
                h, slope = (n - 1) * q, n - 1 + zero
            else:
                alpha, beta = ab
                h = n * q + (alpha + q * (1 - alpha - beta)) - 1
                slope = n + 1 - alpha - beta + zero
            prev, nxt, gamma = _bracket(h, n)
            return prev, nxt, gamma, slope
        if method == "averaged_inverted_cdf":  # the mean of two order statistics where n q is whole
            h = n * q - 1
            prev, nxt, frac = _bracket(h, n)
            return prev, nxt, np.where(frac == 0, 0.5, 1.0), zero
        if method == "midpoint":
            h = 0.5 * (np.floor((n - 1) * q) + np.ceil((n - 1) * q))
            prev, nxt, _ = _bracket(h, n)
            return prev, nxt, np.where(h % 1 == 0, 0.0, 0.5), zero
        if method == "inverted_cdf":
            idx = _discrete_index(n * q - 1, lambda g, _: g == 0)
        elif method == "closest_observation":  # the nearest even order statistic (1-based) at g = 0
            idx = _discrete_index(n * q - 1 - 0.5, lambda g, index: (g == 0) & (np.floor(index) % 2 == 1))
        elif method == "lower":
            idx = np.floor((n - 1) * q)
        elif method == "higher":
            idx = np.ceil((n - 1) * q)
        elif method == "nearest":
            idx = np.around((n - 1) * q)
        else:
            raise ValueError(f"{method!r} is not a valid quantile method")
    idx = idx + zero
    return idx, idx, zero, zero


def _weighted_positions(s: Any, w: Any, n: Any, q: Any) -> Any:
    """inverted_cdf with weights: the first sorted entry whose cumulative weight reaches q."""
    out = np.zeros((s.shape[0], q.size))
    for m in range(s.shape[0]):
        count = int(n[m, 0])
        if count == 0:
            continue
        cdf = np.cumsum(w[m, :count], dtype=np.float64)
        cdf = cdf / cdf[-1]
        if cdf[0] == 0:
            cdf[cdf == 0] = -1
        out[m] = np.minimum(np.searchsorted(cdf, q.ravel(), side="left"), count - 1)
    return out


def _rows(t: Any, axis: Any) -> Any:
    """The reduced axes moved last and merged: shape (M, N), M the kept entries in order."""
    t = np.asarray(t)
    if axis is None:
        return np.reshape(t, (1, -1))
    axes = _axes(axis, t.ndim)
    kept = [i for i in range(t.ndim) if i not in axes]
    n = int(np.prod([t.shape[i] for i in axes]))
    return np.reshape(np.transpose(t, kept + list(axes)), (-1, n))


def _tie_mean(c: Any, s: Any) -> Any:
    """Share the cotangents ``c`` of sorted rows ``s`` evenly within each run of equal values."""
    m, n = s.shape
    starts = np.ones((m, n), dtype=bool)
    starts[:, 1:] = s[:, 1:] != s[:, :-1]
    gid = np.cumsum(starts.ravel()) - 1
    sums = np.bincount(gid, c.ravel())
    counts = np.bincount(gid)
    return np.reshape((sums / counts)[gid], (m, n))


def order_statistic(value: Any, a: Any, q: Any, axis: Any, method: str, weights: Any, scale: float,
                    nan: bool, name: str) -> Any:
    """The node of quantile/percentile/median (and their nan-versions) at NumPy's ``value``."""
    av = np.asarray(value_of(a))
    if np.iscomplexobj(av):
        raise _missing(f"{name} of complex input")
    if method not in _CONTINUOUS and method not in _DISCRETE:
        raise _missing(f"{name}(method={method!r})")
    x = _rows(av, axis).astype(np.float64)
    pos = _rows(np.arange(av.size).reshape(av.shape), axis)
    rows, size = x.shape
    qv = np.asarray(value_of(q), dtype=np.float64) / scale
    qf = np.reshape(qv, (1, -1))
    isnan = np.isnan(x)
    valid_count = np.sum(~isnan, axis=-1) if nan else np.full(rows, size)
    nan_slice = valid_count == 0 if nan else np.any(isnan, axis=-1)
    perm = np.argsort(x, axis=-1, kind="stable")  # NaN sort last
    s = np.take_along_axis(x, perm, axis=-1)
    n = valid_count[:, None].astype(np.float64)
    if weights is not None:
        if method != "inverted_cdf":
            raise _missing(f"{name}(weights=...) with method={method!r}")
        wv = np.asarray(value_of(weights), dtype=np.float64)
        w = _rows(wv, axis) if wv.shape == av.shape else np.broadcast_to(wv, x.shape)
        w = np.take_along_axis(np.asarray(w, dtype=np.float64), perm, axis=-1)
        prev = _weighted_positions(s, w, n, qf)
        nxt, gamma, slope = prev, np.zeros(prev.shape), np.zeros(prev.shape)
    else:
        prev, nxt, gamma, slope = _order_positions(method, n, qf)
    top = max(size - 1, 0)
    prev = np.clip(np.nan_to_num(prev), 0, top).astype(np.intp)
    nxt = np.clip(np.nan_to_num(nxt), 0, top).astype(np.intp)
    lower, upper = np.take_along_axis(s, prev, -1), np.take_along_axis(s, nxt, -1)
    qn = qf.size

    def per_row(g: Any) -> Any:  # the cotangent as (M, Q)
        return np.reshape(np.asarray(g), (qn, rows)).T

    def vjp_a(g: Any) -> Any:
        gm = per_row(g)
        base = np.arange(rows)[:, None] * size
        c = (np.bincount((base + prev).ravel(), (gm * (1 - gamma)).ravel(), rows * size)
             + np.bincount((base + nxt).ravel(), (gm * gamma).ravel(), rows * size))
        c_sorted = _tie_mean(np.reshape(c, (rows, size)), s)
        cx = np.zeros((rows, size))
        np.put_along_axis(cx, perm, c_sorted, axis=-1)
        cx[nan_slice & np.any(gm != 0, axis=-1)] = np.nan  # the answer is NaN: so is the tangent
        out = np.zeros(av.size)
        out[pos.ravel()] = cx.ravel()
        return np.reshape(out, av.shape)

    def vjp_q(g: Any) -> Any:
        with np.errstate(invalid="ignore"):
            d = slope * (upper - lower) / scale
        d = np.where(nan_slice[:, None], np.nan, d)
        return np.reshape(np.sum(times(per_row(g), d), axis=0), np.shape(qv))

    edges: list[tuple[Var, VJP]] = []
    if isinstance(a, Var):
        edges.append((a, vjp_a))
    if isinstance(q, Var):
        edges.append((q, vjp_q))
    return node(value, edges)


def _quantile_apply(scale: float, nan: bool, median: bool = False) -> FunctionApply:
    def apply(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        b = _bind(func, name, args, kwargs)
        value = _call_values(func, args, kwargs)
        q = 0.5 if median else b["q"]
        method = "linear" if median else b["method"]
        weights = None if median else b.get("weights")
        return order_statistic(value, b["a"], q, b["axis"], method, weights, scale, nan, name)

    return apply


# ---------------------------------------------------------------- unique and the set operations


def _first_occurrence(flat: Any, targets: Any, equal_nan: bool, name: str) -> Any:
    """For each target value, the index of its first occurrence in ``flat``."""
    flat, targets = np.ravel(flat), np.ravel(targets)
    out = np.zeros(targets.size, dtype=np.intp)
    inexact = flat.dtype.kind in "fc" and targets.dtype.kind in "fc"
    t_nan = np.isnan(targets) if inexact else np.zeros(targets.size, dtype=bool)
    f_nan = np.isnan(flat) if inexact else np.zeros(flat.size, dtype=bool)
    keep = np.flatnonzero(~f_nan)
    order = keep[np.argsort(flat[keep], kind="stable")]  # equal values keep their input order
    srt = flat[order]
    wanted = targets[~t_nan]
    loc = np.minimum(np.searchsorted(srt, wanted, side="left"), max(srt.size - 1, 0))
    if wanted.size and (srt.size == 0 or not np.all(srt[loc] == wanted)):
        raise _missing(f"{name}: a result value was not found among the inputs")
    if wanted.size:
        out[~t_nan] = order[loc]
    nan_at = np.flatnonzero(f_nan)
    k = int(np.sum(t_nan))
    if k:
        if nan_at.size == 0 or (not equal_nan and nan_at.size < k):
            raise _missing(f"{name}: a NaN in the result was not found among the inputs")
        out[t_nan] = nan_at[0] if equal_nan else nan_at[:k]
    return out


def _rebuild(value: Any, items: list[Any]) -> Any:
    if hasattr(value, "_fields"):
        return type(value)(*items)
    return type(value)(items)


def _copies(values: Any, first: Any, sources: Sequence[Any]) -> Var:
    """A node whose entries copy the entries ``first`` (flat positions in the concatenated,
    raveled ``sources``); the adjoint adds each cotangent back there."""
    pos = np.reshape(first, np.shape(values))
    edges: list[tuple[Var, VJP]] = []
    offset = 0
    for src in sources:
        size = int(np.size(value_of(src)))
        if isinstance(src, Var) and np.any((pos >= offset) & (pos < offset + size)):
            edges.append((src, functools.partial(scatter, pos=pos, offset=offset, size=size, shape=src.shape)))
        offset += size
    return node(values, edges)


def _unique(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """unique and unique_*: each value (or subarray along ``axis``) copies its first occurrence."""
    value = _call_values(func, args, kwargs)
    if func is np.unique:
        b = _bind(func, name, args, kwargs)
        x, axis, equal_nan = b["ar"], b["axis"], bool(b["equal_nan"])
    else:  # the Array API forms take x only, and do not merge NaNs
        (x,), axis, equal_nan = args, None, False
    several = isinstance(value, tuple)
    values = value[0] if several else value
    if not isinstance(x, Var):
        return value
    if axis is None:
        result = _copies(values, _first_occurrence(x.value, values, equal_nan, name), [x])
    else:
        axis = int(axis) % x.ndim
        rows = np.reshape(np.moveaxis(x.value, axis, 0), (x.shape[axis], -1))
        wanted = np.reshape(np.moveaxis(values, axis, 0), (np.shape(values)[axis], -1))
        same = wanted[:, None, :] == rows[None, :, :]
        if equal_nan and rows.dtype.kind in "fc":
            same |= np.isnan(wanted)[:, None, :] & np.isnan(rows)[None, :, :]
        match = np.all(same, axis=-1)
        if not np.all(np.any(match, axis=1)):
            raise _missing(f"{name}: a result subarray was not found among the inputs")
        first = np.take(np.arange(x.size).reshape(x.shape), np.argmax(match, axis=1), axis=axis)
        result = _copies(values, first, [x])
    return _rebuild(value, [result, *value[1:]]) if several else result


def _set_operation(sources: tuple[str, ...], equal_nan: bool = True) -> FunctionApply:
    """union1d, setdiff1d, setxor1d, intersect1d: each result value copies its first occurrence
    among the ``sources`` (raveled, in order); index outputs are plain."""

    def apply(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        b = _bind(func, name, args, kwargs)
        value = _call_values(func, args, kwargs)
        several = isinstance(value, tuple)
        values = value[0] if several else value
        srcs = [b[s] for s in sources]
        flat = np.concatenate([np.ravel(value_of(s)) for s in srcs])
        result = _copies(values, _first_occurrence(flat, values, equal_nan, name), srcs)
        return _rebuild(value, [result, *value[1:]]) if several else result

    return apply


# ---------------------------------------------------------------- histograms and bincount


def _bincount(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """out[k] = sum_{i: x_i = k} w_i: linear in w, adjoint w_i <- g[x_i]."""
    b = _bind(func, name, args, kwargs)
    x, w = b["x"], b["weights"]
    if isinstance(x, Var):
        raise TypeError(f"{name}: the bins x are integers and cannot be a Var")
    value = _call_values(func, args, kwargs)
    if not isinstance(w, Var):
        return value
    idx = np.asarray(x)
    return node(value, [(w, lambda g: np.reshape(np.asarray(g)[idx], w.shape))])


def _composed_edges(coord: Any, spec: Any, rng: Any, n_edges: int) -> Any:
    """The bin edges as NumPy defines them: the given edges, or linspace over ``range`` or over
    (min, max) of the data (widened by 0.5 each way when they are equal)."""
    if np.ndim(value_of(spec)) == 1:
        return spec
    if rng is not None:
        lo, hi = rng[0], rng[1]
    elif np.size(value_of(coord)) == 0:
        lo, hi = 0.0, 1.0
    else:
        lo, hi = np.min(coord), np.max(coord)
    if np.asarray(value_of(lo)) == np.asarray(value_of(hi)):
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, n_edges)


def _bin_index(coord: Any, edges: Any) -> tuple[Any, Any]:
    """Bin k holds edges[k] <= x < edges[k + 1] (the last bin is closed); also the in-range mask."""
    c = np.ravel(np.asarray(coord))
    e = np.asarray(edges)
    inside = (c >= e[0]) & (c <= e[-1])
    k = np.searchsorted(e, c, side="right") - 1
    k = np.where(c == e[-1], e.size - 2, k)
    return np.clip(k, 0, max(e.size - 2, 0)), inside


def _histogram_common(value_edges: list[Any], coords: list[Any], specs: list[Any],
                      ranges: list[Any], density: Any, weights: Any) -> tuple[Any, list[Any]]:
    """The hist node and the composed edges, for D coordinates."""
    edges = [_composed_edges(c, s, r, np.size(e)) for c, s, r, e in zip(coords, specs, ranges, value_edges,
                                                                      strict=True)]
    nbins = [np.size(e) - 1 for e in value_edges]
    inside = np.ones(np.size(value_of(coords[0])), dtype=bool)
    flat_bin = np.zeros(inside.shape, dtype=np.intp)
    for c, e, nb in zip(coords, value_edges, nbins, strict=True):
        k, ok = _bin_index(value_of(c), e)
        inside &= ok
        flat_bin = flat_bin * nb + k
    total = int(np.prod(nbins))
    wv = None if weights is None else np.ravel(np.asarray(value_of(weights)))
    if wv is None:
        counts: Any = np.bincount(flat_bin[inside], minlength=total).astype(np.float64)
    elif np.iscomplexobj(wv):
        counts = (np.bincount(flat_bin[inside], wv.real[inside], total)
                  + 1j * np.bincount(flat_bin[inside], wv.imag[inside], total))
    else:
        counts = np.bincount(flat_bin[inside], wv[inside].astype(np.float64), total)
    counts = np.reshape(counts, nbins)
    if isinstance(weights, Var):
        w = weights

        def vjp_w(g: Any) -> Any:
            return np.reshape(np.where(inside, np.ravel(np.asarray(g))[flat_bin], 0), w.shape)

        counts = node(counts, [(w, vjp_w)])
    if not density:
        return counts, edges
    hist = counts
    for i, e in enumerate(edges):
        shape = [1] * len(edges)
        shape[i] = nbins[i]
        hist = hist / np.reshape(np.diff(e), shape)
    return hist / np.sum(counts), edges


def _scalar(spec: Any) -> bool:
    return not isinstance(spec, (list, tuple, np.ndarray, Var))


def _length(spec: Any) -> int:
    return len(spec) if isinstance(spec, (list, tuple)) else int(np.shape(value_of(spec))[0])


def _histogram(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    b = _bind(func, name, args, kwargs)
    value = _call_values(func, args, kwargs)
    density, weights, rng = b["density"], b["weights"], b["range"]
    if func is np.histogram:
        coords, specs, ranges = [np.ravel(b["a"])], [b["bins"]], [rng]
        hist_v, value_edges = value[0], [value[1]]
    else:
        if func is np.histogram2d:
            coords = [b["x"], b["y"]]
            bins = b["bins"]  # one spec for both, a pair of specs, or one array of edges for both
            specs = [bins[0], bins[1]] if not _scalar(bins) and _length(bins) == 2 else [bins, bins]
            hist_v, value_edges = value[0], [value[1], value[2]]
        else:
            sample = b["sample"]
            if isinstance(sample, (list, tuple)):
                coords = list(sample)
            else:
                coords = [sample[:, i] for i in range(np.shape(value_of(sample))[1])]
            bins = b["bins"]
            d = len(coords)
            specs = [bins] * d if _scalar(bins) else [bins[i] for i in range(d)]
            hist_v, value_edges = value[0], list(value[1])
        d = len(coords)
        ranges = [None] * d if rng is None else [None if r is None else r for r in rng]
    specs = [None if _scalar(s) else s for s in specs]
    hist, edges = _histogram_common(value_edges, coords, specs, ranges, density, weights)
    hist_node = with_value(hist_v, hist) if isinstance(hist, Var) else hist_v
    edge_nodes = [with_value(v, e) if isinstance(e, Var) else v for v, e in zip(value_edges, edges, strict=True)]
    if func is np.histogram:
        return hist_node, edge_nodes[0]
    if func is np.histogram2d:
        return hist_node, edge_nodes[0], edge_nodes[1]
    return hist_node, edge_nodes


# ---------------------------------------------------------------- piecewise and apply_*


def _piecewise(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """NumPy's algorithm: y = zeros; for each condition in order, y[cond] = f(x[cond]) (a later
    condition overwrites); one more function than conditions takes the rest."""
    b = _bind(func, name, args, kwargs)
    x, condlist, funclist = b["x"], b["condlist"], b["funclist"]
    extra, kw = b.get("args", ()), b.get("kw", {})
    value = _call_values(func, args, kwargs)
    xv = np.asarray(value_of(x))
    n_funcs = len(funclist)
    if np.isscalar(condlist) or (not isinstance(condlist[0], (list, np.ndarray)) and xv.ndim != 0):
        condlist = [condlist]
    conds = np.asarray(condlist, dtype=bool)
    if len(conds) == n_funcs - 1:
        conds = np.concatenate([conds, ~np.any(conds, axis=0, keepdims=True)], axis=0)
    y: Any = Var(np.zeros_like(xv))
    for cond, f in zip(conds, funclist, strict=True):
        if not callable(f):
            y = y.at[cond].set(f)
            continue
        vals = x[cond]
        if np.size(value_of(vals)) > 0:
            y = y.at[cond].set(f(vals, *extra, **kw))
    return with_value(value, y)


def _apply_along_axis(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """func1d on every 1-D slice along ``axis``; the result's dimensions replace that axis."""
    b = _bind(func, name, args, kwargs)
    f, arr, extra, kw = b["func1d"], b["arr"], b.get("args", ()), b.get("kwargs", {})
    value = _call_values(func, args, kwargs)
    nd = np.ndim(value_of(arr))
    axis = int(b["axis"]) % nd
    moved = np.moveaxis(arr, axis, -1)
    outer = np.shape(value_of(moved))[:-1]
    results = [f(moved[idx], *extra, **kw) for idx in np.ndindex(*outer)]
    if not any(isinstance(r, Var) for r in results):
        return value
    res_nd = np.ndim(value_of(results[0]))
    stacked = np.reshape(np.stack(results), outer + np.shape(value_of(results[0])))
    k = len(outer)
    out = np.moveaxis(stacked, list(range(k, k + res_nd)), list(range(axis, axis + res_nd)))
    return with_value(value, out)


def _apply_over_axes(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """val = func(val, axis) for each axis in turn, re-expanding a reduced axis."""
    b = _bind(func, name, args, kwargs)
    f, val, axes = b["func"], b["a"], b["axes"]
    value = _call_values(func, args, kwargs)
    n = np.ndim(value_of(val))
    for axis in (axes,) if np.ndim(axes) == 0 else axes:
        axis = int(axis) + n if int(axis) < 0 else int(axis)
        res = f(val, axis)
        if np.ndim(value_of(res)) != np.ndim(value_of(val)):
            res = np.expand_dims(res, axis)
        val = res
    return with_value(value, val)


# ---------------------------------------------------------------- the table


V = (5,)  # (4,) in the other tables
_M5 = np.array([True, False, False, True, False])
_NANS = np.array([[True, False, True, True], [True, True, True, False], [False, True, True, True]])
_NANV = np.array([True, False, True, True, False, True, True])
_DATA = np.array([-1.7, 0.3, 1.2, -0.4, 0.9, 1.8])
_BOX = ((-2.0, 2.0), (-2.0, 2.0))
_MIXED_BINS: list[Any] = [np.array([-3.0, 0.1, 3.0]), 2]
_W5 = np.array([0.7, 1.3, 0.9, 1.8, 0.6])


def _nanned(a: Any, mask: Any) -> Any:
    return np.where(mask, a, np.nan)


def _square(v: Any) -> Any:
    return v * v


def _scaled_sin(v: Any, c: float, *, shift: float = 0.0) -> Any:
    return c * np.sin(v) + shift


def _shifted_square(v: Any, c: float, *, shift: float = 0.0) -> Any:
    return c * v * v - shift


_SQUARE_SIN: list[Any] = [_square, np.sin]
_SIN_SQUARE: list[Any] = [_scaled_sin, _shifted_square]


def _cos(v: Any) -> Any:
    return np.cos(v)


def _pairs(v: Any) -> Any:
    return v[:2] * v[1:3]


def _dd(out: Any) -> Any:
    """histogramdd's (hist, [edges...]) as one flat tuple."""
    return (out[0], *out[1])


def _twice(a: Any) -> Any:
    """The entries of a followed by its first two again: repeated values for unique."""
    flat = np.ravel(a)
    return np.concatenate([flat, flat[:2]])


_GATHER_FUNCTIONS: dict[Any, tuple[Case, ...]] = {
    np.compress: _cases(_case(lambda a: np.compress([True, False, True], a, axis=1), A)),
    np.extract: _cases(_case(lambda a: np.extract(_MASK, a), A)),
    np.choose: _cases(_case(lambda a, b: np.choose(np.array([[0, 1, 1], [1, 0, 0]]), [a, b]), A, (3,))),
    np.select: _cases(_case(lambda a, b: np.select([_MASK, ~_MASK], [a, b]), A, A),
                      _case(lambda a: np.select([_MASK[0]], [a], default=2.0), A)),
}


#: Statistics and selection (the forward table: rules/statistics.py).
STATISTICS_VJPS: dict[Any, FunctionRule] = {
    **{f: FunctionRule(_gather, cases) for f, cases in _GATHER_FUNCTIONS.items()},
    # --- reductions, cumulative and nan-functions (compositions: the value is NumPy's own)
    np.ptp: FunctionRule(_composite(lambda b: np.max(b["a"], axis=b["axis"], keepdims=b["keepdims"] is True)
                                    - np.min(b["a"], axis=b["axis"], keepdims=b["keepdims"] is True)),
                         _cases(_case(lambda a: np.ptp(a), A), _case(lambda a: np.ptp(a, axis=1), A3))),
    np.average: FunctionRule(_composite(_average), _cases(
        _case(lambda a: np.average(a, axis=1), A),
        _case(lambda a, w: np.average(a, axis=1, weights=w, returned=True), A, (3,), low=0.5),
        _case(lambda a, w: np.average(a, weights=w, keepdims=True), A, A, low=0.5))),
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
    np.nanprod: FunctionRule(_composite(lambda b: np.prod(_nan_replaced(b["a"], 1.0), axis=b["axis"],
                                                          **_kw(b, "keepdims", "initial", "where")),
                                        where_ok=True),
                             _cases(_case(lambda a: np.nanprod(np.where(_MASK, a, np.nan), axis=0), A))),
    np.nanvar: FunctionRule(_composite(_nanvar(False)), _cases(
        _case(lambda a: np.nanvar(np.where(_MASK, a, np.nan), axis=1, ddof=1), A),
        _case(lambda a: np.nanvar(np.where(_MASK, a, np.nan)), A, complex_ok=True))),
    np.nanstd: FunctionRule(_composite(_nanvar(True)), _cases(
        _case(lambda a: np.nanstd(np.where(_MASK, a, np.nan), axis=1, keepdims=True), A))),
    np.cumulative_sum: FunctionRule(_composite(_cumulative_api("sum")), _cases(
        _case(lambda a: np.cumulative_sum(a, axis=1, include_initial=True), A, complex_ok=True),
        _case(lambda a: np.cumulative_sum(a), (4,)))),
    np.cumulative_prod: FunctionRule(_composite(_cumulative_api("prod")), _cases(
        _case(lambda a: np.cumulative_prod(a, axis=0, include_initial=True), A, complex_ok=True))),
    np.nancumsum: FunctionRule(_composite(lambda b: np.cumsum(_nan_replaced(b["a"], 0.0), axis=b["axis"])),
                               _cases(_case(lambda a: np.nancumsum(np.where(_MASK, a, np.nan), axis=1), A))),
    np.nancumprod: FunctionRule(_composite(lambda b: np.cumprod(_nan_replaced(b["a"], 1.0), axis=b["axis"])),
                                _cases(_case(lambda a: np.nancumprod(np.where(_MASK, a, np.nan)), A))),
    # --- order statistics (quantile and percentile: every method, and weights)
    np.median: FunctionRule(_composite(_median), _cases(
        _case(lambda a: np.median(a), A3), _case(lambda a: np.median(a, axis=1, keepdims=True), A3),
        _case(lambda a: np.median(a, axis=0), (3, 2)),
        _case(lambda a: np.median(a, axis=(0, 2), keepdims=True), A3))),
    np.quantile: FunctionRule(_quantile_apply(1.0, False), (
        _case(lambda a: np.quantile(a, 0.3), A3),
        _case(lambda a, q: np.quantile(a, q, axis=1, keepdims=True), A3, (2,), low=0.05, high=0.95),
        _case(lambda a: np.quantile(a, [0.0, 1.0, 0.5], axis=0), A),
        _case(lambda a: np.quantile(a, [0.1, 0.6], axis=(1, 2)), A3),
        _case(lambda a, q: np.quantile(a, q, method="weibull"), V, (2,), low=0.1, high=0.9),
        _case(lambda a, q: np.quantile(a, q, axis=1, method="median_unbiased"), (3, 4), (), low=0.1, high=0.9),
        _case(lambda a: np.quantile(a, 0.4, method="inverted_cdf", weights=_W5), V),
        _case(lambda a: np.quantile(a, [0.4, 0.55], method="averaged_inverted_cdf"), V),
        _case(lambda a: np.quantile(a, [0.61, 0.9], method="closest_observation"), V),
        _case(lambda a, q: np.quantile(a, q, method="interpolated_inverted_cdf"), V, (), low=0.3, high=0.9),
        _case(lambda a, q: np.quantile(a, q, axis=0, method="normal_unbiased"), (4, 3), (2,), low=0.1, high=0.9),
        _case(lambda a: np.quantile(a, [0.3, 0.9], axis=1, method="higher"), (3, 4)))),
    np.percentile: FunctionRule(_quantile_apply(100.0, False), (
        _case(lambda a: np.percentile(a, 40.0, axis=-1), A3),
        _case(lambda a: np.percentile(a, [10.0, 90.0], keepdims=True), A),
        _case(lambda a: np.percentile(a, 40.0, axis=0, method="hazen"), (3, 4)),
        _case(lambda a, q: np.percentile(a, q), V, (2,), low=5.0, high=95.0, rtol=1e-5),
        _case(lambda a: np.percentile(a, 35.0, axis=1, method="lower", keepdims=True), (3, 4)),
        _case(lambda a: np.percentile(a, [62.0, 50.0], method="midpoint"), V),
        _case(lambda a: np.percentile(a, 62.0, method="nearest"), V))),
    np.partition: FunctionRule(_partition, _cases(_case(lambda a: np.partition(a, 2), (2, 5)),
                                                  _case(lambda a: np.partition(a, (0, 3), axis=None), A))),
    np.sort_complex: FunctionRule(_sort_complex, _cases(_case(lambda a: np.sort_complex(a), (4,)))),
    # --- order statistics of the non-NaN entries
    np.nanmedian: FunctionRule(_quantile_apply(1.0, True, median=True), (
        _case(lambda a: np.nanmedian(_nanned(a, _NANS)), (3, 4)),
        _case(lambda a: np.nanmedian(_nanned(a, _NANS), axis=1), (3, 4)),
        _case(lambda a: np.nanmedian(_nanned(a, _NANS), axis=0, keepdims=True), (3, 4)),
        _case(lambda a: np.nanmedian(a, axis=(0, 2)), A3))),
    np.nanquantile: FunctionRule(_quantile_apply(1.0, True), (
        _case(lambda a: np.nanquantile(_nanned(a, _NANS), 0.3, axis=1), (3, 4)),
        _case(lambda a, q: np.nanquantile(_nanned(a, _NANV), q), (7,), (2,), low=0.05, high=0.95),
        _case(lambda a: np.nanquantile(_nanned(a, _NANS), 0.7, axis=0, method="hazen", keepdims=True), (3, 4)),
        _case(lambda a: np.nanquantile(_nanned(a, _NANS), [0.2, 0.65], axis=1, method="weibull"), (3, 4)),
        _case(lambda a: np.nanquantile(_nanned(a, _NANS), 0.4, axis=1, method="nearest"), (3, 4)))),
    np.nanpercentile: FunctionRule(_quantile_apply(100.0, True), (
        _case(lambda a: np.nanpercentile(_nanned(a, _NANS), 30.0), (3, 4)),
        _case(lambda a: np.nanpercentile(_nanned(a, _NANS), [20.0, 70.0], axis=0), (3, 4)),
        _case(lambda a, q: np.nanpercentile(_nanned(a, _NANV), q), (7,), (), low=5.0, high=95.0, rtol=1e-5),
        _case(lambda a: np.nanpercentile(_nanned(a, _NANS), 35.0, axis=1, method="midpoint"), (3, 4)))),
    # --- rounding and selection by value
    np.fix: FunctionRule(_constant, _cases(_case(lambda a: np.fix(a), A, low=0.1, high=0.9))),
    np.trim_zeros: FunctionRule(_trim_zeros, _cases(
        _case(lambda a: np.trim_zeros(a * np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0])), (6,)),
        _case(lambda a: np.trim_zeros(a * np.array([0.0, 1.0, 1.0, 0.0]), "f", axis=1), (3, 4)))),
    np.nan_to_num: FunctionRule(_composite(_nan_to_num),
                                _cases(_case(lambda a: np.nan_to_num(np.where(_MASK, a, np.inf), posinf=2.0), A),
               _case(lambda a: np.nan_to_num(a + np.where(_MASK, 0.0, np.inf), posinf=2.0), A, complex_ok=True))),
    np.real_if_close: FunctionRule(_composite(lambda b: np.real(b["a"]) if np.isrealobj(
        np.real_if_close(value_of(b["a"]), b["tol"])) else b["a"]), _cases(
        _case(lambda a: np.real_if_close(a + 0j), A), _case(lambda a: np.real_if_close(a), A, complex_ok=True))),
    # --- unique and the set operations: each value copies its first occurrence
    np.unique: FunctionRule(_unique, (
        _case(lambda a: np.unique(_twice(a)), A),
        _case(lambda a: np.unique(_twice(a), True, True, True), A),
        _case(lambda a: np.unique(np.concatenate([a, a[:1]]), axis=0, return_index=True), A),
        _case(lambda a: np.unique(_twice(a), return_inverse=True, sorted=False), A),
        _case(lambda a: np.unique(np.concatenate([a, a[:, :2]], axis=1), axis=1, return_counts=True), A))),
    np.unique_all: FunctionRule(_unique, (_case(lambda a: np.unique_all(_twice(a)), A),)),
    np.unique_counts: FunctionRule(_unique, (_case(lambda a: np.unique_counts(_twice(a)), A),)),
    np.unique_inverse: FunctionRule(_unique, (_case(lambda a: np.unique_inverse(np.concatenate([a, a[:1]])), A),)),
    np.unique_values: FunctionRule(_unique, (_case(lambda a: np.unique_values(_twice(a)), A),)),
    np.union1d: FunctionRule(_set_operation(("ar1", "ar2")), (
        _case(lambda a, b: np.union1d(a, b), V, (3,)),
        _case(lambda a, b: np.union1d(a, np.concatenate([b, np.ravel(a)[:2]])), A, (3,)),
        _case(lambda b: np.union1d(_DATA, b), (3,)))),
    np.intersect1d: FunctionRule(_set_operation(("ar1", "ar2")), (
        _case(lambda a: np.intersect1d(np.concatenate([a, _DATA[:2], a[:2]]), _DATA), V),
        _case(lambda a: np.intersect1d(np.concatenate([_DATA[3:], a]), _DATA[::2], return_indices=True), V),
        _case(lambda a, b: np.intersect1d(np.concatenate([a, b[:2]]), b), V, (3,), forward=False),
        _case(lambda a: np.intersect1d(_twice(a), np.ravel(a)[[4, 1, 0]], return_indices=True), A, forward=False),
        _case(lambda a: np.intersect1d(a, a[1:], assume_unique=True), V, forward=False))),
    np.setdiff1d: FunctionRule(_set_operation(("ar1",)), (
        _case(lambda a: np.setdiff1d(_twice(a), np.array([5.0, 7.0])), A),
        _case(lambda a, b: np.setdiff1d(a, np.concatenate([b, np.ravel(a)[:2]]), True), A, (3,)))),
    np.setxor1d: FunctionRule(_set_operation(("ar1", "ar2")), (
        _case(lambda a, b: np.setxor1d(_twice(a), np.concatenate([b, np.ravel(a)[1:3]])), A, (3,)),
        _case(lambda a, b: np.setxor1d(a, np.concatenate([b, a[:1]]), True), V, (3,)))),
    # --- weighted counts: linear in the weights; edges from the data follow min and max
    np.bincount: FunctionRule(_bincount, (
        _case(lambda w: np.bincount(np.array([0, 1, 1, 3, 2]), w), V),
        _case(lambda w: np.bincount(np.array([2, 0, 2]), weights=w, minlength=6), (3,)))),
    np.histogram: FunctionRule(_histogram, (
        _case(lambda w: np.histogram(_DATA[:5], 4, (-2.0, 2.0), None, w), V, complex_ok=True, low=0.5),
        _case(lambda w: np.histogram(_DATA, 3, None, True, w), (6,), low=0.5),
        _case(lambda a: np.histogram(a, [-2.0, -0.5, 0.5, 2.0]), V),
        _case(lambda w: np.histogram(_DATA, [-2.0, -0.5, 0.5, 2.0], density=True, weights=w), (6,), low=0.5),
        _case(lambda a: np.histogram(a, 3), V, forward=False),
        _case(lambda a, w: np.histogram(a, 4, density=True, weights=w), V, V, forward=False),
        _case(lambda e: np.histogram(_DATA, np.concatenate([e[:1] - 3.0, e[1:2] * 0.2, e[2:] + 3.0]), density=True),
              (3,), low=0.5, high=1.0, forward=False))),
    np.histogram2d: FunctionRule(_histogram, (
        _case(lambda w: np.histogram2d(_DATA, _DATA[::-1], 3, _BOX, None, w), (6,), low=0.5),
        _case(lambda w: np.histogram2d(_DATA, _DATA[::-1], [2, 3], _BOX, True, w), (6,), low=0.5),
        _case(lambda x, y: np.histogram2d(x, y, 2, density=True), (6,), (6,), forward=False))),
    np.histogramdd: FunctionRule(_histogram, (
        _case(lambda w: _dd(np.histogramdd(np.stack([_DATA, _DATA[::-1]], 1), 3, _BOX, None, w)), (6,), low=0.5),
        _case(lambda w: _dd(np.histogramdd(np.stack([_DATA, _DATA[::-1]], 1), (2, 3), _BOX, True, w)), (6,),
              low=0.5),
        _case(lambda s: _dd(np.histogramdd(s, 2, _BOX)), (6, 2)),
        _case(lambda s: _dd(np.histogramdd(s, (2, 3), density=True)), (6, 2), forward=False),
        _case(lambda x, w: _dd(np.histogramdd([x, _DATA], _MIXED_BINS, weights=w)), (6,), (6,),
              forward=False))),
    # --- user functions on Var slices
    np.piecewise: FunctionRule(_piecewise, (
        _case(lambda x: np.piecewise(x, [_M5, ~_M5], _SQUARE_SIN), V),
        _case(lambda x: np.piecewise(x, [_MASK, _MASK[::-1]], [0.5, _square, _cos]), A),
        _case(lambda x: np.piecewise(x, ~_M5, _SIN_SQUARE, 3.0, shift=1.0), V))),
    np.apply_along_axis: FunctionRule(_apply_along_axis, (
        _case(lambda a: np.apply_along_axis(_square, 1, a), (3, 4)),
        _case(lambda a: np.apply_along_axis(np.sum, -1, a), A3),
        _case(lambda a: np.apply_along_axis(_pairs, 0, a), A3),
        _case(lambda a: np.apply_along_axis(_scaled_sin, 0, a, 2.0, shift=0.5), (3, 4)),
        _case(lambda a: np.apply_along_axis(np.outer, 1, a, np.arange(2.0)), A3))),
    np.apply_over_axes: FunctionRule(_apply_over_axes, (
        _case(lambda a: np.apply_over_axes(np.sum, a, [0, 2]), A3),
        _case(lambda a: np.apply_over_axes(np.mean, a, -1), (3, 4)))),
    # --- no derivative by nature: plain NumPy results
    **{f: FunctionRule(_nondiff, differentiable=False) for f in (
        np.flatnonzero, np.argwhere, np.count_nonzero,
    )},
}

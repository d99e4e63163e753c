"""The VJP rules of NumPy's core array functions: reductions (sum, mean, prod, max, min,
var, std, cumsum, cumprod), shape and copying functions (reshape, transpose,
concatenate, take, ...: gathers), selection (where, clip, sort, round), trace, the
complex parts and astype, and the functions without a derivative.

The forward counterpart is ``dualnumpy.rules.functions``.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..node import VJP, Var, value_of
from .common import (
    _MASK,
    _NOVALUE,
    A3,
    SQ,
    A,
    Case,
    FunctionApply,
    FunctionRule,
    _accumulate_add,
    _accumulate_multiply,
    _accumulate_node,
    _axes,
    _bind,
    _call_values,
    _case,
    _cases,
    _constant,
    _expand,
    _gather,
    _given,
    _masked,
    _missing,
    _nondiff,
    _promote,
    _reduce_add,
    _reduce_extremum,
    _reduce_multiply,
    _where_mask,
    clip_cotangents,
    node,
    scatter,
)

# ---------------------------------------------------------------- reductions and selection


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


# ---------------------------------------------------------------- complex parts and dtype


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


# ---------------------------------------------------------------- the table


_I = np.array([0, 2, 0, 1])


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
    np.concatenate: _cases(_case(lambda a, b: np.concatenate([a, b, a]), A, (1, 3), complex_ok=True),
                           _case(lambda a, b: np.concatenate([a, b], axis=1), A, (2, 2)),
                           _case(lambda a: np.concatenate([a, np.ones((2, 3))], axis=None), A)),
    np.stack: _cases(_case(lambda a, b: np.stack([a, b]), A, A),
                     _case(lambda a, b: np.stack([b, a, np.zeros(3)], axis=-1), (3,), (3,))),
    np.diagonal: _cases(_case(lambda a: np.diagonal(a), SQ, complex_ok=True),
                        _case(lambda a: np.diagonal(a, 1, 2, 0), A3)),
    np.flip: _cases(_case(lambda a: np.flip(a), A), _case(lambda a: np.flip(a, 1), A3)),
    np.take: _cases(_case(lambda a: np.take(a, _I), A), _case(lambda a: np.take(a, [0, 0], axis=1), A)),
    np.take_along_axis: _cases(_case(lambda a: np.take_along_axis(a, np.array([[0, 0, 2]]), axis=1), A)),
    np.repeat: _cases(_case(lambda a: np.repeat(a, 2), A), _case(lambda a: np.repeat(a, [1, 3], axis=0), A)),
    np.copy: _cases(_case(lambda a: np.copy(a), A)),
}


#: The core array functions (the forward table: rules/functions.py).
CORE_FUNCTION_VJPS: dict[Any, FunctionRule] = {
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
    # --- trace
    np.trace: FunctionRule(_trace, _cases(_case(lambda a: np.trace(a), SQ, complex_ok=True),
                                          _case(lambda a: np.trace(a, 1, 2, 0), A3))),
    # --- complex parts and dtype
    np.real: FunctionRule(_real, _cases(_case(lambda a: np.real(a), A, complex_ok=True),
                                        _case(lambda a: np.real(a * (1.0 + 2.0j)), A))),
    np.imag: FunctionRule(_imag, _cases(_case(lambda a: np.imag(a), A, complex_ok=True),
                                        _case(lambda a: np.imag(a * (1.0 + 2.0j)), A))),
    np.astype: FunctionRule(_astype, _cases(_case(lambda a: np.astype(a, np.complex128) * 1j, A),
                                            _case(lambda a: np.astype(a, np.float32), A, rtol=1e-2))),
    # --- no derivative by nature: plain NumPy results
    **{f: FunctionRule(_nondiff, differentiable=False) for f in (
        np.shape, np.ndim, np.size, np.argmax, np.argmin, np.argsort, np.nonzero, np.iscomplexobj,
        np.isrealobj, np.isclose, np.allclose, np.array_equal, np.zeros_like, np.ones_like, np.empty_like,
        np.any, np.all,
    )},
}

"""The calculus of shape and structure, constructors and the rest: one line per function (see rules/kinds.py for the kinds).

Linear rearrangements apply themselves to the batched tangent, their axis
arguments shifted past the batch axis; functions of several arrays that act on
each alone (atleast_*, broadcast_arrays, meshgrid) do so array by array, and
np.block is a composition of reshapes and concatenations. Constructors reached
through ``like=a Dual`` (NumPy strips ``like`` before dispatching) give plain arrays when their
data are plain, are differentiable where their data can be Duals (``full``,
``arange``, ``linspace`` and friends), and refuse where a Dual would have to
become a plain array. ``np.lib.scimath`` switches to complex exactly where
NumPy does. Files, printing, dates and structured arrays refuse.
"""

from __future__ import annotations

import io
import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy._core import strings as _core_strings
from numpy.lib import recfunctions as rfn
from numpy.lib import scimath
from numpy.lib.stride_tricks import sliding_window_view
from numpy.polynomial import polynomial as _polynomial

from dualnumpy.core.tangent import align, dtype_of, shape_of, tangent_dtype, to_shape
from dualnumpy.core.types import ArrayLike
from dualnumpy.numpy_facts.sampling import LIKE, arr, sample
from dualnumpy.numpy_facts.signatures import Args
from dualnumpy.rules.kinds import (
    Composite,
    Custom,
    CustomJVP,
    Linear,
    NonDiff,
    Params,
    Rule,
    Switch,
    Unsupported,
    as_array,
    axis_call,
    is_number,
    merged,
    per_direction,
    primal,
)

# ---------------------------------------------------------------- small helpers

# NumPy's stubs cannot know that a Dual dispatches through the array protocols.
_np: Any = np


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """An int, tuple, list or array of axes, normalised to non-negative ints."""
    items = tuple(axis) if np.iterable(axis) else (axis,)
    return tuple(int(a) % ndim for a in items)


def _k(tangents: Any) -> int:
    """The number of directions: that of any argument that carries a tangent."""
    return next(shape_of(t)[0] for t in tangents if t is not None)


def _leaves(x: Any) -> list[Any]:
    """The items of nested lists and tuples."""
    if isinstance(x, (list, tuple)):
        return [y for item in x for y in _leaves(item)]
    return [x]


def _no_integer_result(name: str, ans: Any) -> None:
    if dtype_of(ans).kind not in "fc":
        raise TypeError(
            f"{name} with an integer result dtype ({dtype_of(ans)}) has no derivative: it "
            f"truncates. Use a float dtype, or apply it to d.value"
        )


# ---------------------------------------------------------------- shape and structure


def _roll_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    axis = args.get("axis")
    if axis is None:
        flat = np.reshape(t, (shape_of(t)[0], -1))
        return np.reshape(np.roll(flat, args["shift"], axis=1), shape_of(t))
    shifted = tuple(a + 1 for a in _axes(axis, ndim))
    return np.roll(t, args["shift"], axis=shifted if np.iterable(axis) else shifted[0])


def _rollaxis_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    start = int(args.get("start", 0))
    start = start + ndim if start < 0 else start
    return np.rollaxis(t, int(args["axis"]) % ndim + 1, start + 1)


def _tile_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    reps = args["reps"]
    reps = tuple(reps) if np.iterable(reps) else (reps,)
    out_ndim = max(ndim, len(reps))
    reps = (1,) * (out_ndim - len(reps)) + reps
    return np.tile(align(t, out_ndim), (1, *reps))


def _split_tangent(axis_of: Callable[[int, Args], int]) -> Callable[[ArrayLike, int, Args], ArrayLike]:
    def tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
        return np.split(t, args["indices_or_sections"], axis=axis_of(ndim, args) + 1)

    return tangent


def _split_axis(ndim: int, args: Args) -> int:
    return int(args.get("axis", 0)) % ndim


def _hsplit_axis(ndim: int, args: Args) -> int:
    return 1 if ndim > 1 else 0  # NumPy splits vectors along their only axis


def _hstack_axis(ndim: int) -> int:
    return 0 if ndim == 1 else 1  # vectors join end to end, the rest along columns


def _array_split_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    return np.array_split(t, args["indices_or_sections"], axis=int(args.get("axis", 0)) % ndim + 1)


def _diag_matrix(t: ArrayLike, offset: int) -> ArrayLike:
    """Batched ``np.diag`` of vectors ``t`` of shape (k, n), by zero-padding and reshaping."""
    k, n = shape_of(t)
    m = n + abs(offset)
    rows = np.pad(np.reshape(t, (k, n, 1)), ((0, 0), (0, 0), (0, m)))  # v_i then m zeros
    flat = np.reshape(rows, (k, n * (m + 1)))  # v_i lands at i * (m + 1)
    lead = offset if offset >= 0 else -offset * m
    flat = np.pad(flat, ((0, 0), (lead, max(0, m * m - lead - n * (m + 1)))))
    return np.reshape(flat[:, : m * m], (k, m, m))


def _diag_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    offset = int(args.get("k", 0))
    if ndim == 1:
        return _diag_matrix(t, offset)
    return np.diagonal(t, offset, 1, 2)


def _diagflat_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    return _diag_matrix(np.reshape(t, (shape_of(t)[0], -1)), int(args.get("k", 0)))


def _triangle_tangent(func: Callable[..., Any]) -> Callable[[ArrayLike, int, Args], ArrayLike]:
    def tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
        if ndim == 1:  # NumPy repeats a vector as the rows of a square matrix
            n = shape_of(t)[-1]
            t = to_shape(t, (n, n))
        return func(t, args.get("k", 0))

    return tangent


def _delete_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    axis = args.get("axis")
    if axis is None:
        return np.delete(np.reshape(t, (shape_of(t)[0], -1)), args["obj"], axis=1)
    return np.delete(t, args["obj"], axis=int(axis) % ndim + 1)


def _resize_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    k = shape_of(t)[0]
    size = math.prod(shape_of(t)[1:])
    index = np.resize(np.arange(size), args["new_shape"])
    if size == 0:  # NumPy fills with zeros
        return np.zeros((k, *index.shape), dtype=tangent_dtype(dtype_of(t)))
    return np.reshape(t, (k, size))[:, index]


def _sliding_window_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    if args.get("writeable"):
        raise TypeError("sliding_window_view(writeable=True) of a Dual is not supported: a Dual is "
                        "immutable; take the read-only view and build new values with d.at[...].set")
    window = args["window_shape"]
    axis = args.get("axis")
    axes = tuple(range(ndim)) if axis is None else _axes(axis, ndim)
    return sliding_window_view(t, window, axis=tuple(a + 1 for a in axes))


def _unstack_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    return np.unstack(t, axis=int(args.get("axis", 0)) % ndim + 1)


def _concatenated(promote: Callable[[Any], Any], axis_of: Callable[[int], int]) -> Callable[..., ArrayLike]:
    """hstack, vstack, dstack, column_stack: promote every piece's shape, then concatenate."""

    def tangent(ts: list[ArrayLike], ndim: int, args: Args) -> ArrayLike:
        shapes = [promote(np.empty(shape_of(v), dtype=np.bool_)).shape for v in args[next(iter(args))]]
        pieces = [np.reshape(t, (shape_of(t)[0], *s)) for t, s in zip(ts, shapes, strict=True)]
        return np.concatenate(pieces, axis=axis_of(len(shapes[0])) + 1)

    return tangent


def _column(x: Any) -> Any:
    return np.reshape(x, (-1, 1)) if x.ndim < 2 else x


def _per_array(star: str, tangent_of: Callable[[ArrayLike, Any, Args, int], ArrayLike]) -> CustomJVP:
    """Functions of ``*arrays`` that act on each one alone (atleast_*, broadcast_arrays, meshgrid):
    one output per array, plain where the array is a constant."""

    def jvp(ans: Any, primals: Any, tangents: Any, params: Params) -> Any:
        outs = ans if isinstance(ans, (tuple, list)) else (ans,)
        context = merged(primals, params)
        out_tangents = [None if t is None else tangent_of(t, out, context, i)
                        for i, (out, t) in enumerate(zip(outs, tangents[star], strict=True))]
        return tuple(out_tangents) if isinstance(ans, (tuple, list)) else out_tangents[0]

    return jvp


def _reshaped(t: ArrayLike, out: Any, args: Args, i: int) -> ArrayLike:
    return np.reshape(t, (shape_of(t)[0], *shape_of(out)))


def _broadcast(t: ArrayLike, out: Any, args: Args, i: int) -> ArrayLike:
    return to_shape(t, shape_of(out))


def _meshgrid_tangent(t: ArrayLike, out: Any, args: Args, i: int) -> ArrayLike:
    proxies = [np.empty(math.prod(shape_of(v))) for v in args["xi"]]
    sparse = np.meshgrid(*proxies, sparse=True, indexing=args.get("indexing", "xy"), copy=False)
    return to_shape(np.reshape(t, (shape_of(t)[0], *sparse[i].shape)), shape_of(out))


def _leaf_shape(x: Any) -> tuple[int, ...]:
    return shape_of(x) if hasattr(x, "shape") else tuple(np.shape(x))


def _block(arrays: Any) -> Any:
    """np.block by NumPy's own steps: every leaf lifted to the result's rank, the innermost
    lists concatenated along the last axis, the next ones along the one before, and so on."""
    depth, level = 0, arrays
    while isinstance(level, list):
        depth, level = depth + 1, level[0]
    ndim = max([depth] + [len(_leaf_shape(x)) for x in _leaves(arrays)])

    def build(x: Any, level: int) -> Any:
        if isinstance(x, list):
            pieces = [build(y, level + 1) for y in x]
            return pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=level - depth)
        shape = _leaf_shape(x)
        if is_number(x) and len(shape) == ndim:
            return x
        return np.reshape(as_array(x), (1,) * (ndim - len(shape)) + shape)

    return build(arrays, 0)


def _pad_pairs(pad_width: Any, ndim: int) -> list[tuple[int, int]]:
    """NumPy's normalisation of ``pad_width`` to one (before, after) pair per axis."""
    if isinstance(pad_width, dict):
        seq = [(0, 0)] * ndim
        for axis, width in pad_width.items():
            seq[axis] = (width, width) if isinstance(width, int) else tuple(width)
        return seq
    x = np.round(np.asarray(pad_width)).astype(np.intp)
    if x.ndim < 3 and x.size == 1:
        first = int(x.ravel()[0])
        return [(first, first)] * ndim
    if x.ndim < 3 and x.size == 2 and x.shape != (2, 1):
        return [(int(x.ravel()[0]), int(x.ravel()[1]))] * ndim
    return [(int(a), int(b)) for a, b in np.broadcast_to(x, (ndim, 2))]


_PAD_FILL = {"constant": "constant_values", "linear_ramp": "end_values"}
_PAD_LINEAR = ("constant", "edge", "reflect", "symmetric", "wrap", "linear_ramp", "mean")


def _choose_pad(values: Args) -> Rule:
    """np.pad: linear in the array and in constant_values / end_values together (by mode)."""
    mode = values.get("mode", "constant")
    if callable(mode) or mode not in _PAD_LINEAR:
        raise TypeError(
            f"np.pad(mode={mode!r}) is not supported for Duals: supported modes are "
            f"{', '.join(_PAD_LINEAR)}; for maximum/minimum/median pad with np.concatenate of "
            f"np.max/np.min/np.median slices, for 'empty' use mode='constant'"
        )
    return _PAD_RULES.get(mode, _PAD_ARRAY)


def _pad(ans: Any, primals: Any, tangents: Any, params: Params) -> Any:
    values = merged(primals, params)
    mode = values.get("mode", "constant")
    fill_key = _PAD_FILL.get(mode, "")
    tx, t_fill = tangents.get("array"), tangents.get(fill_key)
    k = _k([tx, t_fill])
    shape = shape_of(values["array"])
    dtype = tangent_dtype(dtype_of(ans))
    if tx is None:
        tx = np.zeros((k, *shape), dtype=dtype)
    if mode == "mean":
        t_out = per_direction(np.pad, "array", tx, values)
    else:
        kwargs = {key: v for key, v in values.items() if key not in ("array", "pad_width", "mode")}
        if fill_key:
            kwargs[fill_key] = 0
        pairs = _pad_pairs(values["pad_width"], len(shape))
        if mode == "constant" and type(tx) is np.ndarray:  # a copy framed by zeros, as np.pad does
            t_out = np.empty((k, *shape_of(ans)), dtype=tx.dtype)
            inner = [slice(b, b + n) for (b, _), n in zip(pairs, shape, strict=True)]
            t_out[(slice(None), *inner)] = tx
            for axis, ((before, after), n) in enumerate(zip(pairs, shape, strict=True)):
                lead = (slice(None),) * (axis + 1)
                t_out[(*lead, slice(0, before))] = 0
                t_out[(*lead, slice(before + n, before + n + after))] = 0
        else:
            t_out = np.pad(tx, [(0, 0), *pairs], mode, **kwargs)
    if t_fill is not None:
        # Every padded entry is an affine function of the fill values: add one mask per value.
        fill_shape = shape_of(t_fill)[1:]
        n = math.prod(fill_shape)
        flat = np.reshape(t_fill, (k, n))
        for j in range(n):
            unit = np.zeros(n, dtype=dtype)
            unit[j] = 1.0
            mask = np.pad(np.zeros(shape, dtype=dtype), values["pad_width"], mode,
                          **{fill_key: np.reshape(unit, fill_shape)})
            t_out = t_out + np.reshape(flat[:, j], (k,) + (1,) * len(shape_of(ans))) * mask
    return t_out


# The rule per mode: a Dual fill is taken in where the mode reads one, refused elsewhere.
_PAD_RULES = {mode: Custom(_pad, (), args=("array", key)) for mode, key in _PAD_FILL.items()}
_PAD_ARRAY = Custom(_pad, (), args=("array",))


def _insert(ans: Any, primals: Any, tangents: Any, params: Params) -> Any:
    """np.insert, linear in ``arr`` and ``values`` together: applied once per direction."""
    ta, tv = tangents.get("arr"), tangents.get("values")
    if tv is not None:
        _no_integer_result("np.insert(arr, obj, values) (values are cast to arr's dtype)", ans)
    k = _k([ta, tv])
    dtype = tangent_dtype(dtype_of(ans))
    ta = np.zeros((k, *np.shape(primals["arr"])), dtype) if ta is None else ta
    tv = np.zeros((k, *np.shape(primals["values"])), dtype) if tv is None else tv
    outs = [np.insert(ta[i], params["obj"], tv[i], axis=params.get("axis")) for i in range(k)]
    return np.stack(outs)


def _append(arr: Any, values: Any, axis: Any = None) -> Any:
    if axis is None:
        return np.concatenate((np.ravel(arr), np.ravel(values)))
    return np.concatenate((arr, values), axis=axis)


def _angle(z: Any, deg: bool = False) -> Any:
    """d angle(z) = Im(conj(z) dz) / |z|^2; for real z a step function: zero tangent."""
    if not np.iscomplexobj(z):
        return 0.0 * z
    a = np.arctan2(np.imag(z), np.real(z))
    return a * (180.0 / np.pi) if deg else a


# ---------------------------------------------------------------- constructors


def _full(ans: Any, primals: Any, tangents: Any, params: Params) -> Any:
    _no_integer_result("np.full", ans)
    return to_shape(tangents["fill_value"], shape_of(ans))


def _arange(ans: Any, primals: Any, tangents: Any, params: Params) -> Any:
    """start + i * step: the count (and so stop) is piecewise constant."""
    _no_integer_result("np.arange", ans)
    t_start = None if primals.get("stop") is None else tangents.get("start_or_stop")  # else it is stop
    t_step = tangents.get("step")
    k = _k(tangents.values())
    n = shape_of(ans)[0]
    t: Any = np.zeros((k, n), dtype=tangent_dtype(dtype_of(ans)))
    if t_start is not None:
        t = t + np.reshape(t_start, (k, 1))
    if t_step is not None:
        t = t + np.reshape(t_step, (k, 1)) * np.arange(n, dtype=np.finfo(dtype_of(ans)).dtype)
    return t




def _inexact(*xs: Any) -> np.dtype[Any]:
    dt: np.dtype[Any] = np.result_type(*(primal(x) for x in xs))
    return dt if dt.kind in "fc" else np.dtype(np.float64)


def _linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, retstep: bool = False,
              dtype: Any = None, axis: int = 0, *, device: Any = None) -> Any:
    """start + f * (stop - start) with f = i / div: linear in start and stop."""
    num = operator.index(num)
    if dtype is not None and np.dtype(dtype).kind not in "fc":
        raise TypeError(f"np.linspace(dtype={np.dtype(dtype)}) of Duals floors its samples, which has no "
                        f"derivative; use a float dtype and round d.value")
    div = num - 1 if endpoint else num
    real = np.finfo(_inexact(start, stop)).dtype
    frac = np.arange(num) / div if div > 0 else np.zeros(num)
    ndim = len(np.broadcast_shapes(np.shape(primal(start)), np.shape(primal(stop))))
    y = start + np.reshape(frac.astype(real), (-1,) + (1,) * ndim) * (stop - start)
    if axis != 0:
        y = np.moveaxis(y, 0, axis)
    if dtype is not None:
        y = np.astype(y, dtype)
    if retstep:
        return y, ((stop - start) / div if div > 0 else (stop - start) * np.nan)  # NumPy's step: nan
    return y


def _at_least(x: Any, ndim: int) -> Any:
    shape = np.shape(x)
    return np.reshape(x, (1,) * (ndim - len(shape)) + tuple(shape))


def _logspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, base: Any = 10.0,
              dtype: Any = None, axis: int = 0) -> Any:
    if not isinstance(base, (float, int)) and np.ndim(base):
        ndmax = len(np.broadcast_shapes(np.shape(start), np.shape(stop), np.shape(base)))
        start, stop, base = (_at_least(a, ndmax) for a in (start, stop, base))
        base = np.expand_dims(base, axis=axis)
    y = np.power(base, _linspace(start, stop, num=num, endpoint=endpoint, axis=axis))
    return y if dtype is None else np.astype(y, dtype)


def _cast(x: Any, dtype: Any) -> Any:
    if is_number(x):  # Python-scalar values have no astype
        return _np.astype(x, dtype) if hasattr(primal(x), "dtype") else x * np.ones((), dtype)
    return np.asarray(x).astype(dtype)


def _geomspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None,
               axis: int = 0) -> Any:
    """NumPy's own steps: rotate start to the positive reals, logspace, rotate back."""
    dt = np.result_type(np.asarray(primal(start)), np.asarray(primal(stop)), float(num), np.zeros((), dtype))
    start, stop = _cast(start, dt), _cast(stop, dt)
    sign = np.sign(np.asarray(primal(start)))
    start, stop = start / sign, stop / sign
    y = _logspace(np.log10(start), np.log10(stop), num=num, endpoint=endpoint, base=10.0, dtype=dt)
    y = y * sign
    if axis != 0:
        y = np.moveaxis(y, 0, axis)
    return np.astype(y, dt if dtype is None else dtype)


# ---------------------------------------------------------------- np.lib.scimath


_SINGLE = (np.single, np.byte, np.short, np.ubyte, np.ushort, np.csingle)


def _to_complex(x: Any, when: Callable[[Any], Any]) -> Any:
    """x as complex where NumPy's scimath switches (``when`` of the plain value)."""
    v = np.asarray(primal(x))
    if not np.any(when(v)):
        return x
    dtype = np.complex64 if issubclass(v.dtype.type, _SINGLE) else np.complex128
    return _cast(x, dtype)


def _negative(v: Any) -> Any:
    return np.isreal(v) & (v < 0)


def _beyond_one(v: Any) -> Any:
    return np.isreal(v) & (abs(v) > 1)


def _scimath_unary(ufunc: np.ufunc, when: Callable[[Any], Any] = _negative) -> Callable[[Any], Any]:
    def compose(x: Any) -> Any:
        return ufunc(_to_complex(x, when))

    return compose


def _scimath_logn(n: Any, x: Any) -> Any:
    return np.log(_to_complex(x, _negative)) / np.log(_to_complex(n, _negative))


def _scimath_power(x: Any, p: Any) -> Any:
    p = p * 1.0 if np.any(_negative(np.asarray(primal(p)))) else p
    return np.power(_to_complex(x, _negative), p)


# ---------------------------------------------------------------- samples

A = arr(3, 4)
A3 = arr(2, 3, 4, seed=1)
V = arr(5, seed=2)
SQ = arr(4, 4, seed=3)
AWAY = np.where(A < 0, A - 0.3, A + 0.3)  # both signs, away from 0
POS = arr(3, 4, seed=4, low=0.3, high=3.0)
WIDE = np.array([[-2.5, -1.3, -0.6, 0.1], [0.7, 1.4, 2.2, -0.3], [1.8, -1.9, 0.45, 2.9]])  # |x| away from 1
INSIDE = arr(3, 4, seed=5, low=-0.8, high=0.8)


_CONVERT = ("a Dual cannot become a plain array (its tangent would be dropped): use d.value for the value, "
            "np.stack([...]) to build an array from Duals, and drop like= for plain constant arrays")
_RAW = ("it builds plain arrays from raw data: call it without like= (plain arrays mix with Duals), "
        "then wrap the result, e.g. Dual(x, tangent); build arrays from Duals with np.stack([...])")
_SAVE = ("a file cannot hold a tangent: save d.value (and d.tangent) as plain arrays, "
         "e.g. np.savez(f, value=d.value, tangent=d.tangent)")
_LOAD = ("a file holds plain numbers: load without like= and wrap the result yourself, "
         "e.g. Dual(np.loadtxt(f), tangent); save d.value (and d.tangent) to write one")
_PRINT = "print repr(d) (value and tangent), or format d.value and d.tangent, e.g. np.array2string(d.value)"
_DATES = ("dates have no derivative and a Dual cannot hold datetime64 values; "
          "call it on plain arrays (d.value)")
_POLY2D = ("np.polynomial evaluates through np.array, which cannot hold Duals; write the double sum "
           "sum(c[i, j] * x**i * y**j) with NumPy operations")
_RECORDS = ("structured arrays cannot hold Duals; keep one Dual per field (e.g. a dict of Duals, "
            "combined with np.stack / np.concatenate), or apply it to plain arrays (d.value)")


# ---------------------------------------------------------------- the table

STRUCTURE_RULES: dict[Any, Rule] = {
    # --- linear rearrangements of one array
    np.fliplr:     Linear((sample(A, complex_ok=True), sample(A3)), arg="m", tangent=lambda t, n, a: np.flip(t, 2)),
    np.flipud:     Linear((sample(A), sample(V)), arg="m", tangent=lambda t, n, a: np.flip(t, 1)),
    np.rot90:      Linear((sample(A, complex_ok=True), sample(A3, 2, (1, 2)),
                                                                sample(A3, -1, axes=(2, 0)), sample(A, 4)), arg="m", tangent=axis_call(np.rot90, "axes")),
    np.roll:       Linear((sample(A, 5), sample(A, -1, axis=1, complex_ok=True),
                                                 sample(A3, (1, 2), axis=(0, -1)), sample(V, (1, 2)),
                                                 sample(A3, 2, axis=[2])), arg="a", tangent=_roll_tangent),
    np.rollaxis:   Linear((sample(A3, 2), sample(A3, 0, 3), sample(A3, -1, -2)), arg="a", tangent=_rollaxis_tangent),
    np.tile:       Linear((sample(V, 2), sample(A, (2, 1, 3)),
                                                                  sample(A3, (2, 1)), sample(2.5, 3)), arg="A", tangent=_tile_tangent),
    np.unstack:    Linear((sample(A), sample(A3, axis=-1)), arg="x", tangent=_unstack_tangent),
    np.split:      Linear((sample(A, 3), sample(A, [1, 3], axis=1), sample(V, [2, 2, 4]), sample(A3, [1], axis=-1)), arg="ary", tangent=_split_tangent(_split_axis)),
    np.array_split: Linear((sample(V, 3), sample(A, [1, 2, 5], axis=-1)), arg="ary", tangent=_array_split_tangent),
    np.hsplit:     Linear((sample(A, 2), sample(V, [1, 3]), sample(A3, [2])), arg="ary", tangent=_split_tangent(_hsplit_axis)),
    np.vsplit:     Linear((sample(A, 3), sample(A3, [1])), arg="ary", tangent=_split_tangent(lambda n, a: 0)),
    np.dsplit:     Linear((sample(A3, 2), sample(A3, [1, 3])), arg="ary", tangent=_split_tangent(lambda n, a: 2)),
    np.diag:       Linear((sample(V, complex_ok=True), sample(V, 2), sample(V, -3),
                                                 sample(SQ), sample(A, -1), sample(arr(1), 1)), arg="v", tangent=_diag_tangent),
    np.diagflat:   Linear((sample(A), sample(V, -2), sample(2.0, 1)), arg="v", tangent=_diagflat_tangent),
    np.tril:       Linear((sample(A), sample(A3, -1), sample(V, 1)), arg="m", tangent=_triangle_tangent(np.tril)),
    np.triu:       Linear((sample(SQ, 1), sample(V), sample(A3, 2)), arg="m", tangent=_triangle_tangent(np.triu)),
    np.delete:     Linear((sample(V, 2), sample(A, [0, 2], axis=1),
                                                     sample(A, 5), sample(A3, A3[:, 0, 0] > 0, axis=0)), arg="arr", tangent=_delete_tangent),
    np.resize:     Linear((sample(A, (2, 7)), sample(V, 12), sample(A3, (5,))), arg="a", tangent=_resize_tangent),
    sliding_window_view: Linear((sample(V, 3), sample(A, (2, 2)), sample(A3, 2, axis=-1),
                                   sample(A, (2, 3), axis=(1, 0))), arg="x", tangent=_sliding_window_tangent),
    # --- linear in each of several arrays
    np.atleast_1d: Custom(_per_array("arys", _reshaped), (sample(2.0), sample(V), sample(1.5, A, duals=(0, 1)),
                                                          sample(A, [1.0, 2.0])), args=("arys",), sequence=True),
    np.atleast_2d: Custom(_per_array("arys", _reshaped), (sample(V), sample(1.5, A3, duals=(0, 1))), args=("arys",), sequence=True),
    np.atleast_3d: Custom(_per_array("arys", _reshaped), (sample(V), sample(A), sample(2.0, A3, duals=(0, 1))), args=("arys",), sequence=True),
    np.broadcast_arrays: Custom(_per_array("args", _broadcast),
                                (sample(arr(3, 1), V, duals=(0, 1)), sample(A, 2.0), sample(V[:4], A, duals=(0,))), args=("args",), sequence=True),
    np.meshgrid:   Custom(_per_array("xi", _meshgrid_tangent),
                          (sample(V, arr(3), duals=(0, 1)), sample(V, arr(3), indexing="ij", duals=(0, 1)),
                           sample(V, arr(3), arr(2), sparse=True, duals=(0, 2)), sample(A, V, duals=(0,))), args=("xi",), sequence=True),
    # --- linear in a sequence of arrays
    np.hstack:     Linear((sample([A, arr(3, 2)], duals=((0, 0), (0, 1)), complex_ok=True),
                                     sample([V, 1.5, V], duals=((0, 0),)), sample([2.0, 3.0], duals=((0, 0), (0, 1)))), arg="tup", tangent=_concatenated(np.atleast_1d, _hstack_axis), sequence=True),
    np.vstack:     Linear((sample([A, arr(2, 4)], duals=((0, 0), (0, 1))), sample([V, V], duals=((0, 1),)),
                                     sample([1.0, 2.0], duals=((0, 0),))), arg="tup", tangent=_concatenated(np.atleast_2d, lambda n: 0), sequence=True),
    np.dstack:     Linear((sample([A, A], duals=((0, 0), (0, 1))), sample([V, V], duals=((0, 0),))), arg="tup", tangent=_concatenated(np.atleast_3d, lambda n: 2), sequence=True),
    np.column_stack: Linear((sample([V, arr(5, 2)], duals=((0, 0), (0, 1))), sample([V, V], duals=((0, 1),))), arg="tup", tangent=_concatenated(_column, lambda n: 1), sequence=True),
    np.block:      Composite(_block, (sample([A, arr(3, 2)], duals=((0, 0), (0, 1))), sample([V, 2.0], duals=((0, 0),)),
                                      sample(A)), args=("arrays",)),
    # --- linear in several arguments
    np.pad:        Switch(_choose_pad, (sample(A, 1, complex_ok=True), sample(A, ((1, 2), (0, 3)), mode="edge"),
                                        sample(A, 2, mode="reflect"), sample(A, ((2, 1), (1, 2)), mode="symmetric",
                                                                            reflect_type="odd"),
                                        sample(V, 3, mode="wrap"), sample(A, (1, 2), mode="linear_ramp", end_values=(1.0, -2.0)),
                                        sample(A, 2, mode="mean", stat_length=2), sample(A3, {0: 1, -1: (0, 2)}),
                                        sample(A, [[1], [2]], constant_values=((1.0, 2.0), (3.0, 4.0))))),
    np.insert:     Custom(_insert, (sample(V, 2, 7.5), sample(V, [1, 3], arr(2), duals=(0, 2)),
                                    sample(A, 1, arr(3), axis=1, duals=(0, 2)), sample(A, [0, 2], 0.5, axis=0),
                                    sample(V, 2, 1.5, duals=(2,))), args=("arr", "values")),
    np.append:     Composite(_append, (sample(V, A, duals=(0, 1)), sample(A, arr(2, 4), axis=0, duals=(0, 1)),
                                       sample(A, [1.0, 2.0]), sample([1.0, 2.0], V, duals=(1,))), args=("arr", "values")),
    # --- nonlinear
    np.angle:      Composite(_angle, (sample(A, complex_ok=True), sample(A, deg=True, complex_ok=True)), args=("z",)),
    # --- constructors reached through like=a Dual, differentiable in their data
    np.full:       Custom(_full, (sample((3, 4), 2.5, like=LIKE, duals=(1,)), sample((2, 5), V, like=LIKE, duals=(1,)),
                                  sample(4, 1.5, np.complex128, like=LIKE, duals=(1,))), args=("fill_value",)),
    np.arange:     Custom(_arange, (sample(0.5, 4.0, 0.75, like=LIKE, duals=(0, 2)),
                                    sample(1.5, 3.2, like=LIKE, duals=(0, 1)), sample(3.5, like=LIKE)),
                          args=("start_or_stop", "stop", "step")),
    np.linspace:   Composite(_linspace, (sample(0.5, 2.0, 5, duals=(0, 1), complex_ok=True),
                                         sample(V, 3.0, 4), sample(0.5, V, 4, endpoint=False, axis=-1, duals=(0, 1)),
                                         sample(1.0, 2.5, 1, duals=(0, 1)),
                                         sample(0.2, 1.5, 6, retstep=True, duals=(0, 1)),
                                         sample(arr(2, 1), arr(3), 3, axis=1, duals=(0, 1)),
                                         sample(0.5, 1.5, 0, duals=(0, 1))), args=("start", "stop")),
    np.logspace:   Composite(_logspace, (sample(0.5, 2.0, 5, duals=(0, 1), complex_ok=True),
                                         sample(V, 1.0, 3, base=2.0),
                                         sample(0.1, 0.9, 4, True, arr(3, low=1.5, high=3.0), axis=-1,
                                                duals=(0, 1, 4)),
                                         sample(0.1, 0.9, 4, True, 2.0, np.complex128, duals=(0, 1, 4))), args=("start", "stop", "base")),
    np.geomspace:  Composite(_geomspace, (sample(1.5, 20.0, 5, duals=(0, 1), complex_ok=True),
                                          sample(-2.0, -0.5, 4, endpoint=False, duals=(0, 1)),
                                          sample(arr(3, low=0.5, high=2.0), 5.0, 4, axis=1),
                                          sample(1.5, 3.0, 3, dtype=np.complex128, duals=(0, 1), float32=False)), args=("start", "stop")),
    # --- np.lib.scimath: complex exactly where NumPy switches, holomorphic tangents
    scimath.sqrt:  Composite(_scimath_unary(np.sqrt), (sample(AWAY, complex_ok=True), sample(POS), sample(-2.0)), args=("x",)),
    scimath.log:   Composite(_scimath_unary(np.log), (sample(AWAY, complex_ok=True), sample(POS)), args=("x",)),
    scimath.log2:  Composite(_scimath_unary(np.log2), (sample(AWAY, complex_ok=True),), args=("x",)),
    scimath.log10: Composite(_scimath_unary(np.log10), (sample(AWAY, complex_ok=True), sample(POS)), args=("x",)),
    scimath.logn:  Composite(_scimath_logn, (sample(3.0, AWAY, duals=(0, 1), complex_ok=True),
                                             sample(-2.5, POS, duals=(0, 1)), sample(2.0, AWAY, duals=(1,))), args=("n", "x")),
    scimath.power: Composite(_scimath_power, (sample(AWAY, 0.5), sample(AWAY, arr(3, 4, seed=6), duals=(0, 1)),
                                              sample(POS, -1.5, complex_ok=True), sample(AWAY, 2.0, duals=(1,))), args=("x", "p")),
    scimath.arctanh: Composite(_scimath_unary(np.arctanh, _beyond_one), (sample(WIDE), sample(INSIDE, complex_ok=True)), args=("x",)),
    scimath.arcsin: Composite(_scimath_unary(np.arcsin, _beyond_one), (sample(WIDE), sample(INSIDE, complex_ok=True)), args=("x",)),
    scimath.arccos: Composite(_scimath_unary(np.arccos, _beyond_one), (sample(WIDE), sample(INSIDE, complex_ok=True)), args=("x",)),
    # --- results without a derivative
    np.array_equiv: NonDiff("predicate", (sample(A, A, duals=(0, 1)), sample(A, V, duals=(0,)))),
    np.tril_indices_from: NonDiff("index", (sample(SQ), sample(A, 1))),
    np.triu_indices_from: NonDiff("index", (sample(SQ, -1),)),
    np.diag_indices_from: NonDiff("index", (sample(SQ),)),
    np.ravel_multi_index: NonDiff("index (integer Duals are used by value)"),
    np.unravel_index: NonDiff("index (integer Duals are used by value)"),
    np.packbits:   NonDiff("bits (integer Duals are used by value)"),
    np.unpackbits: NonDiff("bits (integer Duals are used by value)"),
    np.can_cast:   NonDiff("dtype query", (sample(A, np.float32), sample(A, np.complex128))),
    np.result_type: NonDiff("dtype query", (sample(A, np.float32), sample(A, V, duals=(0, 1)))),
    np.min_scalar_type: NonDiff("dtype query", (sample(A),)),
    np.common_type: NonDiff("dtype query", (sample(A, V, duals=(0,)),)),
    np.may_share_memory: NonDiff("memory query on the values", (sample(A, A, duals=(0, 1)),)),
    np.shares_memory: NonDiff("memory query on the values", (sample(A, V, duals=(0, 1)),)),
    # --- constructors reached through like=a Dual: shapes only, plain arrays
    np.zeros:      NonDiff("constant", (sample((2, 3), like=LIKE, duals=()),)),
    np.ones:       NonDiff("constant", (sample(4, like=LIKE, duals=()),)),
    np.empty:      NonDiff("constant (uninitialised)"),
    np.eye:        NonDiff("constant", (sample(3, 4, 1, like=LIKE, duals=()),)),
    np.identity:   NonDiff("constant", (sample(3, like=LIKE, duals=()),)),
    np.tri:        NonDiff("constant", (sample(3, 4, -1, like=LIKE, duals=()),)),
    # --- conversions that would drop a tangent
    np.array:      Unsupported(_CONVERT, (sample(A, like=LIKE),)),
    np.asarray:    Unsupported(_CONVERT, (sample(A, like=LIKE),)),
    np.asanyarray: Unsupported(_CONVERT, (sample(A, like=LIKE),)),
    np.ascontiguousarray: Unsupported(_CONVERT, (sample(A, like=LIKE),)),
    np.asfortranarray: Unsupported(_CONVERT, (sample(A, like=LIKE),)),
    np.require:    Unsupported(_CONVERT, (sample(A, like=LIKE),)),
    np.fromiter:   Unsupported(_RAW, (sample([1.0, 2.0], float, like=LIKE, duals=()),)),
    np.frombuffer: Unsupported(_RAW, (sample(b"\0" * 16, like=LIKE, duals=()),)),
    np.fromstring: Unsupported(_RAW, (sample("1 2", sep=" ", like=LIKE, duals=()),)),
    np.fromfunction: Unsupported("drop like=: np.fromfunction(f, shape) already returns whatever f computes, "
                                   "Duals included (or call f(*np.indices(shape)))", (sample(lambda i: i, (3,), like=LIKE, duals=()),)),
    np.ix_:        Unsupported("its arguments are indices, which have no derivative; use np.ix_(d.value, ...)", (sample(V),)),
    # --- files
    np.save:       Unsupported(_SAVE, (sample(io.BytesIO(), A, duals=(1,)),)),
    np.savez:      Unsupported(_SAVE, (sample(io.BytesIO(), A, duals=(1,)),)),
    np.savez_compressed: Unsupported(_SAVE, (sample(io.BytesIO(), A, duals=(1,)),)),
    np.savetxt:    Unsupported(_SAVE, (sample(io.BytesIO(), A, duals=(1,)),)),
    np.loadtxt:    Unsupported(_LOAD, (sample(io.StringIO("1 2"), like=LIKE, duals=()),)),
    np.genfromtxt: Unsupported(_LOAD, (sample(io.StringIO("1 2"), like=LIKE, duals=()),)),
    np.fromfile:   Unsupported(_LOAD, (sample("never-read.bin", like=LIKE, duals=()),)),
    # --- printing
    np.array2string: Unsupported(_PRINT, (sample(A),)),
    np.array_repr: Unsupported(_PRINT, (sample(A),)),
    np.array_str:  Unsupported(_PRINT, (sample(A),)),
    # --- dates
    np.busday_count: Unsupported(_DATES, (sample(V, V, duals=(0, 1)),)),
    np.busday_offset: Unsupported(_DATES, (sample(V, V, duals=(1,)),)),
    np.is_busday:  Unsupported(_DATES, (sample(V),)),
    np.datetime_as_string: Unsupported(_DATES, (sample(V),)),
    # --- structured arrays
    rfn.append_fields: Unsupported(_RECORDS, (sample(A, "x", V),)),
    rfn.apply_along_fields: Unsupported(_RECORDS, (sample(np.mean, A, duals=(1,)),)),
    rfn.assign_fields_by_name: Unsupported(_RECORDS, (sample(A, A, duals=(0, 1)),)),
    rfn.drop_fields: Unsupported(_RECORDS, (sample(A, "x"),)),
    rfn.find_duplicates: Unsupported(_RECORDS, (sample(A),)),
    rfn.join_by:   Unsupported(_RECORDS, (sample("x", A, A, duals=(1, 2)),)),
    rfn.merge_arrays: Unsupported(_RECORDS, (sample([A, V], duals=((0, 0),)),)),
    rfn.rec_append_fields: Unsupported(_RECORDS, (sample(A, "x", V),)),
    rfn.rec_drop_fields: Unsupported(_RECORDS, (sample(A, "x"),)),
    rfn.rec_join:  Unsupported(_RECORDS, (sample("x", A, A, duals=(1, 2)),)),
    rfn.recursive_fill_fields: Unsupported(_RECORDS, (sample(A, A, duals=(0, 1)),)),
    rfn.rename_fields: Unsupported(_RECORDS, (sample(A, {"a": "b"}),)),
    rfn.repack_fields: Unsupported(_RECORDS, (sample(A),)),
    rfn.require_fields: Unsupported(_RECORDS, (sample(A, [("a", float)]),)),
    rfn.stack_arrays: Unsupported(_RECORDS, (sample([A, A], duals=((0, 0),)),)),
    rfn.structured_to_unstructured: Unsupported(_RECORDS, (sample(A),)),
    rfn.unstructured_to_structured: Unsupported(_RECORDS, (sample(A),)),
    # --- two-variable polynomials: np.polynomial converts its inputs with np.array
    _polynomial.polyval2d: Unsupported(_POLY2D, (sample(A, V, arr(2, 2), duals=(0,)),)),
    _polynomial.polygrid2d: Unsupported(_POLY2D, (sample(V, V, arr(2, 2), duals=(0,)),)),
}

# The string functions of np.strings and np.char: a Dual holds numbers, never text.
_STRINGS = "string operations do not take Duals; apply them to plain string arrays"
for _name in ("capitalize", "center", "decode", "encode", "expandtabs", "ljust", "lower", "mod",
              "multiply", "partition", "replace", "rjust", "rpartition", "swapcase", "title",
              "translate", "upper", "zfill", "_join", "_rsplit", "_split", "_splitlines"):
    # the private splitters live in numpy._core.strings, behind np.strings.split & co.
    STRUCTURE_RULES[getattr(_core_strings, _name)] = Unsupported(_STRINGS)
for _name in ("equal", "not_equal", "greater", "greater_equal", "less", "less_equal"):
    STRUCTURE_RULES[getattr(np.char, _name)] = Unsupported(_STRINGS + " (np.equal and friends compare Duals)")

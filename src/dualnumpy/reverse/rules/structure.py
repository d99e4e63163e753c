"""The VJP rules of shape and structure (stacking, splitting, flips and rolls, tiling,
diag, tril/triu, padding, insert/append/delete, block, meshgrid: gathers), angle,
the constructors reached through ``like=`` (linspace, logspace, geomspace, arange,
full) and ``np.lib.scimath``.

The forward counterpart is ``dualnumpy.rules.structure``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..node import VJP, Var, value_of
from .common import (
    A3,
    SQ,
    A,
    Case,
    FunctionRule,
    _as_var_or_array,
    _bind,
    _call_values,
    _case,
    _cases,
    _composite,
    _gather,
    _missing,
    _nondiff,
    node,
)

_np: Any = np


# ---------------------------------------------------------------- shape and structure


def _triangle(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """tril/triu keep a triangle and zero the rest: a mask, its own adjoint."""
    b = _bind(func, name, args, kwargs)
    m, k = b["m"], b["k"]
    return node(_call_values(func, args, kwargs), [(m, lambda g: func(g, k))])


def _angle(b: dict[str, Any]) -> Any:
    """angle(z) = atan2(Im z, Re z); the angle of a real number is piecewise constant."""
    z = b["z"]
    if not np.iscomplexobj(value_of(z)):
        return Var(np.angle(value_of(z), deg=b["deg"]))
    out = np.arctan2(np.imag(z), np.real(z))
    return out * (180.0 / np.pi) if b["deg"] else out


# ---------------------------------------------------------------- constructors


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


def _geomspace(b: dict[str, Any]) -> Any:
    """s * exp(log(a/s) + t (log(b/s) - log(a/s))), s = sign(start), t = i / div, with the
    end points equal to start and stop (as NumPy sets them)."""
    start, stop, num = _as_var_or_array(b["start"]), _as_var_or_array(b["stop"]), int(b["num"])
    endpoint, axis = bool(b["endpoint"]), int(b["axis"])
    dt = np.result_type(value_of(start), value_of(stop), float(num),
                        np.zeros((), b["dtype"]) if b["dtype"] is not None else 0.0)

    def lifted(v: Any) -> Any:
        if np.iscomplexobj(np.zeros((), dt)) and not np.iscomplexobj(value_of(v)):
            return _np.astype(v, np.complex128) if isinstance(v, Var) else np.asarray(v, np.complex128)
        return v * 1.0

    start, stop = lifted(start), lifted(stop)
    shape = np.broadcast_shapes(np.shape(value_of(start)), np.shape(value_of(stop)))
    start, stop = np.broadcast_to(start, shape), np.broadcast_to(stop, shape)
    sign = np.sign(start)
    lo, hi = np.log(start / sign), np.log(stop / sign)
    div = (num - 1) if endpoint else num
    t = np.reshape(np.arange(num) / max(div, 1), (-1,) + (1,) * len(shape))
    inner = np.exp(lo + t * (hi - lo))
    if num > 0:
        inner = np.concatenate([np.expand_dims(start / sign, 0), inner[1:]])
    if num > 1 and endpoint:
        inner = np.concatenate([inner[:-1], np.expand_dims(stop / sign, 0)])
    out = inner * sign
    if b["dtype"] is not None:
        out = _np.astype(out, b["dtype"]) if isinstance(out, Var) else np.asarray(out, b["dtype"])
    return np.moveaxis(out, 0, axis) if axis != 0 else out


def _arange(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """arange(start, stop, step)[i] = start + i step: d/dstart = 1, d/dstep = i; the length
    depends on stop piecewise-constantly, so stop gets no cotangent. Reached through like=."""
    kw = dict(kwargs)
    given = list(args) + [kw.pop(k) for k in ("start", "stop", "step") if k in kw]
    if kw.get("dtype") is not None:
        raise _missing(f"{name}(dtype=...)")
    start, stop, step = (0.0, given[0], 1.0) if len(given) == 1 else (
        (given[0], given[1], 1.0) if len(given) == 2 else tuple(given[:3]))
    value = _np.arange(*[np.asarray(value_of(v))[()] for v in (start, stop, step)])
    if value.dtype.kind in "biu":
        return Var(value)
    ramp = np.arange(value.shape[0], dtype=np.float64)
    edges: list[tuple[Var, VJP]] = []
    if isinstance(start, Var):
        edges.append((start, lambda g: np.sum(g)))
    if isinstance(step, Var):
        edges.append((step, lambda g: np.sum(g * ramp)))
    return node(value, edges)


def _full(b: dict[str, Any]) -> Any:
    """full(shape, fill) broadcasts fill (reached through like=)."""
    fill, dtype = _as_var_or_array(b["fill_value"]), b["dtype"]
    shape = (b["shape"],) if isinstance(b["shape"], (int, np.integer)) else tuple(b["shape"])
    if dtype is not None:
        fill = _np.astype(fill, dtype) if isinstance(fill, Var) else np.asarray(fill, dtype)
    return np.broadcast_to(fill, shape)


# ---------------------------------------------------------------- np.lib.scimath


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


# ---------------------------------------------------------------- the table


_GATHER_FUNCTIONS: dict[Any, tuple[Case, ...]] = {
    np.broadcast_arrays: _cases(_case(lambda a, b: np.broadcast_arrays(a, b), (2, 1), (3,))),
    np.atleast_1d: _cases(_case(lambda a: np.atleast_1d(a), ())),
    np.atleast_2d: _cases(_case(lambda a: np.atleast_2d(a), (3,))),
    np.atleast_3d: _cases(_case(lambda a: np.atleast_3d(a), (3,))),
    np.vstack: _cases(_case(lambda a, b: np.vstack([a, b]), A, (3,))),
    np.hstack: _cases(_case(lambda a, b: np.hstack([a, b]), A, (2, 1))),
    np.dstack: _cases(_case(lambda a, b: np.dstack([a, b]), A, A)),
    np.column_stack: _cases(_case(lambda a, b: np.column_stack([a, b]), (3,), (3, 2))),
    np.unstack: _cases(_case(lambda a: np.unstack(a, axis=1), A)),
    np.split: _cases(_case(lambda a: np.split(a, [1, 3], axis=1), (2, 4))),
    np.array_split: _cases(_case(lambda a: np.array_split(a, 3), (5,))),
    np.hsplit: _cases(_case(lambda a: np.hsplit(a, 2), (2, 4))),
    np.vsplit: _cases(_case(lambda a: np.vsplit(a, 2), (4, 2))),
    np.fliplr: _cases(_case(lambda a: np.fliplr(a), A)),
    np.flipud: _cases(_case(lambda a: np.flipud(a), A)),
    np.roll: _cases(_case(lambda a: np.roll(a, 2), A), _case(lambda a: np.roll(a, -1, axis=0), A)),
    np.rot90: _cases(_case(lambda a: np.rot90(a), A)),
    np.tile: _cases(_case(lambda a: np.tile(a, (2, 1, 2)), A)),
    np.rollaxis: _cases(_case(lambda a: np.rollaxis(a, 2), A3)),
    np.resize: _cases(_case(lambda a: np.resize(a, (4, 2)), A)),
    np.dsplit: _cases(_case(lambda a: np.dsplit(a, 2), A3)),
    np.diag: _cases(_case(lambda a: np.diag(a, 1), (3,), complex_ok=True), _case(lambda a: np.diag(a, -1), SQ)),
    np.diagflat: _cases(_case(lambda a: np.diagflat(a), A)),
    np.pad: _cases(_case(lambda a: np.pad(a, ((1, 0), (2, 1)), constant_values=3.0), A),
                   _case(lambda a: np.pad(a, 2, mode="reflect"), A), _case(lambda a: np.pad(a, 1, mode="edge"), A),
                   _case(lambda a: np.pad(a, (1, 3), mode="wrap"), (3,)),
                   _case(lambda a: np.pad(a, 2, mode="symmetric"), A)),
    np.insert: _cases(_case(lambda a, b: np.insert(a, [1, 1, 3], b), (4,), (3,)),
                      _case(lambda a: np.insert(a, 1, 7.0, axis=1), A)),
    np.append: _cases(_case(lambda a, b: np.append(a, b), A, (2,)),
                      _case(lambda a, b: np.append(a, b, axis=0), A, (1, 3))),
    np.delete: _cases(_case(lambda a: np.delete(a, [0, 2], axis=1), A)),
    np.block: _cases(_case(lambda a, b: np.block([[a, b], [b, a]]), (2, 2), (2, 2))),
    np.meshgrid: _cases(_case(lambda a, b: np.meshgrid(a, b), (3,), (2,)),
                        _case(lambda a, b: np.meshgrid(a, b, indexing="ij", sparse=True), (3,), (2,))),
    np.lib.stride_tricks.sliding_window_view: _cases(
        _case(lambda a: np.lib.stride_tricks.sliding_window_view(a, 3), (5,))),
}


#: Shape, structure and constructors (the forward table: rules/structure.py).
STRUCTURE_VJPS: dict[Any, FunctionRule] = {
    **{f: FunctionRule(_gather, cases) for f, cases in _GATHER_FUNCTIONS.items()},
    # --- triangles
    np.tril: FunctionRule(_triangle, _cases(_case(lambda a: np.tril(a), SQ), _case(lambda a: np.tril(a, 1), A3))),
    np.triu: FunctionRule(_triangle, _cases(_case(lambda a: np.triu(a, -1), A3))),
    # --- the angle of a complex number
    np.angle: FunctionRule(_composite(_angle), _cases(_case(lambda a: np.angle(a), A, complex_ok=True),
                                                      _case(lambda a: np.angle(a * (1 + 1j), deg=True), A))),
    # --- constructors (reached through like=)
    np.linspace: FunctionRule(_composite(_linspace), _cases(
        _case(lambda a, b: np.linspace(a, b, 5), (), ()), _case(lambda a, b: np.linspace(a, b, 4, endpoint=False), (2,), ()),
        _case(lambda a, b: np.linspace(a, b, 3, axis=1), (2, 1), (3,)),
        _case(lambda a, b: np.linspace(a, b, 4, retstep=True), (), ()))),
    np.logspace: FunctionRule(_composite(_logspace), _cases(
        _case(lambda a, b: np.logspace(a, b, 4), (), (), low=-1.0, high=1.0),
        _case(lambda a, b, c: np.logspace(a, b, 4, base=c, axis=-1), (), (), (3,), low=0.5, high=1.5))),
    np.geomspace: FunctionRule(_composite(_geomspace), _cases(
        _case(lambda a, b: np.geomspace(a, b, 5), (), (), low=0.5, high=3.0, complex_ok=True),
        _case(lambda a, b: np.geomspace(-a, -b, 4, endpoint=False), (), (), low=0.5, high=3.0),
        _case(lambda a: np.geomspace(a, 5.0, 4, axis=1), (3,), low=0.5, high=2.0),
        _case(lambda a, b: np.geomspace(a, b, 3, dtype=np.complex128), (), (), low=0.5, high=3.0))),
    np.arange: FunctionRule(_arange, _cases(
        _case(lambda a, s: np.arange(a, 4.0, s, like=a), (), (), low=0.5, high=0.9),
        _case(lambda a, b: np.arange(a + 1.0, b + 3.0, like=a), (), (), low=0.1, high=0.4),
        _case(lambda b: np.arange(b + 3.0, like=b), (), low=0.1, high=0.4))),
    np.full: FunctionRule(_composite(_full), _cases(
        _case(lambda a: np.full((3, 4), a, like=a), ()),
        _case(lambda a: np.full((2, 5), a, like=a), (5,)),
        _case(lambda a: np.full(4, a, np.complex128, like=a), ()))),
    # --- np.lib.scimath: complex arithmetic where NumPy switches to it
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
        np.result_type,
    )},
}

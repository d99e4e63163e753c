"""From a NumPy protocol call to a rule: split Duals from constants, find the
outermost tag, refuse what cannot be differentiated, and hand the values and
batched tangents to the rule's kind.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, cast

import numpy as np

from dualnumpy.core import dual as _dual
from dualnumpy.core.tangent import dtype_of, shape_of, shift_axis, tangent_dtype, to_shape
from dualnumpy.core.types import ArrayLike
from dualnumpy.rules import ufuncs as ufunc_table
from dualnumpy.rules.kinds import (
    _IN_PLACE_MIN_SIZE,
    Custom,
    Elementwise,
    Linear,
    NonDiff,
    PiecewiseConstant,
    Unsupported,
    _Unit,
    accumulate,
    align,
    loud,
    overwritable,
    promote_int,
    quiet,
    result_dtype,
    times_tangent,
    zero_like_batched,
)

_PLAIN_SCALARS = (int, float, complex, bool, np.generic)


def is_dual(x: Any) -> bool:
    return isinstance(x, _dual.Dual)


_OWN_TYPES = frozenset({np.ndarray, float, int, complex, bool, np.float64, np.float32, type(None)})


def foreign(x: Any) -> bool:
    """Another library's array type: let it (or NumPy) decide, as NEP 13 asks."""
    if type(x) in _OWN_TYPES:
        return False
    if isinstance(x, (_dual.Dual, np.ndarray, *_PLAIN_SCALARS)) or x is None:
        return False
    return hasattr(type(x), "__array_ufunc__") or hasattr(type(x), "__array_function__")


def top_tag(args: Sequence[Any]) -> int:
    return max(x.tag for x in args if isinstance(x, _dual.Dual))


def batched_tangent(x: Any) -> ArrayLike:
    """The tangent of ``x`` in the layout rules see: ``(k, *shape)``."""
    t = x.tangent
    if len(shape_of(t)) != len(shape_of(x.value)):
        return t
    if type(t) is np.ndarray:
        return t[None]
    if isinstance(t, (float, int, complex)):
        return np.array([t], dtype=tangent_dtype(dtype_of(x.value)))
    return t[None]


def split(args: Sequence[Any], tag: int) -> tuple[list[Any], list[Any], bool]:
    """Values and batched tangents of the Duals of ``tag``; other arguments are constants.

    Returns whether any input was batched, so the output keeps that layout.
    All Duals of one tag must agree on the number of directions k.
    """
    values: list[Any] = []
    tangents: list[Any] = []
    batched = False
    ks: set[int] = set()
    unbatched = False
    for x in args:
        if isinstance(x, _dual.Dual) and x.tag == tag:
            value = x.value
            values.append(value)
            t = x.tangent
            t_shape = shape_of(t)
            if len(t_shape) != len(shape_of(value)):  # stored with its batch axis already
                tangents.append(t)
                batched = True
                ks.add(t_shape[0])
            else:
                tangents.append(t[None] if type(t) is np.ndarray else batched_tangent(x))
                unbatched = True
        else:
            values.append(x)
            tangents.append(None)
    if len(ks) > 1 or (ks and unbatched):
        found = sorted(ks) + (["a single direction"] if unbatched else [])
        raise ValueError(
            f"Duals of one tag carry different numbers of directions ({found}); seed every "
            f"input with tangents of the same leading size k (jvp(..., batched=True) checks this)"
        )
    return values, tangents, batched


def unbatch(t: ArrayLike, batched: bool) -> ArrayLike:
    return t if batched else t[0]


def wrap(ans: Any, t: ArrayLike, tag: int, batched: bool) -> _dual.Dual:
    dtype = result_dtype(ans)
    if isinstance(t, np.ndarray) and t.dtype != dtype:
        t = t.astype(dtype)
    return _dual.make(ans, unbatch(t, batched), tag)


def strip(args: Sequence[Any], tag: int) -> list[Any]:
    return [x.value if isinstance(x, _dual.Dual) and x.tag == tag else x for x in args]


def refuse_out(name: str, kwargs: dict[str, Any]) -> None:
    out = kwargs.pop("out", None)
    if out is None:
        return
    outs = out if isinstance(out, tuple) else (out,)
    if any(o is not None for o in outs):
        raise TypeError(
            f"{name}: out= is not supported with Duals: a Dual is immutable and a plain out "
            f"array cannot hold a tangent. Assign the result instead: y = {name}(...)"
        )


def refuse_where(name: str, kwargs: dict[str, Any]) -> None:
    where = kwargs.pop("where", True)
    if where is not True:
        raise TypeError(
            f"{name}: where= is not supported with Duals (it leaves masked entries "
            f"uninitialised); use np.where(mask, {name}(...), fallback) instead"
        )


def unsupported(name: str, fix: str) -> NoReturn:
    raise TypeError(f"{name} is not supported for Duals: {fix}")


# ---------------------------------------------------------------- ufuncs


def ufunc(uf: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if method == "__call__" and not kwargs and fast_elementwise:
        rule = ufunc_table.UFUNC_RULES.get(uf)
        if type(rule) is Elementwise and uf.nout == 1:
            fast = _elementwise_call(uf, rule, inputs)
            if fast is not None:
                return fast
    if any(foreign(x) for x in inputs):
        return NotImplemented
    name = f"np.{uf.__name__}" + ("" if method == "__call__" else f".{method}")
    refuse_out(name, kwargs)
    rule = ufunc_table.UFUNC_RULES.get(uf)
    if rule is None:
        unsupported(name, "this ufunc is not classified yet; apply it to d.value, or file an issue")
    if isinstance(rule, Unsupported):
        unsupported(name, rule.fix)
    tag = top_tag(inputs)
    if isinstance(rule, NonDiff):
        return getattr(uf, method)(*strip(inputs, tag), **kwargs)
    if method == "__call__":
        refuse_where(name, kwargs)
        for key in ("axes", "axis", "keepdims"):
            if key in kwargs:
                unsupported(f"{name}({key}=...)", "move the axes with np.moveaxis first")
        values, tangents, batched = split(inputs, tag)
        ans = uf(*values, **kwargs)
        t = call_jvp(uf, rule, ans, values, tangents)
        if uf.nout > 1:
            return tuple(o if to is None else wrap(o, to, tag, batched) for o, to in zip(ans, t, strict=True))
        return wrap(ans, t, tag, batched)
    if method == "outer":
        a, b = inputs
        return uf(np.reshape(a, shape_of(a) + (1,) * len(shape_of(b))), b, **kwargs)
    if method in ("reduce", "accumulate", "reduceat"):
        values, tangents, batched = split(inputs, tag)
        if tangents[0] is None:
            unsupported(name, "the indices of reduceat cannot be Duals; pass d.value")
        ans, t = _UFUNC_METHODS[method](uf, rule, values, tangents[0], kwargs, name)
        return wrap(ans, t, tag, batched)
    unsupported(name, "it updates its first argument in place; use d.at[index].add(v) "
                      "(or .set / .multiply)")


# Elementwise ufuncs of one output, on which most NumPy code spends its operations, take
# _elementwise_call; tests turn it off to compare with the general path.
fast_elementwise = True
_FAST_PARTS = frozenset({np.ndarray, np.float64, np.float32, np.complex128, np.complex64})
_FAST_CONSTANTS = _FAST_PARTS | {float, int, np.int64}


def _elementwise_call(uf: np.ufunc, rule: Elementwise, inputs: tuple[Any, ...]) -> _dual.Dual | None:
    """``Elementwise.jvp`` for the common case, without the batched layout's bookkeeping.

    It applies when every Dual has the same tag, a floating ndarray or NumPy-scalar value,
    a tangent of the same kind (or a Python float, as 0-d Duals store it) and the same
    number of directions, and every other input is an ndarray, a NumPy float or a Python
    float or int. It computes the same products and sums in the same order as the
    general path, so the result is bit-identical (tests/test_fast_path.py); anything
    else returns None and takes the general path, which also owns every error message.
    """
    tag = -1
    k: int | None = None  # the batch size; None for single-direction tangents
    tangents: list[Any] = []
    for x in inputs:
        kind = type(x)
        if kind is _dual.Dual:
            value, t = x.value, x.tangent
            if type(value) not in _FAST_PARTS or value.dtype.kind not in "fc":
                return None
            if type(t) is float:  # the general path's batched_tangent() makes the same cast
                t = value.dtype.type(t)
            elif type(t) not in _FAST_PARTS:
                return None
            x_k = None if t.ndim == value.ndim else t.shape[0]
            if tag == -1:
                tag, k = x.tag, x_k
            elif x.tag != tag or x_k != k:
                return None
            tangents.append(t)
        elif kind in _FAST_CONSTANTS:
            tangents.append(None)
        else:
            return None
    values = [x.value if type(x) is _dual.Dual else x for x in inputs]
    ans = uf(*values)
    dtype = result_dtype(ans)
    promoted: list[Any] | None = None
    total: Any = None
    total_owned = False
    ndim = ans.ndim if type(ans) is np.ndarray else 0
    for partial, t in zip(rule.partials, tangents, strict=True):
        if t is None:
            continue
        if k is not None and t.ndim <= ndim:  # (k, *shape) against a higher-rank output: see align()
            t = align(t, ndim)
        if isinstance(partial, _Unit):
            if not partial.sign:
                continue
            term, owned = (t, False) if partial.sign > 0 else (-t, True)
        else:
            if promoted is None:
                promoted = [promote_int(v, dtype) for v in values]
            if rule.singular:
                token = quiet()
                try:
                    d = partial(ans, *promoted)
                    term = times_tangent(d, t, True, (ans, *values, *promoted))
                finally:
                    loud(token)
            else:
                d = partial(ans, *promoted)
                # the size gate first: small arrays, the common case, skip the call
                if (type(d) is np.ndarray and d.size >= _IN_PLACE_MIN_SIZE
                        and overwritable(d, t, (ans, *values, *promoted))):
                    term = np.multiply(d, t, out=d)
                else:
                    term = d * t
            owned = True
        if total is None:  # inline, as above: one call fewer per operation
            total, total_owned = term, owned
        else:
            total, total_owned = accumulate(total, total_owned, term, owned)
    shape = ans.shape if type(ans) is np.ndarray else ()
    full = shape if k is None else (k, *shape)
    if total is None:  # no input moves the output (the sign source of copysign)
        total = np.zeros(full, dtype)
    elif total.shape != full:
        total = np.broadcast_to(total, full)
    if total.dtype != dtype:
        total = total.astype(dtype)
    return _dual.make(ans, total, tag)


def call_jvp(uf: np.ufunc, rule: Any, ans: Any, values: Sequence[Any], tangents: Sequence[Any]) -> Any:
    if isinstance(rule, Elementwise):
        return rule.jvp(ans, values, tangents)
    if isinstance(rule, Linear):
        return rule.jvp(uf, ans, tangents)
    if isinstance(rule, Custom):
        return rule.jvp(ans, values, tangents)
    if isinstance(rule, PiecewiseConstant):
        k = next(shape_of(t)[0] for t in tangents if t is not None)
        if uf.nout > 1:
            return tuple(zero_like_batched(k, a) for a in ans)
        return zero_like_batched(k, ans)
    raise AssertionError(f"unknown rule kind {rule!r}")


def _binary_fold_step(uf: np.ufunc, rule: Any) -> Callable[..., Any]:
    if not isinstance(rule, (Elementwise, Custom, PiecewiseConstant)) or uf.nin != 2 or uf.nout != 1:
        unsupported(f"np.{uf.__name__}.reduce", "only binary differentiable ufuncs reduce")

    def step(ans: Any, left: Any, right: Any, t_left: Any, t_right: Any) -> Any:
        return call_jvp(uf, rule, ans, (left, right), (t_left, t_right))

    return step


def _normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(sorted(int(a) % ndim if ndim else 0 for a in axes))


def _reduce(uf: np.ufunc, rule: Any, values: list[Any], t: Any, kwargs: dict[str, Any],
            name: str) -> tuple[Any, Any]:
    refuse_where(name, kwargs)
    if uf in ufunc_table.UNRELIABLE_REDUCE:
        unsupported(name, "NumPy's own reduce of this ufunc does not compute the left fold on "
                          f"contiguous rows; write the fold instead: {ufunc_table.UNRELIABLE_REDUCE[uf]}")
    (x,) = values
    ans = uf.reduce(x, **kwargs)
    ndim = len(shape_of(x))
    axes = _normalize_axes(kwargs.get("axis", 0), ndim)
    kept = tuple(i for i in range(ndim) if i not in axes)
    kept_shape = tuple(shape_of(x)[i] for i in kept)
    n = math.prod(shape_of(x)[i] for i in axes)
    k = shape_of(t)[0]
    order = kept + axes
    if order == tuple(range(ndim)):  # reduced axes already last: no transpose needed
        xc = x.reshape((*kept_shape, n)) if ndim else np.reshape(x, (1,))
        tc = t.reshape((k, *kept_shape, n))
    else:
        xc = np.reshape(np.transpose(x, order), (*kept_shape, n))
        tc = np.reshape(np.transpose(t, (0, *(i + 1 for i in order))), (k, *kept_shape, n))
    # Without initial=, NumPy folds from the identity: np.hypot.reduce([-1.5]) is 1.5, not -1.5.
    initial = kwargs.get("initial", uf.identity if uf not in ufunc_table.REDUCERS else None)
    if initial is not None:
        start = np.full((*kept_shape, 1), initial, dtype=dtype_of(ans))
        xc = np.concatenate([start, xc], axis=-1)
        tc = np.concatenate([np.zeros((k, *kept_shape, 1), dtype=result_dtype(ans)), tc], axis=-1)
        n += 1
    ans_c = np.reshape(ans, kept_shape)
    if n == 0:
        tc_out = np.zeros((k, *kept_shape), dtype=result_dtype(ans))
    elif isinstance(rule, PiecewiseConstant) and n > 1:  # a single element reduces to itself
        tc_out = np.zeros((k, *kept_shape), dtype=result_dtype(ans))
    elif uf in ufunc_table.REDUCERS:
        tc_out = ufunc_table.REDUCERS[uf](xc, tc, ans_c)
    else:
        step = _binary_fold_step(uf, rule)
        acc, t_acc = xc[..., 0], tc[..., 0]
        for i in range(1, n):
            new = uf(acc, xc[..., i])
            t_acc = step(new, acc, xc[..., i], t_acc, tc[..., i])
            acc = new
        tc_out = t_acc
    return ans, np.reshape(tc_out, (k, *shape_of(ans)))


def _accumulate(uf: np.ufunc, rule: Any, values: list[Any], t: Any, kwargs: dict[str, Any],
                name: str) -> tuple[Any, Any]:
    (x,) = values
    ans = uf.accumulate(x, **kwargs)
    ndim = len(shape_of(x))
    axis = _normalize_axes(kwargs.get("axis", 0), ndim)[0]
    xc = np.moveaxis(x, axis, -1)
    tc = np.moveaxis(t, axis + 1, -1)
    ans_c = np.moveaxis(ans, axis, -1)
    n = shape_of(xc)[-1]
    if isinstance(rule, PiecewiseConstant):  # the first output is the first element itself
        tc_out = np.concatenate([tc[..., :1], 0.0 * tc[..., 1:]], axis=-1)
    elif uf in ufunc_table.ACCUMULATORS:
        tc_out = ufunc_table.ACCUMULATORS[uf](xc, tc, ans_c)
    elif n == 0:
        tc_out = tc
    else:
        step = _binary_fold_step(uf, rule)
        outs = [tc[..., 0]]
        for i in range(1, n):
            outs.append(step(ans_c[..., i], ans_c[..., i - 1], xc[..., i], outs[-1], tc[..., i]))
        tc_out = np.stack(outs, axis=-1)
    return ans, np.moveaxis(tc_out, -1, axis + 1)


def _reduceat(uf: np.ufunc, rule: Any, values: list[Any], t: Any, kwargs: dict[str, Any],
              name: str) -> tuple[Any, Any]:
    if uf not in (np.add, np.subtract):
        unsupported(name, "only the linear np.add.reduceat is differentiable; "
                          "use np.split and reduce each piece")
    x, indices = values
    ans = uf.reduceat(x, indices, **kwargs)
    axis = kwargs.pop("axis", 0)
    return ans, uf.reduceat(t, indices, axis=shift_axis(axis, len(shape_of(x))), **kwargs)


_UFUNC_METHODS = {"reduce": _reduce, "accumulate": _accumulate, "reduceat": _reduceat}


# ---------------------------------------------------------------- NumPy functions


def function(func: Any, types: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    for t in types:
        if not issubclass(t, (_dual.Dual, np.ndarray)):
            return NotImplemented
    from dualnumpy.rules import function_kinds as _fnkinds
    from dualnumpy.rules import functions  # the tables import this module

    rule = functions.FUNCTION_RULES.get(func)
    name = _fnkinds.public_name(func)
    if rule is None:
        unsupported(name, "it is not in dualnumpy's function table yet; apply it to d.value if "
                          "its result does not depend on the tangent, or write it with "
                          "supported NumPy operations")
    return _fnkinds.apply(rule, func, name, args, kwargs)


# ---------------------------------------------------------------- indexing


def _flat(items: Sequence[Any]) -> list[Any]:
    return [y for x in items for y in (_flat(x) if isinstance(x, (list, tuple)) else [x])]


def _check_index(index: Any) -> Any:
    parts = index if isinstance(index, tuple) else (index,)
    for part in parts:
        if isinstance(part, _dual.Dual) or (
                isinstance(part, list) and any(isinstance(p, _dual.Dual) for p in _flat(part))):
            raise TypeError(
                "an index cannot be a Dual (indices have no derivative); index with d.value, "
                "or np.round(d.value).astype(int) for computed positions"
            )
    return index


def _tangent_index(index: Any) -> tuple[Any, ...]:
    """The index applied to a tangent whose batch axis was moved last.

    With the batch axis last, NumPy's placement of advanced-index dimensions is
    the same as for the value; an Ellipsis must not swallow the batch axis.
    """
    parts = index if isinstance(index, tuple) else (index,)
    if any(p is Ellipsis for p in parts):
        return (*parts, slice(None))
    return parts


def getitem(x: _dual.Dual, index: Any) -> Any:
    index = _check_index(index)
    ans = x.value[index]
    t = batched_tangent(x)
    t_last = np.moveaxis(t, 0, -1)[_tangent_index(index)]
    return wrap(ans, np.moveaxis(t_last, -1, 0), x.tag, x.batched)


def index_update(x: _dual.Dual, index: Any, new: Any, how: str) -> _dual.Dual:
    """``x.at[index].set/add/multiply(new)`` without mutating ``x``."""
    index = _check_index(index)
    if how == "multiply":
        return _multiply_update(x, index, new)
    tag = x.tag
    if isinstance(new, _dual.Dual) and new.tag > tag:
        return index_update(_zero_lift(x, new), index, new, how)
    new_value, new_t = (new.value, batched_tangent(new)) if is_dual(new) and new.tag == tag else (new, None)
    value = x.value
    if is_dual(new_value) and not is_dual(value):
        value = _zero_lift(value, new_value)
    if is_dual(value):
        updater = value.at[index]
        out_value = updater.set(new_value) if how == "set" else updater.add(new_value)
    else:
        if not isinstance(new_value, (int, float, complex, np.ndarray, np.generic)):
            new_value = np.asarray(new_value)
        # Python scalars are weak (NEP 50): a float32 Dual stays float32.
        out_value = np.array(value, dtype=np.result_type(dtype_of(value), new_value), copy=True)
        if how == "set":
            out_value[index] = new_value
        else:
            np.add.at(out_value, index, new_value)
    t = batched_tangent(x)
    if new_t is not None and (x.batched != new.batched or shape_of(new_t)[0] != shape_of(t)[0]):
        raise ValueError(
            f"x.at[...]: the Dual written in carries {shape_of(new_t)[0] if new.batched else 'one'} "
            f"direction(s) but x carries {shape_of(t)[0] if x.batched else 'one'}; Duals of one "
            f"tag need the same number of directions k"
        )
    tindex = _tangent_index(index)
    src = None if new_t is None else np.moveaxis(
        to_shape(new_t, shape_of(ans_shape_probe(value, index))), 0, -1)
    if new_t is not None and is_dual(src) and not is_dual(t):
        t = _zero_lift(t, new_t)
    if is_dual(t):
        updater = np.moveaxis(t, 0, -1).at[tindex]
        t_last = updater.set(0.0 if src is None else src) if how == "set" else (
            updater.add(0.0 if src is None else src))
        return wrap(out_value, np.moveaxis(t_last, -1, 0), tag, x.batched)
    t_last = np.array(np.moveaxis(t, 0, -1), copy=True)
    if src is None:
        if how == "set":
            t_last[tindex] = 0.0
    elif how == "set":
        t_last[tindex] = src
    else:
        np.add.at(t_last, tindex, src)
    return wrap(out_value, np.moveaxis(t_last, -1, 0), tag, x.batched)


def _zero_lift(x: Any, like: _dual.Dual) -> _dual.Dual:
    """``x`` as a Dual of ``like``'s tag with a zero tangent in ``like``'s layout (k directions)."""
    lead = shape_of(like.tangent)[:1] if like.batched else ()
    return _dual.Dual(x, np.zeros(lead + shape_of(x), dtype=tangent_dtype(dtype_of(x))), tag=like.tag)


def _multiply_update(x: _dual.Dual, index: Any, new: Any) -> _dual.Dual:
    """``x.at[index].multiply(new)``: every update applies, repeated indices included
    (as ``.add`` does, and as in JAX), in rounds of distinct positions."""
    positions = np.arange(x.size).reshape(x.shape)[index]
    flat_pos = np.ravel(positions)
    if np.unique(flat_pos).size == flat_pos.size:
        return index_update(x, index, x[index] * new, "set")
    factors = np.ravel(np.broadcast_to(new, shape_of(positions)))
    order = np.argsort(flat_pos, kind="stable")
    ranks = np.empty(flat_pos.size, dtype=np.intp)
    sorted_pos = flat_pos[order]
    first = np.concatenate([[True], sorted_pos[1:] != sorted_pos[:-1]])
    ranks[order] = np.arange(flat_pos.size) - np.maximum.accumulate(
        np.where(first, np.arange(flat_pos.size), 0))
    flat: Any = np.reshape(x, (-1,))
    for r in range(int(ranks.max()) + 1):
        sel = np.flatnonzero(ranks == r)
        where = flat_pos[sel]
        flat = index_update(flat, where, flat[where] * factors[sel], "set")
    return cast(_dual.Dual, np.reshape(flat, x.shape))


def ans_shape_probe(value: Any, index: Any) -> Any:
    """The shape of ``value[index]``, computed on a cheap stand-in of the same shape."""
    return np.empty(shape_of(value), dtype=np.bool_)[index]

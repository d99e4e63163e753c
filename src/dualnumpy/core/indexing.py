"""Indexing a Dual (``d[i]``) and its functional updates (``d.at[i].set/add/multiply``).

The tangent is indexed with its batch axis moved last, so NumPy places
advanced-index dimensions the same way for the value and the tangent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from dualnumpy.core import interpreter
from dualnumpy.core.interpreter import batched_tangent, is_dual, wrap
from dualnumpy.core.tangent import dtype_of, shape_of, tangent_dtype, to_shape

if TYPE_CHECKING:
    from dualnumpy.core.dual import Dual


def _flat(items: Sequence[Any]) -> list[Any]:
    return [y for x in items for y in (_flat(x) if isinstance(x, (list, tuple)) else [x])]


def _check_index(index: Any) -> Any:
    parts = index if isinstance(index, tuple) else (index,)
    for part in parts:
        if isinstance(part, interpreter.Dual) or (
                isinstance(part, list) and any(isinstance(p, interpreter.Dual) for p in _flat(part))):
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


_BASIC = (int, slice, type(None), type(Ellipsis), np.integer)


def getitem(x: Dual, index: Any) -> Any:
    index = _check_index(index)
    ans = x.value[index]
    t = batched_tangent(x)
    parts = index if type(index) is tuple else (index,)
    if all(isinstance(p, _BASIC) and not isinstance(p, bool) for p in parts):
        # basic indexing (a view) keeps the axes in order: index behind the batch axis
        return wrap(ans, t[(slice(None), *parts)], x.tag, x.batched)
    t_last = np.moveaxis(t, 0, -1)[_tangent_index(index)]
    return wrap(ans, np.moveaxis(t_last, -1, 0), x.tag, x.batched)


def index_update(x: Dual, index: Any, new: Any, how: str) -> Dual:
    """``x.at[index].set/add/multiply(new)`` without mutating ``x``."""
    index = _check_index(index)
    if how == "multiply":
        return _multiply_update(x, index, new)
    tag = x.tag
    if isinstance(new, interpreter.Dual) and new.tag > tag:
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
    if is_dual(t) or interpreter.foreign(t):  # a tangent that is a number (nesting) or a duck
        updater = np.moveaxis(t, 0, -1).at[tindex]  # array (linearize's recording): functional
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


def _zero_lift(x: Any, like: Dual) -> Dual:
    """``x`` as a Dual of ``like``'s tag with a zero tangent in ``like``'s layout (k directions)."""
    lead = shape_of(like.tangent)[:1] if like.batched else ()
    lifted: Dual = interpreter.Dual(x, np.zeros(lead + shape_of(x), dtype=tangent_dtype(dtype_of(x))), tag=like.tag)
    return lifted


def _multiply_update(x: Dual, index: Any, new: Any) -> Dual:
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
    return cast("Dual", np.reshape(flat, x.shape))


def ans_shape_probe(value: Any, index: Any) -> Any:
    """The shape of ``value[index]``, computed on a cheap stand-in of the same shape."""
    return np.empty(shape_of(value), dtype=np.bool_)[index]

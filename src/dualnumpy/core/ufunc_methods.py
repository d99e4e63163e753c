"""``ufunc.reduce``, ``ufunc.accumulate`` and ``ufunc.reduceat`` on batched tangents.

The reduced axes are moved last and flattened; a ufunc with a dedicated reducer
or accumulator in ``rules/ufuncs.py`` uses it, any other binary rule is folded
with its own ``jvp``. The interpreter has split the Duals and finds the tag.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from dualnumpy.core.refusals import refuse_where, unsupported
from dualnumpy.core.tangent import dtype_of, shape_of, shift_axis
from dualnumpy.rules import ufuncs as ufunc_table
from dualnumpy.rules.kinds import NO_PARAMS, Custom, Elementwise, PiecewiseConstant, result_dtype


def _binary_fold_step(uf: np.ufunc, rule: Any) -> Callable[..., Any]:
    if not isinstance(rule, (Elementwise, Custom, PiecewiseConstant)) or uf.nin != 2 or uf.nout != 1:
        unsupported(f"np.{uf.__name__}.reduce", "only binary differentiable ufuncs reduce")

    def step(ans: Any, left: Any, right: Any, t_left: Any, t_right: Any) -> Any:
        return rule.jvp(ans, (left, right), (t_left, t_right), NO_PARAMS)

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


METHODS: dict[str, Callable[..., tuple[Any, Any]]] = {
    "reduce": _reduce, "accumulate": _accumulate, "reduceat": _reduceat,
}

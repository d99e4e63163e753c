"""Tangent layout: the batch-axis contract of DESIGN.md section 3.

A Dual stores its tangent as given: the value's shape (one direction) or
``(k, *shape)`` (k directions). Rules see one layout only, with the leading
batch axis; these helpers move between the two and line tangents up against
outputs of higher rank.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dualnumpy.core.types import ArrayLike


def shape_of(x: Any) -> tuple[int, ...]:
    """Shape of an array, a scalar, or a Dual (whose ``shape`` is its value's)."""
    if type(x) is np.ndarray:  # the common case first: this runs several times per operation
        return x.shape  # type: ignore[no-any-return]
    shape = getattr(x, "shape", None)
    if shape is None:
        return ()
    return tuple(shape)


def ndim_of(x: Any) -> int:
    return len(shape_of(x))


def align(t: ArrayLike, ndim: int) -> ArrayLike:
    """Reshape a batched tangent ``(k, *shape)`` to ``(k, 1, ..., 1, *shape)``.

    Without this, ``(k, 3)`` against an output of shape ``(2, 3)`` broadcasts
    the batch axis against the data axis, silently so when ``k == 2``.
    """
    missing = ndim + 1 - ndim_of(t)
    if missing <= 0:
        return t
    shape = shape_of(t)
    return np.reshape(t, (shape[0],) + (1,) * missing + shape[1:])


def to_shape(t: ArrayLike, shape: tuple[int, ...]) -> ArrayLike:
    """Broadcast a batched tangent to ``(k, *shape)`` (a read-only view)."""
    if shape_of(t)[1:] == shape:
        return t
    t = align(t, len(shape))
    full = (shape_of(t)[0], *shape)
    if shape_of(t) == full:
        return t
    return np.broadcast_to(t, full)


def shift_axis(axis: Any, ndim: int) -> Any:
    """Map an ``axis`` argument of the value to the batched tangent.

    Non-negative axes move up by one; negative ones already count from the end;
    ``None`` (all axes) becomes every data axis of the tangent.
    """
    if axis is None:
        return tuple(range(1, ndim + 1))
    if isinstance(axis, tuple):
        return tuple(shift_axis(a, ndim) for a in axis)
    a = int(axis)
    return a + 1 if a >= 0 else a


def zeros(k: int, shape: tuple[int, ...], dtype: Any) -> np.ndarray[Any, Any]:
    """A structural zero tangent in the batched layout."""
    return np.zeros((k, *shape), dtype=dtype)


def dtype_of(x: Any) -> np.dtype[Any]:
    """The dtype of an array, a Dual (its value's), or a Python scalar."""
    if type(x) is np.ndarray:
        return x.dtype  # type: ignore[no-any-return]
    dtype = getattr(x, "dtype", None)
    if dtype is not None:
        return np.dtype(dtype)  # type: ignore[no-any-return]
    return np.dtype(np.result_type(x))


def tangent_dtype(value_dtype: Any) -> np.dtype[Any]:
    """Tangents follow the value's inexact dtype; integer and bool values get float64."""
    dtype: np.dtype[Any] = np.dtype(value_dtype)
    if dtype.kind in "fc":
        return dtype
    return np.dtype(np.float64)

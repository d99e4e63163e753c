"""The calculus of np.fft: one line per function (see rules/_fnkinds.py for the kinds).

Every transform is linear (the real-input and Hermitian ones are R-linear), so
the tangent is the same transform of the tangent, with the axes counted from
the end so they skip the leading batch axis. ``n``, ``s`` and ``norm`` pass
through unchanged. ``fftfreq``/``rfftfreq`` take no arrays and never dispatch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dualnumpy.core.types import ArrayLike
from dualnumpy.numpy_facts.sampling import Sample, arr, sample
from dualnumpy.numpy_facts.signatures import Args
from dualnumpy.rules.kinds import Linear, Rule

# ---------------------------------------------------------------- tangent helpers


def _from_end(axis: Any, ndim: int) -> int:
    """A data axis of the value as a negative index: the same axis of the batched tangent."""
    return int(axis) % ndim - ndim if ndim else int(axis)


def _fft_1d(func: Any) -> Callable[[ArrayLike, int, Args], ArrayLike]:
    """fft, ifft, rfft, irfft, hfft, ihfft: one axis, ``n`` and ``norm``."""

    def tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
        return func(t, n=args.get("n"), axis=_from_end(args.get("axis", -1), ndim), norm=args.get("norm"))

    return tangent


def _nd_axes(args: Args, ndim: int, default: Any) -> tuple[int, ...]:
    """NumPy's axes for the n-dimensional transforms, counted from the end.

    Without ``axes``: every axis, or the last ``len(s)`` ones when ``s`` is given.
    """
    axes = args.get("axes", default)
    if axes is None:
        s = args.get("s")
        return tuple(range(-ndim, 0)) if s is None else tuple(range(-len(s), 0))
    return tuple(_from_end(a, ndim) for a in axes)


def _fft_nd(func: Any, default: Any) -> Callable[[ArrayLike, int, Args], ArrayLike]:
    """fft2, fftn, rfft2, rfftn, ifft2, ifftn, irfft2, irfftn: ``s``, ``axes`` and ``norm``."""

    def tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
        return func(t, s=args.get("s"), axes=_nd_axes(args, ndim, default), norm=args.get("norm"))

    return tangent


def _shift(func: Any) -> Callable[[ArrayLike, int, Args], ArrayLike]:
    """fftshift, ifftshift: a roll along ``axes`` (every axis when None)."""

    def tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
        axes = args.get("axes")
        if axes is None:
            shifted: Any = tuple(range(-ndim, 0))
        elif isinstance(axes, (tuple, list)):
            shifted = tuple(_from_end(a, ndim) for a in axes)
        else:
            shifted = _from_end(axes, ndim)
        return func(t, axes=shifted)

    return tangent


V = arr(8, seed=20)
M = arr(4, 6, seed=21)
C3 = arr(2, 4, 5, seed=22)


def _on(x: Any, **kwargs: Any) -> Sample:
    return sample(x, complex_ok=True, **kwargs)


# ---------------------------------------------------------------- the table

FFT_RULES: dict[Any, Rule] = {
    # --- complex transforms along one axis
    np.fft.fft:       Linear((_on(V), _on(M, axis=0), _on(M, n=9, norm="ortho"),
                                                          _on(C3, n=3, axis=1, norm="forward")), arg="a", tangent=_fft_1d(np.fft.fft)),
    np.fft.ifft:      Linear((_on(V), _on(M, axis=-2, norm="ortho"),
                                                            _on(C3, n=7, axis=2)), arg="a", tangent=_fft_1d(np.fft.ifft)),
    # --- real-input and Hermitian transforms (R-linear)
    np.fft.rfft:      Linear((sample(V), sample(M, axis=0, n=5),
                                                            sample(C3, norm="ortho")), arg="a", tangent=_fft_1d(np.fft.rfft)),
    np.fft.irfft:     Linear((_on(V), _on(M, axis=0, n=7), _on(C3, n=6, norm="forward")), arg="a", tangent=_fft_1d(np.fft.irfft)),
    np.fft.hfft:      Linear((_on(V), _on(M, axis=0, n=5, norm="ortho")), arg="a", tangent=_fft_1d(np.fft.hfft)),
    np.fft.ihfft:     Linear((sample(V), sample(M, axis=0, n=6, norm="forward")), arg="a", tangent=_fft_1d(np.fft.ihfft)),
    # --- n-dimensional transforms
    np.fft.fft2:      Linear((_on(M), _on(C3, axes=(0, 2), s=(3, 6)),
                                                                     _on(C3, norm="ortho")), arg="a", tangent=_fft_nd(np.fft.fft2, (-2, -1))),
    np.fft.ifft2:     Linear((_on(M), _on(C3, axes=(2, 0))), arg="a", tangent=_fft_nd(np.fft.ifft2, (-2, -1))),
    np.fft.fftn:      Linear((_on(M), _on(C3), _on(C3, axes=(1,), norm="ortho"),
                                                                  _on(C3, s=(3, 5), axes=(0, -1))), arg="a", tangent=_fft_nd(np.fft.fftn, None)),
    np.fft.ifftn:     Linear((_on(C3), _on(C3, s=(2, 3, 3), axes=(0, 1, 2))), arg="a", tangent=_fft_nd(np.fft.ifftn, None)),
    np.fft.rfft2:     Linear((sample(M), sample(C3, axes=(2, 1), s=(5, 3))), arg="a", tangent=_fft_nd(np.fft.rfft2, (-2, -1))),
    np.fft.irfft2:    Linear((_on(M), _on(C3, s=(4, 7), norm="ortho")), arg="a", tangent=_fft_nd(np.fft.irfft2, (-2, -1))),
    np.fft.rfftn:     Linear((sample(C3), sample(C3, axes=(0, 2), norm="forward")), arg="a", tangent=_fft_nd(np.fft.rfftn, None)),
    np.fft.irfftn:    Linear((_on(C3), _on(C3, s=(3, 6), axes=(1, 2))), arg="a", tangent=_fft_nd(np.fft.irfftn, None)),
    # --- reordering
    np.fft.fftshift:  Linear((_on(V), _on(C3), _on(C3, axes=1), _on(C3, axes=(0, -1))), arg="x", tangent=_shift(np.fft.fftshift)),
    np.fft.ifftshift: Linear((_on(V), _on(M, axes=(0,)), _on(C3, axes=-2)), arg="x", tangent=_shift(np.fft.ifftshift)),
}

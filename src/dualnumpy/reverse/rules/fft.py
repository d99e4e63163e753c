"""The VJP rules of np.fft: the 1-D transforms as nodes whose adjoint is the dual
transform, the n-d ones as compositions of them, and fftshift/ifftshift (gathers).

The forward counterpart is ``dualnumpy.rules.fft``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..node import Var, value_of
from .common import (
    A3,
    A,
    Case,
    FunctionRule,
    _bind,
    _call_values,
    _case,
    _cases,
    _composite,
    _gather,
    _missing,
    node,
)

# ---------------------------------------------------------------- discrete Fourier transforms
#
# The unnormalised DFT F has the adjoint F^H = n ifft; with NumPy's norm
# modes, the adjoint of fft(norm=m) is ifft(norm=dual(m)) and vice versa.

_DUAL_NORM: dict[Any, Any] = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}


def _fit_length(c: Any, length: int, axis: int) -> Any:
    """Truncate or zero-pad ``c`` along ``axis`` to ``length`` (the adjoint of the reverse)."""
    n = np.shape(c)[axis]
    if n > length:
        return np.take(c, np.arange(length), axis=axis)
    if n < length:
        pad = [(0, 0)] * np.ndim(c)
        pad[axis] = (0, length - n)
        return np.pad(c, pad)
    return c


def _fft1(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """fft/ifft (complex linear), rfft (real to half spectrum), irfft (half spectrum to real)."""
    b = _bind(func, name, args, kwargs)
    x, n, axis, norm = b["a"], b["n"], int(b["axis"]), b["norm"]
    if not isinstance(x, Var):
        raise _missing(f"{name} with a Var outside a")
    value = _call_values(func, args, kwargs)
    axis %= max(x.ndim, 1)
    length = x.shape[axis]
    dual = _DUAL_NORM[norm]
    if func in (np.fft.fft, np.fft.ifft):
        adjoint = np.fft.ifft if func is np.fft.fft else np.fft.fft

        def vjp(g: Any) -> Any:
            return _fit_length(adjoint(g, axis=axis, norm=dual), length, axis)
    elif func is np.fft.rfft:
        size = length if n is None else int(n)

        def vjp(g: Any) -> Any:
            # rows 0..size//2 of the DFT: the adjoint pads the half spectrum and inverts
            return _fit_length(np.fft.ifft(_fit_length(g, size, axis), axis=axis, norm=dual), length, axis)
    else:  # irfft: x_t = sum_k w_k Re(X_k e^(2 pi i k t / N)) / N, w_k = 2 inside, 1 at 0 and N/2
        size = 2 * (length - 1) if n is None else int(n)

        def vjp(g: Any) -> Any:
            c = np.fft.rfft(g, axis=axis, norm=dual)
            m = np.shape(c)[axis]
            w = np.full(m, 2.0)
            w[0] = 1.0
            if size % 2 == 0:
                w[-1] = 1.0
            shape = [1] * np.ndim(c)
            shape[axis] = m
            return _fit_length(c * np.reshape(w, shape), length, axis)

    return node(value, [(x, vjp)])


def _fftn_axes(b: dict[str, Any], ndim: int, default_axes: Any) -> tuple[list[Any], list[int]]:
    s, axes = b["s"], b["axes"] if b["axes"] is not None else default_axes
    if axes is None:
        axes = list(range(-len(s), 0)) if s is not None else list(range(ndim))
    axes = [int(a) for a in axes]
    sizes: list[Any] = list(s) if s is not None else [None] * len(axes)
    return sizes, axes


def _fftn(one: Any, default_axes: Any) -> Callable[[dict[str, Any]], Any]:
    """fftn/ifftn/fft2/ifft2 as the 1-D transform along each axis (last first, as NumPy)."""

    def build(b: dict[str, Any]) -> Any:
        a = b["a"]
        sizes, axes = _fftn_axes(b, np.ndim(value_of(a)), default_axes)
        for ii in reversed(range(len(axes))):
            a = one(a, n=sizes[ii], axis=axes[ii], norm=b["norm"])
        return a

    return build


def _rfftn(inverse: bool, default_axes: Any) -> Callable[[dict[str, Any]], Any]:
    """rfftn: rfft along the last axis, then fft along the others; irfftn the reverse."""

    def build(b: dict[str, Any]) -> Any:
        a = b["a"]
        sizes, axes = _fftn_axes(b, np.ndim(value_of(a)), default_axes)
        if not inverse:
            a = np.fft.rfft(a, n=sizes[-1], axis=axes[-1], norm=b["norm"])
            for ii in range(len(axes) - 1):
                a = np.fft.fft(a, n=sizes[ii], axis=axes[ii], norm=b["norm"])
            return a
        for ii in range(len(axes) - 1):
            a = np.fft.ifft(a, n=sizes[ii], axis=axes[ii], norm=b["norm"])
        return np.fft.irfft(a, n=sizes[-1], axis=axes[-1], norm=b["norm"])

    return build


def _hfft(b: dict[str, Any]) -> Any:
    return np.fft.irfft(np.conjugate(b["a"]), n=b["n"], axis=b["axis"], norm=_DUAL_NORM[b["norm"]])


def _ihfft(b: dict[str, Any]) -> Any:
    return np.conjugate(np.fft.rfft(b["a"], n=b["n"], axis=b["axis"], norm=_DUAL_NORM[b["norm"]]))


# ---------------------------------------------------------------- the table


_GATHER_FUNCTIONS: dict[Any, tuple[Case, ...]] = {
    np.fft.fftshift: _cases(_case(lambda a: np.fft.fftshift(a), A), _case(lambda a: np.fft.fftshift(a, axes=1), A3)),
    np.fft.ifftshift: _cases(_case(lambda a: np.fft.ifftshift(a), (5,))),
}


#: np.fft (the forward table: rules/fft.py).
FFT_VJPS: dict[Any, FunctionRule] = {
    **{f: FunctionRule(_gather, cases) for f, cases in _GATHER_FUNCTIONS.items()},
    # --- Fourier transforms
    np.fft.fft: FunctionRule(_fft1, _cases(
        _case(lambda a: np.fft.fft(a), (5,), complex_ok=True),
        _case(lambda a: np.fft.fft(a, n=6, axis=0, norm="ortho"), A, complex_ok=True),
        _case(lambda a: np.fft.fft(a, n=2, norm="forward"), A, complex_ok=True))),
    np.fft.ifft: FunctionRule(_fft1, _cases(
        _case(lambda a: np.fft.ifft(a), (5,), complex_ok=True),
        _case(lambda a: np.fft.ifft(a, n=4, axis=0, norm="forward"), A, complex_ok=True))),
    np.fft.rfft: FunctionRule(_fft1, _cases(
        _case(lambda a: np.fft.rfft(a), (6,)), _case(lambda a: np.fft.rfft(a), (5,)),
        _case(lambda a: np.fft.rfft(a, n=4, axis=0, norm="ortho"), (3, 2)))),
    np.fft.irfft: FunctionRule(_fft1, _cases(
        _case(lambda a: np.fft.irfft(a), (4,), complex_ok=True),
        _case(lambda a: np.fft.irfft(a, n=5), (3,), complex_ok=True),
        _case(lambda a: np.fft.irfft(a, n=8, axis=0, norm="forward"), (3, 2), complex_ok=True))),
    np.fft.fft2: FunctionRule(_composite(_fftn(np.fft.fft, (-2, -1))), _cases(
        _case(lambda a: np.fft.fft2(a), A, complex_ok=True))),
    np.fft.ifft2: FunctionRule(_composite(_fftn(np.fft.ifft, (-2, -1))), _cases(
        _case(lambda a: np.fft.ifft2(a, s=(3, 2)), A, complex_ok=True))),
    np.fft.fftn: FunctionRule(_composite(_fftn(np.fft.fft, None)), _cases(
        _case(lambda a: np.fft.fftn(a, norm="ortho"), A3, complex_ok=True),
        _case(lambda a: np.fft.fftn(a, axes=(0, 2)), A3, complex_ok=True))),
    np.fft.ifftn: FunctionRule(_composite(_fftn(np.fft.ifft, None)), _cases(
        _case(lambda a: np.fft.ifftn(a), A3, complex_ok=True))),
    np.fft.rfft2: FunctionRule(_composite(_rfftn(False, (-2, -1))), _cases(_case(lambda a: np.fft.rfft2(a), A3))),
    np.fft.irfft2: FunctionRule(_composite(_rfftn(True, (-2, -1))), _cases(
        _case(lambda a: np.fft.irfft2(a), A3, complex_ok=True))),
    np.fft.rfftn: FunctionRule(_composite(_rfftn(False, None)), _cases(_case(lambda a: np.fft.rfftn(a), A3))),
    np.fft.irfftn: FunctionRule(_composite(_rfftn(True, None)), _cases(
        _case(lambda a: np.fft.irfftn(a, s=(2, 3, 5), axes=(0, 1, 2)), A3, complex_ok=True))),
    np.fft.hfft: FunctionRule(_composite(_hfft), _cases(_case(lambda a: np.fft.hfft(a), (4,), complex_ok=True))),
    np.fft.ihfft: FunctionRule(_composite(_ihfft), _cases(_case(lambda a: np.fft.ihfft(a), (5,)))),
}

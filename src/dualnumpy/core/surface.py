"""The ndarray surface that Dual and the reverse reference's Var share.

Every Python operator and array method is a NumPy call, so the type's own
``__array_ufunc__``/``__array_function__`` decides what it means: one set of
rules for ``d * e`` and ``np.multiply(d, e)``, for ``d.sum()`` and ``np.sum(d)``.
In-place operators are absent on purpose: both types are immutable, so Python
turns ``x += y`` into ``x = x + y``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NoReturn

import numpy as np

# NumPy's stubs cannot know that these types dispatch through the array protocols.
_np: Any = np


class ArraySurface:
    """Operators and ndarray methods as NumPy calls; subclasses supply the protocols."""

    __slots__ = ()

    # Supplied by the subclass (the value's shape, and its own indexing).
    @property
    def shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    def __getitem__(self, index: Any) -> Any:
        raise NotImplementedError

    def _refuse_scalar(self, kind: str) -> NoReturn:
        """Raise the type's own error for a conversion that would drop the derivative."""
        raise NotImplementedError

    def __float__(self) -> NoReturn:
        self._refuse_scalar("float")

    def __int__(self) -> NoReturn:
        self._refuse_scalar("int")

    def __complex__(self) -> NoReturn:
        self._refuse_scalar("complex")

    def item(self, *args: Any) -> NoReturn:
        self._refuse_scalar("item")

    def tolist(self) -> NoReturn:
        self._refuse_scalar("tolist")

    @property
    def T(self) -> Any:
        return _np.transpose(self)

    @property
    def mT(self) -> Any:
        return _np.matrix_transpose(self)

    @property
    def real(self) -> Any:
        return _np.real(self)

    @property
    def imag(self) -> Any:
        return _np.imag(self)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError(f"len() of a 0-d {type(self).__name__}")
        return self.shape[0]

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]

    # ------------------------------------------------------------ Python operators

    def __add__(self, other: Any) -> Any:
        return _np.add(self, other)

    def __radd__(self, other: Any) -> Any:
        return _np.add(other, self)

    def __sub__(self, other: Any) -> Any:
        return _np.subtract(self, other)

    def __rsub__(self, other: Any) -> Any:
        return _np.subtract(other, self)

    def __mul__(self, other: Any) -> Any:
        return _np.multiply(self, other)

    def __rmul__(self, other: Any) -> Any:
        return _np.multiply(other, self)

    def __truediv__(self, other: Any) -> Any:
        return _np.divide(self, other)

    def __rtruediv__(self, other: Any) -> Any:
        return _np.divide(other, self)

    def __floordiv__(self, other: Any) -> Any:
        return _np.floor_divide(self, other)

    def __rfloordiv__(self, other: Any) -> Any:
        return _np.floor_divide(other, self)

    def __mod__(self, other: Any) -> Any:
        return _np.remainder(self, other)

    def __rmod__(self, other: Any) -> Any:
        return _np.remainder(other, self)

    def __divmod__(self, other: Any) -> Any:
        return _np.divmod(self, other)

    def __rdivmod__(self, other: Any) -> Any:
        return _np.divmod(other, self)

    def __pow__(self, other: Any, modulo: Any = None) -> Any:
        if modulo is not None:
            raise TypeError("pow() with a modulus has no derivative; use pow(x, y) % m on values")
        return _np.power(self, other)

    def __rpow__(self, other: Any) -> Any:
        return _np.power(other, self)

    def __matmul__(self, other: Any) -> Any:
        return _np.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Any:
        return _np.matmul(other, self)

    def __neg__(self) -> Any:
        return _np.negative(self)

    def __pos__(self) -> Any:
        return _np.positive(self)

    def __abs__(self) -> Any:
        return _np.absolute(self)

    def __invert__(self) -> Any:
        return _np.invert(self)

    def __and__(self, other: Any) -> Any:
        return _np.bitwise_and(self, other)

    def __or__(self, other: Any) -> Any:
        return _np.bitwise_or(self, other)

    def __xor__(self, other: Any) -> Any:
        return _np.bitwise_xor(self, other)

    def __lshift__(self, other: Any) -> Any:
        return _np.left_shift(self, other)

    def __rshift__(self, other: Any) -> Any:
        return _np.right_shift(self, other)

    def __eq__(self, other: Any) -> Any:
        return _np.equal(self, other)

    def __ne__(self, other: Any) -> Any:
        return _np.not_equal(self, other)

    def __lt__(self, other: Any) -> Any:
        return _np.less(self, other)

    def __le__(self, other: Any) -> Any:
        return _np.less_equal(self, other)

    def __gt__(self, other: Any) -> Any:
        return _np.greater(self, other)

    def __ge__(self, other: Any) -> Any:
        return _np.greater_equal(self, other)

    # ------------------------------------------------------------ ndarray methods

    def sum(self, axis: Any = None, dtype: Any = None, keepdims: bool = False, **kwargs: Any) -> Any:
        return _np.sum(self, axis=axis, dtype=dtype, keepdims=keepdims, **kwargs)

    def mean(self, axis: Any = None, dtype: Any = None, keepdims: bool = False, **kwargs: Any) -> Any:
        return _np.mean(self, axis=axis, dtype=dtype, keepdims=keepdims, **kwargs)

    def prod(self, axis: Any = None, dtype: Any = None, keepdims: bool = False, **kwargs: Any) -> Any:
        return _np.prod(self, axis=axis, dtype=dtype, keepdims=keepdims, **kwargs)

    def max(self, axis: Any = None, keepdims: bool = False, **kwargs: Any) -> Any:
        return _np.max(self, axis=axis, keepdims=keepdims, **kwargs)

    def min(self, axis: Any = None, keepdims: bool = False, **kwargs: Any) -> Any:
        return _np.min(self, axis=axis, keepdims=keepdims, **kwargs)

    def var(self, axis: Any = None, ddof: float = 0, keepdims: bool = False, **kwargs: Any) -> Any:
        return _np.var(self, axis=axis, ddof=ddof, keepdims=keepdims, **kwargs)

    def std(self, axis: Any = None, ddof: float = 0, keepdims: bool = False, **kwargs: Any) -> Any:
        return _np.std(self, axis=axis, ddof=ddof, keepdims=keepdims, **kwargs)

    def cumsum(self, axis: Any = None, dtype: Any = None) -> Any:
        return _np.cumsum(self, axis=axis, dtype=dtype)

    def cumprod(self, axis: Any = None, dtype: Any = None) -> Any:
        return _np.cumprod(self, axis=axis, dtype=dtype)

    def all(self, axis: Any = None, keepdims: bool = False) -> Any:
        return _np.all(self, axis=axis, keepdims=keepdims)

    def any(self, axis: Any = None, keepdims: bool = False) -> Any:
        return _np.any(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis: Any = None, keepdims: bool = False) -> Any:
        return _np.argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis: Any = None, keepdims: bool = False) -> Any:
        return _np.argmin(self, axis=axis, keepdims=keepdims)

    def argsort(self, axis: int = -1, kind: Any = None) -> Any:
        return _np.argsort(self, axis=axis, kind=kind)

    def nonzero(self) -> Any:
        return _np.nonzero(self)

    def reshape(self, *shape: Any, order: str = "C") -> Any:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _np.reshape(self, shape, order=order)

    def transpose(self, *axes: Any) -> Any:
        if (len(axes) == 1 and isinstance(axes[0], (tuple, list))) or axes == (None,):
            return _np.transpose(self, axes[0])
        return _np.transpose(self, axes or None)

    def swapaxes(self, axis1: int, axis2: int) -> Any:
        return _np.swapaxes(self, axis1, axis2)

    def ravel(self, order: str = "C") -> Any:
        return _np.ravel(self, order=order)

    def flatten(self, order: str = "C") -> Any:
        return _np.ravel(self, order=order)

    def squeeze(self, axis: Any = None) -> Any:
        return _np.squeeze(self, axis=axis)

    def diagonal(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
        return _np.diagonal(self, offset, axis1, axis2)

    def trace(self, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None) -> Any:
        return _np.trace(self, offset, axis1, axis2, dtype)

    def repeat(self, repeats: Any, axis: Any = None) -> Any:
        return _np.repeat(self, repeats, axis=axis)

    def take(self, indices: Any, axis: Any = None, mode: str = "raise") -> Any:
        return _np.take(self, indices, axis=axis, mode=mode)

    def dot(self, other: Any) -> Any:
        return _np.dot(self, other)

    def clip(self, min: Any = None, max: Any = None) -> Any:
        return _np.clip(self, min, max)

    def conj(self) -> Any:
        return _np.conjugate(self)

    def conjugate(self) -> Any:
        return _np.conjugate(self)

    def round(self, decimals: int = 0) -> Any:
        return _np.round(self, decimals)

    def __round__(self, ndigits: int | None = None) -> Any:
        # Like ndarray (and JAX): round(x) stays array-like (for a Dual, with a zero tangent).
        return _np.round(self, 0 if ndigits is None else ndigits)

    def astype(self, dtype: Any, copy: bool = True) -> Any:
        return _np.astype(self, dtype, copy=copy)

    def copy(self) -> Any:
        return _np.copy(self)

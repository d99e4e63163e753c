"""The Dual type: a value, a tangent, and the tag of the perturbation it carries.

Every Python operator calls the NumPy ufunc, so operators and ``np.*`` share
one set of rules. The entry points of the NumPy protocols live here and hand
over to ``_dispatch``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np

from . import _dispatch
from ._tags import DEFAULT_TAG
from ._tangent import dtype_of, shape_of, tangent_dtype
from ._types import ArrayLike

# NumPy's stubs cannot know that a Dual dispatches through the array protocols.
_np: Any = np

_BAD_KINDS = {"b": "bool", "O": "object", "U": "string", "S": "bytes", "V": "void",
              "M": "datetime", "m": "timedelta"}


_dtype_of = dtype_of


def _as_array_like(x: Any, role: str) -> Any:
    if isinstance(x, (Dual, np.ndarray, np.generic, float, complex)):
        return x
    if isinstance(x, int) and not isinstance(x, bool):
        return x
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as error:
        raise TypeError(f"Dual {role} must be array-like; got {type(x).__name__}: {error}") from None


def _check_dtype(x: Any, role: str) -> np.dtype[Any]:
    dtype = _dtype_of(x)
    if dtype.kind in _BAD_KINDS:
        raise TypeError(
            f"Dual {role} has {_BAD_KINDS[dtype.kind]} dtype {dtype}; derivatives need numbers: "
            f"pass a float or complex array (integers are promoted to float64)"
        )
    return dtype


def _validate(value: Any, tangent: Any, tag: int) -> tuple[Any, Any]:
    if not isinstance(tag, int) or isinstance(tag, bool):
        raise TypeError(f"Dual tag must be an int; got {type(tag).__name__}")
    value = _as_array_like(value, "value")
    tangent = _as_array_like(tangent, "tangent")
    for role, part in (("value", value), ("tangent", tangent)):
        if isinstance(part, Dual) and part.tag >= tag:
            raise ValueError(
                f"a Dual of tag {tag} may hold a Dual {role} only of a lower tag; got tag "
                f"{part.tag}. Nest Duals with the outer perturbation outermost, or use "
                f"dualnumpy.jvp, which chooses tags for you"
            )
    value_dtype = _check_dtype(value, "value")
    tangent_kind = _check_dtype(tangent, "tangent").kind
    value_shape, tangent_shape = shape_of(value), shape_of(tangent)
    if tangent_shape != value_shape and tangent_shape[1:] != value_shape:
        raise ValueError(
            f"Dual tangent shape {tangent_shape} does not match value shape {value_shape}: "
            f"give a tangent of shape {value_shape} (one direction) or (k, *{value_shape}) "
            f"(k directions)"
        )
    if tangent_shape != value_shape and len(tangent_shape) != len(value_shape) + 1:
        raise ValueError(
            f"Dual tangent shape {tangent_shape} does not match value shape {value_shape}"
        )
    if tangent_kind == "c" and value_dtype.kind != "c":
        raise TypeError(
            f"Dual has a complex tangent for a real value of dtype {value_dtype}; make the "
            f"value complex (x.astype(complex)) or pass a real tangent"
        )
    if not isinstance(tangent, Dual):
        wanted = tangent_dtype(value_dtype)
        if isinstance(tangent, (int, float, complex)):
            tangent = wanted.type(tangent) if wanted != np.float64 else float(tangent)  # type: ignore[arg-type]
        elif tangent.dtype != wanted:
            tangent = tangent.astype(wanted)
    return value, tangent


@dataclass(frozen=True, slots=True, eq=False)
class Dual:
    """A value together with its tangent(s): the forward-mode number.

    Parameters
    ----------
    value : array_like
        The primal value: an array, a scalar, or a Dual of a lower tag (nesting).
    tangent : array_like
        The same shape as ``value`` (one direction), or ``(k, *value.shape)``
        for k directions at once. Integer tangents are promoted; a float32
        value keeps float32 tangents.
    tag : int, optional
        The perturbation this Dual carries. Transforms such as :func:`jvp`
        draw fresh tags; Duals built by hand share tag 0.

    Examples
    --------
    >>> import numpy as np
    >>> import dualnumpy as dn
    >>> x = dn.Dual(np.array([0.0, 1.0]), np.array([1.0, 1.0]))
    >>> y = np.sin(x) * x
    >>> y.tangent  # sin(x) + x cos(x)
    array([0.        , 1.38177329])
    """

    value: Any
    tangent: Any
    tag: int = field(default=DEFAULT_TAG, kw_only=True)

    # Unhashable like ndarray; `==` is elementwise.
    __hash__ = None  # type: ignore[assignment]
    __array_priority__ = 1000

    def __post_init__(self) -> None:
        value, tangent = _validate(self.value, self.tangent, self.tag)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "tangent", tangent)

    # ------------------------------------------------------------ NumPy protocols

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return _dispatch.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return _dispatch.function(func, types, args, kwargs)

    def __array__(self, dtype: Any = None, copy: Any = None) -> NoReturn:
        raise TypeError(
            "a Dual cannot become a plain NumPy array: that would drop its tangent. Use "
            "d.value for the value alone, and np.stack([...]) instead of np.array([...]) "
            "to build an array from Duals"
        )

    # ------------------------------------------------------------ refusals

    def _refuse_scalar(self, kind: str) -> NoReturn:
        raise TypeError(
            f"{kind}() of a Dual would drop its tangent. Use d.value for the number alone; "
            f"for math functions use NumPy's (np.sin, not math.sin)"
        )

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

    def __setitem__(self, index: Any, new: Any) -> NoReturn:
        raise TypeError(
            "a Dual is immutable; use the functional update d = d.at[index].set(value) "
            "(also .add and .multiply)"
        )

    def __bool__(self) -> bool:
        return bool(self.value)

    # ------------------------------------------------------------ array-like surface

    @property
    def shape(self) -> tuple[int, ...]:
        return shape_of(self.value)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def dtype(self) -> np.dtype[Any]:
        return _dtype_of(self.value)

    @property
    def batched(self) -> bool:
        """True when the tangent holds k directions, shape ``(k, *shape)``."""
        return len(shape_of(self.tangent)) != len(self.shape)

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

    @property
    def at(self) -> _IndexUpdater:
        """Functional index updates: ``d.at[i].set(v)``, ``.add(v)``, ``.multiply(v)``."""
        return _IndexUpdater(self)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d Dual")
        return self.shape[0]

    def __iter__(self) -> Iterator[Dual]:
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, index: Any) -> Any:
        return _dispatch.getitem(self, index)

    def __repr__(self) -> str:
        tag = "" if self.tag == DEFAULT_TAG else f", tag={self.tag}"
        return f"Dual(value={self.value!r}, tangent={self.tangent!r}{tag})"

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
        # Like ndarray (and JAX): round(d) stays an array-like, here a Dual with zero tangent.
        return _np.round(self, 0 if ndigits is None else ndigits)

    def astype(self, dtype: Any, copy: bool = True) -> Any:
        return _np.astype(self, dtype, copy=copy)

    def copy(self) -> Any:
        return _np.copy(self)

    def sort(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("d.sort() sorts in place and a Dual is immutable; use np.sort(d)")

    def fill(self, value: Any) -> NoReturn:
        raise TypeError("d.fill() writes in place and a Dual is immutable; use np.full_like(d, v)")


class _IndexUpdater:
    __slots__ = ("_dual",)

    def __init__(self, dual: Dual) -> None:
        self._dual = dual

    def __getitem__(self, index: Any) -> _IndexUpdate:
        return _IndexUpdate(self._dual, index)


class _IndexUpdate:
    """The functional counterpart of ``x[index] = v`` (and ``+=``, ``*=``)."""

    __slots__ = ("_dual", "_index")

    def __init__(self, dual: Dual, index: Any) -> None:
        self._dual = dual
        self._index = index

    def get(self) -> Any:
        return self._dual[self._index]

    def set(self, new: ArrayLike) -> Dual:
        return _dispatch.index_update(self._dual, self._index, new, "set")

    def add(self, new: ArrayLike) -> Dual:
        return _dispatch.index_update(self._dual, self._index, new, "add")

    def multiply(self, new: ArrayLike) -> Dual:
        return _dispatch.index_update(self._dual, self._index, new, "multiply")


_new = object.__new__
_slots = vars(Dual)
_set_value = _slots["value"].__set__
_set_tangent = _slots["tangent"].__set__
_set_tag = _slots["tag"].__set__


def make(value: Any, tangent: Any, tag: int) -> Dual:
    """Build a Dual from a rule's output, trusting its shapes and dtypes."""
    dual: Dual = _new(Dual)
    _set_value(dual, value)
    _set_tangent(dual, tangent)
    _set_tag(dual, tag)
    return dual

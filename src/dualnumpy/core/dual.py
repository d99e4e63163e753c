"""The Dual type: a value, a tangent, and the tag of the perturbation it carries.

Every Python operator calls the NumPy ufunc, so operators and ``np.*`` share
one set of rules. The entry points of the NumPy protocols live here and hand
over to ``core.interpreter`` (and ``core.indexing``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np

from dualnumpy.core import indexing, interpreter
from dualnumpy.core.surface import ArraySurface
from dualnumpy.core.tags import DEFAULT_TAG, carrier_tags
from dualnumpy.core.tangent import dtype_of, shape_of, tangent_dtype
from dualnumpy.core.types import ArrayLike
from dualnumpy.numpy_facts.sampling import use_like_factory
from dualnumpy.rules.kinds import register_number_type

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
class Dual(ArraySurface):
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
        return interpreter.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return interpreter.function(func, types, args, kwargs)

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

    def __setitem__(self, index: Any, new: Any) -> NoReturn:
        raise TypeError(
            "a Dual is immutable; use the functional update d = d.at[index].set(value) "
            "(also .add and .multiply)"
        )

    def __bool__(self) -> bool:
        if self.tag in carrier_tags:
            raise TypeError("bool() of a tangent inside a custom_jvp rule: the rule runs for k "
                            "directions at once; dualnumpy runs such a rule once per direction")
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
    def at(self) -> _IndexUpdater:
        """Functional index updates: ``d.at[i].set(v)``, ``.add(v)``, ``.multiply(v)``."""
        return _IndexUpdater(self)

    def __getitem__(self, index: Any) -> Any:
        return indexing.getitem(self, index)

    def __repr__(self) -> str:
        tag = "" if self.tag == DEFAULT_TAG else f", tag={self.tag}"
        return f"Dual(value={self.value!r}, tangent={self.tangent!r}{tag})"

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
        return indexing.index_update(self._dual, self._index, new, "set")

    def add(self, new: ArrayLike) -> Dual:
        return indexing.index_update(self._dual, self._index, new, "add")

    def multiply(self, new: ArrayLike) -> Dual:
        return indexing.index_update(self._dual, self._index, new, "multiply")


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


register_number_type(Dual)
interpreter.use_number_type(Dual, make)
use_like_factory(lambda: Dual(np.zeros(1), np.zeros(1)))  # only the type of like= matters

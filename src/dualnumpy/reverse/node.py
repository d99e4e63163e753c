"""The tape: a node type ``Var`` and the backward pass over a graph of them.

A ``Var`` holds a NumPy value (always a real NumPy array, never an object
array), the ``Var`` s it was computed from (its parents) and one VJP closure
per parent. Ordinary NumPy code runs on it through ``__array_ufunc__`` and
``__array_function__``, exactly as it runs on a forward-mode ``Dual``; the
rules that build new nodes live in :mod:`dualnumpy.reverse.rules`.

Conventions of the backward pass
--------------------------------
* Cotangents are pulled back with the adjoint of the JVP for the real inner
  product ``<u, v> = Re(sum(conj(u) * v))``. For a holomorphic operation with
  derivative ``f'`` this is ``g * conj(f')`` (the conjugate transpose); for an
  R-linear one such as ``abs``, ``real``, ``imag``, ``conj`` it is the adjoint of
  that R-linear map. With real values it is the ordinary transpose.
* A closure may return its cotangent in the broadcast shape of the operation;
  the pass sums it over broadcast axes (keeping axes of size 1) before it
  reaches the parent.
* A real parent keeps the real part of a complex cotangent (the adjoint of the
  embedding of R in C), and every cotangent takes its parent's dtype.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import numpy as np

from ..core.surface import ArraySurface

# NumPy's stubs cannot know that a Var dispatches through the array protocols.
_np: Any = np

#: A VJP closure: the cotangent of the node in, the cotangent of one parent out.
VJP = Callable[[Any], Any]

_counter = itertools.count()


class NoReference(TypeError):
    """The reverse-mode reference has no VJP rule for an operation.

    The message names the operation. The comparison harness reports such a
    case as "no reference" instead of a failure.

    Examples
    --------
    >>> import numpy as np
    >>> from dualnumpy import reverse
    >>> try:
    ...     reverse.vjp(np.linalg.eig, np.eye(2))
    ... except reverse.NoReference as error:
    ...     print(str(error).split(":")[0])
    np.linalg.eig
    """


def inexact_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype a cotangent of a value of ``dtype`` carries (integers become float64)."""
    if dtype.kind in "fc":
        return dtype
    return np.dtype(np.float64)


class _Unset:
    """Stands for the rule tables until reverse/rules/__init__.py hands them in."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("the reverse reference's rules are not loaded; import dualnumpy.reverse")


# The rule tables (reverse/rules), handed in by use_rules: they import this module, so this
# module does not import them, and the two form no import cycle.
_rules: Any = _Unset()


def use_rules(rules: Any) -> None:
    """Called once by reverse/rules/__init__.py: the module whose apply_ufunc, apply_function,
    getitem and index_update the Var's protocol methods call."""
    global _rules
    _rules = rules


class Var(ArraySurface):
    """A node of the reverse-mode tape: a value, its parents and their VJPs.

    Parameters
    ----------
    value : array_like
        The primal value. Integers and bools are kept as given; leaves made by
        :func:`dualnumpy.reverse.vjp` are always float or complex.
    parents : sequence of Var, optional
        The nodes this value was computed from.
    vjps : sequence of callable, optional
        One closure per parent: the cotangent of this node in, that parent's
        cotangent out (possibly in a broadcast shape).

    Examples
    --------
    >>> import numpy as np
    >>> from dualnumpy.reverse import Var
    >>> x = Var(np.array([1.0, 2.0]))
    >>> y = np.sin(x) * x
    >>> y.parents[0].parents[0] is x
    True
    """

    __slots__ = ("order", "parents", "value", "vjps")
    __array_priority__ = 1000
    __hash__ = None  # type: ignore[assignment]

    value: np.ndarray[Any, Any]
    parents: tuple[Var, ...]
    vjps: tuple[VJP, ...]
    order: int

    def __init__(self, value: Any, parents: Sequence[Var] = (), vjps: Sequence[VJP] = ()) -> None:
        if isinstance(value, Var):
            raise TypeError("a Var cannot hold another Var (nesting is not supported by the reference)")
        array = np.asarray(value)
        if array.dtype.kind in "OUSVMm":
            raise TypeError(f"a Var holds numbers; got dtype {array.dtype}")
        if len(parents) != len(vjps):
            raise ValueError(f"a Var needs one VJP per parent; got {len(parents)} parents and "
                             f"{len(vjps)} VJPs")
        self.value = array
        self.parents = tuple(parents)
        self.vjps = tuple(vjps)
        self.order = next(_counter)

    # ------------------------------------------------------------ NumPy protocols

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return _rules.apply_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        for t in types:
            if not issubclass(t, (Var, np.ndarray)):
                return NotImplemented
        return _rules.apply_function(func, tuple(args), dict(kwargs))

    def __array__(self, dtype: Any = None, copy: Any = None) -> NoReturn:
        raise NoReference(
            "np.asarray (conversion of a reverse Var to a plain array): the reference cannot "
            "follow a value out of its tape; use np.stack instead of np.array for lists"
        )

    # ------------------------------------------------------------ refusals

    def _refuse_scalar(self, kind: str) -> NoReturn:
        raise NoReference(f"{kind}() of a reverse Var: it would drop the tape; use NumPy functions "
                          f"(np.sin, not math.sin)")

    def __index__(self) -> NoReturn:
        self._refuse_scalar("index")

    def __setitem__(self, index: Any, new: Any) -> NoReturn:
        raise TypeError("a reverse Var is immutable; use x.at[index].set(v) or .add(v)")

    def __bool__(self) -> bool:
        return bool(self.value)

    # ------------------------------------------------------------ array-like surface

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)

    @property
    def ndim(self) -> int:
        return int(self.value.ndim)

    @property
    def size(self) -> int:
        return int(self.value.size)

    @property
    def dtype(self) -> np.dtype[Any]:
        dtype: np.dtype[Any] = self.value.dtype
        return dtype

    @property
    def at(self) -> _IndexUpdater:
        """Functional index updates: ``x.at[i].set(v)`` and ``x.at[i].add(v)``."""
        return _IndexUpdater(self)

    def __getitem__(self, index: Any) -> Any:
        return _rules.getitem(self, index)

    def __repr__(self) -> str:
        return f"Var({self.value!r}, parents={len(self.parents)})"

    # ------------------------------------------------------------ ndarray methods (the rest: ArraySurface)

    def argmax(self, axis: Any = None, keepdims: bool = False) -> Any:
        return np.argmax(self.value, axis=axis, keepdims=keepdims)

    def argmin(self, axis: Any = None, keepdims: bool = False) -> Any:
        return np.argmin(self.value, axis=axis, keepdims=keepdims)


class _IndexUpdater:
    __slots__ = ("x",)

    def __init__(self, x: Var) -> None:
        self.x = x

    def __getitem__(self, index: Any) -> _IndexUpdate:
        return _IndexUpdate(self.x, index)


class _IndexUpdate:
    __slots__ = ("index", "x")

    def __init__(self, x: Var, index: Any) -> None:
        self.x, self.index = x, index

    def set(self, new: Any) -> Var:
        updated: Var = _rules.index_update(self.x, self.index, new, "set")
        return updated

    def add(self, new: Any) -> Var:
        updated: Var = _rules.index_update(self.x, self.index, new, "add")
        return updated

    def multiply(self, new: Any) -> NoReturn:
        raise NoReference("x.at[...].multiply: the reverse reference has no VJP rule for it")


def value_of(x: Any) -> Any:
    """The value of a Var, anything else as it is."""
    return x.value if isinstance(x, Var) else x


# ---------------------------------------------------------------- backward pass


def unbroadcast(c: Any, shape: tuple[int, ...]) -> Any:
    """Sum a cotangent of a broadcast shape back to ``shape`` (axes of size 1 kept).

    A cotangent smaller than ``shape`` (a scalar zero, or a size-1 axis where
    the parent had n entries, all of which got the same cotangent) is broadcast.
    """
    c = np.asarray(c)
    if c.shape == shape:
        return c
    extra = c.ndim - len(shape)
    if extra > 0:
        c = np.sum(c, axis=tuple(range(extra)))
    if c.ndim == len(shape):
        axes = tuple(i for i, (n, m) in enumerate(zip(shape, c.shape, strict=True)) if n == 1 and m != 1)
        if axes:
            c = np.sum(c, axis=axes, keepdims=True)
    if c.shape != shape:
        try:
            c = np.broadcast_to(c, shape)
        except ValueError:
            raise AssertionError(f"reverse reference: a cotangent of shape {c.shape} does not fit "
                                 f"its value of shape {shape} (a bug in a VJP rule)") from None
    return c


def fit(c: Any, parent: Var) -> Any:
    """A closure's cotangent as the parent's: shape reduced, real part for a real parent, dtype."""
    c = _np.asarray(c)
    want = inexact_dtype(parent.value.dtype)
    if c.dtype.kind == "c" and want.kind != "c":
        c = c.real
    c = unbroadcast(c, parent.shape)
    return c.astype(want, copy=False)


def toposort(roots: Sequence[Var]) -> list[Var]:
    """Every node reachable from ``roots``, parents before children."""
    seen: set[int] = set()
    order: list[Var] = []
    stack: list[tuple[Var, bool]] = [(r, False) for r in reversed(roots)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for parent in reversed(node.parents):
            if id(parent) not in seen:
                stack.append((parent, False))
    return order


def backward(roots: Sequence[tuple[Var, Any]], wanted: Sequence[Var]) -> list[np.ndarray[Any, Any] | None]:
    """Pull the cotangents of ``roots`` back to the ``wanted`` nodes.

    Nodes are visited in reverse topological order, so a node's cotangent is
    complete (every child has contributed) before its VJPs run. Returns one
    cotangent per wanted node, ``None`` for a node the roots do not depend on.
    """
    cots: dict[int, np.ndarray[Any, Any]] = {}
    keep = {id(w) for w in wanted}

    def accumulate(node: Var, c: np.ndarray[Any, Any]) -> None:
        previous = cots.get(id(node))
        cots[id(node)] = c if previous is None else previous + c

    for node, c in roots:
        accumulate(node, fit(c, node))
    for node in reversed(toposort([r for r, _ in roots])):
        g = cots.get(id(node))
        if g is None or not node.parents:
            continue
        if id(node) not in keep:
            del cots[id(node)]
        with np.errstate(all="ignore"):
            for parent, vjp in zip(node.parents, node.vjps, strict=True):
                c = vjp(g)
                if c is not None:
                    accumulate(parent, fit(c, parent))
    return [cots.get(id(w)) for w in wanted]


__all__ = ["VJP", "NoReference", "Var", "backward", "fit", "inexact_dtype", "toposort", "unbroadcast",
           "value_of"]

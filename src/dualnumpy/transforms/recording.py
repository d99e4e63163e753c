"""Recording the tangent map of one evaluation as a straight-line program.

``linearize`` runs the user's function once on Duals whose tangent is a
``Recorded`` array. The rules (``dualnumpy.rules``) compute tangents with NumPy
calls on the values they are given, so a ``Recorded`` tangent hands every call
made on it to ``__array_ufunc__``/``__array_function__``, exactly as a Dual
does, and this module writes the call down: the function, the primal-derived
operands as constants, and the recorded operands as references. The same rule
tables thus produce the tangent program; no rule knows it is being recorded.

Each ``Recorded`` also carries a *shadow*: the real tangent of one probe
direction, computed by the very call it records. Shapes and dtypes come from
it, and at the end the program is replayed on the probe direction and must
reproduce the shadow, which catches a constant changed in place after it was
recorded and anything else that would make the replay differ from the jvp.

A run of elementwise products and sums by constants collapses as it is
recorded: ``c * (d * t)`` becomes one multiplier ``(c * d) * t`` (``Scaled``),
so the tangent of an elementwise chain replays as a single multiplication.

The program is recorded with one direction (the batch axis of size 1). It
replays k directions in one pass when that is checked to give what k single
replays give (``Program.batchable``); otherwise one direction at a time.

Anything the program cannot hold fails the recording (``RecordingError``) and
``linearize`` falls back to ``jvp``: a tangent whose value decides Python
control flow (``bool``, ``float``), ``np.asarray`` of a tangent, a Dual of
another transform among the constants (nesting), or an ``out=`` argument.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

import numpy as np

from dualnumpy.core.surface import ArraySurface
from dualnumpy.core.tangent import shape_of
from dualnumpy.numpy_facts.trees import iter_leaves
from dualnumpy.rules.kinds import is_number

# NumPy's stubs cannot know that these arrays dispatch through the array protocols.
_np: Any = np


class RecordingError(TypeError):
    """A tangent operation the program cannot hold; ``linearize`` falls back to jvp."""


class Session:
    """One recording: node numbers, and the first reason it failed (kept even when the
    user's code catches the error, so a swallowed failure still means a fallback)."""

    __slots__ = ("counter", "failure")

    def __init__(self) -> None:
        self.counter = itertools.count()
        self.failure: str | None = None

    def fail(self, why: str) -> NoReturn:
        if self.failure is None:
            self.failure = why
        raise RecordingError(f"linearize cannot record this: {why}")


# ---------------------------------------------------------------- nodes


class Node:
    """One value of the tangent program."""

    __slots__ = ("id",)

    def __init__(self, session: Session) -> None:
        self.id = next(session.counter)

    def inputs(self) -> list[Node]:
        return []

    def constants(self) -> list[Any]:
        return []


class Seed(Node):
    """The tangent of input leaf ``index``."""

    __slots__ = ("index",)

    def __init__(self, session: Session, index: int) -> None:
        super().__init__(session)
        self.index = index


class Scaled(Node):
    """``scale * src``: the collapsed product of a run of elementwise multipliers."""

    __slots__ = ("scale", "src")

    def __init__(self, session: Session, scale: Any, src: Node) -> None:
        super().__init__(session)
        self.scale = scale
        self.src = src

    def inputs(self) -> list[Node]:
        return [self.src]

    def constants(self) -> list[Any]:
        return [self.scale]


class Ref:
    """A recorded operand inside an argument template."""

    __slots__ = ("node",)

    def __init__(self, node: Node) -> None:
        self.node = node


class Op(Node):
    """``func(*args, **kwargs)`` with ``Ref``s in the templates; ``pick`` selects one output
    of a function that returns several (``None``: the whole result)."""

    __slots__ = ("args", "func", "kwargs", "refs")

    def __init__(self, session: Session, func: Callable[..., Any], args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> None:
        super().__init__(session)
        self.func, self.args, self.kwargs = func, args, kwargs
        self.refs = [r.node for r in iter_leaves((args, kwargs)) if isinstance(r, Ref)]

    def inputs(self) -> list[Node]:
        return self.refs

    def constants(self) -> list[Any]:
        return [c for c in iter_leaves((self.args, self.kwargs)) if not isinstance(c, Ref)]


class Pick(Node):
    """Output ``index`` of an ``Op`` that returns a tuple."""

    __slots__ = ("index", "src")

    def __init__(self, session: Session, src: Node, index: int) -> None:
        super().__init__(session)
        self.src, self.index = src, index

    def inputs(self) -> list[Node]:
        return [self.src]


def _substitute(x: Any, env: dict[int, Any]) -> Any:
    kind = type(x)
    if kind is Ref:
        return env[x.node.id]
    if kind is tuple:
        return tuple(_substitute(y, env) for y in x)
    if kind is list:
        return [_substitute(y, env) for y in x]
    if kind is dict:
        return {key: _substitute(y, env) for key, y in x.items()}
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(_substitute(y, env) for y in x))
    return x


# ---------------------------------------------------------------- the recorded array


# Functions that read only a tangent's shape or dtype: answered from the shadow.
_METADATA = frozenset({np.shape, np.ndim, np.size, np.result_type, np.iscomplexobj,
                       np.isrealobj, np.can_cast, np.min_scalar_type})


class Recorded(ArraySurface):
    """A tangent being recorded: a node of the program and its probe value (``shadow``)."""

    __slots__ = ("node", "session", "shadow")
    __array_priority__ = 30.0

    def __init__(self, node: Node, shadow: Any, session: Session) -> None:
        self.node, self.shadow, self.session = node, shadow, session

    @property
    def shape(self) -> tuple[int, ...]:
        return shape_of(self.shadow)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.size(self.shadow))

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.result_type(self.shadow)

    def __array_ufunc__(self, uf: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return record_ufunc(self.session, uf, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return record_function(self.session, func, args, kwargs)

    def __getitem__(self, index: Any) -> Any:
        return record(self.session, operator.getitem, (self, index), {})

    def __array__(self, dtype: Any = None, copy: Any = None) -> NoReturn:
        self.session.fail("a rule converted a tangent to a plain array (np.asarray, np.array)")

    def __bool__(self) -> NoReturn:
        self.session.fail("the value of a tangent decides a branch (bool of a tangent)")

    def __index__(self) -> NoReturn:
        self.session.fail("a tangent was used as an index")

    def _refuse_scalar(self, kind: str) -> NoReturn:
        self.session.fail(f"{kind}() of a tangent")

    def __setitem__(self, index: Any, value: Any) -> NoReturn:
        self.session.fail("a tangent was written in place")

    @property
    def at(self) -> _RecordedUpdater:
        """Functional index updates, as a Dual's (``core/indexing.py`` calls them on tangents)."""
        return _RecordedUpdater(self)

    def __repr__(self) -> str:
        return f"Recorded(node {self.node.id}, shape={self.shape}, dtype={self.dtype})"


def _index_set(t: Any, index: Any, new: Any) -> Any:
    out = _np.array(t, copy=True) if isinstance(t, np.ndarray) else t
    if isinstance(out, np.ndarray):
        out[index] = new
        return out
    return out.at[index].set(new)  # a Dual tangent (f_jvp inside another transform)


def _index_add(t: Any, index: Any, new: Any) -> Any:
    if isinstance(t, np.ndarray):
        out = _np.array(t, copy=True, dtype=np.result_type(t, new))
        np.add.at(out, index, new)
        return out
    return t.at[index].add(new)


class _RecordedUpdater:
    __slots__ = ("_t",)

    def __init__(self, t: Recorded) -> None:
        self._t = t

    def __getitem__(self, index: Any) -> _RecordedUpdate:
        return _RecordedUpdate(self._t, index)


class _RecordedUpdate:
    __slots__ = ("_index", "_t")

    def __init__(self, t: Recorded, index: Any) -> None:
        self._t, self._index = t, index

    def set(self, new: Any) -> Any:
        return record(self._t.session, _index_set, (self._t, self._index, new), {})

    def add(self, new: Any) -> Any:
        return record(self._t.session, _index_add, (self._t, self._index, new), {})


def seed(session: Session, index: int, shadow: Any) -> Recorded:
    return Recorded(Seed(session, index), shadow, session)


def _check_operands(session: Session, operands: Iterator[Any], what: str) -> None:
    for x in operands:
        if isinstance(x, Recorded):
            if x.session is not session:
                session.fail(f"{what} mixes the tangents of two linearizations")
        elif is_number(x):
            session.fail(f"{what} has a {type(x).__name__} among its constants: the function "
                         f"is differentiated by an outer transform too (nesting)")


def _shadows(x: Any) -> Any:
    if isinstance(x, Recorded):
        return x.shadow
    if isinstance(x, list):
        return [_shadows(y) for y in x]
    if isinstance(x, tuple) and not hasattr(x, "_fields"):
        return tuple(_shadows(y) for y in x)
    if isinstance(x, dict):
        return {key: _shadows(y) for key, y in x.items()}
    return x


def _template(x: Any) -> Any:
    if isinstance(x, Recorded):
        return Ref(x.node)
    if isinstance(x, list):
        return [_template(y) for y in x]
    if isinstance(x, tuple) and not hasattr(x, "_fields"):
        return tuple(_template(y) for y in x)
    if isinstance(x, dict):
        return {key: _template(y) for key, y in x.items()}
    return x


def _is_array(x: Any) -> bool:
    return isinstance(x, (np.ndarray, np.generic))


def record(session: Session, func: Callable[..., Any], args: tuple[Any, ...],
           kwargs: dict[str, Any]) -> Any:
    """Call ``func`` on the shadows and record the call; wrap array results."""
    if "out" in kwargs and kwargs["out"] is not None:
        session.fail(f"{getattr(func, '__name__', func)} writes into out=")
    _check_operands(session, iter_leaves((args, kwargs)), getattr(func, "__name__", "a call"))
    with np.errstate(all="ignore"):
        result = func(*_shadows(args), **_shadows(kwargs))
    if not _holds_arrays(result):
        session.fail(f"{getattr(func, '__name__', func)} of a tangent returned a "
                     f"{type(result).__name__}, which a program cannot hold")
    return _wrap(session, Op(session, func, _template(args), _template(kwargs)), result)


def _holds_arrays(result: Any) -> bool:
    if _is_array(result):
        return True
    return isinstance(result, (tuple, list)) and all(_holds_arrays(r) for r in result)


def _wrap(session: Session, node: Node, result: Any) -> Any:
    """Arrays as Recorded; tuples and lists of them (histogramdd's edges) item by item."""
    if _is_array(result):
        return Recorded(node, result, session)
    outs = [_wrap(session, Pick(session, node, i), r) for i, r in enumerate(result)]
    return type(result)(*outs) if hasattr(result, "_fields") else type(result)(outs)


def _reshape_batch(t: Any, rest: tuple[Any, ...], order: str = "C") -> Any:
    """Reshape the data axes, keeping the batch axis whatever its size."""
    return _np.reshape(t, (shape_of(t)[0], *rest), order=order)


def _broadcast_batch(t: Any, rest: tuple[int, ...]) -> Any:
    return _np.broadcast_to(t, (shape_of(t)[0], *rest))


def _leading_batch(x: Any, shape: Any) -> tuple[Any, ...] | None:
    """The data part of a target shape whose leading entry is the batch axis (size 1)."""
    if isinstance(x, Recorded) and isinstance(shape, (tuple, list)) and len(shape) >= 1 \
            and x.ndim >= 1 and x.shape[0] == 1 and type(shape[0]) in (int, np.intp) \
            and shape[0] == 1:
        return tuple(shape[1:])
    return None


def record_function(session: Session, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if func in _METADATA:
        result = func(*_shadows(args), **_shadows(kwargs))
        return result
    # The batch axis written as a literal 1 would pin the program to one direction.
    if func is np.reshape and args:
        shape = args[1] if len(args) > 1 else kwargs.get("shape", kwargs.get("newshape"))
        rest = _leading_batch(args[0], shape)
        extra = {k: v for k, v in kwargs.items() if k not in ("shape", "newshape")}
        if rest is not None and set(extra) <= {"order"} and len(args) <= 2:
            return record(session, _reshape_batch, (args[0], rest), extra)
    if func is np.broadcast_to and args:
        shape = args[1] if len(args) > 1 else kwargs.get("shape")
        rest = _leading_batch(args[0], shape)
        if rest is not None and not set(kwargs) - {"shape"} and len(args) <= 2:
            return record(session, _broadcast_batch, (args[0], rest), {})
    return record(session, func, args, kwargs)


def _plain_constant(x: Any) -> bool:
    return type(x) in (float, int, complex) or (_is_array(x) and x.dtype.kind in "fciu")


def _as_scaled(x: Recorded) -> tuple[Any, Node]:
    node = x.node
    if type(node) is Scaled:
        return node.scale, node.src
    return None, node


def _data_part(c: Any, x: Recorded) -> Any:
    """The constant ``c`` of ``c * x`` as a multiplier of x's data axes, or None when the
    product is not one (it broadcasts x to a larger shape, or has a batch axis > 1)."""
    shape = np.shape(c)
    if len(shape) > x.ndim:
        return None
    try:
        if np.broadcast_shapes(shape, x.shape) != x.shape:
            return None
    except ValueError:
        return None
    if len(shape) == x.ndim and x.ndim:
        if shape[0] != 1:
            return None
        return c[0]
    return c


def _combine(a: Any, b: Any, how: Callable[[Any, Any], Any]) -> Any:
    return how(1 if a is None else a, 1 if b is None else b)


def record_ufunc(session: Session, uf: np.ufunc, method: str, inputs: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> Any:
    if method != "__call__":
        return record(session, getattr(uf, method), inputs, kwargs)
    if not kwargs:
        collapsed = _collapse(session, uf, inputs)
        if collapsed is not None:
            return collapsed
    return record(session, uf, inputs, kwargs)


def _collapse(session: Session, uf: np.ufunc, inputs: tuple[Any, ...]) -> Recorded | None:
    """``c * x``, ``x + y``, ``x - y`` and ``-x`` on multiples of one node, as one multiple."""
    if uf is np.multiply and len(inputs) == 2:
        a, b = inputs
        x, c = (a, b) if isinstance(a, Recorded) else (b, a)
        if not isinstance(x, Recorded) or isinstance(c, Recorded) or not _plain_constant(c):
            return None
        _check_operands(session, iter(inputs), "multiply")
        part = _data_part(c, x)
        if part is None:
            return None
        scale, src = _as_scaled(x)
        with np.errstate(all="ignore"):
            new_scale = part if scale is None else np.multiply(part, scale)
            shadow = np.multiply(a.shadow if a is x else a, b.shadow if b is x else b)
        return Recorded(Scaled(session, new_scale, src), shadow, session)
    if uf in (np.add, np.subtract) and len(inputs) == 2:
        a, b = inputs
        if not (isinstance(a, Recorded) and isinstance(b, Recorded)) or a.shape != b.shape:
            return None
        (sa, src_a), (sb, src_b) = _as_scaled(a), _as_scaled(b)
        if src_a is not src_b:
            return None
        with np.errstate(all="ignore"):
            shadow = uf(a.shadow, b.shadow)
            if shadow.shape != a.shape:
                return None
            new_scale = _combine(sa, sb, uf)
        return Recorded(Scaled(session, new_scale, src_a), shadow, session)
    if uf in (np.negative, np.positive) and len(inputs) == 1 and isinstance(inputs[0], Recorded):
        (x,) = inputs
        scale, src = _as_scaled(x)
        with np.errstate(all="ignore"):
            new_scale = uf(1.0 if scale is None else scale)
            shadow = uf(x.shadow)
        return Recorded(Scaled(session, new_scale, src), shadow, session)
    return None


# ---------------------------------------------------------------- the program


class Program:
    """The live part of a recording, in order, ready to replay.

    ``outputs`` holds, per output leaf, a node or None (no dependence on any input:
    a zero tangent); ``shapes`` and ``dtypes`` the output tangents' data shapes and dtypes.
    """

    def __init__(self, seeds: Sequence[Seed], outputs: Sequence[Node | None],
                 shapes: Sequence[tuple[int, ...]], dtypes: Sequence[np.dtype[Any]]) -> None:
        self.seeds = list(seeds)
        self.outputs = list(outputs)
        self.shapes = list(shapes)
        self.dtypes = list(dtypes)
        live: dict[int, Node] = {}
        stack = [n for n in outputs if n is not None]
        while stack:
            node = stack.pop()
            if node.id in live:
                continue
            live[node.id] = node
            stack.extend(node.inputs())
        self.order = [live[i] for i in sorted(live) if not isinstance(live[i], Seed)]
        # free each value after its last use (outputs are kept to the end)
        last: dict[int, int] = {}
        for step, node in enumerate(self.order):
            for source in node.inputs():
                last[source.id] = step
        keep = {n.id for n in outputs if n is not None}
        self.frees: list[list[int]] = [[] for _ in self.order]
        for node_id, step in last.items():
            if node_id not in keep:
                self.frees[step].append(node_id)
        # A fresh array consumed only by elementwise arithmetic may take the result of its
        # last consumer in place: no view of it can be alive then.
        consumers: dict[int, list[Node]] = {}
        for node in self.order:
            for source in node.inputs():
                consumers.setdefault(source.id, []).append(node)
        fresh = {node.id for node in self.order if _arithmetic(node) and node.id not in keep
                 and all(_arithmetic(c) for c in consumers.get(node.id, []))}
        self.reuse: list[int | None] = [
            next((i for i in frees if i in fresh and any(s.id == i for s in node.inputs())), None)
            if _arithmetic(node) else None
            for node, frees in zip(self.order, self.frees, strict=True)]
        self.batchable = False

    def nodes(self) -> list[Node]:
        return self.order

    def constants(self) -> list[Any]:
        return [c for node in self.order for c in node.constants()]

    def replace_constants(self, fix: Callable[[Any], Any]) -> None:
        """Apply ``fix`` to every constant (to copy those that alias the caller's arrays)."""
        for node in self.order:
            if isinstance(node, Scaled):
                node.scale = fix(node.scale)
            elif isinstance(node, Op):
                node.args = _map_constants(node.args, fix)
                node.kwargs = _map_constants(node.kwargs, fix)

    def replay(self, seeds: Sequence[Any]) -> list[Any]:
        """The output tangents for seed tangents in the batched layout ``(k, *shape)``."""
        env: dict[int, Any] = {s.id: t for s, t in zip(self.seeds, seeds, strict=True)}
        for node, frees, reuse in zip(self.order, self.frees, self.reuse, strict=True):
            func: Any = np.multiply
            operands: Any = None
            if isinstance(node, Scaled):
                operands = (node.scale, env[node.src.id])
            elif isinstance(node, Op):
                func = node.func
                if node.kwargs:
                    env[node.id] = func(*_substitute(node.args, env), **_substitute(node.kwargs, env))
                else:
                    operands = _substitute(node.args, env)
            elif isinstance(node, Pick):
                env[node.id] = env[node.src.id][node.index]
            if operands is not None:
                target = None if reuse is None else env[reuse]
                if target is not None and _can_take(target, operands):
                    env[node.id] = func(*operands, out=target)
                else:
                    env[node.id] = func(*operands)
            for node_id in frees:
                del env[node_id]
        return [None if n is None else env[n.id] for n in self.outputs]


_ARITHMETIC = frozenset({np.add, np.subtract, np.multiply, np.negative, np.positive,
                         np.true_divide, np.conjugate})


def _arithmetic(node: Node) -> bool:
    """A node whose value is a fresh array computed elementwise (no view of its inputs)."""
    return type(node) is Scaled or (isinstance(node, Op) and node.func in _ARITHMETIC
                                    and not node.kwargs)


def _can_take(target: Any, operands: Sequence[Any]) -> bool:
    """``target`` (a dying temporary) can hold the result of an arithmetic ufunc."""
    if type(target) is not np.ndarray or target.base is not None or not target.flags.writeable:
        return False
    shapes = []
    for x in operands:
        if not isinstance(x, (np.ndarray, np.generic, float, int, complex)):
            return False  # a Dual tangent (nesting): no in-place arithmetic
        shapes.append(np.shape(x))
    try:
        return bool(np.broadcast_shapes(*shapes) == target.shape
                    and np.result_type(*operands) == target.dtype)
    except (ValueError, TypeError):
        return False


def _map_constants(x: Any, fix: Callable[[Any], Any]) -> Any:
    kind = type(x)
    if kind is Ref:
        return x
    if kind is tuple:
        return tuple(_map_constants(y, fix) for y in x)
    if kind is list:
        return [_map_constants(y, fix) for y in x]
    if kind is dict:
        return {key: _map_constants(y, fix) for key, y in x.items()}
    return fix(x)


def held_bytes(arrays: Sequence[Any]) -> int:
    """Bytes of the distinct buffers behind ``arrays`` (a view counts its base once)."""
    seen: dict[int, int] = {}
    for a in arrays:
        if not isinstance(a, np.ndarray):
            continue
        root = a
        while isinstance(root.base, np.ndarray):
            root = root.base
        seen[id(root)] = root.nbytes
    return sum(seen.values())

"""Sparsity detection: index sets propagated through the same rule tables as the Duals.

A ``Traced`` array is a value together with a ``Pattern``: for each of its entries,
the set of input entries it depends on. NumPy hands every operation on it to
``__array_ufunc__``/``__array_function__``, exactly as for a Dual; the rule found in
``dualnumpy.rules`` for that operation says, through its kind and its ``dependence``,
how output entries depend on input entries:

- every ufunc is elementwise (union of the inputs' sets after broadcasting);
- a gather (reshape, transpose, slicing, concatenate, pad, roll, ...) is run by NumPy
  itself on arrays of entry numbers, so every output entry knows which input entry it
  is;
- a reduction (np.sum, ufunc.reduce, np.max, np.median) unites the sets along its axes;
- a linear or bilinear rule without a sharper fact is applied to a basis of
  directions, which gives its exact structure (the map does not depend on the point);
  above ``BASIS_LIMIT`` entries it falls back to dense;
- a composition runs its operations on the traced values;
- any other rule (``Custom``, dense) makes every output entry depend on every input
  entry it was given: conservative, never missing a dependency.

In the default global mode a pattern holds at every point: a value of the function's
input is never used to decide a structure. Comparisons, ``floor`` and index results
are ``Dependent`` (they depend on the input's values but carry no derivative);
``bool()`` of one raises, ``np.where`` on one unites both branches, and an index made
from one is refused. ``local=True`` uses the values at the given point instead, for
code that branches.

For Hessian patterns every nonlinear operation records the pairs of inputs its second
derivatives couple (``Trace.pairs``), united over the whole evaluation: conservative
where an intermediate result does not reach the output.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import numpy as np

from dualnumpy.core.surface import ArraySurface
from dualnumpy.numpy_facts.movement import MOVES_ELEMENTS
from dualnumpy.numpy_facts.signatures import IN_PLACE_OPTIONS, Args, bind, call, public_name, ufunc_name
from dualnumpy.rules import registry
from dualnumpy.rules.kinds import (
    ZERO,
    Bilinear,
    Composite,
    Dependence,
    Elementwise,
    Linear,
    NonDiff,
    PiecewiseConstant,
    Switch,
    Unit,
    Unsupported,
    register_number_type,
)
from dualnumpy.sparsity.patterns import Index, Pattern

#: A linear map is applied to at most this many basis entries (directions x outputs)
#: to find its structure; beyond it the output depends on every input given (dense).
BASIS_LIMIT = 1 << 24
#: A dense fallback may create at most this many entries before detection gives up.
DENSE_LIMIT = 1 << 28
#: Entry numbers of a gather's inputs start here, far from any constant a function
#: might insert (pad values, inserted zeros), which then reach no input.
_ID_BASE = 1 << 40


class Trace:
    """One detection run: the number of inputs, the mode and the Hessian pairs."""

    __slots__ = ("local", "n", "pairs")

    def __init__(self, n: int, local: bool, second_order: bool) -> None:
        self.n = n
        self.local = local
        self.pairs: list[Index] | None = [] if second_order else None

    def couple(self, a: Pattern, b: Pattern) -> None:
        """Record that the second derivatives couple row r of ``a`` with row r of ``b``."""
        if self.pairs is not None and a.nnz and b.nnz:
            self.pairs.append(Pattern.pair_keys(a, b))


def _refuse_value(what: str) -> NoReturn:
    raise TypeError(
        f"{what} depends on the input's values, so it has no global sparsity pattern; use "
        f"np.where(condition, a, b) instead of branching on it, or detect the pattern at "
        f"this point with local=True (jacobian_sparsity(f, x, local=True))"
    )


class Traced(ArraySurface):
    """An array value with the input entries each of its entries depends on."""

    __slots__ = ("_value", "deps", "run")
    __array_priority__ = 20.0

    def __init__(self, value: Any, deps: Pattern, trace: Trace) -> None:
        self._value = value
        self.deps = deps
        self.run = trace

    @property
    def value(self) -> Any:
        """The value at the given point; refused in global mode, where no structure may
        be read from it (``kinds.primal`` reads this for rules that choose by value)."""
        if not self.run.local:
            _refuse_value("an operation that chooses by value (a sort, a rank, a pivot)")
        return self._value

    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self._value)

    @property
    def ndim(self) -> int:
        return np.ndim(self._value)

    @property
    def size(self) -> int:
        return int(np.size(self._value))

    @property
    def dtype(self) -> Any:
        return np.result_type(self._value)

    def __array_ufunc__(self, uf: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return trace_ufunc(uf, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return trace_function(func, types, args, kwargs)

    def __array__(self, dtype: Any = None, copy: Any = None) -> NoReturn:
        raise TypeError("np.asarray of a traced array would drop its dependencies; the function "
                        "must use NumPy operations on its input (np.array([x0, x1]) -> np.stack)")

    def __getitem__(self, index: Any) -> Any:
        return take(self, index)

    def __bool__(self) -> bool:
        if not self.run.local:
            _refuse_value("bool() of a traced value")
        return bool(self._value)

    def _refuse_scalar(self, kind: str) -> NoReturn:
        raise TypeError(f"{kind}() of a traced value drops its dependencies; keep it an array")

    @property
    def at(self) -> _TracedAt:
        """``d.at[i].set(v)``, ``.add(v)``, ``.multiply(v)``, as for a Dual."""
        return _TracedAt(self)

    def __repr__(self) -> str:
        return f"Traced(shape={self.shape}, {self.deps})"


register_number_type(Traced)


class _TracedAt:
    __slots__ = ("x",)

    def __init__(self, x: Traced) -> None:
        self.x = x

    def __getitem__(self, index: Any) -> _TracedUpdate:
        return _TracedUpdate(self.x, _plain_index(index))


class _TracedUpdate:
    __slots__ = ("index", "x")

    def __init__(self, x: Traced, index: Any) -> None:
        self.x, self.index = x, index

    def set(self, values: Any) -> Traced:
        return _update(self.x, self.index, values, None)

    def add(self, values: Any) -> Traced:
        return _update(self.x, self.index, values, np.add)

    def multiply(self, values: Any) -> Traced:
        return _update(self.x, self.index, values, np.multiply)


def _update(x: Traced, index: Any, values: Any, op: np.ufunc | None) -> Traced:
    """A new array with the entries at ``index`` set (op None) or combined with ``values``;
    repeated indices accumulate for add and multiply, as in the Dual's ``.at``."""
    out = np.array(x._value, copy=True)
    plain = _plain(values)
    if op is None:
        out[index] = plain
    else:
        op.at(out, index, plain)
    numbers = _entry_numbers(x.shape)
    written = numbers[index]
    kept = x.deps
    if op is None:  # a set entry no longer depends on what was there
        rows = numbers.ravel().copy()
        rows[np.ravel(written)] = -1
        kept = x.deps.gather(rows)
    parts = [kept]
    if isinstance(values, Traced):
        sources = np.broadcast_to(_entry_numbers(values.shape), np.shape(written)).ravel()
        placed = values.deps.gather(sources).group(np.ravel(written), x.size)
        parts.append(placed)
        if op is np.multiply:
            x.run.couple(x.deps, placed)
    return Traced(out, Pattern.union(parts), x.run)


class Dependent(ArraySurface):
    """A value that depends on the input's values but has no derivative (a comparison, an
    index, ``floor``); in global mode no structure may be read from it."""

    __slots__ = ("run", "value")
    __array_priority__ = 19.0

    def __init__(self, value: Any, trace: Trace) -> None:
        self.value = value
        self.run = trace

    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self.value)

    @property
    def ndim(self) -> int:
        return np.ndim(self.value)

    @property
    def dtype(self) -> Any:
        return np.result_type(self.value)

    def __array_ufunc__(self, uf: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return trace_ufunc(uf, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return trace_function(func, types, args, kwargs)

    def __array__(self, dtype: Any = None, copy: Any = None) -> NoReturn:
        _refuse_value("an index or mask computed from the traced values")

    def __getitem__(self, index: Any) -> Any:
        return Dependent(self.value[_plain_index(index)], self.run)

    def __bool__(self) -> NoReturn:
        _refuse_value("bool() of a comparison of traced values")

    def __index__(self) -> NoReturn:
        _refuse_value("an index computed from the traced values")

    def _refuse_scalar(self, kind: str) -> NoReturn:
        _refuse_value(f"{kind}() of a value computed from the traced values")

    def __repr__(self) -> str:
        return f"Dependent(shape={self.shape})"


# ---------------------------------------------------------------- helpers


def _walk(x: Any) -> Iterator[Any]:
    if isinstance(x, (list, tuple)):
        for item in x:
            yield from _walk(item)
    elif isinstance(x, dict):
        for item in x.values():
            yield from _walk(item)
    else:
        yield x


def _find_trace(*trees: Any) -> Trace:
    for tree in trees:
        for x in _walk(tree):
            if isinstance(x, (Traced, Dependent)):
                return x.run
    raise AssertionError("no traced value among the arguments")


def _plain(x: Any) -> Any:
    """``x`` with traced values replaced by their values, inside lists and tuples too."""
    if isinstance(x, Traced):
        return x._value
    if isinstance(x, Dependent):
        return x.value
    if isinstance(x, list):
        return [_plain(y) for y in x]
    if isinstance(x, tuple):
        return tuple(_plain(y) for y in x)
    return x


def _has(x: Any, cls: type) -> bool:
    return any(isinstance(y, cls) for y in _walk(x))


def _plain_index(index: Any) -> Any:
    if _has(index, Traced):
        raise TypeError("a traced (float) array cannot index an array")
    if _has(index, Dependent):
        _refuse_value("an index computed from the traced values")
    return index


def constant(ans: Any, trace: Trace) -> Any:
    """A result without a derivative: plain in local mode, ``Dependent`` in global mode."""
    if trace.local:
        return ans
    if isinstance(ans, (tuple, list)):
        outs = [constant(a, trace) for a in ans]
        return type(ans)(*outs) if hasattr(ans, "_fields") else type(ans)(outs)
    return Dependent(ans, trace)


def _size(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def _entry_numbers(shape: tuple[int, ...]) -> Index:
    return np.arange(_size(shape), dtype=np.int64).reshape(shape)


def broadcast(x: Traced, shape: tuple[int, ...]) -> Pattern:
    """``x``'s pattern with its rows repeated as NumPy broadcasts ``x`` to ``shape``."""
    if x.shape == shape:
        return x.deps
    return x.deps.gather(np.broadcast_to(_entry_numbers(x.shape), shape).ravel())


def _wrap(ans: Any, deps: Pattern, trace: Trace) -> Any:
    if np.result_type(ans).kind not in "fc":
        return constant(ans, trace)
    return Traced(ans, deps, trace)


def _dense(sources: list[Traced], shape: tuple[int, ...], trace: Trace, what: str) -> Pattern:
    """Every entry of ``shape`` depends on every input any of ``sources`` depends on."""
    columns = Pattern.union([Pattern(np.array([0, len(c)], np.int64), c, trace.n)
                             for c in (s.deps.columns() for s in sources)]).indices
    if len(columns) * _size(shape) > DENSE_LIMIT:
        raise MemoryError(f"{what}: every one of its {_size(shape)} output entries may depend on "
                          f"{len(columns)} inputs, a pattern of more than {DENSE_LIMIT} entries; "
                          f"the Jacobian is dense here, use dualnumpy.jacfwd")
    return Pattern.every_row(columns, _size(shape), trace.n)


def _couple_all(sources: list[Pattern], trace: Trace) -> None:
    """Second derivatives may couple any two of the inputs of each output entry."""
    if trace.pairs is None:
        return
    for i, a in enumerate(sources):
        for b in sources[i:]:
            trace.couple(a, b)


def _couple_dense(sources: list[Traced], trace: Trace) -> None:
    if trace.pairs is None:
        return
    union = Pattern.union([Pattern(np.array([0, len(c)], np.int64), c, trace.n)
                           for c in (s.deps.columns() for s in sources)])
    trace.couple(union, union)


# ---------------------------------------------------------------- second-order facts

_LINEAR_UFUNCS = frozenset(getattr(np, name) for name in (
    "add", "subtract", "negative", "positive", "conjugate", "deg2rad", "degrees", "rad2deg",
    "radians", "absolute", "fabs", "maximum", "minimum", "fmax", "fmin", "copysign", "fmod",
    "remainder", "ldexp", "nextafter", "heaviside", "sign", "clip",
) if hasattr(np, name))
#: Ufuncs whose second derivatives couple only these pairs of inputs (others: every pair).
_UFUNC_PAIRS: dict[Any, tuple[tuple[int, int], ...]] = {
    np.multiply: ((0, 1),),
    np.divide: ((0, 1), (1, 1)),
    np.true_divide: ((0, 1), (1, 1)),
}
#: Functions that are piecewise linear in their first argument ``a`` (no second derivative
#: there); a quantile is not linear in ``q``, so a traced ``q`` couples as usual.
PIECEWISE_LINEAR_FUNCTIONS = frozenset({
    np.max, np.min, np.amax, np.amin, np.median, np.nanmedian, np.percentile, np.quantile,
    np.nanpercentile, np.nanquantile, np.sort, np.partition, np.nanmax, np.nanmin, np.ptp,
})


def _ufunc_pairs(uf: np.ufunc, nin: int) -> tuple[tuple[int, int], ...]:
    if uf in _LINEAR_UFUNCS:
        return ()
    if uf in _UFUNC_PAIRS:
        return _UFUNC_PAIRS[uf]
    return tuple((i, j) for i in range(nin) for j in range(i, nin))


# ---------------------------------------------------------------- ufuncs


def trace_ufunc(uf: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    trace = _find_trace(inputs)
    name = ufunc_name(uf) + ("" if method == "__call__" else f".{method}")
    if kwargs.get("out") is not None:
        raise TypeError(f"{name}(out=...) writes into an array; assign the result instead")
    if kwargs.get("where", True) is not True:
        raise TypeError(f"{name}(where=...): use np.where(mask, {ufunc_name(uf)}(...), other)")
    rule = registry.ufunc_rule(uf)
    if rule is None:
        raise TypeError(f"{name} is not classified yet; register a rule with "
                        f"dualnumpy.rules.register, or apply it to plain values")
    if isinstance(rule, Unsupported) and _has(inputs, Traced):
        raise TypeError(f"{name} is not supported with derivatives: {rule.fix}")
    if method == "outer":
        a, b = inputs
        return uf(np.reshape(a, np.shape(_plain(a)) + (1,) * np.ndim(_plain(b))), b, **kwargs)
    if method == "at":
        raise TypeError(f"{name} updates its first argument in place; build a new array instead")
    values = [_plain(x) for x in inputs]
    ans = getattr(uf, method)(*values, **kwargs)
    traced = [i for i, x in enumerate(inputs) if isinstance(x, Traced)]
    if not traced or isinstance(rule, (NonDiff, PiecewiseConstant, Unsupported)):
        return constant(ans, trace)
    if method == "__call__":
        if uf.signature is not None:
            positional: Any = dict(enumerate(inputs))
            return _product(uf, name, rule, positional, list(range(uf.nin)), ans, {}, trace)
        if isinstance(rule, Elementwise):
            traced = [i for i in traced if not (isinstance(rule.partials[i], Unit)
                                                and rule.partials[i] is ZERO)]
        first = ans[0] if isinstance(ans, tuple) else ans
        shape = np.shape(first)
        parts = {i: broadcast(inputs[i], shape) for i in traced}
        if trace.pairs is not None:
            for i, j in _ufunc_pairs(uf, uf.nin):
                if i in parts and j in parts:
                    trace.couple(parts[i], parts[j])
        deps = Pattern.union(list(parts.values())) if parts else Pattern.empty(_size(shape), trace.n)
        if isinstance(ans, tuple):
            return tuple(_wrap(a, deps, trace) for a in ans)
        return _wrap(ans, deps, trace)
    if method == "reduce":
        x = inputs[0]
        axis = kwargs.get("axis", 0)
        deps = reduce_along(x.deps, x.shape, axis, np.shape(ans))
        if trace.pairs is not None and uf not in _LINEAR_UFUNCS:
            trace.couple(deps, deps)
        return _wrap(ans, deps, trace)
    if method == "accumulate":
        x = inputs[0]
        axis = kwargs.get("axis", 0)
        deps = _accumulate(x.deps, x.shape, axis)
        if trace.pairs is not None and uf not in _LINEAR_UFUNCS:
            trace.couple(deps, deps)
        return _wrap(ans, deps, trace)
    # reduceat: every output entry may depend on its whole fiber along the axis
    x = inputs[0]
    axis = kwargs.get("axis", 0)
    fibers = reduce_along(x.deps, x.shape, axis, None)
    deps = fibers.gather(_fiber_rows(x.shape, axis, np.shape(ans)))
    if trace.pairs is not None and uf not in _LINEAR_UFUNCS:
        trace.couple(deps, deps)
    return _wrap(ans, deps, trace)


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        return tuple(int(a) % ndim for a in axis)
    return (int(axis) % ndim,)


def _kept(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    axes = _axes(axis, len(shape))
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def reduce_along(deps: Pattern, shape: tuple[int, ...], axis: Any, out_shape: tuple[int, ...] | None) -> Pattern:
    """Unite the rows along ``axis``: one row per entry of the reduced shape (``out_shape``
    may add leading axes, as np.percentile's ``q`` does; None keeps the reduced shape)."""
    if not shape:
        return deps
    kept = _kept(shape, axis)
    owners = np.broadcast_to(_entry_numbers(kept), shape).ravel()
    reduced = deps.group(owners, _size(kept))
    if out_shape is None or _size(out_shape) == _size(kept):
        return reduced
    repeats, rest = divmod(_size(out_shape), max(_size(kept), 1))
    if rest:
        raise AssertionError(f"a reduction of {shape} gave {out_shape}")
    return reduced.gather(np.tile(np.arange(_size(kept), dtype=np.int64), repeats))


def _fiber_rows(shape: tuple[int, ...], axis: Any, out_shape: tuple[int, ...]) -> Index:
    """For each entry of ``out_shape`` (``shape`` resized along ``axis``), its fiber's row."""
    kept = _kept(shape, axis)
    return np.broadcast_to(_entry_numbers(kept), out_shape).ravel()


def along_axis(deps: Pattern, shape: tuple[int, ...], axis: Any, out_shape: tuple[int, ...]) -> Pattern:
    """Every output entry depends on its whole fiber along ``axis`` (sort, partition)."""
    if axis is None:
        flat = reduce_along(deps, shape, None, None)
        return flat.gather(np.zeros(_size(out_shape), dtype=np.int64))
    fibers = reduce_along(deps, shape, axis, None)
    return fibers.gather(_fiber_rows(shape, axis, out_shape))


def _accumulate(deps: Pattern, shape: tuple[int, ...], axis: Any) -> Pattern:
    """Entry j along ``axis`` depends on the entries 0..j of its fiber."""
    axis = int(axis) % len(shape)
    length = shape[axis]
    fibers = _size(shape) // max(length, 1)
    # a running union holds about length**2 / 2 entries per fiber (times each entry's own)
    entries = fibers * length * (length + 1) // 2 * max(1, deps.nnz // max(deps.m, 1))
    if entries > DENSE_LIMIT:
        raise MemoryError(f"a cumulative sum or product along an axis of {length}: its pattern has "
                          f"about {entries} entries (lower triangular), more than {DENSE_LIMIT}; "
                          f"the Jacobian is dense here, use dualnumpy.jacfwd")
    numbers = np.moveaxis(_entry_numbers(shape), axis, -1)
    lower_j, lower_i = np.tril_indices(length)  # output position j takes input position i <= j
    outs = numbers[..., lower_j].ravel()
    ins = numbers[..., lower_i].ravel()
    order = np.argsort(outs, kind="stable")
    structure = Pattern.from_keys((outs[order] << np.int64(32)) | ins[order], deps.m, deps.m)
    return deps.compose(structure)


# ---------------------------------------------------------------- indexing


def take(x: Traced, index: Any) -> Any:
    index = _plain_index(index)
    numbers = _entry_numbers(x.shape)[index]
    return Traced(x._value[index], x.deps.gather(np.ravel(numbers)), x.run)


# ---------------------------------------------------------------- NumPy functions

#: NonDiff functions whose result depends only on shapes and dtypes, never on values.
_STRUCTURAL = frozenset(getattr(np, name) for name in (
    "shape", "ndim", "size", "zeros_like", "ones_like", "empty_like", "result_type", "can_cast",
    "common_type", "min_scalar_type", "iscomplexobj", "isrealobj", "may_share_memory",
    "shares_memory", "diag_indices_from", "tril_indices_from", "triu_indices_from", "einsum_path",
    "zeros", "ones", "empty", "eye", "identity", "tri",
) if hasattr(np, name))
#: Functions whose outputs each depend on the whole fiber along ``axis`` (the values decide
#: which entry goes where, so no sharper pattern holds at every point).
_ALONG_AXIS: dict[Any, int | None] = {np.sort: -1, np.partition: -1}


def trace_function(func: Any, types: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    for t in types:
        if not issubclass(t, (Traced, Dependent, np.ndarray)):
            return NotImplemented
    trace = _find_trace(args, kwargs)
    name = public_name(func)
    rule = registry.function_rule(func)
    if rule is None:
        raise TypeError(f"{name} is not in dualnumpy's function table yet; write it with "
                        f"supported NumPy operations or register a rule with dualnumpy.rules.register")
    if isinstance(rule, Unsupported) and _has((args, list(kwargs.values())), Traced):
        raise TypeError(f"{name} is not supported with derivatives: {rule.fix}")
    bound = bind(func, args, kwargs)
    if bound.get("out") is not None:
        raise TypeError(f"{name}(out=...) writes into an array; assign the result instead")
    values = {key: _plain(value) for key, value in bound.items()}
    values.update({option: safe for option, safe in IN_PLACE_OPTIONS.items() if option in values})
    if func is np.where and "x" in bound:
        return _where(bound, values, trace)
    if func in _ALONG_AXIS and not trace.local:
        return _along_axis_call(func, bound, values, trace)
    while isinstance(rule, Switch):
        rule = rule.choose(values)
    if isinstance(rule, Unsupported):
        if _has(bound, Traced):
            raise TypeError(f"{name} is not supported with derivatives: {rule.fix}")
        return constant(call(func, values), trace)
    if isinstance(rule, NonDiff):
        ans = call(func, values)
        return ans if func in _STRUCTURAL else constant(ans, trace)
    if isinstance(rule, PiecewiseConstant):
        return constant(call(func, values), trace)
    if isinstance(rule, Composite):
        if rule.own_value:
            return call(rule.compose, bound)
        return _numpy_value(call(rule.compose, bound), call(func, values), trace)
    for key, value in bound.items():
        if key in rule.args:
            continue
        if _has(value, Traced):
            raise TypeError(f"{name}: argument {key!r} takes no derivative and cannot be traced")
        if _has(value, Dependent):
            _refuse_value(f"{name}'s argument {key!r}")
    ans = call(func, values)
    sources = [bound[a] for a in rule.args if a in bound and _has(bound[a], Traced)]
    if not sources:
        return constant(ans, trace)
    dependence = rule.dependence
    if func is np.pad and not _pad_moves_only(values):
        return _pad_call(rule, name, bound, values, ans, trace)
    if dependence is Dependence.GATHER or func in MOVES_ELEMENTS:
        return _gather_call(func, rule, bound, values, ans, trace)
    traced = [x for s in sources for x in _walk(s) if isinstance(x, Traced)]
    if dependence is Dependence.ELEMENTWISE:
        return _elementwise_call(ans, traced, trace)
    if dependence is Dependence.REDUCTION and len(traced) == 1 and _takes_axis(func):
        x = traced[0]
        out_shape = np.shape(ans)
        deps = reduce_along(x.deps, x.shape, values.get("axis"), out_shape)
        return _wrap(ans, deps, trace)
    if isinstance(rule, Linear):
        return _linear_call(rule, name, bound, values, ans, trace)
    if isinstance(rule, Bilinear):
        return _product(func, name, rule, bound, list(rule.args), ans, values, trace)
    # Custom and anything without a sharper fact: dense, and every pair coupled
    if func not in PIECEWISE_LINEAR_FUNCTIONS or any(
            _has(bound[a], Traced) for a in rule.args if a in bound and a != "a"):
        _couple_dense(traced, trace)
    carried = _outputs_with_tangents(rule, bound, values, ans)
    if carried is not None:
        return type(ans)(_map_outputs(a, lambda a: _dense(traced, np.shape(a), trace, name), trace)
                         if keep else constant(a, trace) for a, keep in zip(ans, carried, strict=True))
    return _map_outputs(ans, lambda a: _dense(traced, np.shape(a), trace, name), trace)


def _pad_moves_only(values: Args) -> bool:
    mode = values.get("mode", "constant")
    if mode in ("reflect", "symmetric"):
        return bool(values.get("reflect_type", "even") != "odd")
    return mode in ("constant", "edge", "wrap")


def _pad_call(rule: Any, name: str, bound: Args, values: Args, ans: Any, trace: Trace) -> Any:
    """np.pad modes that combine entries (linear_ramp, mean, odd reflection): the structure
    of the linear map in the array, from its basis images; a traced fill reaches every entry."""
    x = bound["array"]
    fills = [bound[a] for a in rule.args if a != "array" and a in bound and isinstance(bound[a], Traced)]
    parts = [_dense(fills, np.shape(ans), trace, name)] if fills else []
    if isinstance(x, Traced):
        params = {key: value for key, value in values.items() if key not in rule.args}
        primals = {a: values[a] for a in rule.args if a in values}

        def apply(basis: Any) -> Any:
            tangents = {a: (basis if a == "array" else None) for a in primals}
            return rule.jvp(ans, primals, tangents, params)

        structure = linear_structure(apply, x.shape, int(np.size(ans)))
        parts.append(_dense([x], np.shape(ans), trace, name) if structure is None
                     else x.deps.compose(structure))
    return _wrap(ans, Pattern.union(parts), trace)


def _numpy_value(composed: Any, ans: Any, trace: Trace) -> Any:
    """A composition's dependencies with NumPy's own value (as the interpreter keeps it);
    an output the composition leaves without a derivative is a constant."""
    if isinstance(composed, (tuple, list)) and isinstance(ans, (tuple, list)):
        outs = [_numpy_value(c, a, trace) for c, a in zip(composed, ans, strict=True)]
        return type(ans)(*outs) if hasattr(ans, "_fields") else type(ans)(outs)
    if isinstance(composed, Traced):
        return _wrap(ans, composed.deps, trace) if np.shape(ans) == composed.shape else composed
    return constant(ans, trace)


def _outputs_with_tangents(rule: Any, bound: Args, values: Args, ans: Any) -> list[bool] | None:
    """Which outputs of a multi-output ``Custom`` rule carry a tangent (histogram's edges and
    slogdet's sign do not), asked of the rule itself with zero tangents; None if unknown."""
    if not isinstance(ans, tuple) or hasattr(ans, "_fields") or getattr(rule, "sequence", False):
        return None
    names = [a for a in rule.args if a in bound]
    primals = {a: values[a] for a in names}
    tangents = {a: np.zeros((1, *np.shape(values[a])), np.result_type(values[a]))
                if isinstance(bound[a], Traced) else None for a in names}
    params = {key: value for key, value in values.items() if key not in primals}
    try:
        out = rule.jvp(ans, primals, tangents, params)
    except Exception:  # the rule needs more than zeros: stay conservative
        return None
    if not isinstance(out, (tuple, list)) or len(out) != len(ans):
        return None
    return [t is not None for t in out]


def _takes_axis(func: Any) -> bool:
    try:
        return "axis" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def _map_outputs(ans: Any, pattern_of: Callable[[Any], Pattern], trace: Trace) -> Any:
    if isinstance(ans, (tuple, list)):
        outs = [_map_outputs(a, pattern_of, trace) for a in ans]
        return type(ans)(*outs) if hasattr(ans, "_fields") else type(ans)(outs)
    if np.result_type(ans).kind not in "fc":
        return constant(ans, trace)
    return Traced(ans, pattern_of(ans), trace)


def _elementwise_call(ans: Any, traced: list[Traced], trace: Trace) -> Any:
    def pattern_of(a: Any) -> Pattern:
        shape = np.shape(a)
        return Pattern.union([broadcast(x, shape) for x in traced])

    return _map_outputs(ans, pattern_of, trace)


def _where(bound: Args, values: Args, trace: Trace) -> Any:
    """np.where(c, x, y): each entry from x or y; a condition from the traced values (global
    mode) could pick either, so the entry depends on both."""
    ans = call(np.where, values)
    shape = np.shape(ans)
    condition = bound["condition"]
    chosen = not isinstance(condition, (Traced, Dependent)) or trace.local
    mask = np.broadcast_to(np.asarray(_plain(condition), dtype=bool), shape).ravel() if chosen else None
    parts = []
    for key, pick in (("x", True), ("y", False)):
        x = bound[key]
        if not isinstance(x, Traced):
            continue
        rows = np.broadcast_to(_entry_numbers(x.shape), shape).ravel()
        if mask is not None:
            rows = np.where(mask == pick, rows, -1)
        parts.append(x.deps.gather(rows))
    deps = Pattern.union(parts) if parts else Pattern.empty(_size(shape), trace.n)
    return _wrap(ans, deps, trace)


def _along_axis_call(func: Any, bound: Args, values: Args, trace: Trace) -> Any:
    x = bound["a"]
    ans = call(func, values)
    if not isinstance(x, Traced):
        return constant(ans, trace)
    axis = values.get("axis", _ALONG_AXIS[func])
    return _wrap(ans, along_axis(x.deps, x.shape, axis, np.shape(ans)), trace)


def _gather_call(func: Any, rule: Any, bound: Args, values: Args, ans: Any, trace: Trace) -> Any:
    """Run ``func`` on entry numbers: each output entry names the input entry it moved."""
    numbered = dict(values)
    sources: list[Pattern] = []
    start = _ID_BASE

    def number(x: Any) -> Any:
        nonlocal start
        if isinstance(x, Traced):
            numbers = np.arange(start, start + x.size, dtype=np.int64).reshape(x.shape)
            start += x.size
            sources.append(x.deps)
            return numbers
        if isinstance(x, (list, tuple)) and _has(x, Traced):  # [x[0], 1.0] inside a sequence
            return np.array([number(y) for y in x])
        return np.zeros(np.shape(_plain(x)), dtype=np.int64)

    for arg in rule.args:
        if arg not in bound:
            continue
        value = bound[arg]
        if getattr(rule, "sequence", False) or (isinstance(value, (list, tuple)) and _has(value, Traced)):
            numbered[arg] = type(value)(number(v) for v in value) if isinstance(value, (list, tuple)) \
                else number(value)
        else:
            numbered[arg] = number(value)
    if "dtype" in numbered and numbered["dtype"] is not None:
        numbered["dtype"] = np.int64
    moved = call(func, numbered)
    stacked = _stack_patterns(sources, trace.n)
    total = start - _ID_BASE

    def pattern_of(numbers: Any) -> Pattern:
        flat = np.asarray(numbers).ravel()
        if flat.dtype.kind == "f":
            flat = np.rint(flat).astype(np.int64)
        rows = flat.astype(np.int64) - _ID_BASE
        rows = np.where((rows >= 0) & (rows < total), rows, -1)
        return stacked.gather(rows)

    def pair(a: Any, numbers: Any) -> Any:
        if isinstance(a, (tuple, list)):
            outs = [pair(x, y) for x, y in zip(a, numbers, strict=True)]
            return type(a)(*outs) if hasattr(a, "_fields") else type(a)(outs)
        return _wrap(a, pattern_of(numbers), trace)

    return pair(ans, moved)


def _stack_patterns(parts: list[Pattern], n: int) -> Pattern:
    if len(parts) == 1:
        return parts[0]
    offsets = np.cumsum([0, *[p.nnz for p in parts]])
    indptr = np.concatenate([[0], *[p.indptr[1:] + off for p, off in zip(parts, offsets, strict=False)]])
    indices = np.concatenate([p.indices for p in parts]) if parts else np.zeros(0, np.int64)
    return Pattern(indptr.astype(np.int64), indices, n)


def linear_structure(apply: Callable[[Any], Any], in_shape: tuple[int, ...], out_size: int) -> Pattern | None:
    """The exact structure (out_size x in_size) of a linear map, from its values on a basis
    of directions; None when that would take more than ``BASIS_LIMIT`` entries."""
    in_size = _size(in_shape)
    # the map runs once per input entry: in_size images of max(in_size, out_size) entries
    if in_size * max(out_size, in_size, 1) > BASIS_LIMIT:
        return None
    # a basis block of at most 2**21 entries, both as directions x inputs and x outputs
    chunk = max(1, min(in_size, (1 << 21) // max(out_size, in_size, 1)))
    keys = []
    for lo in range(0, in_size, chunk):
        hi = min(in_size, lo + chunk)
        basis = np.zeros((hi - lo, in_size))
        basis[np.arange(hi - lo), np.arange(lo, hi)] = 1.0
        image = np.asarray(apply(basis.reshape((hi - lo, *in_shape)))).reshape(hi - lo, out_size)
        direction, entry = np.nonzero(image)
        keys.append((entry.astype(np.int64) << np.int64(32)) | (direction.astype(np.int64) + lo))
    return Pattern.from_keys(np.concatenate(keys) if keys else np.zeros(0, np.int64), out_size, in_size)


def _linear_call(rule: Linear, name: str, bound: Args, values: Args, ans: Any, trace: Trace) -> Any:
    arg: Any = rule.arg
    x = bound[arg]
    params = {key: value for key, value in values.items() if key != arg}
    primals = {arg: values[arg]}

    def pattern_of(a: Any, index: int | None) -> Pattern:
        out_size = int(np.size(a))

        def apply(basis: Any) -> Any:
            image = rule.jvp(ans, primals, {arg: basis}, params)
            return image if index is None else image[index]

        structure = linear_structure(apply, x.shape, out_size) if isinstance(x, Traced) else None
        if structure is None:
            return _dense([x], np.shape(a), trace, name)
        deps: Pattern = x.deps
        return deps.compose(structure)

    if isinstance(ans, (tuple, list)):
        outs = [Traced(a, pattern_of(a, i), trace) if np.result_type(a).kind in "fc" else constant(a, trace)
                for i, a in enumerate(ans)]
        return type(ans)(outs)
    return _wrap(ans, pattern_of(ans, None), trace)


def _stand_in(x: Any) -> Any:
    """An operand's structure for a product's basis: a traced one may be nonzero anywhere."""
    if isinstance(x, Traced):
        return np.ones(x.shape)
    if isinstance(x, Dependent):
        return np.ones(np.shape(x.value))
    plain = np.asarray(x)
    return (plain != 0).astype(np.float64) if plain.dtype.kind in "biufc" else plain


def _product(func: Any, name: str, rule: Any, bound: Args, names: list[Any], ans: Any,
             values: Args, trace: Trace) -> Any:
    """A product: linear in each operand, with the others' structure fixed."""
    operands = [bound.get(a) for a in names]
    stand_ins = [_stand_in(x) if x is not None else None for x in operands]
    out_shape = np.shape(ans)
    out_size = _size(out_shape)
    everything = {**{k: v for k, v in values.items()}, **{a: s for a, s in zip(names, stand_ins, strict=True)}}
    parts = []
    traced = [x for x in operands if isinstance(x, Traced)]
    for i, x in enumerate(operands):
        if not isinstance(x, Traced):
            continue
        if isinstance(rule, Bilinear):
            def apply(basis: Any, i: int = i) -> Any:
                return rule.term(i, basis, stand_ins, everything)
        elif isinstance(func, np.ufunc):  # a gufunc without a Bilinear line: its own tangent
            def apply(basis: Any, i: int = i) -> Any:
                return rule.jvp(ans, tuple(stand_ins), tuple(basis if j == i else None
                                                             for j in range(len(stand_ins))), {})
        else:
            apply = None  # type: ignore[assignment]
        structure = linear_structure(apply, x.shape, out_size) if apply is not None else None
        parts.append(_dense([x], out_shape, trace, name) if structure is None else x.deps.compose(structure))
    if trace.pairs is not None and len(traced) > 1:
        unions = [Pattern(np.array([0, len(c)], np.int64), c, trace.n) for c in (t.deps.columns() for t in traced)]
        for i, a in enumerate(unions):
            for b in unions[i + 1:]:
                trace.couple(a, b)
    return _wrap(ans, Pattern.union(parts), trace)

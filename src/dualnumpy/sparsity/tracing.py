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
- a product (matmul, dot, tensordot, einsum, kron, cross, convolve, ...) is a boolean
  sparse product: its terms (one per point of the iteration space whose constant
  factors are nonzero) are enumerated as whole arrays, each output entry depending on
  the traced entries of its terms, and a term of two traced factors coupling them for
  the Hessian; a constant's ``!= 0`` decides, so a banded matrix gives a banded pattern;
- np.gradient is banded along each axis, read from five probes; np.trace unites its
  diagonal; np.real, np.imag, np.astype, np.unwrap are elementwise;
- any other linear or bilinear rule without a sharper fact (and a product above
  ``TERM_LIMIT`` terms) is applied to a basis of directions, which gives its exact
  structure (the map does not depend on the point); above ``BASIS_LIMIT`` entries it
  falls back to dense;
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

import math
from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np

from dualnumpy.core import sums
from dualnumpy.core.surface import ArraySurface
from dualnumpy.numpy_facts.movement import MOVES_ELEMENTS
from dualnumpy.numpy_facts.signatures import (
    IN_PLACE_OPTIONS,
    Args,
    bind,
    call,
    parameter_names,
    public_name,
    ufunc_name,
)
from dualnumpy.numpy_facts.trees import iter_leaves
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
from dualnumpy.rules.products import einsum_spec, tensordot_axes
from dualnumpy.sparsity.patterns import Index, Pattern, unique_keys

#: A linear map is applied to at most this many basis entries (directions x outputs)
#: to find its structure; beyond it the output depends on every input given (dense).
BASIS_LIMIT = 1 << 24
#: A dense fallback may create at most this many entries before detection gives up.
DENSE_LIMIT = 1 << 28
#: Entry numbers of a gather's inputs start here, far from any constant a function
#: might insert (pad values, inserted zeros), which then reach no input.
_ID_BASE = 1 << 40
#: Packed ``row << 32 | col`` keys, as in patterns.py.
_SHIFT = np.int64(32)
_LOW = np.int64((1 << 32) - 1)


class Trace:
    """One detection run: the number of inputs, the mode, the Hessian pairs and the terms."""

    __slots__ = ("local", "n", "pairs", "terms")

    def __init__(self, n: int, local: bool, second_order: bool) -> None:
        self.n = n
        self.local = local
        self.pairs: list[Index] | None = [] if second_order else None
        #: when the function returned a whole-array np.sum of its own, the pattern of the
        #: terms it summed (``sparsity/separable.py``); else None
        self.terms: Pattern | None = None

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


def _find_trace(*trees: Any) -> Trace:
    for tree in trees:
        for x in iter_leaves(tree):
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
    return any(isinstance(y, cls) for y in iter_leaves(x))


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


def _all_columns(sources: list[Traced], trace: Trace) -> Pattern:
    """One row: every input any of ``sources`` depends on."""
    return Pattern.union([Pattern(np.array([0, len(c)], np.int64), c, trace.n)
                          for c in (s.deps.columns() for s in sources)])


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
    if method == "__call__" and not isinstance(rule, NonDiff):
        for key in ("axes", "axis", "keepdims"):  # as the Duals refuse them
            if key in kwargs and _has(inputs, Traced):
                raise TypeError(f"{name}({key}=...) is not supported with derivatives: move the axes "
                                f"with np.moveaxis first")
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
        if uf is np.multiply and uf.nin == 2:
            parts = {i: _times_structure(part, inputs[1 - i], shape) for i, part in parts.items()}
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


def _times_structure(part: Pattern, other: Any, shape: tuple[int, ...]) -> Pattern:
    """``x * c``: the partial in x is c, so an entry where c is a constant zero (a plain
    zero, or a traced entry that depends on nothing and is zero) depends on nothing."""
    mask = _structure_mask(other)
    if mask is None:
        return part
    mask = np.broadcast_to(mask, shape)
    if bool(mask.all()):
        return part
    return part.gather(np.where(mask.ravel(), np.arange(_size(shape), dtype=np.int64), -1))


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
    if func is np.interp and not trace.local and isinstance(bound.get("x"), Traced):
        return _interp_call(bound, values, call(func, values), trace, name)
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
    structured = _STRUCTURED_CALLS.get(func)
    if structured is not None:
        result = structured(rule, bound, values, ans, trace)
        if result is not None:
            return result
    dependence = rule.dependence
    if func is np.pad and not _pad_moves_only(values):
        return _pad_call(rule, name, bound, values, ans, trace)
    if dependence is Dependence.GATHER or func in MOVES_ELEMENTS:
        return _gather_call(func, rule, bound, values, ans, trace)
    traced = [x for s in sources for x in iter_leaves(s) if isinstance(x, Traced)]
    if dependence is Dependence.ELEMENTWISE:
        return _elementwise_call(ans, traced, trace)
    if dependence is Dependence.REDUCTION and len(traced) == 1 and "axis" in parameter_names(func):
        x = traced[0]
        out_shape = np.shape(ans)
        deps = reduce_along(x.deps, x.shape, values.get("axis"), out_shape)
        result = _wrap(ans, deps, trace)
        if func is np.sum and sums.active():
            sums.note(result, bound)
        return result
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
    """A product: from its terms (a boolean sparse product) where a contraction describes
    it, else linear in each operand with the others' structure fixed (the basis method)."""
    structured = _structural_product(func, bound, names, ans, values, trace)
    if structured is not None:
        return structured
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


# ---------------------------------------------------------------- products as boolean sparse products
#
# A product (matmul, dot, einsum, kron, convolve, ...) is a sum of terms, one per point of
# its iteration space, each multiplying one entry of every operand. Its structure is read
# from the terms whose constant factors are structurally nonzero: they are enumerated as
# whole arrays (the nonzeros of each operand, joined on the labels they share, as a
# database join by sort and search), never by applying the product to a basis.

#: At most this many terms are enumerated; beyond it the basis method (and then dense).
TERM_LIMIT = 1 << 25
#: Label numbers for einsum's broadcast (ellipsis) axes, apart from the letters'.
_ELLIPSIS_LABEL = 1 << 20

Labels = list[int]


class _Rows:
    """Rows of a relation: one array of label values per label and, per traced operand
    (by position), the entry of that operand in each row."""

    __slots__ = ("cols", "count", "entries")

    def __init__(self, cols: dict[int, Index], entries: dict[int, Index], count: int) -> None:
        self.cols, self.entries, self.count = cols, entries, count


def _radix_key(cols: list[Index], sizes: list[int], count: int) -> Index | None:
    """One int64 key per row (of ``count``) from several label values (mixed radix);
    None on overflow."""
    if math.prod(sizes) >= 1 << 62:
        return None
    key = np.zeros(count, dtype=np.int64)
    for c, s in zip(cols, sizes, strict=True):
        key = key * np.int64(s) + c
    return key


def _operand_rows(shape: tuple[int, ...], labels: Labels, sizes: dict[int, int],
                  mask: Any, position: int | None) -> _Rows:
    """The entries of one operand that may be nonzero (``mask`` None: all of them), with
    their label values; a repeated label keeps the diagonal, an axis of length 1 that
    broadcasts against a longer one binds no label."""
    flat = np.arange(_size(shape), dtype=np.int64) if mask is None else \
        np.flatnonzero(np.asarray(mask)).astype(np.int64)
    coords = np.unravel_index(flat, shape) if shape else ()
    cols: dict[int, Index] = {}
    keep: Any = None
    for axis, label in enumerate(labels):
        if shape[axis] == 1 and sizes[label] != 1:
            continue
        c = coords[axis].astype(np.int64)
        if label in cols:
            same = cols[label] == c
            keep = same if keep is None else keep & same
        else:
            cols[label] = c
    if keep is not None:
        flat = flat[keep]
        cols = {label: c[keep] for label, c in cols.items()}
    entries = {position: flat} if position is not None else {}
    return _Rows(cols, entries, len(flat))


def _project(rows: _Rows, kept: set[int], sizes: dict[int, int]) -> _Rows | None:
    """A constant operand's rows on the labels that matter elsewhere, without repeats."""
    labels = [label for label in rows.cols if label in kept]
    if not labels:
        return _Rows({}, {}, min(rows.count, 1))
    key = _radix_key([rows.cols[label] for label in labels], [sizes[label] for label in labels], rows.count)
    if key is None:
        return None
    unique = unique_keys(key)
    values = np.unravel_index(unique, tuple(sizes[label] for label in labels))
    return _Rows({label: v.astype(np.int64) for label, v in zip(labels, values, strict=True)}, {},
                 len(unique))


def _join_counts(frontier: _Rows, other: _Rows, sizes: dict[int, int]) -> tuple[Index, Index, Index] | None:
    """For each frontier row, how many rows of ``other`` agree with it on the shared labels,
    where they start in ``order`` (other's rows sorted by those labels), and ``order``."""
    shared = [label for label in other.cols if label in frontier.cols]
    if not shared:
        counts = np.full(frontier.count, other.count, dtype=np.int64)
        return counts, np.zeros(frontier.count, dtype=np.int64), np.arange(other.count, dtype=np.int64)
    radix = [sizes[label] for label in shared]
    mine = _radix_key([frontier.cols[label] for label in shared], radix, frontier.count)
    theirs = _radix_key([other.cols[label] for label in shared], radix, other.count)
    if mine is None or theirs is None:
        return None
    order = np.argsort(theirs, kind="stable")
    sorted_keys = theirs[order]
    left = np.searchsorted(sorted_keys, mine, side="left")
    right = np.searchsorted(sorted_keys, mine, side="right")
    return (right - left).astype(np.int64), left.astype(np.int64), order


def _join(frontier: _Rows, other: _Rows, counts: Index, left: Index, order: Index) -> _Rows:
    total = int(counts.sum())
    mine = np.repeat(np.arange(frontier.count, dtype=np.int64), counts)
    starts = np.zeros(frontier.count + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    theirs = order[np.arange(total, dtype=np.int64) - starts[:-1][mine] + left[mine]]
    cols = {label: c[mine] for label, c in frontier.cols.items()}
    cols.update({label: c[theirs] for label, c in other.cols.items() if label not in cols})
    entries = {p: e[mine] for p, e in frontier.entries.items()}
    entries.update({p: e[theirs] for p, e in other.entries.items()})
    return _Rows(cols, entries, total)


def contraction_terms(shapes: list[tuple[int, ...]], labels: list[Labels], out_labels: Labels,
                      masks: list[Any], traced: list[bool]) -> tuple[Index, dict[int, Index], int] | None:
    """The terms of a contraction (einsum notation by label numbers): for each term whose
    constant factors are nonzero (``masks[i]``: where operand i may be nonzero, None for
    everywhere), the output entry and, for each traced operand, its entry. Returns
    ``(out_entries, {operand: entries}, out_size)``, or None above ``TERM_LIMIT`` terms."""
    sizes: dict[int, int] = {}
    for shape, ls in zip(shapes, labels, strict=True):
        if len(shape) != len(ls):
            return None
        for s, label in zip(shape, ls, strict=True):  # a length of 1 broadcasts
            prior = sizes.get(label)
            if prior is None or prior == 1:
                sizes[label] = s
            elif s not in (1, prior):
                return None
    if any(label not in sizes for label in out_labels):
        return None
    out_size = math.prod(sizes[label] for label in out_labels)
    relations: list[_Rows] = []
    for i, (shape, ls) in enumerate(zip(shapes, labels, strict=True)):
        rows = _operand_rows(shape, ls, sizes, masks[i], i if traced[i] else None)
        if not traced[i]:  # a constant matters only through the labels it shares
            elsewhere = set(out_labels).union(*(set(o) for j, o in enumerate(labels) if j != i))
            projected = _project(rows, elsewhere, sizes)
            if projected is None:
                return None
            rows = projected
            if rows.count == 1 and not rows.cols:  # nonzero somewhere, no constraint
                continue
        relations.append(rows)
    empty = (np.zeros(0, np.int64), {i: np.zeros(0, np.int64) for i in range(len(shapes)) if traced[i]},
             out_size)
    if any(r.count == 0 for r in relations):
        return empty
    if not relations:
        return None
    relations.sort(key=lambda r: r.count)
    # two relations give the same terms in either order: start from the larger traced one,
    # whose entries (in C order) then usually leave the output's rows sorted already
    first = len(relations) - 1 if len(relations) == 2 and relations[-1].entries else 0
    frontier = relations.pop(first)
    while relations:
        best: Any = None
        for j, other in enumerate(relations):
            found = _join_counts(frontier, other, sizes)
            if found is None:
                return None
            total = int(found[0].sum())
            if best is None or total < best[0]:
                best = (total, j, found)
        total, j, (counts, left, order) = best
        if total > TERM_LIMIT:
            return None
        frontier = _join(frontier, relations.pop(j), counts, left, order)
    if frontier.count == 0:
        return empty
    missing = [label for label in out_labels if label not in frontier.cols]
    if missing:
        return None
    out = _radix_key([frontier.cols[label] for label in out_labels], [sizes[label] for label in out_labels],
                     frontier.count)
    if out is None:
        return None
    return out, frontier.entries, out_size


def _structure_mask(x: Any) -> Any:
    """Where an operand may be nonzero (None: everywhere): a traced entry wherever it depends
    on an input or its value (a constant one, the same at every point) is nonzero; a
    value-dependent one everywhere; a constant where ``!= 0``."""
    if isinstance(x, Traced):
        lengths = x.deps.row_lengths()
        if bool(np.all(lengths > 0)):
            return None
        return (lengths > 0).reshape(x.shape) | (np.asarray(x._value) != 0)
    if isinstance(x, Dependent):
        return None
    plain = np.asarray(x)
    if plain.dtype.kind not in "biufc":
        return None
    return plain != 0


def _shape(x: Any) -> tuple[int, ...]:
    if isinstance(x, (Traced, Dependent)):
        return x.shape
    return np.shape(x)


def terms_pattern(out: Index, entries: dict[int, Index], operands: dict[int, Traced], out_size: int,
                  trace: Trace) -> Pattern:
    """The pattern of a product from its terms: each output entry depends on the traced
    entries of its terms; a term of two traced operands couples their rows (Hessian)."""
    parts = []
    direct = []  # keys of the operands with one input an entry (the input itself, a gather of it)
    for p, x in operands.items():
        deps: Pattern = x.deps
        if deps.nnz == deps.m and bool(np.all(deps.indptr == np.arange(deps.m + 1))):
            direct.append((out << _SHIFT) | deps.indices[entries[p]])
        else:
            parts.append(deps.compose(Pattern.from_keys((out << _SHIFT) | entries[p], out_size, x.size)))
    if direct:  # one sort for all of them
        parts.append(Pattern.from_keys(np.concatenate(direct) if len(direct) > 1 else direct[0],
                                       out_size, trace.n))
    if trace.pairs is not None:
        positions = sorted(operands)
        for i, p in enumerate(positions):
            for q in positions[i + 1:]:
                pairs = unique_keys((entries[p] << _SHIFT) | entries[q])
                trace.couple(operands[p].deps.gather(pairs >> _SHIFT), operands[q].deps.gather(pairs & _LOW))
    return Pattern.union(parts) if parts else Pattern.empty(out_size, trace.n)



def _gufunc_labels(func: Any, sa: tuple[int, ...], sb: tuple[int, ...]) -> tuple[list[Labels], Labels] | None:
    """matmul, vecdot, matvec, vecmat: core labels, loop axes broadcast from the right."""
    i, j, k = -1, -2, -3
    if func is np.matmul:
        if not sa or not sb:
            return None
        core_a = [j] if len(sa) == 1 else [i, j]
        core_b = [j] if len(sb) == 1 else [j, k]
        core_out = ([] if len(sa) == 1 else [i]) + ([] if len(sb) == 1 else [k])
    elif func is getattr(np, "vecdot", None):
        core_a, core_b, core_out = [j], [j], []
    elif func is getattr(np, "matvec", None):
        core_a, core_b, core_out = [i, j], [j], [i]
    elif func is getattr(np, "vecmat", None):
        core_a, core_b, core_out = [j], [j, k], [k]
    else:
        return None
    loop_a, loop_b = len(sa) - len(core_a), len(sb) - len(core_b)
    if loop_a < 0 or loop_b < 0:
        return None
    loop = list(range(max(loop_a, loop_b)))
    return [loop[len(loop) - loop_a:] + core_a, loop[len(loop) - loop_b:] + core_b], loop + core_out


def _function_labels(func: Any, shapes: list[tuple[int, ...]], values: Args
                     ) -> tuple[list[tuple[int, ...]], list[Labels], Labels] | None:
    """The contraction a product function computes, by label numbers: (operand shapes,
    their labels, the output's labels)."""
    sa, sb = shapes
    na, nb = len(sa), len(sb)
    a = list(range(na))
    b = list(range(100, 100 + nb))
    if func in (np.dot, np.inner, np.kron) and (na == 0 or nb == 0):
        if func is np.kron:  # NumPy pads the scalar to the other's rank
            return [sa, sb], [a, b], b if na == 0 else a
        return [sa, sb], [a, b], a + b
    if func is np.dot:
        if nb == 1:
            return [sa, sb], [a, [a[-1]]], a[:-1]
        b[-2] = a[-1]
        return [sa, sb], [a, b], a[:-1] + b[:-2] + b[-1:]
    if func is np.inner:
        b[-1] = a[-1]
        return [sa, sb], [a, b], a[:-1] + b[:-1]
    if func is np.outer:
        return [(_size(sa),), (_size(sb),)], [[0], [1]], [0, 1]
    if func is np.vdot:
        return [(_size(sa),), (_size(sb),)], [[0], [0]], []
    if func is np.tensordot:
        axes_a, axes_b = tensordot_axes(values.get("axes", 2), na, nb)
        for x, y in zip(axes_a, axes_b, strict=True):
            b[y] = a[x]
        return [sa, sb], [a, b], [a[x] for x in range(na) if x not in axes_a] + \
            [b[y] for y in range(nb) if y not in axes_b]
    if func is np.kron:
        nd = max(na, nb)
        pa, pb = (1,) * (nd - na) + sa, (1,) * (nd - nb) + sb
        la, lb = [2 * d for d in range(nd)], [2 * d + 1 for d in range(nd)]
        return [pa, pb], [la, lb], list(range(2 * nd))
    return None


def _einsum_labels(operands: list[Any]) -> tuple[list[Any], list[Labels], Labels] | None:
    """einsum's subscripts as label numbers, its broadcast axes expanded."""
    inputs, output, arrays = einsum_spec(operands)
    if len(inputs) != len(arrays):
        return None
    labels: list[Labels] = []
    widths = []
    for spec, x in zip(inputs, arrays, strict=True):
        letters = spec.replace("...", "")
        widths.append(len(_shape(x)) - len(letters) if "..." in spec else 0)
    width = max(widths, default=0)

    def expand(spec: str, count: int) -> Labels:
        head, dots, tail = spec.partition("...")
        middle = [_ELLIPSIS_LABEL + width - count + t for t in range(count)] if dots else []
        return [ord(c) for c in head] + middle + [ord(c) for c in tail]

    for spec, count in zip(inputs, widths, strict=True):
        labels.append(expand(spec, count))
    return arrays, labels, expand(output, width)


def _contract(ans: Any, operands: list[Any], shapes: list[tuple[int, ...]], labels: list[Labels],
              out_labels: Labels, trace: Trace) -> Any:
    """The traced result of a contraction from its terms, or None to fall back."""
    if isinstance(ans, (tuple, list)):
        return None
    traced = [isinstance(x, Traced) for x in operands]
    found = contraction_terms(shapes, labels, out_labels, [_structure_mask(x) for x in operands], traced)
    if found is None:
        return None
    out, entries, out_size = found
    if out_size != int(np.size(ans)):
        return None
    deps = terms_pattern(out, entries, {p: x for p, x in enumerate(operands) if isinstance(x, Traced)},
                         out_size, trace)
    return _wrap(ans, deps, trace)


def _structural_product(func: Any, bound: Args, names: list[Any], ans: Any, values: Args,
                        trace: Trace) -> Any:
    """A product's pattern from its terms, or None when no contraction describes it."""
    operands = [bound.get(a) for a in names]
    if len(operands) != 2 or any(x is None for x in operands):
        return None
    shapes = [_shape(x) for x in operands]
    if isinstance(func, np.ufunc):
        spec = _gufunc_labels(func, shapes[0], shapes[1])
        if spec is None:
            return None
        return _contract(ans, operands, shapes, spec[0], spec[1], trace)
    if func in (np.convolve, np.correlate):
        return _convolution(func, operands, values, ans, trace)
    if func is np.cross:
        return _cross(operands, shapes, values, ans, trace)
    found = _function_labels(func, shapes, values)
    if found is None:
        return None
    return _contract(ans, operands, found[0], found[1], found[2], trace)


def _levi_civita(na: int, nb: int) -> Any:
    """The cross product's constant, (3, na, nb), or (na, nb) for two 2-vectors (a scalar)."""
    eps = np.zeros((3, 3, 3))
    for c, i, j in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        eps[c, i, j], eps[c, j, i] = 1.0, -1.0
    eps = eps[:, :na, :nb]
    return eps[2] if na == nb == 2 else eps


def _cross(operands: list[Any], shapes: list[tuple[int, ...]], values: Args, ans: Any, trace: Trace) -> Any:
    """np.cross as the contraction ``out[..., c] = eps[c, i, j] a[..., i] b[..., j]``."""
    sa, sb = shapes
    if not sa or not sb:
        return None
    axis = values.get("axis")
    axisa, axisb, axisc = (axis, axis, axis) if axis is not None else \
        (values.get("axisa", -1), values.get("axisb", -1), values.get("axisc", -1))
    axisa, axisb = int(axisa) % len(sa), int(axisb) % len(sb)
    na, nb = sa[axisa], sb[axisb]
    if na not in (2, 3) or nb not in (2, 3):
        return None
    vector_a, vector_b, component = -10, -11, -12
    loop = list(range(max(len(sa), len(sb)) - 1))
    la, lb = loop[len(loop) - len(sa) + 1:], loop[len(loop) - len(sb) + 1:]
    la.insert(axisa, vector_a)
    lb.insert(axisb, vector_b)
    eps = _levi_civita(na, nb)
    if eps.ndim == 2:
        le, out = [vector_a, vector_b], loop
    else:
        le, out = [component, vector_a, vector_b], list(loop)
        out.insert(int(axisc) % (len(loop) + 1), component)
    return _contract(ans, [*operands, eps], [sa, sb, eps.shape], [la, lb, le], out, trace)


def _einsum_call(bound: Args, ans: Any, trace: Trace) -> Any:
    spec = _einsum_labels(list(bound["operands"]))
    if spec is None:
        return None
    arrays, labels, out_labels = spec
    return _contract(ans, arrays, [_shape(x) for x in arrays], labels, out_labels, trace)


def _convolution(func: Any, operands: list[Any], values: Args, ans: Any, trace: Trace) -> Any:
    """convolve: full[k] = sum a[i] v[k - i]; correlate: full[k] = sum a[i] v[n - 1 - k + i];
    both shifted by the mode (full, same, valid) as NumPy does. The terms are enumerated
    output by output over the nonzeros of the shorter side (the kernel), in the order that
    keeps the other side's entries increasing: the rows come out sorted."""
    a, v = operands
    if len(_shape(a)) > 1 or len(_shape(v)) > 1:
        return None
    m, n = _size(_shape(a)), _size(_shape(v))
    mode = values.get("mode", "full" if func is np.convolve else "valid")
    short = min(m, n)
    offset = {"full": 0, "valid": short - 1,
              "same": (short - (1 if func is np.convolve or m >= n else 0)) // 2}.get(str(mode))
    if offset is None:
        return None
    masks = [_structure_mask(x) for x in operands]
    nonzeros = [np.arange(size, dtype=np.int64) if mask is None else np.flatnonzero(mask).astype(np.int64)
                for size, mask in zip((m, n), masks, strict=True)]
    out_size = int(np.size(ans))
    kernel = 1 if len(nonzeros[1]) <= len(nonzeros[0]) else 0
    if out_size * len(nonzeros[kernel]) > TERM_LIMIT:
        return None
    convolve = func is np.convolve
    # the long side's index as a function of (k, kernel index), increasing in the order used
    if kernel == 1:
        ks = nonzeros[1][::-1] if convolve else nonzeros[1]
    else:
        ks = nonzeros[0][::-1] if convolve else nonzeros[0]
    k = np.repeat(np.arange(out_size, dtype=np.int64), len(ks))
    inner = np.tile(ks, out_size)
    full = k + offset
    if kernel == 1:
        j = inner
        i = full - j if convolve else full - (n - 1) + j
        long, length, long_mask = i, m, masks[0]
    else:
        i = inner
        j = full - i if convolve else i + (n - 1) - full
        long, length, long_mask = j, n, masks[1]
    keep = (long >= 0) & (long < length)
    if long_mask is not None:
        keep &= np.asarray(long_mask)[np.clip(long, 0, max(length - 1, 0))]
    entries = {0: i[keep], 1: j[keep]}
    traced = {p: x for p, x in enumerate(operands) if isinstance(x, Traced)}
    deps = terms_pattern(k[keep], {p: entries[p] for p in traced}, traced, out_size, trace)
    return _wrap(ans, deps, trace)


# ---------------------------------------------------------------- banded linear maps


def banded_structure(apply: Callable[[Any], Any], shape: tuple[int, ...], axis: int, halfwidth: int,
                     out_shape: tuple[int, ...]) -> Pattern:
    """The exact structure of a linear map that acts along ``axis`` (output position p
    depends on input positions p - halfwidth .. p + halfwidth of the same fiber, out_shape
    equal to shape), from ``2 * halfwidth + 1`` probes: probe c is one at the positions
    congruent to c, so every output meets at most one input of each probe. The rows come
    out sorted (one column of a table per offset), with no sort."""
    width = 2 * halfwidth + 1
    length = shape[axis]
    positions = np.arange(length, dtype=np.int64)
    colors = np.arange(width, dtype=np.int64).reshape((width,) + (1,) * len(shape))
    along = positions.reshape((1,) * (axis + 1) + (-1,) + (1,) * (len(shape) - axis - 1))
    probes = np.broadcast_to(along % width == colors, (width, *shape)).astype(np.float64)
    image = np.asarray(apply(probes)).reshape(width, _size(out_shape)) != 0
    size = _size(out_shape)
    stride = _size(shape[axis + 1:])
    p = np.broadcast_to(along[0], shape).ravel()  # each entry's position along the axis
    entries = np.arange(size, dtype=np.int64)
    table = np.zeros((size, width), dtype=bool)
    for column, offset in enumerate(range(-halfwidth, halfwidth + 1)):
        q = p + offset
        inside = (q >= 0) & (q < length)
        table[:, column] = inside & image[q % width, entries]
    offsets = np.arange(-halfwidth, halfwidth + 1, dtype=np.int64) * stride
    indptr = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(table.sum(axis=1), out=indptr[1:])
    sources = (entries[:, None] + offsets[None, :])[table]
    return Pattern(indptr, sources.astype(np.int64), _size(shape))


def _gradient_call(rule: Any, bound: Args, values: Args, ans: Any, trace: Trace) -> Any:
    """np.gradient: along each axis, central differences inside and one-sided ones (two or
    three entries) at the ends; each output is read from five probes."""
    f = bound.get("f")
    spacing = bound.get("varargs", ())
    if not isinstance(f, Traced) or _has(spacing, Traced) or _has(spacing, Dependent) or f.ndim == 0:
        return None
    ndim = f.ndim
    axis = values.get("axis")
    axes = list(range(ndim)) if axis is None else [int(a) % ndim for a in
                                                      (axis if isinstance(axis, (tuple, list)) else [axis])]
    outs = list(ans) if isinstance(ans, (tuple, list)) else [ans]
    if len(outs) != len(axes):
        return None
    spacing = tuple(values.get("varargs", ()))  # one for every axis, or one per axis
    if len(spacing) not in (0, 1, len(axes)):
        return None
    params = {key: value for key, value in values.items() if key not in ("f", "varargs")}
    results = []
    for index, (ax, out) in enumerate(zip(axes, outs, strict=True)):
        # one axis at a time, with its own spacing
        primals = {"f": values["f"], "varargs": spacing[index:index + 1] if len(spacing) > 1 else spacing}
        one_axis = {**params, "axis": ax}

        def apply(probes: Any, primals: Args = primals, one_axis: Args = one_axis) -> Any:
            return rule.jvp(out, primals, {"f": probes, "varargs": None}, one_axis)

        structure = banded_structure(apply, f.shape, ax, 2, np.shape(out))
        results.append(_wrap(out, f.deps.compose(structure), trace))
    return type(ans)(results) if isinstance(ans, (tuple, list)) else results[0]


def _interp_call(bound: Args, values: Args, ans: Any, trace: Trace, name: str) -> Any:
    """np.interp at traced points, globally: each output depends on its own point, and on
    every traced breakpoint, value and bound (which interval applies depends on the point)."""
    x = bound["x"]
    shape = np.shape(ans)
    parts = [broadcast(x, shape)]
    others = [bound[key] for key in ("xp", "fp", "left", "right") if isinstance(bound.get(key), Traced)]
    if others:
        parts.append(_dense(others, shape, trace, name))
        coupled = [o for o in (bound.get("xp"), bound.get("fp")) if isinstance(o, Traced)]
        if trace.pairs is not None and coupled:
            # linear in fp and piecewise linear in x, but x meets the interval's breakpoints
            # and values, and the breakpoints meet everything
            inputs = _all_columns([x], trace)
            interval = _all_columns(coupled, trace)
            trace.couple(inputs, interval)
            if isinstance(bound.get("xp"), Traced):
                trace.couple(interval, interval)
    return _wrap(ans, Pattern.union(parts), trace)


def _trace_call(rule: Any, bound: Args, values: Args, ans: Any, trace: Trace) -> Any:
    """np.trace, np.linalg.trace: each output entry unites its diagonal (no basis)."""
    name = "a" if "a" in bound else "x"
    x = bound.get(name)
    if not isinstance(x, Traced):
        return None
    if name == "a":
        axes = (values.get("offset", 0), values.get("axis1", 0), values.get("axis2", 1))
    else:
        axes = (values.get("offset", 0), -2, -1)
    diagonal = np.diagonal(_entry_numbers(x.shape), *axes)  # the other axes, then the diagonal
    length = diagonal.shape[-1] if diagonal.ndim else 1
    out_size = int(np.size(ans))
    if diagonal.size != out_size * length:
        return None
    owners = np.repeat(np.arange(out_size, dtype=np.int64), length)
    return _wrap(ans, x.deps.gather(diagonal.ravel()).group(owners, out_size), trace)


#: Functions read from their structure (einsum's terms, gradient's band) before their kind.
_STRUCTURED_CALLS: dict[Any, Callable[[Any, Args, Args, Any, Trace], Any]] = {
    np.einsum: lambda rule, bound, values, ans, trace: _einsum_call(bound, ans, trace),
    np.gradient: _gradient_call,
    np.trace: _trace_call,
    np.linalg.trace: _trace_call,
}

"""The shared machinery of the reverse reference's VJP tables.

What more than one topic module uses: building nodes (``node``, ``with_value``,
``_composite``), binding arguments (``_bind``),
cotangent arithmetic (``times``, ``scatter``, ``_axes``, ``_expand``), the test
sample points of function rules (``Case``) and the shapes several tables share, the
pullbacks that the ufunc methods and the reduction functions share (``clip``,
``ufunc.reduce`` and ``ufunc.accumulate`` of add, multiply and the extrema), the
multilinear einsum node (matrix-product ufuncs and the products), the rule of copying
functions (``_gather``, applied to arrays of element positions) and indexing a Var
(``getitem``, ``index_update``).

Signatures and public names come from ``dualnumpy.numpy_facts`` (shared with the forward
mode: not calculus); ``_bind`` adds the reference's own refusals (``out=``, ``where=``).
Like the rest of the reference, nothing here comes from ``dualnumpy.rules``.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...numpy_facts.signatures import signature
from ..node import VJP, NoReference, Var, value_of

_NOVALUE: Any = getattr(np, "_NoValue", object())

Array = Any


# ---------------------------------------------------------------- helpers


def _missing(name: str, why: str = "") -> NoReference:
    return NoReference(f"{name}: the reverse reference has no VJP rule for it{why}")


def _given(v: Any) -> bool:
    return v is not _NOVALUE


def node(value: Any, edges: Sequence[tuple[Var, VJP]]) -> Var:
    """A new tape node computed from the parents in ``edges``."""
    return Var(value, [p for p, _ in edges], [f for _, f in edges])


def strip(obj: Any) -> Any:
    """Values instead of Vars, inside lists and tuples too."""
    if isinstance(obj, Var):
        return obj.value
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return type(obj)(strip(o) for o in obj)
    return obj


def _has_var(obj: Any) -> bool:
    if isinstance(obj, Var):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_has_var(o) for o in obj)
    return False


def _promote(v: Any) -> Any:
    """Integer and bool arrays become float64 before a partial is evaluated."""
    if isinstance(v, (np.ndarray, np.generic)) and v.dtype.kind in "biu":
        return v.astype(np.float64)
    return v


def times(g: Any, d: Any) -> Any:
    """``g * conj(d)``, where a zero cotangent wins over an infinite or NaN partial."""
    with np.errstate(all="ignore"):
        r = g * np.conjugate(d)
        if not bool(np.all(np.isfinite(d))):
            r = np.where(g == 0, 0, r)
    return r


def _mH(a: Any) -> Any:
    return np.conjugate(np.swapaxes(a, -1, -2))


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(sorted(int(a) % ndim if ndim else 0 for a in axes))


def _expand(g: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    """A reduced array with its reduced axes back, as size 1."""
    g = np.asarray(g)
    return g if keepdims or not axes else np.expand_dims(g, axes)


def _exclusive_prod(x: Any, axis: int = -1) -> Any:
    """``prod(x[j] for j != i)`` along ``axis`` without dividing: exact through zeros."""
    x = np.moveaxis(np.asarray(x), axis, -1)
    ones = np.ones_like(x[..., :1])
    before = np.cumprod(np.concatenate([ones, x[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, x[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return np.moveaxis(before * after, -1, axis)


def _flatten_axes(x: Any, axes: tuple[int, ...]) -> tuple[Any, Callable[[Any], Any]]:
    """Move ``axes`` to the end as one axis; also return the inverse map."""
    x = np.asarray(x)
    kept = tuple(i for i in range(x.ndim) if i not in axes)
    perm = kept + axes
    moved = np.transpose(x, perm)
    shape = moved.shape
    flat = np.reshape(moved, (*shape[:len(kept)], -1))
    inverse = np.argsort(perm)

    def back(y: Any) -> Any:
        return np.transpose(np.reshape(y, shape), inverse)

    return flat, back


def _weights(first: Any, second: Any, first_wins: Any) -> tuple[Any, Any]:
    """Selection weights of a max-like choice; a tie gives half to each."""
    tie = first == second
    w1 = np.where(tie, 0.5, np.where(first_wins, 1.0, 0.0))
    return w1, 1.0 - w1


def _bincount(p: Any, w: Any, n: int) -> Any:
    if np.iscomplexobj(w):
        return np.bincount(p, np.real(w), minlength=n) + 1j * np.bincount(p, np.imag(w), minlength=n)
    return np.bincount(p, np.asarray(w, dtype=np.float64), minlength=n)


def scatter(g: Any, pos: Any, offset: int, size: int, shape: tuple[int, ...]) -> Any:
    """The adjoint of a gather: add ``g`` into the positions ``pos - offset`` it was read from."""
    p = np.ravel(pos)
    w = np.ravel(np.broadcast_to(g, np.shape(pos)))
    mask = (p >= offset) & (p < offset + size)
    return np.reshape(_bincount(p[mask] - offset, w[mask], size), shape)




def _bind(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
          allow_where: bool = False) -> dict[str, Any]:
    bound = signature(func).bind(*args, **kwargs)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    out = arguments.get("out")
    if out is not None and _given(out):
        raise TypeError(f"{name}: out= is not supported by the reverse reference (a Var is immutable); "
                        f"assign the result instead")
    where = arguments.get("where", True)
    if not allow_where and _given(where) and where is not True:
        raise _missing(f"{name}(where=...)", "; use np.where(mask, x, fill) first")
    return arguments


def _call_values(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return func(*strip(args), **{k: strip(v) for k, v in kwargs.items()})


# ---------------------------------------------------------------- sample points


@dataclass(frozen=True)
class Case:
    """One test call of a function rule: ``call(*arrays)``, arrays of ``shapes``.

    Entries are drawn uniformly from ``[low, high]`` (plus an imaginary part in
    ``[-0.5, 0.5]`` when ``complex_ok``); ``shift`` adds ``shift * I`` to square
    matrices, to keep them well conditioned; ``rtol`` is the tolerance of the
    finite-difference check; ``forward`` says the forward mode takes the call too
    (so the dot-product test against it applies; it refuses ``where=``, for one).
    """

    call: Callable[..., Any]
    shapes: tuple[tuple[int, ...], ...]
    low: float = -2.0
    high: float = 2.0
    complex_ok: bool = False
    shift: float = 0.0
    rtol: float = 1e-6
    forward: bool = True


def _case(call: Callable[..., Any], *shapes: tuple[int, ...], complex_ok: bool = False,
          low: float = -2.0, high: float = 2.0, shift: float = 0.0, rtol: float = 1e-6,
          forward: bool = True) -> Case:
    return Case(call, tuple(shapes), low, high, complex_ok, shift, rtol, forward)


def _cases(*cases: Case) -> tuple[Case, ...]:
    return tuple(cases)


#: Shapes and a mask that the test cases of several tables share.
A = (2, 3)
A3 = (2, 3, 4)
V = (4,)
SQ = (3, 3)
_MASK = np.array([[True, False, True], [False, True, True]])


# ---------------------------------------------------------------- clip (the ufunc and np.clip)


def clip_cotangents(g: Any, x: Any, lo: Any, hi: Any) -> tuple[Any, Any, Any]:
    """clip(x, lo, hi) = minimum(maximum(x, lo), hi), ties split evenly; None bounds are absent."""
    low = x if lo is None else np.maximum(x, lo)
    if hi is None:
        w_low, w_hi = np.ones_like(np.asarray(low, dtype=float)), None
    else:
        w_low, w_hi = _weights(low, hi, (low < hi) | np.isnan(low))
    if lo is None:
        w_x, w_lo = np.ones_like(np.asarray(x, dtype=float)), None
    else:
        w_x, w_lo = _weights(x, lo, (x > lo) | np.isnan(x))
    return (g * w_low * w_x, None if w_lo is None else g * w_low * w_lo,
            None if w_hi is None else g * w_hi)


# ---------------------------------------------------------------- ufunc.reduce and ufunc.accumulate
#
# np.sum, np.prod, np.max, np.min, np.cumsum and np.cumprod use these pullbacks too; the
# ones only the ufunc methods use (logaddexp, the running max/min) are in ufuncs.py.
#
# A reducer gets the cotangent ``g`` and the answer ``ans`` with the reduced
# axes kept (size 1), the input ``x``, the reduced ``axes``, ``initial`` (None
# when not given) and ``mask`` (the where= argument broadcast to x, or None);
# it returns the cotangent of ``x``. Masked-out elements take no part.


def _masked(c: Any, mask: Any) -> Any:
    return c if mask is None else np.where(mask, c, 0)


def _reduce_add(g: Any, x: Any, ans: Any, axes: tuple[int, ...], initial: Any, mask: Any) -> Any:
    return _masked(np.broadcast_to(g, np.shape(x)), mask)


def _reduce_multiply(g: Any, x: Any, ans: Any, axes: tuple[int, ...], initial: Any, mask: Any) -> Any:
    flat, back = _flatten_axes(x if mask is None else np.where(mask, x, 1), axes)
    others = back(_exclusive_prod(flat))
    if initial is not None:
        others = others * initial
    return _masked(times(g, others), mask)


def _reduce_extremum(g: Any, x: Any, ans: Any, axes: tuple[int, ...], initial: Any, mask: Any) -> Any:
    """max/min: the cotangent is shared evenly by every element equal to the answer
    (an ``initial`` equal to it counts as one of them)."""
    tied = np.equal(x, ans) if mask is None else np.equal(x, ans) & mask
    count = np.sum(tied, axis=axes, keepdims=True) + (0 if initial is None else np.equal(ans, initial))
    return np.where(tied, g / np.maximum(count, 1), 0.0)


# An accumulator sees the accumulated axis last: g, x, ans of shape (..., n).


def _accumulate_add(g: Any, x: Any, ans: Any) -> Any:
    return np.cumsum(g[..., ::-1], axis=-1)[..., ::-1]


def _accumulate_multiply(g: Any, x: Any, ans: Any) -> Any:
    """y_k = y_{k-1} x_k: the classic backward sweep, exact through zeros (no division).

    The cotangent of y_k is complete once every later y has passed its share
    back (g_k plus x_{k+1}'s factor of the cotangent of y_{k+1}).
    """
    n = np.shape(x)[-1]
    dtype = np.result_type(g, x, ans)
    out = np.zeros(np.broadcast_shapes(np.shape(g), np.shape(x)), dtype=dtype)
    bar = np.zeros(out.shape[:-1], dtype=dtype)
    for k in range(n - 1, -1, -1):
        bar = bar + g[..., k]
        out[..., k] = bar * np.conjugate(ans[..., k - 1]) if k else bar
        bar = bar * np.conjugate(x[..., k])
    return out


def _where_mask(where: Any, x: Var, name: str) -> Any:
    """The where= argument of a reduction broadcast to x (None when absent)."""
    if isinstance(where, Var):
        raise _missing(f"{name} with a Var as where=")
    if where is True or not _given(where):
        return None
    return np.broadcast_to(np.asarray(where, dtype=bool), x.shape)


def _accumulate_node(ans: Any, x: Var, axis: int, flat: bool,
                     accumulator: Callable[[Any, Any, Any], Any]) -> Var:
    xv = np.ravel(x.value) if flat else x.value
    a = np.moveaxis(np.asarray(ans), axis, -1)
    xl = np.moveaxis(xv, axis, -1)

    def vjp(g: Any) -> Any:
        c = np.moveaxis(accumulator(np.moveaxis(np.asarray(g), axis, -1), xl, a), -1, axis)
        return np.reshape(c, x.shape)

    return node(ans, [(x, vjp)])


def _refuse_out(name: str, kwargs: dict[str, Any]) -> None:
    out = kwargs.pop("out", None)
    outs = out if isinstance(out, tuple) else (out,)
    if any(o is not None for o in outs):
        raise TypeError(f"{name}: out= is not supported by the reverse reference (a Var is "
                        f"immutable); assign the result instead")


# ---------------------------------------------------------------- einsum


_LETTERS = string.ascii_letters


def parse_einsum(spec: str, ndims: Sequence[int]) -> tuple[list[str], str]:
    """Explicit subscripts (no ellipsis, explicit output) for an einsum ``spec``."""
    spec = spec.replace(" ", "")
    inputs, arrow, out = spec.partition("->")
    subs = inputs.split(",")
    if len(subs) != len(ndims):
        raise ValueError(f"np.einsum: {len(subs)} subscripts for {len(ndims)} operands")
    pool = [c for c in _LETTERS if c not in spec]
    n_ell = max((nd - len(s.replace("...", "")) for s, nd in zip(subs, ndims, strict=True) if "..." in s),
                default=0)
    if n_ell > len(pool):
        raise _missing("np.einsum with this many indices")
    ell = pool[:n_ell]
    explicit = []
    for s, nd in zip(subs, ndims, strict=True):
        if "..." in s:
            k = nd - len(s.replace("...", ""))
            s = s.replace("...", "".join(ell[n_ell - k:]))
        explicit.append(s)
    if not arrow:
        letters = "".join(s.replace("...", "") for s in subs)
        out = "".join(ell) + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    else:
        out = out.replace("...", "".join(ell))
    return explicit, out


def _einsum_cotangent(g: Any, out: str, subs: Sequence[str], appear: Sequence[Any], k: int) -> Any:
    """The adjoint of ``einsum(out <- subs)`` for operand k (others held at ``appear``).

    The einsum of ``g`` with the conjugated other operands, back to operand k's
    subscripts. A letter repeated in operand k (a diagonal) gets a fresh letter
    joined to it by an identity matrix; a letter of operand k found nowhere else
    (summed over k alone) by a vector of ones.
    """
    others = [j for j in range(len(subs)) if j != k]
    in_subs, ops = [out], [g]
    for j in others:
        in_subs.append(subs[j])
        ops.append(np.conjugate(appear[j]))
    present = set(out).union(*(subs[j] for j in others))
    fresh = iter(c for c in _LETTERS if c not in set(out).union(*subs))
    shape = np.shape(appear[k])
    target, seen = [], set()
    for letter, n in zip(subs[k], shape, strict=True):
        if letter in seen:
            new = next(fresh)
            in_subs.append(letter + new)
            ops.append(np.eye(n))
            target.append(new)
            continue
        seen.add(letter)
        target.append(letter)
        if letter not in present:
            in_subs.append(letter)
            ops.append(np.ones(n))
    return np.einsum(",".join(in_subs) + "->" + "".join(target), *ops)


def einsum_node(value: Any, spec: str, operands: list[Any], conj: Sequence[bool]) -> Var:
    """A multilinear node ``value = einsum(spec, *operands')``, where operand i enters
    conjugated when ``conj[i]``; ``value`` is NumPy's own result."""
    values = [np.asarray(value_of(op)) for op in operands]
    subs, out = parse_einsum(spec, [v.ndim for v in values])
    appear = [np.conjugate(v) if c else v for v, c in zip(values, conj, strict=True)]
    edges = []
    for k, op in enumerate(operands):
        if not isinstance(op, Var):
            continue

        def vjp(g: Any, k: int = k) -> Any:
            c = _einsum_cotangent(g, out, subs, appear, k)
            return np.conjugate(c) if conj[k] else c  # d(conj a) = conj(da): adjoint conj(.)

        edges.append((op, vjp))
    return node(value, edges)


# ---------------------------------------------------------------- function rules


FunctionApply = Callable[[Any, str, tuple[Any, ...], dict[str, Any]], Any]


@dataclass(frozen=True)
class FunctionRule:
    """A NumPy function: ``apply(func, name, args, kwargs)`` builds its node(s)."""

    apply: FunctionApply
    cases: tuple[Case, ...] = field(default=())
    differentiable: bool = True


def _nondiff(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _call_values(func, args, kwargs)


def _constant(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Piecewise constant (round): a node without parents."""
    return Var(_call_values(func, args, kwargs))


# ---------------------------------------------------------------- copying functions and indexing


#: The arguments of a gather function that hold the arrays it copies from (default: the first).
_GATHER_ARRAYS: dict[Any, tuple[str, ...]] = {
    np.compress: ("a",), np.extract: ("arr",), np.choose: ("choices",),
    np.select: ("choicelist", "default"), np.insert: ("arr", "values"), np.append: ("arr", "values"),
}
#: np.pad modes that copy elements (the others compute new values).
_COPYING_PAD_MODES = frozenset({"constant", "edge", "reflect", "symmetric", "wrap"})


def _gather(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A function each of whose output elements is a copy of one input element, or a constant.

    The function is applied to arrays of element positions (1, 2, ... for the
    Vars; 0 for constants, and for the zeros such functions fill in); its
    pullback adds each output cotangent into the position it was read from
    (the transpose of the selection), so repeated reads accumulate.
    """
    sig = signature(func)
    bound = sig.bind(*args, **kwargs)
    arguments = bound.arguments
    if arguments.get("out") is not None:
        raise TypeError(f"{name}: out= is not supported by the reverse reference")
    if arguments.get("dtype") is not None:
        raise _missing(f"{name}(dtype=...)")
    if func is np.pad:
        mode = arguments.get("mode", "constant")
        if not isinstance(mode, str) or mode not in _COPYING_PAD_MODES:
            raise _missing(f"{name}(mode={mode!r})", " (only the modes that copy elements)")
        if arguments.get("kwargs", {}).get("reflect_type", "even") != "even":
            raise _missing(f"{name}(reflect_type='odd')", " (it computes 2 * edge - x)")
    names = _GATHER_ARRAYS.get(func, (next(iter(sig.parameters)),))
    for key, v in arguments.items():
        if key not in names and _has_var(v):
            raise _missing(f"{name} with a Var as {key}")
    found: list[tuple[Var, int]] = []
    offset = 1

    def positions(a: Any) -> Any:
        nonlocal offset
        if isinstance(a, Var):
            found.append((a, offset))
            pos = np.arange(offset, offset + a.size, dtype=np.intp).reshape(a.shape)
            offset += a.size
            return pos
        if isinstance(a, (list, tuple)):
            return type(a)(positions(e) for e in a)
        return np.zeros(np.shape(a), dtype=np.intp)

    value = _call_values(func, args, kwargs)
    for key in names:
        if key in arguments:
            arguments[key] = positions(arguments[key])
    if func is np.pad and arguments.get("mode", "constant") == "constant":
        arguments["kwargs"] = {**arguments.get("kwargs", {}), "constant_values": 0}
    pos_out = func(*bound.args, **bound.kwargs)
    many = isinstance(value, (list, tuple))
    results = []
    for v, p in zip(value if many else [value], pos_out if many else [pos_out], strict=True):
        assert np.shape(v) == np.shape(p), f"{name}: positions do not follow the value"
        p = np.asarray(p)
        edges: list[tuple[Var, VJP]] = []
        for x, off in found:
            if np.any((p >= off) & (p < off + x.size)):
                edges.append((x, functools.partial(scatter, pos=p, offset=off, size=x.size, shape=x.shape)))
        results.append(node(v, edges))
    return type(value)(results) if many else results[0]


def _is_basic(index: Any) -> bool:
    """Only integers, slices, None and Ellipsis: a view, never a repeated element."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, slice)
               or (isinstance(p, (int, np.integer)) and not isinstance(p, (bool, np.bool_)))
               for p in parts)


def getitem(x: Var, index: Any) -> Var:
    """``x[index]``: basic, integer-array (repeats accumulate) and boolean indexing."""
    parts = index if isinstance(index, tuple) else (index,)
    if any(_has_var(p) for p in parts):
        raise TypeError("an index cannot be a Var (indices have no derivative); index with x.value")
    value = x.value[index]
    if _is_basic(index):

        def vjp(g: Any) -> Any:
            out = np.zeros(x.shape, dtype=np.result_type(g))
            out[index] = g
            return out

        return node(value, [(x, vjp)])
    pos = np.arange(x.size, dtype=np.intp).reshape(x.shape)[index]
    return node(value, [(x, functools.partial(scatter, pos=pos, offset=0, size=x.size, shape=x.shape))])


def index_update(x: Var, index: Any, new: Any, how: str) -> Var:
    """``x.at[index].set(new)`` / ``.add(new)`` without mutating x."""
    parts = index if isinstance(index, tuple) else (index,)
    if any(_has_var(p) for p in parts):
        raise TypeError("an index cannot be a Var; index with x.value")
    nv = value_of(new)
    value = np.array(x.value, dtype=np.result_type(x.value, nv), copy=True)
    pos = np.arange(x.size, dtype=np.intp).reshape(x.shape)[index]
    flat = np.ravel(pos)
    if how == "set":
        value[index] = nv
        ids = np.full(x.shape, -1, dtype=np.intp)
        ids[index] = np.arange(flat.size, dtype=np.intp).reshape(np.shape(pos))
        wins = np.ravel(ids)[flat] == np.arange(flat.size)  # the write that stayed
    else:
        np.add.at(value, index, nv)
        wins = np.ones(flat.size, dtype=bool)

    def vjp_x(g: Any) -> Any:
        if how == "add":
            return g
        out = np.array(g, copy=True)
        np.reshape(out, -1)[flat] = 0
        return out

    def vjp_new(g: Any) -> Any:
        taken = np.ravel(np.asarray(g))[flat]
        return np.reshape(np.where(wins, taken, 0), np.shape(pos))

    edges: list[tuple[Var, VJP]] = [(x, vjp_x)]
    if isinstance(new, Var):
        edges.append((new, vjp_new))
    return node(value, edges)


# ---------------------------------------------------------------- compositions


def with_value(value: Any, composed: Any) -> Var:
    """NumPy's own ``value`` on top of a composition of covered operations.

    The composition carries the derivative; the identity edge makes the
    returned value exactly the one NumPy computes (their values agree to
    rounding, the order of operations may differ).
    """
    if not isinstance(composed, Var):
        return Var(value)
    if composed.shape != np.shape(value):
        raise AssertionError(f"reverse reference: a composition of shape {composed.shape} stands for a "
                             f"value of shape {np.shape(value)} (a bug in a rule)")
    return node(value, [(composed, lambda g: g)])


def _composite(build: Callable[[dict[str, Any]], Any], where_ok: bool = False) -> FunctionApply:
    """A function written as a composition of covered operations on the bound arguments
    (``where_ok``: the composition passes a where= argument on)."""

    def apply(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        b = _bind(func, name, args, kwargs, allow_where=where_ok)
        value = _call_values(func, args, kwargs)
        composed = build(b)
        if isinstance(value, (tuple, list)):
            return type(value)(with_value(v, c) for v, c in zip(value, composed, strict=True))
        return with_value(value, composed)

    return apply


def _as_var_or_array(x: Any) -> Any:
    return x if isinstance(x, Var) else np.asarray(x)

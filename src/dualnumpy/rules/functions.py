"""The calculus of NumPy's array functions (``__array_function__``), by kind.

Arguments are first bound to the function's signature, so a rule sees them by
name whether the caller passed them by position or keyword. A rule line says
which argument is differentiable and how the tangent follows; ``apply`` does
the splitting, the tags and the batch axis.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _dispatch, _dual
from .._tangent import dtype_of, shape_of, shift_axis, tangent_dtype, to_shape
from .._types import ArrayLike
from ._kinds import Domain, domain

Args = dict[str, Any]


# ---------------------------------------------------------------- kinds


@dataclass(frozen=True)
class LinearIn:
    """Linear in the array argument ``arg``.

    ``tangent(t, ndim, args)`` maps the batched tangent; ``ndim`` is the value's
    rank, for shifting axes. Without it the function is applied once per
    direction and the results stacked (correct for any linear function, slower).
    """

    arg: str
    tangent: Callable[[ArrayLike, int, Args], ArrayLike] | None
    domain: Domain


@dataclass(frozen=True)
class LinearInSequence:
    """Linear in a sequence of arrays (concatenate, stack): constants get zero tangents."""

    arg: str
    tangent: Callable[[list[ArrayLike], int, Args], ArrayLike]
    domain: Domain


@dataclass(frozen=True)
class Composite:
    """The tangent of a composition of supported operations, the value NumPy's own."""

    compose: Callable[..., Any]
    domain: Domain
    diff_args: tuple[str, ...] = ("a",)


@dataclass(frozen=True)
class NonDiffFn:
    """A result with no derivative (indices, shapes, predicates, constants)."""

    why: str


@dataclass(frozen=True)
class UnsupportedFn:
    fix: str


@dataclass(frozen=True)
class CustomFn:
    """Full control: ``apply(func, args, tag)`` returns the result."""

    apply: Callable[[Any, Args, int], Any]
    domain: Domain = field(default_factory=lambda: domain((-3.0, 3.0)))


FnRule = LinearIn | LinearInSequence | Composite | NonDiffFn | UnsupportedFn | CustomFn


# ---------------------------------------------------------------- plumbing


@functools.cache
def _signature(func: Any) -> inspect.Signature:
    return inspect.signature(func)


def public_name(func: Any) -> str:
    module = getattr(func, "__module__", "numpy") or "numpy"
    prefix = "np." + module.removeprefix("numpy").lstrip(".") + "." if module != "numpy" else "np."
    return prefix.replace("np._core.", "np.").replace("..", ".") + str(func.__name__)


def bind(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Args:
    bound = _signature(func).bind(*args, **kwargs)
    out = dict(bound.arguments)
    for name, param in _signature(func).parameters.items():
        if param.kind is inspect.Parameter.VAR_KEYWORD and name in out:
            out.update(out.pop(name))
    return out


def call(func: Any, args: Args) -> Any:
    """Call ``func`` with bound arguments, positional where the signature insists."""
    params = list(_signature(func).parameters.values())
    star = next((i for i, p in enumerate(params) if p.kind is inspect.Parameter.VAR_POSITIONAL), -1)
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    for i, param in enumerate(params):
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            positional.extend(args.get(param.name, ()))
        elif param.kind is inspect.Parameter.POSITIONAL_ONLY or i < star:
            positional.append(args.get(param.name, param.default))
        elif param.name in args:
            keywords[param.name] = args[param.name]
    names = {p.name for p in params}
    keywords.update({k: v for k, v in args.items() if k not in names})
    return func(*positional, **keywords)


def _walk(x: Any) -> list[Any]:
    if isinstance(x, (list, tuple)):
        return [y for item in x for y in _walk(item)]
    return [x]


def _duals_in(args: Args) -> list[_dual.Dual]:
    return [x for value in args.values() for x in _walk(value) if isinstance(x, _dual.Dual)]


def _value_of(x: Any, tag: int) -> Any:
    if isinstance(x, _dual.Dual) and x.tag == tag:
        return x.value
    if isinstance(x, list):
        return [_value_of(y, tag) for y in x]
    if isinstance(x, tuple):
        return tuple(_value_of(y, tag) for y in x)
    return x


def values_at(args: Args, tag: int) -> Args:
    return {name: _value_of(value, tag) for name, value in args.items()}


def _refuse_duals_outside(name: str, args: Args, allowed: tuple[str, ...], tag: int) -> None:
    for key, value in args.items():
        if key in allowed:
            continue
        if any(isinstance(x, _dual.Dual) and x.tag == tag for x in _walk(value)):
            raise TypeError(
                f"{name}: argument {key!r} takes no derivative and cannot be a Dual; "
                f"pass its value (d.value)"
            )


def _per_direction(func: Any, arg: str, t: ArrayLike, args: Args) -> ArrayLike:
    """Apply a linear function to each direction and stack: the fallback batching rule."""
    outs = [call(func, {**args, arg: t[i]}) for i in range(shape_of(t)[0])]
    return np.stack(outs)


def apply(rule: FnRule, func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    bound = bind(func, args, kwargs)
    if isinstance(rule, UnsupportedFn):
        _dispatch.unsupported(name, rule.fix)
    _dispatch.refuse_out(name, bound)
    duals = _duals_in(bound)
    tag = max(d.tag for d in duals)
    if isinstance(rule, NonDiffFn):
        return call(func, values_at(bound, tag))
    if isinstance(rule, CustomFn):
        return rule.apply(func, bound, tag)
    if isinstance(rule, Composite):
        _refuse_duals_outside(name, bound, rule.diff_args, tag)
        ans = call(func, values_at(bound, tag))
        composed = call(rule.compose, bound)
        return _replace_value(composed, ans, tag)
    if isinstance(rule, LinearIn):
        _refuse_duals_outside(name, bound, (rule.arg,), tag)
        x = bound[rule.arg]
        ans = call(func, values_at(bound, tag))
        t = _dispatch.batched_tangent(x)
        ndim = len(shape_of(x.value))
        if rule.tangent is None:
            t_out = _per_direction(func, rule.arg, t, values_at(bound, tag))
        else:
            t_out = rule.tangent(t, ndim, values_at(bound, tag))
        return _wrap_result(ans, t_out, tag, x.batched)
    if isinstance(rule, LinearInSequence):
        _refuse_duals_outside(name, bound, (rule.arg,), tag)
        items = list(bound[rule.arg])
        values, tangents, batched = _dispatch.split(items, tag)
        ans = call(func, {**values_at(bound, tag), rule.arg: values})
        k = next(shape_of(t)[0] for t in tangents if t is not None)
        dtype = tangent_dtype(np.result_type(*[dtype_of(v) for v in values]))
        filled = [np.zeros((k, *shape_of(v)), dtype) if t is None else t
                  for v, t in zip(values, tangents, strict=True)]
        ndim = max(len(shape_of(v)) for v in values)
        return _wrap_result(ans, rule.tangent(filled, ndim, values_at(bound, tag)), tag, batched)
    raise AssertionError(f"unknown function rule {rule!r}")


def _wrap_result(ans: Any, t: Any, tag: int, batched: bool) -> Any:
    if isinstance(ans, (tuple, list)):
        return type(ans)(_dispatch.wrap(a, ti, tag, batched) for a, ti in zip(ans, t, strict=True))
    return _dispatch.wrap(ans, t, tag, batched)


def _replace_value(composed: Any, ans: Any, tag: int) -> Any:
    """Keep the composition's tangent but NumPy's own value."""
    if isinstance(composed, (tuple, list)):
        return type(composed)(_replace_value(c, a, tag) for c, a in zip(composed, ans, strict=True))
    if isinstance(composed, _dual.Dual) and composed.tag == tag:
        return _dual.make(ans, composed.tangent, tag)
    return ans


# ---------------------------------------------------------------- tangent helpers


def _axis_call(func: Any, *axis_names: str) -> Callable[[ArrayLike, int, Args], ArrayLike]:
    """Call ``func`` on the tangent with the named axis arguments shifted past the batch axis."""

    def tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
        first = next(iter(args))
        shifted = {key: (shift_axis(value, ndim) if key in axis_names else value)
                   for key, value in args.items() if key != first}
        for key in axis_names:
            if key not in args:
                shifted[key] = shift_axis(_default(func, key), ndim)
        return func(t, **shifted)

    return tangent


def _default(func: Any, name: str) -> Any:
    return _signature(func).parameters[name].default


def _sum_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    kw = {key: args[key] for key in ("dtype", "keepdims") if key in args}
    if args.get("where", True) is not True:
        raise TypeError("np.sum(where=...) is not supported with Duals; use np.where(mask, x, 0).sum()")
    return np.sum(t, axis=shift_axis(args.get("axis"), ndim), **kw)


def _reshape_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    shape = args.get("shape", args.get("newshape"))
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape or ())
    return np.reshape(t, (shape_of(t)[0], *shape), order=args.get("order", "C"))


def _transpose_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    axes = args.get("axes")
    if axes is None:
        axes = tuple(range(ndim))[::-1]
    return np.transpose(t, (0, *(int(a) % ndim + 1 for a in axes)))


def _broadcast_to_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    return to_shape(t, tuple(np.broadcast_shapes(tuple(args["shape"]))))


def _expand_dims_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    axis = args["axis"]
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out_ndim = ndim + len(axes)
    return np.expand_dims(t, tuple(int(a) % out_ndim + 1 for a in axes))


def _squeeze_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    axis = args.get("axis")
    if axis is None:
        axis = tuple(i for i, n in enumerate(shape_of(t)[1:]) if n == 1)
    return np.squeeze(t, axis=shift_axis(axis, ndim))


def _moveaxis_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    def shift(a: Any) -> Any:
        if isinstance(a, (tuple, list)):
            return tuple(int(i) % ndim + 1 for i in a)
        return int(a) % ndim + 1

    return np.moveaxis(t, shift(args["source"]), shift(args["destination"]))


def _ravel_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    order = args.get("order", "C")
    if order not in ("C", "K", "A"):
        return _per_direction(np.ravel, "a", t, args)
    return np.reshape(t, (shape_of(t)[0], -1))


def _diagonal_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    return np.diagonal(t, args.get("offset", 0), int(args.get("axis1", 0)) % ndim + 1,
                       int(args.get("axis2", 1)) % ndim + 1)


def _trace_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    return np.trace(t, args.get("offset", 0), int(args.get("axis1", 0)) % ndim + 1,
                    int(args.get("axis2", 1)) % ndim + 1, args.get("dtype"))


def _repeat_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    axis = args.get("axis")
    if axis is None:
        t, axis = np.reshape(t, (shape_of(t)[0], -1)), 0
    return np.repeat(t, args["repeats"], axis=shift_axis(axis, ndim))


def _take_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    axis = args.get("axis")
    if axis is None:
        t, axis = np.reshape(t, (shape_of(t)[0], -1)), 0
    return np.take(t, args["indices"], axis=shift_axis(axis, ndim), mode=args.get("mode", "raise"))


def _astype_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    dtype = np.dtype(args["dtype"])
    if dtype.kind not in "fc":
        raise TypeError(
            f"np.astype(d, {dtype}) to a non-float dtype has no derivative; use "
            f"np.floor/np.round for piecewise-constant values, or cast d.value"
        )
    return np.astype(t, dtype)


def _concatenate_tangent(ts: list[ArrayLike], ndim: int, args: Args) -> ArrayLike:
    axis = args.get("axis", 0)
    if axis is None:
        return np.concatenate([np.reshape(t, (shape_of(t)[0], -1)) for t in ts], axis=1)
    return np.concatenate(ts, axis=shift_axis(axis, ndim))


def _stack_tangent(ts: list[ArrayLike], ndim: int, args: Args) -> ArrayLike:
    shape = np.broadcast_shapes(*(shape_of(t)[1:] for t in ts))
    ts = [to_shape(t, shape) for t in ts]
    axis = int(args.get("axis", 0)) % (len(shape) + 1)
    return np.stack(ts, axis=axis + 1)


def _where(func: Any, args: Args, tag: int) -> Any:
    """np.where(c, a, b) selects tangents; the condition is used by its value."""
    if "x" not in args:
        return np.where(_value_of(args["condition"], tag))
    condition = args["condition"]
    if isinstance(condition, _dual.Dual):
        condition = condition.value
    operands = [args["x"], args["y"]]
    values, tangents, batched = _dispatch.split(operands, tag)
    ans = np.where(condition, *values)
    shape = shape_of(ans)
    k = next(shape_of(t)[0] for t in tangents if t is not None)
    dtype = tangent_dtype(dtype_of(ans))
    ts = [np.zeros((k,) + (1,) * len(shape), dtype) if t is None else to_shape(t, shape)
          for t in tangents]
    return _dispatch.wrap(ans, np.where(condition, *ts), tag, batched)


def _clip(a: Any, a_min: Any = None, a_max: Any = None, **kwargs: Any) -> Any:
    lower = a if a_min is None else np.maximum(a, a_min)
    return lower if a_max is None else np.minimum(lower, a_max)


def _clip_apply(func: Any, args: Args, tag: int) -> Any:
    low = args.get("a_min", args.get("min"))
    high = args.get("a_max", args.get("max"))
    for key in ("min", "max"):
        args.pop(key, None)
    ans = np.clip(**{**values_at(args, tag), "a_min": _value_of(low, tag), "a_max": _value_of(high, tag)})
    composed = _clip(args["a"], low, high)
    return _replace_value(composed, ans, tag)


def _var(a: Any, axis: Any = None, dtype: Any = None, ddof: float = 0, keepdims: bool = False,
         *, mean: Any = None, correction: Any = None, where: Any = True) -> Any:
    if where is not True or mean is not None:
        raise TypeError("np.var/np.std with where= or mean= are not supported with Duals")
    if correction is not None:
        ddof = correction
    centered = a - np.mean(a, axis=axis, keepdims=True)
    squares = np.real(centered * np.conjugate(centered)) if np.iscomplexobj(centered) else centered * centered
    n = np.size(centered) if axis is None else np.prod(
        [shape_of(centered)[i] for i in np.atleast_1d(axis)])
    return np.sum(squares, axis=axis, dtype=dtype, keepdims=keepdims) / max(n - ddof, 0)


def _std(*args: Any, **kwargs: Any) -> Any:
    return np.sqrt(_var(*args, **kwargs))


def _mean(a: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False, *,
          where: Any = True) -> Any:
    if where is not True:
        raise TypeError("np.mean(where=...) is not supported with Duals; use a weighted sum")
    n = np.size(a) if axis is None else np.prod([shape_of(a)[i] for i in np.atleast_1d(axis)])
    return np.sum(a, axis=axis, dtype=dtype, keepdims=keepdims) / n


def _reduction(ufunc: np.ufunc) -> Callable[..., Any]:
    def compose(a: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False,
                initial: Any = np._NoValue, where: Any = True) -> Any:
        kw: dict[str, Any] = {} if initial is np._NoValue else {"initial": initial}
        if dtype is not None:
            kw["dtype"] = dtype
        if where is not True:
            kw["where"] = where
        return ufunc.reduce(a, axis=axis, keepdims=keepdims, **kw)

    return compose


def _extreme(ufunc: np.ufunc) -> Callable[..., Any]:
    def compose(a: Any, axis: Any = None, keepdims: bool = False,
                initial: Any = np._NoValue, where: Any = True) -> Any:
        kw: dict[str, Any] = {} if initial is np._NoValue else {"initial": initial}
        if where is not True:
            kw["where"] = where
        return ufunc.reduce(a, axis=axis, keepdims=keepdims, **kw)

    return compose


def _accumulation(ufunc: np.ufunc) -> Callable[..., Any]:
    def compose(a: Any, axis: Any = None, dtype: Any = None) -> Any:
        if axis is None:
            a, axis = np.ravel(a), 0
        return ufunc.accumulate(a, axis=axis, **({} if dtype is None else {"dtype": dtype}))

    return compose


def _sort(func: Any, args: Args, tag: int) -> Any:
    a = args["a"]
    axis = args.get("axis", -1)
    order = np.argsort(_value_of(a, tag), axis=axis, kind=args.get("kind"), stable=args.get("stable"))
    if axis is None:
        return np.ravel(a)[order]
    return np.take_along_axis(a, order, axis=axis)


def _take_along_axis_tangent(t: ArrayLike, ndim: int, args: Args) -> ArrayLike:
    axis = args.get("axis", -1)
    indices = args["indices"]
    if axis is None:
        return np.take_along_axis(np.reshape(t, (shape_of(t)[0], -1)), indices[None], axis=1)
    k = shape_of(t)[0]
    shape = np.broadcast_shapes(shape_of(indices), tuple(
        1 if i == int(axis) % ndim else n for i, n in enumerate(shape_of(t)[1:])))
    del shape
    return np.take_along_axis(t, np.broadcast_to(indices, (k, *shape_of(indices))), axis=shift_axis(axis, ndim))


def _round(func: Any, args: Args, tag: int) -> Any:
    a = args["a"]
    ans = call(func, values_at(args, tag))
    t = _dispatch.batched_tangent(a)
    return _dispatch.wrap(ans, np.zeros_like(t) if not _dispatch.is_dual(t) else 0.0 * t, tag, a.batched)


ANY = domain((-3.0, 3.0))
ANY_C = domain((-3.0, 3.0), complex_ok=True)

# ---------------------------------------------------------------- the table

FUNCTION_RULES: dict[Any, FnRule] = {
    # --- reductions and statistics
    np.sum:        LinearIn("a", _sum_tangent, ANY_C),
    np.mean:       Composite(_mean, ANY_C),
    np.prod:       Composite(_reduction(np.multiply), ANY_C),
    np.max:        Composite(_extreme(np.maximum), ANY),
    np.min:        Composite(_extreme(np.minimum), ANY),
    np.amax:       Composite(_extreme(np.maximum), ANY),
    np.amin:       Composite(_extreme(np.minimum), ANY),
    np.var:        Composite(_var, ANY_C),
    np.std:        Composite(_std, ANY),
    np.cumsum:     Composite(_accumulation(np.add), ANY_C),
    np.cumprod:    Composite(_accumulation(np.multiply), ANY_C),
    # --- shape and structure
    np.reshape:    LinearIn("a", _reshape_tangent, ANY_C),
    np.ravel:      LinearIn("a", _ravel_tangent, ANY_C),
    np.transpose:  LinearIn("a", _transpose_tangent, ANY_C),
    np.matrix_transpose: LinearIn("x", lambda t, n, a: np.swapaxes(t, -1, -2), ANY_C),
    np.swapaxes:   LinearIn("a", _axis_call(np.swapaxes, "axis1", "axis2"), ANY_C),
    np.flip:       LinearIn("m", _axis_call(np.flip, "axis"), ANY_C),
    np.moveaxis:   LinearIn("a", _moveaxis_tangent, ANY_C),
    np.squeeze:    LinearIn("a", _squeeze_tangent, ANY_C),
    np.expand_dims: LinearIn("a", _expand_dims_tangent, ANY_C),
    np.broadcast_to: LinearIn("array", _broadcast_to_tangent, ANY_C),
    np.diagonal:   LinearIn("a", _diagonal_tangent, ANY_C),
    np.trace:      LinearIn("a", _trace_tangent, ANY_C),
    np.repeat:     LinearIn("a", _repeat_tangent, ANY_C),
    np.take:       LinearIn("a", _take_tangent, ANY_C),
    np.take_along_axis: LinearIn("arr", _take_along_axis_tangent, ANY_C),
    np.copy:       LinearIn("a", lambda t, n, a: np.copy(t), ANY_C),
    np.real:       LinearIn("val", lambda t, n, a: np.real(t), ANY_C),
    np.imag:       LinearIn("val", lambda t, n, a: np.imag(t), ANY_C),
    np.astype:     LinearIn("x", _astype_tangent, ANY),
    np.concatenate: LinearInSequence("arrays", _concatenate_tangent, ANY_C),
    np.stack:      LinearInSequence("arrays", _stack_tangent, ANY_C),
    # --- selection
    np.where:      CustomFn(_where),
    np.clip:       CustomFn(_clip_apply),
    np.sort:       CustomFn(_sort),
    np.round:      CustomFn(_round),
    np.around:     CustomFn(_round),
    # --- products
    np.dot:        Composite(lambda a, b: np.matmul(a, b) if np.ndim(a) and np.ndim(b) else a * b,
                             domain((-2.0, 2.0), (-2.0, 2.0)), diff_args=("a", "b")),
    # --- results without a derivative
    np.all:        NonDiffFn("predicate"),
    np.any:        NonDiffFn("predicate"),
    np.argmax:     NonDiffFn("index"),
    np.argmin:     NonDiffFn("index"),
    np.argsort:    NonDiffFn("index"),
    np.nonzero:    NonDiffFn("index"),
    np.shape:      NonDiffFn("shape"),
    np.ndim:       NonDiffFn("shape"),
    np.size:       NonDiffFn("shape"),
    np.zeros_like: NonDiffFn("constant"),
    np.ones_like:  NonDiffFn("constant"),
    np.empty_like: NonDiffFn("constant"),
    np.full_like:  NonDiffFn("constant"),
    np.isclose:    NonDiffFn("predicate"),
    np.allclose:   NonDiffFn("predicate"),
    np.array_equal: NonDiffFn("predicate"),
    np.iscomplexobj: NonDiffFn("predicate"),
    np.isrealobj:  NonDiffFn("predicate"),
}

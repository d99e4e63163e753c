"""Kinds and plumbing for the NumPy-function tables (``__array_function__``).

Arguments are first bound to the function's signature, so a rule sees them by
name whether the caller passed them by position or keyword. A rule line says
which argument is differentiable and how the tangent follows; ``apply`` does
the splitting, the tags and the batch axis. Every differentiable rule carries
``samples``: the calls from which its tests are generated.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dualnumpy.core import dual as _dual
from dualnumpy.core import interpreter as _dispatch
from dualnumpy.core.tangent import dtype_of, shape_of, shift_axis, tangent_dtype
from dualnumpy.core.types import ArrayLike

Args = dict[str, Any]


# ---------------------------------------------------------------- kinds


@dataclass(frozen=True)
class Sample:
    """One call the generated tests make (tests/test_function_rules.py).

    ``args`` and ``kwargs`` are the call; ``duals`` lists the arguments that
    become Duals: a position, or ``(position, item)`` inside a sequence
    argument. Those must be float arrays or scalars. ``complex_ok`` also runs
    the call with complex values; ``float32`` runs it in float32 as well.
    """

    args: tuple[Any, ...]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    duals: tuple[int | tuple[int, int], ...] = (0,)
    rtol: float = 1e-6
    complex_ok: bool = False
    float32: bool = True


def sample(*args: Any, duals: tuple[int | tuple[int, int], ...] = (0,), rtol: float = 1e-6,
           complex_ok: bool = False, float32: bool = True, **kwargs: Any) -> Sample:
    return Sample(tuple(args), dict(kwargs), duals, rtol, complex_ok, float32)


def arr(*shape: int, seed: int = 0, low: float = -2.0, high: float = 2.0) -> np.ndarray[Any, Any]:
    """A fixed pseudo-random float64 array: sample points without accidental ties."""
    return np.random.default_rng(seed).uniform(low, high, shape)


Samples = tuple[Sample, ...]


@dataclass(frozen=True)
class LinearIn:
    """Linear in the array argument ``arg``.

    ``tangent(t, ndim, args)`` maps the batched tangent; ``ndim`` is the value's
    rank, for shifting axes. Without it the function is applied once per
    direction and the results stacked (correct for any linear function, slower).
    """

    arg: str
    tangent: Callable[[ArrayLike, int, Args], ArrayLike] | None
    samples: Samples


@dataclass(frozen=True)
class LinearInSequence:
    """Linear in a sequence of arrays (concatenate, stack): constants get zero tangents."""

    arg: str
    tangent: Callable[[list[ArrayLike], int, Args], ArrayLike]
    samples: Samples


@dataclass(frozen=True)
class Composite:
    """The tangent of a composition of supported operations, the value NumPy's own."""

    compose: Callable[..., Any]
    samples: Samples
    diff_args: tuple[str, ...] = ("a",)


@dataclass(frozen=True)
class NonDiffFn:
    """A result with no derivative (indices, shapes, predicates, constants)."""

    why: str
    samples: Samples = ()


@dataclass(frozen=True)
class UnsupportedFn:
    """Refused with a TypeError naming ``fix``, the closest supported alternative."""

    fix: str
    samples: Samples = ()


@dataclass(frozen=True)
class CustomFn:
    """Full control: ``apply(func, args, tag)`` returns the result."""

    apply: Callable[[Any, Args, int], Any]
    samples: Samples


FnRule = LinearIn | LinearInSequence | Composite | NonDiffFn | UnsupportedFn | CustomFn


# ---------------------------------------------------------------- plumbing


@functools.cache
def _signature(func: Any) -> inspect.Signature:
    return inspect.signature(func)


@functools.cache
def public_name(func: Any) -> str:
    module = getattr(func, "__module__", "numpy") or "numpy"
    prefix = "np." + module.removeprefix("numpy").lstrip(".") + "." if module != "numpy" else "np."
    return prefix.replace("np._core.", "np.").replace("..", ".") + str(func.__name__)


@dataclass(frozen=True)
class _Plan:
    """A signature digested once per function: bind and call run on every dispatch."""

    simple: bool  # no *args, no **kwargs
    positional: tuple[str, ...]  # may be passed by position
    keyword_ok: frozenset[str]  # may be passed by keyword
    required: frozenset[str]
    order: tuple[str, ...]
    steps: tuple[tuple[str, str, Any], ...]  # (name, "star" | "pos" | "kw", default) for call
    names: frozenset[str]


@functools.cache
def _plan(func: Any) -> _Plan:
    P = inspect.Parameter
    params = list(_signature(func).parameters.values())
    star = next((i for i, p in enumerate(params) if p.kind is P.VAR_POSITIONAL), -1)
    steps = tuple((p.name, "star" if p.kind is P.VAR_POSITIONAL else
                   "pos" if p.kind is P.POSITIONAL_ONLY or i < star else "kw", p.default)
                  for i, p in enumerate(params))
    return _Plan(
        simple=not any(p.kind in (P.VAR_POSITIONAL, P.VAR_KEYWORD) for p in params),
        positional=tuple(p.name for p in params if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)),
        keyword_ok=frozenset(p.name for p in params if p.kind in (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY)),
        required=frozenset(p.name for p in params
                           if p.default is P.empty and p.kind not in (P.VAR_POSITIONAL, P.VAR_KEYWORD)),
        order=tuple(p.name for p in params), steps=steps, names=frozenset(p.name for p in params))


def bind(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Args:
    """The arguments by name, in the signature's order (what inspect's bind gives)."""
    plan = _plan(func)
    if plan.simple and len(args) <= len(plan.positional):  # the fast path: no *args/**kwargs
        given = dict(zip(plan.positional, args, strict=False))
        if all(k in plan.keyword_ok and k not in given for k in kwargs):
            given.update(kwargs)
            if plan.required <= given.keys():
                return {name: given[name] for name in plan.order if name in given}
    bound = _signature(func).bind(*args, **kwargs)  # also raises NumPy's TypeError for bad calls
    out = dict(bound.arguments)
    for name, param in _signature(func).parameters.items():
        if param.kind is inspect.Parameter.VAR_KEYWORD and name in out:
            out.update(out.pop(name))
    return out


def call(func: Any, args: Args) -> Any:
    """Call ``func`` with bound arguments, positional where the signature insists."""
    plan = _plan(func)
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    for name, how, default in plan.steps:
        if how == "star":
            positional.extend(args.get(name, ()))
        elif how == "pos":
            positional.append(args.get(name, default))
        elif name in args:
            keywords[name] = args[name]
    keywords.update({k: v for k, v in args.items() if k not in plan.names})
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
    if outs and isinstance(outs[0], (tuple, list)):  # several outputs (split, unstack): stack each
        return type(outs[0])(np.stack([out[j] for out in outs]) for j in range(len(outs[0])))
    return np.stack(outs)


def apply(rule: FnRule, func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if isinstance(rule, UnsupportedFn):
        _dispatch.unsupported(name, rule.fix)
    bound = bind(func, args, kwargs)
    _dispatch.refuse_out(name, bound)
    duals = _duals_in(bound)
    if not duals:  # only like=a Dual (NumPy strips it): the data are plain, so is the result
        return call(func, bound)
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
        plain = values_at(bound, tag)
        ans = call(func, plain)
        t = _dispatch.batched_tangent(x)
        ndim = len(shape_of(x.value))
        if rule.tangent is None:
            t_out = _per_direction(func, rule.arg, t, plain)
        else:
            t_out = rule.tangent(t, ndim, plain)
        return _wrap_result(ans, t_out, tag, x.batched)
    if isinstance(rule, LinearInSequence):
        _refuse_duals_outside(name, bound, (rule.arg,), tag)
        items = list(bound[rule.arg])
        values, tangents, batched = _dispatch.split(items, tag)
        # Nested lists of plain numbers are constants: as arrays, so that their shapes count.
        values = [np.asarray(v) if isinstance(v, (list, tuple)) else v for v in values]
        ans = call(func, {**values_at(bound, tag), rule.arg: values})
        k = next(shape_of(t)[0] for t in tangents if t is not None)
        dtype = tangent_dtype(np.result_type(*[dtype_of(v) for v in values]))
        filled = [np.zeros((k, *shape_of(v)), dtype) if t is None else t
                  for v, t in zip(values, tangents, strict=True)]
        ndim = max(len(shape_of(v)) for v in values)
        t_out = rule.tangent(filled, ndim, {**values_at(bound, tag), rule.arg: values})
        return _wrap_result(ans, t_out, tag, batched)
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
        # The tangent follows NumPy's result dtype, as wrap() does (np.interp gives float64
        # for float32 input; a composition on the float32 values would not).
        t = composed.tangent
        dtype = tangent_dtype(dtype_of(ans))
        if isinstance(t, np.ndarray) and t.dtype != dtype:
            t = t.astype(dtype)
        return _dual.make(ans, t, tag)
    return ans


# ---------------------------------------------------------------- helpers for rule lines


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


def primal(x: Any) -> Any:
    """The plain value under every level of Duals: for choices (indices, masks, orders), never
    for results or tangents."""
    while isinstance(x, _dual.Dual):
        x = x.value
    return x

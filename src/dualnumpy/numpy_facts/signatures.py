"""Binding a NumPy function's arguments to its signature, and its public name.

A rule sees arguments by name whether the caller passed them by position or
keyword; ``bind`` gives that mapping and ``call`` calls the function back from it.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np

Args = dict[str, Any]


@functools.cache
def signature(func: Any) -> inspect.Signature:
    """``func``'s signature as NumPy's dispatcher applies it (see ``_AS_DISPATCHED``)."""
    if func in _AS_DISPATCHED:
        return _AS_DISPATCHED[func]
    return inspect.signature(func)


_X_ONLY = inspect.Signature([inspect.Parameter("x", inspect.Parameter.POSITIONAL_ONLY)])
# Functions whose Python signature differs from what their dispatcher accepts: the Array API
# unique_* read ``(x)`` but take x by position only (``(x, /)``).
_AS_DISPATCHED: dict[Any, inspect.Signature] = {
    getattr(np, name): _X_ONLY for name in ("unique_all", "unique_counts", "unique_inverse", "unique_values")
    if hasattr(np, name)
}

#: Options under which NumPy may write into an input array; set to these values whenever the
#: input is a Dual's value, which must not change (the result is the same, only not in place).
IN_PLACE_OPTIONS: dict[str, Any] = {"overwrite_input": False, "copy": True}


@functools.cache
def public_name(func: Any) -> str:
    """``np.linalg.solve`` for ``numpy.linalg.solve``: the name users write."""
    module = getattr(func, "__module__", "numpy") or "numpy"
    if not module.startswith("numpy"):  # a rule registered for another library's function
        return f"{module}.{func.__name__}"
    if module in ("numpy.lib.scimath", "numpy.lib._scimath_impl"):  # NumPy's public name for the namespace
        return f"np.emath.{func.__name__}"
    prefix = "np." + module.removeprefix("numpy").lstrip(".") + "." if module != "numpy" else "np."
    return prefix.replace("np._core.", "np.").replace("..", ".") + str(func.__name__)


@functools.cache
def ufunc_name(uf: Any) -> str:
    """``np.sin``; ``scipy.special.gammaln`` for a ufunc another library defines."""
    import sys

    name = str(uf.__name__)
    if getattr(np, name, None) is uf:
        return f"np.{name}"
    for module in ("scipy.special",):
        if getattr(sys.modules.get(module), name, None) is uf:
            return f"{module}.{name}"
    return name


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
    params = list(signature(func).parameters.values())
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


def parameter_names(func: Any) -> tuple[str, ...]:
    """The names a call of ``func`` can bind (``*args`` and ``**kwargs`` included by their names)."""
    return _plan(func).order


def accepts_any_keyword(func: Any) -> bool:
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature(func).parameters.values())


def bind(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Args:
    """The arguments by name, in the signature's order (what inspect's bind gives)."""
    plan = _plan(func)
    if plan.simple and len(args) <= len(plan.positional):  # the fast path: no *args/**kwargs
        given = dict(zip(plan.positional, args, strict=False))
        if all(k in plan.keyword_ok and k not in given for k in kwargs):
            given.update(kwargs)
            if plan.required <= given.keys():
                return {name: given[name] for name in plan.order if name in given}
    bound = signature(func).bind(*args, **kwargs)  # also raises NumPy's TypeError for bad calls
    out = dict(bound.arguments)
    for name, param in signature(func).parameters.items():
        if param.kind is inspect.Parameter.VAR_KEYWORD and name in out:
            out.update(out.pop(name))
    return out


def call(func: Any, args: Args) -> Any:
    """Call ``func`` with bound arguments, positional where the signature insists."""
    plan = _plan(func)
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    given = 0  # positions up to the last one given: np.where(c) is not np.where(c, None, None)
    for name, how, default in plan.steps:
        if how == "star":
            positional.extend(args.get(name, ()))
            given = len(positional)
        elif how == "pos":
            positional.append(args.get(name, default))
            if name in args:
                given = len(positional)
        elif name in args:
            keywords[name] = args[name]
    del positional[given:]
    keywords.update({k: v for k, v in args.items() if k not in plan.names})
    return func(*positional, **keywords)


def default(func: Any, name: str) -> Any:
    return signature(func).parameters[name].default

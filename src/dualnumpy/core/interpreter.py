"""The interpreter: from a NumPy protocol call to a rule, and back to a Dual.

It alone binds arguments, finds the outermost tag, splits Duals of that tag
from constants, lays tangents out in the batched layout ``(k, *shape)``, calls
NumPy for the value, calls the rule's ``kind.jvp(ans, primals, tangents,
params)`` and wraps the result. Rules (``dualnumpy.rules``) never see a Dual.

The Dual type is handed in by ``core/dual.py`` (``use_number_type``), so this
module does not import it and the two form no import cycle.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dualnumpy.core import sums
from dualnumpy.core.refusals import refuse_out, refuse_where, unsupported
from dualnumpy.core.tags import carrier_tags
from dualnumpy.core.tangent import dtype_of, shape_of, tangent_dtype
from dualnumpy.core.types import ArrayLike
from dualnumpy.core.ufunc_methods import METHODS as _UFUNC_METHODS
from dualnumpy.numpy_facts.signatures import (
    IN_PLACE_OPTIONS,
    Args,
    bind,
    call,
    parameter_names,
    public_name,
    ufunc_name,
)
from dualnumpy.rules import registry
from dualnumpy.rules.kinds import (
    IN_PLACE_MIN_SIZE,
    TANGENT_KINDS,
    Composite,
    Elementwise,
    NonDiff,
    Switch,
    Unit,
    Unsupported,
    accumulate,
    align,
    loud,
    overwritable,
    promote_int,
    quiet,
    result_dtype,
    times_tangent,
)

if TYPE_CHECKING:
    from dualnumpy.core.dual import Dual as DualType

Dual: Any = None  # the Dual class, set by use_number_type
make: Any = None  # its trusted constructor


def use_number_type(cls: type, constructor: Any) -> None:
    """Called once by core/dual.py: the type this interpreter builds and recognises."""
    global Dual, make
    Dual, make = cls, constructor


_PLAIN_SCALARS = (int, float, complex, bool, np.generic)


def is_dual(x: Any) -> bool:
    return isinstance(x, Dual)


_OWN_TYPES = frozenset({np.ndarray, float, int, complex, bool, np.float64, np.float32, type(None)})


def foreign(x: Any) -> bool:
    """Another library's array type: let it (or NumPy) decide, as NEP 13 asks."""
    if type(x) in _OWN_TYPES:
        return False
    if isinstance(x, (Dual, np.ndarray, *_PLAIN_SCALARS)) or x is None:
        return False
    return hasattr(type(x), "__array_ufunc__") or hasattr(type(x), "__array_function__")


def top_tag(args: Sequence[Any]) -> int:
    return int(max(x.tag for x in args if isinstance(x, Dual)))


def batched_tangent(x: Any) -> ArrayLike:
    """The tangent of ``x`` in the layout rules see: ``(k, *shape)``."""
    t = x.tangent
    if len(shape_of(t)) != len(shape_of(x.value)):
        return t
    if type(t) is np.ndarray:
        return t[None]
    if isinstance(t, (float, int, complex)):
        return np.array([t], dtype=tangent_dtype(dtype_of(x.value)))
    return t[None]


def split(args: Sequence[Any], tag: int) -> tuple[list[Any], list[Any], bool]:
    """Values and batched tangents of the Duals of ``tag``; other arguments are constants.

    Returns whether any input was batched, so the output keeps that layout.
    All Duals of one tag must agree on the number of directions k.
    """
    values: list[Any] = []
    tangents: list[Any] = []
    batched = False
    ks: set[int] = set()
    unbatched = False
    for x in args:
        if isinstance(x, Dual) and x.tag == tag:
            value = x.value
            values.append(value)
            t = x.tangent
            t_shape = shape_of(t)
            if len(t_shape) != len(shape_of(value)):  # stored with its batch axis already
                tangents.append(t)
                batched = True
                ks.add(t_shape[0])
            else:
                tangents.append(t[None] if type(t) is np.ndarray else batched_tangent(x))
                unbatched = True
        else:
            values.append(x)
            tangents.append(None)
    if len(ks) > 1 or (ks and unbatched):
        found = sorted(ks) + (["a single direction"] if unbatched else [])
        raise ValueError(
            f"Duals of one tag carry different numbers of directions ({found}); seed every "
            f"input with tangents of the same leading size k (jvp(..., batched=True) checks this)"
        )
    return values, tangents, batched


def unbatch(t: ArrayLike, batched: bool) -> ArrayLike:
    return t if batched else t[0]


def wrap(ans: Any, t: ArrayLike, tag: int, batched: bool) -> DualType:
    dtype = result_dtype(ans)
    if isinstance(t, np.ndarray) and t.dtype != dtype:
        t = t.astype(dtype)
    result: DualType = make(ans, unbatch(t, batched), tag)
    return result


def wrap_result(ans: Any, t: Any, tag: int, batched: bool) -> Any:
    """``ans`` with tangent ``t``; tuples (and named tuples) output by output, and an
    output whose tangent is None stays plain (a rank, an integer exponent)."""
    if isinstance(ans, (tuple, list)):
        if t is None:
            return ans
        outs = [o if to is None else wrap_result(o, to, tag, batched) for o, to in zip(ans, t, strict=True)]
        return type(ans)(*outs) if hasattr(ans, "_fields") else type(ans)(outs)
    if t is None:
        return ans
    return wrap(ans, t, tag, batched)


def strip(args: Sequence[Any], tag: int) -> list[Any]:
    return [x.value if isinstance(x, Dual) and x.tag == tag else x for x in args]


# ---------------------------------------------------------------- ufuncs


def ufunc(uf: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if method == "__call__" and not kwargs and fast_elementwise:
        rule = registry.ufunc_rule(uf)
        if type(rule) is Elementwise and uf.nout == 1:
            fast = _elementwise_call(uf, rule, inputs)
            if fast is not None:
                return fast
    if any(foreign(x) for x in inputs):
        return NotImplemented
    name = ufunc_name(uf) + ("" if method == "__call__" else f".{method}")
    refuse_out(name, kwargs)
    rule = registry.ufunc_rule(uf)
    if rule is None:
        unsupported(name, "this ufunc is not classified yet; apply it to d.value, register a rule "
                          "with dualnumpy.rules.register, or file an issue")
    if isinstance(rule, Unsupported):
        unsupported(name, rule.fix)
    tag = top_tag(inputs)
    if isinstance(rule, NonDiff):
        if tag in carrier_tags:
            _refuse_carrier(name)
        return getattr(uf, method)(*strip(inputs, tag), **kwargs)
    if method == "__call__":
        refuse_where(name, kwargs)
        for key in ("axes", "axis", "keepdims"):
            if key in kwargs:
                unsupported(f"{name}({key}=...)", "move the axes with np.moveaxis first")
        values, tangents, batched = split(inputs, tag)
        ans = uf(*values, **kwargs)
        t = rule.jvp(ans, values, tangents, kwargs)  # type: ignore[union-attr]
        if uf.nout > 1:
            return wrap_result(ans, t, tag, batched)
        return wrap(ans, t, tag, batched)
    if method == "outer":
        a, b = inputs
        return uf(np.reshape(a, shape_of(a) + (1,) * len(shape_of(b))), b, **kwargs)
    if method in _UFUNC_METHODS:
        values, tangents, batched = split(inputs, tag)
        if tangents[0] is None:
            unsupported(name, "the indices of reduceat cannot be Duals; pass d.value")
        ans, t = _UFUNC_METHODS[method](uf, rule, values, tangents[0], kwargs, name)
        return wrap(ans, t, tag, batched)
    unsupported(name, "it updates its first argument in place; use d.at[index].add(v) "
                      "(or .set / .multiply)")


# Elementwise ufuncs of one output, on which most NumPy code spends its operations, take
# _elementwise_call; tests turn it off to compare with the general path.
fast_elementwise = True
_FAST_PARTS = frozenset({np.ndarray, np.float64, np.float32, np.complex128, np.complex64})
_FAST_CONSTANTS = _FAST_PARTS | {float, int, np.int64}


def _elementwise_call(uf: np.ufunc, rule: Elementwise, inputs: tuple[Any, ...]) -> Any:
    """``Elementwise.jvp`` for the common case, without the batched layout's bookkeeping.

    It applies when every Dual has the same tag, a floating ndarray or NumPy-scalar value,
    a tangent of the same kind (or a Python float, as 0-d Duals store it) and the same
    number of directions, and every other input is an ndarray, a NumPy float or a Python
    float or int. It computes the same products and sums in the same order as the
    general path, so the result is bit-identical (tests/test_fast_path.py); anything
    else returns None and takes the general path, which also owns every error message.
    """
    tag = -1
    k: int | None = None  # the batch size; None for single-direction tangents
    tangents: list[Any] = []
    for x in inputs:
        kind = type(x)
        if kind is Dual:
            value, t = x.value, x.tangent
            if type(value) not in _FAST_PARTS or value.dtype.kind not in "fc":
                return None
            if type(t) is float:  # the general path's batched_tangent() makes the same cast
                t = value.dtype.type(t)
            elif type(t) not in _FAST_PARTS:
                return None
            x_k = None if t.ndim == value.ndim else t.shape[0]
            if tag == -1:
                tag, k = x.tag, x_k
            elif x.tag != tag or x_k != k:
                return None
            tangents.append(t)
        elif kind in _FAST_CONSTANTS:
            tangents.append(None)
        else:
            return None
    values = [x.value if type(x) is Dual else x for x in inputs]
    ans = uf(*values)
    dtype = result_dtype(ans)
    promoted: list[Any] | None = None
    total: Any = None
    total_owned = False
    ndim = ans.ndim if type(ans) is np.ndarray else 0
    for partial, t in zip(rule.partials, tangents, strict=True):
        if t is None:
            continue
        if k is not None and t.ndim <= ndim:  # (k, *shape) against a higher-rank output: see align()
            t = align(t, ndim)
        if isinstance(partial, Unit):
            if not partial.sign:
                continue
            if partial.sign < 0 and total is not None:
                # total - t: the same bits as total + (-t), one temporary fewer
                if (total_owned and type(total) is np.ndarray and type(t) is np.ndarray
                        and total.shape == t.shape and total.dtype == t.dtype
                        and total.flags.writeable):
                    np.subtract(total, t, out=total)
                else:
                    total, total_owned = total - t, True
                continue
            term, owned = (t, False) if partial.sign > 0 else (-t, True)
        else:
            if promoted is None:
                promoted = [promote_int(v, dtype) for v in values]
            if rule.singular:
                token = quiet()
                try:
                    d = partial(ans, *promoted)
                    term = times_tangent(d, t, True, (ans, *values, *promoted))
                finally:
                    loud(token)
            else:
                d = partial(ans, *promoted)
                # the size gate first: small arrays, the common case, skip the call
                if (type(d) is np.ndarray and d.size >= IN_PLACE_MIN_SIZE
                        and overwritable(d, t, (ans, *values, *promoted))):
                    term = np.multiply(d, t, out=d)
                else:
                    term = d * t
            owned = True
        if total is None:  # inline, as above: one call fewer per operation
            total, total_owned = term, owned
        else:
            total, total_owned = accumulate(total, total_owned, term, owned)
    shape = ans.shape if type(ans) is np.ndarray else ()
    full = shape if k is None else (k, *shape)
    if total is None:  # no input moves the output (the sign source of copysign)
        total = np.zeros(full, dtype)
    elif total.shape != full:
        total = np.broadcast_to(total, full)
    if total.dtype != dtype:
        total = total.astype(dtype)
    return make(ans, total, tag)


# ---------------------------------------------------------------- NumPy functions


def function(func: Any, types: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    for t in types:
        if not issubclass(t, (Dual, np.ndarray)):
            return NotImplemented
    rule = registry.function_rule(func)
    name = public_name(func)
    if rule is None:
        unsupported(name, "it is not in dualnumpy's function table yet; apply it to d.value if "
                          "its result does not depend on the tangent, write it with "
                          "supported NumPy operations, or register a rule with dualnumpy.rules.register")
    result = apply(rule, func, name, args, kwargs)
    if func is _np_sum and sums.active():
        sums.note(result, bind(func, args, kwargs))
    return result


_np_sum = np.sum
_IN_PLACE_NAMES = frozenset(IN_PLACE_OPTIONS)


@functools.cache
def _takes_like(func: Any) -> bool:
    try:
        return "like" in parameter_names(func)
    except (TypeError, ValueError):
        return False


# Argument types that hold no Dual: skipped without a walk.
_PLAIN_TYPES = frozenset({int, float, complex, bool, str, type(None), np.ndarray})


def _walk(x: Any) -> list[Any]:
    if isinstance(x, (list, tuple)):
        return [y for item in x for y in _walk(item)]
    return [x]


def _duals_in(args: Args) -> list[Any]:
    found = []
    for value in args.values():
        kind = type(value)
        if kind is Dual:
            found.append(value)
        elif kind not in _PLAIN_TYPES:
            found.extend(x for x in _walk(value) if isinstance(x, Dual))
    return found


def value_of(x: Any, tag: int) -> Any:
    """``x`` with every Dual of ``tag`` replaced by its value, inside lists and tuples too."""
    if isinstance(x, Dual) and x.tag == tag:
        return x.value
    if isinstance(x, list):
        return [value_of(y, tag) for y in x]
    if isinstance(x, tuple):
        return tuple(value_of(y, tag) for y in x)
    return x


def values_at(args: Args, tag: int) -> Args:
    return {name: value.value if type(value) is Dual and value.tag == tag else
            value if type(value) in _PLAIN_TYPES else value_of(value, tag)
            for name, value in args.items()}


def _refuse_duals_outside(name: str, args: Args, allowed: Sequence[Any], tag: int) -> None:
    for key, value in args.items():
        if key in allowed or type(value) in _PLAIN_TYPES:
            continue
        if any(isinstance(x, Dual) and x.tag == tag for x in _walk(value)):
            raise TypeError(
                f"{name}: argument {key!r} takes no derivative and cannot be a Dual; "
                f"pass its value (d.value)"
            )


def apply(rule: Any, func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run one function rule: bind, find the tag, split, call NumPy, call the kind, wrap."""
    if isinstance(rule, Unsupported):
        unsupported(name, rule.fix)
    bound = bind(func, args, kwargs)
    refuse_out(name, bound)
    duals = _duals_in(bound)
    if not duals:  # only like=a Dual (NumPy strips it): the data are plain, so is the result
        return call(func, bound)
    tag = duals[0].tag if len(duals) == 1 else max(d.tag for d in duals)
    values = values_at(bound, tag)
    if _IN_PLACE_NAMES & values.keys():  # a Dual's value must not change in place
        values.update({option: safe for option, safe in IN_PLACE_OPTIONS.items() if option in values})
    if "like" not in values and _takes_like(func):
        # NumPy strips like= before it dispatches; a Dual of an inner tag in the values needs
        # it back, or the constructor would meet that Dual without knowing its type.
        inner = next((x for v in values.values() for x in _walk(v) if isinstance(x, Dual)), None)
        if inner is not None:
            values["like"] = inner
    while isinstance(rule, Switch):
        rule = rule.choose(values)
    if isinstance(rule, NonDiff):
        if tag in carrier_tags:
            _refuse_carrier(name)
        return call(func, values)
    if isinstance(rule, Unsupported):
        unsupported(name, rule.fix)
    if isinstance(rule, Composite) and rule.own_value:
        return call(rule.compose, bound)
    _refuse_duals_outside(name, bound, rule.args, tag)
    ans = call(func, values)
    if isinstance(rule, Composite):
        return _replace_value(call(rule.compose, bound), ans, tag)
    if not isinstance(rule, TANGENT_KINDS):
        raise AssertionError(f"{name}: unknown rule kind {type(rule).__name__}")
    primals: dict[str, Any] = {}
    tangents: dict[str, Any] = {}
    names = [arg for arg in rule.args if arg in bound]
    if not getattr(rule, "sequence", False):
        flat_values, flat_tangents, batched = split([bound[arg] for arg in names], tag)
        for arg, value, t in zip(names, flat_values, flat_tangents, strict=True):
            primals[arg], tangents[arg] = value, t
    else:  # one k for every Dual of the tag, across the items of every sequence
        counts = [len(bound[arg]) for arg in names]
        flat_values, flat_tangents, batched = split([x for arg in names for x in bound[arg]], tag)
        at = 0
        for arg, count in zip(names, counts, strict=True):
            # Nested lists of plain numbers are constants: as arrays, so that their shapes count.
            primals[arg] = [np.asarray(v) if isinstance(v, (list, tuple)) else v
                            for v in flat_values[at:at + count]]
            tangents[arg] = flat_tangents[at:at + count]
            at += count
    params = {key: value for key, value in values.items() if key not in primals} if len(values) > len(primals) else {}
    kind: Any = rule
    return wrap_result(ans, kind.jvp(ans, primals, tangents, params), tag, batched)


def _refuse_carrier(name: str) -> None:
    raise TypeError(f"{name} of a tangent inside a custom_jvp rule: the rule runs for k directions "
                    f"at once, so the tangent's values are not there to compare; dualnumpy runs "
                    f"such a rule once per direction")


def _replace_value(composed: Any, ans: Any, tag: int) -> Any:
    """Keep the composition's tangent but NumPy's own value."""
    if isinstance(composed, (tuple, list)):
        outs = [_replace_value(c, a, tag) for c, a in zip(composed, ans, strict=True)]
        return type(ans)(*outs) if hasattr(ans, "_fields") else type(composed)(outs)
    if isinstance(composed, Dual) and composed.tag == tag:
        # wrap() casts the tangent to NumPy's result dtype (np.interp gives float64 for float32
        # input; a composition on the float32 values would not); the layout is the stored one.
        return wrap(ans, composed.tangent, tag, batched=True)
    return ans


"""The registries the interpreter reads: every ufunc and NumPy function with its rule.

The tables (``rules/ufuncs.py``, ``rules/functions.py`` and its siblings) are
registered here at import, each line validated as a library author's
``register`` call is: the kind, the arity, a domain to test it on, no function
registered twice. ``UFUNC_RULES`` and ``FUNCTION_RULES`` are read-only views.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from dualnumpy.numpy_facts.movement import MOVES_ELEMENTS
from dualnumpy.numpy_facts.sampling import Domain, Sample
from dualnumpy.numpy_facts.signatures import (
    accepts_any_keyword,
    bind,
    parameter_names,
    public_name,
    ufunc_name,
)
from dualnumpy.rules import functions, kinds, ufuncs
from dualnumpy.rules.kinds import (
    Bilinear,
    Composite,
    Custom,
    Dependence,
    Elementwise,
    Linear,
    NonDiff,
    PiecewiseConstant,
    Rule,
    Switch,
    Unsupported,
)

# The tables' own dicts are the registry: a line and a register() call end up in one place.
_ufunc_rules: dict[np.ufunc, Rule] = ufuncs.UFUNC_RULES
_function_rules: dict[Any, Rule] = functions.FUNCTION_RULES

UFUNC_RULES: Mapping[np.ufunc, Rule] = MappingProxyType(_ufunc_rules)
FUNCTION_RULES: Mapping[Any, Rule] = MappingProxyType(_function_rules)

#: The interpreter's lookups: plain dict methods, one call each.
ufunc_rule = _ufunc_rules.get
function_rule = _function_rules.get

_KINDS = (Elementwise, Linear, Bilinear, Composite, Custom, Switch, PiecewiseConstant, NonDiff, Unsupported)


class RuleError(ValueError):
    """A rule that cannot be registered: the message names the function and the fix."""


def register(func: Any, rule: Rule, *, replace: bool = False) -> None:
    """Register ``rule`` as the derivative of ``func``, a ufunc or a NumPy-protocol function.

    The rule is checked before it takes effect: its kind, its arity against the
    function (a ufunc's ``nin``, a function's parameter names), a domain or samples
    to test it on when it carries a derivative, and that ``func`` has no rule yet
    (``replace=True`` overrides one on purpose).

    Examples
    --------
    A library author's rule for ``np.sinc`` (sin(pi x) / (pi x)), tested at the sample call:

    >>> import numpy as np
    >>> import dualnumpy as dn
    >>> from dualnumpy.rules import Custom, arr, register, sample
    >>> def sinc_jvp(ans, primals, tangents, params):
    ...     x = primals["x"]
    ...     return tangents["x"] * (np.cos(np.pi * x) - ans) / x
    >>> from dualnumpy.rules import FUNCTION_RULES
    >>> shipped = FUNCTION_RULES[np.sinc]
    >>> register(np.sinc, Custom(sinc_jvp, (sample(arr(4, low=0.2, high=3.0)),), args=("x",)),
    ...          replace=True)
    >>> round(float(dn.derivative(np.sinc)(0.5)), 6)
    -1.27324
    >>> register(np.sinc, shipped, replace=True)  # the shipped rule also handles x = 0
    """
    table = _ufunc_rules if isinstance(func, np.ufunc) else _function_rules
    if func in table and not replace:
        raise RuleError(f"{_name(func)} already has a rule ({type(table[func]).__name__}); "
                        f"pass replace=True to override it on purpose")
    table[func] = validated(func, rule)


def validated(func: Any, rule: Any) -> Rule:
    """``rule`` checked against ``func``, with ``func`` bound into the kinds that apply it."""
    name = _name(func)
    if not isinstance(rule, _KINDS):
        raise RuleError(f"{name}: a rule must be one of {', '.join(k.__name__ for k in _KINDS)} "
                        f"from dualnumpy.rules; got {type(rule).__name__}")
    if isinstance(func, np.ufunc):
        _check_ufunc(func, name, rule)
    else:
        _check_function(func, name, rule)
    if isinstance(rule, Linear) and rule.func is None:
        moves = rule.dependence is Dependence.DENSE and func in MOVES_ELEMENTS
        rule = dataclasses.replace(rule, func=func, dependence=Dependence.GATHER if moves else rule.dependence)
    checked: Rule = rule
    return checked


def _name(func: Any) -> str:
    if isinstance(func, np.ufunc):
        return ufunc_name(func)
    return public_name(func) if hasattr(func, "__name__") else repr(func)


def _check_ufunc(uf: np.ufunc, name: str, rule: Any) -> None:
    if not isinstance(rule, kinds.DIFFERENTIABLE_KINDS):
        return
    if isinstance(rule, (Composite, Switch)):
        raise RuleError(f"{name}: a ufunc rule is Elementwise, Linear, Bilinear, Custom or "
                        f"PiecewiseConstant; write a composition as a function rule")
    dom = getattr(rule, "domain", None)
    if not isinstance(dom, Domain):
        raise RuleError(f"{name}: a ufunc rule needs a Domain to be tested on, e.g. "
                        f"domain((-3.0, 3.0)) for each of its {uf.nin} inputs")
    if len(dom.intervals) != uf.nin:
        raise RuleError(f"{name} takes {uf.nin} input(s) but the rule's domain has "
                        f"{len(dom.intervals)} interval(s); give one per input")
    if isinstance(rule, (Elementwise, Custom)) and rule.nin != uf.nin:
        raise RuleError(f"{name} takes {uf.nin} input(s) but the rule has {rule.nin} "
                        f"{'partials' if isinstance(rule, Elementwise) else 'inputs (nin=)'}")
    args = getattr(rule, "args", ())
    if any(not isinstance(a, int) or not 0 <= a < uf.nin for a in args):
        raise RuleError(f"{name}: a ufunc rule's args are input positions 0..{uf.nin - 1}; got {args}")


def _check_function(func: Any, name: str, rule: Any) -> None:
    if not callable(func):
        raise RuleError(f"cannot register a rule for {func!r}: it is not callable")
    if not isinstance(rule, kinds.DIFFERENTIABLE_KINDS):
        return
    try:
        names = set(parameter_names(func))
    except (TypeError, ValueError):
        raise RuleError(f"{name}: its signature cannot be read, so its arguments cannot be bound "
                        f"by name; wrap it in a Python function and register that") from None
    samples = getattr(rule, "domain", None)
    if not isinstance(samples, tuple) or not samples or not all(isinstance(s, Sample) for s in samples):
        raise RuleError(f"{name}: a differentiable rule needs sample calls to be tested on: "
                        f"domain=(sample(x0, ...), ...) with dualnumpy.rules.sample")
    args = getattr(rule, "args", ())
    unknown = [a for a in args if a not in names]
    if unknown and not accepts_any_keyword(func):
        raise RuleError(f"{name}: the rule names argument(s) {unknown} that the signature "
                        f"({', '.join(parameter_names(func))}) does not have")
    for s in samples:
        try:
            bind(func, s.args, dict(s.kwargs))
        except TypeError as error:
            raise RuleError(f"{name}: a sample call does not fit its signature ({error})") from None
        for path in s.duals:
            position = path if isinstance(path, int) else path[0]
            if not 0 <= position < len(s.args):
                raise RuleError(f"{name}: a sample's duals= names argument {position}, but the "
                                f"sample passes {len(s.args)} positional argument(s)")


def _validate_tables() -> None:
    for table in (_ufunc_rules, _function_rules):
        for func, rule in table.items():
            table[func] = validated(func, rule)


_validate_tables()

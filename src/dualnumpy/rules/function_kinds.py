"""TRANSITION shim: the old function-rule vocabulary, mapped onto ``rules.kinds``.

Removed once every table line uses the kinds directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dualnumpy.core import interpreter as _interpreter
from dualnumpy.numpy_facts.sampling import Sample, Samples, arr, sample
from dualnumpy.numpy_facts.signatures import Args, bind, call, public_name
from dualnumpy.numpy_facts.signatures import default as _default
from dualnumpy.numpy_facts.signatures import signature as _signature
from dualnumpy.rules import kinds
from dualnumpy.rules.kinds import NonDiff as NonDiffFn
from dualnumpy.rules.kinds import Unsupported as UnsupportedFn
from dualnumpy.rules.kinds import axis_call as _axis_call
from dualnumpy.rules.kinds import per_direction as _per_direction
from dualnumpy.rules.kinds import primal

FnRule = Any


def _refuse_duals_outside(*a: Any) -> Any:
    return _interpreter._refuse_duals_outside(*a)


def _replace_value(*a: Any) -> Any:
    return _interpreter._replace_value(*a)


def values_at(*a: Any) -> Any:
    return _interpreter.values_at(*a)


def _value_of(*a: Any) -> Any:
    return _interpreter.value_of(*a)


def _duals_in(*a: Any) -> Any:
    return _interpreter._duals_in(*a)


def _walk(*a: Any) -> Any:
    return _interpreter._walk(*a)


def _wrap_result(*a: Any) -> Any:
    return _interpreter.wrap_result(*a)


def LinearIn(arg: str, tangent: Any, samples: Samples) -> kinds.Linear:
    return kinds.Linear(samples, arg=arg, tangent=tangent)


def LinearInSequence(arg: str, tangent: Any, samples: Samples) -> kinds.Linear:
    return kinds.Linear(samples, arg=arg, tangent=tangent, sequence=True)


def Composite(compose: Callable[..., Any], samples: Samples,
              diff_args: tuple[str, ...] = ("a",)) -> kinds.Composite:
    return kinds.Composite(compose, samples, args=diff_args)


class CustomFn:
    """Full control: ``apply(func, args, tag)`` returns the result."""

    def __init__(self, apply: Callable[[Any, Args, int], Any], samples: Samples) -> None:
        self.apply = apply
        self.domain = samples
        self.args: tuple[str, ...] = ()

    @property
    def samples(self) -> Samples:
        return self.domain


_ = (Sample, arr,
     sample, bind, call, public_name, _default, _signature, NonDiffFn, UnsupportedFn, _axis_call,
     _per_direction, primal)

kinds.DIFFERENTIABLE_KINDS = (*kinds.DIFFERENTIABLE_KINDS, CustomFn)  # TRANSITION

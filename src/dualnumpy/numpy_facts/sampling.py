"""Where the generated tests and ``python -m dualnumpy check`` sample a rule.

A ufunc rule carries a ``Domain`` (one interval per input); a function rule
carries ``Sample`` calls. Neither is calculus: they say where a derivative exists
and is smooth enough for finite differences to check it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Intervals where the elementary functions are smooth and well inside their domains, shared by
# the forward tables and the reverse reference so that both test a function on the same ground.
#: The real line, as far as sampling goes.
REAL_LINE: tuple[float, float] = (-3.0, 3.0)
#: Positive and away from 0 (logarithms, square roots, reciprocals).
POSITIVE: tuple[float, float] = (0.2, 4.0)
#: Inside (-1, 1) (arcsin, arctanh).
OPEN_UNIT: tuple[float, float] = (-0.9, 0.9)


@dataclass(frozen=True)
class Domain:
    """Where tests may sample a rule: one closed interval per argument.

    ``integer_args`` are drawn as integers (an exponent of ``ldexp``);
    ``constant_args`` are never made Duals (they take no tangent);
    ``complex_ok`` says the rule is holomorphic, so tests also try complex values.
    """

    intervals: tuple[tuple[float, float], ...]
    integer_args: tuple[int, ...] = ()
    constant_args: tuple[int, ...] = ()
    complex_ok: bool = False
    rtol: float = 1e-6


def domain(*intervals: tuple[float, float], integer_args: tuple[int, ...] = (),
           constant_args: tuple[int, ...] = (), complex_ok: bool = False,
           rtol: float = 1e-6) -> Domain:
    return Domain(tuple(intervals), integer_args, constant_args, complex_ok, rtol)


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
    return Sample(tuple(args), _Keywords(kwargs), duals, rtol, complex_ok, float32)


class _Like:
    """``like=LIKE`` in a sample: a number of the type under test, made when the call is made."""

    def __repr__(self) -> str:
        return "LIKE"


#: Stands for "a perturbed number" in a sample's ``like=`` (np.zeros(3, like=...)).
LIKE: Any = _Like()
_like_factory: list[Callable[[], Any]] = []


def use_like_factory(factory: Callable[[], Any]) -> None:
    """Called by the number type's module (core/dual.py): how ``LIKE`` becomes a real number."""
    _like_factory[:] = [factory]


class _Keywords(Mapping[str, Any]):
    """A sample's keywords, with ``LIKE`` made into a number when they are read."""

    def __init__(self, items: dict[str, Any]) -> None:
        self._items = items

    def __getitem__(self, key: str) -> Any:
        value = self._items[key]
        if value is LIKE and _like_factory:
            return _like_factory[0]()
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return repr(self._items)


Samples = tuple[Sample, ...]


def arr(*shape: int, seed: int = 0, low: float = -2.0, high: float = 2.0) -> np.ndarray[Any, Any]:
    """A fixed pseudo-random float64 array: sample points without accidental ties."""
    return np.random.default_rng(seed).uniform(low, high, shape)

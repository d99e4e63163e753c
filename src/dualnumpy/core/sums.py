"""The last ``np.sum`` of a perturbed number, noted while a separable evaluation asks for it.

A function that returns ``np.sum(F(x))`` is partially separable: its gradient is the sum of
the rows of the (sparse) Jacobian of ``F`` and its Hessian the sum of the elements' Hessians,
both cheap in forward mode from a few colored directions (``sparsity/separable.py``). To see
``F`` without changing the function, the interpreter and the tracer note each whole-array
``np.sum`` of their numbers here while ``noting()`` is active; the caller then checks that
the function returned exactly the noted sum.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_notes: list[list[Any]] = []


@contextmanager
def noting() -> Iterator[list[Any]]:
    """Within the block, ``note`` keeps the last whole-array sum as ``[result, operand]``."""
    last: list[Any] = []
    _notes.append(last)
    try:
        yield last
    finally:
        _notes.pop()


def active() -> bool:
    return bool(_notes)


def note(result: Any, bound: dict[str, Any]) -> None:
    """Keep ``result`` of ``np.sum(**bound)`` when it sums every entry and nothing else."""
    if not _notes:
        return
    if bound.get("axis") is not None or bound.get("where") is not None or bound.get("out") is not None:
        return
    initial = bound.get("initial")
    if initial is not None and initial != 0:
        return
    _notes[-1][:] = [result, bound.get("a")]

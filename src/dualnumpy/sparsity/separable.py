"""Partially separable functions: ``f(x) = np.sum(F(x))`` with a sparse Jacobian of ``F``.

Most objectives of many variables are sums of terms that each read a few of them
(Rosenbrock's ``100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2`` reads two). Then

- the gradient is the column sum of ``J_F``, and ``J_F`` comes compressed from one batched
  JVP with one direction per color of its columns (2 for Rosenbrock);
- ``H v`` is the column sum of ``d/dt J_F(x + t v)``: the same JVP with each direction
  perturbed along ``v`` (forward over forward, 2 + 2 directions in all);
- the Hessian is the sum of the terms' Hessians, and with the colors of ``J_F`` on both
  levels, entry ``(c, d)`` of a term's compressed second derivative is the term's
  ``d^2 F_i / dx_j dx_k`` for the one ``j`` of color c and ``k`` of color d it reads.

The cost is a few passes of ``f`` whatever ``x.size`` is, where forward mode over the basis
costs ``x.size`` of them. ``analyse`` finds ``F`` by running ``f`` once on traced values and
noting its last whole-array ``np.sum`` (``core/sums.py``); a function that does anything
after that sum (``0.5 * np.sum(r * r)``, ``np.mean``) is not taken as separable, and the
callers use their general method instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dualnumpy.core import sums
from dualnumpy.core.dual import Dual
from dualnumpy.core.tags import new_tag
from dualnumpy.sparsity.coloring import Coloring, color_columns
from dualnumpy.sparsity.detect import trace
from dualnumpy.sparsity.patterns import Pattern
from dualnumpy.transforms import hvp as hvp_module

IntArray = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(frozen=True)
class Separable:
    """What ``analyse`` found: ``F``'s Jacobian pattern (``terms x x.size``), its column
    coloring, and the entries of ``J_F`` in the compressed result."""

    shape: tuple[int, ...]
    terms: int
    rows: IntArray       # the term of each entry of J_F
    columns: IntArray    # the input of each entry
    coloring: Coloring

    @property
    def count(self) -> int:
        return self.coloring.count

    def seeds(self, dtype: Any) -> np.ndarray[Any, Any]:
        return np.reshape(self.coloring.seeds(dtype), (self.count, *self.shape))

    def column_sums(self, compressed: Any) -> Any:
        """``1^T J`` of a matrix with J_F's pattern, from its compressed form
        ``(..., count, terms)`` (leading axes kept)."""
        picked = compressed[..., self.coloring.colors[self.columns], self.rows]
        lead = np.shape(picked)[:-1]
        flat = np.reshape(picked, (-1, self.rows.size))
        size = int(np.prod(self.shape))
        out = np.stack([np.bincount(self.columns, weights=np.real(row), minlength=size)
                        for row in flat]) if flat.shape[0] else np.zeros((0, size))
        if np.iscomplexobj(picked):
            out = out + 1j * np.stack([np.bincount(self.columns, weights=np.imag(row), minlength=size)
                                       for row in flat])
        return np.reshape(out, (*lead, *self.shape))


def analyse(fun: Any, x: np.ndarray[Any, Any]) -> Separable | None:
    """``f``'s separable structure at ``x``'s shape, or None when ``f`` does not return a
    whole-array ``np.sum`` of its own (or detection refuses the function)."""
    try:
        _, run, _ = trace(fun, x, name="the separable analysis")
    except (TypeError, MemoryError):  # branching on values, an unsupported operation: not here
        return None
    return from_terms(run.terms, tuple(x.shape))


def from_terms(terms: Pattern | None, shape: tuple[int, ...]) -> Separable | None:
    """The analysis from a detection run's ``terms`` (None: not a sum of its terms)."""
    if terms is None:
        return None
    coloring = color_columns(terms, warn=False)
    if coloring.count * 2 > terms.n and terms.n > 8:  # every term reads almost everything
        return None
    rows = terms.rows_of_entries().astype(np.int64)
    return Separable(shape, terms.m, rows, terms.indices.astype(np.int64), coloring)


def _terms_tangent(fun: Any, point: Any, tag: int) -> Any:
    """Run ``fun`` on ``point`` and return the tangent (of tag ``tag``) of the terms it sums."""
    with sums.noting() as last:
        out = fun(point)
    if not last or last[0] is not out or not isinstance(last[1], Dual) or last[1].tag != tag:
        raise ValueError("the function no longer returns np.sum of its terms, as it did when it "
                         "was analysed; its structure depends on the point")
    return last[1].tangent


def gradient_and_hvp(fun: Any, x: np.ndarray[Any, Any], v: Any, analysis: Separable,
                     batched: bool) -> tuple[Any, Any]:
    """``(grad f(x), H v)``: one pass with ``count`` directions perturbed along ``v``."""
    outer, inner = new_tag(), new_tag()
    seeds = analysis.seeds(x.dtype)
    point = Dual(Dual(x, v, tag=outer), seeds, tag=inner)
    tangent = _terms_tangent(fun, point, inner)
    terms = analysis.terms
    if isinstance(tangent, Dual) and tangent.tag == outer:
        compressed = np.reshape(tangent.value, (analysis.count, terms))
        lead = (np.shape(v)[0],) if batched else ()
        along = np.reshape(tangent.tangent, (*lead, analysis.count, terms))
        return analysis.column_sums(compressed), analysis.column_sums(along)
    # the terms' derivatives do not depend on x: the Hessian is zero
    compressed = np.reshape(tangent.value if isinstance(tangent, Dual) else tangent, (analysis.count, terms))
    zero = np.zeros(((np.shape(v)[0],) if batched else ()) + tuple(x.shape), dtype=x.dtype)
    return analysis.column_sums(compressed), zero


class SeparableHessian:
    """The sparse Hessian of a separable ``f`` at the pattern's entries: one pass with
    ``count`` directions on both levels, then a scatter of the terms' second derivatives."""

    def __init__(self, analysis: Separable, pattern: Any) -> None:
        self.analysis = analysis
        colors = analysis.coloring.colors
        # every pair (j, k) of inputs one term reads, with the term
        lengths = np.bincount(analysis.rows, minlength=analysis.terms)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        repeat = lengths[analysis.rows]
        first = np.repeat(np.arange(analysis.rows.size, dtype=np.int64), repeat)
        offset = np.arange(first.size, dtype=np.int64) - np.repeat(
            np.cumsum(repeat) - repeat, repeat)
        second = starts[analysis.rows[first]] + offset
        term = analysis.rows[first]
        j, k = analysis.columns[first], analysis.columns[second]
        # where each pair lands among the entries of the given (CSR) pattern
        indptr = np.asarray(pattern.indptr, dtype=np.int64)
        indices = np.asarray(pattern.indices, dtype=np.int64)
        n = int(np.prod(analysis.shape))
        entry_keys = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr)) * n + indices
        pair_keys = j * n + k
        position = np.searchsorted(entry_keys, pair_keys)
        position = np.minimum(position, max(entry_keys.size - 1, 0))
        found = entry_keys[position] == pair_keys if entry_keys.size else np.zeros(pair_keys.size, bool)
        self.flat_index = (colors[j[found]] * analysis.count + colors[k[found]]) * analysis.terms + term[found]
        self.position = position[found]
        self.nnz = entry_keys.size

    def data(self, fun: Any, x: np.ndarray[Any, Any]) -> tuple[Any, Any]:
        """``(gradient, the Hessian's values at the pattern's entries)``."""
        a = self.analysis
        outer, inner = new_tag(), new_tag()
        seeds = a.seeds(x.dtype)
        point = Dual(Dual(x, seeds, tag=outer), seeds, tag=inner)
        tangent = _terms_tangent(fun, point, inner)
        if not (isinstance(tangent, Dual) and tangent.tag == outer):
            value = tangent.value if isinstance(tangent, Dual) else tangent
            gradient = a.column_sums(np.reshape(value, (a.count, a.terms)))
            return gradient, np.zeros(self.nnz, dtype=x.dtype)
        gradient = a.column_sums(np.reshape(tangent.value, (a.count, a.terms)))
        second = np.reshape(tangent.tangent, (-1,))[self.flat_index]
        values = np.bincount(self.position, weights=np.real(second), minlength=self.nnz)
        return gradient, values.astype(x.dtype, copy=False)


def hvp_by_terms(fun: Any, x: np.ndarray[Any, Any], v: Any, batched: bool) -> Any:
    """``H v`` for ``dualnumpy.hvp`` when ``fun`` returns ``np.sum`` of its terms, else None.

    The analysis is made per call (a trace and a coloring, linear in ``x.size``), since
    ``hvp`` keeps nothing between calls; the general method costs ``x.size`` directions.
    """
    if isinstance(v, Dual) or x.dtype.kind != "f" or x.size < 2:
        return None
    try:
        analysis = analyse(fun, x)
    except ImportError:  # no SciPy for the coloring: the general method
        return None
    if analysis is None:
        return None
    direction = np.asarray(v, dtype=x.dtype)
    try:
        return gradient_and_hvp(fun, x, direction, analysis, batched)[1]
    except ValueError:  # the terms differ at the point: the general method
        return None


hvp_module.use_separable(hvp_by_terms)

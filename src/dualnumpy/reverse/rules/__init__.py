"""The VJP tables of the reverse-mode reference, written from the math.

Nothing here is imported from ``dualnumpy.rules``: each pullback is derived
anew, often in a different but equivalent form (``tan' = 1 / cos**2`` where the
forward table has ``1 + tan**2``), so that agreement between the two modes
checks the formulas and not only the plumbing.

Conventions (DESIGN.md section 6 and :mod:`dualnumpy.reverse.node`):

* the VJP is the adjoint of the JVP for ``<u, v> = Re(sum(conj(u) * v))``:
  ``g * conj(f')`` for a holomorphic elementwise ``f``;
* ``abs'(0) = fabs'(0) = 0``; ``copysign(x, y)`` has ``d/dx = sign(x) * sign(y)``
  (0 at x = 0, as for abs); ``maximum``/``minimum``/``fmax``/``fmin`` (and
  ``max``/``min``/``clip``) split a tie evenly; ``x**0`` and ``0**y`` are flat;
* a zero cotangent times an infinite or NaN partial is 0 (sqrt at 0);
* piecewise-constant operations (floor, sign of reals, round, ...) give nodes
  without parents: their cotangent stops there;
* a running max/min, a tied max/min reduction, and a cluster of equal
  eigenvalues (eigvalsh) share the cotangent evenly among the tied entries;
* functions that read one triangle (cholesky, eigh, eigvalsh, pinv(hermitian=True))
  are differentiated as functions of that triangle, as NumPy computes them.

How the rules are built:

* elementwise ufuncs from their partial derivatives; the matrix-product ufuncs,
  dot, inner, outer, vdot, tensordot and einsum as one multilinear einsum node
  whose adjoint is again an einsum;
* copying functions (reshape, transpose, concatenate, indexing, pad, ...) by
  applying the function to an array of element positions: the pullback adds
  each cotangent back where it was read from;
* longer functions (ptp, the nan-reductions, quantile, n-d FFTs, polynomials, ...)
  as compositions of covered operations on Vars; ``with_value`` then puts
  NumPy's own value on top, so every value is exactly NumPy's.

Each rule carries the sample points its tests draw from (``UfuncSample`` for
ufuncs, ``Case`` for functions); ``tests/test_reverse.py`` is generated from them.

The tables are split by topic, as the forward tables in :mod:`dualnumpy.rules` are:

* ``common``: the shared machinery (nodes, argument binding, gather and scatter, the
  einsum node, compositions under NumPy's value, the pullbacks the ufunc methods and
  the reductions share, indexing a Var, sample points);
* ``ufuncs``: the ufuncs, their reduce/accumulate pullbacks and ``apply_ufunc``;
* ``functions``: core array functions (reductions, shape, selection);
* ``products``: products, covariance, differences and signals, polynomials;
* ``linalg``, ``statistics``, ``structure``, ``fft``: as the forward modules of those names.

This module merges the function tables into ``FUNCTION_VJPS`` (a function registered
twice is an ImportError), defines ``apply_function`` and ``covered``, and re-exports
what ``Var`` and the tests use from the topic modules (``apply_ufunc``, ``getitem``,
``index_update``, the tables and the types of their rules).
"""

from __future__ import annotations

import collections
import sys
from typing import Any

from ...numpy_facts.movement import MOVES_ELEMENTS
from ...numpy_facts.signatures import public_name
from ..node import use_rules
from .common import Case, FunctionRule, _gather, _missing, getitem, index_update
from .fft import FFT_VJPS
from .functions import CORE_FUNCTION_VJPS
from .linalg import LINALG_VJPS
from .products import PRODUCT_VJPS
from .statistics import STATISTICS_VJPS
from .structure import STRUCTURE_VJPS
from .ufuncs import (
    ACCUMULATE_VJPS,
    NONDIFF_UFUNCS,
    REDUCE_VJPS,
    UFUNC_VJPS,
    GufuncRule,
    UfuncRule,
    UfuncSample,
    apply_ufunc,
)

__all__ = [
    "ACCUMULATE_VJPS", "FUNCTION_VJPS", "NONDIFF_UFUNCS", "REDUCE_VJPS", "UFUNC_VJPS",
    "Case", "FunctionRule", "GufuncRule", "UfuncRule", "UfuncSample",
    "apply_function", "apply_ufunc", "covered", "getitem", "index_update", "public_name",
]


def _merge(*tables: dict[Any, FunctionRule]) -> dict[Any, FunctionRule]:
    """One registry from the topic tables; a function has one rule only."""
    counts = collections.Counter(f for table in tables for f in table)
    twice = sorted(public_name(f) for f, n in counts.items() if n > 1)
    if twice:
        raise ImportError(f"reverse rules registered twice: {twice}")
    return {f: rule for table in tables for f, rule in table.items()}


#: Every function rule of the reference, from the topic tables.
FUNCTION_VJPS: dict[Any, FunctionRule] = _merge(CORE_FUNCTION_VJPS, PRODUCT_VJPS, LINALG_VJPS, STATISTICS_VJPS,
                                                STRUCTURE_VJPS, FFT_VJPS)


def _check_gathers(rules: dict[Any, FunctionRule]) -> None:
    """The gather pullback (the transpose of a selection) is right only for functions that
    only move elements: numpy_facts says which those are."""
    wrong = sorted(public_name(f) for f, rule in rules.items() if rule.apply is _gather and f not in MOVES_ELEMENTS)
    if wrong:
        raise ImportError(f"reverse rules give the gather pullback to functions that numpy_facts does not "
                          f"list as only moving elements: {wrong}")


_check_gathers(FUNCTION_VJPS)


def apply_function(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``__array_function__`` of a Var: the node(s) of a NumPy function."""
    rule = FUNCTION_VJPS.get(func)
    name = public_name(func)
    if rule is None:
        raise _missing(name)
    return rule.apply(func, name, args, kwargs)


def covered() -> dict[str, list[str]]:
    """The ufuncs, ufunc methods and functions the reference has VJP rules for."""
    functions = sorted(public_name(f)[3:] for f, r in FUNCTION_VJPS.items() if r.differentiable)
    return {
        "ufuncs": sorted(u.__name__ for u in UFUNC_VJPS),
        "ufunc.reduce": sorted(u.__name__ for u in REDUCE_VJPS),
        "ufunc.accumulate": sorted(u.__name__ for u in ACCUMULATE_VJPS),
        "functions": functions,
        "methods": ["Var.__getitem__", "Var.at[...].add", "Var.at[...].set"],
    }

use_rules(sys.modules[__name__])

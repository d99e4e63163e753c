"""Reverse-mode rules for eig/eigvals, the svd and qr modes with vectors, polynomials (polyfit, roots,
polydiv, poly), and constructors and special functions (geomspace, arange, full, gradient, i0, ...).

Written from the mathematics, like rules.py, and never from the forward tables; the entries
join ``rules.FUNCTION_VJPS`` at the end of rules.py.
"""

from __future__ import annotations

from typing import Any

from .rules import FunctionRule

FUNCTION_VJPS: dict[Any, FunctionRule] = {
}

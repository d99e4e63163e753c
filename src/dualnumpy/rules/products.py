"""The calculus of products, polynomials and signal functions: one line per function (see rules/_fnkinds.py for the kinds)."""

from __future__ import annotations

from typing import Any

from ._fnkinds import FnRule

PRODUCT_RULES: dict[Any, FnRule] = {
}

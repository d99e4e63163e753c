"""The calculus of reductions, statistics, selection and set operations: one line per function (see rules/_fnkinds.py for the kinds)."""

from __future__ import annotations

from typing import Any

from ._fnkinds import FnRule

STATISTICS_RULES: dict[Any, FnRule] = {
}

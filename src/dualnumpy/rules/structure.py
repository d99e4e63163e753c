"""The calculus of shape and structure, constructors and the rest: one line per function (see rules/_fnkinds.py for the kinds)."""

from __future__ import annotations

from typing import Any

from ._fnkinds import FnRule

STRUCTURE_RULES: dict[Any, FnRule] = {
}

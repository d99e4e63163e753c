"""Type aliases shared by the modules."""

from __future__ import annotations

from typing import Any, TypeAlias

#: Anything NumPy accepts where an array goes, including a Dual (nested levels).
ArrayLike: TypeAlias = Any

"""The calculus of np.fft: one line per function (see rules/_fnkinds.py for the kinds)."""

from __future__ import annotations

from typing import Any

from ._fnkinds import FnRule

FFT_RULES: dict[Any, FnRule] = {
}

"""NumPy functions that only move, copy or select elements, never combine them.

The forward tables' Linear rules for them state a gather (``rules/registry.py``), and the
reverse reference may give them its gather pullback only if they are listed here (checked
when ``dualnumpy.reverse.rules`` is imported).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Functions whose every output entry is one input entry or zero (their Linear rules gather).
MOVES_ELEMENTS: frozenset[Any] = frozenset(
    getattr(np, n) for n in (
        "reshape", "ravel", "transpose", "matrix_transpose", "swapaxes", "moveaxis", "flip", "fliplr",
        "flipud", "rot90", "roll", "squeeze", "expand_dims", "broadcast_to", "atleast_1d", "atleast_2d",
        "atleast_3d", "take", "take_along_axis", "compress", "extract", "repeat", "tile", "diagonal",
        "diag", "triu", "tril", "copy", "concatenate", "stack", "hstack", "vstack", "dstack",
        "column_stack", "block", "split", "array_split", "hsplit", "vsplit", "dsplit", "unstack",
        "delete", "insert", "resize", "trim_zeros", "select", "choose", "pad", "append", "rollaxis",
        "broadcast_arrays", "diagflat", "meshgrid",
    ) if hasattr(np, n)
) | frozenset((np.fft.fftshift, np.fft.ifftshift, np.lib.stride_tricks.sliding_window_view,
               np.linalg.diagonal, np.linalg.matrix_transpose))

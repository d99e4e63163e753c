"""dualnumpy: exact derivatives of ordinary NumPy code by forward-mode dual numbers."""

from __future__ import annotations

from dualnumpy import finite_diff, reverse, testing
from dualnumpy._support import supported
from dualnumpy.core.dual import Dual
from dualnumpy.transforms.api import derivative, grad, hessian, jacfwd, jvp, value_and_grad

__version__ = "0.1.0"

__all__ = [
    "Dual",
    "derivative",
    "finite_diff",
    "grad",
    "hessian",
    "jacfwd",
    "jvp",
    "reverse",
    "supported",
    "testing",
    "value_and_grad",
]

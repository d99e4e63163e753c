"""dualnumpy: exact derivatives of ordinary NumPy code by forward-mode dual numbers."""

from __future__ import annotations

from . import finite_diff, reverse, testing
from ._api import derivative, grad, hessian, jacfwd, jvp, value_and_grad
from ._dual import Dual
from ._support import supported

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

"""The test problems of issue 10 that several test files share."""

from __future__ import annotations

from typing import Any

import numpy as np


def bratu(x: Any) -> Any:
    """The 1-D Bratu residual, h^2-scaled, zero boundary values by np.pad (tridiagonal)."""
    h = 1.0 / (np.size(x) + 1)
    xp = np.pad(x, 1)
    return xp[:-2] - 2 * x + xp[2:] + h * h * np.exp(x)


def rosenbrock(x: Any) -> Any:
    """The extended Rosenbrock function (a tridiagonal Hessian; a sum of two-variable terms)."""
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

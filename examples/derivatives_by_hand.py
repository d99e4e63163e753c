"""The classic worked examples of automatic differentiation, checked three ways.

Each function is differentiated by forward mode (dualnumpy.grad), by the
independent reverse-mode reference (dualnumpy.reverse.grad) and by finite
differences (dualnumpy.finite_diff), printed side by side.

    python examples/derivatives_by_hand.py
"""

from __future__ import annotations

from typing import Any

import numpy as np

import dualnumpy as dn
from dualnumpy import finite_diff, reverse


def product_of_sum(a: Any, b: Any) -> Any:
    """d = a (a + b): dd/da = 2a + b, dd/db = a."""
    return a * (a + b)


def three_factors(a: Any, b: Any) -> Any:
    """f(a, b) = (a/b - a)(b/a + a + b)(a - b)."""
    return (a / b - a) * (b / a + a + b) * (a - b)


def log_of_square(a: Any, b: Any, c: Any) -> Any:
    """f(a, b, c) = log((sin(ab) + exp(c - a/b))^2) c."""
    return np.log((np.sin(a * b) + np.exp(c - a / b)) ** 2) * c


def by_hand_three_factors(a: float, b: float) -> np.ndarray:
    """The product rule written out: f = u v w."""
    u, v, w = a / b - a, b / a + a + b, a - b
    du = np.array([1 / b - 1, -a / b ** 2])
    dv = np.array([-b / a ** 2 + 1, 1 / a + 1])
    dw = np.array([1.0, -1.0])
    return du * v * w + u * dv * w + u * v * dw


def by_hand_log_of_square(a: float, b: float, c: float) -> np.ndarray:
    """Chain rule: f = 2 c log|s|, s = sin(ab) + exp(c - a/b)."""
    e = np.exp(c - a / b)
    s = np.sin(a * b) + e
    ds = np.array([b * np.cos(a * b) - e / b, a * np.cos(a * b) + e * a / b ** 2, e])
    return 2 * c * ds / s + np.array([0.0, 0.0, 2 * np.log(abs(s))])


CASES = [
    ("d = a(a+b)", product_of_sum, (4.0, 3.0)),
    ("(a/b-a)(b/a+a+b)(a-b)", three_factors, (230.3, 33.2)),
    ("log((sin(ab)+exp(c-a/b))^2) c", log_of_square, (43.0, 3.0, 2.0)),
]


def gradients(function: Any, point: tuple[float, ...]) -> dict[str, Any]:
    n = len(point)
    argnums = tuple(range(n))
    forward = np.array(dn.grad(function, argnums=argnums)(*point))
    backward = np.array(reverse.grad(function, argnums=argnums)(*point))
    x = np.array(point)
    estimate = finite_diff.jacobian(lambda v: function(*v), x)
    return {"forward": forward, "reverse": backward, "fd": np.asarray(estimate.value).reshape(n),
            "fd_error": np.asarray(estimate.error).reshape(n)}


def main(plot: bool = False) -> dict[str, Any]:
    results = {}
    for name, function, point in CASES:
        g = gradients(function, point)
        results[name] = g
        print(f"{name} at {point}")
        print(f"  {'':10}{'forward':>22}{'reverse':>22}{'finite diff':>22}{'fd error':>12}")
        for i, var in enumerate("abc"[: len(point)]):
            print(f"  d/d{var:<6}{g['forward'][i]:22.12g}{g['reverse'][i]:22.12g}"
                  f"{g['fd'][i]:22.12g}{g['fd_error'][i]:12.1e}")
    results["by_hand"] = {"three_factors": by_hand_three_factors(230.3, 33.2),
                          "log_of_square": by_hand_log_of_square(43.0, 3.0, 2.0)}
    return results


if __name__ == "__main__":
    main()

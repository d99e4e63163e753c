"""The classic worked examples of partial derivatives, three ways and by hand.

Three functions that calculus courses and AD tutorials differentiate by hand:

- ``d = a * (a + b)`` at a = 4, b = 3: dd/da = 2a + b = 11 and dd/db = a = 4;
- ``f(a, b) = (a/b - a) * (b/a + a + b) * (a - b)`` at (230.3, 33.2);
- ``f(a, b, c) = log((sin(a b) + exp(c - a/b))**2) * c`` at (43, 3, 2).

Each gradient is computed by forward mode (``dualnumpy.grad``), by the independent
reverse-mode reference (``dualnumpy.reverse.grad``) and by Richardson-extrapolated finite
differences (``dualnumpy.finite_diff.jacobian``, with its own error estimate), and printed
side by side with the gradient derived by hand with the product and chain rules.

Why bother with dual numbers when finite differences are one line? The plot answers: the
relative error of a plain central difference of each d/da against the step h. Rounding
makes it climb as 1/h for small steps; for the two non-polynomial functions truncation makes
it grow as h² for large ones, and the best step keeps only 9 to 11 digits (the quadratic has
no truncation error, so there the largest step wins). Forward mode keeps all the digits.

Run it with ``python examples/derivatives_by_hand.py``; it prints the tables and saves the
step-size plot to ``examples/output/derivatives_by_hand.png``.
tests/test_examples_basics.py runs it and checks its numbers.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import dualnumpy as dn
from dualnumpy import finite_diff, reverse

if str(Path(__file__).resolve().parent) not in sys.path:  # for _plotting; a script run puts it there already
    sys.path.insert(0, str(Path(__file__).resolve().parent))
import _plotting

STEPS = np.logspace(-14, -1, 53)

# ------------------------------------------------ the functions: plain NumPy


def product_sum(a: Any, b: Any) -> Any:
    """d = a (a + b)."""
    return a * (a + b)


def rational(a: Any, b: Any) -> Any:
    """(a/b - a)(b/a + a + b)(a - b)."""
    return (a / b - a) * (b / a + a + b) * (a - b)


def log_sin_exp(a: Any, b: Any, c: Any) -> Any:
    """log((sin(ab) + exp(c - a/b))^2) c."""
    return np.log((np.sin(a * b) + np.exp(c - a / b)) ** 2) * c


# ------------------------------------------------ the same gradients, by hand


def product_sum_by_hand(a: float, b: float) -> tuple[float, ...]:
    """dd/da = (a + b) + a, dd/db = a."""
    return (2 * a + b, a)


def rational_by_hand(a: float, b: float) -> tuple[float, ...]:
    """The product rule on u v w with u = a/b - a, v = b/a + a + b, w = a - b."""
    u, v, w = a / b - a, b / a + a + b, a - b
    du = (1 / b - 1, -a / b ** 2)
    dv = (1 - b / a ** 2, 1 / a + 1)
    dw = (1.0, -1.0)
    return tuple(du[i] * v * w + u * dv[i] * w + u * v * dw[i] for i in range(2))


def log_sin_exp_by_hand(a: float, b: float, c: float) -> tuple[float, ...]:
    """With s = sin(ab) + exp(c - a/b), f = 2 c log|s|, so df = 2c ds / s + log(s^2) dc."""
    e = np.exp(c - a / b)
    s = np.sin(a * b) + e
    ds = (b * np.cos(a * b) - e / b, a * np.cos(a * b) + e * a / b ** 2, e)
    return (2 * c * ds[0] / s, 2 * c * ds[1] / s, np.log(s ** 2) + 2 * c * ds[2] / s)


CASES: list[tuple[str, Callable[..., Any], Callable[..., tuple[float, ...]], tuple[float, ...],
                  tuple[str, ...]]] = [
    ("d = a(a + b)", product_sum, product_sum_by_hand, (4.0, 3.0), ("a", "b")),
    ("f = (a/b - a)(b/a + a + b)(a - b)", rational, rational_by_hand, (230.3, 33.2), ("a", "b")),
    ("f = log((sin(ab) + exp(c - a/b))^2) c", log_sin_exp, log_sin_exp_by_hand, (43.0, 3.0, 2.0),
     ("a", "b", "c")),
]


def differentiate(f: Callable[..., Any], by_hand: Callable[..., tuple[float, ...]],
                  point: tuple[float, ...]) -> dict[str, Any]:
    """The gradient of ``f`` at ``point`` by forward mode, reverse mode, finite differences and hand."""
    argnums = tuple(range(len(point)))
    estimate = finite_diff.jacobian(f, *point, argnums=argnums)
    return {
        "value": float(f(*point)),
        "forward": np.array(dn.grad(f, argnums=argnums)(*point), dtype=float),
        "reverse": np.array(reverse.grad(f, argnums=argnums)(*point), dtype=float),
        "fd": np.array(estimate.value, dtype=float),
        "fd_error": np.array(estimate.error, dtype=float),
        "by_hand": np.array(by_hand(*point), dtype=float),
    }


def print_table(title: str, names: tuple[str, ...], point: tuple[float, ...], r: dict[str, Any]) -> None:
    at = ", ".join(f"{n} = {p:g}" for n, p in zip(names, point, strict=True))
    print(f"{title} at {at}: value {r['value']:.12g}")
    print(f"  {'':8}{'forward (grad)':>24}{'reverse.grad':>24}{'finite diff':>24}{'± error':>10}"
          f"{'by hand':>24}")
    for i, n in enumerate(names):
        print(f"  {'d/d' + n:8}{r['forward'][i]:>24.15g}{r['reverse'][i]:>24.15g}{r['fd'][i]:>24.15g}"
              f"{r['fd_error'][i]:>10.1e}{r['by_hand'][i]:>24.15g}")
    rel = np.max(np.abs(r["forward"] - r["reverse"]) / np.maximum(np.abs(r["forward"]), 1e-300))
    print(f"  forward vs reverse: max relative difference {rel:.1e}; "
          f"forward vs finite differences: max |diff| / error estimate "
          f"{np.max(np.abs(r['forward'] - r['fd']) / r['fd_error']):.2f}")


def central_difference_errors(f: Callable[..., Any], point: tuple[float, ...], exact: float) -> Any:
    """The relative error of the plain central difference of df/da at each step in STEPS."""
    a, rest = point[0], point[1:]
    quotients = np.array([(f(a + h, *rest) - f(a - h, *rest)) / (2 * h) for h in STEPS])
    return np.abs(quotients - exact) / abs(exact)


def save_plot(results: dict[str, Any]) -> Path | None:
    """Central-difference error against the step, one line per function; None without matplotlib."""
    plt = _plotting.pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (title, *_), r in zip(CASES, results.values(), strict=True):
        errors = np.maximum(r["central_errors"], 1e-17)  # an exact quotient still shows on a log axis
        ax.loglog(STEPS, errors, marker=".", label=f"{title}: d/da")
    ax.axhline(np.finfo(float).eps, color="k", linestyle="--", label="machine epsilon (forward mode)")
    ax.set(xlabel="step h", ylabel="relative error of (f(a+h) - f(a-h)) / 2h",
           title="central differences against the exact forward-mode derivative")
    ax.grid(True, which="major", alpha=0.4)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return _plotting.save(fig, "derivatives_by_hand")


def main(plot: bool = True) -> dict[str, Any]:
    """Print the three tables; return each case's gradients (and the plot's path)."""
    results: dict[str, Any] = {}
    for title, f, by_hand, point, names in CASES:
        r = differentiate(f, by_hand, point)
        print_table(title, names, point, r)
        errors = central_difference_errors(f, point, r["forward"][0])
        best = int(np.argmin(errors))
        print(f"  a plain central difference of d/da is at best {errors[best]:.1e} relative "
              f"(h = {STEPS[best]:.0e}); at h = 1e-8: {errors[np.argmin(np.abs(STEPS - 1e-8))]:.1e}\n")
        results[f.__name__] = r | {"point": point, "central_errors": errors}
    path = save_plot(results) if plot else None
    return {"cases": results, "plot": path}


if __name__ == "__main__":
    main()

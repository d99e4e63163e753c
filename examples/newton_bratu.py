"""Newton's method on the 1-D Bratu problem, with the Jacobian from ``dualnumpy.jacfwd``.

The Bratu problem ``u'' + lam * exp(u) = 0`` on (0, 1) with ``u(0) = u(1) = 0`` is discretised
by central finite differences on ``n`` interior points. The residual below is ordinary NumPy
code; Newton's method needs its Jacobian, which ``dualnumpy.jacfwd`` computes exactly (one
batched forward pass over all ``n`` directions), so nobody has to derive the tridiagonal matrix
by hand. The script checks it against that hand-derived matrix anyway, prints the residual
norm per iteration (quadratic convergence: the exponent doubles each step), compares the
discrete solution with the closed form of the continuous problem, and plots both.

Run it with ``python examples/newton_bratu.py``; the plot goes to
``examples/output/newton_bratu.png``. tests/test_examples_science.py runs it and checks the
numbers.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Any

import numpy as np

import dualnumpy as dn

if str(Path(__file__).resolve().parent) not in sys.path:  # for _plotting; a script run puts it there already
    sys.path.insert(0, str(Path(__file__).resolve().parent))
import _plotting

Array = np.ndarray[Any, Any]


def residual(u: Any, lam: float = 1.0) -> Any:
    """F(u) = (u[i-1] - 2 u[i] + u[i+1]) / h**2 + lam * exp(u[i]) with zero boundary values."""
    h = 1.0 / (u.shape[0] + 1)
    padded = np.pad(u, 1)  # the boundary values u(0) = u(1) = 0
    return (padded[:-2] - 2.0 * padded[1:-1] + padded[2:]) / h ** 2 + lam * np.exp(u)


def analytic_jacobian(u: Array, lam: float = 1.0) -> Array:
    """The tridiagonal Jacobian, derived by hand: 1/h**2 off the diagonal, -2/h**2 + lam e^u on it."""
    n = u.shape[0]
    h = 1.0 / (n + 1)
    off = np.full(n - 1, 1.0 / h ** 2)
    jac: Array = np.diag(-2.0 / h ** 2 + lam * np.exp(u)) + np.diag(off, 1) + np.diag(off, -1)
    return jac


def exact_solution(x: Array, lam: float = 1.0) -> Array:
    """The continuous lower-branch solution u(x) = -2 log(cosh((x - 1/2) theta / 2) / cosh(theta / 4)).

    theta solves theta = sqrt(2 lam) cosh(theta / 4); its lower root is found by Newton's method
    on the scalar equation, with the derivative from ``dualnumpy.derivative``.
    """
    def g(theta: Any) -> Any:
        return theta - np.sqrt(2.0 * lam) * np.cosh(theta / 4.0)

    theta = 1.0
    for _ in range(50):
        step = g(theta) / dn.derivative(g)(theta)
        theta -= float(step)
        if abs(step) < 1e-15:
            break
    u: Array = -2.0 * np.log(np.cosh((x - 0.5) * theta / 2.0) / np.cosh(theta / 4.0))
    return u


def newton(lam: float, n: int, tol: float = 1e-10, max_iter: int = 20) -> tuple[Array, list[float]]:
    """Newton's method from u = 0; returns the solution and the residual norm before each step."""
    jacobian = dn.jacfwd(residual)
    u = np.zeros(n)
    norms = []
    for _ in range(max_iter):
        r = residual(u, lam)
        norms.append(float(np.linalg.norm(r)))
        if norms[-1] < tol:
            break
        u = u - np.linalg.solve(jacobian(u, lam), r)
    return u, norms


def main(plot: bool = True, lam: float = 1.0, n: int = 100) -> dict[str, Any]:
    x = np.linspace(0.0, 1.0, n + 2)[1:-1]

    # The Jacobian from forward mode equals the hand-derived tridiagonal matrix.
    u_test = 0.3 * np.sin(np.pi * x)
    jac_error = float(np.max(np.abs(dn.jacfwd(residual)(u_test, lam) - analytic_jacobian(u_test, lam))))
    print(f"max |jacfwd - analytic tridiagonal Jacobian| at a test point: {jac_error:.1e}")

    u, norms = newton(lam, n)
    print(f"Bratu problem, lam = {lam}, n = {n} interior points, Newton from u = 0:")
    for k, r in enumerate(norms):
        print(f"  iteration {k}: |F(u)| = {r:.3e}")
    # Quadratic convergence: |r_{k+1}| / |r_k|**2 stays bounded (while above the rounding floor).
    ratios = [b / a ** 2 for a, b in itertools.pairwise(norms)]
    print("  |r_{k+1}| / |r_k|^2:", " ".join(f"{q:.2e}" for q in ratios))

    u_exact = exact_solution(x, lam)
    discretisation_error = float(np.max(np.abs(u - u_exact)))
    print(f"max u = {u.max():.10f} (closed form {u_exact.max():.10f}); "
          f"max |u - u_exact| = {discretisation_error:.2e} (O(h^2), h = {1 / (n + 1):.4f})")

    plot_path = _plot(x, u, u_exact, norms, lam) if plot else None
    return {"x": x, "u": u, "u_exact": u_exact, "norms": norms, "ratios": ratios,
            "jacobian_error": jac_error, "discretisation_error": discretisation_error, "plot": plot_path}


def _plot(x: Array, u: Array, u_exact: Array, norms: list[float], lam: float) -> Path | None:
    plt = _plotting.pyplot()
    if plt is None:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(np.r_[0.0, x, 1.0], np.r_[0.0, u, 0.0], "o", ms=3, label="Newton + jacfwd (finite differences)")
    left.plot(np.r_[0.0, x, 1.0], np.r_[0.0, u_exact, 0.0], "-", label="closed form")
    left.set(xlabel="x", ylabel="u(x)", title=f"Bratu problem u'' + λ e^u = 0, λ = {lam:g}")
    left.legend()
    right.semilogy(range(len(norms)), norms, "o-")
    right.set(xlabel="Newton iteration", ylabel="|F(u)|", title="residual norm (quadratic convergence)")
    right.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return _plotting.save(fig, "newton_bratu")


if __name__ == "__main__":
    main()

"""Newton's method on a million unknowns, with sparse Jacobians from dualnumpy.

The 1-D Bratu problem ``u'' + lam exp(u) = 0`` (zero boundary values) on n = 10^6 interior
points. A dense Jacobian would take 8 TB; ``dn.sparse_jacfwd`` finds the tridiagonal pattern
once by propagating index sets through the residual, colors its columns (3 colors), and then
every Newton iteration costs one batched JVP of 3 directions and a sparse solve
(``scipy.sparse.linalg.spsolve``). The script prints the residual per iteration (quadratic
convergence, down to rounding level), the time to detect, color and evaluate, and the error against the closed form.

Run it with ``python examples/newton_million.py``; tests/test_examples_scipy.py runs it (at a
smaller n as well) and checks the numbers. Needs SciPy (``pip install -e ".[sparse]"``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from scipy.sparse.linalg import spsolve

import dualnumpy as dn

Array = np.ndarray[Any, Any]


def residual(u: Any, lam: float = 1.0) -> Any:
    h = 1.0 / (np.size(u) + 1)
    padded = np.pad(u, 1)
    return (padded[:-2] - 2.0 * u + padded[2:]) / h ** 2 + lam * np.exp(u)


def exact_solution(x: Array) -> Array:
    """The lower closed-form solution for lam = 1: -2 log(cosh((x - 1/2) theta / 2) / cosh(theta / 4))."""
    theta = 1.5171645990507543  # root of theta = sqrt(2 lam) cosh(theta / 4), lam = 1
    return -2.0 * np.log(np.cosh((x - 0.5) * theta / 2.0) / np.cosh(theta / 4.0))


def newton(n: int = 1_000_000, step_tol: float = 1e-10, max_iterations: int = 10) -> dict[str, Any]:
    """Newton until the step is below ``step_tol``: the residual itself stops at rounding
    level, eps * |u| / h^2, which grows with n."""
    u = np.zeros(n)
    jacobian = dn.sparse_jacfwd(residual)
    norms, steps, jacobian_seconds = [], [], []
    start = time.perf_counter()
    for _ in range(max_iterations):
        r = residual(u)
        norms.append(float(np.linalg.norm(r) / np.sqrt(n)))
        tick = time.perf_counter()
        jac = jacobian(u)
        jacobian_seconds.append(time.perf_counter() - tick)
        step = spsolve(jac.tocsc(), r)
        u = u - step
        steps.append(float(np.max(np.abs(step))))
        if steps[-1] < step_tol:
            break
    norms.append(float(np.linalg.norm(residual(u)) / np.sqrt(n)))
    total = time.perf_counter() - start
    x = np.linspace(0.0, 1.0, n + 2)[1:-1]
    return {"u": u, "norms": norms, "steps": steps, "seconds": total, "first_jacobian": jacobian_seconds[0],
            "reused_jacobian": float(np.median(jacobian_seconds[1:])) if len(jacobian_seconds) > 1 else None,
            "colors": int(jacobian.colors.max()) + 1, "nnz": jacobian.sparsity.nnz,
            "error": float(np.max(np.abs(u - exact_solution(x))))}


def main(n: int = 1_000_000) -> dict[str, Any]:
    out = newton(n)
    for i, norm in enumerate(out["norms"]):
        step = f", then a step of {out['steps'][i]:.1e}" if i < len(out["steps"]) else ""
        print(f"iteration {i}: rms |F(u)| = {norm:.3e}{step}")
    reused = out["reused_jacobian"]
    print(f"n = {n}: {out['colors']} colors, {out['nnz']} nonzeros; first Jacobian (detect, color, "
          f"evaluate) {out['first_jacobian']:.2f} s, reused {reused:.3f} s; Newton in {out['seconds']:.2f} s")
    print(f"max error against the closed form: {out['error']:.2e}")
    return out


if __name__ == "__main__":
    main()

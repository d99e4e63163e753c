"""A stiff 2-D reaction-diffusion system with ``solve_ivp(method='BDF')`` and a sparse Jacobian.

The Brusselator on the periodic unit square, N x N cells, two species u and v per cell
(n = 2 N^2 unknowns, interleaved per cell)::

    u' = 1 + u^2 v - 4.4 u + alpha * Laplace(u)
    v' = 3.4 u - u^2 v + alpha * Laplace(v)

The right-hand side is ordinary NumPy (``np.roll`` for the periodic 5-point Laplacian).
``dn.sparse_jacfwd`` finds its sparsity pattern once (five neighbours per species, plus the
coupling of u and v in a cell), colors the columns (8 colors for any N), and evaluates the
whole Jacobian from one batched JVP of 8 directions; BDF gets it as a CSC matrix. The same
solve with SciPy's own finite differences: given the same pattern (which SciPy cannot find
itself), it groups columns too and costs about the same, to the same solution within the
differences' error; without it, every Jacobian takes n + 1 calls of the right-hand side. The
table counts every call of the right-hand side, those inside the differences included.

Run it with ``python examples/brusselator_bdf.py``; tests/test_examples_scipy.py runs it and
checks the numbers. Needs SciPy (``pip install -e ".[sparse]"``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from scipy.integrate import solve_ivp

import dualnumpy as dn

Array = np.ndarray[Any, Any]
ALPHA = 0.02


def rhs(y: Any, n: int) -> Any:
    """du/dt and dv/dt, interleaved per cell as y is."""
    s = np.reshape(y, (n, n, 2))
    u, v = s[..., 0], s[..., 1]
    scale = ALPHA * (n - 1) ** 2  # alpha / dx^2

    def laplacian(w: Any) -> Any:
        return np.roll(w, 1, 0) + np.roll(w, -1, 0) + np.roll(w, 1, 1) + np.roll(w, -1, 1) - 4.0 * w

    uuv = u * u * v
    du = 1.0 + uuv - 4.4 * u + scale * laplacian(u)
    dv = 3.4 * u - uuv + scale * laplacian(v)
    return np.ravel(np.stack([du, dv], axis=-1))


def initial_state(n: int) -> Array:
    x = np.linspace(0.0, 1.0, n)
    xx, yy = np.meshgrid(x, x, indexing="ij")
    u = 22.0 * yy * (1.0 - yy) ** 1.5
    v = 27.0 * xx * (1.0 - xx) ** 1.5
    return np.ravel(np.stack([u, v], axis=-1))


def solve(n: int = 32, t_end: float = 1.0) -> dict[str, Any]:
    y0 = initial_state(n)

    jacobian = dn.sparse_jacfwd(lambda y: rhs(y, n))

    def jac(t: float, y: Array) -> Any:
        return jacobian(y).tocsc()

    calls = [0]

    def counted(t: float, y: Array) -> Any:  # SciPy's nfev leaves out its differences' calls
        calls[0] += 1
        return rhs(y, n)

    pattern = dn.jacobian_sparsity(lambda y: rhs(y, n), y0)
    runs = {}
    for name, options in (("dualnumpy", {"jac": jac}),
                          ("scipy, pattern given", {"jac_sparsity": pattern}),
                          ("scipy, dense differences", {})):
        calls[0] = 0
        start = time.perf_counter()
        sol = solve_ivp(counted, (0.0, t_end), y0, method="BDF", rtol=1e-6, atol=1e-8, **options)
        runs[name] = {"seconds": time.perf_counter() - start, "calls": calls[0], "njev": sol.njev,
                      "nlu": sol.nlu, "y": sol.y[:, -1], "success": sol.success}
    reference = runs["dualnumpy"]["y"]
    for run in runs.values():
        run["difference"] = float(np.max(np.abs(run["y"] - reference)) / np.max(np.abs(reference)))
    return {"n": y0.size, "runs": runs, "colors": int(jacobian.colors.max()) + 1,
            "nnz": jacobian.sparsity.nnz, "jacobian": jacobian}


def main(n: int = 32, t_end: float = 1.0) -> dict[str, Any]:
    out = solve(n, t_end)
    print(f"Brusselator {n}x{n} (n = {out['n']}), BDF to t = {t_end}: Jacobian with {out['nnz']} "
          f"nonzeros from {out['colors']} colors")
    print(f"{'Jacobian':26} {'time (s)':>9} {'f calls':>8} {'Jacobians':>10} {'LU':>5} {'rel. diff':>10}")
    for name, run in out["runs"].items():
        print(f"{name:26} {run['seconds']:9.2f} {run['calls']:8d} {run['njev']:10d} {run['nlu']:5d} "
              f"{run['difference']:10.1e}")
    return out


if __name__ == "__main__":
    main()

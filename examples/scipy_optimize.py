"""dualnumpy's exact derivatives in scipy.optimize, each where SciPy wants it.

- ``root(F, x0, jac=dn.jacfwd(F))``: a dense Jacobian, as ``method='hybr'`` needs.
- ``least_squares(r, p0, jac=dn.jacfwd(r), method='lm')``: a curve fit, dense.
- ``least_squares(r, x0, jac=dn.sparse_jacfwd(r), method='trf')``: a large problem with a
  sparse Jacobian (CSR), the pattern found once and reused at every iteration.
- ``minimize(f, x0, method='Newton-CG', jac=dn.grad(f), hessp=...)``: a logistic regression
  with Hessian-vector products by ``dn.hvp``, never the Hessian itself.
- ``minimize(f, x0, method='trust-constr', jac=..., hess=dn.sparse_hessian(f))``: a sparse
  Hessian (CSR) under bounds.

Each part is compared with SciPy's own finite differences: the same answer, fewer function
evaluations. Run it with ``python examples/scipy_optimize.py``; tests/test_examples_scipy.py
runs it and checks the numbers. Needs SciPy (``pip install -e ".[sparse]"``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from scipy import optimize

import dualnumpy as dn

Array = np.ndarray[Any, Any]


def bratu(u: Any, lam: float = 1.0) -> Any:
    """The discrete 1-D Bratu residual, zero boundary values."""
    h = 1.0 / (np.size(u) + 1)
    padded = np.pad(u, 1)
    return (padded[:-2] - 2.0 * u + padded[2:]) / h ** 2 + lam * np.exp(u)


def solve_root(n: int = 100) -> dict[str, Any]:
    x0 = np.zeros(n)
    exact = optimize.root(bratu, x0, jac=dn.jacfwd(bratu), method="hybr")
    by_differences = optimize.root(bratu, x0, method="hybr")
    return {"x": exact.x, "success": exact.success, "nfev": exact.nfev, "njev": exact.njev,
            "fd_nfev": by_differences.nfev, "residual": float(np.linalg.norm(bratu(exact.x))),
            "difference": float(np.max(np.abs(exact.x - by_differences.x)))}


# ---------------------------------------------------------------- least squares, dense

T = np.linspace(0.0, 6.0, 60)
TRUE_PARAMETERS = np.array([2.5, 0.7, 0.4, 3.1])


def model(p: Any, t: Array) -> Any:
    return p[0] * np.exp(-p[1] * t) + p[2] * np.sin(p[3] * t)


def fit_curve() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    data = model(TRUE_PARAMETERS, T) + 0.01 * rng.standard_normal(T.size)

    def residuals(p: Any) -> Any:
        return model(p, T) - data

    p0 = np.array([1.0, 1.0, 0.5, 3.0])
    exact = optimize.least_squares(residuals, p0, jac=dn.jacfwd(residuals), method="lm")
    by_differences = optimize.least_squares(residuals, p0, method="lm")
    return {"p": exact.x, "cost": exact.cost, "nfev": exact.nfev, "fd_nfev": by_differences.nfev,
            "fd_p": by_differences.x}


# ---------------------------------------------------------------- least squares, sparse

def broyden_tridiagonal(x: Any) -> Any:
    """SciPy's large-scale least-squares example: (3 - x_i) x_i + 1 - x_{i-1} - 2 x_{i+1}."""
    padded = np.pad(x, 1)
    return (3.0 - x) * x + 1.0 - padded[:-2] - 2.0 * padded[2:]


def fit_sparse(n: int = 100_000) -> dict[str, Any]:
    x0 = -np.ones(n)
    jac = dn.sparse_jacfwd(broyden_tridiagonal)
    start = time.perf_counter()
    exact = optimize.least_squares(broyden_tridiagonal, x0, jac=jac, method="trf")
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    by_differences = optimize.least_squares(broyden_tridiagonal, x0, jac_sparsity=jac.sparsity,
                                            method="trf")
    fd_seconds = time.perf_counter() - start
    return {"x": exact.x, "cost": exact.cost, "nfev": exact.nfev, "njev": exact.njev,
            "colors": int(jac.colors.max()) + 1, "seconds": seconds, "fd_seconds": fd_seconds,
            "fd_nfev": by_differences.nfev, "fd_cost": by_differences.cost,
            "difference": float(np.max(np.abs(exact.x - by_differences.x)))}


# ---------------------------------------------------------------- minimisation

def rosenbrock(x: Any) -> Any:
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def logistic_data(samples: int = 500, features: int = 100) -> tuple[Array, Array]:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((samples, features))
    labels = np.where(x @ rng.standard_normal(features) + 0.5 * rng.standard_normal(samples) > 0, 1.0, -1.0)
    return x, labels


def minimize_newton_cg(features: int = 100) -> dict[str, Any]:
    """L2-regularised logistic regression: Newton-CG needs gradients and H @ p only."""
    data, labels = logistic_data(features=features)

    def loss(w: Any) -> Any:
        return np.sum(np.logaddexp(0.0, -labels * (data @ w))) + 0.5 * np.sum(w * w)

    w0 = np.zeros(features)
    exact = optimize.minimize(loss, w0, method="Newton-CG", jac=dn.grad(loss),
                              hessp=lambda w, p: dn.hvp(loss, w, p), options={"xtol": 1e-10})
    gradient = dn.grad(loss)(exact.x)
    return {"x": exact.x, "fun": exact.fun, "nit": exact.nit, "nhev": exact.nhev, "success": exact.success,
            "gradient_norm": float(np.linalg.norm(gradient))}


def minimize_trust_constr(n: int = 100) -> dict[str, Any]:
    """Rosenbrock with every x_i in [0, 2], from x = 0.5: a sparse (tridiagonal) Hessian."""
    x0 = np.full(n, 0.5)
    hess = dn.sparse_hessian(rosenbrock)
    bounds = optimize.Bounds(np.zeros(n), np.full(n, 2.0))
    exact = optimize.minimize(rosenbrock, x0, method="trust-constr", jac=dn.grad(rosenbrock),
                              hess=hess, bounds=bounds, options={"gtol": 1e-8})
    return {"x": exact.x, "fun": exact.fun, "nit": exact.nit, "success": exact.success,
            "colors": int(hess.colors.max()) + 1, "hessian_nnz": hess.sparsity.nnz,
            "hessian_type": type(hess(x0)).__name__}


def main() -> dict[str, Any]:
    out = {"root": solve_root(), "curve": fit_curve(), "sparse": fit_sparse(),
           "newton_cg": minimize_newton_cg(), "trust_constr": minimize_trust_constr()}
    r, c, s = out["root"], out["curve"], out["sparse"]
    print(f"root (hybr), Bratu n=100: |F| = {r['residual']:.1e}; {r['nfev']} evaluations and "
          f"{r['njev']} Jacobians, against {r['fd_nfev']} evaluations by differences")
    print(f"least_squares (lm), curve fit: parameters {np.round(c['p'], 3)} (true {TRUE_PARAMETERS}), "
          f"{c['nfev']} evaluations; by differences the same to {np.max(np.abs(c['p'] - c['fd_p'])):.0e}")
    print(f"least_squares (trf), sparse, n={s['x'].size}: cost {s['cost']:.2e}, {s['colors']} colors, "
          f"{s['seconds']:.2f} s ({s['fd_seconds']:.2f} s by SciPy's grouped differences)")
    ncg, tc = out["newton_cg"], out["trust_constr"]
    print(f"minimize (Newton-CG, hessp=dn.hvp), logistic regression, 100 weights: |grad| = "
          f"{ncg['gradient_norm']:.1e} in {ncg['nit']} iterations, {ncg['nhev']} Hessian-vector products")
    print(f"minimize (trust-constr, sparse Hessian), bounded Rosenbrock n=100: f = {tc['fun']:.1e} in "
          f"{tc['nit']} iterations; Hessian with {tc['hessian_nnz']} nonzeros from {tc['colors']} colors")
    return out


if __name__ == "__main__":
    main()

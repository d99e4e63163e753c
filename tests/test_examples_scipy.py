"""The SciPy examples (issue 10) do their job, and say so in numbers.

examples/scipy_optimize.py: root, least_squares (dense and sparse), minimize with hessp and
with a sparse Hessian reach the answers SciPy's finite differences reach, with exact
derivatives of the types each consumer wants.
examples/brusselator_bdf.py: solve_ivp BDF with a sparse dualnumpy Jacobian agrees with the
runs on SciPy's own differences, with far fewer right-hand-side calls than dense differences.
examples/newton_million.py: Newton with sparse Jacobians converges quadratically to the
closed-form Bratu solution, at a million unknowns in the script run.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest

pytest.importorskip("scipy", reason="the SciPy examples need scipy (dualnumpy[sparse])")
import scipy.sparse as sp

import dualnumpy as dn


def test_root_with_a_dense_jacobian(load_example: Callable[[str], ModuleType]) -> None:
    out = load_example("scipy_optimize").solve_root()
    assert out["success"] and out["residual"] < 1e-8
    assert out["nfev"] < out["fd_nfev"]  # the differences' evaluations count in hybr's nfev
    assert out["difference"] < 1e-6
    assert out["x"].max() == pytest.approx(0.14052, abs=1e-4)  # the closed form: max u = 0.140525


def test_curve_fit_with_lm(load_example: Callable[[str], ModuleType]) -> None:
    module = load_example("scipy_optimize")
    out = module.fit_curve()
    np.testing.assert_allclose(out["p"], module.TRUE_PARAMETERS, atol=0.02)
    np.testing.assert_allclose(out["p"], out["fd_p"], atol=1e-6)


def test_sparse_least_squares(load_example: Callable[[str], ModuleType]) -> None:
    module = load_example("scipy_optimize")
    out = module.fit_sparse(n=5000)
    assert out["cost"] < 1e-16 and out["colors"] == 3
    assert out["difference"] < 1e-6
    assert np.linalg.norm(module.broyden_tridiagonal(out["x"])) < 1e-7


def test_sparse_jacobian_is_what_least_squares_trf_takes() -> None:
    from scipy import optimize

    def residuals(x: np.ndarray) -> np.ndarray:
        padded = np.pad(x, 1)
        return (3.0 - x) * x + 1.0 - padded[:-2] - 2.0 * padded[2:]

    jac = dn.sparse_jacfwd(residuals)
    x0 = -np.ones(50)
    assert isinstance(jac(x0), sp.csr_matrix)
    for method in ("trf", "dogbox"):
        result = optimize.least_squares(residuals, x0, jac=jac, method=method)
        assert result.success and result.cost < 1e-20


def test_newton_cg_with_hessian_vector_products(load_example: Callable[[str], ModuleType]) -> None:
    out = load_example("scipy_optimize").minimize_newton_cg(features=30)
    assert out["success"] and out["gradient_norm"] < 1e-6
    assert out["nit"] < 30 and out["nhev"] > out["nit"]


def test_trust_constr_with_a_sparse_hessian(load_example: Callable[[str], ModuleType]) -> None:
    out = load_example("scipy_optimize").minimize_trust_constr(n=30)
    assert out["fun"] < 1e-10
    np.testing.assert_allclose(out["x"], 1.0, atol=1e-5)
    assert out["colors"] == 3 and out["hessian_nnz"] == 3 * 30 - 2
    assert out["hessian_type"] == "csr_matrix"


def test_scipy_optimize_prints_its_numbers(load_example: Callable[[str], ModuleType],
                                           capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_example("scipy_optimize")
    small = module.fit_sparse
    monkeypatch.setattr(module, "fit_sparse", lambda: small(n=2000))
    module.main()
    printed = capsys.readouterr().out
    assert "root (hybr), Bratu n=100" in printed and "3 colors" in printed
    assert "least_squares (trf), sparse, n=2000" in printed


def test_brusselator_bdf_agrees_with_scipys_differences(load_example: Callable[[str], ModuleType],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    module = load_example("brusselator_bdf")
    out = module.main(n=8, t_end=0.5)
    runs = out["runs"]
    assert out["colors"] == 8 and out["n"] == 128
    assert out["nnz"] == 128 * 6  # five same-species neighbours and the other species in the cell
    assert all(run["success"] for run in runs.values())
    assert runs["scipy, pattern given"]["difference"] < 1e-5
    assert runs["scipy, dense differences"]["difference"] < 1e-5
    # dense differences call the right-hand side n times per Jacobian; dualnumpy never does
    dense = runs["scipy, dense differences"]
    assert dense["calls"] >= runs["dualnumpy"]["calls"] + 128 * dense["njev"]
    # the Jacobian BDF got is the dense forward-mode Jacobian
    y = module.initial_state(8)
    np.testing.assert_allclose(out["jacobian"](y).toarray(), dn.jacfwd(lambda v: module.rhs(v, 8))(y),
                               rtol=1e-13, atol=1e-9)
    assert "8 colors" in capsys.readouterr().out


def test_newton_million_converges_quadratically(load_example: Callable[[str], ModuleType],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    module = load_example("newton_million")
    out = module.main(n=20_000)
    steps = out["steps"]
    assert steps[-1] < 1e-10 and len(steps) <= 6
    assert all(b <= 10 * a * a for a, b in itertools.pairwise(steps) if b > 1e-12)
    assert out["colors"] == 3 and out["nnz"] == 3 * 20_000 - 2
    assert out["error"] < 1e-8  # O(h^2) from the closed form
    assert out["reused_jacobian"] is not None and out["reused_jacobian"] < out["first_jacobian"]
    assert "iteration 0" in capsys.readouterr().out


def test_newton_million_at_a_million(load_example: Callable[[str], ModuleType]) -> None:
    out = load_example("newton_million").newton(n=1_000_000)
    assert out["steps"][-1] < 1e-10 and out["error"] < 1e-9
    assert out["nnz"] == 3 * 10 ** 6 - 2

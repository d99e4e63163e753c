"""The examples written so far (issue 5) do their job: each asserts its result.

Each example's main() returns the numbers it prints; plots are checked once,
and once with matplotlib unavailable to show the scripts still run.
"""

from __future__ import annotations

import itertools
import runpy
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(name: str, **kwargs: Any) -> dict[str, Any]:
    main = runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name=f"example_{name}")["main"]
    result: dict[str, Any] = main(**kwargs)
    return result


def test_linear_regression_converges() -> None:
    out = run("linear_regression", plot=False)
    line, batch = out["line"], out["batch"]
    assert line["losses"][-1] < 1e-6 * line["losses"][0]
    np.testing.assert_allclose(line["y_pred"], line["y"], atol=1e-3)
    # the batched fit reaches the least-squares solution, and its loss the noise floor
    np.testing.assert_allclose(batch["w"], batch["w_ls"], atol=1e-3)
    assert batch["losses"][-1] <= 1.01 * batch["loss_ls"]


def test_newton_bratu_converges_quadratically() -> None:
    out = run("newton_bratu", plot=False)
    norms = out["norms"]
    assert norms[-1] < 1e-8 and len(norms) <= 8
    assert out["jacobian_error"] < 1e-8  # jacfwd equals the analytic tridiagonal Jacobian
    # |r_{k+1}| <= C |r_k|^2 while above the rounding floor
    ratios = [b / a ** 2 for a, b in itertools.pairwise(norms) if b > 1e-10]
    assert ratios and max(ratios) < 1.0
    np.testing.assert_allclose(out["u"], out["u_exact"], atol=1e-5)


def test_ode_sensitivities_match_finite_differences_and_the_closed_form() -> None:
    out = run("sensitivity_ode", plot=False)
    assert np.max(np.abs(out["fd_diff"])) < 1e-6
    assert np.max(np.abs(out["closed_form_diff"])) < 1e-3


def test_single_layer_fits() -> None:
    out = run("single_layer", plot=False)
    assert out["final_loss"] < 1.2 * out["loss_ls"] + 1e-6
    assert out["W_error"] < 0.05 < out["initial_W_error"]
    assert out["grad_error"] < 1e-10  # the batched gradient equals the hand-derived one


def test_examples_plot_and_run_without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    out = run("single_layer", plot=True)
    assert Path(out["plot"]).stat().st_size > 1000
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    run("newton_bratu", plot=True)


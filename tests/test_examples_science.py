"""The scientific-computing examples (issue 5) do their job, and say so in numbers.

examples/newton_bratu.py: Newton's method with a jacfwd Jacobian converges quadratically to
the discrete Bratu solution, which approaches the closed form at O(h^2).
examples/sensitivity_ode.py: one batched JVP through an RK4 solver gives the parameter
sensitivities that finite differences and the closed-form solution give.
examples/custom_rules.py: custom_jvp rules make a stable softplus, an integral by quad and a
root by brentq differentiable, to the closed forms.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import dualnumpy as dn
from conftest import needs_matplotlib

OUTPUT = Path(__file__).resolve().parents[1] / "examples" / "output"


# ---------------------------------------------------------------- Newton on the Bratu problem

@needs_matplotlib
def test_newton_bratu_converges_quadratically_to_the_closed_form(
        load_example: Callable[[str], ModuleType], capsys: pytest.CaptureFixture[str]) -> None:
    module = load_example("newton_bratu")
    out = module.main(plot=True)
    printed = capsys.readouterr().out
    assert "iteration 0: |F(u)| = 1.000e+01" in printed  # F(0) = lam * ones(100): norm 10

    norms = out["norms"]
    assert norms[0] == pytest.approx(10.0)
    assert norms[-1] < 1e-10 and len(norms) <= 6  # converged in a few iterations
    # the residual of the returned solution, recomputed, is at the rounding floor
    assert np.linalg.norm(module.residual(out["u"], 1.0)) < 1e-10
    # quadratic convergence: |r_{k+1}| <= C |r_k|^2 with a small C, on every step above the floor
    steps = [(a, b) for a, b in itertools.pairwise(norms) if b > 1e-10]
    assert len(steps) >= 2
    assert all(b <= 1e-2 * a ** 2 for a, b in steps)
    # ... and not merely linear: each step squares the residual's relative size at least
    assert all(b / norms[0] <= 10 * (a / norms[0]) ** 2 for a, b in steps)

    # the discrete solution agrees with the closed form to O(h^2): max u(1/2) = 0.140525...
    assert out["discretisation_error"] < 5e-6
    np.testing.assert_allclose(out["u"], out["u_exact"], atol=5e-6)
    assert out["u_exact"].max() == pytest.approx(0.1405251117, abs=1e-9)

    assert out["jacobian_error"] == 0.0  # jacfwd reproduces the hand-derived Jacobian exactly
    assert out["plot"] == OUTPUT / "newton_bratu.png" and out["plot"].stat().st_size > 1000
    assert f"plot saved to {out['plot']}" in printed


def test_newton_bratu_jacfwd_is_the_tridiagonal_matrix(load_example: Callable[[str], ModuleType]) -> None:
    """Checked here independently of the example's own analytic_jacobian."""
    residual = load_example("newton_bratu").residual
    n, lam = 30, 2.0
    u = np.random.default_rng(0).uniform(0.0, 0.5, n)
    h = 1.0 / (n + 1)
    expected = (np.diag(-2.0 / h ** 2 + lam * np.exp(u)) + np.diag(np.full(n - 1, 1 / h ** 2), 1)
                + np.diag(np.full(n - 1, 1 / h ** 2), -1))
    np.testing.assert_allclose(dn.jacfwd(residual)(u, lam), expected, rtol=1e-15, atol=0)


def test_newton_bratu_error_is_second_order_in_h(load_example: Callable[[str], ModuleType]) -> None:
    module = load_example("newton_bratu")
    newton, exact = module.newton, module.exact_solution
    errors = []
    for n in (49, 99):
        u, norms = newton(1.0, n)
        assert norms[-1] < 1e-10
        errors.append(np.max(np.abs(u - exact(np.linspace(0, 1, n + 2)[1:-1], 1.0))))
    assert 3.5 < errors[0] / errors[1] < 4.5  # h halves, the error quarters


# ---------------------------------------------------------------- ODE sensitivities

@needs_matplotlib
def test_ode_sensitivities_agree_with_finite_differences_and_the_closed_form(
        load_example: Callable[[str], ModuleType]) -> None:
    module = load_example("sensitivity_ode")
    out = module.main(plot=True)
    sens, x = out["sensitivities"], out["x"]
    assert sens.shape == (3, 1001) and x.shape == (1001,)
    np.testing.assert_array_equal(sens[:, 0], [0.0, 0.0, 1.0])  # x(0) = x0 depends on x0 only

    # against Richardson finite differences, within their own error estimate
    assert np.max(out["fd_diff"]) < 1e-8
    assert np.all(np.abs(sens - out["fd"]) <= 10 * out["fd_error"] + 1e-10)
    # against a plain central difference written here, independent of dualnumpy.finite_diff
    p, h = np.array([0.3, 4.0, 1.0]), 1e-6
    for i in range(3):
        e = np.eye(3)[i] * h
        central = (module.simulate(p + e) - module.simulate(p - e)) / (2 * h)
        np.testing.assert_allclose(sens[i], central, atol=1e-7)
    # dx/dx0 = x / x0 exactly: the ODE is linear in its initial state
    assert out["x0_identity"] < 1e-14
    # the RK4 sensitivities are the closed form's derivatives up to RK4's O(dt^4) error
    assert np.max(out["closed_form_diff"]) < 1e-6
    assert out["plot"] == OUTPUT / "sensitivity_ode.png" and out["plot"].stat().st_size > 1000


@pytest.mark.usefixtures("no_matplotlib")
def test_examples_run_without_matplotlib(load_example: Callable[[str], ModuleType],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    bratu = load_example("newton_bratu").main(plot=True)
    ode = load_example("sensitivity_ode").main(plot=True, steps=200)
    assert bratu["plot"] is None and ode["plot"] is None
    assert bratu["norms"][-1] < 1e-10 and np.max(ode["fd_diff"]) < 1e-8
    assert capsys.readouterr().out.count("matplotlib not installed: skipping the plot") == 2


@needs_matplotlib
@pytest.mark.parametrize("name", ["newton_bratu", "sensitivity_ode"])
def test_example_runs_as_a_script(name: str, run_script: Callable[..., Any], tmp_path: Path) -> None:
    done = run_script(name, cwd=tmp_path)
    assert f"plot saved to {OUTPUT / name}.png" in done.stdout


# ---------------------------------------------------------------- custom rules


def test_custom_rules_differentiate_what_numpy_cannot_see(
        load_example: Callable[[str], ModuleType], capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("scipy", reason="the example integrates with scipy.integrate.quad")
    import math

    out = load_example("custom_rules").main()
    assert math.isnan(out["softplus_naive"]) and out["softplus_stable"] == 1.0
    assert out["softplus_curvature"] == 0.25
    a = out["a"]
    # F'(a) and F''(a) of F(a) = int_0^1 exp(-a t^2) dt, by independent quadratures of the formulas
    t = np.linspace(0.0, 1.0, 200_001)
    slope = -np.trapezoid(t ** 2 * np.exp(-a * t ** 2), t)
    second = np.trapezoid(t ** 4 * np.exp(-a * t ** 2), t)
    assert out["slope"] == pytest.approx(slope, rel=1e-9)
    assert out["second"] == pytest.approx(second, rel=1e-9)
    assert out["slope"] == pytest.approx(out["slope_closed_form"], rel=1e-12)
    # Newton converges quadratically to F(a) = 0.6
    module = load_example("custom_rules")
    assert module.gauss_integral_closed_form(out["root"]) == pytest.approx(0.6, abs=1e-14)
    steps = out["newton_steps"]
    assert len(steps) <= 8 and steps[-2] < 1e-6
    # the solver's root fits p = 1.75 exactly (x = 1/2: 1/8 + p/2 = 1)
    assert out["p_star"] == pytest.approx(1.75, abs=1e-12) and out["losses"][-1] < 1e-28
    assert "custom rule 1.0" in capsys.readouterr().out


def test_custom_rules_runs_as_a_script(run_script: Callable[..., Any], tmp_path: Path) -> None:
    pytest.importorskip("scipy", reason="the example integrates with scipy.integrate.quad")
    done = run_script("custom_rules", cwd=tmp_path)
    assert "p = 1.750000000000" in done.stdout

"""The basic examples run, draw their plots (or say why not), and compute what they claim.

Each example's ``main()`` returns its numbers; the expected values here are derived
independently (closed forms, least squares, bisection), not read from the examples.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from conftest import needs_matplotlib

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("linear_regression", "derivatives_by_hand", "straight_line_program")


@pytest.fixture(scope="module")
def results(load_example: Callable[[str], ModuleType]) -> dict[str, Any]:
    """Each example's main(plot=False), run once for the number tests."""
    return {name: load_example(name).main(plot=False) for name in NAMES}


# ---------------------------------------------------------------- plots and scripts


@needs_matplotlib
@pytest.mark.parametrize("name", NAMES)
def test_main_saves_a_png(name: str, load_example: Callable[[str], ModuleType]) -> None:
    path = ROOT / "examples" / "output" / f"{name}.png"
    path.unlink(missing_ok=True)
    result = load_example(name).main(plot=True)
    assert result["plot"] == path
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(b"\x89PNG")


@pytest.mark.parametrize("name", NAMES)
def test_main_without_plot_returns_no_path(name: str, results: dict[str, Any]) -> None:
    assert results[name]["plot"] is None


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.usefixtures("no_matplotlib")
def test_main_runs_without_matplotlib(name: str, load_example: Callable[[str], ModuleType],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    result = load_example(name).main(plot=True)
    assert result["plot"] is None
    assert "matplotlib not installed: skipping the plot" in capsys.readouterr().out


@needs_matplotlib
@pytest.mark.parametrize("name", NAMES)
def test_runs_as_a_script(name: str, run_script: Callable[..., Any], tmp_path: Path) -> None:
    done = run_script(name, cwd=tmp_path)  # from another directory: the plot still goes to examples/output/
    assert f"plot saved to {ROOT / 'examples' / 'output' / name}.png" in done.stdout
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- linear_regression


def test_linear_regression_fits_the_line(results: dict[str, Any]) -> None:
    line = results["linear_regression"]["line"]
    X, y, losses = line["X"], line["y"], line["losses"]
    assert len(losses) == 101
    assert losses[0] == pytest.approx(np.mean((3 * X - 1) ** 2)) == pytest.approx(4.75)
    assert np.all(np.diff(losses[:60]) < 0)  # falls at every step until rounding
    assert losses[-1] < 1e-25 * losses[0]  # more than 25 orders of magnitude
    np.testing.assert_allclose(line["y_pred"], y, rtol=0, atol=1e-12)
    assert line["w"] == pytest.approx(3.0, abs=1e-12)
    assert line["b"] == pytest.approx(-1.0, abs=1e-12)
    # at w = b = 0 the gradient is (2 mean(-y X), 2 mean(-y)) = (-6 mean(X²), 2)
    np.testing.assert_allclose(line["initial_grad"], (-6 * np.mean(X ** 2), 2.0), rtol=1e-15)
    np.testing.assert_allclose(line["per_parameter"], line["initial_grad"], rtol=1e-15)


def test_linear_regression_batch_reaches_least_squares(results: dict[str, Any]) -> None:
    batch = results["linear_regression"]["batch"]
    X, y, losses = batch["X"], batch["y"], batch["losses"]
    A = np.column_stack([X, np.ones(len(y))])
    solution = np.linalg.lstsq(A, y, rcond=None)[0]
    np.testing.assert_allclose(batch["w"], solution[:3], rtol=0, atol=1e-10)
    assert batch["b"] == pytest.approx(solution[3], abs=1e-10)
    # the example's own reference, which it prints next to the trained weights
    np.testing.assert_allclose(batch["w_ls"], solution[:3], rtol=0, atol=1e-12)
    assert batch["b_ls"] == pytest.approx(solution[3], abs=1e-12)
    minimum = np.mean((A @ solution - y) ** 2)
    assert batch["loss_ls"] == pytest.approx(minimum, rel=1e-12)
    assert losses[-1] == pytest.approx(minimum, rel=1e-12)
    assert losses[0] > 100 * losses[-1]
    assert minimum == pytest.approx(0.01, rel=0.3)  # the noise variance
    np.testing.assert_allclose(batch["w"], [2.0, -1.0, 0.5], atol=0.05)


def test_linear_regression_gradient_is_the_normal_equations_residual(
        load_example: Callable[[str], ModuleType]) -> None:
    import dualnumpy as dn

    module = load_example("linear_regression")
    rng = np.random.default_rng(1)
    X, y, w, b = rng.standard_normal((20, 3)), rng.standard_normal(20), rng.standard_normal(3), 0.7
    loss, (dw, db) = dn.value_and_grad(module.batch_loss, argnums=(2, 3))(X, y, w, b)
    r = X @ w + b - y
    assert loss == pytest.approx(np.mean(r ** 2), rel=1e-15)
    np.testing.assert_allclose(dw, 2 * X.T @ r / len(y), rtol=1e-13)
    assert db == pytest.approx(2 * np.mean(r), rel=1e-13)


# ---------------------------------------------------------------- derivatives_by_hand


def rational_gradient(a: float, b: float) -> np.ndarray:
    """d log f = du/u + dv/v + dw/w, a different route from the example's product rule."""
    u, v, w = a / b - a, b / a + a + b, a - b
    f = u * v * w
    return f * np.array([(1 / b - 1) / u + (1 - b / a ** 2) / v + 1 / w,
                         (-a / b ** 2) / u + (1 / a + 1) / v - 1 / w])


def log_sin_exp_gradient(a: float, b: float, c: float) -> np.ndarray:
    s = np.sin(a * b) + np.exp(c - a / b)
    return np.array([2 * c * (b * np.cos(a * b) - np.exp(c - a / b) / b) / s,
                     2 * c * (a * np.cos(a * b) + a * np.exp(c - a / b) / b ** 2) / s,
                     2 * np.log(abs(s)) + 2 * c * np.exp(c - a / b) / s])


def test_derivatives_by_hand_exact_first_case(results: dict[str, Any]) -> None:
    case = results["derivatives_by_hand"]["cases"]["product_sum"]
    assert case["value"] == 28.0
    for method in ("forward", "reverse", "by_hand"):
        assert case[method].tolist() == [11.0, 4.0], method


@pytest.mark.parametrize("name", ["product_sum", "rational", "log_sin_exp"])
def test_derivatives_by_hand_methods_agree(results: dict[str, Any], name: str) -> None:
    case = results["derivatives_by_hand"]["cases"][name]
    np.testing.assert_allclose(case["forward"], case["reverse"], rtol=1e-12)
    assert np.all(np.isfinite(case["fd_error"])) and np.all(case["fd_error"] > 0)
    assert np.all(np.abs(case["forward"] - case["fd"]) <= 2 * case["fd_error"])


def test_derivatives_by_hand_match_analytic_gradients(results: dict[str, Any]) -> None:
    cases = results["derivatives_by_hand"]["cases"]
    a, b = cases["rational"]["point"]
    assert (a, b) == (230.3, 33.2)
    np.testing.assert_allclose(cases["rational"]["forward"], rational_gradient(a, b), rtol=1e-12)
    np.testing.assert_allclose(cases["rational"]["by_hand"], rational_gradient(a, b), rtol=1e-12)
    point = cases["log_sin_exp"]["point"]
    assert point == (43.0, 3.0, 2.0)
    np.testing.assert_allclose(cases["log_sin_exp"]["forward"], log_sin_exp_gradient(*point), rtol=1e-12)
    np.testing.assert_allclose(cases["log_sin_exp"]["by_hand"], log_sin_exp_gradient(*point), rtol=1e-12)


def test_derivatives_by_hand_central_differences_lose_digits(results: dict[str, Any]) -> None:
    cases = results["derivatives_by_hand"]["cases"]
    for name in ("rational", "log_sin_exp"):  # truncation and rounding: no step is exact
        errors = cases[name]["central_errors"]
        assert 1e-13 < errors.min() < 1e-8, name
        assert errors[0] > 1e-4 and errors[-1] > 1e-8, name  # both ends of the V are bad
    assert cases["product_sum"]["central_errors"].min() < 1e-14  # a quadratic has no truncation


# ---------------------------------------------------------------- straight_line_program


def v7_closed_form(w: Any, x: float = 1.0) -> Any:
    return np.exp(x * w + np.sin(x * w)) + w * np.sin(x * w) ** 2


def dv7_closed_form(w: Any, x: float = 1.0) -> Any:
    return (np.exp(x * w + np.sin(x * w)) * x * (1 + np.cos(x * w))
            + np.sin(x * w) ** 2 + 2 * w * x * np.sin(x * w) * np.cos(x * w))


def test_straight_line_program_derivative_at_four(results: dict[str, Any]) -> None:
    first = results["straight_line_program"]["trace"]
    assert first["dv7_dw"] == pytest.approx(dv7_closed_form(4.0), rel=1e-14)
    assert first["dv7_dw"] == pytest.approx(13.4022736592003, rel=1e-13)
    assert first["values"]["v7"] == pytest.approx(v7_closed_form(4.0), rel=1e-15)
    assert first["values"]["v2"] == pytest.approx(np.sin(4.0), rel=1e-15)
    for name, tangent in first["tangents"].items():
        assert tangent == pytest.approx(first["by_hand"][name], rel=1e-14), name
    assert first["tangents"]["v7"] == first["dv7_dw"]


def test_straight_line_program_descent(results: dict[str, Any]) -> None:
    run = results["straight_line_program"]
    steps = run["descent"]
    w, v7, slope = steps["w"], steps["v7"], steps["dv7_dw"]
    assert len(w) == 31 and w[0] == 4.0
    np.testing.assert_allclose(v7, v7_closed_form(w), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(slope, dv7_closed_form(w), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(w[1:], w[:-1] - 0.1 * slope[:-1], rtol=1e-15, atol=1e-15)
    assert np.all(np.diff(v7) < 0)  # v7 falls at every one of the 30 steps
    assert v7[0] == pytest.approx(27.9064966781439) and v7[-1] < -1.6493

    # the local minimum it approaches, by bisection on the closed-form derivative
    lo, hi = -2.0, -1.7
    assert dv7_closed_form(lo) < 0 < dv7_closed_form(hi)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if dv7_closed_form(mid) < 0 else (lo, mid)
    w_star = 0.5 * (lo + hi)
    assert w_star == pytest.approx(-1.84706, abs=1e-5)
    assert abs(w[-1] - w_star) < 1e-3 and abs(slope[-1]) < 1e-3
    assert 0 < v7[-1] - v7_closed_form(w_star) < 1e-6
    h = 1e-5
    curvature = (dv7_closed_form(w[-1] + h) - dv7_closed_form(w[-1] - h)) / (2 * h)
    assert run["curvature"] == pytest.approx(curvature, rel=1e-7) and curvature > 0

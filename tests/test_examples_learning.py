"""The learning examples train to what they claim, draw their plots (or say why not), and run as scripts.

Each example's ``main()`` returns its numbers; the references here are computed independently
(least squares, predictions recomputed from the returned weights, the loss recomputed by a
separate NumPy implementation), not read from the examples' own printouts.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from conftest import needs_matplotlib

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("single_layer", "digits_classifier", "rnn_sin_cos")


@pytest.fixture(scope="module")
def results(load_example: Callable[[str], ModuleType]) -> dict[str, Any]:
    """Each example's main(plot=True), run once (old PNGs removed first) for all the number tests."""
    out = {}
    for name in NAMES:
        if name == "digits_classifier" and importlib.util.find_spec("sklearn") is None:
            continue  # its data come from scikit-learn (the examples extra)
        (ROOT / "examples" / "output" / f"{name}.png").unlink(missing_ok=True)
        out[name] = load_example(name).main(plot=True)
    return out


def _need(name: str, results: dict[str, Any]) -> None:
    if name not in results:
        pytest.skip(f"{name} needs scikit-learn for its data (pip install -e '.[examples]')")


# ---------------------------------------------------------------- plots and scripts


@needs_matplotlib
@pytest.mark.parametrize("name", NAMES)
def test_main_saves_a_png(name: str, results: dict[str, Any]) -> None:
    _need(name, results)
    path = ROOT / "examples" / "output" / f"{name}.png"
    assert results[name]["plot"] == path
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(b"\x89PNG")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.usefixtures("no_matplotlib")
def test_main_runs_without_matplotlib(name: str, results: dict[str, Any],
                                      load_example: Callable[[str], ModuleType],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    _need(name, results)
    result = load_example(name).main(plot=True)
    assert result["plot"] is None
    assert "matplotlib not installed: skipping the plot" in capsys.readouterr().out
    # fixed seeds: the same training whether or not it plots
    key = "accuracy" if name == "digits_classifier" else "final_loss"
    assert result[key] == results[name][key]


@needs_matplotlib
def test_single_layer_runs_as_a_script(run_script: Callable[..., Any], tmp_path: Path) -> None:
    done = run_script("single_layer", cwd=tmp_path)
    assert "least-squares minimum" in done.stdout
    assert "max |W - W_true|" in done.stdout
    assert f"plot saved to {ROOT / 'examples' / 'output' / 'single_layer.png'}" in done.stdout


# ---------------------------------------------------------------- single_layer


def test_single_layer_reaches_least_squares(results: dict[str, Any],
                                            load_example: Callable[[str], ModuleType]) -> None:
    result = results["single_layer"]
    data = load_example("single_layer").make_data()
    X1 = np.column_stack([data["X"], np.ones(len(data["X"]))])
    solution = np.linalg.lstsq(X1, data["Y"], rcond=None)[0]
    residual = X1 @ solution - data["Y"]
    loss_ls = float(np.mean(residual ** 2))
    assert result["loss_ls"] == pytest.approx(loss_ls, rel=1e-12)  # the example's own reference
    assert result["n_params"] == 510
    assert result["grad_error"] < 1e-12
    # below the noise variance 0.05**2 (the fit also absorbs some noise), at the least-squares minimum
    assert result["final_loss"] < 2.5e-3
    assert result["final_loss"] == pytest.approx(loss_ls, rel=1e-4)
    assert result["final_loss"] < result["losses"][0] / 500
    np.testing.assert_allclose(result["params"]["W"], solution[:-1].T, atol=1e-3)


def test_single_layer_weights_approach_the_true_ones(results: dict[str, Any]) -> None:
    result = results["single_layer"]
    assert result["W_error"] == pytest.approx(np.max(np.abs(result["params"]["W"] - result["W_true"])))
    assert result["W_error"] < 0.03 and result["b_error"] < 0.03
    # the error it starts from, at W = 0, is max |W_true|
    assert result["initial_W_error"] == pytest.approx(np.max(np.abs(result["W_true"])), rel=1e-15)
    assert result["initial_W_error"] > 0.05
    assert result["W_error"] < result["initial_W_error"] / 10


# ---------------------------------------------------------------- digits_classifier


def test_digits_classifier_accuracy_and_runtime(results: dict[str, Any]) -> None:
    _need("digits_classifier", results)
    from sklearn.datasets import load_digits

    result = results["digits_classifier"]
    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    X_test, y_test = digits.data[order[:360]] / 16.0, digits.target[order[:360]]
    W, b = result["params"]["W"], result["params"]["b"]
    accuracy = float(np.mean(np.argmax(X_test @ W + b, axis=1) == y_test))
    assert accuracy == result["accuracy"] >= 0.90
    assert len(result["wrong"]) == round((1 - accuracy) * 360)
    assert result["n_params"] == 650
    assert result["grad_error"] < 1e-12
    assert result["epoch_losses"][-1] < result["epoch_losses"][0] / 3
    # the brief: under a minute on 2 cores (measured: about 3-5 s including loading the data)
    assert result["total_seconds"] < 60.0


# ---------------------------------------------------------------- rnn_sin_cos


def test_rnn_sin_cos_fits(results: dict[str, Any]) -> None:
    result = results["rnn_sin_cos"]
    p = result["params"]
    x, y = result["x"], result["y"]
    np.testing.assert_allclose(y, 0.5 * np.sin(2 * x), atol=1e-15)
    # the loss recomputed from the returned weights by a separate loop
    h, outputs = np.zeros(len(p["b"])), []
    for xt in x:
        h = np.tanh(p["Wx"] * xt + p["Wh"] @ h + p["b"])
        outputs.append(float(p["wo"] @ h + p["bo"]))
    final_loss = float(np.mean((np.array(outputs) - y) ** 2))
    assert final_loss == pytest.approx(result["final_loss"], rel=1e-12)
    assert result["n_params"] == 89
    assert result["grad_error"] < 1e-12
    assert final_loss < 1e-3  # seed 0 reaches about 1e-4
    assert final_loss < result["initial_loss"] / 100
    assert result["fit_error"] < 0.1

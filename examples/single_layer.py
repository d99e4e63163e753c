"""One linear layer (50 inputs, 10 outputs) fitted by gradient descent on forward-mode gradients.

The data are random with a fixed seed: 256 inputs ``X`` of 50 features, and targets made by a
hidden "true" layer, ``Y = X @ W_true.T + b_true`` plus a little noise (standard deviation
0.05). The model is ordinary NumPy code, ``layer(params, X) = X @ W.T + b``, and the loss is
its mean squared error. ``dualnumpy.value_and_grad`` differentiates the loss with respect to
the parameter dict ``{"W": (10, 50), "b": (10,)}``: 510 parameters, so 510 basis directions,
all carried by ONE batched forward pass (every intermediate holds a tangent of shape
``(510, *its shape)``; the largest, the predictions' tangent, is 510 x 256 x 10 floats, about
10 MB, so ``chunk_size`` stays None). The first gradient is checked against the hand-derived
formula ``2 / (N * 10) * (pred - Y).T @ X``; then 100 steps of gradient descent drive the loss
to the least-squares minimum (just under the noise variance) and the weights to within about
0.01 of the true ones.

Run it with ``python examples/single_layer.py``; it prints the training progress and saves the
loss curve and a learned-against-true weight scatter to ``examples/output/single_layer.png``.
tests/test_examples_learning.py runs it and checks its numbers.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import dualnumpy as dn

if str(Path(__file__).resolve().parent) not in sys.path:  # for _plotting; a script run puts it there already
    sys.path.insert(0, str(Path(__file__).resolve().parent))
import _plotting

Array = np.ndarray[Any, Any]

N_SAMPLES, N_IN, N_OUT = 256, 50, 10
NOISE = 0.05
STEPS = 100
LEARNING_RATE = 1.0


def layer(params: dict[str, Any], X: Any) -> Any:
    """A dense layer without activation: plain NumPy, no thought of derivatives."""
    return X @ params["W"].T + params["b"]


def loss(params: dict[str, Any], X: Any, Y: Any) -> Any:
    """The mean squared error of the layer's predictions."""
    return np.mean((layer(params, X) - Y) ** 2)


def make_data(seed: int = 0) -> dict[str, Array]:
    """Random inputs and the targets of a hidden true layer, plus noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N_SAMPLES, N_IN))
    W_true = rng.standard_normal((N_OUT, N_IN)) / np.sqrt(N_IN)
    b_true = rng.standard_normal(N_OUT)
    Y = X @ W_true.T + b_true + NOISE * rng.standard_normal((N_SAMPLES, N_OUT))
    return {"X": X, "Y": Y, "W_true": W_true, "b_true": b_true}


def train(data: dict[str, Array], steps: int = STEPS, lr: float = LEARNING_RATE) -> dict[str, Any]:
    """Gradient descent from zero weights; each gradient is one batched forward pass."""
    X, Y = data["X"], data["Y"]
    params = {"W": np.zeros((N_OUT, N_IN)), "b": np.zeros(N_OUT)}
    n_params = sum(p.size for p in params.values())
    loss_and_grad = dn.value_and_grad(loss)  # chunk_size=None: all 510 directions in one pass

    # the first gradient against the formula a human would derive by hand
    _, grads = loss_and_grad(params, X, Y)
    residual = layer(params, X) - Y
    by_hand = {"W": 2.0 / residual.size * residual.T @ X, "b": 2.0 / residual.size * residual.sum(0)}
    grad_error = max(float(np.max(np.abs(grads[k] - by_hand[k]))) for k in params)
    print(f"{n_params} parameters; first gradient against 2/(N*10) (pred - Y).T @ X: "
          f"max |difference| = {grad_error:.1e}")

    losses: list[float] = []
    start = time.perf_counter()
    print(f"{'step':>5}  {'loss':>10}  {'max |W - W_true|':>16}")
    for step in range(steps):
        value, grads = loss_and_grad(params, X, Y)
        losses.append(float(value))
        params = {k: params[k] - lr * grads[k] for k in params}
        if step in (0, 1, 5, 10, 20, 50, 100) or step == steps - 1:
            error = np.max(np.abs(params["W"] - data["W_true"]))
            print(f"{step:>5}  {value:>10.3e}  {error:>16.4f}")
    seconds = time.perf_counter() - start
    final_loss = float(loss(params, X, Y))
    losses.append(final_loss)
    print(f"{steps} gradient passes in {seconds:.2f} s ({1000 * seconds / steps:.1f} ms each)")
    return {"params": params, "losses": np.array(losses), "final_loss": final_loss,
            "grad_error": grad_error, "n_params": n_params, "seconds": seconds}


def save_plot(result: dict[str, Any], data: dict[str, Array]) -> Path | None:
    """The loss curve (log scale) and learned against true weights; None without matplotlib."""
    plt = _plotting.pyplot()
    if plt is None:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.semilogy(result["losses"], marker=".", markersize=3)
    left.axhline(NOISE ** 2, color="gray", linestyle="--", label=f"noise variance {NOISE ** 2:g}")
    left.set(title="mean squared error, 510 parameters", xlabel="step", ylabel="loss")
    left.legend()
    left.grid(True, alpha=0.4)
    true = np.concatenate([data["W_true"].ravel(), data["b_true"]])
    learned = np.concatenate([result["params"]["W"].ravel(), result["params"]["b"]])
    right.scatter(true, learned, s=6)
    lims = [true.min(), true.max()]
    right.plot(lims, lims, color="gray", linestyle="--", linewidth=1)
    right.set(title="learned against true parameters", xlabel="true", ylabel="learned")
    right.grid(True, alpha=0.4)
    fig.tight_layout()
    return _plotting.save(fig, "single_layer")


def main(plot: bool = True) -> dict[str, Any]:
    data = make_data()
    result = train(data)
    W_error = float(np.max(np.abs(result["params"]["W"] - data["W_true"])))
    b_error = float(np.max(np.abs(result["params"]["b"] - data["b_true"])))
    initial_error = float(np.max(np.abs(data["W_true"])))
    # the reference: the least-squares solution of [X 1] @ [W.T; b] = Y, which the descent must reach
    X1 = np.column_stack([data["X"], np.ones(N_SAMPLES)])
    solution = np.linalg.lstsq(X1, data["Y"], rcond=None)[0]
    loss_ls = float(loss({"W": solution[:-1].T, "b": solution[-1]}, data["X"], data["Y"]))
    print(f"least-squares minimum {loss_ls:.6e}; gradient descent {result['final_loss']:.6e}")
    print(f"final loss {result['final_loss']:.3e} (noise variance {NOISE ** 2:.1e}); "
          f"max |W - W_true| = {W_error:.4f} (from {initial_error:.4f} at W = 0), "
          f"max |b - b_true| = {b_error:.4f}")
    path = save_plot(result, data) if plot else None
    return {**result, "W_error": W_error, "b_error": b_error, "initial_W_error": initial_error,
            "loss_ls": loss_ls,
            "W_true": data["W_true"], "b_true": data["b_true"], "plot": path}


if __name__ == "__main__":
    main()

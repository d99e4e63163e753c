"""Linear regression trained by gradient descent on forward-mode gradients.

The loss is ordinary NumPy code, ``train_loop(X, y, w, b)``: predict ``w * X + b`` and
average the squared errors. ``dualnumpy.grad(train_loop, argnums=(2, 3))`` differentiates
it with respect to the two parameters (one forward pass carrying two directions), and 100
epochs of gradient descent fit a line to nine points that lie on ``y = 3x - 1``: the loss
falls by 32 orders of magnitude (4.75 to 1e-31, the rounding floor) and the predictions
meet the targets to 4e-16.

The second part does the same for a batch of 200 noisy inputs with three features each,
``y_pred = X @ w + b``, with ``dualnumpy.value_and_grad`` returning the loss and the
gradients together; the weights it finds are the least-squares solution of
``np.linalg.lstsq``.

Run it with ``python examples/linear_regression.py``; it prints the training progress and
saves the loss curves (log scale) to ``examples/output/linear_regression.png``.
tests/test_examples_basics.py runs it and checks its numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

import dualnumpy as dn

if str(Path(__file__).resolve().parent) not in sys.path:  # for _plotting; a script run puts it there already
    sys.path.insert(0, str(Path(__file__).resolve().parent))
import _plotting

Array = np.ndarray[Any, Any]

EPOCHS = 100


def train_loop(X: Any, y: Any, w: Any, b: Any) -> Any:
    """The mean squared error of the line ``w * X + b``: plain NumPy, no thought of derivatives."""
    y_pred = w * X + b
    loss = (y_pred - y) ** 2
    return np.mean(loss)


def batch_loss(X: Any, y: Any, w: Any, b: Any) -> Any:
    """The same loss for a batch of feature vectors: ``X`` is (n, d), ``w`` is (d,)."""
    y_pred = X @ w + b
    return np.mean((y_pred - y) ** 2)


def fit_line(lr: float = 0.4) -> dict[str, Any]:
    """Part 1: fit ``w`` and ``b`` to nine points on ``y = 3x - 1`` with ``grad(argnums=(2, 3))``."""
    X = np.linspace(-1.0, 1.0, 9)
    y = 3.0 * X - 1.0
    w, b = 0.0, 0.0
    gradient = dn.grad(train_loop, argnums=(2, 3))

    # grad with a tuple of argnums is the derivative along each parameter, in one pass
    dw, db = gradient(X, y, w, b)
    initial_grad = (float(dw), float(db))
    per_parameter = (dn.derivative(train_loop, argnum=2)(X, y, w, b),
                     dn.derivative(train_loop, argnum=3)(X, y, w, b))
    print(f"at w = b = 0: grad(argnums=(2, 3)) = ({dw:.6f}, {db:.6f}); "
          f"derivative per parameter = ({per_parameter[0]:.6f}, {per_parameter[1]:.6f})")

    losses = [float(train_loop(X, y, w, b))]
    print(f"{'epoch':>5}  {'w':>20}  {'b':>20}  {'loss':>10}")
    print(f"{0:>5}  {w:>20.15f}  {b:>20.15f}  {losses[0]:>10.3e}")
    for epoch in range(1, EPOCHS + 1):
        dw, db = gradient(X, y, w, b)
        w, b = w - lr * dw, b - lr * db
        losses.append(float(train_loop(X, y, w, b)))
        if epoch in (1, 2, 5, 10, 20, 50, EPOCHS):
            print(f"{epoch:>5}  {w:>20.15f}  {b:>20.15f}  {losses[-1]:>10.3e}")
    y_pred = w * X + b
    print(f"after {EPOCHS} epochs: max |y_pred - y| = {np.max(np.abs(y_pred - y)):.1e}")
    return {"X": X, "y": y, "w": float(w), "b": float(b), "y_pred": y_pred,
            "losses": np.array(losses), "initial_grad": initial_grad,
            "per_parameter": (float(per_parameter[0]), float(per_parameter[1]))}


def fit_batch(lr: float = 0.4, n: int = 200, seed: int = 0) -> dict[str, Any]:
    """Part 2: a batch of noisy inputs with three features, trained with ``value_and_grad``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    w_true, b_true = np.array([2.0, -1.0, 0.5]), 0.3
    y = X @ w_true + b_true + 0.1 * rng.standard_normal(n)

    # the reference: the least-squares solution of [X 1] @ [w; b] = y
    solution = np.linalg.lstsq(np.column_stack([X, np.ones(n)]), y, rcond=None)[0]
    w_ls, b_ls = solution[:3], float(solution[3])
    loss_ls = float(batch_loss(X, y, w_ls, b_ls))

    w, b = np.zeros(3), 0.0
    loss_and_grad = dn.value_and_grad(batch_loss, argnums=(2, 3))
    losses = []
    print(f"{'epoch':>5}  {'loss':>12}  {'loss - least-squares minimum':>28}")
    for epoch in range(EPOCHS):
        loss, (dw, db) = loss_and_grad(X, y, w, b)
        losses.append(float(loss))
        w, b = w - lr * dw, b - lr * db
        if epoch in (0, 1, 5, 10, 20, 50, EPOCHS - 1):
            print(f"{epoch:>5}  {loss:>12.6e}  {loss - loss_ls:>28.3e}")
    final_loss = float(batch_loss(X, y, w, b))
    losses.append(final_loss)
    print(f"trained:       w = {np.array2string(w, precision=10)}, b = {b:.10f}")
    print(f"least squares: w = {np.array2string(w_ls, precision=10)}, b = {b_ls:.10f}")
    print(f"true:          w = {w_true}, b = {b_true}; noise variance 0.01, "
          f"final loss {final_loss:.6f}")
    return {"X": X, "y": y, "w": w, "b": float(b), "w_ls": w_ls, "b_ls": b_ls,
            "w_true": w_true, "b_true": b_true, "loss_ls": loss_ls, "losses": np.array(losses)}


def save_plot(line: dict[str, Any], batch: dict[str, Any]) -> Path | None:
    """Both loss curves on a log scale; None (and a message) without matplotlib."""
    plt = _plotting.pyplot()
    if plt is None:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = np.arange(len(line["losses"]))
    keep = line["losses"] > 0  # an exact fit has loss 0, which a log scale cannot show
    left.semilogy(epochs[keep], line["losses"][keep], marker=".")
    left.set(title="nine points on y = 3x - 1: grad(argnums=(2, 3))", xlabel="epoch",
             ylabel="mean squared error")
    excess = batch["losses"] - batch["loss_ls"]
    keep = excess > 0
    right.semilogy(np.arange(len(excess))[keep], excess[keep], marker=".", color="C1")
    right.set(title="200 noisy inputs, 3 features: value_and_grad", xlabel="epoch",
              ylabel="loss - least-squares minimum")
    for ax in (left, right):
        ax.grid(True, which="major", alpha=0.4)
    fig.tight_layout()
    return _plotting.save(fig, "linear_regression")


def main(plot: bool = True) -> dict[str, Any]:
    print("Part 1: a line through nine points, gradients by dualnumpy.grad")
    line = fit_line()
    print("\nPart 2: a batch of 200 inputs, loss and gradients by dualnumpy.value_and_grad")
    batch = fit_batch()
    path = save_plot(line, batch) if plot else None
    return {"line": line, "batch": batch, "plot": path}


if __name__ == "__main__":
    main()

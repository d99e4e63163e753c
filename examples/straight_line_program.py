"""Forward mode on a straight-line program, then gradient descent on it.

The program, the usual first example of automatic differentiation::

    v1 = x * w        v2 = sin(v1)      v3 = v1 + v2     v4 = v2 ** 2
    v5 = exp(v3)      v6 = v4 * w       v7 = v5 + v6

At x = 1, w = 4 the script runs it once on the dual number ``Dual(4.0, 1.0)`` and prints
every intermediate value with the tangent it carries: the tangent of v_i is dv_i/dw, the
chain rule applied line by line, which it prints next to the same chain rule written out by
hand. Then 30 steps of gradient descent on w (step 0.1, the derivative by
``dualnumpy.value_and_grad``) print w, v7 and dv7/dw at every step.

What happens: v7 = exp(w + sin w) + w sin²(w) (for x = 1) falls at every step, from 27.91 to
-1.6494: w overshoots from 4 to 2.66 on the first step, crawls across a shoulder, drops
steeply past 0 and settles in the local minimum near w = -1.847. (v7 is unbounded below as
w -> -infinity, through the w sin²(w) term; the descent stays in the first basin it finds.)

Run it with ``python examples/straight_line_program.py``; it saves v7 over the steps and the
path on the curve v7(w) to ``examples/output/straight_line_program.png``.
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

X, W0, STEP, STEPS = 1.0, 4.0, 0.1, 30


def program(x: Any, w: Any) -> dict[str, Any]:
    """The straight-line program, returning every intermediate (plain NumPy)."""
    v1 = x * w
    v2 = np.sin(v1)
    v3 = v1 + v2
    v4 = v2 ** 2
    v5 = np.exp(v3)
    v6 = v4 * w
    v7 = v5 + v6
    return {"v1": v1, "v2": v2, "v3": v3, "v4": v4, "v5": v5, "v6": v6, "v7": v7}


def v7(x: Any, w: Any) -> Any:
    """The program's output."""
    return program(x, w)["v7"]


def chain_rule_by_hand(x: float, w: float) -> dict[str, float]:
    """dv_i/dw line by line, as one writes it on paper."""
    v = program(x, w)
    d: dict[str, float] = {}
    d["v1"] = x
    d["v2"] = np.cos(v["v1"]) * d["v1"]
    d["v3"] = d["v1"] + d["v2"]
    d["v4"] = 2 * v["v2"] * d["v2"]
    d["v5"] = v["v5"] * d["v3"]
    d["v6"] = d["v4"] * w + v["v4"]  # the product rule: w appears twice
    d["v7"] = d["v5"] + d["v6"]
    return {k: float(t) for k, t in d.items()}


def trace(x: float = X, w: float = W0) -> dict[str, Any]:
    """Run the program on Dual(w, 1): each intermediate carries its value and dv_i/dw."""
    duals = program(x, dn.Dual(w, 1.0))
    by_hand = chain_rule_by_hand(x, w)
    print(f"the program at x = {x:g}, w = {w:g}, run on Dual({w!r}, 1.0):")
    print(f"  {'':4}{'value':>22}{'tangent dv/dw':>22}{'chain rule by hand':>22}")
    for name, d in duals.items():
        print(f"  {name:4}{d.value:>22.15g}{d.tangent:>22.15g}{by_hand[name]:>22.15g}")
    slope = dn.derivative(v7, argnum=1)(x, w)
    print(f"dv7/dw at w = {w:g}: dualnumpy.derivative gives {slope:.15g}")
    return {"values": {k: float(d.value) for k, d in duals.items()},
            "tangents": {k: float(d.tangent) for k, d in duals.items()},
            "by_hand": by_hand, "dv7_dw": float(slope)}


def descend(x: float = X, w: float = W0, step: float = STEP, steps: int = STEPS) -> dict[str, Any]:
    """Gradient descent on w; row i holds w, v7 and dv7/dw before step i+1 (row `steps`: the end)."""
    value_and_slope = dn.value_and_grad(v7, argnums=1)
    ws, values, slopes = [], [], []
    print(f"\ngradient descent on w, step {step:g}:")
    print(f"  {'step':>4}{'w':>22}{'v7':>22}{'dv7/dw':>22}")
    for i in range(steps + 1):
        value, slope = value_and_slope(x, w)
        ws.append(w)
        values.append(float(value))
        slopes.append(float(slope))
        print(f"  {i:>4}{w:>22.15g}{value:>22.15g}{slope:>22.15g}")
        w = w - step * float(slope)
    return {"w": np.array(ws), "v7": np.array(values), "dv7_dw": np.array(slopes)}


def save_plot(x: float, descent: dict[str, Any]) -> Path | None:
    """v7 over the steps, and the steps on the curve v7(w); None without matplotlib."""
    plt = _plotting.pyplot()
    if plt is None:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(np.arange(len(descent["v7"])), descent["v7"], marker="o")
    left.set(title="v7 over the gradient-descent steps", xlabel="step", ylabel="v7")
    grid = np.linspace(-3.0, 4.5, 600)
    right.plot(grid, v7(x, grid), color="0.5", label="v7(w)")
    right.plot(descent["w"], descent["v7"], marker="o", color="C1", label="the steps")
    right.annotate("start", (descent["w"][0], descent["v7"][0]), textcoords="offset points", xytext=(-35, 0))
    right.set(title=f"the path on v7(w), x = {x:g}", xlabel="w", ylabel="v7")
    right.legend()
    for ax in (left, right):
        ax.grid(True, alpha=0.4)
    fig.tight_layout()
    return _plotting.save(fig, "straight_line_program")


def main(plot: bool = True) -> dict[str, Any]:
    first = trace()
    steps = descend()
    falls = bool(np.all(np.diff(steps["v7"]) < 0))
    print(f"v7 falls at every step: {falls}; from {steps['v7'][0]:.6g} to {steps['v7'][-1]:.6g} "
          f"at w = {steps['w'][-1]:.6g}, where dv7/dw = {steps['dv7_dw'][-1]:.1e}")
    curvature = dn.derivative(dn.derivative(v7, argnum=1), argnum=1)(X, steps["w"][-1])
    print(f"d2v7/dw2 there (forward over forward): {curvature:.6g} > 0: a local minimum")
    path = save_plot(X, steps) if plot else None
    return {"trace": first, "descent": steps, "curvature": float(curvature), "plot": path}


if __name__ == "__main__":
    main()

"""A straight-line program, differentiated and then minimised by gradient descent.

    v1 = x w,  v2 = sin(v1),  v3 = v1 + v2,  v4 = v2^2,  v5 = exp(v3),
    v6 = v4 w, v7 = v5 + v6

at x = 1, w = 4: the intermediate values, dv7/dw by forward mode and by hand,
then 30 steps of gradient descent on w with step 0.1.

    python examples/straight_line_program.py
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import dualnumpy as dn

OUTPUT = Path(__file__).resolve().parent / "output"


def program(x: Any, w: Any) -> dict[str, Any]:
    v1 = x * w
    v2 = np.sin(v1)
    v3 = v1 + v2
    v4 = v2 ** 2
    v5 = np.exp(v3)
    v6 = v4 * w
    v7 = v5 + v6
    return {"v1": v1, "v2": v2, "v3": v3, "v4": v4, "v5": v5, "v6": v6, "v7": v7}


def by_hand(x: float, w: float) -> float:
    """dv7/dw by the chain rule, one line per intermediate."""
    v1 = x * w
    v2 = np.sin(v1)
    dv1 = x
    dv2 = np.cos(v1) * dv1
    dv3 = dv1 + dv2
    dv4 = 2 * v2 * dv2
    dv5 = np.exp(v1 + v2) * dv3
    dv6 = dv4 * w + v2 ** 2
    return float(dv5 + dv6)


def main(plot: bool = True, x: float = 1.0, w: float = 4.0, steps: int = 30,
         rate: float = 0.1) -> dict[str, Any]:
    values = program(x, w)
    for name, value in values.items():
        print(f"  {name} = {value:.10g}")
    slope = dn.derivative(lambda w: program(x, w)["v7"])(w)
    print(f"dv7/dw at w = {w}: forward mode {slope:.12g}, by hand {by_hand(x, w):.12g}")

    value_and_slope = dn.value_and_grad(lambda w: program(x, w)["v7"])
    history = []
    for step in range(steps):
        v7, dw = value_and_slope(w)
        history.append((w, float(v7), float(dw)))
        print(f"step {step:2d}: w = {w:.6f}  v7 = {v7:.6f}  dv7/dw = {dw:.6f}")
        w = w - rate * dw
    path = _plot(history) if plot else None
    return {"values": values, "slope": slope, "by_hand": by_hand(x, 4.0),
            "history": np.array(history), "plot": path}


def _plot(history: list[tuple[float, float, float]]) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: skipping the plot")
        return None
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / "straight_line_program.png"
    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.plot([v7 for _, v7, _ in history], marker="o")
    axis.set_xlabel("gradient-descent step")
    axis.set_ylabel("v7")
    axis.set_title("v7 = exp(xw + sin(xw)) + w sin(xw)^2 at x = 1")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    print(f"saved {path}")
    return path


if __name__ == "__main__":
    main()

"""Forward sensitivities of an ODE solution, in one batched JVP through a plain-NumPy RK4 solver.

A damped oscillator ``x'' + c x' + k x = 0`` with ``x(0) = x0`` and ``x'(0) = 0`` is integrated
by a fixed-step classical Runge-Kutta method written in ordinary NumPy. How does the trajectory
``x(t)`` move when the damping ``c``, the stiffness ``k`` or the initial displacement ``x0``
changes? ``dualnumpy.jvp(..., batched=True)`` with the 3x3 identity as the batch of directions
pushes all three perturbations through the *same* solver run and returns ``dx(t)/dc``,
``dx(t)/dk`` and ``dx(t)/dx0`` for every time step: the exact derivatives of the discrete
solution (the "discretise-then-differentiate" sensitivities), with no sensitivity equations
written by hand.

The script checks them against Richardson-extrapolated finite differences
(``dualnumpy.finite_diff.jacobian``, three more solver runs per direction and step), against
``dx/dx0 = x / x0`` (the equation is linear in the initial state), and against the derivatives
of the closed-form solution, then plots the sensitivities over time.

Run it with ``python examples/sensitivity_ode.py``; the plot goes to
``examples/output/sensitivity_ode.png``. tests/test_examples_science.py runs it and checks the
numbers.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import dualnumpy as dn
from dualnumpy import finite_diff

if str(Path(__file__).resolve().parent) not in sys.path:  # for _plotting; a script run puts it there already
    sys.path.insert(0, str(Path(__file__).resolve().parent))
import _plotting

NAMES = ("c", "k", "x0")

Array = np.ndarray[Any, Any]


def simulate(params: Any, t_end: float = 10.0, steps: int = 1000) -> Any:
    """x(t) at t = 0, dt, ..., t_end for x'' + c x' + k x = 0, x(0) = x0, x'(0) = 0, by RK4."""
    c, k, x0 = params[0], params[1], params[2]
    dt = t_end / steps

    def rhs(x: Any, v: Any) -> tuple[Any, Any]:
        return v, -c * v - k * x

    x, v = x0, 0.0 * x0
    xs = [x]
    for _ in range(steps):
        k1x, k1v = rhs(x, v)
        k2x, k2v = rhs(x + 0.5 * dt * k1x, v + 0.5 * dt * k1v)
        k3x, k3v = rhs(x + 0.5 * dt * k2x, v + 0.5 * dt * k2v)
        k4x, k4v = rhs(x + dt * k3x, v + dt * k3v)
        x = x + dt / 6.0 * (k1x + 2.0 * k2x + 2.0 * k3x + k4x)
        v = v + dt / 6.0 * (k1v + 2.0 * k2v + 2.0 * k3v + k4v)
        xs.append(x)
    return np.stack(xs)


def closed_form(params: Any, t: Array) -> Any:
    """The exact underdamped solution x0 e^{-ct/2} (cos wt + c/(2w) sin wt), w = sqrt(k - c^2/4)."""
    c, k, x0 = params[0], params[1], params[2]
    w = np.sqrt(k - c ** 2 / 4.0)
    return x0 * np.exp(-c * t / 2.0) * (np.cos(w * t) + c / (2.0 * w) * np.sin(w * t))


def main(plot: bool = True, params: tuple[float, float, float] = (0.3, 4.0, 1.0),
         t_end: float = 10.0, steps: int = 1000) -> dict[str, Any]:
    p = np.array(params, dtype=float)
    t = np.linspace(0.0, t_end, steps + 1)
    print(f"damped oscillator x'' + c x' + k x = 0, (c, k, x0) = {tuple(float(v) for v in p)}, "
          f"RK4 with {steps} steps of {t_end / steps:g}")

    start = time.perf_counter()
    x, sens = dn.jvp(lambda q: simulate(q, t_end, steps), (p,), (np.eye(3),), batched=True)
    ad_time = time.perf_counter() - start
    print(f"one batched JVP (3 directions): {ad_time:.2f} s; sensitivities of shape {sens.shape}")

    start = time.perf_counter()
    fd = finite_diff.jacobian(lambda q: simulate(q, t_end, steps), p)
    fd_time = time.perf_counter() - start
    fd_sens = fd.value.T  # (steps + 1, 3) -> (3, steps + 1), as the JVP's
    fd_diff = np.max(np.abs(sens - fd_sens), axis=1)
    fd_err = np.max(fd.error.T, axis=1)
    print(f"finite differences (Richardson): {fd_time:.2f} s")

    x0_identity = float(np.max(np.abs(sens[2] - x / p[2])))
    exact = dn.jacfwd(closed_form)(p, t).T
    exact_diff = np.max(np.abs(sens - exact), axis=1)

    print(f"{'parameter':>9}  {'max |dx/dp|':>11}  {'|AD - FD|':>9}  {'FD error est.':>13}  "
          f"{'|AD - closed form|':>18}")
    for i, name in enumerate(NAMES):
        print(f"{name:>9}  {np.max(np.abs(sens[i])):11.4f}  {fd_diff[i]:9.1e}  {fd_err[i]:13.1e}  "
              f"{exact_diff[i]:18.1e}")
    print(f"dx/dx0 = x / x0 (linearity in the initial state): max difference {x0_identity:.1e}")
    print(f"x(t_end) = {x[-1]:.8f}; d x(t_end) / d(c, k, x0) = {np.array2string(sens[:, -1], precision=6)}")

    plot_path = _plot(t, x, sens, p) if plot else None
    return {"t": t, "x": x, "sensitivities": sens, "fd": fd_sens, "fd_error": fd.error.T,
            "fd_diff": fd_diff, "closed_form_diff": exact_diff, "x0_identity": x0_identity,
            "ad_time": ad_time, "fd_time": fd_time, "plot": plot_path}


def _plot(t: Array, x: Array, sens: Array, p: Array) -> Path | None:
    plt = _plotting.pyplot()
    if plt is None:
        return None
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    top.plot(t, x, color="black")
    top.set(ylabel="x(t)", title=f"damped oscillator, c = {p[0]:g}, k = {p[1]:g}, x0 = {p[2]:g}")
    for i, name in enumerate(NAMES):
        bottom.plot(t, sens[i], label=f"dx/d{name}")
    bottom.set(xlabel="t", ylabel="sensitivity", title="forward sensitivities (one batched JVP)")
    bottom.legend()
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return _plotting.save(fig, "sensitivity_ode")


if __name__ == "__main__":
    main()

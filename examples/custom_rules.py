"""Your own derivative rules: ``dualnumpy.custom_jvp`` for code NumPy's protocols cannot see.

Three situations where tracing NumPy calls is not enough, each solved with a rule of a few lines:

1. **A numerically poor derivative.** ``log1p(exp(x))`` overflows for large ``x``: its traced
   derivative ``exp(x) / (1 + exp(x))`` is ``inf / inf = nan`` at ``x = 800``. A rule that says
   the derivative is the logistic function, written stably with ``tanh``, gives 1.0.
2. **An integral by ``scipy.integrate.quad``** (compiled QUADPACK: a Dual cannot go in).
   ``F(a) = ∫₀¹ exp(-a t²) dt`` has ``F'(a) = -∫₀¹ t² exp(-a t²) dt``, another quad; making that
   a custom function too gives second derivatives. Newton's method then solves ``F(a) = 0.6``.
3. **An external solver** (``scipy.optimize.brentq``). The root ``x(p)`` of
   ``x³ + p x - 1 = 0`` has, by the implicit function theorem, ``x'(p) = -x / (3x² + p)``; with
   that rule, ``grad`` differentiates a loss through the solver to fit ``p``.

Every rule is checked by the comparison harness (``dualnumpy.testing.check_grads``) against
finite differences, and its result against the closed form where one exists.

Run it with ``python examples/custom_rules.py`` (needs SciPy: ``pip install scipy``);
tests/test_examples_science.py runs it and checks the numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import integrate, optimize

import dualnumpy as dn
from dualnumpy import testing

# ---------------------------------------------------------------- 1. a better-conditioned derivative


def softplus_naive(x: Any) -> Any:
    return np.log1p(np.exp(x))


@dn.custom_jvp
def softplus(x: Any) -> Any:
    return np.logaddexp(0.0, x)


@softplus.defjvp
def _softplus_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    (x,), (x_dot,) = primals, tangents
    logistic = 0.5 * (1.0 + np.tanh(0.5 * x))  # 1 / (1 + exp(-x)), without overflow
    return softplus(x), logistic * x_dot


# ---------------------------------------------------------------- 2. an integral by quad


def _quad(integrand: Any, a: float) -> float:
    value, _ = integrate.quad(integrand, 0.0, 1.0, args=(a,), epsabs=1e-13, epsrel=1e-13)
    return float(value)


@dn.custom_jvp
def gauss_integral(a: Any) -> Any:
    """F(a) = ∫₀¹ exp(-a t²) dt for a scalar a."""
    return _quad(lambda t, a: math.exp(-a * t * t), float(a))


@dn.custom_jvp
def gauss_integral_slope(a: Any) -> Any:
    """F'(a) = -∫₀¹ t² exp(-a t²) dt."""
    return -_quad(lambda t, a: t * t * math.exp(-a * t * t), float(a))


@dn.custom_jvp
def gauss_integral_curvature(a: Any) -> Any:
    """F''(a) = ∫₀¹ t⁴ exp(-a t²) dt (the last order this example differentiates)."""
    return _quad(lambda t, a: t ** 4 * math.exp(-a * t * t), float(a))


gauss_integral.defjvp(lambda p, t: (gauss_integral(p[0]), gauss_integral_slope(p[0]) * t[0]))
gauss_integral_slope.defjvp(lambda p, t: (gauss_integral_slope(p[0]), gauss_integral_curvature(p[0]) * t[0]))


def gauss_integral_closed_form(a: float) -> float:
    """F(a) = sqrt(pi / a) erf(sqrt(a)) / 2, for a > 0."""
    return math.sqrt(math.pi / a) * math.erf(math.sqrt(a)) / 2.0


def solve_for_a(target: float, a0: float = 0.5, tol: float = 1e-13) -> tuple[float, list[float]]:
    """Newton's method on F(a) = target with F' from the custom rule."""
    slope = dn.derivative(gauss_integral)
    a, steps = a0, []
    for _ in range(20):
        step = (gauss_integral(a) - target) / float(slope(a))
        a -= step
        steps.append(abs(step))
        if abs(step) < tol:
            break
    return a, steps


# ---------------------------------------------------------------- 3. an external solver


@dn.custom_jvp
def cubic_root(p: Any) -> Any:
    """The real root of x³ + p x - 1 = 0 (p > 0), by bracketing."""
    p = float(p)
    return optimize.brentq(lambda x: x ** 3 + p * x - 1.0, 0.0, 1.0, xtol=1e-15)


@cubic_root.defjvp
def _cubic_root_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    (p,), (p_dot,) = primals, tangents
    x = cubic_root(p)
    return x, -x / (3.0 * x * x + p) * p_dot  # implicit function theorem


def fit_p(x_target: float, p0: float = 2.0, rate: float = 10.0, steps: int = 100) -> tuple[float, list[float]]:
    """Gradient descent on (x(p) - x_target)² with the gradient through the solver."""
    def loss(p: Any) -> Any:
        return (cubic_root(p) - x_target) ** 2

    value_and_grad = dn.value_and_grad(loss)
    p, losses = p0, []
    for _ in range(steps):
        value, g = value_and_grad(p)
        losses.append(float(value))
        p -= rate * float(g)
    return p, losses


# ---------------------------------------------------------------- the script


def main() -> dict[str, Any]:
    x = 800.0
    with np.errstate(over="ignore", invalid="ignore"):
        naive = float(dn.grad(softplus_naive)(x))
    stable = float(dn.grad(softplus)(x))
    print(f"1. d/dx log1p(exp(x)) at x = {x:g}: traced {naive}, custom rule {stable}")
    curvature = float(dn.derivative(dn.derivative(softplus))(0.0))
    print(f"   second derivative at 0 (through the rule): {curvature} (exact 0.25)")
    testing.check_grads(softplus, (np.array([-3.0, 0.5, 4.0]),), order=2, modes=("fwd", "fd"))

    a = 1.7
    slope, second = float(dn.derivative(gauss_integral)(a)), float(dn.hessian(gauss_integral)(a))
    closed = dn.derivative(lambda s: np.sqrt(np.pi / s) * _erf(np.sqrt(s)) / 2.0)
    print(f"2. F(a) = ∫ exp(-a t²) dt at a = {a}: F = {gauss_integral(a):.15f}, F' = {slope:.15f}, "
          f"F'' = {second:.15f}")
    testing.check_grads(gauss_integral, (a,), order=2, modes=("fwd", "fd"))
    root, newton_steps = solve_for_a(0.6)
    print(f"   Newton: F(a) = 0.6 at a = {root:.15f} in {len(newton_steps)} steps "
          f"(closed form F(a) = {gauss_integral_closed_form(root):.15f})")

    p_star, losses = fit_p(x_target=0.5)
    print(f"3. the root of x³ + p x - 1 equals 0.5 at p = {p_star:.12f} (exact 1.75); "
          f"loss {losses[0]:.3e} -> {losses[-1]:.3e}")
    testing.check_grads(cubic_root, (1.3,), order=1, modes=("fwd", "fd"))
    return {
        "softplus_naive": naive, "softplus_stable": stable, "softplus_curvature": curvature,
        "a": a, "slope": slope, "second": second, "slope_closed_form": float(closed(a)),
        "root": root, "newton_steps": newton_steps, "p_star": p_star, "losses": losses,
    }


def _erf(x: Any) -> Any:
    """erf on Duals for the closed form's check: its derivative is 2/sqrt(pi) exp(-x²)."""
    return _erf_rule(x)


@dn.custom_jvp
def _erf_rule(x: Any) -> Any:
    return math.erf(float(x))


_erf_rule.defjvp(lambda p, t: (_erf_rule(p[0]), 2.0 / math.sqrt(math.pi) * np.exp(-p[0] * p[0]) * t[0]))


if __name__ == "__main__":
    main()

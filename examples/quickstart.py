"""Quickstart: derivatives of plain NumPy code with dualnumpy.

Run it with ``python examples/quickstart.py``; tests/test_docs.py runs it
too and checks the numbers it prints.
"""

import numpy as np

import dualnumpy as dn


def f(x):
    """Ordinary NumPy code, written with no thought of derivatives."""
    return np.sum(np.sin(x) * np.exp(-x ** 2) + np.log1p(x ** 2) * np.tanh(x))


def main() -> dict[str, object]:
    x = np.array([0.5, 1.0, 2.0])

    # A Dual carries a value and a tangent through NumPy.
    d = dn.Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    y = np.sin(d) * d ** 2 + 3.0
    print("Dual through NumPy:      ", y)

    value, slope = dn.jvp(f, (x,), (np.ones_like(x),))
    print("f(x) and its JVP along 1:", value, slope)

    gradient = dn.grad(f)(x)
    print("grad f(x):               ", gradient)

    jacobian = dn.jacfwd(lambda x: np.sin(x) * x[0])(x)
    print("Jacobian of sin(x)*x[0]:\n", jacobian)

    hess = dn.hessian(f)(x)
    print("Hessian of f:\n", hess)

    third = dn.derivative(dn.derivative(dn.derivative(np.sin)))(0.0)
    print("d3/dx3 sin(x) at 0:      ", third)
    return {"value": value, "slope": slope, "gradient": gradient, "hessian": hess, "third": third}


if __name__ == "__main__":
    main()

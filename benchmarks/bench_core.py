"""Core speed benchmarks (issue 2): medians and ratios from one run.

W1  one JVP of an elementwise chain of ~10 ufuncs on 10**6 float64, as a ratio
    to the plain-NumPy primal. Target <= 1.9.
W3  the gradient of a ~36-operation scalar function of 3 Python floats, in us
    per gradient and as a ratio to a minimal pure-Python dual class (three
    forward passes). Targets <= 40 us and <= 1.3x.

Peers (JAX, PyTorch, autograd) are timed when installed and skipped otherwise.

    python benchmarks/bench_core.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import dualnumpy as dn


def median_seconds(fn: Callable[[], Any], repeat: int, number: int = 1) -> float:
    fn()  # warm up (and compile, for jitted peers)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)


# ---------------------------------------------------------------- W1


def w1_function(x: Any, np_: Any = np) -> Any:
    return np_.sum(np_.sin(x) * np_.exp(-x ** 2) + np_.log1p(x ** 2) * np_.tanh(x))


def bench_w1(repeat: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    x = rng.uniform(-2.0, 2.0, 10**6)
    v = rng.standard_normal(10**6)
    results = {"primal_ms": median_seconds(lambda: w1_function(x), repeat) * 1e3}
    results["dualnumpy_ms"] = median_seconds(lambda: dn.jvp(w1_function, (x,), (v,)), repeat) * 1e3
    try:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        jitted = jax.jit(lambda x, v: jax.jvp(lambda x: w1_function(x, jnp), (x,), (v,)))
        primal = jax.jit(lambda x: w1_function(x, jnp))
        xj, vj = jnp.asarray(x), jnp.asarray(v)
        results["jax_primal_ms"] = median_seconds(lambda: primal(xj).block_until_ready(), repeat) * 1e3
        results["jax_jvp_ms"] = median_seconds(
            lambda: jitted(xj, vj)[1].block_until_ready(), repeat) * 1e3
    except ImportError:
        pass
    try:
        import torch

        xt, vt = torch.from_numpy(x), torch.from_numpy(v)
        results["torch_primal_ms"] = median_seconds(lambda: w1_function(xt, torch), repeat) * 1e3
        results["torch_jvp_ms"] = median_seconds(
            lambda: torch.func.jvp(lambda x: w1_function(x, torch), (xt,), (vt,)), repeat) * 1e3
    except ImportError:
        pass
    return results


# ---------------------------------------------------------------- W3


def w3_function(a: Any, b: Any, c: Any, sin: Any, exp: Any, log: Any, sqrt: Any, tanh: Any) -> Any:
    t = log((sin(a * b) + exp(c - a / b)) ** 2) * c
    u = sqrt(a * a + b * b + 1.0)
    v = tanh(t / u - c) ** 3
    w = (a - b) ** 2 / (1.0 + c * c)
    z = exp(-w) * sin(u) + v * t
    return z / (1.0 + u) + log(1.0 + w) - sqrt(c)


W3_OPERATIONS = 36


class MinimalDual:
    """The smallest pure-Python dual number that runs w3_function: the yardstick."""

    __slots__ = ("d", "v")

    def __init__(self, v: float, d: float) -> None:
        self.v = v
        self.d = d

    def __add__(self, o: Any) -> MinimalDual:
        if isinstance(o, MinimalDual):
            return MinimalDual(self.v + o.v, self.d + o.d)
        return MinimalDual(self.v + o, self.d)

    __radd__ = __add__

    def __sub__(self, o: Any) -> MinimalDual:
        if isinstance(o, MinimalDual):
            return MinimalDual(self.v - o.v, self.d - o.d)
        return MinimalDual(self.v - o, self.d)

    def __neg__(self) -> MinimalDual:
        return MinimalDual(-self.v, -self.d)

    def __mul__(self, o: Any) -> MinimalDual:
        if isinstance(o, MinimalDual):
            return MinimalDual(self.v * o.v, self.v * o.d + self.d * o.v)
        return MinimalDual(self.v * o, self.d * o)

    __rmul__ = __mul__

    def __truediv__(self, o: Any) -> MinimalDual:
        if isinstance(o, MinimalDual):
            q = self.v / o.v
            return MinimalDual(q, (self.d - q * o.d) / o.v)
        return MinimalDual(self.v / o, self.d / o)

    def __rtruediv__(self, o: Any) -> MinimalDual:
        q = o / self.v
        return MinimalDual(q, -q * self.d / self.v)

    def __pow__(self, p: float) -> MinimalDual:
        return MinimalDual(self.v ** p, p * self.v ** (p - 1) * self.d)


def _sin(x: MinimalDual) -> MinimalDual:
    return MinimalDual(math.sin(x.v), math.cos(x.v) * x.d)


def _exp(x: MinimalDual) -> MinimalDual:
    e = math.exp(x.v)
    return MinimalDual(e, e * x.d)


def _log(x: MinimalDual) -> MinimalDual:
    return MinimalDual(math.log(x.v), x.d / x.v)


def _sqrt(x: MinimalDual) -> MinimalDual:
    r = math.sqrt(x.v)
    return MinimalDual(r, 0.5 * x.d / r)


def _tanh(x: MinimalDual) -> MinimalDual:
    h = math.tanh(x.v)
    return MinimalDual(h, (1.0 - h * h) * x.d)


def minimal_gradient(a: float, b: float, c: float) -> list[float]:
    out = []
    for i in range(3):
        seeds = [MinimalDual(v, 1.0 if j == i else 0.0) for j, v in enumerate((a, b, c))]
        out.append(w3_function(*seeds, _sin, _exp, _log, _sqrt, _tanh).d)
    return out


def numpy_w3(a: Any, b: Any, c: Any) -> Any:
    return w3_function(a, b, c, np.sin, np.exp, np.log, np.sqrt, np.tanh)


def bench_w3(repeat: int, number: int) -> dict[str, float]:
    point = (1.3, 0.7, 2.1)
    grad = dn.grad(numpy_w3, argnums=(0, 1, 2))
    ours = np.array(grad(*point), dtype=float)
    reference = np.array(minimal_gradient(*point))
    assert np.allclose(ours, reference, rtol=1e-12), (ours, reference)
    results = {
        "plain_float_us": median_seconds(
            lambda: w3_function(*point, math.sin, math.exp, math.log, math.sqrt, math.tanh),
            repeat, number) * 1e6,
        "minimal_dual_us": median_seconds(lambda: minimal_gradient(*point), repeat, number) * 1e6,
        "dualnumpy_us": median_seconds(lambda: grad(*point), repeat, number) * 1e6,
    }
    try:
        import autograd
        import autograd.numpy as anp

        agrad = autograd.grad(lambda a, b, c: w3_function(a, b, c, anp.sin, anp.exp, anp.log,
                                                           anp.sqrt, anp.tanh), argnum=(0, 1, 2))
        results["autograd_us"] = median_seconds(lambda: agrad(*point), repeat, number) * 1e6
    except ImportError:
        pass
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    options = parser.parse_args()
    repeat = 3 if options.quick else 15
    number = 20 if options.quick else 200

    w1 = bench_w1(repeat)
    print("W1  JVP of an elementwise chain on 10**6 float64 (median ms)")
    for key, value in w1.items():
        print(f"    {key:<18} {value:9.2f}")
    print(f"    dualnumpy / primal  {w1['dualnumpy_ms'] / w1['primal_ms']:6.2f}   (target <= 1.9)")
    if "jax_jvp_ms" in w1:
        print(f"    jax jit / primal    {w1['jax_jvp_ms'] / w1['primal_ms']:6.2f}")
    if "torch_jvp_ms" in w1:
        print(f"    torch / primal      {w1['torch_jvp_ms'] / w1['primal_ms']:6.2f}")

    w3 = bench_w3(repeat, number)
    print(f"W3  gradient of a {W3_OPERATIONS}-operation function of 3 floats (median us)")
    for key, value in w3.items():
        print(f"    {key:<18} {value:9.2f}")
    print(f"    dualnumpy / minimal {w3['dualnumpy_us'] / w3['minimal_dual_us']:6.2f}   "
          f"(targets <= 40 us and <= 1.3)")


if __name__ == "__main__":
    main()

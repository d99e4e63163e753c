"""linearize and hvp benchmarks (issue 10, part 4): medians from one run.

L1  W1 (bench_core's elementwise chain of ~10 ufuncs, summed) on 10**6 float64: the
    primal, one f_jvp call of its linearization, jvp for comparison, and the bytes
    the linearization holds. Target: f_jvp <= 0.2x the primal.
L2  the same chain without the sum (the output is 10**6 tangents).
L3  the 1-D Bratu residual with np.pad on 10**6 unknowns, likewise.
H1  hvp of Rosenbrock against dn.grad at n = 10**5 (and a smaller n, repeated).
    Target: hvp < 5x the gradient's time. Rosenbrock is a sum of terms, so hvp takes the
    separable path (one pass over its terms' colors); hvp_chunk is the chunk the general
    forward-over-forward method would use.

    PYTHONPATH=src python benchmarks/bench_linearize.py [--quick] [--hvp-n N] [--hvp-repeat R]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from bench_core import median_seconds  # benchmarks/ is on the path of a script run
from bench_core import w1_function as w1

import dualnumpy as dn
from dualnumpy.transforms.hvp import default_chunk_size, hvp
from dualnumpy.transforms.linearize import linearize


def w1_elementwise(x: Any) -> Any:
    return np.sin(x) * np.exp(-x ** 2) + np.log1p(x ** 2) * np.tanh(x)


def bratu(x: Any) -> Any:
    h = 1.0 / (x.shape[0] + 1)
    padded = np.pad(x, 1)
    return padded[:-2] - 2.0 * padded[1:-1] + padded[2:] + h * h * np.exp(x)


def rosenbrock(x: Any) -> Any:
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def bench_linearize(name: str, f: Callable[[Any], Any], n: int, repeat: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, n)
    t = rng.standard_normal(n)
    _, f_jvp = linearize(f, x)
    row: dict[str, Any] = {"workload": name, "n": n, "strategy": f_jvp.strategy,
                           "operations": len(f_jvp._program.order) if f_jvp._program else None}
    row["primal_ms"] = median_seconds(lambda: f(x), repeat) * 1e3
    row["f_jvp_ms"] = median_seconds(lambda: f_jvp(t), repeat) * 1e3
    row["jvp_ms"] = median_seconds(lambda: dn.jvp(f, (x,), (t,)), repeat) * 1e3
    row["linearize_ms"] = median_seconds(lambda: linearize(f, x), max(3, repeat // 2)) * 1e3
    row["nbytes_MB"] = f_jvp.nbytes / 1e6
    row["f_jvp/primal"] = row["f_jvp_ms"] / row["primal_ms"]
    return row


def bench_hvp(n: int, repeat: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, n)
    v = rng.standard_normal(n)
    grad = dn.grad(rosenbrock)  # both with their default chunks, from the same memory budget
    row: dict[str, Any] = {"workload": "Rosenbrock hvp vs grad", "n": n,
                           "hvp_chunk": default_chunk_size(n)}
    row["grad_s"] = median_seconds(lambda: grad(x), repeat) if repeat else _once(lambda: grad(x))
    row["hvp_s"] = median_seconds(lambda: hvp(rosenbrock, x, v), repeat) if repeat else _once(
        lambda: hvp(rosenbrock, x, v))
    row["hvp/grad"] = row["hvp_s"] / row["grad_s"]
    return row


def _once(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _print(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        print("  ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--hvp-n", type=int, default=10**5, help="n of the large hvp run (0: skip)")
    parser.add_argument("--hvp-repeat", type=int, default=0,
                        help="repeats of the large hvp run (0: one timed run, no warm-up)")
    args = parser.parse_args()
    n = 10**5 if args.quick else 10**6
    repeat = 5 if args.quick else 9
    rows = [bench_linearize("L1 W1 (summed)", w1, n, repeat),
            bench_linearize("L2 W1 elementwise", w1_elementwise, n, repeat),
            bench_linearize("L3 Bratu (np.pad)", bratu, n, repeat)]
    _print(rows)
    hvp_rows = [bench_hvp(2000 if args.quick else 10**4, 3)]
    _print(hvp_rows)
    if args.hvp_n and not args.quick:
        large = bench_hvp(args.hvp_n, args.hvp_repeat)
        _print([large])


if __name__ == "__main__":
    main()

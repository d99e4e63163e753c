"""Peak memory of dense forward-mode derivatives (issue 10, part 1): medians from one run.

For each case the peak of NumPy's allocations during one call (tracemalloc; NumPy reports
its buffers to it) is printed in MB and as a ratio to the size of the result, next to the
median time of a call (measured with tracemalloc off). "default" is the chunk size chosen
from the budget (dualnumpy.transforms.api.DEFAULT_CHUNK_BUDGET); "one pass" seeds every
direction at once (chunk_size=n), which is what jacfwd did by default before.

    jacfwd  f(x) = sin(x) * x at n = 2000     target: peak <= 1.2x the Jacobian
    grad    sum(sin(x) * x) at n = 2000       (the result is small: the peak is the budget)
    hessian Rosenbrock at n = 200

    python benchmarks/bench_memory.py [--quick]
"""

from __future__ import annotations

import argparse
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
from bench_core import median_seconds  # benchmarks/ is on the path of a script run

import dualnumpy as dn
from dualnumpy.transforms import api


def peak_bytes(fn: Callable[[], Any]) -> tuple[int, int]:
    """Peak traced bytes during one call, and the bytes of its result."""
    fn()  # warm up outside the measurement
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        out = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, int(np.asarray(out).nbytes)


def diagonal(x: Any) -> Any:
    return np.sin(x) * x


def diagonal_sum(x: Any) -> Any:
    return np.sum(np.sin(x) * x)


def rosenbrock(x: Any) -> Any:
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller Hessian")
    args = parser.parse_args()
    repeat = 3 if args.quick else 9
    n_hess = 100 if args.quick else 200
    cases = [
        ("jacfwd sin(x)*x", 2000, dn.jacfwd, diagonal),
        ("grad sum(sin(x)*x)", 2000, dn.grad, diagonal_sum),
        ("hessian Rosenbrock", n_hess, dn.hessian, rosenbrock),
    ]
    budget = getattr(api, "chunk_budget", None)  # None: a checkout from before the budget
    chunking = f"budget {budget() / 2**20:.2f} MiB per pass" if budget else "no budget (one pass)"
    print(f"{chunking}, median of {repeat} calls\n")
    print(f"{'case':22} {'n':>5} {'chunking':>9} {'result MB':>10} {'peak MB':>9} {'peak/result':>12} {'ms':>9}")
    for name, n, transform, f in cases:
        x = np.linspace(-0.9, 0.9, n)
        for label, chunk in (("default", None), ("one pass", n)):
            fn = transform(f, chunk_size=chunk)
            peak, nbytes = peak_bytes(lambda fn=fn: fn(x))
            seconds = median_seconds(lambda fn=fn: fn(x), repeat)
            print(f"{name:22} {n:5d} {label:>9} {nbytes / 1e6:10.3f} {peak / 1e6:9.2f} "
                  f"{peak / nbytes:11.2f}x {seconds * 1e3:9.2f}")


if __name__ == "__main__":
    main()

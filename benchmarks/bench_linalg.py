"""Linear-algebra speed benchmarks (issue 3): medians and ratios from one run.

L1  one JVP of ``logsumexp(A @ x) + norm(x)`` (logsumexp with a max shift, in plain
    NumPy) with A 200x200, along a direction in both A and x, as a ratio to the
    primal alone. Target <= 3.
L2  one JVP of ``slogdet`` of a 200x200 matrix, as a ratio to the primal alone.
    Target <= 3.

Timings of the two kinds are interleaved (primal, JVP, primal, ...) so that drifts of
the machine hit both alike; the medians are reported.

    python benchmarks/bench_linalg.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import dualnumpy as dn


def interleaved_medians(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Median seconds per call of each function, timed in turns."""
    for fn in fns.values():
        fn()  # warm up
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in samples.items()}


def logsumexp(z: Any) -> Any:
    top = np.max(z)
    return top + np.log(np.sum(np.exp(z - top)))


def l1_function(a: Any, x: Any) -> Any:
    return logsumexp(a @ x) + np.linalg.norm(x)


def bench_l1(repeat: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    a, x = rng.standard_normal((200, 200)), rng.standard_normal(200)
    da, dx = rng.standard_normal((200, 200)), rng.standard_normal(200)
    times = interleaved_medians({
        "primal": lambda: l1_function(a, x),
        "jvp": lambda: dn.jvp(l1_function, (a, x), (da, dx)),
        "jvp_x": lambda: dn.jvp(lambda x: l1_function(a, x), (x,), (dx,)),
    }, repeat)
    return {"primal_us": times["primal"] * 1e6, "jvp_us": times["jvp"] * 1e6,
            "jvp_x_only_us": times["jvp_x"] * 1e6,
            "ratio": times["jvp"] / times["primal"], "ratio_x_only": times["jvp_x"] / times["primal"]}


def bench_l2(repeat: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    a, da = rng.standard_normal((200, 200)), rng.standard_normal((200, 200))
    times = interleaved_medians({
        "primal": lambda: np.linalg.slogdet(a),
        "jvp": lambda: dn.jvp(np.linalg.slogdet, (a,), (da,)),
    }, repeat)
    return {"primal_us": times["primal"] * 1e6, "jvp_us": times["jvp"] * 1e6,
            "ratio": times["jvp"] / times["primal"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    repeat = 20 if parser.parse_args().quick else 300
    l1 = bench_l1(repeat)
    print(f"L1 JVP of logsumexp(A @ x) + norm(x), A 200x200: primal {l1['primal_us']:.1f} us, "
          f"JVP {l1['jvp_us']:.1f} us -> ratio {l1['ratio']:.2f} (target <= 3); "
          f"direction in x only: {l1['jvp_x_only_us']:.1f} us -> ratio {l1['ratio_x_only']:.2f}")
    l2 = bench_l2(repeat)
    print(f"L2 JVP of slogdet, 200x200: primal {l2['primal_us']:.1f} us, JVP {l2['jvp_us']:.1f} us "
          f"-> ratio {l2['ratio']:.2f} (target <= 3)")


if __name__ == "__main__":
    main()

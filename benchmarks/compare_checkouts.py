"""One run, two source trees: W1, W3 and per-call overheads of this checkout against another.

A refactor compares itself against a checkout of the previous main in the same run. Each
round runs every measurement in a fresh interpreter for tree A, then for tree B, so drift in
the machine's load hits both alike; the table shows the median over rounds and the ratio B/A.

    git worktree add /tmp/before <previous-main>
    python benchmarks/compare_checkouts.py /tmp/before/src src [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

# Each snippet prints one number: seconds per call (median of repeats inside the process).
_SETUP = r"""
import json, statistics, time, sys
import numpy as np
import dualnumpy as dn
from dualnumpy import Dual

def median(fn, repeat, number):
    fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        out.append((time.perf_counter() - t0) / number)
    return statistics.median(out)

rng = np.random.default_rng(0)
d = Dual(rng.uniform(0.5, 1.5, 10), rng.standard_normal(10))
e = Dual(rng.uniform(0.5, 1.5, 10), rng.standard_normal(10))
m = Dual(rng.uniform(-1, 1, (3, 3)) + 3 * np.eye(3), rng.standard_normal((3, 3)))
mask = rng.uniform(size=10) > 0.5
"""

CASES = {
    "np.sin(d), 10 elements": "median(lambda: np.sin(d), 15, 2000)",
    "d * e, 10 elements": "median(lambda: d * e, 15, 2000)",
    "np.sum(d) (Linear)": "median(lambda: np.sum(d), 15, 2000)",
    "np.dot(d, e) (Bilinear)": "median(lambda: np.dot(d, e), 15, 2000)",
    "np.where(mask, d, e) (Custom)": "median(lambda: np.where(mask, d, e), 15, 2000)",
    "np.max(d) (Custom)": "median(lambda: np.max(d), 15, 2000)",
    "np.linalg.det(m), 3x3 (Custom)": "median(lambda: np.linalg.det(m), 15, 1000)",
    "np.linalg.norm(d) (Custom)": "median(lambda: np.linalg.norm(d), 15, 1000)",
    "W3: grad of 36 scalar ops": (
        "import importlib.util as u;spec=u.spec_from_file_location('b',BENCH);b=u.module_from_spec(spec);spec.loader.exec_module(b);"
        "g=dn.grad(b.numpy_w3, argnums=(0,1,2));median(lambda: g(1.3, 0.7, 2.1), 15, 200)"),
    "W1: JVP / primal, 10^6 floats": (
        "import importlib.util as u;spec=u.spec_from_file_location('b',BENCH);b=u.module_from_spec(spec);spec.loader.exec_module(b);"
        "x=rng.uniform(-2,2,10**6);v=rng.standard_normal(10**6);"
        "median(lambda: dn.jvp(b.w1_function,(x,),(v,)), 9, 1)/median(lambda: b.w1_function(x), 9, 1)"),
    # issue 10: dense Jacobians and Hessians (chunking, batched layout)
    "Bratu jacfwd, n=1000 (dense)": (
        "n=1000;h=1.0/(n+1);x=np.linspace(0.1,0.9,n);"
        "F=lambda x: (lambda xp: xp[:-2]-2*x+xp[2:]+h*h*np.exp(x))(np.pad(x,1));"
        "J=dn.jacfwd(F);median(lambda: J(x), 15, 1)"),
    "Rosenbrock hessian, n=100 (dense)": (
        "x=np.linspace(-1,1,100);"
        "H=dn.hessian(lambda x: np.sum(100*(x[1:]-x[:-1]**2)**2+(1-x[:-1])**2));median(lambda: H(x), 15, 1)"),
    "sin(x)*x jacfwd, n=2000 (dense)": (
        "x=np.linspace(0,1,2000);J=dn.jacfwd(lambda x: np.sin(x)*x);median(lambda: J(x), 7, 1)"),
}


def measure(src: str, snippet: str, bench: str) -> float:
    """Run ``snippet`` (statements separated by ';', the last an expression) against ``src``."""
    *statements, last = snippet.split(";")
    code = _SETUP + f"BENCH = {bench!r}\n" + "\n".join(statements) + f"\nprint(json.dumps({last}))"
    env = {**os.environ, "PYTHONPATH": src}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise SystemExit(f"{src}: {snippet}\n{done.stderr}")
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", help="src/ of the other checkout (A)")
    parser.add_argument("after", help="src/ of this checkout (B)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="", help="run only the cases whose name contains this")
    args = parser.parse_args()
    bench = str(Path(__file__).with_name("bench_core.py"))
    results: dict[str, dict[str, list[float]]] = {}
    cases = {k: v for k, v in CASES.items() if args.only in k}
    for _ in range(args.rounds):
        for name, expression in cases.items():
            for side, src in (("A", args.before), ("B", args.after)):
                results.setdefault(name, {"A": [], "B": []})[side].append(measure(src, expression, bench))
    print(f"A = {args.before}\nB = {args.after}\nmedian over {args.rounds} rounds\n")
    print(f"{'case':38} {'A':>12} {'B':>12} {'B/A':>7}")
    for name, sides in results.items():
        a, b = statistics.median(sides["A"]), statistics.median(sides["B"])
        unit = (lambda s: f"{s:.3f}") if name.startswith("W1") else (lambda s: f"{s * 1e6:.2f} us")
        print(f"{name:38} {unit(a):>12} {unit(b):>12} {b / a:7.3f}")


if __name__ == "__main__":
    main()

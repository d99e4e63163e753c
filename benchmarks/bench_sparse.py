"""Sparse Jacobians and Hessians (issue 10, part 3): detection, coloring, compressed evaluation.

Medians of repeats, in milliseconds, from one run:

- detect      jacobian_sparsity / hessian_sparsity
- color       color_columns / color_symmetric on the detected pattern
- first       a new sparse_jacfwd / sparse_hessian and its first call: detection, coloring,
              the precomputed decompression and one evaluation (end to end)
- reused      a later call at another point: one batched JVP (one direction a color) and
              a gather into a prebuilt CSR matrix (Newton iterations)
- jvp         the batched JVP alone (of the forward gradient for a Hessian), part of reused
- decompress  the gather alone, part of reused
- dense       jacfwd / hessian, for comparison (skipped where it would not fit in memory)
- primal      one plain NumPy evaluation of the function; ratio = reused / primal

A second table times detection alone on products and linear maps with local structure
(read from their terms and bands, never from a basis): matmul, einsum, np.gradient,
np.convolve, a banded constant matrix, and a quadratic form's Hessian.

Targets (issue 10): Bratu n = 1000 reused <= 0.3 ms, n = 10**6 end to end < 1 s; Rosenbrock
n = 100 sparse Hessian reused <= 0.3 ms with 3 colors; a 300 x 300 5-point stencil < 0.5 s
including detection; the 2-D Brusselator N = 32 detection <= 10 ms, 8 colors, compressed
Jacobian <= 0.3 ms.

    PYTHONPATH=src python benchmarks/bench_sparse.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from bench_core import median_seconds  # benchmarks/ is on the path of a script run

import dualnumpy as dn
from dualnumpy.sparsity import (
    SparseHessian,
    color_columns,
    color_symmetric,
    hessian_sparsity,
    jacobian_sparsity,
    sparse_hessian,
    sparse_jacfwd,
)


def median_ms(fn: Callable[[], Any], repeat: int, number: int = 1) -> float:
    return median_seconds(fn, repeat, number) * 1e3


# ---------------------------------------------------------------- the workloads


def bratu(x: Any) -> Any:
    h = 1.0 / (x.size + 1)
    xp = np.pad(x, 1)
    return xp[:-2] - 2 * x + xp[2:] + h * h * np.exp(x)


def rosenbrock(x: Any) -> Any:
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def stencil_2d(u: Any) -> Any:
    """A nonlinear Poisson residual, 5-point stencil, zero boundary by np.pad."""
    h2 = 1.0 / (u.shape[0] + 1) ** 2
    up = np.pad(u, 1)
    return up[:-2, 1:-1] + up[2:, 1:-1] + up[1:-1, :-2] + up[1:-1, 2:] - 4 * u + h2 * np.exp(u)


def brusselator(x: Any) -> Any:
    """The 2-D Brusselator right-hand side on a periodic N x N grid, layout (N, N, 2)."""
    n = x.shape[0]
    alpha = 10.0 * (n - 1) ** 2 / 1024.0

    def laplacian(a: Any) -> Any:
        return np.roll(a, 1, 0) + np.roll(a, -1, 0) + np.roll(a, 1, 1) + np.roll(a, -1, 1) - 4 * a

    u, v = x[..., 0], x[..., 1]
    du = 1.0 + u * u * v - 4.4 * u + alpha * laplacian(u)
    dv = 3.4 * u - u * u * v + alpha * laplacian(v)
    return np.stack([du, dv], axis=-1)


class Row(dict[str, Any]):
    pass


def measure(name: str, f: Callable[[Any], Any], x: Any, y: Any, *, hessian: bool, repeat: int,
            dense: bool, first_repeat: int) -> Row:
    """One workload: x for the first call, y for the reused ones."""
    detect_fn = hessian_sparsity if hessian else jacobian_sparsity
    color_fn = color_symmetric if hessian else color_columns
    make = sparse_hessian if hessian else sparse_jacfwd
    row = Row(name=name, n=x.size)
    row["detect"] = median_ms(lambda: detect_fn(f, x), max(first_repeat, 3))
    pattern = detect_fn(f, x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        row["color"] = median_ms(lambda: color_fn(pattern), max(first_repeat, 3))
    row["first"] = median_ms(lambda: make(f)(x), first_repeat)
    compressed = make(f)
    compressed(x)
    row["reused"] = median_ms(lambda: compressed(y), repeat)
    coloring = compressed.coloring
    assert coloring is not None
    row["colors"] = f"{coloring.count} ({coloring.lower_bound})"
    seeds = compressed._seeds
    by_terms = compressed._by_terms if isinstance(compressed, SparseHessian) else None
    if by_terms is not None:  # a separable objective: one pass over the terms' colors
        assert isinstance(compressed, SparseHessian) and compressed.separable is not None
        row["colors"] += f"; terms {compressed.separable.count}"
        row["jvp"] = median_ms(lambda: by_terms.data(f, y), repeat)
    else:
        inner = compressed._gradient if isinstance(compressed, SparseHessian) else f
        assert inner is not None
        row["jvp"] = median_ms(lambda: dn.jvp(inner, (y,), (seeds,), batched=True), repeat)
    decompression = compressed._decompression
    assert decompression is not None
    tangent = np.ones((coloring.count, decompression.shape[0]))
    row["decompress"] = median_ms(lambda: decompression(tangent), repeat)
    if dense:
        full = dn.hessian(f) if hessian else dn.jacfwd(f)
        row["dense"] = median_ms(lambda: full(y), max(repeat // 20, 3))
        expected = np.reshape(full(y), (-1, y.size))
        got = compressed(y).toarray()
        assert np.allclose(got, expected, rtol=1e-12, atol=1e-12), f"{name}: wrong Jacobian"
    row["primal"] = median_ms(lambda: f(y), repeat)
    row["ratio"] = row["reused"] / row["primal"]
    return row


def run_once(quick: bool) -> list[Row]:
    repeat, first = (30, 1) if quick else (300, 5)
    rng = np.random.default_rng(0)
    rows = [
        measure("Bratu J", bratu, rng.random(1000), rng.random(1000), hessian=False, repeat=repeat,
                dense=True, first_repeat=first),
        measure("Rosenbrock H", rosenbrock, rng.random(100), rng.random(100), hessian=True,
                repeat=repeat, dense=True, first_repeat=first),
        measure("Brusselator J (N=32)", brusselator, rng.random((32, 32, 2)), rng.random((32, 32, 2)),
                hessian=False, repeat=repeat, dense=True, first_repeat=first),
        measure("5-point stencil J (300x300)", stencil_2d, rng.random((300, 300)),
                rng.random((300, 300)), hessian=False, repeat=max(repeat // 10, 3), dense=False,
                first_repeat=max(first // 2, 1)),
    ]
    if not quick:
        big = rng.random(10**6)
        rows.append(measure("Bratu J (n=10^6)", bratu, big, rng.random(10**6), hessian=False,
                            repeat=5, dense=False, first_repeat=3))
    return rows


def detection_rows(quick: bool) -> list[Row]:
    """Detection alone, on products and linear maps (n = 10**5 quick, else 10**6)."""
    n = 10**5 if quick else 10**6
    x = np.linspace(0.0, 1.0, n)
    side = round(np.sqrt(n)) if not quick else 100
    cols = n // side
    m = 2000
    band = np.diag(np.full(m, 2.0)) + np.diag(np.ones(m - 1), 1) + np.diag(np.ones(m - 1), -1)
    small = np.array([[1.0, 2.0, 0.0, 0.0], [0.0, 1.0, 3.0, 0.0], [0.0, 0.0, 1.0, 4.0], [5.0, 0.0, 0.0, 1.0]])
    workloads: list[tuple[str, Callable[[Any], Any], Any, bool]] = [
        (f"reshape({side}, {cols}) @ ones", lambda v: np.reshape(v, (side, cols)) @ np.ones(cols), x, False),
        ("reshape(-1, 4) @ sparse 4x4", lambda v: np.reshape(v, (-1, 4)) @ small, x, False),
        ("einsum ij,j->i", lambda v: np.einsum("ij,j->i", np.reshape(v, (side, cols)), np.ones(cols)), x, False),
        ("np.gradient", np.gradient, x, False),
        ("np.convolve same, 3 taps", lambda v: np.convolve(v, [1.0, -2.0, 1.0], mode="same"), x, False),
        ("tridiagonal 2000x2000 @ x", lambda v: band @ v, np.linspace(0.0, 1.0, m), False),
        ("H: x @ A @ x, A tridiagonal", lambda v: v @ band @ v, np.linspace(0.0, 1.0, m), True),
        ("H: np.dot(x[:-1], x[1:])", lambda v: np.dot(v[:-1], v[1:]), x, True),
    ]
    rows = []
    for name, f, point, hessian in workloads:
        detect_fn = hessian_sparsity if hessian else jacobian_sparsity
        row = Row(name=name, n=point.size)
        row["detect"] = median_ms(lambda f=f, point=point, detect_fn=detect_fn: detect_fn(f, point), 3)
        row["nnz"] = detect_fn(f, point).nnz
        rows.append(row)
    return rows


def median_rows(runs: list[list[Row]]) -> list[Row]:
    """Cell by cell, the median over whole runs (a busy machine slows some runs only)."""
    out = []
    for cells in zip(*runs, strict=True):
        row = Row(cells[0])
        for key, value in cells[0].items():
            if isinstance(value, float):
                row[key] = statistics.median(c[key] for c in cells)
        out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no n = 10**6")
    parser.add_argument("--runs", type=int, default=1, help="whole runs; each cell the median")
    options = parser.parse_args()
    rows = median_rows([run_once(options.quick) for _ in range(max(options.runs, 1))])
    columns = ["name", "n", "colors", "detect", "color", "first", "reused", "jvp", "decompress",
               "dense", "primal", "ratio"]
    header = ["workload", "n", "colors (bound)", "detect ms", "color ms", "first call ms",
              "reused ms", "jvp ms", "decompress ms", "dense ms", "primal ms", "reused/primal"]
    kind = "quick" if options.quick else "full"
    print(f"dualnumpy {dn.__version__}, numpy {np.__version__}: medians ({kind}, {options.runs} run(s))")
    _print_table(header, [[_cell(r.get(c)) for c in columns] for r in rows])
    detection = median_rows([detection_rows(options.quick) for _ in range(max(options.runs, 1))])
    print("\ndetection of products and linear maps (no basis):")
    _print_table(["workload", "n", "pattern nnz", "detect ms"],
                 [[_cell(r.get(c)) for c in ("name", "n", "nnz", "detect")] for r in detection])


def _print_table(header: list[str], body: list[list[str]]) -> None:
    table = [header, *body]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for i, line in enumerate(table):
        print("  ".join(cell.rjust(w) if j else cell.ljust(w)
                        for j, (cell, w) in enumerate(zip(line, widths, strict=True))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    return str(value)


if __name__ == "__main__":
    main()

"""dualnumpy against its peers (issue 10, part 6): medians and ratios from one run.

    python benchmarks/peers.py [--quick] [--only NAME,...] [--peers NAME,...] [--json PATH]

Workloads (``--only`` takes these names; default all):

  bratu       Jacobian of the 1-D Bratu residual at n = 100, 1000, 10**5: dense
              (not at 10**5: the matrix is 80 GB, for every tool) and sparse
  bratu1e6    the same, sparse only, n = 10**6, end to end (detection, coloring, evaluation)
  rosenbrock  Hessian of Rosenbrock at n = 100, dense and sparse
  hvp         Hessian-vector product and gradient of Rosenbrock at n = 10**5
  stencil     sparse Jacobian of a 2-D 5-point-stencil residual (slicing, np.pad), 300x300
  memory      peak memory of the dense Jacobian of a diagonal map at n = 2000, as a ratio to the
              bytes of the Jacobian it returns (one fresh subprocess per tool)

Peers (each skipped with its reason when it is not installed, never required): jax (eager and
jax.jit, float64), torch (torch.func, eager, float64; only torch==2.13.0 is what we test with),
autograd, numdifftools, scipy (finite differences: scipy.optimize._numdiff.approx_derivative,
dense and with a sparsity pattern, and scipy.differentiate). ``--peers none`` runs dualnumpy and
plain NumPy only. The environment variable DUALNUMPY_PEERS_BLOCK=jax,torch,... makes the harness
treat the listed peers as missing (the test uses it).

Every result is checked with np.allclose against dualnumpy's (and dualnumpy's against a
closed form where there is one) before it is timed; a mismatch is printed in the table and makes
the exit status 1. Timing: one first call (for jax.jit it includes tracing and compilation, shown
as "first"), then the median of repeated samples, each sample looping a calibrated number of calls.
``--quick`` uses fewer repeats and smaller large sizes (a smoke run, used by the tests).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

import dualnumpy as dn

PEERS = ("jax", "torch", "autograd", "numdifftools", "scipy")
WORKLOADS = ("bratu", "bratu1e6", "rosenbrock", "hvp", "stencil", "memory")
BLOCK_ENV = "DUALNUMPY_PEERS_BLOCK"
TORCH_THREADS_ENV = "DUALNUMPY_PEERS_TORCH_THREADS"  # set by --torch-threads, read by the children too

# np.allclose tolerances: AD tools agree to rounding; finite differences to their truncation error.
AD_TOL = {"rtol": 1e-9, "atol": 1e-11}
FD_TOL = {"rtol": 1e-4, "atol": 1e-6}


# ---------------------------------------------------------------- peers, imported lazily


class Skip(Exception):
    """A row that cannot run here, with the reason printed in its place."""


_PEER_CACHE: dict[str, Any] = {}


def peer(name: str) -> Any:
    """The peer's modules (imported on first use), or Skip with the reason it is missing."""
    if name in _PEER_CACHE:
        found = _PEER_CACHE[name]
        if isinstance(found, Skip):
            raise found
        return found
    blocked = {p.strip() for p in os.environ.get(BLOCK_ENV, "").split(",") if p.strip()}
    try:
        if name in blocked:
            raise Skip(f"{name} treated as not installed ({BLOCK_ENV})")
        found = _import_peer(name)
    except ImportError as error:
        found = Skip(f"{name} not installed ({error})")
    except Skip as error:
        found = error
    _PEER_CACHE[name] = found
    if isinstance(found, Skip):
        raise found
    return found


class _Modules(dict[str, Any]):
    __getattr__ = dict.__getitem__


def _import_peer(name: str) -> _Modules:
    if name == "jax":
        jax = importlib.import_module("jax")
        jax.config.update("jax_enable_x64", True)
        return _Modules(jax=jax, jnp=importlib.import_module("jax.numpy"), version=jax.__version__)
    if name == "torch":
        torch = importlib.import_module("torch")
        importlib.import_module("torch.func")
        threads = os.environ.get(TORCH_THREADS_ENV)
        if threads:
            torch.set_num_threads(int(threads))
        return _Modules(torch=torch, F=importlib.import_module("torch.nn.functional"),
                        version=torch.__version__)
    if name == "autograd":
        autograd = importlib.import_module("autograd")
        return _Modules(autograd=autograd, anp=importlib.import_module("autograd.numpy"),
                        version=_dist_version("autograd"))
    if name == "numdifftools":
        nd = importlib.import_module("numdifftools")
        return _Modules(nd=nd, version=nd.__version__)
    if name == "scipy":
        scipy = importlib.import_module("scipy")
        numdiff = importlib.import_module("scipy.optimize._numdiff")
        try:
            differentiate = importlib.import_module("scipy.differentiate")
        except ImportError:  # scipy < 1.15
            differentiate = None
        return _Modules(scipy=scipy, sparse=importlib.import_module("scipy.sparse"),
                        optimize=importlib.import_module("scipy.optimize"),
                        approx_derivative=numdiff.approx_derivative, group_columns=numdiff.group_columns,
                        differentiate=differentiate, version=scipy.__version__)
    raise ValueError(name)


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


# ---------------------------------------------------------------- the functions


def size_label(n: int) -> str:
    """1000 stays 1000; 100000 is 10^5."""
    k = len(str(n)) - 1
    return f"10^{k}" if n >= 10**4 and n == 10**k else str(n)


def gigabytes(n: int) -> str:
    return f"{n * n * 8 / 1e9:.3g} GB"


def bratu_np(x: Any) -> Any:
    h = 1.0 / (x.shape[0] + 1)
    xp = np.pad(x, 1)
    return xp[:-2] - 2 * x + xp[2:] + h * h * np.exp(x)


def bratu_with(mod: Any, pad: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def bratu(x: Any) -> Any:
        h = 1.0 / (x.shape[0] + 1)
        xp = pad(x)
        return xp[:-2] - 2 * x + xp[2:] + h * h * mod.exp(x)
    return bratu


def bratu_axis0(x: Any) -> Any:
    """Bratu along axis 0, vectorised over trailing axes (scipy.differentiate's calling convention)."""
    h = 1.0 / (x.shape[0] + 1)
    xp = np.pad(x, [(1, 1)] + [(0, 0)] * (x.ndim - 1))
    return xp[:-2] - 2 * x + xp[2:] + h * h * np.exp(x)


def bratu_jacobian_exact(x: np.ndarray) -> Any:
    """The closed form, an independent check: dense NumPy up to n = 2000, else scipy.sparse CSR."""
    n = x.size
    h = 1.0 / (n + 1)
    diagonal, off = -2.0 + h * h * np.exp(x), np.ones(n - 1)
    if n <= 2000:
        return np.diag(diagonal) + np.diag(off, 1) + np.diag(off, -1)
    return peer("scipy").sparse.diags([off, diagonal, off], [-1, 0, 1], format="csr")


def rosen_closed_forms(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rosenbrock's gradient, Hessian diagonal and superdiagonal, by hand (NumPy only)."""
    g = np.zeros_like(x)
    g[:-1] += -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    diagonal = np.zeros_like(x)
    diagonal[:-1] += 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    diagonal[1:] += 200
    return g, diagonal, -400 * x[:-1]


def rosen_hessian_exact(x: np.ndarray) -> np.ndarray:
    _, diagonal, off = rosen_closed_forms(x)
    return np.diag(diagonal) + np.diag(off, 1) + np.diag(off, -1)


def rosen_hvp_exact(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    _, diagonal, off = rosen_closed_forms(x)
    hv = diagonal * v
    hv[:-1] += off * v[1:]
    hv[1:] += off * v[:-1]
    return hv


def rosen_np(x: Any) -> Any:
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosen_with(sum_: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def rosen(x: Any) -> Any:
        return sum_(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    return rosen


def rosen_axis0(x: Any) -> Any:
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2, axis=0)


def stencil_np(u: Any) -> Any:
    """2-D Bratu: the 5-point Laplacian (zero boundary, by np.pad) plus h^2 exp(u)."""
    h = 1.0 / (u.shape[0] + 1)
    up = np.pad(u, 1)
    return up[:-2, 1:-1] + up[2:, 1:-1] + up[1:-1, :-2] + up[1:-1, 2:] - 4 * u + h * h * np.exp(u)


def stencil_jacobian_exact(u: np.ndarray) -> Any:
    sparse = peer("scipy").sparse
    m = u.shape[0]
    h = 1.0 / (m + 1)
    t = sparse.diags([np.ones(m - 1), np.ones(m - 1)], [-1, 1])
    eye = sparse.identity(m)
    lap = sparse.kron(eye, t) + sparse.kron(t, eye)
    return (lap + sparse.diags(-4.0 + h * h * np.exp(u.ravel()))).tocsr()


def diagonal_np(x: Any) -> Any:
    return np.sin(x) * np.exp(x)


def diagonal_derivative(x: np.ndarray) -> np.ndarray:
    return (np.cos(x) + np.sin(x)) * np.exp(x)


# ---------------------------------------------------------------- timing and checking


@dataclass
class Row:
    case: str
    tool: str
    method: str
    median_ms: float | None = None
    first_ms: float | None = None
    calls: int = 0
    check: str = ""
    note: str = ""
    ratio_dn: float | None = None
    ratio_primal: float | None = None
    role: str = ""  # "primal", "reference" (the dualnumpy row ratios are taken to) or ""


@dataclass
class Config:
    quick: bool
    repeat: int
    sample_s: float
    budget_s: float
    cap_s: float
    peers: tuple[str, ...]
    echo: bool = False  # print each case's table as soon as it is finished


@dataclass
class Case:
    name: str
    config: Config
    rows: list[Row] = field(default_factory=list)

    def skip(self, tool: str, method: str, reason: str) -> None:
        self.rows.append(Row(self.name, tool, method, check="skipped", note=reason))

    def run(self, tool: str, method: str, make: Callable[[], Callable[[], Any]], *,
            expect: Any = None, tol: dict[str, float] | None = None, role: str = "",
            note: str = "", sync: Callable[[Any], Any] | None = None,
            after: Callable[[Any], str] | None = None,
            check_with: Callable[[Any], str] | None = None) -> Any:
        """Build the call (a Skip inside names the reason), check its first result, time it."""
        if tool != "dualnumpy" and tool != "numpy" and tool.split()[0] not in self.config.peers:
            return None
        try:
            call = make()
            if sync is not None:
                inner = call
                call = lambda: sync(inner())
            start = time.perf_counter()
            result = call()
            first = time.perf_counter() - start
            # checked before it is timed; a wrong result is still timed, and reported
            if check_with is not None:
                check = check_with(result)
            else:
                check = "" if expect is None else compare(result, expect, tol or AD_TOL)
            median, calls = measure(call, first, self.config,
                                    warm_up=tool not in ("numdifftools", "scipy"))
        except Skip as reason:
            self.skip(tool, method, str(reason))
            return None
        except Exception as error:  # a peer that fails is reported, not hidden
            self.rows.append(Row(self.name, tool, method, check="ERROR",
                                 note=f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"))
            return None
        extra = after(result) if after is not None else ""
        notes = "; ".join(s for s in (note, extra) if s)
        if calls == 1:
            notes = "; ".join(s for s in (notes, "one call (over the time budget)") if s)
        self.rows.append(Row(self.name, tool, method, median * 1e3, first * 1e3, calls, check, notes,
                             role=role))
        return result


def measure(call: Callable[[], Any], first: float, config: Config,
            warm_up: bool = True) -> tuple[float, int]:
    """(median seconds per call, number of calls timed), after a first call that took ``first``.

    A tool with caches (jit, dispatch tables, lazy imports: ``warm_up``) is always called a second
    time before a median is taken, even when its first call is over the budget; a tool without
    (finite differences) over the budget is timed by its first call alone.
    """
    if first > config.budget_s and not warm_up:
        return first, 1
    if first > config.cap_s:
        return first, 1
    start = time.perf_counter()
    call()
    estimate = max(time.perf_counter() - start, 1e-7)
    if estimate > config.budget_s:  # the warm call, once
        return estimate, 1
    number = max(1, int(config.sample_s / estimate))
    repeat = config.repeat if estimate * number * config.repeat < 4 * config.budget_s else 3
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            call()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples), repeat * number


def to_numpy(value: Any) -> Any:
    """A result as a NumPy array, or a scipy.sparse matrix kept sparse."""
    if hasattr(value, "tocsr") and hasattr(value, "nnz"):
        return value.tocsr()
    if type(value).__module__.startswith("torch"):
        return value.detach().numpy()
    return np.asarray(value)


def compare(result: Any, expect: Any, tol: dict[str, float]) -> str:
    """"ok" when np.allclose(result, expect) (atol scaled by the largest entry), else the error."""
    got, want = to_numpy(result), to_numpy(expect)
    got_sparse, want_sparse = hasattr(got, "nnz"), hasattr(want, "nnz")
    if got_sparse or want_sparse:
        if got.shape != want.shape:
            return f"MISMATCH shape {got.shape} != {want.shape}"
        if got_sparse and want_sparse:
            diff = abs(got - want).max() if (got - want).nnz else 0.0
            bound = tol["atol"] * abs(want).max() + tol["rtol"] * abs(want).max()
            return "ok" if diff <= bound else f"MISMATCH max|diff| = {diff:.2e}"
        got = got.toarray() if got_sparse else got
        want = want.toarray() if want_sparse else want
    got = np.reshape(got, np.shape(want)) if np.size(got) == np.size(want) else got
    if np.shape(got) != np.shape(want):
        return f"MISMATCH shape {np.shape(got)} != {np.shape(want)}"
    scale = float(np.max(np.abs(want))) if np.size(want) else 1.0
    if np.allclose(got, want, rtol=tol["rtol"], atol=tol["atol"] * max(scale, 1.0)):
        return "ok"
    return f"MISMATCH max|diff| = {float(np.max(np.abs(got - want))):.2e}"


def covers(pattern: Any, expect: Any) -> str:
    """"ok" when the detected pattern holds every nonzero of the reference Jacobian (a pattern may
    be conservative, never missing a dependency)."""
    want = to_numpy(expect)
    rows, cols = want.nonzero()
    got = to_numpy(pattern)
    if got.shape != want.shape:
        return f"MISMATCH pattern shape {got.shape} != {want.shape}"
    held = np.asarray(got[rows, cols]).ravel().astype(bool)
    return "ok" if held.all() else f"MISMATCH pattern misses {int((~held).sum())} nonzeros"


def jax_sync(value: Any) -> Any:
    return peer("jax").jax.block_until_ready(value)


def colors_note(obj: Any) -> str:
    colors = getattr(obj, "colors", None)
    if colors is None:
        return ""
    return f"{int(np.max(colors)) + 1 if np.size(colors) else 0} colors"


# ---------------------------------------------------------------- workloads


def finish_case(case: Case) -> Case:
    """Ratios to the case's dualnumpy reference row and to its NumPy primal; printed at once."""
    try:
        return _ratios(case)
    finally:
        if case.config.echo:
            print(table([case]), flush=True)


def _ratios(case: Case) -> Case:
    if not any(r.role == "reference" and r.median_ms for r in case.rows):
        # no row named as the reference ran (a transform missing from this build): the first
        # dualnumpy row that did
        fallback = next((r for r in case.rows if r.tool == "dualnumpy" and r.median_ms), None)
        for row in case.rows:
            row.role = "" if row.role == "reference" else row.role
        if fallback is not None:
            fallback.role = "reference"
    reference = next((r.median_ms for r in case.rows if r.role == "reference" and r.median_ms), None)
    primal = next((r.median_ms for r in case.rows if r.role == "primal" and r.median_ms), None)
    for row in case.rows:
        if row.median_ms is not None:
            row.ratio_dn = row.median_ms / reference if reference else None
            row.ratio_primal = row.median_ms / primal if primal else None
    return case


def dense_peers_jacobian(case: Case, n: int, x: np.ndarray, expect: Any) -> None:
    """Every peer's dense Jacobian of Bratu at x."""
    def jax_fn() -> tuple[Any, Any]:
        m = peer("jax")
        return m.jax, bratu_with(m.jnp, lambda v: m.jnp.pad(v, 1))

    def jax_eager() -> Callable[[], Any]:
        jax, f = jax_fn()
        xj = jax.numpy.asarray(x)
        jac = jax.jacfwd(f)
        return lambda: jac(xj)

    def jax_jit() -> Callable[[], Any]:
        jax, f = jax_fn()
        xj = jax.numpy.asarray(x)
        jac = jax.jit(jax.jacfwd(f))
        return lambda: jac(xj)

    def torch_jacfwd() -> Callable[[], Any]:
        m = peer("torch")
        f = bratu_with(m.torch, lambda v: m.F.pad(v, (1, 1)))
        xt = m.torch.from_numpy(x)
        jac = m.torch.func.jacfwd(f)
        return lambda: jac(xt)

    def autograd_jacobian() -> Callable[[], Any]:
        m = peer("autograd")
        jac = m.autograd.jacobian(bratu_with(m.anp, lambda v: m.anp.pad(v, 1, "constant")))
        return lambda: jac(x)

    def numdifftools_jacobian() -> Callable[[], Any]:
        jac = peer("numdifftools").nd.Jacobian(bratu_np)
        return lambda: jac(x)

    def scipy_2point() -> Callable[[], Any]:
        approx = peer("scipy").approx_derivative
        return lambda: approx(bratu_np, x, method="2-point")

    def scipy_differentiate() -> Callable[[], Any]:
        differentiate = peer("scipy").differentiate
        if differentiate is None:
            raise Skip("scipy.differentiate needs scipy >= 1.15")
        return lambda: differentiate.jacobian(bratu_axis0, x).df

    case.run("jax", "jax.jacfwd (eager)", jax_eager, expect=expect, sync=jax_sync)
    case.run("jax", "jax.jit(jax.jacfwd)", jax_jit, expect=expect, sync=jax_sync,
             note="first = trace + compile + run")
    case.run("torch", "torch.func.jacfwd (eager)", torch_jacfwd, expect=expect)
    case.run("autograd", "autograd.jacobian (reverse, n passes)", autograd_jacobian, expect=expect)
    case.run("numdifftools", "nd.Jacobian (finite differences)", numdifftools_jacobian, expect=expect,
             tol=FD_TOL)
    case.run("scipy", "approx_derivative 2-point (FD, dense)", scipy_2point, expect=expect, tol=FD_TOL)
    if n <= 1000:
        case.run("scipy", "scipy.differentiate.jacobian (FD)", scipy_differentiate, expect=expect,
                 tol=FD_TOL)


def sparse_rows(case: Case, f: Callable[[Any], Any], x: np.ndarray, expect: Any, *,
                hessian: bool = False) -> None:
    """dualnumpy's detection, its sparse transform first-call and reused, and SciPy's sparse FD."""
    if importlib.util.find_spec("scipy") is None:  # sparse results are scipy.sparse matrices
        case.skip("dualnumpy", "sparse rows", "scipy is not installed (pip install 'dualnumpy[sparse]')")
        return
    detect = dn.hessian_sparsity if hessian else dn.jacobian_sparsity
    name = "sparse_hessian" if hessian else "sparse_jacfwd"
    pattern = case.run("dualnumpy", f"dn.{detect.__name__} (detection only)", lambda: lambda: detect(f, x),
                       after=lambda p: f"nnz {p.nnz}",
                       check_with=None if expect is None else lambda p: covers(p, expect))
    ours = None
    if hasattr(dn, name):
        make = getattr(dn, name)
        case.run("dualnumpy", f"dn.{name}, first call (detect + color + evaluate)",
                 lambda: lambda: make(f)(x), expect=expect, tol=AD_TOL)
        reused = make(f)

        def reused_call() -> Callable[[], Any]:
            reused(x)
            return lambda: reused(x)

        ours = case.run("dualnumpy", f"dn.{name}, reused object", reused_call, expect=expect,
                 after=lambda _: colors_note(reused))
    else:
        case.skip("dualnumpy", f"dn.{name}", f"dn.{name} is not in this build of dualnumpy")
    if hessian or pattern is None:
        return

    groups_found: dict[str, int] = {}
    flat = (lambda z: f(z.reshape(x.shape)).ravel()) if x.ndim > 1 else f

    def scipy_sparse() -> Callable[[], Any]:
        m = peer("scipy")
        groups = m.group_columns(pattern)
        groups_found["n"] = int(groups.max()) + 1
        return lambda: m.approx_derivative(flat, x.ravel(), method="2-point", sparsity=(pattern, groups))

    case.run("scipy", "approx_derivative 2-point, sparsity + groups given (FD)", scipy_sparse,
             expect=ours if ours is not None else expect,
             tol=FD_TOL, after=lambda _: f"{groups_found.get('n', '?')} groups (scipy's group_columns, "
                                        f"precomputed); pattern from dn detection")


def bench_bratu(config: Config, sizes: tuple[int, ...]) -> list[Case]:
    cases = []
    for n in sizes:
        case = Case(f"bratu jacobian n={size_label(n)}", config)
        x = np.linspace(0.0, 1.0, n) * np.sin(np.arange(n))  # a generic point
        case.run("numpy", "primal F(x)", lambda x=x: lambda: bratu_np(x), role="primal")
        try:
            exact = bratu_jacobian_exact(x)
        except Skip:
            exact = None
        if n <= 1000:
            dense = case.run("dualnumpy", "dn.jacfwd (dense)", lambda x=x: lambda: dn.jacfwd(bratu_np)(x),
                             expect=exact, role="reference")
            sparse_rows(case, bratu_np, x, dense if dense is not None else exact)
            dense_peers_jacobian(case, n, x, dense)
        else:
            case.rows.append(Row(case.name, "all tools", "dense Jacobian", check="skipped",
                                 note=f"infeasible: {n}x{n} float64 is {gigabytes(n)}"))
            sparse_rows(case, bratu_np, x, exact)
            for rowi in case.rows:
                if rowi.method.startswith("dn.sparse_jacfwd, reused"):
                    rowi.role = "reference"
        case.rows.append(Row(case.name, "jax / torch", "sparse Jacobian", check="skipped",
                             note="no built-in sparse Jacobian (coloring) in jax or torch"))
        cases.append(finish_case(case))
    return cases


def bench_rosenbrock(config: Config, n: int) -> list[Case]:
    case = Case(f"rosenbrock hessian n={n}", config)
    x = np.linspace(-1.0, 2.0, n)
    case.run("numpy", "primal f(x)", lambda: lambda: rosen_np(x), role="primal")
    exact = rosen_hessian_exact(x)
    dense = case.run("dualnumpy", "dn.hessian (dense, forward over forward)",
                     lambda: lambda: dn.hessian(rosen_np)(x), expect=exact, role="reference")
    sparse_rows(case, rosen_np, x, dense, hessian=True)

    def jax_make(jit: bool) -> Callable[[], Callable[[], Any]]:
        def make() -> Callable[[], Any]:
            m = peer("jax")
            hess = m.jax.hessian(rosen_with(m.jnp.sum))
            hess = m.jax.jit(hess) if jit else hess
            xj = m.jnp.asarray(x)
            return lambda: hess(xj)
        return make

    def torch_hessian() -> Callable[[], Any]:
        m = peer("torch")
        hess = m.torch.func.hessian(rosen_with(m.torch.sum))
        xt = m.torch.from_numpy(x)
        return lambda: hess(xt)

    def autograd_hessian() -> Callable[[], Any]:
        m = peer("autograd")
        hess = m.autograd.hessian(rosen_with(m.anp.sum))
        return lambda: hess(x)

    def numdifftools_hessian() -> Callable[[], Any]:
        hess = peer("numdifftools").nd.Hessian(rosen_np)
        return lambda: hess(x)

    def scipy_hessian() -> Callable[[], Any]:
        differentiate = peer("scipy").differentiate
        if differentiate is None:
            raise Skip("scipy.differentiate needs scipy >= 1.15")
        return lambda: differentiate.hessian(rosen_axis0, x).ddf

    case.run("jax", "jax.hessian (eager)", jax_make(False), expect=dense, sync=jax_sync)
    case.run("jax", "jax.jit(jax.hessian)", jax_make(True), expect=dense, sync=jax_sync,
             note="first = trace + compile + run")
    case.run("torch", "torch.func.hessian (eager)", torch_hessian, expect=dense)
    case.run("autograd", "autograd.hessian", autograd_hessian, expect=dense)
    case.run("numdifftools", "nd.Hessian (finite differences)", numdifftools_hessian, expect=dense,
             tol=FD_TOL)
    case.run("scipy", "scipy.differentiate.hessian (FD)", scipy_hessian, expect=dense, tol=FD_TOL)
    return [finish_case(case)]


def predict_hvp_seconds(n: int) -> tuple[float, str]:
    """dn.hvp's time at n, extrapolated from single calls at n/100 and n/10 (a power law).

    Forward over forward needs a pass per basis direction unless the transform is cleverer, so
    the time can grow as n^2: measure before committing to a call that could take minutes."""
    if n < 10**4:
        return 0.0, ""
    seconds = []
    for m in (n // 100, n // 10):
        xm, vm = np.linspace(-1.0, 2.0, m), np.cos(np.arange(m))
        dn.hvp(rosen_np, xm, vm)  # warm
        start = time.perf_counter()
        dn.hvp(rosen_np, xm, vm)
        seconds.append(time.perf_counter() - start)
    exponent = max(np.log10(max(seconds[1], 1e-9) / max(seconds[0], 1e-9)), 1.0)
    predicted = seconds[1] * 10**exponent
    probes = (f"{seconds[0] * 1e3:.3g} ms at n={size_label(n // 100)}, {seconds[1] * 1e3:.3g} ms at "
              f"n={size_label(n // 10)}, growing as n^{exponent:.2f}")
    return predicted, probes


def bench_hvp(config: Config, n: int) -> list[Case]:
    x = np.linspace(-1.0, 2.0, n)
    v = np.cos(np.arange(n))
    exact_hvp, exact_grad = rosen_hvp_exact(x, v), rosen_closed_forms(x)[0]
    hv = Case(f"rosenbrock hvp n={size_label(n)}", config)
    gr = Case(f"rosenbrock grad n={size_label(n)}", config)
    for case in (hv, gr):
        case.run("numpy", "primal f(x)", lambda: lambda: rosen_np(x), role="primal")
    if hasattr(dn, "hvp"):
        predicted, probes = predict_hvp_seconds(n)
        if predicted > config.cap_s:
            ours = None
            hv.skip("dualnumpy", f"dn.hvp at n={size_label(n)}",
                    f"predicted {predicted:.0f} s from {probes}, over the {config.cap_s:.0f} s cap: not run; "
                    f"x dualnumpy below is to dn.reverse.grad")
        else:
            ours = hv.run("dualnumpy", "dn.hvp",
                          lambda: lambda: dn.hvp(rosen_np, x, v), expect=exact_hvp, role="reference",
                          note=f"probes: {probes}" if probes else "")
    else:
        ours = None
        hv.skip("dualnumpy", "dn.hvp", "dn.hvp is not in this build of dualnumpy (and dn.jvp does not "
                "compose with dn.reverse.grad); x dualnumpy below is to dn.reverse.grad")
    expect_hvp = exact_hvp if ours is None else ours  # the peers against dualnumpy where it can
    our_grad = gr.run("dualnumpy", "dn.reverse.grad (the reverse reference)",
           lambda: lambda: dn.reverse.grad(rosen_np)(x), expect=exact_grad, role="reference")
    expect_grad = exact_grad if our_grad is None else our_grad
    gr.rows.append(Row(gr.name, "dualnumpy", "dn.grad (forward, n directions)", check="skipped",
                       note=f"n directions: a {size_label(n)}x{size_label(n)} tangent ({gigabytes(n)}), "
                            f"or n^2 work if chunked; infeasible here"))

    def jax_parts() -> tuple[Any, Any, Any, Any]:
        m = peer("jax")
        f = rosen_with(m.jnp.sum)
        return m.jax, f, m.jnp.asarray(x), m.jnp.asarray(v)

    def jax_hvp(jit: bool) -> Callable[[], Callable[[], Any]]:
        def make() -> Callable[[], Any]:
            jax, f, xj, vj = jax_parts()
            g = lambda x, v: jax.jvp(jax.grad(f), (x,), (v,))[1]
            g = jax.jit(g) if jit else g
            return lambda: g(xj, vj)
        return make

    def jax_grad(jit: bool) -> Callable[[], Callable[[], Any]]:
        def make() -> Callable[[], Any]:
            jax, f, xj, _ = jax_parts()
            g = jax.jit(jax.grad(f)) if jit else jax.grad(f)
            return lambda: g(xj)
        return make

    def torch_parts() -> tuple[Any, Any, Any, Any]:
        m = peer("torch")
        return m.torch, rosen_with(m.torch.sum), m.torch.from_numpy(x), m.torch.from_numpy(v)

    def torch_hvp() -> Callable[[], Any]:
        torch, f, xt, vt = torch_parts()
        return lambda: torch.func.jvp(torch.func.grad(f), (xt,), (vt,))[1]

    def torch_grad() -> Callable[[], Any]:
        torch, f, xt, _ = torch_parts()
        g = torch.func.grad(f)
        return lambda: g(xt)

    def autograd_hvp() -> Callable[[], Any]:
        m = peer("autograd")
        g = m.autograd.hessian_vector_product(rosen_with(m.anp.sum))
        return lambda: g(x, v)

    def autograd_grad() -> Callable[[], Any]:
        m = peer("autograd")
        g = m.autograd.grad(rosen_with(m.anp.sum))
        return lambda: g(x)

    hv.run("jax", "jax.jvp of jax.grad (eager)", jax_hvp(False), expect=expect_hvp, sync=jax_sync)
    hv.run("jax", "jax.jit(jvp of grad)", jax_hvp(True), expect=expect_hvp, sync=jax_sync,
           note="first = trace + compile + run")
    hv.run("torch", "torch.func.jvp of torch.func.grad", torch_hvp, expect=expect_hvp)
    hv.run("autograd", "autograd.hessian_vector_product (reverse over reverse)", autograd_hvp,
           expect=expect_hvp)
    gr.run("jax", "jax.grad (eager)", jax_grad(False), expect=expect_grad, sync=jax_sync)
    gr.run("jax", "jax.jit(jax.grad)", jax_grad(True), expect=expect_grad, sync=jax_sync,
           note="first = trace + compile + run")
    gr.run("torch", "torch.func.grad", torch_grad, expect=expect_grad)
    gr.run("autograd", "autograd.grad", autograd_grad, expect=expect_grad)
    _ratios(gr)
    if ours is None:  # no dn.hvp: ratios to dualnumpy's reverse gradient
        grad_row = next((r for r in gr.rows if r.role == "reference"), None)
        if grad_row is not None:
            hv.rows.insert(1, Row(hv.name, grad_row.tool, grad_row.method, grad_row.median_ms,
                                  grad_row.first_ms, grad_row.calls, "",
                                  "the gradient, as the stand-in reference", role="reference"))
    # hvp relative to the gradient (the target: dn.hvp under 5x the gradient's time)
    grad_ms = next((r.median_ms for r in gr.rows if r.role == "reference" and r.median_ms), None)
    for row in hv.rows:
        if row.method.startswith("dn.hvp") and row.median_ms and grad_ms:
            row.note = "; ".join(s for s in (row.note, f"{row.median_ms / grad_ms:.1f}x dn.reverse.grad")
                                 if s)
    cases = [finish_case(hv), finish_case(gr)]
    return cases


def bench_stencil(config: Config, m: int) -> list[Case]:
    case = Case(f"stencil2d jacobian {m}x{m}", config)
    u = np.outer(np.sin(np.linspace(0, 3, m)), np.cos(np.linspace(0, 2, m)))
    case.run("numpy", "primal F(u)", lambda: lambda: stencil_np(u), role="primal")
    try:
        exact = stencil_jacobian_exact(u)
    except Skip:
        exact = None
    sparse_rows(case, stencil_np, u, exact)
    for row in case.rows:
        if row.method.startswith("dn.sparse_jacfwd, first call"):
            row.role = "reference"
    nn = m * m
    case.rows.append(Row(case.name, "jax / all dense", "dense Jacobian", check="skipped",
                         note=f"infeasible at scale: {nn}x{nn} float64 is {gigabytes(nn)}"
                              + ("" if m == 300 else f" (300x300: {gigabytes(90000)})")))
    return [finish_case(case)]


# ---------------------------------------------------------------- memory (one subprocess per tool)


MEMORY_TOOLS = ("dualnumpy", "jax eager", "jax.jit", "torch", "autograd", "scipy", "numdifftools")
# A fixed glibc mmap threshold: every large block is mapped on allocation and unmapped when
# freed, so RSS rises and falls with what each tool holds (no heap reuse between calls).
MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072"}
NUMPY_BASED = {"dualnumpy", "autograd", "scipy", "numdifftools"}


def memory_call(tool: str, n: int) -> Callable[[np.ndarray], Any]:
    """The dense-Jacobian call of the diagonal map for one tool (imports the peer)."""
    if tool == "dualnumpy":
        return dn.jacfwd(diagonal_np)
    if tool in ("jax eager", "jax.jit"):
        m = peer("jax")
        jac = m.jax.jacfwd(lambda x: m.jnp.sin(x) * m.jnp.exp(x))
        jac = m.jax.jit(jac) if tool == "jax.jit" else jac
        return lambda x: m.jax.block_until_ready(jac(m.jnp.asarray(x)))
    if tool == "torch":
        m = peer("torch")
        tjac = m.torch.func.jacfwd(lambda x: m.torch.sin(x) * m.torch.exp(x))
        return lambda x: tjac(m.torch.from_numpy(x))
    if tool == "autograd":
        m = peer("autograd")
        return m.autograd.jacobian(lambda x: m.anp.sin(x) * m.anp.exp(x))
    if tool == "scipy":
        approx = peer("scipy").approx_derivative
        return lambda x: approx(diagonal_np, x, method="2-point")
    if tool == "numdifftools":
        return peer("numdifftools").nd.Jacobian(diagonal_np)
    raise ValueError(tool)


def _status_kb(field_name: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process: Linux clear_refs 5."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def rss_peak_delta(call: Callable[[], Any]) -> tuple[Any, int | None, str]:
    """(result, peak RSS over the call minus RSS before it, in bytes, method)."""
    before = _status_kb("VmRSS")
    if before is not None and _reset_peak_rss():
        result = call()
        peak = _status_kb("VmHWM")
        return result, None if peak is None else (peak - before) * 1024, "VmHWM reset"
    import resource

    before_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = call()
    after_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return result, (after_max - before_max) * 1024, "ru_maxrss (lower bound)"


def memory_child(tool: str, n: int) -> dict[str, Any]:
    """Run in a fresh process: peak memory of one dense Jacobian, by RSS and (NumPy tools) tracemalloc."""
    import gc
    import tracemalloc

    out: dict[str, Any] = {"tool": tool, "n": n, "jac_bytes": n * n * 8}
    try:
        jac = memory_call(tool, n)
    except Skip as reason:
        return {**out, "skip": str(reason)}
    x = np.linspace(-1.0, 1.0, n)
    keep = []
    if tool.startswith("jax"):
        # jax compiles per shape (jit, and eager per primitive): warm up on this very shape and
        # keep that result alive, so that the measured call cannot reuse its memory.
        keep.append(jac(x))
        out["note"] = "after a warm-up call on the same shape (compilation excluded)"
    else:
        # the others: warm up on a tiny input (lazy imports, caches), so that almost nothing
        # freed by the warm-up is left on the heap for the measured call to reuse
        jac(np.linspace(-1.0, 1.0, 8))
    gc.collect()
    result, delta, method = rss_peak_delta(lambda: jac(x))
    out["check"] = compare(np.diag(to_numpy(result)), diagonal_derivative(x),
                           FD_TOL if tool in ("scipy", "numdifftools") else AD_TOL)
    out["rss_method"] = method
    out["rss_peak_bytes"] = delta
    del result
    gc.collect()
    if tool in NUMPY_BASED and not (tool == "numdifftools" and n > 1000):  # a 5 GB call, once is enough
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        result = jac(x)
        out["tracemalloc_peak_bytes"] = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        del result
    del keep
    return out


def bench_memory(config: Config, n: int) -> list[Case]:
    case = Case(f"memory dense jacobian diagonal map n={n}", config)
    for tool in MEMORY_TOOLS:
        if tool != "dualnumpy" and tool.replace(".jit", "").split()[0] not in config.peers:
            continue
        try:
            done = subprocess.run([sys.executable, os.path.abspath(__file__), "--_memory-child", tool,
                                   "--_n", str(n)], capture_output=True, text=True, timeout=300,
                                  env={**os.environ, **MEMORY_ENV})
        except subprocess.TimeoutExpired:
            case.rows.append(Row(case.name, tool, "dense jacobian", check="ERROR", note="timeout 300 s"))
            continue
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1][:120]
            case.rows.append(Row(case.name, tool, "dense jacobian", check="ERROR", note=tail))
            continue
        info = json.loads(lines[-1])
        if "skip" in info:
            case.skip(tool, "dense jacobian", info["skip"])
            continue
        jac_mb = info["jac_bytes"] / 2**20
        for key, label in (("tracemalloc_peak_bytes", "tracemalloc peak"),
                           ("rss_peak_bytes", f"peak RSS delta ({info['rss_method']})")):
            if info.get(key) is None:
                continue
            peak_mb = info[key] / 2**20
            row = Row(case.name, tool, label, check=info["check"],
                      note=f"peak {peak_mb:.1f} MB for a {jac_mb:.1f} MB Jacobian"
                           + (f"; {info['note']}" if info.get("note") else ""))
            row.ratio_dn = info[key] / info["jac_bytes"]  # printed as "x jac bytes"
            case.rows.append(row)
    if config.echo:
        print(table([case]), flush=True)
    return [case]


# ---------------------------------------------------------------- report


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return ""
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


def table(cases: list[Case]) -> str:
    lines = []
    for case in cases:
        memory = case.name.startswith("memory")
        lines.append("")
        lines.append(f"### {case.name}")
        lines.append("")
        if memory:
            lines.append("| tool | method | peak / Jacobian bytes | check | note |")
            lines.append("|---|---|---:|---|---|")
            for r in case.rows:
                lines.append(f"| {r.tool} | {r.method} | {fmt(r.ratio_dn)} | {r.check} | {r.note} |")
            continue
        ref = next((r for r in case.rows if r.role == "reference" and r.median_ms), None)
        if ref is not None:
            lines.append(f"x dualnumpy: time / time of `{ref.method}`; x primal: time / the NumPy primal's")
            lines.append("")
        lines.append("| tool | method | median ms | first ms | x dualnumpy | x primal | check | note |")
        lines.append("|---|---|---:|---:|---:|---:|---|---|")
        for r in case.rows:
            mark = " (ref)" if r.role == "reference" else ""
            lines.append(f"| {r.tool} | {r.method}{mark} | {fmt(r.median_ms)} | {fmt(r.first_ms)} | "
                         f"{fmt(r.ratio_dn, 2)} | {fmt(r.ratio_primal, 2)} | {r.check} | {r.note} |")
    return "\n".join(lines)


def environment(peers: tuple[str, ...]) -> dict[str, Any]:
    info: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": " ".join(platform.uname()),
        "nproc": os.cpu_count(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "dualnumpy": dn.__version__,
    }
    for name in PEERS:
        if name not in peers:
            info[name] = "not requested"
            continue
        try:
            info[name] = peer(name).version
            if name == "torch":
                info[name] += f" ({peer(name).torch.get_num_threads()} threads)"
            if name == "jax":
                info[name] += f" ({peer(name).jax.default_backend()}, x64)"
        except Skip as reason:
            info[name] = f"skipped: {reason}"
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller large sizes")
    parser.add_argument("--only", default="", help=f"comma-separated workloads of {', '.join(WORKLOADS)}")
    parser.add_argument("--peers", default="all", help=f"comma-separated of {', '.join(PEERS)}, all, none")
    parser.add_argument("--json", default=None, help="also write the rows and the environment here")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads(N) (default: torch's own choice)")
    parser.add_argument("--_memory-child", dest="memory_child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_n", dest="child_n", type=int, default=2000, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.memory_child:
        print(json.dumps(memory_child(options.memory_child, options.child_n)))
        return 0
    only = [w.strip() for w in options.only.split(",") if w.strip()] or list(WORKLOADS)
    unknown = sorted(set(only) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workloads {unknown}; choose from {', '.join(WORKLOADS)}")
    if options.peers == "all":
        peers = PEERS
    elif options.peers == "none":
        peers = ()
    else:
        peers = tuple(p.strip() for p in options.peers.split(",") if p.strip())
        bad = sorted(set(peers) - set(PEERS))
        if bad:
            parser.error(f"unknown peers {bad}; choose from {', '.join(PEERS)}")
    if options.torch_threads is not None:
        os.environ[TORCH_THREADS_ENV] = str(options.torch_threads)
    quick = options.quick
    config = Config(quick=quick, repeat=3 if quick else 9, sample_s=0.005 if quick else 0.02,
                    budget_s=0.5 if quick else 3.0,
                    cap_s=5.0 if quick else 30.0, peers=peers, echo=True)

    env = environment(peers)
    print("# dualnumpy against its peers")
    print()
    print(f"command: python {' '.join(['benchmarks/peers.py', *sys.argv[1:]] if argv is None else argv)}")
    for key, value in env.items():
        print(f"{key}: {value}")
    skipped = [f"{k}: {v}" for k, v in env.items() if k in PEERS and str(v).startswith("skipped")]
    for line in skipped:
        print(f"peer {line}")
    sys.stdout.flush()

    cases: list[Case] = []
    for workload in WORKLOADS:
        if workload not in only:
            continue
        if workload == "bratu":
            new = bench_bratu(config, (100, 1000) if quick else (100, 1000, 10**5))
        elif workload == "bratu1e6":
            new = bench_bratu(config, (10**5,) if quick else (10**6,))
        elif workload == "rosenbrock":
            new = bench_rosenbrock(config, 100)
        elif workload == "hvp":
            new = bench_hvp(config, 10**4 if quick else 10**5)
        elif workload == "stencil":
            new = bench_stencil(config, 60 if quick else 300)
        else:
            new = bench_memory(config, 500 if quick else 2000)
        cases.extend(new)

    checked = [r for c in cases for r in c.rows if r.check and r.check not in ("skipped",)]
    bad = [r for r in checked if r.check != "ok"]
    passed = sum(r.check == "ok" for r in checked)
    print()
    if bad:
        print(f"correctness: {len(bad)} of {len(checked)} checks FAILED:")
        for r in bad:
            print(f"  {r.case} / {r.tool} / {r.method}: {r.check} {r.note}")
    else:
        print(f"correctness: all {passed} checks passed")
    if options.json:
        with open(options.json, "w") as out:
            json.dump({"environment": env, "quick": quick,
                       "rows": [asdict(r) for c in cases for r in c.rows]}, out, indent=1)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

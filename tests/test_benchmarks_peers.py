"""The peer benchmark harness runs with dualnumpy alone: every peer missing skips cleanly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "peers.py"
PEERS = "jax,torch,autograd,numdifftools,scipy"


def run_harness(*args: str, block: str = PEERS) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DUALNUMPY_PEERS_BLOCK": block,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=ROOT)


def test_quick_run_with_every_peer_missing(tmp_path: Path) -> None:
    out_json = tmp_path / "rows.json"
    done = run_harness("--quick", "--only", "bratu,rosenbrock", "--json", str(out_json))
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for name in PEERS.split(","):
        assert f"peer {name}: skipped:" in out, out
    assert "### bratu jacobian n=100" in out and "### rosenbrock hessian n=100" in out
    assert "| dualnumpy | dn.jacfwd (dense) (ref) |" in out
    assert "| dualnumpy | dn.hessian (dense, forward over forward) (ref) |" in out
    assert "| numpy | primal" in out
    assert re.search(r"correctness: all [1-9][0-9]* checks passed", out) and "FAILED" not in out, out
    # no peer row was timed: every non-dualnumpy row is a skip or a note
    import json

    rows = json.loads(out_json.read_text())["rows"]
    assert {r["tool"] for r in rows if r["median_ms"] is not None} <= {"numpy", "dualnumpy"}
    dn_rows = [r for r in rows if r["tool"] == "dualnumpy" and r["median_ms"] is not None]
    assert dn_rows and all(r["median_ms"] > 0 for r in dn_rows)


def test_peers_none_and_bad_arguments() -> None:
    done = run_harness("--quick", "--only", "rosenbrock", "--peers", "none", block="")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| dualnumpy | dn.hessian" in done.stdout and "| jax |" not in done.stdout
    bad = run_harness("--only", "nonsense")
    assert bad.returncode != 0 and "unknown workloads" in bad.stderr


def _load_harness():  # type: ignore[no-untyped-def]
    import importlib.util

    spec = importlib.util.spec_from_file_location("peers_harness", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


class _StandInSparse:
    """What issue 10 specifies for dn.sparse_jacfwd / sparse_hessian, built from dense results:
    enough to exercise the harness's sparse rows before the real ones land."""

    def __init__(self, dense, f) -> None:  # type: ignore[no-untyped-def]
        self.dense, self.f, self.colors = dense, f, None

    def __call__(self, x):  # type: ignore[no-untyped-def]
        import numpy as np
        import scipy.sparse

        matrix = np.asarray(self.dense(self.f)(x))
        size = np.size(x)
        self.colors = np.arange(size) % 3
        return scipy.sparse.csr_matrix(matrix.reshape(-1, size))


def test_sparse_rows_when_the_sparse_api_exists(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import numpy as np
    import pytest

    pytest.importorskip("scipy")
    import dualnumpy as dn

    harness = _load_harness()
    monkeypatch.setenv("DUALNUMPY_PEERS_BLOCK", "jax,torch,autograd,numdifftools")
    monkeypatch.setattr(dn, "sparse_jacfwd", lambda f: _StandInSparse(dn.jacfwd, f), raising=False)
    monkeypatch.setattr(dn, "sparse_hessian", lambda f: _StandInSparse(dn.hessian, f), raising=False)
    monkeypatch.setattr(dn, "hvp", lambda f, x, v: dn.hessian(f)(x) @ v, raising=False)
    config = harness.Config(quick=True, repeat=1, sample_s=0.0, budget_s=0.2, cap_s=1.0,
                            peers=("scipy",))
    cases = (harness.bench_bratu(config, (100,)) + harness.bench_rosenbrock(config, 20)
             + harness.bench_hvp(config, 50) + harness.bench_stencil(config, 8))
    rows = [r for c in cases for r in c.rows]
    methods = {r.method for r in rows if r.tool == "dualnumpy" and r.median_ms is not None}
    assert "dn.sparse_jacfwd, reused object" in methods
    assert "dn.sparse_hessian, first call (detect + color + evaluate)" in methods
    assert "dn.hvp" in methods
    assert all(r.check in ("", "ok", "skipped") for r in rows), [(r.method, r.check) for r in rows]
    assert any("3 colors" in r.note for r in rows)
    stencil = cases[-1]
    assert next(r for r in stencil.rows if r.role == "reference").method.startswith("dn.sparse_jacfwd")
    assert np.isfinite([r.ratio_dn for r in rows if r.ratio_dn is not None]).all()

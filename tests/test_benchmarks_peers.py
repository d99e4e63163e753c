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

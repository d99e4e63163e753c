"""The README's generated table and the quickstart example stay true."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dualnumpy._support import supported_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_readme_table_matches_the_rule_tables() -> None:
    readme = (ROOT / "README.md").read_text()
    begin, end = "<!-- supported:begin -->\n", "<!-- supported:end -->"
    table = readme[readme.index(begin) + len(begin):readme.index(end)]
    assert table == supported_markdown(), (
        "README.md's supported-operations table is stale; regenerate it with "
        "python -m dualnumpy._support README.md")


def test_readme_shows_the_two_setup_commands_first() -> None:
    readme = (ROOT / "README.md").read_text()
    head = readme[:readme.index("## Quickstart")]
    first, second = [line for line in head.splitlines() if line.startswith("python -m pip install")][:2]
    assert first.startswith('python -m pip install -e ".[test]" && python -m dualnumpy check')
    assert second.startswith('python -m pip install -e ".[test]" && python -m pytest')


def test_quickstart_numbers() -> None:
    results = runpy.run_path(str(ROOT / "examples" / "quickstart.py"))["main"]()
    x = np.array([0.5, 1.0, 2.0])

    def f(x: np.ndarray) -> np.ndarray:
        return np.sin(x) * np.exp(-x ** 2) + np.log1p(x ** 2) * np.tanh(x)

    h = 1e-6
    gradient = (f(x + h) - f(x - h)) / (2 * h)
    np.testing.assert_allclose(results["gradient"], gradient, rtol=1e-7)
    np.testing.assert_allclose(results["slope"], gradient.sum(), rtol=1e-7)
    np.testing.assert_allclose(results["value"], f(x).sum(), rtol=1e-15)
    second = (f(x + 1e-4) - 2 * f(x) + f(x - 1e-4)) / 1e-8
    np.testing.assert_allclose(np.diag(results["hessian"]), second, rtol=1e-5)
    assert results["third"] == -1.0


def test_quickstart_runs_as_a_script() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")],
                          capture_output=True, text=True, timeout=120, check=True)
    assert "grad f(x)" in done.stdout


def test_readme_harness_example_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Checking derivatives"):]
    code = section[section.index("```python\n") + len("```python\n"):section.index("```\n\n```")]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("compare f: Jacobian of 2 output entries by 2 input entries")
    assert lines[-1] == "result: agree"


def test_readme_sparse_newton_example_runs() -> None:
    pytest.importorskip("scipy", reason="the sparse example needs scipy (dualnumpy[sparse])")
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Sparse Jacobians and Hessians"):]
    code = section[section.index("```python\n") + len("```python\n"):section.index("```\n", section.index("```python\n") + 10)]
    code += "\nprint(float(np.max(np.abs(residual(u)))) * (1.0 / (u.size + 1)) ** 2)\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Coloring(3 colors for 1000000 columns")
    assert float(lines[1]) < 1e-12  # h^2 |F(u)|: converged to rounding

"""Shared fixtures for the example tests: load an example, run it as a script, hide matplotlib."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# the examples import their shared examples/_plotting.py as a top-level module, as a script run
# would find it; the tests may import it too
if str(EXAMPLES) not in sys.path:
    sys.path.append(str(EXAMPLES))

import render_pictures  # noqa: E402  (found through the path above)


@pytest.fixture(scope="session")
def load_example() -> Callable[[str], ModuleType]:
    """``load_example(name)``: a fresh module from ``examples/<name>.py``, its ``__main__`` block not run."""
    return render_pictures.load


def _run_script(name: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py")], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="session")
def run_script() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_script(name, cwd=None)``: run ``python examples/<name>.py``, assert it succeeds, return it."""
    return _run_script


@pytest.fixture
def no_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import matplotlib`` (and ``matplotlib.pyplot``) fail for the test, as if not installed."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)


def _missing(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is None


#: Tests of what the examples plot, and of the reference tools, where those extras are installed
#: (`.[test]` installs them; CI also runs the core without them).
needs_matplotlib = pytest.mark.skipif(_missing("matplotlib"), reason="the plot needs matplotlib (pip install -e '.[examples]')")
needs_autograd = pytest.mark.skipif(_missing("autograd"), reason="the autograd reference needs autograd (pip install -e '.[test]')")

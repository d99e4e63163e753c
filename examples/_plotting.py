"""What every example does to draw its plot: find matplotlib, and save the figure.

``pyplot()`` returns ``matplotlib.pyplot`` on the non-interactive Agg backend, or None (after
saying so) when matplotlib is not installed, so that an example still runs and prints its
numbers without it. ``save(fig, name)`` writes ``examples/output/<name>.png``, closes the
figure, prints the path and returns it. Inside ``with saving_to(directory, dpi):`` the same
calls write ``<directory>/<name>.png`` at that resolution instead: examples/render_pictures.py
uses it for the small previews in docs/images/ that the README's examples index shows.

The examples import this module as ``_plotting``. Run as a script, an example finds it because
Python puts the script's directory on ``sys.path``; loaded any other way (runpy, importlib),
each example puts its own directory there first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

OUTPUT = Path(__file__).resolve().parent / "output"
DPI = 100

_directory, _dpi = OUTPUT, DPI


def pyplot() -> ModuleType | None:
    """``matplotlib.pyplot`` on the Agg backend; None, and a message, without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: skipping the plot")
        return None
    return plt


def save(fig: Figure, name: str) -> Path:
    """Save ``fig`` as ``<name>.png`` (in examples/output/ unless redirected), close it, print the path."""
    import matplotlib.pyplot as plt

    _directory.mkdir(parents=True, exist_ok=True)
    path = _directory / f"{name}.png"
    fig.savefig(path, dpi=_dpi)
    plt.close(fig)
    print(f"plot saved to {path}")
    return path


@contextmanager
def saving_to(directory: Path, dpi: int) -> Iterator[None]:
    """Within the block, ``save`` writes to ``directory`` at ``dpi``; afterwards, as before."""
    global _directory, _dpi
    before = _directory, _dpi
    _directory, _dpi = directory.resolve(), dpi
    try:
        yield
    finally:
        _directory, _dpi = before

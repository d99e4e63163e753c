"""Render the pictures of the README's examples index: each example's plot, small, in docs/images/.

Every example whose ``main`` takes ``plot`` runs once with ``plot=True`` inside
``_plotting.saving_to(docs/images, dpi=PREVIEW_DPI)``, so its figure lands in
``docs/images/<name>.png`` at a lower resolution; reduced to a 256-colour palette (which
leaves a line plot looking the same), each file is 10-20 KB, small enough to commit.
examples/output/ holds the full-size plots and is git-ignored. The examples' own printout is
swallowed; one line per picture says where it went and how big it is.

Run it from anywhere after changing an example's plot, and commit the pictures:
``python examples/render_pictures.py`` renders them all, ``python examples/render_pictures.py
rnn_sin_cos newton_bratu`` just those. tests/test_examples_index.py checks that every plotting
example has its picture in docs/images/ and in the README.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import sys
from pathlib import Path
from types import ModuleType

if str(Path(__file__).resolve().parent) not in sys.path:  # for _plotting; a script run puts it there already
    sys.path.insert(0, str(Path(__file__).resolve().parent))
import _plotting

EXAMPLES = Path(__file__).resolve().parent
PICTURES = EXAMPLES.parent / "docs" / "images"
PREVIEW_DPI = 65


def load(name: str) -> ModuleType:
    """The example ``examples/<name>.py`` as a fresh module (its ``__main__`` block not run)."""
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def plotting_examples() -> list[str]:
    """The examples whose ``main`` takes ``plot``, by file name (read from the source, so
    that an example needing an extra that is not installed, SciPy say, is not imported)."""
    names = sorted(p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_"))
    return [name for name in names if name != Path(__file__).stem and _main_takes_plot(EXAMPLES / f"{name}.py")]


def _main_takes_plot(path: Path) -> bool:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name == "main":
            arguments = node.args
            return any(a.arg == "plot" for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs])
    return False


def render(name: str, directory: Path = PICTURES, dpi: int = PREVIEW_DPI) -> Path:
    """Run one example with ``plot=True`` and return the picture it saved in ``directory``."""
    with _plotting.saving_to(directory, dpi), contextlib.redirect_stdout(io.StringIO()):
        result = load(name).main(plot=True)
    path = result["plot"]
    if path is None:
        raise RuntimeError(f"{name} saved no picture: is matplotlib installed?")
    assert isinstance(path, Path)
    shrink(path)
    return path


def shrink(path: Path) -> None:
    """Rewrite the PNG at ``path`` with a 256-colour palette, about a third of the size."""
    from PIL import Image  # Pillow: a dependency of matplotlib

    with Image.open(path) as image:
        palette = image.convert("RGB").quantize(256)
    palette.save(path, optimize=True)


def main(names: list[str]) -> None:
    for name in names or plotting_examples():
        path = render(name)
        print(f"{path.relative_to(EXAMPLES.parent)}: {path.stat().st_size / 1024:.1f} KB")


if __name__ == "__main__":
    main(sys.argv[1:])

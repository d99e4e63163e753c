"""The README's examples index stays complete: every example listed, every plot pictured.

Each example that saves a plot (a ``_plotting.save(fig, "<name>")`` call in its source) must
have a committed preview ``docs/images/<name>.png``, made by examples/render_pictures.py and
shown on that example's row of the README table; every picture the README shows must exist.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from conftest import needs_matplotlib

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PICTURES = ROOT / "docs" / "images"
MAX_PICTURE_BYTES = 40_000
TOOLS = {"render_pictures"}  # scripts in examples/ that are not examples


def example_names() -> list[str]:
    return sorted(p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_") and p.stem not in TOOLS)


def plotted_names() -> dict[str, list[str]]:
    """Each example's ``_plotting.save`` names, read from its source."""
    return {name: re.findall(r'_plotting\.save\(\w+, "(\w+)"\)', (EXAMPLES / f"{name}.py").read_text())
            for name in example_names()}


def examples_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("\n## Examples\n")
    return readme[start:readme.index("\n## ", start + 1)]


def rows() -> dict[str, str]:
    """The examples table's rows, by the script they name."""
    found = {}
    for line in examples_section().splitlines():
        match = re.match(r"\| `(\w+)\.py` \|", line)
        if match:
            found[match.group(1)] = line
    return found


def referenced_pictures() -> list[str]:
    return re.findall(r'(?:src="|\]\()(docs/images/[^")]+)', examples_section())


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_every_example_is_in_the_index() -> None:
    assert "quickstart" in example_names() and "digits_classifier" in example_names()
    assert sorted(rows()) == example_names()


@pytest.mark.parametrize("name", example_names())
def test_each_plot_has_a_committed_picture_on_its_row(name: str) -> None:
    saved = plotted_names()[name]
    row = rows()[name]
    if not saved:  # quickstart: no plot, no picture
        assert "docs/images/" not in row
        return
    assert saved == [name]  # one plot, named after the script: examples/output/<name>.png
    picture = PICTURES / f"{name}.png"
    assert f'src="docs/images/{name}.png"' in row
    data = picture.read_bytes()
    png_size(data)
    assert 1000 < len(data) < MAX_PICTURE_BYTES


def test_the_pictures_shown_are_the_pictures_committed() -> None:
    shown = referenced_pictures()
    assert shown and len(shown) == len(set(shown))
    for picture in shown:
        assert (ROOT / picture).is_file(), picture
    committed = sorted(f"docs/images/{p.name}" for p in PICTURES.glob("*"))
    assert committed == sorted(shown)  # no stale picture left behind
    assert sorted(Path(p).stem for p in shown) == sorted(n for n, s in plotted_names().items() if s)


def test_render_pictures_covers_every_plotting_example(load_example: Callable[[str], ModuleType]) -> None:
    render_pictures = load_example("render_pictures")
    assert render_pictures.PICTURES == PICTURES
    assert render_pictures.plotting_examples() == sorted(n for n, s in plotted_names().items() if s)


@needs_matplotlib
def test_render_pictures_writes_a_small_preview(load_example: Callable[[str], ModuleType],
                                                tmp_path: Path) -> None:
    render_pictures = load_example("render_pictures")
    path = render_pictures.render("straight_line_program", tmp_path)
    assert path == tmp_path / "straight_line_program.png"
    data = path.read_bytes()
    # figsize (10, 4) at the preview resolution, the size of the committed picture
    dpi = render_pictures.PREVIEW_DPI
    assert png_size(data) == (10 * dpi, 4 * dpi) == png_size((PICTURES / path.name).read_bytes())
    assert data[25] == 3  # colour type 3: the 256-colour palette
    assert 1000 < len(data) < MAX_PICTURE_BYTES


@needs_matplotlib
def test_saving_to_redirects_only_inside_the_block(load_example: Callable[[str], ModuleType],
                                                   tmp_path: Path) -> None:
    import _plotting

    plt = _plotting.pyplot()
    assert plt is not None
    fig = plt.figure(figsize=(2, 1))
    with _plotting.saving_to(tmp_path, dpi=50):
        inside = _plotting.save(fig, "inside")
    assert inside == tmp_path / "inside.png"
    assert png_size(inside.read_bytes()) == (100, 50)
    assert not plt.fignum_exists(fig.number)  # save closes the figure
    result = load_example("straight_line_program").main(plot=True)
    assert result["plot"] == EXAMPLES / "output" / "straight_line_program.png"
    assert png_size(result["plot"].read_bytes()) == (1000, 400)  # dpi 100 again

"""Figures are written whole: a PNG appears under its name only once it is complete."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
from PIL import Image

from fakeimage.figures import save_figure


def test_save_figure_writes_a_png_closes_the_figure_and_leaves_no_temporary(
    tmp_path: Path,
) -> None:
    figure, axis = plt.subplots(figsize=(2, 2))
    axis.plot([0, 1], [1, 0])
    target = tmp_path / "deeper" / "line.png"

    assert save_figure(figure, target, dpi=50) == target

    with Image.open(target) as image:
        assert image.format == "PNG" and image.size == (100, 100)
    assert not plt.fignum_exists(figure.number)
    assert [p.name for p in target.parent.iterdir()] == ["line.png"]


def test_a_failed_render_leaves_the_previous_figure_in_place(tmp_path: Path) -> None:
    target = tmp_path / "line.png"
    target.write_bytes(b"previous")
    figure, axis = plt.subplots(figsize=(2, 2))
    axis.set_title("$\\unknowncommand$")  # mathtext fails only when drawn

    with pytest.raises(ValueError):
        save_figure(figure, target)

    assert not plt.fignum_exists(figure.number)  # closed even so
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["line.png"]

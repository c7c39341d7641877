"""The local check of honest answers: labelled images far from CIFAKE, one source per kind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from fakeimage.evaluation.far_images import SCREEN, build_far_images, draw_graphic, main
from fakeimage.evaluation.folders import load_labelled_images


def test_every_source_is_written_with_its_label_and_size(tmp_path: Path) -> None:
    counts = build_far_images(tmp_path / "far", per_source=4)
    assert counts == {
        "REAL/photo_full": counts["REAL/photo_full"],
        "REAL/photo_32": 4,
        "REAL/graphics_32": 4,
        "REAL/screenshot_full": 1,
        "FAKE/vae_32": 4,
        "FAKE/vae_256": 2,
    }
    assert counts["REAL/photo_full"] >= 3  # the photographs the installed packages ship
    images = load_labelled_images(tmp_path / "far")
    sizes = {}
    for source, label, size in zip(images.sources, images.data.y, images.sizes, strict=True):
        sizes.setdefault((int(label), source), set()).add(tuple(size))
    assert sizes[(0, "photo_32")] == sizes[(0, "graphics_32")] == sizes[(1, "vae_32")] == {(32, 32)}
    assert sizes[(0, "screenshot_full")] == {SCREEN} and sizes[(1, "vae_256")] == {(256, 256)}
    assert all(min(size) > 64 for size in sizes[(0, "photo_full")])


def test_graphics_are_seeded_and_varied() -> None:
    first = [np.asarray(draw_graphic(np.random.default_rng(s), (64, 64))) for s in range(8)]
    again = [np.asarray(draw_graphic(np.random.default_rng(s), (64, 64))) for s in range(8)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert len({image.tobytes() for image in first}) == 8


def test_the_command_refuses_a_folder_that_holds_files(tmp_path: Path, capsys) -> None:
    Image.new("RGB", (4, 4)).save(tmp_path / "mine.png")
    assert main([str(tmp_path)]) == 2
    assert "is not empty" in capsys.readouterr().err

"""Images far from CIFAKE, made from what this machine holds: a check of the uncertain answers.

`python -m fakeimage.evaluation.far_images OUT` writes a labelled folder with one source per
kind of image a user may send and CIFAKE never showed, then `fakeimage evaluate --model M
--data OUT` reports, per source, how many answers are right, uncertain, or confidently wrong:
- REAL/photo_full: the colour photographs scikit-image, scikit-learn and matplotlib ship, at
  full size (hundreds of pixels a side);
- REAL/photo_32: random crops of those photographs shrunk to 32x32 (real, but not CIFAR-10);
- REAL/graphics_32 and REAL/screenshot_full: charts, text, shapes and flat UI panels drawn
  here, shrunk to 32x32 or kept at screen size (made by people, not by a generator);
- FAKE/vae_32 and FAKE/vae_256: samples of a small VAE fitted here to the photo crops (the
  synthetic source's generator: machine-made, but not Stable Diffusion), at 32x32 and
  enlarged to 256x256 as an upscaled AI image would be.
Everything is seeded: the same seed writes the same images.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from fakeimage.config import SyntheticSource
from fakeimage.data.images import IMAGE_SIZE

SCREEN = (800, 600)
PALETTE = ((33, 150, 243), (244, 67, 54), (76, 175, 80), (255, 193, 7), (96, 125, 139))


def draw_graphic(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """One synthetic screen graphic: a chart, a text block, shapes or a flat UI panel."""
    width, height = size
    background = tuple(int(v) for v in rng.integers(200, 256, 3))
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    kind = rng.integers(4)
    colour = PALETTE[rng.integers(len(PALETTE))]
    if kind == 0:  # bar chart with axes
        bars = int(rng.integers(3, 9))
        step = width * 0.8 / bars
        draw.line([(width * 0.1, height * 0.9), (width * 0.95, height * 0.9)], (40, 40, 40), 2)
        draw.line([(width * 0.1, height * 0.1), (width * 0.1, height * 0.9)], (40, 40, 40), 2)
        for b in range(bars):
            top = height * (0.9 - 0.75 * rng.random())
            left = width * 0.12 + b * step
            draw.rectangle([left, top, left + step * 0.7, height * 0.9], fill=colour)
    elif kind == 1:  # line chart
        xs = np.linspace(width * 0.05, width * 0.95, 30)
        ys = height * (0.5 + 0.3 * np.sin(np.cumsum(rng.normal(0, 0.4, 30))))
        draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), colour, max(width // 100, 2))
        for y in np.linspace(height * 0.1, height * 0.9, 5):
            draw.line([(0, y), (width, y)], (180, 180, 180), 1)
    elif kind == 2:  # text lines, as in a document or a chat window
        line = max(height // 12, 10)
        for row in range(int(height // line) - 1):
            words = rng.integers(3, 9)
            text = " ".join(
                "".join(chr(c) for c in rng.integers(97, 123, rng.integers(2, 8)))
                for _ in range(words)
            )
            draw.text((width * 0.05, row * line + line * 0.5), text, fill=(20, 20, 20))
    else:  # flat panels and buttons
        for _ in range(int(rng.integers(3, 8))):
            x0, y0 = rng.random() * width * 0.8, rng.random() * height * 0.8
            x1, y1 = (
                x0 + width * (0.1 + 0.4 * rng.random()),
                y0 + height * (0.05 + 0.3 * rng.random()),
            )
            fill = PALETTE[rng.integers(len(PALETTE))]
            draw.rounded_rectangle([x0, y0, x1, y1], radius=max(width // 60, 2), fill=fill)
    return image


def _enlarged(pixels: np.ndarray, side: int) -> Image.Image:
    return Image.fromarray(pixels).resize((side, side), Image.Resampling.BICUBIC)


def build_far_images(out_dir: Path, *, seed: int = 0, per_source: int = 100) -> dict[str, int]:
    """Write the sources above under out_dir (REAL/<source>, FAKE/<source>); return counts."""
    from fakeimage.data.sources.synthetic import (
        generate_synthetic,
        load_photographs,
        random_crops,
    )

    rng = np.random.default_rng(seed)
    photos = [photo for split in load_photographs().values() for photo in split]
    sources: dict[str, list[Image.Image]] = {
        "REAL/photo_full": photos,
        "REAL/photo_32": [Image.fromarray(p) for p in random_crops(photos, per_source, rng)],
        "REAL/graphics_32": [
            draw_graphic(rng, (256, 256)).resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BOX)
            for _ in range(per_source)
        ],
        "REAL/screenshot_full": [draw_graphic(rng, SCREEN) for _ in range(per_source // 4)],
    }
    with tempfile.TemporaryDirectory(prefix="fakeimage-far-") as scratch:
        settings = SyntheticSource(
            train_per_class=max(2 * per_source, 10), test_per_class=per_source, seed=seed
        )
        generate_synthetic(Path(scratch), settings)
        fakes = sorted((Path(scratch) / "test" / "FAKE").iterdir())
        vae = [np.asarray(Image.open(path).convert("RGB")) for path in fakes]
    sources["FAKE/vae_32"] = [Image.fromarray(p) for p in vae]
    sources["FAKE/vae_256"] = [_enlarged(p, 256) for p in vae[: per_source // 2]]
    counts = {}
    for source, images in sources.items():
        folder = out_dir / source
        folder.mkdir(parents=True, exist_ok=True)
        for index, image in enumerate(images):
            image.save(folder / f"{index:04d}.png")
        counts[source] = len(images)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fakeimage.evaluation.far_images",
        description="Write labelled images far from CIFAKE, for `fakeimage evaluate --data`.",
    )
    parser.add_argument("out", type=Path, help="an empty or new folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-source", type=int, default=100)
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        print(f"far_images: error: {args.out} is not empty", file=sys.stderr)
        return 2
    from fakeimage.startup import import_tensorflow

    import_tensorflow()
    counts = build_far_images(args.out, seed=args.seed, per_source=args.per_source)
    listing = ", ".join(f"{source} {count}" for source, count in counts.items())
    print(f"far_images: wrote {listing} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

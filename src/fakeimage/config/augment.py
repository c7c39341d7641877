"""`train.augment`: what training images go through (see fakeimage.training.pipeline/degrade)."""

from __future__ import annotations

from typing import Any, Literal

from fakeimage.config.checks import Pair, Real, Section, Several
from fakeimage.config.checks import require as _require

ResizeFilter = Literal["bilinear", "bicubic", "area", "lanczos3"]


def _require_range(
    bounds: tuple[float, float], low: float, high: float, key: str, what: str = "values"
) -> None:
    _require(
        len(bounds) == 2 and low <= bounds[0] <= bounds[1] <= high,
        f"train.augment.{key} must be [min, max] {what} with {low:g} <= min <= max <= {high:g}",
    )


def _require_probability(p: float, key: str) -> None:
    _require(0 <= p <= 1, f"train.augment.{key}.p must be in [0, 1]")


class JpegParams(Section):
    """Re-encoding as JPEG at a quality drawn from [min, max]."""

    p: Real = 0.0
    quality: Pair[int] = (30, 95)

    def model_post_init(self, context: Any) -> None:
        _require_probability(self.p, "jpeg")
        _require_range(self.quality, 1, 100, "jpeg.quality", "qualities")


class ResizeParams(Section):
    """Shrinking by a factor drawn from `scale`, then enlarging back, with one of `filters`."""

    p: Real = 0.0
    scale: Pair[Real] = (0.5, 0.9)
    filters: Several[ResizeFilter] = ("bilinear", "bicubic", "area")

    def model_post_init(self, context: Any) -> None:
        _require_probability(self.p, "resize")
        _require_range(self.scale, 0.125, 1, "resize.scale", "factors")
        _require(len(self.filters) >= 1, "train.augment.resize.filters must name a filter")


class BlurParams(Section):
    """Gaussian blur with a radius (standard deviation, pixels) drawn from [min, max]."""

    p: Real = 0.0
    radius: Pair[Real] = (0.3, 1.2)

    def model_post_init(self, context: Any) -> None:
        _require_probability(self.p, "blur")
        _require_range(self.radius, 0.05, 1.33, "blur.radius", "radii")


class NoiseParams(Section):
    """Gaussian noise with a standard deviation (0..255 levels) drawn from [min, max]."""

    p: Real = 0.0
    sigma: Pair[Real] = (1.0, 10.0)

    def model_post_init(self, context: Any) -> None:
        _require_probability(self.p, "noise")
        _require_range(self.sigma, 0, 64, "noise.sigma", "levels")


class CropParams(Section):
    """A square of a fraction of the side drawn from [min, max], enlarged back to 32x32."""

    p: Real = 0.0
    fraction: Pair[Real] = (0.75, 0.95)

    def model_post_init(self, context: Any) -> None:
        _require_probability(self.p, "crop")
        _require_range(self.fraction, 0.25, 1, "crop.fraction", "fractions")


class ColorParams(Section):
    """Brightness and contrast scaled by factors drawn from 1 +/- each amount."""

    p: Real = 0.0
    brightness: Real = 0.2
    contrast: Real = 0.2

    def model_post_init(self, context: Any) -> None:
        _require_probability(self.p, "color")
        _require(0 <= self.brightness < 1, "train.augment.color.brightness must be in [0, 1)")
        _require(0 <= self.contrast < 1, "train.augment.color.contrast must be in [0, 1)")


class AugmentParams(Section):
    """Flips and padded crops (which move pixels without resampling them) and, each with its
    own probability, the degradations real uploads suffer (see fakeimage.training.degrade)."""

    flip: bool = True
    crop_padding: int = 2
    jpeg: JpegParams = JpegParams()
    resize: ResizeParams = ResizeParams()
    blur: BlurParams = BlurParams()
    noise: NoiseParams = NoiseParams()
    crop: CropParams = CropParams()
    color: ColorParams = ColorParams()

    def model_post_init(self, context: Any) -> None:
        _require(0 <= self.crop_padding <= 8, "train.augment.crop_padding must be in [0, 8]")

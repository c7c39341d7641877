"""`train.augment`: what training images go through (see fakeimage.training.pipeline/degrade)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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


@dataclass(frozen=True)
class JpegParams:
    """Re-encoding as JPEG at a quality drawn from [min, max]."""

    p: float = 0.0
    quality: tuple[int, int] = (30, 95)

    def __post_init__(self) -> None:
        _require_probability(self.p, "jpeg")
        _require_range(self.quality, 1, 100, "jpeg.quality", "qualities")


@dataclass(frozen=True)
class ResizeParams:
    """Shrinking by a factor drawn from `scale`, then enlarging back, with one of `filters`."""

    p: float = 0.0
    scale: tuple[float, float] = (0.5, 0.9)
    filters: tuple[ResizeFilter, ...] = ("bilinear", "bicubic", "area")

    def __post_init__(self) -> None:
        _require_probability(self.p, "resize")
        _require_range(self.scale, 0.125, 1, "resize.scale", "factors")
        _require(len(self.filters) >= 1, "train.augment.resize.filters must name a filter")


@dataclass(frozen=True)
class BlurParams:
    """Gaussian blur with a radius (standard deviation, pixels) drawn from [min, max]."""

    p: float = 0.0
    radius: tuple[float, float] = (0.3, 1.2)

    def __post_init__(self) -> None:
        _require_probability(self.p, "blur")
        _require_range(self.radius, 0.05, 1.33, "blur.radius", "radii")


@dataclass(frozen=True)
class NoiseParams:
    """Gaussian noise with a standard deviation (0..255 levels) drawn from [min, max]."""

    p: float = 0.0
    sigma: tuple[float, float] = (1.0, 10.0)

    def __post_init__(self) -> None:
        _require_probability(self.p, "noise")
        _require_range(self.sigma, 0, 64, "noise.sigma", "levels")


@dataclass(frozen=True)
class CropParams:
    """A square of a fraction of the side drawn from [min, max], enlarged back to 32x32."""

    p: float = 0.0
    fraction: tuple[float, float] = (0.75, 0.95)

    def __post_init__(self) -> None:
        _require_probability(self.p, "crop")
        _require_range(self.fraction, 0.25, 1, "crop.fraction", "fractions")


@dataclass(frozen=True)
class ColorParams:
    """Brightness and contrast scaled by factors drawn from 1 +/- each amount."""

    p: float = 0.0
    brightness: float = 0.2
    contrast: float = 0.2

    def __post_init__(self) -> None:
        _require_probability(self.p, "color")
        _require(0 <= self.brightness < 1, "train.augment.color.brightness must be in [0, 1)")
        _require(0 <= self.contrast < 1, "train.augment.color.contrast must be in [0, 1)")


@dataclass(frozen=True)
class AugmentParams:
    """Flips and padded crops (which move pixels without resampling them) and, each with its
    own probability, the degradations real uploads suffer (see fakeimage.training.degrade)."""

    flip: bool = True
    crop_padding: int = 2
    jpeg: JpegParams = field(default_factory=JpegParams)
    resize: ResizeParams = field(default_factory=ResizeParams)
    blur: BlurParams = field(default_factory=BlurParams)
    noise: NoiseParams = field(default_factory=NoiseParams)
    crop: CropParams = field(default_factory=CropParams)
    color: ColorParams = field(default_factory=ColorParams)

    def __post_init__(self) -> None:
        _require(0 <= self.crop_padding <= 8, "train.augment.crop_padding must be in [0, 8]")

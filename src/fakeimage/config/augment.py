"""`train.augment`: what training images go through (see fakeimage.training.pipeline/degrade)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from fakeimage.config.checks import Pair, Probability, Real, Section, Several, within

ResizeFilter = Literal["bilinear", "bicubic", "area", "lanczos3"]
Amount = Annotated[Real, Field(ge=0, lt=1)]
"""A change by a factor drawn from 1 +/- this: below 1, so the factor stays positive."""


def _named(filters: tuple[ResizeFilter, ...]) -> tuple[ResizeFilter, ...]:
    if not filters:
        raise ValueError("must name a filter")
    return filters


class JpegParams(Section):
    """Re-encoding as JPEG at a quality drawn from [min, max]."""

    p: Probability = 0.0
    quality: Annotated[Pair[int], within(1, 100, "qualities")] = (30, 95)


class ResizeParams(Section):
    """Shrinking by a factor drawn from `scale`, then enlarging back, with one of `filters`."""

    p: Probability = 0.0
    scale: Annotated[Pair[Real], within(0.125, 1, "factors")] = (0.5, 0.9)
    filters: Annotated[Several[ResizeFilter], AfterValidator(_named)] = (
        "bilinear",
        "bicubic",
        "area",
    )


class BlurParams(Section):
    """Gaussian blur with a radius (standard deviation, pixels) drawn from [min, max]."""

    p: Probability = 0.0
    radius: Annotated[Pair[Real], within(0.05, 1.33, "radii")] = (0.3, 1.2)


class NoiseParams(Section):
    """Gaussian noise with a standard deviation (0..255 levels) drawn from [min, max]."""

    p: Probability = 0.0
    sigma: Annotated[Pair[Real], within(0, 64, "levels")] = (1.0, 10.0)


class CropParams(Section):
    """A square of a fraction of the side drawn from [min, max], enlarged back to 32x32."""

    p: Probability = 0.0
    fraction: Annotated[Pair[Real], within(0.25, 1, "fractions")] = (0.75, 0.95)


class ColorParams(Section):
    """Brightness and contrast scaled by factors drawn from 1 +/- each amount."""

    p: Probability = 0.0
    brightness: Amount = 0.2
    contrast: Amount = 0.2


class AugmentParams(Section):
    """Flips and padded crops (which move pixels without resampling them) and, each with its
    own probability, the degradations real uploads suffer (see fakeimage.training.degrade)."""

    flip: bool = True
    crop_padding: Annotated[int, Field(ge=0, le=8)] = 2
    jpeg: JpegParams = JpegParams()
    resize: ResizeParams = ResizeParams()
    blur: BlurParams = BlurParams()
    noise: NoiseParams = NoiseParams()
    crop: CropParams = CropParams()
    color: ColorParams = ColorParams()

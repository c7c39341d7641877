"""`zoo`: the generators trained here on CIFAKE's REAL images, whose samples become FAKE sources.

The default is an empty list: `make run` must stay within its few minutes, and a zoo worth
training takes over an hour of CPU (docs/generator-zoo.md sizes one). Each generator is one
entry; its `name` (the family unless given) is its folder under `FAKE/` and its checkpoint's.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from fakeimage.config.checks import Section, Several, first_repeated

Family = Literal["dcgan", "upsample_gan", "ddpm", "vae"]
"""dcgan: transposed convolutions; upsample_gan: resize then convolve, spectral-norm critic;
ddpm: pixel-space diffusion sampled by DDIM; vae: a likelihood model."""

DEFAULT_SAMPLING_STEPS = 25

SOURCE_NAME = r"^[a-z0-9][a-z0-9_-]*$"
"""A generator's folder name: lower case, so it never collides with REAL/ or FAKE/."""


class GeneratorParams(Section):
    """One generator of the zoo: what it learns from, how long, and how many samples it gives."""

    family: Family
    name: Annotated[str, Field(pattern=SOURCE_NAME)] | None = None
    """Its folder under FAKE/ (and its checkpoint's); the family's name when not given."""
    epochs: Annotated[int, Field(ge=1)] = 10
    train_images: Annotated[int, Field(ge=16)] = 5000
    """At most this many REAL train images, a seeded draw (all of them when there are fewer)."""
    batch_size: Annotated[int, Field(ge=2, le=1024)] = 64
    width: Annotated[int, Field(ge=8, le=256)] = 32
    """Base filters of its networks: cost grows with its square."""
    samples_train: Annotated[int, Field(ge=0)] = 4000
    samples_test: Annotated[int, Field(ge=0)] = 1000
    seed: int = 0
    sampling_steps: Annotated[int, Field(ge=1, le=1000)] | None = None
    """ddpm only: DDIM steps per sample (the model trains on 1000); 25 when not given."""

    @model_validator(mode="before")
    @classmethod
    def _known_keys_and_family(cls, raw: Any) -> Any:
        """Word these two as config.loader does for a section: it does not look inside lists."""
        if not isinstance(raw, dict):
            return raw
        if unknown := sorted(str(key) for key in raw if key not in cls.model_fields):
            known = ", ".join(sorted(cls.model_fields))
            raise ValueError(f"has an unknown key {unknown[0]!r} (known here: {known})")
        family, choices = raw.get("family"), typing.get_args(Family)
        if family is not None and family not in choices:
            expected = ", ".join(repr(choice) for choice in choices)
            raise ValueError(f"family is {family!r}; expected one of {expected}")
        return raw

    @model_validator(mode="after")
    def _steps_for_diffusion(self) -> GeneratorParams:
        if self.family != "ddpm" and self.sampling_steps is not None:
            raise ValueError(f"sampling_steps is for ddpm only, not {self.family}")
        return self

    @property
    def steps(self) -> int:
        """DDIM steps per sample of a ddpm."""
        return self.sampling_steps or DEFAULT_SAMPLING_STEPS

    @property
    def source(self) -> str:
        return self.name or self.family


class ZooParams(Section):
    generators: Several[GeneratorParams] = ()
    quality_images: Annotated[int, Field(ge=20)] = 2000
    """Samples (and as many REAL images) the quality check compares per generator, at most."""

    @model_validator(mode="after")
    def _names_unique(self) -> ZooParams:
        if repeated := first_repeated([generator.source for generator in self.generators]):
            raise ValueError(f"zoo.generators names {repeated!r} twice: give each its own `name`")
        return self

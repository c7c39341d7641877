"""Each family's model by its name in params.yaml (`zoo.generators[].family`)."""

from __future__ import annotations

from typing import assert_never

from fakeimage.config import GeneratorParams
from fakeimage.generators import diffusion, gan, vae
from fakeimage.generators.base import GenerativeModel


def build_model(settings: GeneratorParams) -> GenerativeModel:
    """The family's networks and optimisers, freshly built and seeded by `settings.seed`."""
    match settings.family:
        case "dcgan":
            return gan.dcgan(settings)
        case "upsample_gan":
            return gan.upsample_gan(settings)
        case "ddpm":
            return diffusion.Diffusion(settings)
        case "vae":
            return vae.Vae(settings)
        case family:
            assert_never(family)

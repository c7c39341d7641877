"""fetch: deliver the images of `data.source` into data/raw in CIFAKE layout."""

from fakeimage.config import Params
from fakeimage.data.sources import fetch
from fakeimage.paths import DOWNLOADS_DIR, RAW_DIR


def run(params: Params) -> None:
    counts = fetch(params.data, RAW_DIR, DOWNLOADS_DIR)
    listing = ", ".join(f"{name}: {n:,}" for name, n in counts.items())
    print(f"fetch: {sum(counts.values()):,} images from '{params.data.source.kind}' ({listing})")

"""`data.source`: where the images come from, one model per kind, told apart by `kind`.

Each kind has only its own keys, and those it cannot work without have no default, so an
archive without a path or a URL that is not http(s) fails when params.yaml is read, not
minutes later in the fetch stage. What only fetching can tell (a file that is not there, a
checksum that does not match) is left to fakeimage.data.sources.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import AfterValidator, Field

from fakeimage.config.checks import Section

CIFAKE_ON_KAGGLE = "birdy654/cifake-real-and-ai-generated-synthetic-images"


def _http(url: str) -> str:
    if urlparse(url).scheme not in ("http", "https"):
        raise ValueError(f"must be an http(s) URL, got {url!r}")
    return url


def _owner_and_name(dataset: str) -> str:
    owner, _, name = dataset.partition("/")
    if not owner or not name or "/" in name:
        raise ValueError(f"must look like 'owner/name', got {dataset!r}")
    return dataset


def _given(what: str) -> Any:
    """A value that must be there; `what` completes the loader's "is not set: give ..."."""
    return Field(min_length=1, description=what)


class EmbeddedSource(Section):
    """The 4,000 real CIFAKE images in data/embedded (the default)."""

    kind: Literal["embedded"] = "embedded"


class ArchiveSource(Section):
    """A local zip or tar archive in CIFAKE layout."""

    kind: Literal["archive"] = "archive"
    path: Annotated[str, _given("a local zip or tar file")]
    sha256: str | None = None
    """If set, the archive must have this checksum."""


class FolderSource(Section):
    """A local folder in CIFAKE layout, copied (never moved)."""

    kind: Literal["folder"] = "folder"
    path: Annotated[str, _given("a folder in CIFAKE layout")]


class UrlSource(Section):
    """A zip or tar archive downloaded over http(s), checked against its sha256."""

    kind: Literal["url"] = "url"
    url: Annotated[str, _given("an http(s) URL of a zip or tar archive"), AfterValidator(_http)]
    sha256: Annotated[str, _given("the archive's expected sha256")]


class KaggleSource(Section):
    """A Kaggle dataset's zip (needs a Kaggle API token), CIFAKE itself unless told otherwise."""

    kind: Literal["kaggle"] = "kaggle"
    dataset: Annotated[str, AfterValidator(_owner_and_name)] = CIFAKE_ON_KAGGLE
    sha256: str | None = None


class SyntheticSource(Section):
    """A stand-in made on the spot: crops of bundled photographs vs. a small VAE's samples."""

    kind: Literal["synthetic"] = "synthetic"
    train_per_class: Annotated[int, Field(ge=10)] = 1000
    test_per_class: Annotated[int, Field(ge=2)] = 250
    generator_epochs: Annotated[int, Field(ge=1)] = 40
    seed: int = 0


Source = Annotated[
    EmbeddedSource | ArchiveSource | FolderSource | UrlSource | KaggleSource | SyntheticSource,
    Field(discriminator="kind"),
]
"""`data.source`: one of the kinds above, chosen by its `kind` key."""

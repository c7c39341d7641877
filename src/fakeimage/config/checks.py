"""What every section of params.yaml shares: strict, frozen pydantic models that forbid
unknown keys, the YAML-friendly value types, and the [min, max] ranges.

Ranges are declared on the fields (`Field(ge=..., lt=...)`, :func:`within`), not checked by
hand, so the bounds live next to the defaults and `config.loader` can word every violation
the same way from the constraints themselves.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

T = TypeVar("T")


class Section(BaseModel):
    """A section of params.yaml: no coercion, no unknown keys, immutable once read."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


def _yaml_float(value: Any) -> Any:
    """YAML 1.1 reads 1e-05 (as `dvc exp run -S` writes it) as text: read it as a number."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _listed(value: Any) -> Any:
    """YAML has lists, not tuples: a list stands for a tuple field."""
    return tuple(value) if isinstance(value, list) else value


Real = Annotated[float, BeforeValidator(_yaml_float)]
"""A float field: ints are accepted and stored as floats, as is 1e-05 written as text."""
Pair = Annotated[tuple[T, T], BeforeValidator(_listed)]
"""[min, max] in params.yaml."""
Several = Annotated[tuple[T, ...], BeforeValidator(_listed)]
"""A list of any length in params.yaml."""
Probability = Annotated[Real, Field(ge=0, le=1)]
"""A share of images, 0 (never) to 1 (always)."""


def within(low: float, high: float, what: str = "values") -> AfterValidator:
    """A [min, max] pair's check: `low <= min <= max <= high`, e.g.
    `Annotated[Pair[int], within(1, 100, "qualities")]`. Like every check a validator makes,
    it fails with a ValueError whose text the loader puts after the key."""

    def ordered(bounds: tuple[float, float]) -> tuple[float, float]:
        if not low <= bounds[0] <= bounds[1] <= high:
            raise ValueError(f"must be [min, max] {what} with {low:g} <= min <= max <= {high:g}")
        return bounds

    return AfterValidator(ordered)


def first_repeated(names: list[str]) -> str | None:
    """The first (in sort order) of the names given more than once, if any: lists whose
    entries are told apart by name (data.sources, zoo.generators) refuse a repeat."""
    return min((name for name in set(names) if names.count(name) > 1), default=None)

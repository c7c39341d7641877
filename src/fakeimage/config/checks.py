"""What every section of params.yaml shares: strict, frozen pydantic models that forbid
unknown keys, the YAML-friendly value types, and the one way a range check fails."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict

from fakeimage.errors import UserError

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


def require(condition: bool, message: str) -> None:
    if not condition:
        raise UserError(f"params.yaml: {message}")

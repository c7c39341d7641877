"""Copies of pydantic records with some fields changed, validated like new ones.

`model_copy(update=...)` skips validation: a strict, frozen record (a params section, a model
card) could come out holding a value its own checks would refuse. :func:`replace` builds the
copy through `model_validate`, so every field check and model validator runs again.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

R = TypeVar("R", bound=BaseModel)


def replace(record: R, **changes: Any) -> R:
    """A copy of `record` with `changes`, validated as a new record of its type.

    The fields are handed over as they are (nested records stay records, tuples tuples), so
    strict models accept the unchanged ones; a misspelt field name is refused, not ignored.
    """
    unknown = sorted(changes.keys() - type(record).model_fields.keys())
    if unknown:
        raise TypeError(f"{type(record).__name__} has no field {', '.join(unknown)}")
    return type(record).model_validate({**dict(record), **changes})

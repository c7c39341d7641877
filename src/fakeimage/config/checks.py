"""The one way a params check fails: UserError, one line naming the key."""

from __future__ import annotations

from fakeimage.errors import UserError


def require(condition: bool, message: str) -> None:
    if not condition:
        raise UserError(f"params.yaml: {message}")

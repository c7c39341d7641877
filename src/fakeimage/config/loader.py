"""Reading params.yaml into :class:`Params`, rejecting what does not fit it."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from fakeimage.config.params import Params
from fakeimage.errors import UserError


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml; raise UserError with one line on any problem."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} not found: run from the project root, or pass --params PATH")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise UserError(f"{path} is not valid YAML{where}: fix its syntax") from None
    return parse_params(raw)


def parse_params(raw: Any) -> Params:
    """Build :class:`Params` from a parsed mapping (params.yaml's content)."""
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        raise UserError(f"params.yaml: {_describe(exc.errors()[0])}") from None


_TYPE_NAMES = {"int_type": "int", "float_type": "float", "bool_type": "bool", "string_type": "str"}


def _describe(error: Any) -> str:
    """One line for pydantic's first complaint, naming the dotted key as params.yaml spells it."""
    location = [part for part in error["loc"] if isinstance(part, str | int)]
    path = [str(part) for part in location]
    key = ".".join(path) or "the top level"
    value, kind = error["input"], error["type"]
    if kind == "extra_forbidden":
        known = ", ".join(sorted(_section(location[:-1]).model_fields))
        return f"unknown key '{key}' (known here: {known})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{key} must be a mapping, got {type(value).__name__}"
    if kind == "literal_error":
        field = _section(location[:-1]).model_fields[str(location[-1])]
        choices = ", ".join(repr(choice) for choice in typing.get_args(field.annotation))
        return f"{key} is {value!r}; expected one of {choices}"
    if kind in ("too_short", "too_long"):
        expected = error["ctx"].get("min_length", error["ctx"].get("max_length"))
        return f"{key} must hold {expected} values, got {len(value)}"
    if kind == "tuple_type":
        return f"{key} must be a list, got {type(value).__name__}"
    if kind in _TYPE_NAMES:
        return f"{key} must be {_TYPE_NAMES[kind]}, got {type(value).__name__} {value!r}"
    return f"{key}: {error['msg']}"


def _section(location: list[str | int]) -> type[BaseModel]:
    """The section model at a dotted location (a tuple item's location ends at its field)."""
    section: type[BaseModel] = Params
    for part in location:
        annotation = section.model_fields[str(part)].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            break
        section = annotation
    return section


def params_to_dict(params: Params | dict[str, Any]) -> dict[str, Any]:
    """Flatten params (or their nested dict) into dotted keys, as MLflow logs them."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        else:
            flat[prefix] = value

    walk("", params if isinstance(params, dict) else params.model_dump())
    return flat

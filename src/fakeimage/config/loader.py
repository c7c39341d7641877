"""Reading params.yaml into :class:`Params`, rejecting what does not fit it.

The models declare their rules (types, choices, ranges, required keys); this module only
words pydantic's complaints as one line naming the key as params.yaml spells it, taking the
bounds, choices and hints from the field itself so each rule is written once.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import annotated_types
import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

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
        errors = exc.errors()
        # A misspelt key usually explains the rest (a required key "missing"): name it first.
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        raise UserError(f"params.yaml: {_describe(first)}") from None


_TYPE_NAMES = {"int_type": "int", "float_type": "float", "bool_type": "bool", "string_type": "str"}
_RANGES = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


@dataclass
class _Place:
    """Where an error points: the key's parts, the section holding the last one, its field
    (None at the top level), and whether the key names a whole section."""

    names: list[str]
    holder: type[BaseModel]
    field: FieldInfo | None
    is_section: bool


def _place(location: tuple[Any, ...]) -> _Place:
    """Follow pydantic's error location through the sections. A discriminated union puts the
    chosen tag after its key (data.source.archive.path): that part is no key, so it is
    dropped, and the walk goes on in the member the tag chose."""
    place = _Place([], Params, None, True)
    current: type[BaseModel] | None = Params
    members: dict[str, type[BaseModel]] | None = None
    for part in location:
        if members is not None:  # the tag
            current = place.holder = members[str(part)]
            members = None
            continue
        place.names.append(str(part))
        if current is None:  # inside a list: no more sections below
            continue
        place.holder, place.field = current, current.model_fields.get(str(part))
        current = _model(place.field.annotation) if place.field else None
        members = _members(place.field)
    place.is_section = current is not None
    return place


def _model(annotation: Any) -> type[BaseModel] | None:
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def _members(field: FieldInfo | None) -> dict[str, type[BaseModel]] | None:
    """A discriminated union's members by tag, in the order the union lists them."""
    if field is None or not isinstance(field.discriminator, str):
        return None
    return {
        _choices(member.model_fields[field.discriminator].annotation)[0]: member
        for member in typing.get_args(field.annotation)
    }


def _choices(annotation: Any) -> tuple[Any, ...]:
    """The values of the Literal in an annotation (also of a list's items)."""
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    for inner in typing.get_args(annotation):
        if choices := _choices(inner):
            return choices
    return ()


def _listed(choices: Any) -> str:
    return ", ".join(repr(choice) for choice in choices)


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


_BOUNDS = {  # constraint: (bracket in an interval, operator alone, the bound's attribute)
    annotated_types.Ge: ("[", ">=", "ge"),
    annotated_types.Gt: ("(", ">", "gt"),
    annotated_types.Le: ("]", "<=", "le"),
    annotated_types.Lt: (")", "<", "lt"),
}


def _bounds(field: FieldInfo) -> str | None:
    """A field's range as its constraints declare it: `must be in [0, 0.5)`, `must be > 0`."""
    low = high = None
    for rule in field.metadata:
        if type(rule) in _BOUNDS:
            bracket, operator, attribute = _BOUNDS[type(rule)]
            side = (bracket, operator, _number(getattr(rule, attribute)))
            low, high = (side, high) if attribute[0] == "g" else (low, side)
    if low and high:
        return f"must be in {low[0]}{low[2]}, {high[2]}{high[0]}"
    if bound := low or high:
        return f"must be {bound[1]} {bound[2]}"
    return None


def _describe(error: Any) -> str:
    """One line for one of pydantic's complaints, naming the dotted key."""
    place = _place(tuple(part for part in error["loc"] if isinstance(part, str | int)))
    key = ".".join(place.names) or "the top level"
    value, kind, field = error["input"], error["type"], place.field
    if kind == "extra_forbidden":
        return f"unknown key '{key}' (known here: {', '.join(sorted(place.holder.model_fields))})"
    if kind == "missing" and isinstance(error["loc"][-1], int) and field is not None:
        expected = len(typing.get_args(field.annotation))  # a [min, max] pair given one value
        return f"{'.'.join(place.names[:-1])} must hold {expected} values, got {len(value)}"
    unset = value is None and field is not None and field.is_required()  # `path: null`
    if kind in ("missing", "string_too_short") or unset:
        hint = f": give {field.description}" if field and field.description else ""
        return f"{key} is not set{hint}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        assert field is not None and isinstance(field.discriminator, str)
        tag, choices = field.discriminator, _listed(_members(field) or ())
        if kind == "union_tag_not_found":
            return f"{key}.{tag} is not set; expected one of {choices}"
        return f"{key}.{tag} is {value[tag]!r}; expected one of {choices}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        members = _members(field)
        what = f" with a {field.discriminator} ({_listed(members)})" if field and members else ""
        return f"{key} must be a mapping{what}, got {type(value).__name__}"
    if kind == "literal_error":
        assert field is not None
        return f"{key} is {value!r}; expected one of {_listed(_choices(field.annotation))}"
    if kind in _RANGES and field is not None and (bounds := _bounds(field)):
        return f"{key} {bounds}"
    if kind == "value_error":  # a validator's own words: after the key, or whole for a section
        text = str(error["ctx"]["error"])
        return text if place.is_section else f"{key} {text}"
    if kind in ("too_short", "too_long"):
        expected = error["ctx"].get("min_length", error["ctx"].get("max_length"))
        return f"{key} must hold {expected} values, got {len(value)}"
    if kind == "tuple_type":
        return f"{key} must be a list, got {type(value).__name__}"
    if kind in _TYPE_NAMES:
        return f"{key} must be {_TYPE_NAMES[kind]}, got {type(value).__name__} {value!r}"
    return f"{key}: {error['msg']}"


def params_to_dict(params: Params | dict[str, Any]) -> dict[str, Any]:
    """Flatten params (or their nested dict) into dotted keys, as MLflow logs them; values as
    params.yaml writes them (lists, not tuples)."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        else:
            flat[prefix] = value

    walk("", params if isinstance(params, dict) else params.model_dump(mode="json"))
    return flat

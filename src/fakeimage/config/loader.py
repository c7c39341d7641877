"""Reading params.yaml into :class:`Params`, rejecting what does not fit it."""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import yaml

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
    return _build(Params, raw, "")


def params_to_dict(params: Params | dict[str, Any]) -> dict[str, Any]:
    """Flatten params (or their nested dict) into dotted keys, as MLflow logs them."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        else:
            flat[prefix] = value

    walk("", params if isinstance(params, dict) else dataclasses.asdict(params))
    return flat


def _build(cls: type, raw: Any, where: str) -> Any:
    label = where or "the top level"
    if not isinstance(raw, dict):
        raise UserError(f"params.yaml: {label} must be a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - fields, key=str)
    if unknown:
        key = f"{where}.{unknown[0]}" if where else str(unknown[0])
        raise UserError(
            f"params.yaml: unknown key '{key}' (known here: {', '.join(sorted(fields))})"
        )
    values = {}
    for name, value in raw.items():
        key = f"{where}.{name}" if where else name
        values[name] = _coerce(hints[name], value, key)
    return cls(**values)


def _coerce(hint: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key)
    if origin is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            options = ", ".join(repr(c) for c in choices)
            raise UserError(f"params.yaml: {key} is {value!r}; expected one of {options}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise UserError(f"params.yaml: {key} must be a list, got {type(value).__name__}")
        args = typing.get_args(hint)
        kinds = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(kinds) != len(value):
            raise UserError(f"params.yaml: {key} must hold {len(kinds)} values, got {len(value)}")
        return tuple(
            _coerce(kind, item, f"{key}[{i}]")
            for i, (kind, item) in enumerate(zip(kinds, value, strict=True))
        )
    if origin in (Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, key)
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-05 (as `dvc exp run -S` writes) as text
            value = _parse_float(value)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif hint is str:
        ok = isinstance(value, str)
    else:  # pragma: no cover - a new field type needs a branch here
        raise TypeError(f"unsupported params type {hint!r} for {key}")
    if not ok:
        raise UserError(
            f"params.yaml: {key} must be {hint.__name__}, got {type(value).__name__} {value!r}"
        )
    return value


def _parse_float(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text

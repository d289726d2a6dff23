"""The world's plain records (tickets, codes, tokens) to and from JSON, for `make dev`'s saved state.

Reading checks every field's type against the record's annotations, so a damaged or foreign file
is refused with a ValueError at start rather than failing later inside a request.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from infra.sandbox.state.errors import JSON


def dump(record: Any) -> JSON:
    """A dataclass record as a JSON object."""
    value: JSON = dataclasses.asdict(record)
    return value


def load[T](cls: type[T], data: Any) -> T:
    """The record `cls` from `dump`'s JSON object; ValueError when a field is missing or mistyped."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name not in data:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ValueError(f"{cls.__name__}: {field.name} is missing")
            continue
        values[field.name] = checked(data[field.name], hints[field.name], f"{cls.__name__}.{field.name}")
    unknown = set(data) - {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown fields {sorted(unknown)}")
    return cls(**values)


def checked(value: Any, kind: Any, where: str) -> Any:
    """`value` if it is of type `kind`: str, int, float, bool, a record, X | None, list[X], dict[K, X]."""
    if kind is Any:
        return value
    if isinstance(kind, types.UnionType):
        for option in typing.get_args(kind):
            try:
                return checked(value, option, where)
            except ValueError:
                continue
        raise ValueError(f"{where}: {value!r} is not {kind}")
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return load(kind, value)
    origin = typing.get_origin(kind)
    if origin is list and isinstance(value, list):
        (item,) = typing.get_args(kind)
        return [checked(v, item, where) for v in value]
    if origin is dict and isinstance(value, dict):
        key, item = typing.get_args(kind)
        return {checked(k, key, where): checked(v, item, where) for k, v in value.items()}
    if kind is type(None) and value is None:
        return None
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind in (str, int, bool) and type(value) is kind:
        return value
    raise ValueError(f"{where}: {value!r} is not {getattr(kind, '__name__', kind)}")

"""The base of every typed result: API camelCase <-> snake_case, tolerant of fields it lacks.

A result keeps what it does not know in ``extra`` (the API's own keys and values), so a newer
server that sends more fields, or a value of an unexpected type, never breaks parsing, and
:meth:`ApiModel.to_api` gives back what the server sent.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Self, TypeVar

_M = TypeVar("_M", bound="ApiModel")
Converter = Callable[[Any], Any]


class _Unparsable(Exception):
    """A value that does not fit its field's type; it goes to ``extra`` instead."""


def camel_case(name: str) -> str:
    """``current_temp_c`` -> ``currentTempC``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def snake_case(name: str) -> str:
    """``currentTempC`` -> ``current_temp_c``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def parse_datetime(value: str) -> datetime:
    """ISO-8601 with ``Z`` or an offset, as an aware UTC datetime (naive input taken as UTC)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def api_field(key: str, **kwargs: Any) -> Any:
    """A dataclass field whose API name is not the camelCase of its Python name."""
    metadata = {"api": key, **kwargs.pop("metadata", {})}
    return dataclasses.field(metadata=metadata, **kwargs)


@dataclasses.dataclass(kw_only=True)
class ApiModel:
    """Base of the SDK's results: build them with :meth:`from_api`."""

    extra: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)
    """Fields this SDK version does not know, or values that did not fit, keyed as in the API."""

    _plans: ClassVar[dict[type, tuple[tuple[str, str, Converter], ...]]] = {}

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Self:
        """Parse one API object (a mapping with camelCase keys)."""
        if not isinstance(data, Mapping):
            raise TypeError(f"{cls.__name__} expects a JSON object, got {type(data).__name__}")
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        known: set[str] = set()
        for attribute, key, convert in _plan(cls):
            known.add(key)
            if key not in data:
                continue
            try:
                values[attribute] = convert(data[key])
            except _Unparsable:
                extra[key] = data[key]
        extra.update({k: v for k, v in data.items() if k not in known})
        return cls(**values, extra=extra)

    @classmethod
    def from_api_list(cls, data: Any) -> list[Self]:
        if not isinstance(data, list):
            raise TypeError(f"expected a JSON array of {cls.__name__}, got {type(data).__name__}")
        return [cls.from_api(item) for item in data]

    def to_api(self) -> dict[str, Any]:
        """The object as the API spells it (camelCase keys, ISO times), ``extra`` included."""
        out: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            # A member of the envelope beside data (pagination) is set by the namespace method.
            if item.name == "extra" or item.metadata.get("envelope"):
                continue
            out[item.metadata.get("api", camel_case(item.name))] = to_api_value(
                getattr(self, item.name)
            )
        out.update(self.extra)
        return out


def to_api_value(value: Any) -> Any:
    if isinstance(value, ApiModel):
        return value.to_api()
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, list | tuple):
        return [to_api_value(v) for v in value]
    if isinstance(value, dict):
        return {k: to_api_value(v) for k, v in value.items()}
    return value


def _plan(cls: type[ApiModel]) -> tuple[tuple[str, str, Converter], ...]:
    plan = ApiModel._plans.get(cls)
    if plan is None:
        # Each class's annotations resolve in its own module (from __future__ annotations).
        hints = typing.get_type_hints(cls)
        plan = tuple(
            (
                item.name,
                item.metadata.get("api", camel_case(item.name)),
                _converter(hints[item.name]),
            )
            for item in dataclasses.fields(cls)
            if item.name != "extra" and not item.metadata.get("envelope")
        )
        ApiModel._plans[cls] = plan
    return plan


def _converter(hint: Any) -> Converter:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        convert = _converter(inner[0]) if len(inner) == 1 else _identity
        return lambda v: None if v is None else convert(v)
    if origin is list:
        item = _converter(args[0]) if args else _identity

        def convert_list(v: Any) -> Any:
            if v is None:
                return []
            if not isinstance(v, list):
                raise _Unparsable
            return [item(x) for x in v]

        return convert_list
    if origin is dict:
        value = _converter(args[1]) if len(args) == 2 else _identity

        def convert_dict(v: Any) -> Any:
            if v is None:
                return {}
            if not isinstance(v, dict):
                raise _Unparsable
            return {k: value(x) for k, x in v.items()}

        return convert_dict
    if isinstance(hint, type) and issubclass(hint, ApiModel):
        model = hint

        def convert_model(v: Any) -> Any:
            if not isinstance(v, Mapping):
                raise _Unparsable
            return model.from_api(v)

        return convert_model
    if hint is datetime:
        return _to_datetime
    if hint is float:
        return _to_float
    if hint is int:
        return _strict(int)
    if hint is bool:
        return _strict(bool)
    if hint is str:
        return _strict(str)
    return _identity


def _identity(value: Any) -> Any:
    return value


def _to_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _Unparsable
    try:
        return parse_datetime(value)
    except ValueError:
        raise _Unparsable from None


def _to_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Unparsable
    return float(value)


def _strict(kind: type) -> Converter:
    def convert(value: Any) -> Any:
        # bool is an int in Python; JSON keeps them apart.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise _Unparsable
        return value

    return convert


def parse_list(model: type[_M], data: Any) -> list[_M]:
    return model.from_api_list(data)

"""analytics.api.fast_dump gives what marshmallow's own dump gives, on every response schema of
the service: the same keys (missing values left out, dump defaults used), the same formatting
(numbers converted, None kept, nested schemas and lists), for dicts and for objects."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from marshmallow import Schema, fields

from analytics.api import envelope
from analytics.api.fast_dump import FastDumpSchema, dumper
from analytics.api.fields import UtcDateTime


def response_schemas() -> list[Schema]:
    """Every envelope schema the service's routes declare (created when the routes load)."""
    import analytics.app  # noqa: F401  (imports every resource, declaring its envelopes)

    found = [schema() for schema in envelope._envelopes.values()]
    assert len(found) > 40
    return found


def value_for(field: fields.Field[Any], rng: random.Random, depth: int) -> Any:
    """A value a service could hand this field, sometimes of another type than its own."""
    if rng.random() < 0.1:
        return None
    if isinstance(field, fields.Nested):
        schema = field.schema
        if type(schema).get_attribute is not Schema.get_attribute:
            return None  # reads objects of its own kind; fast_dump hands it to marshmallow
        if schema.many or field.many:
            return [object_for(schema, rng, depth + 1) for _ in range(rng.randint(0, 3))]
        return object_for(schema, rng, depth + 1)
    if isinstance(field, fields.List):
        return [value_for(field.inner, rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if isinstance(field, fields.Integer):
        return rng.choice([3, 7.9, True, "12"])
    if isinstance(field, fields.Float):
        return rng.choice([2, 0.25, float("inf"), "1.5"])
    if isinstance(field, fields.String):
        return rng.choice(["text", 42, b"bytes", 1.5])
    if isinstance(field, UtcDateTime):
        return datetime(2026, 12, 7, 11, 30, tzinfo=UTC)
    if isinstance(field, fields.Boolean):
        return rng.choice([True, False, 1])
    if isinstance(field, fields.Mapping):
        inner = field.value_field
        return {"key": 1 if inner is None else value_for(inner, rng, depth + 1)}
    return rng.choice([{"raw": [1, 2]}, "raw", 5])


def object_for(schema: Schema, rng: random.Random, depth: int = 0) -> Any:
    values: dict[str, Any] = {}
    for name, field in schema.dump_fields.items():
        if depth > 4 or rng.random() < 0.15:
            continue  # missing: left out, or its dump default
        values[field.attribute or name] = value_for(field, rng, depth)
    return values if rng.random() < 0.5 else SimpleNamespace(**values)


@pytest.mark.parametrize("seed", range(8))
def test_every_response_schema_dumps_as_marshmallow_does(seed: int) -> None:
    rng = random.Random(seed)
    for schema in response_schemas():
        for _ in range(5):
            obj = object_for(schema, rng)
            assert dumper(schema)(obj) == Schema.dump(schema, obj), type(schema).__name__


def test_missing_values_defaults_keys_and_lists() -> None:
    class Item(Schema):
        name = fields.String(data_key="itemName")
        count = fields.Integer(dump_default=0)
        ratio = fields.Float(attribute="share")
        tags = fields.List(fields.String())

    class Outer(FastDumpSchema):
        items = fields.Nested(Item, many=True)
        first = fields.Nested(Item, allow_none=True)

    data = {
        "items": [{"name": 5, "share": 1, "tags": [1, "b"]}, SimpleNamespace(count=2.7)],
        "first": None,
    }
    expected = {
        "items": [
            {"itemName": "5", "count": 0, "ratio": 1.0, "tags": ["1", "b"]},
            {"count": 2},
        ],
        "first": None,
    }
    assert Outer().dump(data) == expected == Schema.dump(Outer(), data)
    assert Outer(many=True).dump([data]) == [expected]


def test_schemas_with_hooks_are_dumped_by_marshmallow() -> None:
    from marshmallow import post_dump

    class Hooked(FastDumpSchema):
        name = fields.String()

        @post_dump
        def shout(self, data: dict[str, Any], **_kw: Any) -> dict[str, Any]:
            return {key: str(value).upper() for key, value in data.items()}

    assert Hooked().dump({"name": "quiet"}) == {"name": "QUIET"}

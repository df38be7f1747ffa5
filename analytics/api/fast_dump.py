"""Marshmallow's dump, planned once per schema: the same output, a few times faster.

A response of 8,000 devices is 230,000 field values. ``Schema.dump`` looks each one up through
``Field.serialize`` -> ``get_value`` -> ``utils.get_value`` and formats it through the field's
``_serialize``: at that size most of a request's time (0.75 s of 1.5 s for ``/gpu/devices``).
:func:`dumper` walks a schema's ``dump_fields`` once and returns a function that does what
marshmallow does for each field with the lookups resolved ahead:

* the value is ``obj[key]`` for mappings and ``getattr(obj, key)`` otherwise, a missing one
  replaced by the field's ``dump_default`` and left out when there is none (as
  ``utils.get_value`` and ``Field.serialize``);
* fields whose formatting is known are formatted inline: marshmallow's own ``String`` (and
  subclasses that keep its ``_serialize``), ``Number`` subclasses that keep its
  ``_serialize``/``_format_num`` (``Integer``, ``Float``), fields that keep
  ``Field._serialize`` (``Raw``, ``Boolean``), ``Nested``, ``List`` and ``Dict``;
* every other field is formatted by its own ``_serialize``, and schemas with ``pre_dump`` or
  ``post_dump`` hooks, a custom ``get_attribute`` or dotted attributes are dumped by
  marshmallow itself.

tests/analytics/test_fast_dump.py holds the two equal on every response schema of the service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from marshmallow import Schema, fields, missing
from marshmallow.decorators import POST_DUMP, PRE_DUMP
from marshmallow.utils import ensure_text_type

Dump = Callable[[Any], Any]
# A field's formatting of a value found on ``obj``.
_Format = Callable[[Any, Any], Any]


def dumper(schema: Schema, many: bool | None = None) -> Dump:
    """``schema.dump(obj, many=many)`` as a planned function (see the module docstring)."""
    many = schema.many if many is None else many
    one = _plan(schema)
    if not many:
        return one
    return lambda objs: None if objs is None else [one(obj) for obj in objs]


class FastDumpSchema(Schema):
    """A Schema whose ``dump`` runs its :func:`dumper` (planned on first use)."""

    _fast_dumps: dict[bool, Dump]

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        many = self.many if many is None else bool(many)
        plans = self.__dict__.setdefault("_fast_dumps", {})
        plan = plans.get(many)
        if plan is None:
            plan = plans[many] = dumper(self, many)
        return plan(obj)


def _plan(schema: Schema) -> Dump:
    if (
        schema._hooks[PRE_DUMP]
        or schema._hooks[POST_DUMP]
        or type(schema).get_attribute is not Schema.get_attribute
    ):
        return lambda obj: Schema.dump(schema, obj, many=False)
    steps: list[tuple[str, str, _Format, Any]] = []
    for name, field in schema.dump_fields.items():
        source = name if field.attribute is None else field.attribute
        if "." in source or not field._CHECK_ATTRIBUTE:
            return lambda obj: Schema.dump(schema, obj, many=False)
        key = name if field.data_key is None else field.data_key
        steps.append((key, source, _format(field, name), field.dump_default))

    def dump_one(obj: Any) -> dict[str, Any]:
        mapping = isinstance(obj, Mapping)
        out: dict[str, Any] = {}
        for key, source, format_, default in steps:
            if mapping:
                value = obj.get(source, missing)
                if value is missing:
                    value = getattr(obj, source, missing)
            else:
                value = getattr(obj, source, missing)
            if value is missing:
                value = default() if callable(default) else default
                if value is missing:
                    continue
            out[key] = format_(value, obj)
        return out

    return dump_one


def _mapping(field: fields.Mapping[Any]) -> _Format:
    """``Mapping._serialize``: keys and values formatted by their fields, if any."""
    make = field.mapping_type
    if field.key_field is None and field.value_field is None:
        return lambda value, _obj: None if value is None else make(value)
    key = None if field.key_field is None else _format(field.key_field, None)
    item = None if field.value_field is None else _format(field.value_field, None)

    def mapping(value: Any, _obj: Any) -> Any:
        if value is None:
            return None
        out = make()
        for k, v in value.items():
            out[k if key is None else key(k, None)] = v if item is None else item(v, None)
        return out

    return mapping


def _format(field: fields.Field[Any], name: str | None) -> _Format:
    kind = type(field)
    if kind._serialize is fields.Field._serialize:
        return lambda value, _obj: value
    if kind._serialize is fields.String._serialize:
        return lambda value, _obj: (
            None if value is None else value if type(value) is str else ensure_text_type(value)
        )
    if (
        isinstance(field, fields.Number)
        and kind._serialize is fields.Number._serialize
        and type(field)._format_num is fields.Number._format_num
    ):
        number = field.num_type
        if field.as_string:
            return lambda value, _obj: None if value is None else str(number(value))
        return lambda value, _obj: None if value is None else number(value)
    if isinstance(field, fields.Nested) and kind is fields.Nested:
        nested = field.schema
        inner = dumper(nested, bool(nested.many or field.many))
        return lambda value, _obj: None if value is None else inner(value)
    if isinstance(field, fields.Mapping) and kind in (fields.Dict, fields.Mapping):
        return _mapping(field)
    if isinstance(field, fields.List) and kind is fields.List:
        item = _format(field.inner, name)
        return lambda value, obj: None if value is None else [item(v, obj) for v in value]
    return lambda value, obj: field._serialize(value, name, obj)

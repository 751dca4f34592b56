"""Fill a JSON schema with plausible, deterministic values.

The simulator answers tool calls and ``json_schema`` response formats the way a real model would:
with JSON that *validates* against the caller's schema. Clients (and the gateway tests) parse those
arguments, so an invalid value would be a false failure. Only ``required`` properties are filled,
because that is what a model must produce; ``default``, ``const`` and ``enum`` win over invented
values, and string values are picked from the property name so the output reads like a real call
(``{"city":"Paris"}`` rather than ``{"city":"string"}``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 8

_NAMED_STRINGS: tuple[tuple[str, str], ...] = (
    ("email", "user@example.com"),
    ("url", "https://example.com"),
    ("uri", "https://example.com"),
    ("link", "https://example.com"),
    ("path", "README.md"),
    ("file", "README.md"),
    ("city", "Paris"),
    ("location", "Paris, France"),
    ("address", "1 Example Street, Paris"),
    ("country", "France"),
    ("unit", "celsius"),
    ("query", "opencompress"),
    ("search", "opencompress"),
    ("language", "en"),
    ("lang", "en"),
    ("currency", "USD"),
    ("phone", "+1-555-0100"),
    ("color", "blue"),
    ("command", "ls -la"),
    ("code", "print('hello')"),
    ("date", "2025-01-15"),
    ("time", "12:00:00"),
    ("title", "Example title"),
    ("description", "A short description."),
    ("message", "Hello from the OpenCompress simulator."),
    ("content", "Hello from the OpenCompress simulator."),
    ("text", "Hello from the OpenCompress simulator."),
    ("body", "Hello from the OpenCompress simulator."),
    ("name", "Ada Lovelace"),
    ("id", "abc123"),
)

_FORMATS: dict[str, str] = {
    "date-time": "2025-01-15T12:00:00Z",
    "date": "2025-01-15",
    "time": "12:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "duration": "PT1H",
}

_NAMED_NUMBERS: tuple[tuple[str, float], ...] = (
    ("latitude", 48.8566),
    ("longitude", 2.3522),
    ("lat", 48.8566),
    ("lon", 2.3522),
    ("lng", 2.3522),
    ("age", 42),
    ("year", 2025),
    ("limit", 3),
    ("count", 3),
    ("top_k", 3),
    ("page", 1),
    ("temperature", 21.5),
    ("price", 9.99),
    ("amount", 10),
)


def fill_schema(schema: Any, *, name: str = "value", root: Any = None, depth: int = 0) -> Any:
    """A value valid for ``schema`` (JSON Schema subset used by OpenAI tools and structured outputs)."""
    root = schema if root is None else root
    if not isinstance(schema, Mapping) or depth > MAX_DEPTH:
        return None if depth > MAX_DEPTH else "example"
    if "$ref" in schema:
        return fill_schema(_resolve_ref(root, str(schema["$ref"])), name=name, root=root, depth=depth + 1)
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return fill_schema(_first_non_null(options), name=name, root=root, depth=depth + 1)
    if isinstance(schema.get("allOf"), list):
        return fill_schema(_merge_all_of(schema), name=name, root=root, depth=depth + 1)
    return _fill_typed(schema, _schema_type(schema), name, root, depth)


def _fill_typed(schema: Mapping[str, Any], kind: str | None, name: str, root: Any, depth: int) -> Any:
    if kind == "object":
        return _fill_object(schema, root, depth)
    if kind == "array":
        return _fill_array(schema, name, root, depth)
    if kind == "string":
        return _fill_string(schema, name)
    if kind == "integer":
        return int(_fill_number(schema, name, integer=True))
    if kind == "number":
        return _fill_number(schema, name, integer=False)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "example"


def _schema_type(schema: Mapping[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        non_null = [k for k in kind if k != "null"]
        kind = non_null[0] if non_null else "null"
    if kind is None and ("properties" in schema or "required" in schema):
        return "object"
    if kind is None and "items" in schema:
        return "array"
    return kind if isinstance(kind, str) else None


def _resolve_ref(root: Any, ref: str) -> Any:
    if not ref.startswith("#"):
        return {}
    node = root
    for part in ref.lstrip("#").strip("/").split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or part not in node:
            return {}
        node = node[part]
    return node


def _first_non_null(options: list[Any]) -> Any:
    for option in options:
        if not (isinstance(option, Mapping) and option.get("type") == "null"):
            return option
    return options[0]


def _merge_all_of(schema: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    properties: dict[str, Any] = dict(merged.get("properties") or {})
    required: list[str] = list(merged.get("required") or [])
    for part in schema["allOf"]:
        if not isinstance(part, Mapping):
            continue
        for key, value in part.items():
            if key == "properties" and isinstance(value, Mapping):
                properties.update(value)
            elif key == "required" and isinstance(value, list):
                required.extend(r for r in value if r not in required)
            else:
                merged.setdefault(key, value)
    if properties:
        merged["properties"] = properties
    if required:
        merged["required"] = required
    return merged


def _fill_object(schema: Mapping[str, Any], root: Any, depth: int) -> dict[str, Any]:
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    required = schema.get("required")
    names = [r for r in required if isinstance(r, str)] if isinstance(required, list) else []
    return {
        prop: fill_schema(properties.get(prop, {}), name=prop, root=root, depth=depth + 1) for prop in names
    }


def _fill_array(schema: Mapping[str, Any], name: str, root: Any, depth: int) -> list[Any]:
    items = schema.get("items", {})
    count = schema.get("minItems", 1)
    count = max(1, count) if isinstance(count, int) else 1
    max_items = schema.get("maxItems")
    if isinstance(max_items, int):
        count = min(count, max_items)
    singular = name[:-1] if name.endswith("s") and len(name) > 1 else name
    return [fill_schema(items, name=singular, root=root, depth=depth + 1) for _ in range(count)]


def _fill_string(schema: Mapping[str, Any], name: str) -> str:
    fmt = schema.get("format")
    if fmt == "uuid":
        value = str(uuid.uuid5(uuid.NAMESPACE_URL, f"opencompress-simulator/{name}"))
    elif isinstance(fmt, str) and fmt in _FORMATS:
        value = _FORMATS[fmt]
    else:
        lowered = name.lower()
        value = next((v for key, v in _NAMED_STRINGS if key in lowered), f"example {name}")
    min_length = schema.get("minLength")
    if isinstance(min_length, int) and len(value) < min_length:
        value = value + "x" * (min_length - len(value))
    max_length = schema.get("maxLength")
    if isinstance(max_length, int) and len(value) > max_length:
        value = value[: max(0, max_length)]
    return value


def _fill_number(schema: Mapping[str, Any], name: str, *, integer: bool) -> float:
    lowered = name.lower()
    value: float = next((v for key, v in _NAMED_NUMBERS if key in lowered), 42 if integer else 3.5)
    low = _bound(schema, "minimum", "exclusiveMinimum", integer, +1)
    high = _bound(schema, "maximum", "exclusiveMaximum", integer, -1)
    if low is not None and value < low:
        value = low
    if high is not None and value > high:
        value = high
    return round(value) if integer else value


def _bound(
    schema: Mapping[str, Any], inclusive: str, exclusive: str, integer: bool, sign: int
) -> float | None:
    if isinstance(schema.get(inclusive), int | float):
        return float(schema[inclusive])
    if isinstance(schema.get(exclusive), int | float):
        step = 1 if integer else 0.5
        return float(schema[exclusive]) + sign * step
    return None

"""Homogeneous arrays of JSON objects as a header + rows table (aggressive level, declared).

``[{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, …]`` repeats every key in every element; as
``{"columns": ["id", "name"], "rows": [[1, "a"], [2, "b"], …]}`` each key is written once. The
result is valid JSON but *not* equal JSON, which is why this stage is not part of ``lossless`` or
``balanced``: it is declared in ``describe_config`` and only runs at ``aggressive``.

Only arrays of at least ``min_rows`` objects that all have the same keys in the same order become
tables. Numbers keep their exact spelling (parsed as raw text and written back verbatim), strings
are re-escaped with ``json.dumps``; objects with duplicate keys are left as they were. The rewrite
is kept only when it is shorter than the minified original.
"""

from __future__ import annotations

import json
from typing import Any

from opencompress.compression.base import Message, StageContext, TextInfo, apply_text_stage
from opencompress.compression.stages.json_minify import minify_valid


class _Raw(str):
    """A number token kept as written."""


class _Duplicate(Exception):
    pass


def _pairs(kv: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(kv)
    if len(out) != len(kv):
        raise _Duplicate
    return out


def _dump(value: Any, out: list[str]) -> None:
    if isinstance(value, _Raw):
        out.append(str(value))
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, dict):
        out.append("{")
        for i, (k, v) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(json.dumps(k, ensure_ascii=False))
            out.append(":")
            _dump(v, out)
        out.append("}")
    elif isinstance(value, list):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _dump(v, out)
        out.append("]")
    else:
        out.append(json.dumps(value))


class JsonTable:
    name = "json_table"

    def __init__(self, *, min_rows: int = 3) -> None:
        self.min_rows = min_rows

    def tabulate(self, value: Any) -> tuple[Any, bool]:
        if isinstance(value, dict):
            changed = False
            out: dict[str, Any] = {}
            for k, v in value.items():
                out[k], c = self.tabulate(v)
                changed |= c
            return out, changed
        if not isinstance(value, list):
            return value, False
        items = [self.tabulate(v) for v in value]
        values = [v for v, _ in items]
        changed = any(c for _, c in items)
        if len(values) >= self.min_rows and all(isinstance(v, dict) for v in values):
            keys = list(values[0])
            if len(keys) >= 2 and all(list(v) == keys for v in values):
                return {"columns": keys, "rows": [list(v.values()) for v in values]}, True
        return values, changed

    def transform(self, text: str, info: TextInfo) -> str:
        if info.kind != "json":
            return text
        try:
            value = json.loads(text, object_pairs_hook=_pairs, parse_float=_Raw, parse_int=_Raw)
        except (ValueError, RecursionError, _Duplicate):
            return text
        table, changed = self.tabulate(value)
        if not changed:
            return text
        out: list[str] = []
        _dump(table, out)
        result = "".join(out)
        try:
            result.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate came back unescaped
            return text
        return result if len(result) < len(minify_valid(text.strip())) else text

    def apply(self, messages: list[Message], ctx: StageContext) -> list[Message]:
        return apply_text_stage(self, messages)

"""Key-value JSON selection: exact identifier matches only, valid JSON always."""

from __future__ import annotations

import json
import uuid

from opencompress.compression.text.kvjson import find_objects, matching_keys, select_pairs


def _kv(n: int, seed: int = 0) -> dict[str, str]:
    return {str(uuid.UUID(int=seed * 1000 + i)): str(uuid.UUID(int=seed * 1000 + i + 500)) for i in range(n)}


def test_keeps_only_the_named_pair_and_stays_valid_json() -> None:
    data = _kv(30)
    key = list(data)[17]
    text = "Extract the value for the key.\n\nJSON data:\n" + json.dumps(data, indent=1)
    out = select_pairs(text, f'Key: "{key}"\nCorresponding value:')
    assert out is not None
    assert out.startswith("Extract the value for the key.\n\nJSON data:\n")
    obj = json.loads(out[out.index("{") :])
    assert obj == {key: data[key]}


def test_value_lookup_and_compact_layout() -> None:
    data = _kv(10, seed=3)
    key, value = list(data.items())[4]
    out = select_pairs("data: " + json.dumps(data), f"which key maps to {value}?")
    assert out == "data: " + json.dumps({key: value})


def test_no_match_or_small_object_keeps_everything() -> None:
    data = _kv(30)
    text = json.dumps(data, indent=2)
    assert select_pairs(text, "what is the value of key 1234?") is None
    assert select_pairs(json.dumps(_kv(3)), list(_kv(3))[0]) is None
    assert select_pairs(text, "") is None


def test_plain_words_are_not_identifiers() -> None:
    data = {f"field{i}": i for i in range(10)}
    assert matching_keys(data, "what is the name and value here") == []
    assert matching_keys(data, "show field3 please") == ["field3"]
    assert matching_keys(data, "show field33") == []  # boundaries, not substrings


def test_find_objects_skips_invalid_json() -> None:
    text = "{ not json\n" + json.dumps(_kv(9))
    objs = find_objects(text)
    assert len(objs) == 1 and len(objs[0].value) == 9

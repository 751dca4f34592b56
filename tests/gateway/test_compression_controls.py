"""The ``compression`` body field and the ``X-OpenCompress-Level`` header (``wire.chat_request``)."""

from __future__ import annotations

from typing import Any

import pytest

from opencompress.errors import InvalidRequestError
from opencompress.wire.chat_request import parse_chat_body

MESSAGES = [{"role": "user", "content": "hi"}]


def _parse(extra: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return parse_chat_body({"model": "gpt-4o-mini", "messages": MESSAGES, **extra}, headers or {})


def test_level_is_case_insensitive_in_the_body_as_in_the_header() -> None:
    assert _parse({"compression": {"level": "OFF"}}).level == "off"
    assert _parse({"compression": " Balanced "}).level == "balanced"
    assert _parse({}, {"x-opencompress-level": "Lossless"}).level == "lossless"
    assert _parse({"compression": {"level": "aggressive"}}, {"x-opencompress-level": "off"}).level == (
        "aggressive"
    ), "the body wins over the header"


def test_a_misspelled_field_is_a_400_not_a_silent_default() -> None:
    with pytest.raises(InvalidRequestError) as info:
        _parse({"compression": {"lvl": "off"}})
    assert info.value.param == "compression.lvl"
    assert "level, rate" in info.value.message


@pytest.mark.parametrize("level", ["max", "", 3, ["off"]])
def test_unknown_levels_are_a_400(level: Any) -> None:
    with pytest.raises(InvalidRequestError) as info:
        _parse({"compression": {"level": level}})
    assert info.value.param == "compression.level"


def test_the_error_points_at_where_the_bad_level_came_from() -> None:
    with pytest.raises(InvalidRequestError) as info:
        _parse({}, {"x-opencompress-level": "max"})
    assert info.value.param == "x-opencompress-level"
    with pytest.raises(InvalidRequestError) as info:
        _parse({"compression": {"level": "max"}}, {"x-opencompress-level": "off"})
    assert info.value.param == "compression.level"
    assert _parse({"compression": {"level": "off"}}, {"x-opencompress-level": "max"}).level == "off"


def test_rate_is_kept_and_the_field_is_stripped() -> None:
    chat = _parse({"compression": {"level": "balanced", "rate": 0.5}})
    assert (chat.level, chat.rate) == ("balanced", 0.5)
    assert "compression" not in chat.body

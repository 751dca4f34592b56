"""The policy: levels nest, only re-encoding runs on small texts and assistant turns."""

from __future__ import annotations

import json

from opencompress.compression import FORMAT_VERSION, describe_config
from opencompress.compression.policy import CONFIGS, LOSSLESS_TEXT, allows


def test_describe_config_is_json_and_lists_every_level() -> None:
    cfg = describe_config()
    json.dumps(cfg)
    assert set(cfg["levels"]) == {"off", "lossless", "balanced", "aggressive"}
    assert cfg["default_level"] == "balanced" and cfg["format_version"] == FORMAT_VERSION
    assert cfg["levels"]["off"]["stages"] == []
    assert "aliases" in cfg["levels"]["balanced"]["stages"]
    assert "code_comments" in cfg["levels"]["aggressive"]["stages"]


def test_levels_nest() -> None:
    order = ["off", "lossless", "balanced", "aggressive"]
    stages = [set(CONFIGS[lv].text + CONFIGS[lv].history + CONFIGS[lv].turn) for lv in order]  # type: ignore[index]
    assert all(a <= b for a, b in zip(stages, stages[1:], strict=False))


def test_lossless_only_reencodes() -> None:
    cfg = CONFIGS["lossless"]
    assert set(cfg.text) <= LOSSLESS_TEXT and set(cfg.history) <= {"dedup", "dedup_blocks"} and not cfg.turn


def test_small_texts_and_assistant_turns_get_lossless_only() -> None:
    assert allows("whitespace", kind="prose", role="assistant", small=False)
    assert not allows("log_fold", kind="log", role="assistant", small=False)
    assert not allows("log_fold", kind="log", role="tool", small=True)
    assert allows("log_fold", kind="log", role="tool", small=False)
    assert not allows("whitespace", kind="code", role="user", small=False)
    assert allows("json_minify", kind="json", role="tool", small=True)

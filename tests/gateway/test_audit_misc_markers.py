"""The gateway never forwards ``<occ:protect>`` markers, not even when it falls back to the original.

The compressed form is dropped when it counts more tokens than the original, and the original is
forwarded whenever compression fails. Those originals used to be the client's messages as sent,
markers included; the markers are ours and must always be removed."""

from __future__ import annotations

from typing import Any

import pytest

from opencompress.compression import CompressionResult, Policy
from opencompress.gateway import compress_step
from opencompress.gateway.compress_step import compress_and_count

MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "Keep <occ:protect>ORDER-7781</occ:protect> exactly."},
    {"role": "user", "content": "Why is <occ:protect>alpha_7</occ:protect> slow?"},
]


def _texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(str(m.get("content")) for m in messages)


def test_original_forwarded_because_compression_grew_has_no_markers(monkeypatch: pytest.MonkeyPatch) -> None:
    def grows(messages: Any, *, tools: Any = None, policy: Policy | None = None) -> CompressionResult:
        bigger = [{**m, "content": str(m["content"]) + " padding" * 50} for m in messages]
        return CompressionResult(messages=bigger, level="balanced")

    monkeypatch.setattr(compress_step, "compress", grows)
    out = compress_and_count(MESSAGES, None, "balanced", None)
    assert "<occ:protect>" not in _texts(out.messages) and "</occ:protect>" not in _texts(out.messages)
    assert out.messages[1]["content"] == "Why is alpha_7 slow?"
    assert out.messages[0]["content"] == "Keep ORDER-7781 exactly."
    assert out.compressed_tokens < out.original_tokens  # what is sent is counted, markers gone
    assert MESSAGES[1]["content"] == "Why is <occ:protect>alpha_7</occ:protect> slow?"  # not mutated


def test_original_forwarded_because_compression_raised_has_no_markers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(messages: Any, *, tools: Any = None, policy: Policy | None = None) -> CompressionResult:
        raise RuntimeError("boom")

    monkeypatch.setattr(compress_step, "compress", boom)
    out = compress_and_count(MESSAGES, None, "balanced", None)
    assert out.status == "failed"
    assert "occ:protect" not in _texts(out.messages)


def test_pipeline_passthrough_is_failed_and_unmarked(monkeypatch: pytest.MonkeyPatch) -> None:
    def passthrough(messages: Any, *, tools: Any = None, policy: Policy | None = None) -> CompressionResult:
        return CompressionResult(messages=list(messages), level="balanced", stages_failed=("pipeline",))

    monkeypatch.setattr(compress_step, "compress", passthrough)
    out = compress_and_count(MESSAGES, None, "balanced", None)
    assert out.status == "failed"
    assert "occ:protect" not in _texts(out.messages)


def test_growing_log_is_not_folded_and_markers_are_removed() -> None:
    """The audit's case end to end: ANSI-coloured cargo output, where folding by characters grew."""

    def log(tag: str) -> str:
        return "\n".join(
            f"\x1b[32m[{i:03d}/120]\x1b[0m Compiling {tag}_{i} v0.{i}.1 (/home/u/proj/{tag}/{tag}_{i})"
            for i in range(15)
        )

    msgs: list[dict[str, Any]] = [
        {"role": "tool", "tool_call_id": f"c{t}", "content": log(t)} for t in ("alpha", "beta", "gamma")
    ]
    msgs.append({"role": "user", "content": "Why is <occ:protect>alpha_7</occ:protect> slow?"})
    out = compress_and_count(msgs, None, "balanced", None)
    assert out.compressed_tokens <= out.original_tokens
    assert "occ:protect" not in _texts(out.messages)

"""Hostile and malformed request bodies against a running gateway: never a 5xx, never a crash.

Hypothesis generates chat bodies with wrong types in every field, odd content parts, junk extra
fields and raw byte garbage; each answer must be a success or an OpenAI-style 4xx. Explicit cases
pin what fuzzing rarely reaches: 10,000-level nesting (Python's JSON codec recurses, so this was a
500), unpaired surrogate escapes (they parse, then fail to re-encode for the upstream: a 500 that
also leaked the request's slot), a 10 MB prompt, and the body-size limit (413).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.gateway import Gateway, Seeded, running_gateway

pytestmark = pytest.mark.timeout(120)
MODELS = ["gpt-4o-mini", "gpt-4o", "not-a-listed-model", ""]


@pytest.fixture(scope="module")
def gw(simulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("fuzz"), simulator.base_url) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def seeded(gw: Gateway) -> Seeded:
    return gw.seed(usd="100.00", rpm=100_000, concurrency=50)


@pytest.fixture(scope="module")
def http(gw: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gw.server.url, timeout=60) as client:
        yield client


# -- strategies ---------------------------------------------------------------------------------

leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
junk = st.recursive(
    leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
text_part = st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=300)})
image_part = st.fixed_dictionaries(
    {"type": st.just("image_url"), "image_url": st.fixed_dictionaries({"url": st.text(max_size=40)})}
)
message = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["system", "developer", "user", "assistant"]),
        "content": st.text(max_size=600) | st.lists(text_part | image_part, min_size=1, max_size=3),
    },
    optional={"name": st.text(max_size=10)},
)
tool = st.fixed_dictionaries(
    {
        "type": st.just("function"),
        "function": st.fixed_dictionaries(
            {
                "name": st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
                "parameters": st.just({"type": "object", "properties": {"q": {"type": "string"}}}),
            }
        ),
    }
)
valid_body = st.fixed_dictionaries(
    {
        "model": st.sampled_from(MODELS[:3]),
        "messages": st.lists(message, min_size=1, max_size=4),
    },
    optional={
        "stream": st.booleans(),
        "n": st.integers(min_value=1, max_value=3),
        "max_tokens": st.integers(min_value=1, max_value=40),
        "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}),
        "tools": st.lists(tool, min_size=1, max_size=2),
        "tool_choice": st.sampled_from(["auto", "none", "required"]),
        "response_format": st.fixed_dictionaries({"type": st.sampled_from(["json_object", "text"])}),
        "compression": st.fixed_dictionaries(
            {"level": st.sampled_from(["off", "lossless", "balanced", "aggressive"])},
            optional={"rate": st.floats(min_value=0.1, max_value=1.0)},
        ),
        "temperature": st.floats(min_value=0, max_value=2),
        "user": st.text(max_size=10),
    },
)


@st.composite
def mutated_body(draw: st.DrawFn) -> Any:
    """A valid chat body with 0-3 random edits anywhere in it: a value replaced by junk (wrong
    type, odd part, deep structure), a key deleted, or an unknown key added."""
    body: Any = draw(valid_body)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        holder: Any = None
        slot: Any = None
        node = body
        while isinstance(node, dict | list) and node and draw(st.integers(min_value=0, max_value=2)):
            slot = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
            holder, node = node, node[slot]
        if holder is None:  # edit at the top: add an unknown key
            extra = draw(st.text(max_size=12).filter(lambda k: k != "simulate"))
            if isinstance(body, dict):
                body[extra] = draw(junk)
            continue
        action = draw(st.sampled_from(["replace", "replace", "delete"]))
        if action == "delete":
            del holder[slot]
        else:
            holder[slot] = draw(junk)
    return body


@st.composite
def raw_bodies(draw: st.DrawFn) -> bytes:
    """Mostly JSON of a chat-like body; sometimes the same truncated, byte-corrupted or pure noise."""
    top = draw(st.one_of(mutated_body(), mutated_body(), mutated_body(), junk))
    raw = json.dumps(top, ensure_ascii=draw(st.booleans())).encode()
    how = draw(st.sampled_from(["as_is"] * 6 + ["truncate", "flip", "noise"]))
    if how == "truncate" and raw:
        raw = raw[: draw(st.integers(min_value=0, max_value=len(raw) - 1))]
    elif how == "flip" and raw:
        at = draw(st.integers(min_value=0, max_value=len(raw) - 1))
        raw = (
            raw[:at]
            + draw(st.sampled_from([b"\xff", b"\xc3", b"\x00", b"\xed\xa0\x80", b"{"]))
            + raw[at + 1 :]
        )
    elif how == "noise":
        raw = draw(st.binary(max_size=200))
    return raw


header_text = st.from_regex(r"[A-Za-z0-9_.-]([A-Za-z0-9 _.-]{0,18}[A-Za-z0-9_.-])?", fullmatch=True)


# -- checks -------------------------------------------------------------------------------------


def assert_sane(r: httpx.Response, *, stream: bool) -> None:
    """No 5xx; every error is an OpenAI-style body; every success is a complete answer."""
    assert r.status_code < 500, f"{r.status_code}: {r.text[:500]}"
    if r.status_code >= 400:
        body = r.json()
        assert isinstance(body.get("error"), dict), r.text[:300]
        assert isinstance(body["error"].get("message"), str) and body["error"]["message"]
        assert "type" in body["error"]
        assert "Traceback" not in r.text
    elif stream:
        assert r.text.endswith("data: [DONE]\n\n"), r.text[-300:]
    else:
        assert isinstance(r.json().get("choices"), list)


def _is_stream(raw: bytes) -> bool:
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return isinstance(body, dict) and body.get("stream") is True


FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@FUZZ
@given(raw=raw_bodies(), level=st.none() | header_text)
def test_fuzzed_chat_bodies_never_5xx(
    http: httpx.Client, seeded: Seeded, raw: bytes, level: str | None
) -> None:
    headers = {"Authorization": f"Bearer {seeded.key}", "content-type": "application/json"}
    if level is not None:
        headers["x-opencompress-level"] = level
    r = http.post("/v1/chat/completions", content=raw, headers=headers)
    assert_sane(r, stream=_is_stream(raw))


@settings(FUZZ, max_examples=60)
@given(raw=raw_bodies())
def test_fuzzed_compress_bodies_never_5xx(http: httpx.Client, seeded: Seeded, raw: bytes) -> None:
    r = http.post("/v1/compress", content=raw, headers={"Authorization": f"Bearer {seeded.key}"})
    assert r.status_code < 500, f"{r.status_code}: {r.text[:500]}"
    if r.status_code >= 400:
        assert isinstance(r.json()["error"]["message"], str)


def _post(http: httpx.Client, seeded: Seeded, raw: bytes) -> httpx.Response:
    return http.post(
        "/v1/chat/completions",
        content=raw,
        headers={"Authorization": f"Bearer {seeded.key}", "content-type": "application/json"},
    )


def _nest(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


@pytest.mark.parametrize(
    "template",
    [
        '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"extra":%s}',
        '{"model":"gpt-4o-mini","messages":[{"role":"user","content":[{"type":"text","text":"hi","x":%s}]}]}',
        '{"model":"gpt-4o-mini","messages":%s}',
        "%s",
    ],
    ids=["extra_field", "content_part", "messages", "whole_body"],
)
@pytest.mark.parametrize("depth", [200, 990, 10_000])
def test_deeply_nested_json_is_a_400_not_a_recursion_error(
    http: httpx.Client, seeded: Seeded, template: str, depth: int
) -> None:
    r = _post(http, seeded, (template % _nest(depth)).encode())
    assert r.status_code == 400, r.text[:300]
    assert r.json()["error"]["code"] in ("invalid_json", "invalid_body")


def test_nesting_under_the_limit_still_passes_through(http: httpx.Client, seeded: Seeded) -> None:
    deep_schema: dict[str, Any] = {"type": "string"}
    for _ in range(40):
        deep_schema = {"type": "object", "properties": {"x": deep_schema}, "required": ["x"]}
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": deep_schema}}],
    }
    r = _post(http, seeded, json.dumps(body).encode())
    assert r.status_code == 200, r.text[:300]


def test_unpaired_surrogates_are_a_400_and_paired_ones_work(http: httpx.Client, seeded: Seeded) -> None:
    for text in ('"a\\ud800b"', '"\\udfff"', '"x\\uD83D"'):
        for stream in ("false", "true"):
            raw = (
                f'{{"model":"gpt-4o-mini","stream":{stream},"messages":[{{"role":"user","content":{text}}}]}}'
            )
            r = _post(http, seeded, raw.encode())
            assert r.status_code == 400, r.text[:300]
            assert r.json()["error"]["code"] == "invalid_json"
    emoji = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"smile \\ud83d\\ude00"}]}'
    assert _post(http, seeded, emoji.encode()).status_code == 200
    assert (
        _post(
            http, seeded, b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"C:\\\\ud"}]}'
        ).status_code
        == 200
    )


def test_nan_and_infinity_are_400_not_forwarded(gw: Gateway, http: httpx.Client, seeded: Seeded) -> None:
    """Python's JSON codec accepts these; JSON does not, and a strict upstream would reject the body."""
    before = http.get(gw.sim_url + "/_sim/stats").json()["chat_requests"]
    for value in ("NaN", "Infinity", "-Infinity", "1e999"):
        raw = f'{{"model":"gpt-4o-mini","temperature":{value},"messages":[{{"role":"user","content":"hi"}}]}}'
        r = _post(http, seeded, raw.encode())
        assert r.status_code == 400, r.text[:300]
        assert r.json()["error"]["code"] == "invalid_json"
    assert http.get(gw.sim_url + "/_sim/stats").json()["chat_requests"] == before, "nothing forwarded"
    ok = '{"model":"gpt-4o-mini","temperature":0.7,"top_p":1e-3,"messages":[{"role":"user","content":"hi"}]}'
    assert _post(http, seeded, ok.encode()).status_code == 200


def test_invalid_utf8_and_non_json_are_400(http: httpx.Client, seeded: Seeded) -> None:
    for raw in (
        b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"a\xff\xfe"}]}',
        b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"\xed\xa0\x80"}]}',
        b"\x00" * 64,
        b'{"model": 1e999999, "messages": []}',
        b'{"max_tokens": ' + b"9" * 5000 + b"}",
    ):
        r = _post(http, seeded, raw)
        assert r.status_code == 400, (raw[:40], r.text[:300])


def test_ten_megabyte_prompt_is_served_and_billed(gw: Gateway, http: httpx.Client, seeded: Seeded) -> None:
    content = "The quick brown fox jumps over the lazy dog. " * 230_000  # ~10.3 MB
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], "max_tokens": 4}
    raw = json.dumps(body).encode()
    assert 10_000_000 < len(raw) < gw.settings.max_body_bytes
    r = _post(http, seeded, raw)
    assert r.status_code == 200, r.text[:300]
    assert int(r.headers["x-opencompress-original-tokens"]) > 2_000_000
    rows = [row for row in gw.usage(seeded.account_id) if row.request_id == r.headers["x-request-id"]]
    assert len(rows) == 1 and rows[0].status == "ok" and rows[0].charged_micros > 0


def test_body_size_limit_is_413_with_or_without_content_length(simulator: Any, tmp_path: Any) -> None:
    limit = 64 * 1024
    with running_gateway(tmp_path, simulator.base_url, max_body_bytes=limit) as small:
        key = small.seed(usd="1.00").key
        headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}

        def body_of(size: int) -> bytes:
            empty = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": ""}]}
            words = ("lorem ipsum dolor sit amet " * (size // 20))[: size - len(json.dumps(empty))]
            return json.dumps(
                {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": words}]}
            ).encode()

        forwarded_before = simulator.state.counters()["chat_requests"]
        with httpx.Client(base_url=small.server.url, timeout=30) as client:
            assert (
                client.post("/v1/chat/completions", content=body_of(limit), headers=headers).status_code
                == 200
            )
            r = client.post("/v1/chat/completions", content=body_of(limit + 1), headers=headers)
            assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"

            def chunks() -> Iterator[bytes]:  # no content-length: the limit must hold while reading
                raw = body_of(4 * limit)
                for i in range(0, len(raw), 8192):
                    yield raw[i : i + 8192]

            r = client.post("/v1/chat/completions", content=chunks(), headers=headers)
            assert r.status_code == 413 and r.json()["error"]["type"] == "invalid_request_error"
            assert client.get("/health").status_code == 200
        assert simulator.state.counters()["chat_requests"] == forwarded_before + 1  # only the one that fit


def test_gateway_is_healthy_after_fuzzing(gw: Gateway, http: httpx.Client, seeded: Seeded) -> None:
    """Runs last in this module: no 5xx was counted, no stream is left open, requests still work."""
    metrics = http.get("/metrics").text
    assert 'status="5' not in metrics
    assert "opencompress_active_streams 0.0" in metrics
    r = _post(http, seeded, b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"still there?"}]}')
    assert r.status_code == 200


def test_long_unbroken_runs_compress_in_linear_time() -> None:
    import time

    from opencompress.gateway.compress_step import compress_and_count

    compress_and_count([{"role": "user", "content": "warm up"}], None, "balanced", None)
    for char in ("x", "1", "-"):
        started = time.perf_counter()
        compress_and_count([{"role": "user", "content": char * 24_000}], None, "balanced", None)
        assert time.perf_counter() - started < 0.25

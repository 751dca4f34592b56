"""Every error of the contract, as the openai SDK and a raw HTTP client see it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from opencompress.simulator import default_recordings_dir
from support.gateway import Gateway, running_gateway
from support.server import free_port

MESSAGES = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def key(gateway: Gateway) -> str:
    return gateway.seed(usd="5.00").key


def _post(gateway: Gateway, body: Any, key: str | None, *, raw: bytes | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(timeout=30) as c:
        if raw is not None:
            return c.post(
                gateway.base_url + "/chat/completions",
                content=raw,
                headers={**headers, "content-type": "application/json"},
            )
        return c.post(gateway.base_url + "/chat/completions", json=body, headers=headers)


def _error(r: httpx.Response) -> dict[str, Any]:
    body = r.json()
    assert set(body) == {"error"}
    assert {"message", "type", "code"} <= set(body["error"])
    assert "Traceback" not in r.text
    return dict(body["error"])


@pytest.mark.parametrize(
    "auth", [None, "sk-occ-not-a-real-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "Bearer-less"]
)
def test_401_for_missing_or_unknown_keys(gateway: Gateway, auth: str | None) -> None:
    r = _post(gateway, {"model": "gpt-4o-mini", "messages": MESSAGES}, auth)
    assert r.status_code == 401
    assert _error(r)["type"] == "auth_error"


def test_sdk_raises_authentication_error(gateway: Gateway) -> None:
    client = gateway.client("sk-occ-wrong")
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]


def test_revoked_key_fails_immediately(gateway: Gateway) -> None:
    seeded = gateway.seed(usd="1.00")
    client = gateway.client(seeded.key)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]

    async def revoke(service: Any, storage: Any) -> None:
        await storage.revoke_key(seeded.key_id)

    gateway.run(revoke)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ([1, 2], "invalid_body"),
        ({"messages": MESSAGES}, "missing_required_parameter"),
        ({"model": "gpt-4o-mini"}, "missing_required_parameter"),
        ({"model": "gpt-4o-mini", "messages": []}, "empty_array"),
        ({"model": "gpt-4o-mini", "messages": "hi"}, "invalid_type"),
        ({"model": 7, "messages": MESSAGES}, "invalid_type"),
        ({"model": "m" * 257, "messages": MESSAGES}, "invalid_value"),
        ({"model": "gpt-4o\u0000x", "messages": MESSAGES}, "invalid_value"),
        ({"model": "gpt-4o\nstatus=500", "messages": MESSAGES}, "invalid_value"),
        (
            {"model": "gpt-4o-mini", "messages": MESSAGES, "stream_options": {"include_usage": "no"}},
            "invalid_type",
        ),
        ({"model": "gpt-4o-mini", "messages": [{"role": "wizard", "content": "x"}]}, "invalid_value"),
        ({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": 5}]}, "invalid_type"),
        ({"model": "gpt-4o-mini", "messages": MESSAGES, "stream": "yes"}, "invalid_type"),
        ({"model": "gpt-4o-mini", "messages": MESSAGES, "n": "2"}, "invalid_type"),
        ({"model": "gpt-4o-mini", "messages": MESSAGES, "compression": {"level": "max"}}, "invalid_value"),
    ],
)
def test_400_for_bad_bodies(gateway: Gateway, key: str, body: Any, code: str) -> None:
    r = _post(gateway, body, key)
    assert r.status_code == 400, r.text
    error = _error(r)
    assert error["type"] == "invalid_request_error"
    assert error["code"] == code


def test_400_for_invalid_json_and_utf8(gateway: Gateway, key: str) -> None:
    for raw in (b"{not json", b"\xff\xfe{}", b""):
        r = _post(gateway, None, key, raw=raw)
        assert r.status_code == 400
        assert _error(r)["code"] == "invalid_json"


def test_402_when_balance_is_empty(gateway: Gateway) -> None:
    seeded = gateway.seed(usd="0")
    before = len(gateway.sim_requests())
    r = _post(gateway, {"model": "gpt-4o-mini", "messages": MESSAGES}, seeded.key)
    assert r.status_code == 402
    error = _error(r)
    assert error["type"] == "billing_error"
    assert "Insufficient balance" in error["message"]
    assert len(gateway.sim_requests()) == before, "nothing may be forwarded unpaid"


def test_429_with_retry_after_and_rate_limit_headers(gateway: Gateway) -> None:
    seeded = gateway.seed(usd="1.00", rpm=2)
    client = gateway.client(seeded.key)
    for _ in range(2):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    r = _post(gateway, {"model": "gpt-4o-mini", "messages": MESSAGES}, seeded.key)
    assert r.status_code == 429
    assert _error(r)["type"] == "rate_limit_error"
    assert int(r.headers["retry-after"]) >= 1
    assert r.headers["x-ratelimit-limit"] == "2"
    assert r.headers["x-ratelimit-remaining"] == "0"
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]


def test_upstream_5xx_becomes_502(gateway: Gateway, key: str) -> None:
    r = _post(
        gateway,
        {"model": "gpt-4o-mini", "messages": MESSAGES, "simulate": {"fault": "status", "status": 500}},
        key,
    )
    assert r.status_code == 502
    assert _error(r)["type"] == "upstream_error"


def test_upstream_4xx_passes_through_with_status_and_body(gateway: Gateway, key: str) -> None:
    r = _post(
        gateway,
        {"model": "gpt-4o-mini", "messages": MESSAGES, "simulate": {"fault": "status", "status": 404}},
        key,
    )
    assert r.status_code == 404
    assert r.json()["error"]["type"] != "upstream_error", "the upstream's own body is relayed"
    r = _post(
        gateway,
        {"model": "gpt-4o-mini", "messages": MESSAGES, "simulate": {"fault": "status", "status": 429}},
        key,
    )
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limit_exceeded"


@pytest.mark.parametrize(
    ("status", "body", "expect_status", "expect_code"),
    [
        (400, "<html><body><h1>400 Bad Request</h1>nginx</body></html>", 400, "upstream_http_400"),
        (422, '{"detail": [{"msg": "field required"}]}', 422, "upstream_http_422"),
        (404, "<html>Not Found</html>", 502, "upstream_bad_url"),
        (404, '{"detail": "Not Found"}', 502, "upstream_bad_url"),
    ],
)
def test_an_upstream_4xx_that_is_not_an_api_error_is_wrapped(
    gateway: Gateway, key: str, status: int, body: str, expect_status: int, expect_code: str
) -> None:
    """A proxy's HTML page or a server's own 404 is not an API answer: the client gets the error
    object every OpenAI client parses, and a wrong base URL is not passed off as a missing model."""
    simulate = {"fault": "garbage", "status": status, "body": body}
    r = _post(gateway, {"model": "gpt-4o-mini", "messages": MESSAGES, "simulate": simulate}, key)
    assert r.status_code == expect_status and r.headers["content-type"].startswith("application/json")
    error = _error(r)
    assert error["code"] == expect_code and error["type"] == "upstream_error"
    if expect_status == status:
        assert ("nginx" in error["message"] or "field required" in error["message"]) and "<" not in error[
            "message"
        ]


def test_an_upstream_4xx_in_older_vllm_form_is_relayed(gateway: Gateway, key: str) -> None:
    body = json.dumps(
        {"object": "error", "message": "The model `x` does not exist.", "type": "NotFoundError", "code": 404}
    )
    simulate = {"fault": "garbage", "status": 404, "body": body}
    r = _post(gateway, {"model": "gpt-4o-mini", "messages": MESSAGES, "simulate": simulate}, key)
    assert r.status_code == 404 and r.json() == json.loads(body)


@pytest.mark.parametrize(
    ("recording", "code", "said"),
    [
        ("openai/error_401_invalid_api_key.json", "upstream_error", "Incorrect API key provided: sk-***"),
        ("openai/chat_completion_text.json", "upstream_bad_response", "not an event stream"),
    ],
)
def test_a_stream_answered_with_a_json_body_is_a_502_that_says_why(
    gateway: Gateway, recording: str, code: str, said: str
) -> None:
    """An error sent with HTTP 200, or a server that ignores ``stream``: no event stream to relay,
    so not a 200 stream holding only an "incomplete stream" error; the provider's words are kept
    (operator key fragments scrubbed) and nothing is billed."""
    simulate = {"replay": recording, "status": 200}
    body = {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True, "simulate": simulate}
    seeded = gateway.seed(usd="1.00")
    r = _post(gateway, body, seeded.key)
    assert r.status_code == 502, r.text
    error = _error(r)
    assert error["code"] == code and said in error["message"] and "VKMIs" not in error["message"]
    assert gateway.balance(seeded.account_id) == 1_000_000


def test_upstream_429_keeps_its_retry_after(gateway: Gateway, key: str) -> None:
    """The SDK waits the provider's Retry-After before retrying; dropping it makes clients hammer
    a rate-limited provider. The gateway's own limit headers are not overwritten by the upstream's."""
    body = {
        "model": "gpt-4o-mini",
        "messages": MESSAGES,
        "simulate": {"fault": "status", "status": 429, "retry_after": 7},
    }
    r = _post(gateway, body, key)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "7"
    assert "set-cookie" not in r.headers
    client = gateway.client(key).with_options(max_retries=0)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,  # type: ignore[arg-type]
            extra_body={"simulate": {"fault": "status", "status": 429, "retry_after": 7}},
        )
    assert info.value.response.headers["retry-after"] == "7"


@pytest.mark.skipif(default_recordings_dir() is None, reason="../shared/data/wire is absent")
def test_recorded_context_length_error_passes_through(gateway: Gateway, key: str) -> None:
    client = gateway.client(key)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,  # type: ignore[arg-type]
            extra_body={"simulate": {"replay": "openai/error_400_context_length_exceeded.http"}},
        )
    assert info.value.code == "context_length_exceeded"


def test_upstream_error_after_stream_started_is_one_sse_error_event(gateway: Gateway, key: str) -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": MESSAGES,
        "stream": True,
        "simulate": {"fault": "error_event"},
    }
    r = _post(gateway, body, key)
    assert r.status_code == 200
    events = [e for e in r.text.split("\n\n") if e]
    errors = [e for e in events if '"error"' in e]
    assert len(errors) == 1 and errors[0] is events[-1]
    assert "data: [DONE]" not in r.text
    client = gateway.client(key)
    with pytest.raises(openai.APIError):
        for _ in client.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            stream=True,  # type: ignore[arg-type]
            extra_body={"simulate": {"fault": "error_event"}},
        ):
            pass


@pytest.mark.parametrize(
    "fault", [{"fault": "drop", "after_chunks": 2}, {"fault": "no_done"}, {"fault": "garbage"}]
)
def test_broken_streams_end_with_one_error_event(gateway: Gateway, key: str, fault: dict[str, Any]) -> None:
    r = _post(gateway, {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True, "simulate": fault}, key)
    events = [e for e in r.text.split("\n\n") if e]
    assert events[-1].startswith('data: {"error"')
    assert sum('"error"' in e for e in events) == 1
    assert "data: [DONE]" not in r.text
    # and the gateway is still healthy
    assert gateway.client(key).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices  # type: ignore[arg-type]


def test_unknown_route_and_method_are_json(gateway: Gateway) -> None:
    with gateway.http() as c:
        r = c.post("/v1/embeddings", json={})
        assert r.status_code == 404 and _error(r)["type"] == "not_found_error"
        assert _error(r)["message"] == "Invalid URL (POST /v1/embeddings)."
        r = c.get("/v1/chat/completions")
        assert r.status_code == 405


def test_413_for_oversized_body(gateway: Gateway, key: str) -> None:
    big = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x" * (17 * 1024 * 1024)}]}
    r = _post(gateway, big, key)
    assert r.status_code == 413
    assert _error(r)["code"] == "payload_too_large"


def test_connect_refused_and_timeout_become_502(simulator: Any, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with running_gateway(tmp_path / "dead", dead) as gw:
        seeded = gw.seed(usd="1.00")
        r = _post(gw, {"model": "gpt-4o-mini", "messages": MESSAGES}, seeded.key)
        assert r.status_code == 502
        assert _error(r)["code"] == "upstream_connect_error"
        assert gw.balance(seeded.account_id) == 1_000_000
    with running_gateway(tmp_path / "slow", simulator.base_url, upstream_timeout_s=0.5) as gw:
        seeded = gw.seed(usd="1.00")
        r = _post(
            gw,
            {"model": "gpt-4o-mini", "messages": MESSAGES, "simulate": {"fault": "timeout", "delay_s": 3}},
            seeded.key,
        )
        assert r.status_code == 502
        assert _error(r)["code"] == "upstream_timeout"


@pytest.mark.parametrize("status", [401, 403])
def test_the_operator_key_refused_upstream_is_a_502_not_the_clients_auth_error(
    gateway: Gateway, key: str, status: int
) -> None:
    """The upstream refused the *operator's* provider key: relayed as is, the SDK would raise
    AuthenticationError and the client would blame its own valid sk-occ key."""
    message = "Incorrect API key provided: sk-VKMIs*****wjh3 (organization org-AbCdEf123456)."
    body = {
        "model": "gpt-4o-mini",
        "messages": MESSAGES,
        "simulate": {"fault": "status", "status": status, "message": message},
    }
    r = _post(gateway, body, key)
    assert r.status_code == 502
    error = _error(r)
    assert (error["type"], error["code"]) == ("upstream_error", "upstream_auth_error")
    assert "sk-VKMIs" not in r.text and "org-AbCdEf" not in r.text
    with pytest.raises(openai.InternalServerError):
        gateway.client(key).with_options(max_retries=0).chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,  # type: ignore[arg-type]
            extra_body={"simulate": {"fault": "status", "status": status}},
        )


def test_an_upstream_4xx_keeps_its_status_but_not_the_operators_ids(gateway: Gateway, key: str) -> None:
    message = (
        "Rate limit reached in organization org-AbCdEf123456, project proj_Zz9Yy8Xx7 (key sk-abc***xyz)."
    )
    body = {
        "model": "gpt-4o-mini",
        "messages": MESSAGES,
        "simulate": {"fault": "status", "status": 429, "message": message, "retry_after": 3},
    }
    r = _post(gateway, body, key)
    assert r.status_code == 429 and r.headers["retry-after"] == "3"
    relayed = r.json()["error"]
    assert relayed["code"] == "rate_limit_exceeded"
    assert relayed["message"] == "Rate limit reached in organization org-***, project proj_*** (key sk-***)."


OPERATOR_KEY = "Mistral0123456789abcdefXYZ"  # a provider key with no recognisable prefix


def test_the_operators_key_is_scrubbed_from_4xx_and_mid_stream_errors(simulator: Any, tmp_path: Path) -> None:
    """Whatever its form: the configured key itself, a bearer header quoted back, Groq's ``gsk_``."""
    said = (
        f"Bad key {OPERATOR_KEY}; header was 'Authorization: Bearer {OPERATOR_KEY}'; also gsk_GROQSECRET0123."
    )
    with running_gateway(tmp_path, simulator.base_url, upstream_api_key=OPERATOR_KEY) as gw:
        seeded = gw.seed(usd="1.00")
        refused = {"fault": "status", "status": 400, "message": said}
        r = _post(gw, {"model": "gpt-4o-mini", "messages": MESSAGES, "simulate": refused}, seeded.key)
        assert r.status_code == 400
        assert _error(r)["message"] == "Bad key ***; header was 'Authorization: Bearer ***'; also gsk_***."
        error = json.dumps({"error": {"message": said, "type": "server_error"}})
        stream = 'data: {"choices": [{"index": 0, "delta": {"content": "Hi"}}]}\n\ndata: ' + error + "\n\n"
        body = {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}
        r = _post(gw, {**body, "simulate": {"fault": "garbage", "body": stream}}, seeded.key)
        assert r.status_code == 200 and "Hi" in r.text
        assert "GROQSECRET" not in r.text and OPERATOR_KEY not in r.text and "Bearer ***" in r.text


def _post_encoded(gateway: Gateway, key: str, body: bytes, encoding: str) -> httpx.Response:
    headers = {
        "Authorization": f"Bearer {key}",
        "content-type": "application/json",
        "content-encoding": encoding,
    }
    return httpx.post(gateway.base_url + "/chat/completions", content=body, headers=headers, timeout=30)


def test_a_gzip_body_is_inflated_and_answered(gateway: Gateway, key: str) -> None:
    raw = json.dumps({"model": "gpt-4o-mini", "messages": MESSAGES}).encode()
    r = _post_encoded(gateway, key, gzip.compress(raw), "gzip")
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"]


def test_bad_or_unsupported_body_encodings_get_a_clear_error(gateway: Gateway, key: str) -> None:
    raw = json.dumps({"model": "gpt-4o-mini", "messages": MESSAGES}).encode()
    unsupported = _post_encoded(gateway, key, raw, "br")
    assert unsupported.status_code == 415
    assert _error(unsupported)["code"] == "unsupported_content_encoding"
    broken = _post_encoded(gateway, key, gzip.compress(raw)[:-12], "gzip")
    assert broken.status_code == 400 and _error(broken)["code"] == "invalid_content_encoding"
    not_gzip = _post_encoded(gateway, key, raw, "gzip")
    assert not_gzip.status_code == 400 and _error(not_gzip)["code"] == "invalid_content_encoding"
    limit = gateway.settings.max_body_bytes
    bomb = gzip.compress(b" " * (limit + 1))  # a few KB that inflate past the body limit
    assert len(bomb) < limit // 100
    too_big = _post_encoded(gateway, key, bomb, "gzip")
    assert too_big.status_code == 413 and _error(too_big)["code"] == "payload_too_large"


def test_an_empty_model_id_is_not_found(gateway: Gateway, key: str) -> None:
    r = httpx.get(gateway.base_url + "/models/", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 404 and _error(r)["code"] == "model_not_found"

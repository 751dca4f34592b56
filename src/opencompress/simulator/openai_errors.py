"""OpenAI-shaped error bodies, as the simulated upstream sends them.

The simulator plays the role of OpenAI, not of OpenCompress, so its errors follow OpenAI's wire shape
(``{"error": {"message", "type", "param", "code"}}``, ``code``/``param`` often ``null``) rather than
the gateway's error tree in :mod:`opencompress.errors`. Bodies reuse the wording of the recorded real
responses in ``shared/data/wire/openai/`` so SDK parsing is exercised on realistic text.
"""

from __future__ import annotations

from typing import Any

SERVER_ERROR_MESSAGE = "The server had an error while processing your request. Sorry about that!"


class SimHTTPError(Exception):
    """An error the simulator answers with an HTTP status and an OpenAI error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}
        self._body = body

    def body(self) -> dict[str, Any]:
        if self._body is not None:
            return self._body
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def invalid_request(message: str, *, param: str | None = None, code: str | None = None) -> SimHTTPError:
    return SimHTTPError(400, message, param=param, code=code)


def error_for_status(
    status: int, *, model: str, message: str | None = None, retry_after: float = 1.0
) -> SimHTTPError:
    """The error a real OpenAI endpoint sends for ``status`` (used by the ``status`` fault)."""
    if status == 429:
        text = message or (
            f"Rate limit reached for {model} in organization org-simulator on tokens per min. "
            "Limit: 10000 / min. Please try again in 6ms. "
            "Visit https://platform.openai.com/account/rate-limits to learn more."
        )
        retry = f"{retry_after:g}"
        return SimHTTPError(
            429,
            text,
            type="tokens",
            code="rate_limit_exceeded",
            headers={"Retry-After": retry, "x-ratelimit-reset-tokens": "6ms"},
        )
    if status == 401:
        return SimHTTPError(
            401,
            message
            or "Incorrect API key provided. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )
    if status == 400:
        return SimHTTPError(400, message or "Simulated invalid request.", code=None)
    if status == 404:
        return SimHTTPError(404, message or f"The model `{model}` does not exist.", code="model_not_found")
    if status == 503:
        return SimHTTPError(
            503, message or "The engine is currently overloaded, please try again later", type="server_error"
        )
    if status >= 500:
        return SimHTTPError(status, message or SERVER_ERROR_MESSAGE, type="server_error")
    return SimHTTPError(status, message or f"Simulated HTTP {status}.", type="invalid_request_error")


def invalid_api_key(given: str | None) -> SimHTTPError:
    """401 for ``require_key``; masks the presented key the way OpenAI does (first 5, last 4)."""
    if given:
        masked = given[:5] + "*" * max(0, len(given) - 9) + given[-4:] if len(given) > 9 else "*" * len(given)
        text = (
            f"Incorrect API key provided: {masked}. You can find your API key at "
            "https://platform.openai.com/account/api-keys."
        )
    else:
        text = (
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        )
    return SimHTTPError(401, text, code="invalid_api_key")

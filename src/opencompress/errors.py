"""The one error tree of OpenCompress.

Every error a user can see is an :class:`OpenCompressError`. Each class carries the HTTP
``status``, the OpenAI-style ``type`` and a default ``code``; nothing here imports HTTP code.
``opencompress.http.errors`` maps the tree to responses in exactly one place, and the SSE
error event after a stream has started is built from the same attributes.

    OpenCompressError (500 internal_error)
    ├── InvalidRequestError (400 invalid_request_error)
    │   ├── PayloadTooLargeError (413)
    │   └── UnsupportedEncodingError (415: a Content-Encoding other than gzip)
    ├── AuthError (401 auth_error)
    ├── PermissionDeniedError (403 permission_error)
    ├── NotFoundError (404 not_found_error)
    ├── ConflictError (409 conflict_error)
    ├── BillingError (402 billing_error)
    ├── RateLimitError (429 rate_limit_error, carries retry_after)
    ├── UpstreamError (502 upstream_error: connect error, timeout, upstream 5xx, garbage)
    │   └── UpstreamStatusError (upstream 4xx passed through with its own status and body)
    └── ServiceUnavailableError (503 service_unavailable: storage down)

Built-in exceptions are never mapped to 4xx: a ``ValueError`` escaping the core is a bug and
comes out as a 500 without a traceback in the body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class OpenCompressError(Exception):
    status: ClassVar[int] = 500
    type: ClassVar[str] = "internal_error"
    default_code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.param = param
        self.extra_headers: dict[str, str] = dict(headers or {})

    def to_body(self) -> dict[str, Any]:
        """The OpenAI-style error body: ``{"error": {"message", "type", "code", "param"}}``."""
        return {"error": {"message": self.message, "type": self.type, "code": self.code, "param": self.param}}

    def headers(self) -> dict[str, str]:
        """Headers the HTTP mapping adds to the error response (e.g. rate-limit headers)."""
        return dict(self.extra_headers)


class InvalidRequestError(OpenCompressError):
    status = 400
    type = "invalid_request_error"
    default_code = "invalid_request"


class PayloadTooLargeError(InvalidRequestError):
    status = 413
    default_code = "payload_too_large"


class UnsupportedEncodingError(InvalidRequestError):
    status = 415
    default_code = "unsupported_content_encoding"


class AuthError(OpenCompressError):
    status = 401
    type = "auth_error"
    default_code = "invalid_api_key"


class PermissionDeniedError(OpenCompressError):
    status = 403
    type = "permission_error"
    default_code = "forbidden"


class NotFoundError(OpenCompressError):
    status = 404
    type = "not_found_error"
    default_code = "not_found"


class ConflictError(OpenCompressError):
    status = 409
    type = "conflict_error"
    default_code = "conflict"


class BillingError(OpenCompressError):
    status = 402
    type = "billing_error"
    default_code = "insufficient_balance"


class RateLimitError(OpenCompressError):
    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, code=code, headers=headers)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {**self.extra_headers, "Retry-After": str(max(1, int(self.retry_after + 0.999)))}


class UpstreamError(OpenCompressError):
    status = 502
    type = "upstream_error"
    default_code = "upstream_error"


class UpstreamStatusError(UpstreamError):
    """An upstream 4xx: relayed with the upstream's own status and body so SDKs raise the right class."""

    def __init__(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"upstream returned HTTP {status}", code="upstream_status", headers=headers)
        self.upstream_status = status
        self.body = body
        self.content_type = content_type


class ServiceUnavailableError(OpenCompressError):
    status = 503
    type = "service_unavailable"
    default_code = "service_unavailable"


class StorageError(ServiceUnavailableError):
    """The database could not be reached or failed; nothing was forwarded unbilled."""

    default_code = "storage_unavailable"

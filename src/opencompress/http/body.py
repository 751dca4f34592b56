"""Reading request bodies with a size limit (413 before we buffer too much).

A ``Content-Encoding: gzip`` body is inflated, and the limit applies to what it inflates to, so
a small bomb cannot expand in memory. Any other encoding is a 415 naming the one we accept:
parsing compressed bytes as JSON would answer a misleading "could not parse the JSON body".
"""

from __future__ import annotations

import zlib

from starlette.requests import Request

from opencompress.errors import InvalidRequestError, PayloadTooLargeError, UnsupportedEncodingError


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"Request body is larger than the {limit} bytes this gateway accepts.")


async def read_body(request: Request, limit: int) -> bytes:
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        raise UnsupportedEncodingError(
            f"Content-Encoding {encoding!r} is not supported; send the body uncompressed or gzip-encoded."
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    return _gunzip(body, limit) if encoding == "gzip" else body


def _gunzip(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=31)  # 31: gzip framing
    try:
        body = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise InvalidRequestError(
            "The request body is not valid gzip.", code="invalid_content_encoding"
        ) from None
    if len(body) > limit:
        raise _too_large(limit)
    if not inflater.eof:
        raise InvalidRequestError("The gzip request body is truncated.", code="invalid_content_encoding")
    return body

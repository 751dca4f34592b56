"""Reading request bodies with a size limit (413 before we buffer too much)."""

from __future__ import annotations

from starlette.requests import Request

from opencompress.errors import PayloadTooLargeError


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"Request body is larger than the {limit} bytes this gateway accepts.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"Request body is larger than the {limit} bytes this gateway accepts.")
        chunks.append(chunk)
    return b"".join(chunks)
